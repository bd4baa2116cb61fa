//! The WASI a plugin sees: deterministic stand-ins, and an allow-list.
//!
//! A guest built with the Rust standard library for `wasm32-wasip2` imports WASI
//! stdio, environment, clocks, random and filesystem interfaces even if the plugin
//! never uses them. Plugins must be pure functions of their input, so the host gives
//! each of these a fixed answer instead of the real thing:
//!
//! - environment and arguments are empty, there are no preopened directories (so no
//!   file can be opened), stdin is at end of file;
//! - stdout and stderr are captured into the call's log (this is how a panic message
//!   reaches the step error);
//! - wall and monotonic clocks stand at zero (the Unix epoch); timers are ready at
//!   once;
//! - "random" bytes come from a fixed-seed generator restarted for every call;
//! - `exit` stops the call; anything else in these interfaces traps with a message
//!   naming it.
//!
//! Any other import (sockets, HTTP, a custom interface…) is refused at load time,
//! naming the import. The stand-ins are defined per component from the component's
//! own import types (`func_new`), so any WASI 0.2.x version links; they are pre-linked
//! into an `InstancePre` once, so a call pays nothing for them until the guest uses one.

use crate::call::{CallState, Stream};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceDynamic, ResourceType, Val};
use wasmtime::{Engine, StoreContextMut};

/// WASI interfaces (without `@version`) a plugin may import.
const ALLOWED: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// The plugin interface's own imports, defined by the generated bindings.
const PLUGIN_INTERFACES: &[&str] = &["docket:plugin/log", "docket:plugin/types"];

/// Largest single request for "random" bytes; more is a misbehaving guest.
const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// How the component's imports split up.
pub(crate) struct ImportCheck {
    /// Imports outside the allow-list, by full name.
    pub(crate) forbidden: Vec<String>,
}

/// Sorts the component's imports into allowed and forbidden.
pub(crate) fn check_imports(component: &Component, engine: &Engine) -> ImportCheck {
    let ty = component.component_type();
    let forbidden = ty
        .imports(engine)
        .filter(|(name, item)| {
            let allowed_instance = matches!(item.ty, ComponentItem::ComponentInstance(_))
                && (is_allowed_wasi(name) || PLUGIN_INTERFACES.contains(&interface(name)));
            !allowed_instance
        })
        .map(|(name, _)| name.to_string())
        .collect();
    ImportCheck { forbidden }
}

fn interface(import: &str) -> &str {
    import.split_once('@').map_or(import, |(iface, _)| iface)
}

fn is_allowed_wasi(import: &str) -> bool {
    let version = import.split_once('@').map(|(_, v)| v);
    // WASI 0.3 changes these interfaces' shapes; only 0.2.x has stand-ins.
    ALLOWED.contains(&interface(import)) && version.is_some_and(|v| v.starts_with("0.2."))
}

/// Defines the stand-ins for every allowed WASI import of `component`. Call after
/// [`check_imports`] found nothing forbidden.
pub(crate) fn define(
    linker: &mut Linker<CallState>,
    component: &Component,
    engine: &Engine,
) -> wasmtime::Result<()> {
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        if !is_allowed_wasi(name) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        let iface = interface(name).to_string();
        let mut linker_instance = linker.instance(name)?;
        for (export, export_item) in instance.exports(engine) {
            match export_item.ty {
                ComponentItem::Resource(_) => {
                    let ty = ResourceType::host_dynamic(resource_id(export));
                    linker_instance.resource(export, ty, |_, _| Ok(()))?;
                }
                ComponentItem::ComponentFunc(_) => {
                    let stub = Stub::for_function(&iface, export);
                    let qualified = format!("{name}#{export}");
                    linker_instance.func_new(export, move |mut store, _ty, params, results| {
                        let handles = take_handles(&mut store, params)?;
                        stub.call(store, &qualified, params, &handles, results)
                    })?;
                }
                // Plain types need no definition.
                _ => {}
            }
        }
    }
    Ok(())
}

/// One id per WASI resource name, shared by every interface that re-exports it
/// (`wasi:cli/stdout` hands out `wasi:io/streams`' `output-stream`).
fn resource_id(name: &str) -> u32 {
    match name {
        "output-stream" => 1,
        "input-stream" => 2,
        "pollable" => 3,
        "error" => 4,
        "descriptor" => 5,
        "directory-entry-stream" => 6,
        "terminal-input" => 7,
        "terminal-output" => 8,
        // Unknown resources can never be handed out by a stand-in, so any id that
        // differs from the known ones will do.
        _ => 100,
    }
}

const OUTPUT_STREAM: u32 = 1;
const INPUT_STREAM: u32 = 2;
const POLLABLE: u32 = 3;

