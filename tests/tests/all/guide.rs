//! docs/SERVICE-AUTHORS.md quotes files whole; they must not drift apart.

use std::fs;

use wasmvisor_tests::repo_root;

#[test]
fn every_quoted_file_in_the_guide_matches_the_repository() {
    let guide = fs::read_to_string(repo_root().join("docs/SERVICE-AUTHORS.md")).unwrap();
    let mut quoted = 0;
    for (marker_end, _) in guide.match_indices("<!-- file: ") {
        let rest = &guide[marker_end + "<!-- file: ".len()..];
        let path = &rest[..rest.find(" -->").expect("a closed file marker")];
        let block_start = rest.find("```rust\n").expect("a rust block after the marker") + "```rust\n".len();
        let block = &rest[block_start..];
        let block = &block[..block.find("```").expect("a closed block")];
        let file = fs::read_to_string(repo_root().join(path)).unwrap_or_else(|_| panic!("{path} exists"));
        assert_eq!(block, file, "docs/SERVICE-AUTHORS.md quotes {path}, which has changed");
        quoted += 1;
    }
    assert_eq!(quoted, 2, "the guide quotes the service and its test");
}
