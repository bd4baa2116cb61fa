//! The registry and the engine's plugin port.

use super::*;
use model::plugin::{PluginRef, Plugins, StepErrorKind};
use plugin_host::{Error, Registry};

fn registry() -> Registry {
    let mut registry = Registry::new(host().clone());
    registry
        .add_file(plugin_host::test_components::MISBEHAVE)
        .expect("misbehave loads");
    registry
        .add_file(plugin_host::test_components::RAW)
        .expect("raw loads");
    registry
}

/// The same component with an extra custom section: valid, same `name@version`,
/// different hash — a different build.
fn rebuilt(bytes: &[u8]) -> Vec<u8> {
    let name = b"docket-test";
    let payload = b"a different build";
    let mut out = bytes.to_vec();
    out.push(0); // custom section
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(payload);
    out
}

#[test]
fn describe_resolves_name_at_major() {
    let registry = registry();
    let info = registry
        .describe(&PluginRef::parse("hostile-misbehave@0").unwrap())
        .unwrap();
    assert_eq!(info.name, "hostile-misbehave");
    assert_eq!(info.version, "0.1.0");
    assert_eq!(info.config_schema["required"], json!(["mode"]));
    assert!(
        registry
            .describe(&PluginRef::parse("hostile-misbehave@1").unwrap())
            .is_none()
    );
    assert!(
        registry
            .describe(&PluginRef::parse("nope@0").unwrap())
            .is_none()
    );
}

#[test]
fn calls_through_the_port_report_the_hash() {
    let registry = registry();
    let plugin = PluginRef::parse("hostile-misbehave@0").unwrap();
    let report = registry
        .call(&plugin, &mode("echo"), &limits())
        .expect("identified");
    let expected = registry.resolve(&plugin).unwrap().build().sha256.clone();
    assert_eq!(report.build.sha256, expected);
    assert!(report.output.is_ok());

    let failed = registry
        .call(&plugin, &mode("panic"), &limits())
        .expect("identified");
    assert_eq!(failed.build.sha256, expected);
    assert_eq!(
        failed.output.unwrap_err().sha256.as_deref(),
        Some(expected.as_str())
    );
}

#[test]
fn unknown_plugins_are_not_found() {
    let registry = registry();
    let error = registry
        .call(
            &PluginRef::parse("ghost@1").unwrap(),
            &mode("echo"),
            &limits(),
        )
        .unwrap_err();
    assert_eq!(error.kind, StepErrorKind::NotFound);
    assert_eq!(error.plugin, "ghost@1");
    assert_eq!(error.sha256, None);

    let error = registry
        .call(
            &PluginRef::parse("hostile-misbehave@3").unwrap(),
            &mode("echo"),
            &limits(),
        )
        .unwrap_err();
    assert_eq!(error.kind, StepErrorKind::NotFound);
    assert!(error.message.contains("have 0.1.0"), "{}", error.message);
}

#[test]
fn the_same_build_twice_is_kept_once_a_different_one_conflicts() {
    let mut registry = registry();
    let bytes = read(plugin_host::test_components::MISBEHAVE);
    registry
        .add_bytes(&bytes, bytes_source("again"))
        .expect("same build is fine");
    assert_eq!(registry.plugins().count(), 2);

    let error = registry
        .add_bytes(&rebuilt(&bytes), bytes_source("rebuilt"))
        .unwrap_err();
    let Error::Conflict {
        plugin,
        first_origin,
        second_origin,
        ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(plugin, "hostile-misbehave@0.1.0");
    assert!(
        first_origin.ends_with("hostile-misbehave.wasm"),
        "{first_origin}"
    );
    assert_eq!(second_origin, "rebuilt");
}

#[test]
fn a_plugin_directory_loads_its_wasm_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        plugin_host::test_components::MISBEHAVE,
        dir.path().join("a.wasm"),
    )
    .unwrap();
    std::fs::copy(plugin_host::test_components::RAW, dir.path().join("b.wasm")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a plugin").unwrap();
    let mut registry = Registry::new(host().clone());
    let loaded = registry.add_dir(dir.path()).unwrap();
    let ids: Vec<String> = loaded.iter().map(|p| p.id()).collect();
    assert_eq!(ids, ["hostile-misbehave@0.1.0", "hostile-raw@0.1.0"]);

    // A forbidden plugin in the directory fails the whole load, naming the file.
    std::fs::copy(plugin_host::test_components::NET, dir.path().join("c.wasm")).unwrap();
    let error = Registry::new(host().clone())
        .add_dir(dir.path())
        .unwrap_err();
    assert!(error.to_string().contains("c.wasm"), "{error}");

    let missing = Registry::new(host().clone())
        .add_dir(dir.path().join("missing"))
        .unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
}
