//! Many hostile calls in a row: the host still serves and does not leak.

use super::*;
use std::time::Duration;

/// Resident set size of this process, from /proc/self/status.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_thousand_hostile_calls_leave_the_host_serving_and_small() {
    let limits = CallLimits {
        timeout: Duration::from_millis(20),
        memory_bytes: 8 << 20,
        output_bytes: 64 << 10,
    };
    let modes = [
        "panic",
        "memory-bomb",
        "recursion",
        "oversized",
        "error",
        "panic",
        "loop",
    ];
    let run = |i: usize| {
        // The loop costs its whole time limit: one in seven would make this test slow,
        // one in fifty keeps it meaningful.
        let m = if i % 50 == 49 {
            "loop"
        } else {
            modes[i % (modes.len() - 1)]
        };
        let call = misbehave().call(&mode(m), &limits);
        assert!(call.report.output.is_err(), "call {i} ({m}) must fail");
        let raw_call = raw().call(&input(json!("bad-json")), &limits);
        assert!(raw_call.report.output.is_err());
    };
    // Warm up: first-use allocations (pool slots, code, thread-locals) are not leaks.
    for i in 0..100 {
        run(i);
    }
    let before = rss_bytes();
    for i in 0..1_000 {
        run(i);
    }
    let after = rss_bytes();
    let echo = misbehave().call(&mode("echo"), &CallLimits::default());
    assert!(echo.report.output.is_ok(), "{:?}", echo.report.output);
    let growth = after.saturating_sub(before);
    eprintln!(
        "RSS before {} KiB, after {} KiB, growth {} KiB",
        before >> 10,
        after >> 10,
        growth >> 10
    );
    assert!(
        growth < 32 << 20,
        "RSS grew by {} MiB over 1,000 hostile calls",
        growth >> 20
    );
}
