//! A loaded plugin: a compiled component that passed the import allow-list and
//! `describe()`, pre-linked so that every call is a fresh instance.

use crate::bindings::{Step, StepPre};
use crate::call::{self, Call, CallState};
use crate::error::Error;
use crate::prepare::{PrepareState, Preparer};
use crate::sandbox::{CodeSource, Host, sha256_hex};
use crate::version::Version;
use crate::wasi;
use model::plugin::{CallLimits, PluginBuild, PluginInfo, PluginRef, StepInput};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};

/// Time and memory `describe()` gets at load: it only returns constants.
const DESCRIBE_LIMITS: CallLimits = CallLimits {
    timeout: Duration::from_secs(2),
    memory_bytes: 64 << 20,
    output_bytes: 1 << 20,
};

/// Where a component came from, for messages and `docket plugin list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadSource {
    /// Embedded in the binary; the crate it was built from.
    Bundled(&'static str),
    File(PathBuf),
    /// Bytes handed over directly, with a label.
    Bytes(String),
}

impl fmt::Display for LoadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bundled(krate) => write!(f, "bundled:{krate}"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Bytes(label) => f.write_str(label),
        }
    }
}

pub struct LoadedPlugin {
    host: Host,
    pre: StepPre<CallState>,
    /// Pre-initialised instances per node config, when the plugin exports `prepare`.
    preparer: Option<Preparer>,
    info: PluginInfo,
    version: Version,
    build: PluginBuild,
    source: LoadSource,
    code_source: CodeSource,
    load_time: Duration,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("build", &self.build)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    pub(crate) fn load(host: &Host, bytes: &[u8], source: LoadSource) -> Result<Self, Error> {
        let started = Instant::now();
        let origin = source.to_string();
        let sha256 = sha256_hex(bytes);
        let (component, code_source) = host.compile(bytes, &sha256, &origin)?;

        let pre = link(host, &component, &origin)?;
        let pre = StepPre::new(pre).map_err(|e| Error::Link {
            origin: origin.clone(),
            message: format!("{e:#}"),
        })?;

        let info = describe(host, &pre, &origin)?;
        let invalid = |field, message| Error::InvalidInfo {
            origin: origin.clone(),
            field,
            message,
        };
        PluginRef::parse(&format!("{}@0", info.name)).map_err(|m| invalid("name", m))?;
        let version = Version::parse(&info.version).map_err(|m| invalid("version", m))?;
        let schema = |field, text: &str| {
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| invalid(field, format!("not valid JSON: {e}")))
        };
        let info = PluginInfo {
            config_schema: schema("config schema", &info.config_schema)?,
            output_schema: schema("output schema", &info.output_schema)?,
            name: info.name,
            version: version.to_string(),
        };
        let preparer = Preparer::for_component(host, &component, bytes, &origin);
        let build = PluginBuild {
            name: info.name.clone(),
            version: info.version.clone(),
            sha256,
        };
        Ok(Self {
            host: host.clone(),
            pre,
            preparer,
            info,
            version,
            build,
            source,
            code_source,
            load_time: started.elapsed(),
        })
    }

    /// Runs one call in a fresh instance. Never panics: every failure is in the
    /// report's `output`.
    pub fn call(&self, input: &StepInput, limits: &CallLimits) -> Call {
        call::run(self, input, limits)
    }

    /// Whether the plugin exports `prepare` and the host pre-initialises it per config.
    pub fn is_preparable(&self) -> bool {
        self.preparer.is_some()
    }

    /// Pre-initialises an instance for `config` now, unless that was done (or tried)
    /// already; calls do this themselves on first sight of a config. `limits` bound the
    /// plugin's `prepare`. Returns how it stands afterwards.
    pub fn prepare(&self, config: &Arc<str>, limits: &CallLimits) -> PrepareState {
        match &self.preparer {
            Some(preparer) => preparer.prepare_now(&self.host, config, limits),
            None => PrepareState::None,
        }
    }

    /// A call run on the snapshot prepared for `prepared_config` whatever `input.config`
    /// says (`None` if that config has no ready snapshot): how tests check that a
    /// snapshot gives the right result for a config it was not prepared for.
    #[doc(hidden)]
    pub fn call_on_prepared(
        &self,
        prepared_config: &str,
        input: &StepInput,
        limits: &CallLimits,
    ) -> Option<Call> {
        let slot = self.preparer.as_ref()?.ready(prepared_config)?;
        let pre = slot.ready()?;
        Some(call::run_on(self, pre, input, limits))
    }

    /// How `config`'s pre-initialisation stands.
    pub fn prepare_state(&self, config: &str) -> PrepareState {
        self.preparer
            .as_ref()
            .map_or(PrepareState::None, |p| p.state(config))
    }

    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    pub fn version(&self) -> &Version {
        &self.version
    }

    pub fn build(&self) -> &PluginBuild {
        &self.build
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.build.name, self.build.version)
    }

    pub fn source(&self) -> &LoadSource {
        &self.source
    }

    /// How long loading took (compile or cache read, link, `describe()`).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Whether the machine code came from the compiler (`compiled`), the cache
    /// directory (`cached`) or another plugin with the same hash (`shared`).
    pub fn code_source(&self) -> &'static str {
        match self.code_source {
            CodeSource::Compiled => "compiled",
            CodeSource::DiskCache => "cached",
            CodeSource::Memory => "shared",
        }
    }

    pub(crate) fn host(&self) -> &Host {
        &self.host
    }

    pub(crate) fn pre(&self) -> &StepPre<CallState> {
        &self.pre
    }

    pub(crate) fn preparer(&self) -> Option<&Preparer> {
        self.preparer.as_ref()
    }
}

/// Checks `component`'s imports against the allow-list and links it with the plugin
/// interface and the WASI stand-ins.
pub(crate) fn link(
    host: &Host,
    component: &Component,
    origin: &str,
) -> Result<InstancePre<CallState>, Error> {
    let check = wasi::check_imports(component, host.engine());
    if !check.forbidden.is_empty() {
        return Err(Error::ForbiddenImport {
            origin: origin.to_string(),
            imports: check.forbidden,
        });
    }
    let link_error = |e: wasmtime::Error| Error::Link {
        origin: origin.to_string(),
        message: format!("{e:#}"),
    };
    let mut linker = Linker::<CallState>::new(host.engine());
    Step::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
        .map_err(link_error)?;
    wasi::define(&mut linker, component, host.engine()).map_err(link_error)?;
    linker.instantiate_pre(component).map_err(link_error)
}

fn describe(
    host: &Host,
    pre: &StepPre<CallState>,
    origin: &str,
) -> Result<crate::bindings::docket::plugin::types::Info, Error> {
    let _slot = host.acquire_slot();
    let mut store = Store::new(
        host.engine(),
        CallState::new(&DESCRIBE_LIMITS, host.config().max_memory_bytes),
    );
    store.limiter(|state| state as &mut dyn wasmtime::ResourceLimiter);
    store.set_epoch_deadline(host.deadline_ticks(DESCRIBE_LIMITS.timeout));
    let result = pre
        .instantiate(&mut store)
        .and_then(|step| step.call_describe(&mut store));
    result.map_err(|e| {
        let (kind, message) = call::classify_trap(&e, store.data(), &DESCRIBE_LIMITS);
        Error::Describe {
            origin: origin.to_string(),
            message: format!("{kind:?}: {message}"),
        }
    })
}
