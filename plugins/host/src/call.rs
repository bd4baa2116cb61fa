//! One plugin call: its store state (limits, captured log), and how everything that
//! can happen inside becomes a `StepOutput` or a typed `StepError`.

use crate::bindings::StepPre;
use crate::bindings::docket::plugin::{log, types};
use crate::loaded::LoadedPlugin;
use crate::prepare::Slot;
use model::doc::Doc;
use model::plugin::{
    CallLimits, CallReport, ReasonCode, StepError, StepErrorKind, StepInput, StepOutput,
};
use serde::Serialize;
use std::time::Instant;
use wasmtime::{ResourceLimiter, Store, Trap};

/// Bytes of log text (log lines, stdout, stderr together) kept per call; the rest
/// is dropped and counted.
pub(crate) const LOG_BUDGET: usize = 64 << 10;
/// Log lines kept per call.
const LOG_LINES: usize = 1_000;
/// What a stdio write may send at once (`check-write`).
pub(crate) const STREAM_WRITE_BUDGET: u64 = 64 << 10;
/// Tables and instances are not what plugins need many of; generous caps.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;
const MAX_INSTANCES: usize = 32;

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A line the plugin logged (via `log`, or written to stdout / stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: LogLevel,
    /// `log`, `stdout` or `stderr`.
    pub source: &'static str,
    pub message: String,
}

/// A finished call with the log it produced.
#[derive(Debug, Clone)]
pub struct Call {
    pub report: CallReport,
    pub logs: Vec<LogLine>,
    /// Log lines (or bytes of stdio) dropped because the call logged too much.
    pub logs_dropped: usize,
}

/// Why the host stopped a guest from inside a host function.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GuestStop {
    #[error("the plugin called exit ({0})")]
    Exit(String),
    #[error("the plugin {0}")]
    Refused(String),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// Everything one call's store holds.
pub(crate) struct CallState {
    memory_limit: usize,
    /// Set when a `memory.grow` beyond the limit was refused: the size asked for.
    memory_refused: Option<usize>,
    logs: Vec<LogLine>,
    log_bytes: usize,
    logs_dropped: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    random_state: u64,
}

impl CallState {
    pub(crate) fn new(limits: &CallLimits, max_memory: usize) -> Self {
        Self {
            memory_limit: limits.memory_bytes.min(max_memory),
            memory_refused: None,
            logs: Vec::new(),
            log_bytes: 0,
            logs_dropped: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            random_state: RANDOM_SEED,
        }
    }

    fn push_log(&mut self, level: LogLevel, source: &'static str, message: String) {
        if self.logs.len() >= LOG_LINES || self.log_bytes + message.len() > LOG_BUDGET {
            self.logs_dropped += 1;
            return;
        }
        self.log_bytes += message.len();
        self.logs.push(LogLine {
            level,
            source,
            message,
        });
    }

    /// Keeps what the guest wrote to stdout / stderr, up to the log budget.
    pub(crate) fn capture(&mut self, stream: Stream, bytes: &[u8]) {
        let room = LOG_BUDGET.saturating_sub(self.log_bytes);
        let kept = bytes.len().min(room);
        self.logs_dropped += bytes.len() - kept;
        self.log_bytes += kept;
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(&bytes[..kept]),
            Stream::Stderr => self.stderr.extend_from_slice(&bytes[..kept]),
        }
    }

    /// splitmix64 from a fixed seed, restarted for every call: "random" numbers
    /// that are the same on every run, so plugins stay pure.
    pub(crate) fn fixed_random_u64(&mut self) -> u64 {
        self.random_state = self.random_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn fixed_random_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(len + 8);
        while bytes.len() < len {
            bytes.extend_from_slice(&self.fixed_random_u64().to_le_bytes());
        }
        bytes.truncate(len);
        bytes
    }

    /// The captured stdio as log lines (stdout as info, stderr as warnings).
    fn into_logs(mut self) -> (Vec<LogLine>, usize) {
        for (source, level, bytes) in [
            ("stdout", LogLevel::Info, std::mem::take(&mut self.stdout)),
            ("stderr", LogLevel::Warn, std::mem::take(&mut self.stderr)),
        ] {
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.is_empty())
            {
                // Stdio bytes were already counted against the budget.
                self.logs.push(LogLine {
                    level,
                    source,
                    message: line.to_string(),
                });
            }
        }
        (self.logs, self.logs_dropped)
    }
}

