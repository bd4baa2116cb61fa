//! The on-disk cache of compiled components: `<dir>/<sha256>-<engine>.cwasm`.
//!
//! Compiling a component costs tens of milliseconds; loading its precompiled form
//! costs well under one. The file name carries the component's content hash and the
//! engine's fingerprint, so a changed plugin or a changed wasmtime never picks up a
//! stale artifact. The cache is an optimisation: any failure to read or write it is
//! logged and the component is compiled instead.

use std::path::PathBuf;
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_fingerprint: String,
}

impl ArtifactCache {
    pub(crate) fn new(dir: PathBuf, engine_fingerprint: String) -> Self {
        Self {
            dir,
            engine_fingerprint,
        }
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.cwasm", self.engine_fingerprint))
    }

    pub(crate) fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts the file to be machine code that wasmtime
        // produced. This file is ours: `put` below wrote it from `Component::serialize`
        // (atomically, via rename) under a name keyed by the source's SHA-256 and this
        // engine's fingerprint, in the user's own cache directory; and wasmtime still
        // checks its header against this engine's version and settings.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %format!("{e:#}"),
                    "ignoring unusable precompiled plugin; compiling it again");
                None
            }
        }
    }

    pub(crate) fn put(&self, sha256: &str, component: &Component) {
        let path = self.path(sha256);
        let result = (|| -> Result<(), String> {
            let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
            std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
            // Write then rename: a reader never sees half a file, and two processes
            // compiling the same plugin at once both end with a whole one.
            let unique = format!(
                "{}.tmp-{}-{:?}",
                path.display(),
                std::process::id(),
                std::thread::current().id()
            );
            let tmp = PathBuf::from(unique);
            std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                e.to_string()
            })
        })();
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not cache a compiled plugin");
        }
    }
}