// Representations of the handles the stand-ins hand out.
const STDOUT_REP: u32 = 1;
const STDERR_REP: u32 = 2;
const STDIN_REP: u32 = 0;

/// What a stand-in does.
#[derive(Debug, Clone, Copy)]
enum Stub {
    EmptyList,
    NoneOption,
    Exit,
    Stdin,
    Stdout,
    Stderr,
    CheckWrite,
    Write,
    WriteZeroes,
    Flush,
    Subscribe,
    ReadClosed,
    Ready,
    Block,
    PollAll,
    WallClock,
    Resolution,
    MonotonicNow,
    MonotonicResolution,
    RandomBytes,
    RandomU64,
    InsecureSeed,
    DebugString,
    Unsupported,
}

impl Stub {
    fn for_function(iface: &str, func: &str) -> Self {
        match (iface, func) {
            ("wasi:cli/environment", "get-environment" | "get-arguments") => Self::EmptyList,
            ("wasi:cli/environment", "initial-cwd") => Self::NoneOption,
            ("wasi:cli/exit", "exit" | "exit-with-code") => Self::Exit,
            ("wasi:cli/stdin", "get-stdin") => Self::Stdin,
            ("wasi:cli/stdout", "get-stdout") => Self::Stdout,
            ("wasi:cli/stderr", "get-stderr") => Self::Stderr,
            (
                "wasi:cli/terminal-stdin" | "wasi:cli/terminal-stdout" | "wasi:cli/terminal-stderr",
                _,
            ) => Self::NoneOption,
            ("wasi:io/streams", "[method]output-stream.check-write") => Self::CheckWrite,
            (
                "wasi:io/streams",
                "[method]output-stream.write" | "[method]output-stream.blocking-write-and-flush",
            ) => Self::Write,
            (
                "wasi:io/streams",
                "[method]output-stream.write-zeroes"
                | "[method]output-stream.blocking-write-zeroes-and-flush",
            ) => Self::WriteZeroes,
            (
                "wasi:io/streams",
                "[method]output-stream.flush" | "[method]output-stream.blocking-flush",
            ) => Self::Flush,
            (
                "wasi:io/streams",
                "[method]output-stream.subscribe" | "[method]input-stream.subscribe",
            ) => Self::Subscribe,
            (
                "wasi:io/streams",
                "[method]input-stream.read"
                | "[method]input-stream.blocking-read"
                | "[method]input-stream.skip"
                | "[method]input-stream.blocking-skip",
            ) => Self::ReadClosed,
            ("wasi:io/poll", "[method]pollable.ready") => Self::Ready,
            ("wasi:io/poll", "[method]pollable.block") => Self::Block,
            ("wasi:io/poll", "poll") => Self::PollAll,
            ("wasi:io/error", "[method]error.to-debug-string") => Self::DebugString,
            ("wasi:clocks/wall-clock", "now") => Self::WallClock,
            ("wasi:clocks/wall-clock", "resolution") => Self::Resolution,
            ("wasi:clocks/monotonic-clock", "now") => Self::MonotonicNow,
            ("wasi:clocks/monotonic-clock", "resolution") => Self::MonotonicResolution,
            ("wasi:clocks/monotonic-clock", "subscribe-instant" | "subscribe-duration") => {
                Self::Subscribe
            }
            ("wasi:filesystem/preopens", "get-directories") => Self::EmptyList,
            // No descriptor can exist (no preopens), so only this free function can
            // be reached; no error is a filesystem error.
            ("wasi:filesystem/types", "filesystem-error-code") => Self::NoneOption,
            ("wasi:random/random" | "wasi:random/insecure", f) if f.ends_with("-bytes") => {
                Self::RandomBytes
            }
            ("wasi:random/random" | "wasi:random/insecure", f) if f.ends_with("-u64") => {
                Self::RandomU64
            }
            ("wasi:random/insecure-seed", "insecure-seed") => Self::InsecureSeed,
            _ => Self::Unsupported,
        }
    }