const RANDOM_SEED: u64 = 0x646f_636b_6574_2121;

impl ResourceLimiter for CallState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_INSTANCES
    }
}

impl types::Host for CallState {}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        self.push_log(level, "log", message);
    }
}

/// Runs one call of `plugin` in a fresh instance.
pub(crate) fn run(plugin: &LoadedPlugin, input: &StepInput, limits: &CallLimits) -> Call {
    let host = plugin.host();
    // Before the call takes its instance slot: preparing takes one of its own.
    let prepared = plugin
        .preparer()
        .and_then(|p| p.choose(host, &input.config, limits));
    let pre = prepared
        .as_deref()
        .and_then(Slot::ready)
        .unwrap_or(plugin.pre());
    run_on(plugin, pre, input, limits)
}

/// Runs one call of `plugin` in a fresh instance of `pre` (the plugin's own component
/// or a snapshot of it prepared for a config).
pub(crate) fn run_on(
    plugin: &LoadedPlugin,
    pre: &StepPre<CallState>,
    input: &StepInput,
    limits: &CallLimits,
) -> Call {
    let host = plugin.host();
    // Held until the end of this function, after the store (declared later) is dropped.
    let _slot = host.acquire_slot();
    let started = Instant::now();
    let mut store = Store::new(
        host.engine(),
        CallState::new(limits, host.config().max_memory_bytes),
    );
    store.limiter(|state| state as &mut dyn ResourceLimiter);
    store.set_epoch_deadline(host.deadline_ticks(limits.timeout));

    let wit_input = types::StepInput {
        case_id: input.case_id.clone(),
        node_id: input.node_id.clone(),
        config: input.config.to_string(),
        vars: input.vars.clone(),
        business_date: input.business_date.clone(),
    };
    let outcome = pre
        .instantiate(&mut store)
        .and_then(|step| step.call_run(&mut store, &wit_input));
    let duration = started.elapsed();
    let state = store.into_data();
    let failure = |kind, message| {
        Err(StepError {
            kind,
            plugin: plugin.id(),
            sha256: Some(plugin.build().sha256.clone()),
            code: None,
            message,
        })
    };

    let output = match outcome {
        Ok(Ok(output)) => check_output(output, limits).or_else(|(kind, m)| failure(kind, m)),
        Ok(Err(e)) => Err(StepError {
            kind: StepErrorKind::Plugin,
            plugin: plugin.id(),
            sha256: Some(plugin.build().sha256.clone()),
            code: Some(e.code),
            message: e.message,
        }),
        Err(e) => {
            let (kind, message) = classify_trap(&e, &state, limits);
            failure(kind, message)
        }
    };
    let (logs, logs_dropped) = state.into_logs();
    Call {
        report: CallReport {
            build: plugin.build().clone(),
            duration,
            output,
        },
        logs,
        logs_dropped,
    }
}

/// The kind and message of a call that did not return.
pub(crate) fn classify_trap(
    error: &wasmtime::Error,
    state: &CallState,
    limits: &CallLimits,
) -> (StepErrorKind, String) {
    let stderr = String::from_utf8_lossy(&state.stderr);
    if let Some(asked) = state.memory_refused {
        let mut message = format!(
            "linear memory limit of {} reached (the plugin asked to grow to {})",
            human_bytes(state.memory_limit),
            human_bytes(asked)
        );
        if let Some(line) = stderr.lines().find(|l| l.contains("memory allocation")) {
            message.push_str(": ");
            message.push_str(line.trim());
        }
        return (StepErrorKind::MemoryLimit, message);
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return (
            StepErrorKind::Timeout,
            format!(
                "ran longer than its {} ms time limit",
                limits.timeout.as_millis()
            ),
        );
    }
    if let Some(stop) = error.downcast_ref::<GuestStop>() {
        return (StepErrorKind::Trap, stop.to_string());
    }
    if let Some(panic) = panic_message(&stderr) {
        return (StepErrorKind::Trap, panic);
    }
    let trap = match error.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => "trapped: stack overflow (wasm call stack exhausted)".into(),
        Some(trap) => format!("trapped: {trap}"),
        None => format!("failed: {error:#}"),
    };
    let mut message = trap;
    if let Some(last) = stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        message.push_str(&format!(" (last stderr line: {})", last.trim()));
    }
    (StepErrorKind::Trap, message)
}

