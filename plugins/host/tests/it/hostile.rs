//! Hostile plugins: every misdeed ends as a typed step error, and the host stays up.

use super::*;
use model::plugin::StepErrorKind;
use plugin_host::Error;
use std::time::{Duration, Instant};

fn failure(
    plugin: &LoadedPlugin,
    input: &StepInput,
    limits: &CallLimits,
) -> model::plugin::StepError {
    let call = plugin.call(input, limits);
    let error = call.report.output.expect_err("the call must fail");
    // Every failure names the build that failed.
    assert_eq!(error.plugin, plugin.id());
    assert_eq!(
        error.sha256.as_deref(),
        Some(plugin.build().sha256.as_str())
    );
    error
}

/// A looping guest is stopped by its time limit: the call returns a timeout naming the
/// limit it was given, never before that limit. How soon after it the stop lands is a
/// figure for the plugin benchmark, not a test (the machine's load decides it).
fn stopped_by(timeout: Duration, limits: &CallLimits) {
    let started = Instant::now();
    let error = failure(misbehave(), &mode("loop"), limits);
    let elapsed = started.elapsed();
    assert_eq!(error.kind, StepErrorKind::Timeout, "{error}");
    assert!(
        error
            .message
            .contains(&format!("{} ms", timeout.as_millis())),
        "{}",
        error.message
    );
    assert!(elapsed >= timeout, "stopped before its limit: {elapsed:?}");
}

#[test]
fn an_infinite_loop_is_stopped_by_its_limit() {
    for timeout in [Duration::from_millis(100), Duration::from_millis(300)] {
        stopped_by(
            timeout,
            &CallLimits {
                timeout,
                ..limits()
            },
        );
    }
}

#[test]
fn the_default_time_limit_is_500ms() {
    stopped_by(Duration::from_millis(500), &limits());
}

#[test]
fn a_memory_bomb_is_trapped_at_the_limit() {
    let limits = CallLimits {
        memory_bytes: 16 << 20,
        ..limits()
    };
    let error = failure(misbehave(), &mode("memory-bomb"), &limits);
    assert_eq!(error.kind, StepErrorKind::MemoryLimit, "{error}");
    assert!(error.message.contains("16 MiB"), "{}", error.message);

    let default_limit = failure(misbehave(), &mode("memory-bomb"), &super::limits());
    assert_eq!(default_limit.kind, StepErrorKind::MemoryLimit);
    assert!(
        default_limit.message.contains("64 MiB"),
        "{}",
        default_limit.message
    );
}

#[test]
fn deep_recursion_is_trapped() {
    let error = failure(misbehave(), &mode("recursion"), &limits());
    assert_eq!(error.kind, StepErrorKind::Trap, "{error}");
    assert!(
        error.message.contains("stack overflow"),
        "{}",
        error.message
    );
}

