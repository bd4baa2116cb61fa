//! The plugins embedded in the binary.

use model::plugin::{PluginRef, Plugins};
use plugin_host::Registry;

#[test]
fn all_four_bundled_plugins_are_built_in_and_load() {
    let registry = Registry::bundled().expect("bundled plugins load");
    let mut names: Vec<String> = registry.plugins().map(|p| p.info().name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        ["compliance", "guarantee-circle", "ocr-check", "scorecard"]
    );
    for plugin in registry.plugins() {
        let reference = PluginRef::parse(&format!(
            "{}@{}",
            plugin.info().name,
            plugin.version().major
        ))
        .unwrap();
        let described = registry
            .describe(&reference)
            .expect("resolves by name@major");
        assert_eq!(described.version, plugin.info().version);
        // The flow validator checks node configs (and CEL types) with these schemas:
        // each must compile in Docket's JSON Schema subset.
        model::schema::Schema::compile_object(&described.config_schema)
            .unwrap_or_else(|e| panic!("{} config schema: {e:?}", plugin.id()));
        model::schema::Schema::compile(&described.output_schema)
            .unwrap_or_else(|e| panic!("{} output schema: {e:?}", plugin.id()));
        assert_eq!(plugin.build().sha256.len(), 64);
        assert!(plugin.source().to_string().starts_with("bundled:"));
    }
}