/// The standard library's panic hook prints
/// `thread '<name>' panicked at src/lib.rs:10:5:\n<message>\nnote: …` to stderr.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let rest = &stderr[start..];
    let (location, message) = rest.split_once(":\n").unwrap_or((rest, ""));
    let message: Vec<&str> = message
        .lines()
        .take_while(|l| !l.starts_with("note: run with"))
        .collect();
    let message = message.join("\n");
    Some(format!(
        "{}: {}",
        location.trim_end_matches(':'),
        message.trim()
    ))
}

/// Checks a returned output against the limits and the interface's promises.
fn check_output(
    output: types::StepOutput,
    limits: &CallLimits,
) -> Result<StepOutput, (StepErrorKind, String)> {
    let size = output.result.len()
        + output.outcome.as_ref().map_or(0, String::len)
        + output
            .reasons
            .iter()
            .map(|r| r.code.len() + r.message.len() + 8)
            .sum::<usize>();
    if size > limits.output_bytes {
        return Err((
            StepErrorKind::OutputTooLarge,
            format!(
                "output is {} but the limit is {}",
                human_bytes(size),
                human_bytes(limits.output_bytes)
            ),
        ));
    }
    // Canonical text (what the SDK writes) is kept as it is, unparsed until needed.
    let result = Doc::parse(output.result).map_err(|e| {
        (
            StepErrorKind::MalformedOutput,
            format!("`result` is not valid JSON: {e}"),
        )
    })?;
    if let Some(score) = output.score
        && !score.is_finite()
    {
        return Err((
            StepErrorKind::MalformedOutput,
            format!("`score` must be a finite number, got {score}"),
        ));
    }
    if let Some(r) = output.reasons.iter().find(|r| !r.weight.is_finite()) {
        return Err((
            StepErrorKind::MalformedOutput,
            format!(
                "reason `{}` has a weight that is not a finite number",
                r.code
            ),
        ));
    }
    Ok(StepOutput {
        result,
        outcome: output.outcome,
        score: output.score,
        reasons: output
            .reasons
            .into_iter()
            .map(|r| ReasonCode {
                code: r.code,
                message: r.message,
                weight: r.weight,
            })
            .collect(),
    })
}

pub(crate) fn human_bytes(n: usize) -> String {
    const MIB: usize = 1 << 20;
    const KIB: usize = 1 << 10;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_keeps_location_and_text() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:75:24:\nrow 7 has no bin\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "panicked at src/lib.rs:75:24: row 7 has no bin"
        );
        assert_eq!(panic_message("nothing to see"), None);
    }

    #[test]
    fn fixed_randomness_repeats_per_call() {
        let limits = CallLimits::default();
        let mut a = CallState::new(&limits, usize::MAX);
        let mut b = CallState::new(&limits, usize::MAX);
        let first = a.fixed_random_bytes(13);
        assert_eq!(first, b.fixed_random_bytes(13));
        assert_ne!(
            first,
            a.fixed_random_bytes(13),
            "the stream moves on within a call"
        );
    }

    #[test]
    fn log_budget_drops_and_counts() {
        let mut state = CallState::new(&CallLimits::default(), usize::MAX);
        for _ in 0..LOG_LINES + 5 {
            state.push_log(LogLevel::Info, "log", "x".into());
        }
        state.capture(Stream::Stderr, &vec![b'e'; LOG_BUDGET]);
        let (logs, dropped) = state.into_logs();
        assert_eq!(logs.iter().filter(|l| l.source == "log").count(), LOG_LINES);
        let stderr_bytes: usize = logs
            .iter()
            .filter(|l| l.source == "stderr")
            .map(|l| l.message.len())
            .sum();
        assert_eq!(stderr_bytes, LOG_BUDGET - LOG_LINES);
        assert_eq!(dropped, 5 + LOG_LINES);
    }

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1536 << 10), "1.5 MiB");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(10), "10 bytes");
    }
}
