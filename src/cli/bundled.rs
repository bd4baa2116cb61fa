//! The flows and sample inputs shipped inside the binary, so `docket run retail-loan …` and
//! `docket bench` work from any directory, not only from a checkout's root.

/// Bundled flows: name and YAML (the files under `workflows/`).
pub(crate) const FLOWS: &[(&str, &str)] = &[
    (
        "retail-loan",
        include_str!("../../workflows/retail-loan.yaml"),
    ),
    (
        "corporate-credit",
        include_str!("../../workflows/corporate-credit.yaml"),
    ),
    (
        "small-business",
        include_str!("../../workflows/small-business.yaml"),
    ),
    (
        "post-loan-monitoring",
        include_str!("../../workflows/post-loan-monitoring.yaml"),
    ),
];

/// The sample approver directory (`workflows/directory/approvers.yaml`): who may act on
/// the bundled flows' tasks when no directory is given and none is in the current one.
pub(crate) const APPROVERS: &str = include_str!("../../workflows/directory/approvers.yaml");

/// The retail-loan automatic-path samples (`workflows/samples/retail-loan/auto-*.json`):
/// what `docket bench` runs by default.
pub(crate) const RETAIL_AUTO_SAMPLES: &[(&str, &str)] = &[
    (
        "auto-approve.json",
        include_str!("../../workflows/samples/retail-loan/auto-approve.json"),
    ),
    (
        "auto-reject-dti.json",
        include_str!("../../workflows/samples/retail-loan/auto-reject-dti.json"),
    ),
    (
        "auto-reject-low-score.json",
        include_str!("../../workflows/samples/retail-loan/auto-reject-low-score.json"),
    ),
    (
        "auto-reject-watchlist.json",
        include_str!("../../workflows/samples/retail-loan/auto-reject-watchlist.json"),
    ),
];

/// The YAML of a bundled flow by name.
pub(crate) fn flow(name: &str) -> Option<&'static str> {
    FLOWS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, yaml)| *yaml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_copies_are_the_files_in_workflows() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (name, yaml) in FLOWS {
            let on_disk =
                std::fs::read_to_string(root.join("workflows").join(format!("{name}.yaml")))
                    .unwrap();
            assert_eq!(*yaml, on_disk, "{name}");
        }
        let samples = root.join("workflows/samples/retail-loan");
        let mut auto: Vec<String> = std::fs::read_dir(&samples)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("auto-") && n.ends_with(".json"))
            .collect();
        auto.sort();
        let bundled: Vec<&str> = RETAIL_AUTO_SAMPLES.iter().map(|(n, _)| *n).collect();
        assert_eq!(auto, bundled, "every auto-*.json sample is bundled");
        for (name, text) in RETAIL_AUTO_SAMPLES {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert!(value.is_object(), "{name}");
        }
    }
}
