//! The sandbox's machinery shared by all plugins: one wasmtime engine configured for
//! untrusted guests, the epoch ticker that bounds wall time, and component loading.

use crate::cache::ArtifactCache;
use crate::error::Error;
use crate::loaded::{LoadSource, LoadedPlugin};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How the sandbox is set up. Per-call limits (time, memory, output) are
/// `model::plugin::CallLimits`; these are the engine-wide ones.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where compiled components are kept between runs, keyed by content hash and
    /// engine fingerprint. `None`: compile on every start.
    pub cache_dir: Option<PathBuf>,
    /// Reuse pre-reserved instance slots (wasmtime's pooling allocator) instead of
    /// mapping fresh memory for every call.
    pub pooling: bool,
    /// Calls that may run at once with `pooling` (slots reserved up front).
    pub max_concurrent_calls: u32,
    /// With `pooling`: bytes of each slot's linear memory (and tables) kept mapped
    /// between calls and reset in place, instead of handed back to the kernel with
    /// `madvise` and faulted in again by the next call. On Linux 6.7+ only the pages
    /// a call dirtied are reset (PAGEMAP_SCAN); elsewhere the whole range is
    /// `memset`, so use 0 there. A Rust guest's stack and heap start near 1 MiB:
    /// 2 MiB covers a typical call. Costs up to this much resident memory per slot
    /// that has been used.
    pub keep_resident_bytes: usize,
    /// With `pooling`: how many freed slots are returned to the kernel at once.
    pub decommit_batch: usize,
    /// Largest linear memory any call may get, whatever its `CallLimits` say.
    pub max_memory_bytes: usize,
    /// Native stack the guest's wasm code may use; deeper recursion traps.
    pub max_wasm_stack: usize,
    /// Granularity of the wall-time limit: a call stops at most one tick after its
    /// timeout.
    pub epoch_tick: Duration,
    /// Distinct node configs per plugin build kept pre-initialised (plugins that export
    /// `prepare`; see prepare.rs), oldest evicted first. 0: never prepare, every call
    /// parses its config.
    pub max_prepared_configs: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            cache_dir: default_cache_dir(),
            pooling: true,
            max_concurrent_calls: 64,
            keep_resident_bytes: 2 << 20,
            decommit_batch: 1,
            max_memory_bytes: 1 << 30,
            max_wasm_stack: 512 << 10,
            epoch_tick: Duration::from_millis(5),
            max_prepared_configs: 64,
        }
    }
}

/// `$DOCKET_PLUGIN_CACHE`, else `$XDG_CACHE_HOME/docket/plugins`, else
/// `$HOME/.cache/docket/plugins`.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    non_empty("DOCKET_PLUGIN_CACHE")
        .or_else(|| non_empty("XDG_CACHE_HOME").map(|d| d.join("docket").join("plugins")))
        .or_else(|| non_empty("HOME").map(|d| d.join(".cache").join("docket").join("plugins")))
}

/// The sandbox: a wasmtime engine plus everything compiled with it. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    pub(crate) inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    pub(crate) engine: Engine,
    pub(crate) config: HostConfig,
    cache: Option<ArtifactCache>,
    /// With pooling, one permit per pre-reserved instance slot: a call beyond
    /// `max_concurrent_calls` waits for a slot instead of failing to instantiate.
    slots: Option<Slots>,
    /// Components compiled by this host, by content hash: a component registered
    /// twice (bundled and in a directory) is compiled once.
    compiled: Mutex<HashMap<String, Component>>,
}

/// How a component's machine code was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeSource {
    /// Already compiled by this host.
    Memory,
    /// Precompiled artifact from the cache directory.
    DiskCache,
    /// Compiled now.
    Compiled,
}

