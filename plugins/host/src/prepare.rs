//! Pre-initialised instances per node config: a plugin that exports `prepare`
//! (the `prepared-step` world) is instantiated once per distinct config text, its
//! `prepare(config)` called, and the instance's state snapshotted into a new component
//! (Wizer). Calls with that config then start from the snapshot, with the config already
//! parsed, instead of parsing it in every fresh instance.
//!
//! Nothing here can change a result: the SDK uses what `prepare` kept only for a `run`
//! whose config is the prepared text byte for byte, and prepares on the fly otherwise;
//! a config whose preparation failed (error, trap, limit) runs on the plain component
//! and is not prepared again. The reported build stays the original component's.
//!
//! Concurrency: the map of configs is locked only to find or add an entry. The thread
//! that adds an entry prepares it; other calls with that config meanwhile run on the
//! plain component rather than wait, and calls of other configs are not held up.

use crate::bindings::StepPre;
use crate::bindings::docket::plugin::types;
use crate::call::{self, CallState};
use crate::sandbox::{Host, sha256_hex};
use model::plugin::CallLimits;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Instance, InstancePre, Lift, WasmList};
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

/// The export `prepare-step` adds to `step`.
const PREPARE: &str = "prepare";

/// How a config's preparation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepareState {
    /// Not asked for (or not preparable: the plugin has no `prepare`, or preparing is
    /// off, or the map was full).
    None,
    /// Another call is preparing it; calls meanwhile use the plain component.
    Preparing,
    /// Calls with this config start from the snapshot.
    Ready,
    /// `prepare` failed (its error, a trap or a limit) or the snapshot could not be made:
    /// calls use the plain component. The text says why.
    Failed(String),
}

/// One config's entry.
pub(crate) struct Slot {
    claimed: AtomicBool,
    state: OnceLock<Result<StepPre<CallState>, String>>,
}

impl Slot {
    fn new() -> Self {
        Self {
            claimed: AtomicBool::new(false),
            state: OnceLock::new(),
        }
    }

    /// The snapshot's pre-linked instance, when ready.
    pub(crate) fn ready(&self) -> Option<&StepPre<CallState>> {
        self.state.get().and_then(|r| r.as_ref().ok())
    }

    fn state(&self) -> PrepareState {
        match self.state.get() {
            Some(Ok(_)) => PrepareState::Ready,
            Some(Err(why)) => PrepareState::Failed(why.clone()),
            None if self.claimed.load(Ordering::Acquire) => PrepareState::Preparing,
            None => PrepareState::None,
        }
    }
}

/// Configs by text. Entries are never replaced, only evicted oldest first when full.
#[derive(Default)]
struct ConfigMap {
    by_text: HashMap<Arc<str>, Arc<Slot>>,
    /// The same entries by the address of the caller's `Arc<str>` (a node's config is
    /// one shared `Arc` for all its calls): finding a config is then a pointer look-up,
    /// not a hash of its text. Each entry keeps its `Arc` alive, so an address here
    /// cannot be reused by another text.
    by_address: HashMap<usize, (Arc<str>, Arc<Slot>)>,
    order: VecDeque<Arc<str>>,
}

/// Aliases by address kept per distinct config at most (callers that build a new
/// `Arc` per call fall back to the look-up by text).
const ADDRESSES_PER_CONFIG: usize = 4;

/// Per plugin build: what preparing needs and the prepared configs.
pub(crate) struct Preparer {
    /// The original component, to instrument.
    bytes: Arc<[u8]>,
    origin: String,
    /// The instrumented component, compiled and linked once per build.
    instrumented: OnceLock<Result<Instrumented, String>>,
    configs: Mutex<ConfigMap>,
    max_configs: usize,
}

struct Instrumented {
    pre: InstancePre<CallState>,
    /// SHA-256 of the instrumented bytes, to check each re-instrumentation matches.
    sha256: String,
}

