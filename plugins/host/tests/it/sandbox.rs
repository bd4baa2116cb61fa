//! The WASI stand-ins: what a standard-library guest sees of the outside world.

use super::*;

#[test]
fn echo_round_trips_the_input_and_reports_the_build() {
    let call = misbehave().call(&mode("echo"), &limits());
    let output = call.report.output.as_ref().expect("echo succeeds");
    assert_eq!(
        output.result["vars"],
        json!({ "amount": 1200, "applicant": { "name": "Li" } })
    );
    assert_eq!(output.result["case_id"], "case-1");
    assert_eq!(output.result["node_id"], "node-a");
    assert_eq!(output.result["business_date"], "2024-03-31");
    assert_eq!(output.outcome.as_deref(), Some("echoed"));
    assert_eq!(output.score, Some(1.5));
    assert_eq!(output.reasons[0].code, "ECHO");

    let expected_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(read(
            plugin_host::test_components::MISBEHAVE,
        )))
    };
    assert_eq!(call.report.build.sha256, expected_sha);
    assert_eq!(call.report.build.name, "hostile-misbehave");
    assert_eq!(call.report.build.version, "0.1.0");
    assert!(
        call.logs
            .iter()
            .any(|l| l.source == "log" && l.message == "echo for case case-1"),
        "{:?}",
        call.logs
    );
}

#[test]
fn the_outside_world_is_empty_and_fixed() {
    let first = misbehave().call(&mode("sandbox"), &limits());
    let report = first.report.output.expect("sandbox report").result;
    assert_eq!(report["env_vars"], 0);
    assert_eq!(report["args"], 0);
    assert_eq!(
        report["clock_nanos_since_epoch"], 0,
        "the clock stands at the epoch"
    );
    let file = report["file"].as_str().unwrap();
    assert!(file.starts_with("error:"), "no file can be read: {file}");
    assert_ne!(report["dir"], "listed");

    // Same input, same output: the "random" hash seed is fixed too.
    let second = misbehave()
        .call(&mode("sandbox"), &limits())
        .report
        .output
        .unwrap()
        .result;
    assert_eq!(report, second);
}

#[test]
fn stdout_and_stderr_are_captured_into_the_log() {
    let call = misbehave().call(&mode("print"), &limits());
    assert!(call.report.output.is_ok(), "{:?}", call.report.output);
    let find = |source: &str| {
        call.logs
            .iter()
            .find(|l| l.source == source)
            .map(|l| l.message.clone())
    };
    assert_eq!(find("stdout").as_deref(), Some("to stdout"));
    assert_eq!(find("stderr").as_deref(), Some("to stderr"));
}

#[test]
fn a_log_flood_is_bounded_and_counted() {
    let limits = CallLimits {
        timeout: std::time::Duration::from_secs(20),
        ..limits()
    };
    let call = misbehave().call(&mode("log-flood"), &limits);
    assert!(call.report.output.is_ok(), "{:?}", call.report.output);
    assert!(call.logs.len() <= 1_000, "{} lines kept", call.logs.len());
    let kept: usize = call.logs.iter().map(|l| l.message.len()).sum();
    assert!(kept <= 64 << 10, "{kept} bytes kept");
    assert_eq!(call.logs.len() + call.logs_dropped, 100_000);
}

#[test]
fn calls_beyond_the_instance_pool_wait_for_a_slot() {
    use model::plugin::StepErrorKind;
    use std::time::{Duration, Instant};
    let host = Host::new(HostConfig {
        cache_dir: Some(test_cache_dir()),
        max_concurrent_calls: 1,
        ..HostConfig::default()
    })
    .unwrap();
    let plugin = host
        .load_file(plugin_host::test_components::MISBEHAVE)
        .unwrap();
    let limits = CallLimits {
        timeout: Duration::from_millis(60),
        ..limits()
    };
    let started = Instant::now();
    std::thread::scope(|scope| {
        let calls: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| plugin.call(&mode("loop"), &limits)))
            .collect();
        for call in calls {
            let error = call.join().unwrap().report.output.unwrap_err();
            // Each call ran (and hit its own deadline) rather than failing to get an
            // instance from the full pool.
            assert_eq!(error.kind, StepErrorKind::Timeout, "{error}");
        }
    });
    assert!(
        started.elapsed() >= Duration::from_millis(180),
        "one slot: calls ran one by one"
    );
}

#[test]
fn a_pool_that_cannot_be_reserved_falls_back_to_on_demand_allocation() {
    // 100,000 slots of 4 GiB each is more address space than x86-64 user space has.
    let host = Host::new(HostConfig {
        cache_dir: Some(test_cache_dir()),
        max_concurrent_calls: 100_000,
        ..HostConfig::default()
    })
    .expect("the host still starts");
    assert!(!host.config().pooling);
    let plugin = host
        .load_file(plugin_host::test_components::MISBEHAVE)
        .unwrap();
    assert!(plugin.call(&mode("echo"), &limits()).report.output.is_ok());
}
