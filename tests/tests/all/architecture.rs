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
    ("wasmvisor-guest-build", 0),
    ("wasmvisor-signature", 0),
    ("wasmvisor-artifacts", 1),
    ("wasmvisor-sdk-macros", 1),
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

/// The modules of `host/node/src` (a file, or a directory with `mod.rs`,
/// is one module; `lib.rs` and `main.rs` are the roots) and, for each, the
/// modules it names through `crate::`.
fn node_module_imports() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let source = repo_root().join("host/node/src");
    let mut files = Vec::new();
    for entry in fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for inner in fs::read_dir(&path).unwrap() {
                files.push((
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    inner.unwrap().path(),
                ));
            }
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push((path.file_stem().unwrap().to_string_lossy().into_owned(), path));
        }
    }
    let modules: std::collections::BTreeSet<String> = files
        .iter()
        .map(|(module, _)| module.clone())
        .filter(|module| module != "lib" && module != "main")
        .collect();
    let mut imports = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for (module, path) in &files {
        if !modules.contains(module) {
            continue;
        }
        let text = fs::read_to_string(path).unwrap();
        let named = imports.entry(module.clone()).or_default();
        // `crate::name` anywhere, and `use crate::{a, b::c}` groups.
        for (position, _) in text.match_indices("crate::") {
            let rest = &text[position + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .map(|item| item.trim().split("::").next().unwrap_or(""))
                    .collect(),
                None => vec![
                    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or(""),
                ],
            };
            for name in names {
                if modules.contains(name) && name != module {
                    named.insert(name.to_owned());
                }
            }
        }
    }
    imports
}

#[test]
fn the_node_modules_import_each_other_without_cycles() {
    let imports = node_module_imports();
    assert!(imports.len() >= 10, "too few modules found: {imports:?}");
    assert!(
        imports.values().map(std::collections::BTreeSet::len).sum::<usize>() >= 10,
        "too few imports found: {imports:?}"
    );
    // A depth-first search from every module; a module met again on the
    // path is a cycle.
    fn visit(
        module: &str,
        imports: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        cycles: &mut Vec<Vec<String>>,
    ) {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            cycles.push(path[start..].iter().cloned().chain([module.to_owned()]).collect());
            return;
        }
        path.push(module.to_owned());
        for next in imports.get(module).into_iter().flatten() {
            visit(next, imports, path, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    for module in imports.keys() {
        visit(module, &imports, &mut Vec::new(), &mut cycles);
    }
    // Each cycle once, whichever module the search entered it by.
    let distinct: std::collections::BTreeSet<Vec<String>> = cycles
        .into_iter()
        .map(|mut cycle| {
            cycle.pop();
            cycle.sort();
            cycle
        })
        .collect();
    assert!(distinct.is_empty(), "module cycles in host/node/src: {distinct:?}");
}
