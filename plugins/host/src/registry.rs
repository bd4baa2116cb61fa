//! The registry: every loaded plugin by name and version, and the engine's plugin
//! port on top of it.

use crate::call::{Call, LogLevel};
use crate::error::Error;
use crate::loaded::{LoadSource, LoadedPlugin};
use crate::sandbox::{Host, HostConfig};
use crate::version::Version;
use model::plugin::{
    CallLimits, CallReport, PluginInfo, PluginRef, Plugins, StepError, StepErrorKind, StepInput,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Plugins by name, each name's builds sorted oldest to newest.
pub struct Registry {
    host: Host,
    by_name: BTreeMap<String, Vec<Arc<LoadedPlugin>>>,
}

impl Registry {
    pub fn new(host: Host) -> Self {
        Self {
            host,
            by_name: BTreeMap::new(),
        }
    }

    /// The plugins built into the binary, on a default host.
    pub fn bundled() -> Result<Self, Error> {
        let mut registry = Self::new(Host::new(HostConfig::default())?);
        registry.add_bundled()?;
        Ok(registry)
    }

    /// The `*.wasm` components in `dir` (not the bundled ones), on a default host.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let mut registry = Self::new(Host::new(HostConfig::default())?);
        registry.add_dir(dir)?;
        Ok(registry)
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Adds the bundled plugins.
    pub fn add_bundled(&mut self) -> Result<(), Error> {
        for (krate, bytes) in crate::bundled::components() {
            self.add_bytes(bytes, LoadSource::Bundled(krate))?;
        }
        Ok(())
    }

    /// Adds every `*.wasm` file in `dir` (not recursive), in file-name order. Stops at
    /// the first that cannot be loaded: a plugin directory with a broken plugin is a
    /// deployment error to fix, not something to half-run.
    pub fn add_dir(&mut self, dir: impl AsRef<Path>) -> Result<Vec<Arc<LoadedPlugin>>, Error> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.extension().is_some_and(|ext| ext == "wasm") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        paths.into_iter().map(|path| self.add_file(path)).collect()
    }

    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<Arc<LoadedPlugin>, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        self.add_bytes(&bytes, LoadSource::File(path.to_path_buf()))
    }

    /// Loads and registers one component. The same build registered twice is kept
    /// once; two different builds claiming one `name@version` are a conflict.
    pub fn add_bytes(
        &mut self,
        bytes: &[u8],
        source: LoadSource,
    ) -> Result<Arc<LoadedPlugin>, Error> {
        let plugin = Arc::new(self.host.load(bytes, source)?);
        self.insert(plugin)
    }

    fn insert(&mut self, plugin: Arc<LoadedPlugin>) -> Result<Arc<LoadedPlugin>, Error> {
        let builds = self.by_name.entry(plugin.info().name.clone()).or_default();
        if let Some(existing) = builds.iter().find(|p| p.version() == plugin.version()) {
            if existing.build().sha256 == plugin.build().sha256 {
                return Ok(existing.clone());
            }
            return Err(Error::Conflict {
                plugin: plugin.id(),
                first: existing.build().sha256.clone(),
                first_origin: existing.source().to_string(),
                second: plugin.build().sha256.clone(),
                second_origin: plugin.source().to_string(),
            });
        }
        let at = builds.partition_point(|p| p.version() < plugin.version());
        builds.insert(at, plugin.clone());
        Ok(plugin)
    }

    /// Every registered build, by name then version.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.by_name.values().flatten()
    }

    /// The newest build of `plugin.name` whose major is `plugin.major`. Pre-releases
    /// are chosen only when no release of that major exists.
    pub fn resolve(&self, plugin: &PluginRef) -> Option<&Arc<LoadedPlugin>> {
        let builds = self.by_name.get(&plugin.name)?;
        newest_of_major(builds, |p| p.version(), plugin.major)
    }

    /// Like [`Plugins::call`], with the call's log.
    pub fn call_logged(
        &self,
        plugin: &PluginRef,
        input: &StepInput,
        limits: &CallLimits,
    ) -> Result<Call, StepError> {
        let loaded = self.resolve(plugin).ok_or_else(|| StepError {
            kind: StepErrorKind::NotFound,
            plugin: plugin.to_string(),
            sha256: None,
            code: None,
            message: match self.by_name.get(&plugin.name) {
                Some(builds) => format!(
                    "no build of major version {} is registered (have {})",
                    plugin.major,
                    builds
                        .iter()
                        .map(|p| p.version().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!("no plugin named `{}` is registered", plugin.name),
            },
        })?;
        Ok(loaded.call(input, limits))
    }
}

impl Plugins for Registry {
    fn describe(&self, plugin: &PluginRef) -> Option<PluginInfo> {
        self.resolve(plugin).map(|p| p.info().clone())
    }

    fn call(
        &self,
        plugin: &PluginRef,
        input: &StepInput,
        limits: &CallLimits,
    ) -> Result<CallReport, StepError> {
        let call = self.call_logged(plugin, input, limits)?;
        // The port has no room for logs: they go to tracing, tagged with the call.
        let id = format!("{}@{}", call.report.build.name, call.report.build.version);
        for line in &call.logs {
            let (case, node, source, msg) =
                (&input.case_id, &input.node_id, line.source, &line.message);
            match line.level {
                LogLevel::Trace => {
                    tracing::trace!(plugin = %id, case = %case, node = %node, source, "{msg}")
                }
                LogLevel::Debug => {
                    tracing::debug!(plugin = %id, case = %case, node = %node, source, "{msg}")
                }
                LogLevel::Info => {
                    tracing::info!(plugin = %id, case = %case, node = %node, source, "{msg}")
                }
                LogLevel::Warn => {
                    tracing::warn!(plugin = %id, case = %case, node = %node, source, "{msg}")
                }
                LogLevel::Error => {
                    tracing::error!(plugin = %id, case = %case, node = %node, source, "{msg}")
                }
            }
        }
        if call.logs_dropped > 0 {
            tracing::warn!(plugin = %id, case = %input.case_id, dropped = call.logs_dropped,
                "plugin logged more than the per-call budget; the rest was dropped");
        }
        Ok(call.report)
    }
}

/// The newest build of `major` in `builds` (sorted oldest to newest): the newest
/// release, or the newest pre-release when the major has no release yet.
fn newest_of_major<T>(builds: &[T], version: impl Fn(&T) -> &Version, major: u64) -> Option<&T> {
    let of_major = || builds.iter().rev().filter(|b| version(b).major == major);
    of_major()
        .find(|b| version(b).pre.is_empty())
        .or_else(|| of_major().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(versions: &[&str], major: u64) -> Option<String> {
        let mut builds: Vec<Version> = versions
            .iter()
            .map(|v| Version::parse(v).unwrap())
            .collect();
        builds.sort();
        newest_of_major(&builds, |v| v, major).map(Version::to_string)
    }

    #[test]
    fn the_newest_release_of_the_major_wins() {
        let versions = ["1.0.0", "1.4.2", "1.10.0", "2.0.0", "1.11.0-rc.1", "0.9.0"];
        assert_eq!(pick(&versions, 1).as_deref(), Some("1.10.0"));
        assert_eq!(pick(&versions, 2).as_deref(), Some("2.0.0"));
        assert_eq!(pick(&versions, 0).as_deref(), Some("0.9.0"));
        assert_eq!(pick(&versions, 3), None);
    }

    #[test]
    fn a_pre_release_is_chosen_only_without_a_release() {
        assert_eq!(
            pick(&["3.0.0-beta.1", "3.0.0-beta.2"], 3).as_deref(),
            Some("3.0.0-beta.2")
        );
        assert_eq!(
            pick(&["3.0.0-beta.2", "3.0.0"], 3).as_deref(),
            Some("3.0.0")
        );
    }
}