#[test]
fn a_panic_surfaces_its_message() {
    let error = failure(misbehave(), &mode("panic"), &limits());
    assert_eq!(error.kind, StepErrorKind::Trap);
    assert!(
        error.message.starts_with("panicked at "),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("misbehave/src/lib.rs:"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .ends_with("scorecard table is corrupt: row 7 has no bin"),
        "{}",
        error.message
    );
}

#[test]
fn oversized_output_is_rejected() {
    let error = failure(misbehave(), &mode("oversized"), &limits());
    assert_eq!(error.kind, StepErrorKind::OutputTooLarge, "{error}");
    assert!(
        error.message.contains("limit is 1 MiB"),
        "{}",
        error.message
    );

    // The limit is per call and covers every field, not only `result`.
    let small = CallLimits {
        output_bytes: 1000,
        ..limits()
    };
    let error = failure(
        misbehave(),
        &input(json!({ "mode": "oversized", "bytes": 2000 })),
        &small,
    );
    assert_eq!(error.kind, StepErrorKind::OutputTooLarge);
    let error = failure(raw(), &input(json!("huge-reason")), &limits());
    assert_eq!(error.kind, StepErrorKind::OutputTooLarge);
    let fits = misbehave().call(&input(json!({ "mode": "oversized", "bytes": 900 })), &small);
    assert!(fits.report.output.is_ok(), "{:?}", fits.report.output);
}

#[test]
fn a_result_that_is_not_json_is_malformed_output() {
    let error = failure(raw(), &input(json!("bad-json")), &limits());
    assert_eq!(error.kind, StepErrorKind::MalformedOutput, "{error}");
    assert!(
        error.message.contains("not valid JSON"),
        "{}",
        error.message
    );
    let fine = raw().call(&input(json!("fine")), &limits());
    assert_eq!(*fine.report.output.unwrap().result, json!({}));
}

#[test]
fn a_result_that_is_json_but_not_canonical_is_parsed_and_written_canonically() {
    let call = raw().call(&input(json!("unsorted")), &limits());
    let result = call.report.output.expect("valid JSON is a result").result;
    assert!(
        matches!(result.json(), model::doc::JsonRef::Value(_)),
        "not canonical: parsed"
    );
    assert_eq!(result.canonical(), r#"{"a":[2.5,"A"],"b":1}"#);
    assert_eq!(*result, json!({"b": 1, "a": [2.5, "A"]}));
}

#[test]
fn a_plugin_error_keeps_its_code() {
    let error = failure(misbehave(), &mode("error"), &limits());
    assert_eq!(error.kind, StepErrorKind::Plugin);
    assert_eq!(error.code.as_deref(), Some("missing_field"));
    assert_eq!(error.message, "vars.applicant is required");
}

#[test]
fn std_net_is_refused_at_load_naming_the_import() {
    let error = host()
        .load_file(plugin_host::test_components::NET)
        .unwrap_err();
    let Error::ForbiddenImport { imports, .. } = &error else {
        panic!("{error}")
    };
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:sockets/")),
        "{imports:?}"
    );
    assert!(
        imports.iter().all(|i| !i.starts_with("wasi:io/")),
        "{imports:?}"
    );
    assert!(error.to_string().contains("wasi:sockets/"), "{error}");
}

#[test]
fn a_custom_import_is_refused_at_load_naming_it() {
    let error = host()
        .load_file(plugin_host::test_components::CUSTOM_IMPORT)
        .unwrap_err();
    let Error::ForbiddenImport { imports, origin } = &error else {
        panic!("{error}")
    };
    assert_eq!(imports, &["docket:hostile/exfiltrate"]);
    assert!(origin.ends_with("hostile-custom-import.wasm"), "{origin}");
    assert!(
        error.to_string().contains("`docket:hostile/exfiltrate`"),
        "{error}"
    );
}

#[test]
fn garbage_and_core_modules_are_load_errors() {
    let error = host()
        .load(b"not wasm at all", bytes_source("garbage"))
        .unwrap_err();
    assert!(matches!(error, Error::Compile { .. }), "{error}");
    assert!(error.to_string().starts_with("garbage: "), "{error}");
    // A core module (not a component) is refused with a message, not a panic.
    let core_module = b"\0asm\x01\0\0\0";
    let error = host().load(core_module, bytes_source("core")).unwrap_err();
    assert!(matches!(error, Error::Compile { .. }), "{error}");
}

#[test]
fn the_host_keeps_serving_after_each_kind_of_failure() {
    let quick = CallLimits {
        timeout: Duration::from_millis(50),
        memory_bytes: 8 << 20,
        ..limits()
    };
    for m in [
        "loop",
        "memory-bomb",
        "recursion",
        "panic",
        "oversized",
        "error",
    ] {
        assert!(
            misbehave().call(&mode(m), &quick).report.output.is_err(),
            "{m} must fail"
        );
        let echo = misbehave().call(&mode("echo"), &quick);
        assert!(
            echo.report.output.is_ok(),
            "echo after {m}: {:?}",
            echo.report.output
        );
    }
}

#[test]
fn concurrent_calls_are_isolated() {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                scope.spawn(move || {
                    for i in 0..25 {
                        let mut call_input = mode(if i % 5 == 0 { "panic" } else { "echo" });
                        call_input.case_id = format!("case-{worker}-{i}");
                        let call = misbehave().call(&call_input, &limits());
                        if i % 5 == 0 {
                            assert!(call.report.output.is_err());
                        } else {
                            let out = call.report.output.expect("echo");
                            assert_eq!(out.result["case_id"], call_input.case_id);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker");
        }
    });
}
