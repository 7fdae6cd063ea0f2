//! Service authors' commands: `wasmvisor new` writes a standalone service
//! project, `wasmvisor build` compiles one to a checked component.
//!
//! A project depends on the wasmvisor source it was made with (its SDK, and
//! its testkit for the tests) by path: the source this binary was built
//! from, or the one given with `--wasmvisor-path` / `WASMVISOR_SOURCE`.
//! Everything else comes from the package registry.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wasmvisor_guest_build::{Toolchain, componentize, module_path};
use wasmvisor_limits::COMPONENT_BYTES_MAX;
use wasmvisor_wasm::{Privilege, ServiceComponent, deterministic_engine_on_demand, embedded_interface};

/// Longest project name, in bytes (it becomes the artifact's and the
/// instance's name).
pub const PROJECT_NAME_BYTES_MAX: usize = wasmvisor_limits::INSTANCE_NAME_BYTES_MAX;

/// The files of a new project: path in the project, template.
const TEMPLATES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/service/Cargo.toml.template")),
    ("build.rs", include_str!("../templates/service/build.rs.template")),
    (
        "proto/{crate}.proto",
        include_str!("../templates/service/proto.template"),
    ),
    ("src/lib.rs", include_str!("../templates/service/lib.rs.template")),
    (
        "tests/service.rs",
        include_str!("../templates/service/test.rs.template"),
    ),
    (".gitignore", include_str!("../templates/service/gitignore.template")),
];

/// The wasmvisor source this binary was built from.
fn built_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The wasmvisor source a new project uses: `given`, else
/// `WASMVISOR_SOURCE`, else the source this binary was built from; it must
/// hold the SDK and the testkit.
pub fn wasmvisor_source(given: Option<PathBuf>) -> Result<PathBuf, String> {
    let source = given
        .or_else(|| std::env::var_os("WASMVISOR_SOURCE").map(PathBuf::from))
        .unwrap_or_else(built_from);
    let source = source
        .canonicalize()
        .map_err(|error| format!("the wasmvisor source {}: {error}", source.display()))?;
    for needed in ["wit/sdk/Cargo.toml", "host/testkit/Cargo.toml"] {
        if !source.join(needed).is_file() {
            return Err(format!(
                "{} is not a wasmvisor source (no {needed}): give one with --wasmvisor-path or WASMVISOR_SOURCE",
                source.display()
            ));
        }
    }
    Ok(source)
}

/// Names a project may not have: Rust keywords and crates a package may not
/// be called, and names whose generated types (`<Name>`, `<Name>Error`)
/// would clash with the template's imports and messages.
const RESERVED_NAMES: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "gen",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "std",
    "core",
    "alloc",
    "proc-macro",
    "test",
    "build",
    "prost",
    "proto",
    "execution",
    "query",
    "service",
    "proof-map",
    "greet",
    "greetings",
    "greetings-query",
];

/// Checks a project name: 1 to [`PROJECT_NAME_BYTES_MAX`] bytes of `a-z`,
/// `0-9` and `-`, starting with a letter (a cargo package, an artifact and
/// an instance name at once), and none of [`RESERVED_NAMES`].
pub fn check_name(name: &str) -> Result<(), String> {
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "{name:?} is reserved: the project's code would not compile; choose another name"
        ));
    }
    let valid = name.len() <= PROJECT_NAME_BYTES_MAX
        && name.starts_with(|first: char| first.is_ascii_lowercase())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a service name: 1 to {PROJECT_NAME_BYTES_MAX} of a-z, 0-9 and '-', starting with a letter"
        ))
    }
}

/// `hello-world` → `HelloWorld`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The files of a new project called `name` depending on the wasmvisor
/// source at `source`: each path in the project and its contents.
pub fn render(name: &str, source: &str) -> Result<Vec<(String, String)>, String> {
    check_name(name)?;
    if source.chars().any(char::is_control) {
        return Err(format!("{source:?} cannot be written into Cargo.toml"));
    }
    // The path, as the inside of a TOML basic string.
    let escaped = source.replace('\\', "\\\\").replace('"', "\\\"");
    let source = escaped.as_str();
    let crate_name = name.replace('-', "_");
    let fill = |text: &str| {
        text.replace("{name}", name)
            .replace("{crate}", &crate_name)
            .replace("{Type}", &type_name(name))
            .replace("{source}", source)
    };
    Ok(TEMPLATES
        .iter()
        .map(|(path, template)| (fill(path), fill(template)))
        .collect())
}