    fn call(
        self,
        mut store: StoreContextMut<'_, CallState>,
        qualified: &str,
        params: &[Val],
        handles: &[u32],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let result = match self {
            Self::EmptyList => Val::List(Vec::new()),
            Self::NoneOption => Val::Option(None),
            Self::Exit => {
                let status = match params.first() {
                    Some(Val::Result(Ok(_))) => "success".to_string(),
                    Some(Val::U8(code)) => format!("code {code}"),
                    _ => "failure".to_string(),
                };
                return Err(wasmtime::Error::new(crate::call::GuestStop::Exit(status)));
            }
            Self::Stdin => own(&mut store, STDIN_REP, INPUT_STREAM)?,
            Self::Stdout => own(&mut store, STDOUT_REP, OUTPUT_STREAM)?,
            Self::Stderr => own(&mut store, STDERR_REP, OUTPUT_STREAM)?,
            Self::CheckWrite => Val::Result(Ok(Some(Box::new(Val::U64(
                crate::call::STREAM_WRITE_BUDGET,
            ))))),
            Self::Write => {
                let stream = stream_of(handles);
                let bytes: Vec<u8> = match params.get(1) {
                    Some(Val::List(items)) => items
                        .iter()
                        .map(|v| if let Val::U8(b) = v { *b } else { b'?' })
                        .collect(),
                    _ => Vec::new(),
                };
                store.data_mut().capture(stream, &bytes);
                Val::Result(Ok(None))
            }
            Self::WriteZeroes => {
                let stream = stream_of(handles);
                let len = match params.get(1) {
                    Some(Val::U64(n)) => (*n).min(crate::call::STREAM_WRITE_BUDGET) as usize,
                    _ => 0,
                };
                store.data_mut().capture(stream, &vec![0; len]);
                Val::Result(Ok(None))
            }
            Self::Flush => Val::Result(Ok(None)),
            Self::Subscribe => own(&mut store, 0, POLLABLE)?,
            Self::ReadClosed => Val::Result(Err(Some(Box::new(Val::Variant(
                "closed".to_string(),
                None,
            ))))),
            Self::Ready => Val::Bool(true),
            Self::Block => return Ok(()),
            Self::PollAll => {
                // Every pollable is ready at once: nothing here ever waits.
                let count = match params.first() {
                    Some(Val::List(items)) => items.len(),
                    _ => 0,
                };
                Val::List((0..count).map(|i| Val::U32(i as u32)).collect())
            }
            Self::WallClock => datetime(0, 0),
            Self::Resolution => datetime(0, 1),
            Self::MonotonicNow => Val::U64(0),
            Self::MonotonicResolution => Val::U64(1),
            Self::RandomBytes => {
                let len = match params.first() {
                    Some(Val::U64(n)) => *n,
                    _ => 0,
                };
                if len > MAX_RANDOM_BYTES {
                    return Err(wasmtime::Error::new(crate::call::GuestStop::Refused(
                        format!(
                            "{qualified} asked for {len} random bytes (at most {MAX_RANDOM_BYTES})"
                        ),
                    )));
                }
                let bytes = store.data_mut().fixed_random_bytes(len as usize);
                Val::List(bytes.into_iter().map(Val::U8).collect())
            }
            Self::RandomU64 => Val::U64(store.data_mut().fixed_random_u64()),
            Self::InsecureSeed => Val::Tuple(vec![
                Val::U64(0x646f_636b_6574_0001),
                Val::U64(0x646f_636b_6574_0002),
            ]),
            Self::DebugString => Val::String("no such error: the plugin sandbox has no I/O".into()),
            Self::Unsupported => {
                return Err(wasmtime::Error::new(crate::call::GuestStop::Refused(
                    format!("called `{qualified}`, which the plugin sandbox does not provide"),
                )));
            }
        };
        if let Some(slot) = results.first_mut() {
            *slot = result;
        }
        Ok(())
    }
}

/// The representations of the resource handles among `params`, in order.
///
/// The dynamic API hands each borrowed handle to the host, which must release it
/// before returning or the call traps; converting it to a host handle does both.
fn take_handles(
    store: &mut StoreContextMut<'_, CallState>,
    params: &[Val],
) -> wasmtime::Result<Vec<u32>> {
    let mut reps = Vec::new();
    for param in params {
        match param {
            Val::Resource(handle) => {
                reps.push(ResourceDynamic::try_from_resource_any(*handle, &mut *store)?.rep());
            }
            Val::List(items) => reps.extend(take_handles(store, items)?),
            _ => {}
        }
    }
    Ok(reps)
}

fn own(store: &mut StoreContextMut<'_, CallState>, rep: u32, ty: u32) -> wasmtime::Result<Val> {
    Ok(Val::Resource(
        ResourceDynamic::new_own(rep, ty).try_into_resource_any(store)?,
    ))
}

fn stream_of(handles: &[u32]) -> Stream {
    if handles.first() == Some(&STDERR_REP) {
        Stream::Stderr
    } else {
        Stream::Stdout
    }
}

fn datetime(seconds: u64, nanoseconds: u32) -> Val {
    Val::Record(vec![
        ("seconds".to_string(), Val::U64(seconds)),
        ("nanoseconds".to_string(), Val::U32(nanoseconds)),
    ])
}
