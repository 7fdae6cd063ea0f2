//! SECURITY.md's limits table says what the code enforces: every limit of
//! `wasmvisor-limits` is in it with its exact value, and it names no other.

use std::collections::BTreeMap;
use std::fs;

use wasmvisor_limits::ALL;
use wasmvisor_tests::repo_root;

/// The rows of SECURITY.md's limits table: name → the first number of the
/// value cell.
fn documented() -> BTreeMap<String, u128> {
    let text = fs::read_to_string(repo_root().join("SECURITY.md")).unwrap();
    let section = text
        .split("\n## ")
        .find(|section| section.starts_with("Limits in force"))
        .expect("SECURITY.md has a '## Limits in force' section");
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let digits: String = cells[2]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect();
        let value = digits
            .parse()
            .unwrap_or_else(|_| panic!("the value of {name} in SECURITY.md is not a number: {:?}", cells[2]));
        assert!(
            rows.insert(name.clone(), value).is_none(),
            "{name} is in the table twice"
        );
    }
    rows
}

#[test]
fn the_security_limits_table_matches_the_constants() {
    let documented = documented();
    for (name, value) in ALL {
        assert_eq!(
            documented.get(*name),
            Some(value),
            "SECURITY.md's limits table must give {name} = {value}"
        );
    }
    for name in documented.keys() {
        assert!(
            ALL.iter().any(|(known, _)| known == name),
            "SECURITY.md's limits table names {name}, which is no limit"
        );
    }
}

#[test]
fn every_limit_is_listed_for_the_documentation() {
    let source = fs::read_to_string(repo_root().join("wit/limits/src/lib.rs")).unwrap();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let name = rest.split(':').next().unwrap();
        if name == "ALL" {
            continue;
        }
        assert!(
            ALL.iter().any(|(listed, _)| *listed == name),
            "{name} is missing from wasmvisor_limits::ALL"
        );
    }
}
