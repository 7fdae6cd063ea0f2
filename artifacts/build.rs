//! Builds every wasm guest and turns each into a component.
//!
//! Pattern: wasmtime's test-programs. The guest crates (the supervisor,
//! sample services and test guests) form their own workspace in
//! `artifacts/guests/`; this script compiles it for `wasm32-unknown-unknown`
//! with a nested `cargo`, encodes each core module as a component with
//! `wit-component`, writes the components to `<target-dir>/wasm/<name>.wasm`
//! and generates one constant per guest for the host and the tests.
//!
//! The toolchain choice and the component encoding live in
//! `wasmvisor-guest-build` (`artifacts/guest-build`), which `wasmvisor
//! build` uses too.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use wasmvisor_guest_build::{Toolchain, componentize, module_path};

/// A guest crate and the component it becomes.
struct Guest {
    /// Name of the component file and of the generated constant (upper-cased).
    name: &'static str,
    /// Cargo package name in the guest workspace.
    package: &'static str,
    /// What the guest is for (goes into the generated docs).
    about: &'static str,
}

const GUESTS: &[Guest] = &[
    Guest {
        name: "supervisor",
        package: "wasmvisor-supervisor",
        about: "The supervisor service (instance 0); imports the privileged dispatcher.",
    },
    Guest {
        name: "token",
        package: "wasmvisor-token-guest",
        about: "The sample token service (same transactions as the native token service).",
    },
    Guest {
        name: "guestbook",
        package: "wasmvisor-guestbook-guest",
        about: "The service authors' guide example: a guestbook.",
    },
    Guest {
        name: "notebook",
        package: "wasmvisor-notebook-guest",
        about: "Test guest: a notebook with a configuration and a data migration, for lifecycle tests.",
    },
    Guest {
        name: "hostile",
        package: "wasmvisor-hostile-guest",
        about: "Test guest: attacks the sandbox (loops, memory bombs, recursion, traps, oversized host calls).",
    },
    Guest {
        name: "probe",
        package: "wasmvisor-probe-guest",
        about: "Benchmark guest: an empty call and loops of raw storage host calls.",
    },
    Guest {
        name: "dispatcher_intruder",
        package: "wasmvisor-dispatcher-intruder-guest",
        about: "Test guest: an ordinary service that imports the dispatcher and must be refused.",
    },
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repo_root = manifest_dir.parent().expect("artifacts/ has a parent").to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    for watched in ["artifacts/guests", "guest-supervisor", "wit"] {
        println!("cargo:rerun-if-changed={}", repo_root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=WASMVISOR_GUEST_TOOLCHAIN");

    let target_dir = target_dir(&out_dir);
    let guest_target_dir = target_dir.join("wasm-guests");
    let component_dir = target_dir.join("wasm");
    fs::create_dir_all(&component_dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", component_dir.display()));

    let toolchain = Toolchain::choose(None, None)
        .unwrap_or_else(|error| panic!("\n\nwasmvisor cannot build its wasm guests: {error}\n\n"));
    println!("cargo:warning=guests: using {}", toolchain.describe());
    let manifest = repo_root.join("artifacts/guests/Cargo.toml");
    if let Err(error) = toolchain.build(&manifest, &guest_target_dir, &["--workspace"], true) {
        panic!("{error}");
    }

    let mut generated = String::new();
    let mut all = String::new();
    for guest in GUESTS {
        let module_path = module_path(&guest_target_dir, guest.package);
        let component_path = component_dir.join(format!("{}.wasm", guest.name));
        if let Err(error) = componentize(&module_path, &component_path) {
            panic!("{error}");
        }
        let constant = guest.name.to_uppercase();
        let path = component_path.display().to_string();
        writeln!(
            generated,
            "/// {about}\npub const {constant}: Guest = Guest {{ name: {name:?}, path: {path:?}, bytes: include_bytes!({path:?}) }};\n",
            about = guest.about,
            name = guest.name,
        )
        .expect("writing to a String cannot fail");
        write!(all, "{constant}, ").expect("writing to a String cannot fail");
    }
    writeln!(
        generated,
        "/// Every guest the pipeline builds.\npub const ALL: &[Guest] = &[{all}];"
    )
    .expect("writing to a String cannot fail");
    writeln!(
        generated,
        "/// Directory holding every built component (`<target-dir>/wasm`).\npub const COMPONENT_DIR: &str = {:?};",
        component_dir.display().to_string()
    )
    .expect("writing to a String cannot fail");
    fs::write(out_dir.join("guests.rs"), generated).expect("cannot write guests.rs into OUT_DIR");
}

/// The cargo target directory of the outer build, found from `OUT_DIR`
/// (`<target>[/<triple>]/<profile>/build/<package>-<hash>/out`).
fn target_dir(out_dir: &Path) -> PathBuf {
    let mut dir = out_dir
        .ancestors()
        .nth(4)
        .unwrap_or_else(|| panic!("unexpected OUT_DIR layout: {}", out_dir.display()))
        .to_path_buf();
    if let (Ok(target), Some(name)) = (env::var("TARGET"), dir.file_name())
        && name == target.as_str()
    {
        dir.pop();
    }
    dir
}
