//! docs/SERVICE-AUTHORS.md quotes files whole; they must not drift apart:
//! files of this repository (`<!-- file: PATH -->`) and files of a project
//! as `wasmvisor new hello` writes it (`<!-- new: hello/PATH -->`).

use std::fs;

use wasmvisor_tests::repo_root;

/// The wasmvisor source the guide's project names (`wasmvisor new` writes
/// the real one).
const SOURCE_IN_THE_GUIDE: &str = "/path/to/wasmvisor";

/// The code block after each marker `<!-- {kind}: ... -->`: the marker's
/// path and the block.
fn quoted<'a>(guide: &'a str, kind: &str) -> Vec<(&'a str, &'a str)> {
    let marker = format!("<!-- {kind}: ");
    guide
        .match_indices(&marker)
        .map(|(start, _)| {
            let rest = &guide[start + marker.len()..];
            let path = &rest[..rest.find(" -->").expect("a closed marker")];
            let fence = rest.find("```").expect("a block after the marker");
            let block = &rest[fence..];
            let block = &block[block.find('\n').expect("a fence line") + 1..];
            (path, &block[..block.find("```").expect("a closed block")])
        })
        .collect()
}

#[test]
fn every_quoted_file_in_the_guide_matches_the_repository() {
    let guide = fs::read_to_string(repo_root().join("docs/SERVICE-AUTHORS.md")).unwrap();
    let files = quoted(&guide, "file");
    for (path, block) in &files {
        let file = fs::read_to_string(repo_root().join(path)).unwrap_or_else(|_| panic!("{path} exists"));
        assert_eq!(*block, file, "docs/SERVICE-AUTHORS.md quotes {path}, which has changed");
    }
    assert_eq!(files.len(), 2, "the guide quotes the guestbook and its test");

    let project = wasmvisor_node::author::render("hello", SOURCE_IN_THE_GUIDE).unwrap();
    let new = quoted(&guide, "new");
    for (path, block) in &new {
        let path = path.strip_prefix("hello/").expect("the guide's project is hello");
        let (_, contents) = project
            .iter()
            .find(|(file, _)| file == path)
            .unwrap_or_else(|| panic!("wasmvisor new writes no {path}"));
        assert_eq!(
            block, contents,
            "docs/SERVICE-AUTHORS.md quotes hello/{path} as `wasmvisor new` wrote it"
        );
    }
    assert_eq!(
        new.len(),
        3,
        "the guide quotes the new project's schema, service and test"
    );
}
