//! ARCHITECTURE.md stays true: every path its code map names exists, and
//! crates depend only downwards through the layers it describes.

use std::fs;

use wasmvisor_tests::repo_root;

/// Paths named in backticks in the "Code map" section of ARCHITECTURE.md.
fn code_map_paths() -> Vec<String> {
    let text = fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md exists");
    let section = text
        .split("\n## ")
        .find(|section| section.starts_with("Code map"))
        .expect("ARCHITECTURE.md has a '## Code map' section");
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.contains('/') && !quoted.contains(' ') && !quoted.contains('<'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_path_in_the_code_map_exists() {
    let paths = code_map_paths();
    assert!(paths.len() >= 10, "the code map names too few paths: {paths:?}");
    let missing: Vec<&String> = paths.iter().filter(|path| !repo_root().join(path).exists()).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

/// Layer of each host-workspace crate: a crate may depend only on crates of
/// a strictly lower layer.
const LAYERS: &[(&str, u8)] = &[
    ("wasmvisor-limits", 0),
    ("wasmvisor-proto", 0),
    ("wasmvisor-artifacts", 0),
    ("wasmvisor-storage", 1),
    ("wasmvisor-consensus", 1),
    ("wasmvisor-runtime", 2),
    ("wasmvisor-native", 3),
    ("wasmvisor-wasm", 3),
    ("wasmvisor-dispatcher", 4),
    ("wasmvisor-blockchain", 5),
    ("wasmvisor-testkit", 6),
    ("wasmvisor-node", 7),
    ("wasmvisor-bench", 8),
    ("wasmvisor-tests", 9),
];

fn layer_of(name: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(crate_name, _)| *crate_name == name)
        .map(|(_, layer)| *layer)
        .unwrap_or_else(|| panic!("{name} has no layer in tests/tests/all/architecture.rs"))
}

#[test]
fn crates_depend_only_downwards() {
    let manifest: toml::Table = fs::read_to_string(repo_root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    for member in members {
        let member = member.as_str().unwrap();
        let crate_manifest: toml::Table = fs::read_to_string(repo_root().join(member).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let name = crate_manifest["package"]["name"].as_str().unwrap();
        let Some(dependencies) = crate_manifest.get("dependencies").and_then(|value| value.as_table()) else {
            continue;
        };
        for dependency in dependencies.keys().filter(|key| key.starts_with("wasmvisor-")) {
            assert!(
                layer_of(dependency) < layer_of(name),
                "{name} (layer {}) depends on {dependency} (layer {}), which is not below it",
                layer_of(name),
                layer_of(dependency)
            );
        }
    }
}