impl Preparer {
    /// A preparer when `component` exports a function `prepare` of one parameter.
    pub(crate) fn for_component(
        host: &Host,
        component: &Component,
        bytes: &[u8],
        origin: &str,
    ) -> Option<Self> {
        let max_configs = host.config().max_prepared_configs;
        if max_configs == 0 {
            return None;
        }
        let ty = component.component_type();
        let exports_prepare = ty.exports(host.engine()).any(|(name, item)| {
            name == PREPARE
                && matches!(item.ty, ComponentItem::ComponentFunc(f)
                    if f.params().len() == 1 && f.results().len() == 1)
        });
        exports_prepare.then(|| Self {
            bytes: bytes.into(),
            origin: origin.to_string(),
            instrumented: OnceLock::new(),
            configs: Mutex::default(),
            max_configs,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConfigMap> {
        // Inserts and removals are single map operations: a panic cannot leave it torn.
        self.configs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find(map: &ConfigMap, config: &Arc<str>) -> Option<Arc<Slot>> {
        let address = Arc::as_ptr(config) as *const u8 as usize;
        if let Some((_, slot)) = map.by_address.get(&address) {
            return Some(slot.clone());
        }
        map.by_text.get(&**config).cloned()
    }

    /// The entry for `config`, added if it is new (evicting the oldest when full).
    fn entry(&self, config: &Arc<str>) -> Arc<Slot> {
        let address = Arc::as_ptr(config) as *const u8 as usize;
        let mut map = self.lock();
        if let Some((_, slot)) = map.by_address.get(&address) {
            return slot.clone();
        }
        if let Some(slot) = map.by_text.get(&**config).cloned() {
            let aliases = map
                .by_address
                .values()
                .filter(|(_, s)| Arc::ptr_eq(s, &slot));
            if aliases.count() < ADDRESSES_PER_CONFIG {
                map.by_address
                    .insert(address, (config.clone(), slot.clone()));
            }
            return slot;
        }
        while map.by_text.len() >= self.max_configs {
            let Some(oldest) = map.order.pop_front() else {
                break;
            };
            if let Some(slot) = map.by_text.remove(&oldest) {
                map.by_address.retain(|_, (_, s)| !Arc::ptr_eq(s, &slot));
            }
        }
        let slot = Arc::new(Slot::new());
        map.by_text.insert(config.clone(), slot.clone());
        map.by_address
            .insert(address, (config.clone(), slot.clone()));
        map.order.push_back(config.clone());
        slot
    }

    /// What calls with `config` run on: the prepared snapshot if it is ready (preparing
    /// it now when no call has yet), else `None` for the plain component.
    pub(crate) fn choose(
        &self,
        host: &Host,
        config: &Arc<str>,
        limits: &CallLimits,
    ) -> Option<Arc<Slot>> {
        let found = Self::find(&self.lock(), config);
        let slot = match found {
            Some(slot) if slot.state.get().is_some() => slot,
            _ => {
                let slot = self.entry(config);
                if slot.claimed.swap(true, Ordering::AcqRel) {
                    // Ready, failed, or being prepared by another call.
                    return slot.ready().is_some().then_some(slot);
                }
                let outcome = self.prepare(host, config, limits);
                if let Err(why) = &outcome {
                    tracing::warn!(plugin = %self.origin, reason = %why,
                        "could not pre-initialise the plugin for a node config; \
                         calls with that config parse it each time");
                }
                let _ = slot.state.set(outcome);
                slot
            }
        };
        slot.ready().is_some().then_some(slot)
    }

    /// Prepares `config` now if it is not yet (or waits for nothing: another call's
    /// preparation in flight is reported as such). For warm-ups and tests.
    pub(crate) fn prepare_now(
        &self,
        host: &Host,
        config: &Arc<str>,
        limits: &CallLimits,
    ) -> PrepareState {
        self.choose(host, config, limits);
        self.state(config)
    }

    /// The ready snapshot for `config`, if any (no preparing).
    pub(crate) fn ready(&self, config: &str) -> Option<Arc<Slot>> {
        let slot = self.lock().by_text.get(config).cloned()?;
        slot.ready().is_some().then_some(slot)
    }

    pub(crate) fn state(&self, config: &str) -> PrepareState {
        let map = self.lock();
        map.by_text
            .get(config)
            .map_or(PrepareState::None, |slot| slot.state())
    }

    /// Instruments, instantiates, calls `prepare(config)`, snapshots, compiles and links
    /// the snapshot.
    fn prepare(
        &self,
        host: &Host,
        config: &str,
        limits: &CallLimits,
    ) -> Result<StepPre<CallState>, String> {
        let instrumented = self
            .instrumented
            .get_or_init(|| self.instrument(host))
            .as_ref()
            .map_err(Clone::clone)?;
        let wizer = wizer();
        // Instrumenting again is a parse and re-encode (milliseconds): the context that
        // the snapshot needs borrows the bytes, so it is not kept.
        let (cx, wasm) = wizer
            .instrument_component(&self.bytes)
            .map_err(|e| format!("instrumenting: {e:#}"))?;
        if sha256_hex(&wasm) != instrumented.sha256 {
            return Err("instrumenting the component twice gave different bytes".into());
        }
        let snapshot = {
            let _slot = host.acquire_slot();
            let mut store = Store::new(
                host.engine(),
                CallState::new(limits, host.config().max_memory_bytes),
            );
            store.limiter(|state| state as &mut dyn ResourceLimiter);
            store.set_epoch_deadline(host.deadline_ticks(limits.timeout));
            let called = instrumented
                .pre
                .instantiate(&mut store)
                .and_then(|instance| {
                    let prepare = instance
                        .get_typed_func::<(&str,), (Result<(), types::StepError>,)>(
                            &mut store, PREPARE,
                        )?;
                    Ok((instance, prepare.call(&mut store, (config,))?.0))
                });
            let instance = match called {
                Ok((instance, Ok(()))) => instance,
                Ok((_, Err(e))) => return Err(format!("prepare: {}: {}", e.code, e.message)),
                Err(e) => {
                    let (kind, message) = call::classify_trap(&e, store.data(), limits);
                    return Err(format!("prepare: {kind:?}: {message}"));
                }
            };
            let mut state = SyncInstance {
                store: &mut store,
                instance,
                error: None,
            };
            let rewritten = poll_once(wizer.snapshot_component(&cx, &mut state))
                .ok_or("the snapshot waited for something (it never should)")?
                .map_err(|e| format!("snapshot: {e:#}"))?;
            if let Some(e) = state.error {
                return Err(format!("snapshot: {e}"));
            }
            rewritten
        };
        let (pre, _) = self.compile_and_link(host, &snapshot, "prepared")?;
        StepPre::new(pre).map_err(|e| format!("{e:#}"))
    }

    fn instrument(&self, host: &Host) -> Result<Instrumented, String> {
        let (_, wasm) = wizer()
            .instrument_component(&self.bytes)
            .map_err(|e| format!("instrumenting: {e:#}"))?;
        let (pre, sha256) = self.compile_and_link(host, &wasm, "instrumented")?;
        Ok(Instrumented { pre, sha256 })
    }

    /// Compiles (through the host's artifact cache, not its in-memory map) and links a
    /// component derived from this plugin; also its SHA-256.
    fn compile_and_link(
        &self,
        host: &Host,
        wasm: &[u8],
        what: &str,
    ) -> Result<(InstancePre<CallState>, String), String> {
        let sha256 = sha256_hex(wasm);
        let origin = format!("{} ({what})", self.origin);
        let (component, _) = host
            .compile_with(wasm, &sha256, &origin, false)
            .map_err(|e| e.to_string())?;
        let pre = crate::loaded::link(host, &component, &origin).map_err(|e| e.to_string())?;
        Ok((pre, sha256))
    }
}

/// `prepare` is the initialisation function; it stays exported in the snapshot (the
/// host never calls it there), which keeps the component's lifts intact.
fn wizer() -> Wizer {
    let mut wizer = Wizer::new();
    wizer.init_func(PREPARE).keep_init_func(true);
    wizer
}

/// Polls a future that never waits (every call below is synchronous) to its end.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

/// Wizer's view of the instance after `prepare`: its state accessors, called over the
/// synchronous store. The trait's methods cannot fail; the first failure is kept in
/// `error` (the snapshot is then thrown away) and a zero value returned.
struct SyncInstance<'a> {
    store: &'a mut Store<CallState>,
    instance: Instance,
    error: Option<String>,
}

impl SyncInstance<'_> {
    fn call<R: Lift + Send + Sync + 'static>(&mut self, instance: &str, func: &str) -> Option<R> {
        if self.error.is_some() {
            return None;
        }
        let result = (|| -> Result<R, String> {
            let store = &mut *self.store;
            let outer = self
                .instance
                .get_export_index(&mut *store, None, instance)
                .ok_or_else(|| format!("no export `{instance}`"))?;
            let index = self
                .instance
                .get_export_index(&mut *store, Some(&outer), func)
                .ok_or_else(|| format!("no export `{instance}#{func}`"))?;
            let func_ = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *store, index)
                .map_err(|e| format!("{instance}#{func}: {e:#}"))?;
            let (value,) = func_
                .call(&mut *store, ())
                .map_err(|e| format!("{instance}#{func}: {e:#}"))?;
            Ok(value)
        })();
        result.map_err(|e| self.error = Some(e)).ok()
    }
}

impl ComponentInstanceState for SyncInstance<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        match self.call::<WasmList<u8>>(instance, func) {
            Some(list) => contents(list.as_le_slice(&*self.store)),
            None => contents(&[]),
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func).unwrap_or(0)
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func).unwrap_or(0)
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call::<f32>(instance, func).map_or(0, f32::to_bits)
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call::<f64>(instance, func).map_or(0, f64::to_bits)
    }
}