impl Host {
    pub fn new(mut config: HostConfig) -> Result<Self, Error> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            // Wall time: the ticker below advances the epoch; a call's deadline is a
            // number of ticks.
            .epoch_interruption(true)
            .max_wasm_stack(config.max_wasm_stack)
            // Parallel compilation only helps the first load; keep it.
            .parallel_compilation(true);
        if config.pooling {
            let mut pool = PoolingAllocationConfig::new();
            let calls = config.max_concurrent_calls.max(1);
            // A wasm32-wasip2 component instantiates a handful of core modules (the
            // plugin, wit-component's shims and fix-ups): room for 8 per call.
            pool.total_component_instances(calls)
                .total_core_instances(calls * 8)
                .max_core_instances_per_component(8)
                .total_memories(calls)
                .max_memories_per_component(1)
                .total_tables(calls * 4)
                .max_tables_per_component(4)
                .max_memory_size(config.max_memory_bytes)
                .linear_memory_keep_resident(config.keep_resident_bytes)
                .table_keep_resident(config.keep_resident_bytes)
                .decommit_batch_size(config.decommit_batch.max(1))
                // With PAGEMAP_SCAN (Linux 6.7+) only the pages a call dirtied are
                // reset, so keeping memory resident costs no blanket memset.
                .pagemap_scan(Enabled::Auto);
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = match Engine::new(&wasm) {
            Ok(engine) => engine,
            // The pool reserves address space up front (slots × memory reservation);
            // where that is refused (a tight RLIMIT_AS…) plugins still run, slower.
            Err(e) if config.pooling => {
                tracing::warn!(error = %format!("{e:#}"),
                    "cannot reserve the plugin instance pool; using on-demand allocation");
                config.pooling = false;
                wasm.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&wasm).map_err(|e| Error::Engine(format!("{e:#}")))?
            }
            Err(e) => return Err(Error::Engine(format!("{e:#}"))),
        };
        spawn_ticker(&engine, config.epoch_tick)?;
        let cache = config
            .cache_dir
            .clone()
            .map(|dir| ArtifactCache::new(dir, engine_fingerprint(&engine)));
        let slots = config
            .pooling
            .then(|| Slots::new(config.max_concurrent_calls.max(1)));
        Ok(Self {
            inner: Arc::new(HostInner {
                engine,
                config,
                cache,
                slots,
                compiled: Mutex::default(),
            }),
        })
    }

    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// Loads a component: checks its imports against the allow-list, links it, calls
    /// `describe()` and validates what it says. `origin` names it in errors (a path,
    /// or `bundled:<crate>`).
    pub fn load(&self, bytes: &[u8], source: LoadSource) -> Result<LoadedPlugin, Error> {
        LoadedPlugin::load(self, bytes, source)
    }

    /// Loads a component from a file.
    pub fn load_file(&self, path: impl Into<PathBuf>) -> Result<LoadedPlugin, Error> {
        let path = path.into();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        self.load(&bytes, LoadSource::File(path))
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Waits for an instance slot (pooling only); the slot is freed when the guard
    /// is dropped, after the call's store is gone.
    pub(crate) fn acquire_slot(&self) -> Option<SlotGuard<'_>> {
        self.inner.slots.as_ref().map(Slots::acquire)
    }

    /// Epoch ticks for a deadline of `timeout`: the call is stopped between
    /// `timeout` and `timeout + one tick` after it starts.
    pub(crate) fn deadline_ticks(&self, timeout: Duration) -> u64 {
        let tick = self.inner.config.epoch_tick.as_nanos().max(1);
        let ticks = timeout.as_nanos().div_ceil(tick);
        u64::try_from(ticks)
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// The compiled form of `bytes`, from memory, the disk cache or the compiler.
    pub(crate) fn compile(
        &self,
        bytes: &[u8],
        sha256: &str,
        origin: &str,
    ) -> Result<(Component, CodeSource), Error> {
        self.compile_with(bytes, sha256, origin, true)
    }

    /// [`Host::compile`]; `remember: false` leaves the result out of this host's map of
    /// compiled components (prepared snapshots: their owner bounds how many it keeps).
    pub(crate) fn compile_with(
        &self,
        bytes: &[u8],
        sha256: &str,
        origin: &str,
        remember: bool,
    ) -> Result<(Component, CodeSource), Error> {
        if let Some(component) = self.lock_compiled().get(sha256) {
            return Ok((component.clone(), CodeSource::Memory));
        }
        let inner = &self.inner;
        let cached = inner
            .cache
            .as_ref()
            .and_then(|cache| cache.get(&inner.engine, sha256));
        let (component, source) = match cached {
            Some(component) => (component, CodeSource::DiskCache),
            None => {
                let component =
                    Component::new(&inner.engine, bytes).map_err(|e| Error::Compile {
                        origin: origin.to_string(),
                        message: format!("{e:#}"),
                    })?;
                if let Some(cache) = &inner.cache {
                    cache.put(sha256, &component);
                }
                (component, CodeSource::Compiled)
            }
        };
        if remember {
            self.lock_compiled()
                .insert(sha256.to_string(), component.clone());
        }
        Ok((component, source))
    }

    fn lock_compiled(&self) -> std::sync::MutexGuard<'_, HashMap<String, Component>> {
        // The map is only inserted into; a panic elsewhere cannot leave it half-done.
        self.inner
            .compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A counting semaphore over the pooling allocator's instance slots. The common case
/// (a slot is free) is one atomic operation; only a full pool takes the lock.
pub(crate) struct Slots {
    free: AtomicU32,
    waiters: AtomicU32,
    lock: Mutex<()>,
    freed: Condvar,
}

pub(crate) struct SlotGuard<'a>(&'a Slots);

impl Slots {
    fn new(count: u32) -> Self {
        Self {
            free: AtomicU32::new(count),
            waiters: AtomicU32::new(0),
            lock: Mutex::new(()),
            freed: Condvar::new(),
        }
    }

    fn try_take(&self) -> bool {
        self.free
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn acquire(&self) -> SlotGuard<'_> {
        if self.try_take() {
            return SlotGuard(self);
        }
        // The guard protects nothing but the wait; poisoning cannot corrupt it.
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.waiters.fetch_add(1, Ordering::SeqCst);
        while !self.try_take() {
            guard = self.freed.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        SlotGuard(self)
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let slots = self.0;
        slots.free.fetch_add(1, Ordering::SeqCst);
        if slots.waiters.load(Ordering::SeqCst) > 0 {
            // Taking the lock orders this wake-up after the waiter's check.
            let _guard = slots.lock.lock().unwrap_or_else(|p| p.into_inner());
            slots.freed.notify_one();
        }
    }
}

/// One thread per engine advances its epoch every `tick`. It holds only a weak
/// reference, so it ends once the engine (and every store and component made with
/// it) is gone.
fn spawn_ticker(engine: &Engine, tick: Duration) -> Result<(), Error> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("docket-plugin-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })
        // Without a ticker no deadline fires: refuse to run plugins rather than risk
        // a call that never ends.
        .map_err(|e| Error::Engine(format!("could not start the epoch ticker thread: {e}")))?;
    Ok(())
}

/// Identifies the compiler settings a precompiled artifact depends on.
fn engine_fingerprint(engine: &Engine) -> String {
    /// Feeds `Hash` output into SHA-256: stable across runs, unlike `DefaultHasher`.
    struct Sha(Sha256);
    impl std::hash::Hasher for Sha {
        fn finish(&self) -> u64 {
            // Never consulted: the digest is read from the inner hasher.
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    let digest = hasher.0.finalize();
    hex::encode(&digest[..8])
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
