//! The compiled-component cache: compile once per content hash.

use super::*;

fn host_with_cache(dir: &std::path::Path) -> Host {
    Host::new(HostConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..HostConfig::default()
    })
    .unwrap()
}

fn cwasm_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "cwasm"));
    files
}

#[test]
fn a_component_is_compiled_once_then_loaded_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin_host::test_components::RAW;

    let cold = host_with_cache(dir.path()).load_file(path).unwrap();
    assert_eq!(cold.code_source(), "compiled");
    let files = cwasm_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&cold.build().sha256), "{name}");

    // A new host (a restarted process) reads the artifact instead of compiling.
    let warm_host = host_with_cache(dir.path());
    let warm = warm_host.load_file(path).unwrap();
    assert_eq!(warm.code_source(), "cached");
    assert!(
        warm.call(&input(json!("fine")), &limits())
            .report
            .output
            .is_ok()
    );
    // Within one host the same bytes are not even read from disk again.
    assert_eq!(warm_host.load_file(path).unwrap().code_source(), "shared");
}

#[test]
fn a_corrupt_artifact_is_replaced_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin_host::test_components::RAW;
    host_with_cache(dir.path()).load_file(path).unwrap();
    let artifact = cwasm_files(dir.path()).remove(0);
    std::fs::write(&artifact, b"this is not a compiled component").unwrap();

    let reloaded = host_with_cache(dir.path()).load_file(path).unwrap();
    assert_eq!(reloaded.code_source(), "compiled");
    assert!(
        reloaded
            .call(&input(json!("fine")), &limits())
            .report
            .output
            .is_ok()
    );
    assert_eq!(
        host_with_cache(dir.path())
            .load_file(path)
            .unwrap()
            .code_source(),
        "cached"
    );
}

#[test]
fn no_cache_dir_means_no_files() {
    let host = Host::new(HostConfig {
        cache_dir: None,
        ..HostConfig::default()
    })
    .unwrap();
    let plugin = host.load_file(plugin_host::test_components::RAW).unwrap();
    assert_eq!(plugin.code_source(), "compiled");
}