/// Writes a new service project called `name` into the new directory
/// `directory`: a typed example (one transaction, one query, one error),
/// its protobuf schema, and a test on the testkit. Answers what it wrote.
pub fn new_project(directory: &Path, name: &str, source: &Path) -> Result<Value, String> {
    check_name(name)?;
    if directory.exists() {
        return Err(format!(
            "{} exists: a new project needs a new directory",
            directory.display()
        ));
    }
    let source_text = source
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", source.display()))?;
    let mut written = Vec::new();
    for (path, contents) in render(name, source_text)? {
        let path = directory.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| format!("{}: {error}", parent.display()))?;
        }
        std::fs::write(&path, contents).map_err(|error| format!("{}: {error}", path.display()))?;
        written.push(path);
    }
    // The versions the wasmvisor source is tested with, where the project
    // shares its dependencies (cargo adds the rest).
    let lock = source.join("Cargo.lock");
    if lock.is_file() {
        let into = directory.join("Cargo.lock");
        std::fs::copy(&lock, &into).map_err(|error| format!("{}: {error}", into.display()))?;
    }
    Ok(json!({
        "project": directory,
        "service": name,
        "wasmvisor_source": source,
        "files": written,
        "next": format!("cd {} && wasmvisor build && cargo test", directory.display()),
    }))
}

/// Compiles the service project at `project` to a component in
/// `<project>/build/<name>.wasm` (with the toolchain the repository's own
/// guests use), checks it as a deploy will (it compiles, imports only what
/// a service may, its interface parses, it fits the component limit), and
/// answers its path, blake3 hash, size and interface.
pub fn build_project(project: &Path) -> Result<Value, String> {
    let project = project
        .canonicalize()
        .map_err(|error| format!("{}: {error}", project.display()))?;
    let project = project.as_path();
    let manifest = project.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|error| format!("{}: {error}", manifest.display()))?;
    let parsed: toml::Table = text
        .parse()
        .map_err(|error| format!("{}: {error}", manifest.display()))?;
    let name = parsed
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| format!("{} names no package", manifest.display()))?
        .to_owned();
    check_name(&name)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project.join("target"));
    let toolchain = Toolchain::choose(None, None)?;
    tracing::info!("building {name} with {}", toolchain.describe());
    toolchain.build(&manifest, &target_dir, &["--lib"], false)?;
    let output_dir = project.join("build");
    std::fs::create_dir_all(&output_dir).map_err(|error| format!("{}: {error}", output_dir.display()))?;
    let component_path = output_dir.join(format!("{name}.wasm"));
    let component = componentize(&module_path(&target_dir, &name), &component_path)?;
    if component.len() > COMPONENT_BYTES_MAX {
        return Err(format!(
            "the component has {} bytes; a deploy takes at most {COMPONENT_BYTES_MAX}",
            component.len()
        ));
    }
    let engine = deterministic_engine_on_demand().map_err(|error| error.to_string())?;
    ServiceComponent::compile(&engine, &component, Privilege::Service)
        .map_err(|error| format!("a node would refuse the component: {error}"))?;
    let interface = embedded_interface(&component).map_err(|error| error.to_string())?;
    let names = |list: Vec<&str>| json!(list);
    let interface = interface.map(|interface| {
        json!({
            "methods": names(interface.methods().iter().map(|method| method.name.as_str()).collect()),
            "queries": names(interface.queries().iter().map(|query| query.name.as_str()).collect()),
            "errors": names(interface.errors().iter().map(|error| error.name.as_str()).collect()),
        })
    });
    Ok(json!({
        "component": component_path,
        "blake3": blake3::hash(&component).to_hex().to_string(),
        "bytes": component.len(),
        "interface": interface,
        "deploy": format!("wasmvisor deploy {} --name {name} --version <version>", component_path.display()),
    }))
}

#[cfg(test)]
mod tests {
    use super::{check_name, type_name};

    #[test]
    fn project_names_are_service_names() {
        for name in ["hello", "hello-world", "a1", &"a".repeat(64)] {
            assert!(check_name(name).is_ok(), "{name}");
        }
        for name in [
            "",
            "Hello",
            "1hello",
            "hello_world",
            "hello-",
            "héllo",
            "a b",
            &"a".repeat(65),
            "query",
            "type",
        ] {
            assert!(check_name(name).is_err(), "{name}");
        }
        assert_eq!(type_name("hello-world"), "HelloWorld");
    }

    #[test]
    fn any_source_path_is_written_into_the_manifest_as_itself() {
        let source = r#"/opt/my "wasmvisor" \ copy"#;
        let files = super::render("hello", source).unwrap();
        let (_, manifest) = files.iter().find(|(path, _)| path == "Cargo.toml").unwrap();
        let manifest: toml::Table = manifest.parse().expect("the manifest is TOML");
        let sdk = &manifest["target"]["cfg(target_arch = \"wasm32\")"]["dependencies"]["wasmvisor-sdk"]["path"];
        assert_eq!(sdk.as_str(), Some(format!("{source}/wit/sdk").as_str()));
        assert!(super::render("hello", "/a\nb").is_err());
    }
}
