//! Builds every wasm guest and turns each into a component.
//!
//! Pattern: wasmtime's test-programs. The guest crates (the supervisor,
//! sample services and test guests) form their own workspace in
//! `artifacts/guests/`; this script compiles it for `wasm32-unknown-unknown`
//! with a nested `cargo`, encodes each core module as a component with
//! `wit-component`, writes the components to `<target-dir>/wasm/<name>.wasm`
//! and generates one constant per guest for the host and the tests.
//!
//! Toolchain choice, in order:
//! 1. the rustup toolchain, if its `wasm32-unknown-unknown` standard
//!    library is installed (`rustup target add wasm32-unknown-unknown`);
//! 2. Debian's `rustc-web`/`cargo-web` with `rust-web-src` and `lld`
//!    (building `std` from source with `-Zbuild-std`);
//! 3. otherwise the build fails with one message naming what to install.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// How the guests will be compiled.
enum Toolchain {
    /// rustup's cargo with the installed wasm32 standard library.
    Rustup { cargo: PathBuf },
    /// Debian's newer Rust, building `std` from source.
    Debian {
        cargo: PathBuf,
        rustc: PathBuf,
        linker: PathBuf,
    },
}

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

    let toolchain = choose_toolchain();
    compile_guests(
        &toolchain,
        &repo_root.join("artifacts/guests/Cargo.toml"),
        &guest_target_dir,
    );

    let module_dir = guest_target_dir.join(WASM_TARGET).join("release");
    let mut generated = String::new();
    let mut all = String::new();
    for guest in GUESTS {
        let module_path = module_dir.join(format!("{}.wasm", guest.package.replace('-', "_")));
        let component_path = component_dir.join(format!("{}.wasm", guest.name));
        componentize(&module_path, &component_path);
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

fn choose_toolchain() -> Toolchain {
    let forced = env::var("WASMVISOR_GUEST_TOOLCHAIN").ok();
    if forced.as_deref() != Some("debian") && rustup_has_wasm_target() {
        let cargo = env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("cargo"));
        println!("cargo:warning=guests: using the rustup toolchain's {WASM_TARGET} target");
        return Toolchain::Rustup { cargo };
    }
    let cargo = PathBuf::from("/usr/bin/cargo");
    let rustc = PathBuf::from("/usr/bin/rustc");
    let std_source = Path::new("/usr/lib/rustlib/src/rust/library");
    let linker = find_wasm_ld();
    if let Some(linker) = linker
        && cargo.exists()
        && rustc.exists()
        && std_source.exists()
    {
        return Toolchain::Debian { cargo, rustc, linker };
    }
    panic!(
        "\n\nwasmvisor cannot build its wasm guests: no wasm toolchain was found.\n\
         Install one of:\n\
         - with internet access: `rustup target add {WASM_TARGET}`\n\
         - on Debian 12 without it: `apt-get install -y rustc-web cargo-web rust-web-src lld-22`\n\
         (or run scripts/setup.sh, which installs the latter)\n\n"
    );
}

/// Whether the rustup toolchain compiling this script has a wasm32 `std`.
fn rustup_has_wasm_target() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
    else {
        return false;
    };
    if !output.status.success() {
        return false;
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    fs::read_dir(&libdir)
        .map(|entries| {
            entries
                .flatten()
                .any(|entry| entry.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false)
}

/// Newest `wasm-ld` shipped by a Debian `lld-N` package.
fn find_wasm_ld() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("llvm-"))
        .map(|entry| entry.path().join("bin/wasm-ld"))
        .filter(|path| path.exists())
        .collect();
    candidates.sort_by_key(|path| {
        path.components()
            .find_map(|part| part.as_os_str().to_str()?.strip_prefix("llvm-")?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    candidates.pop()
}

fn compile_guests(toolchain: &Toolchain, manifest: &Path, guest_target_dir: &Path) {
    let mut command = match toolchain {
        Toolchain::Rustup { cargo } => Command::new(cargo),
        Toolchain::Debian { cargo, .. } => Command::new(cargo),
    };
    // A nested cargo inherits the outer build's configuration; clear it so
    // the guests build with their own settings and target directory.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let inherited_cargo_setting = key.starts_with("CARGO_") && key != "CARGO_HOME";
        let compiler_setting = matches!(
            key.as_str(),
            "RUSTC"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "MAKEFLAGS"
                | "MFLAGS"
        );
        if inherited_cargo_setting || compiler_setting {
            command.env_remove(&key);
        }
    }
    command
        .arg("build")
        .arg("--release")
        .args(["--target", WASM_TARGET])
        .arg("--workspace")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(guest_target_dir);
    if let Toolchain::Debian { rustc, linker, .. } = toolchain {
        command
            .env("RUSTC", rustc)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker)
            .arg("-Zbuild-std=std,panic_abort");
        println!(
            "cargo:warning=guests: using Debian's rustc-web with -Zbuild-std ({})",
            linker.display()
        );
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run cargo to build the wasm guests: {error}"));
    if !output.status.success() {
        panic!(
            "building the wasm guests failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Encodes a core module (with its embedded WIT metadata) as a component,
/// rewriting the output only when it changed.
fn componentize(module_path: &Path, component_path: &Path) {
    let module = fs::read(module_path).unwrap_or_else(|error| panic!("cannot read {}: {error}", module_path.display()));
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|encoder| encoder.encode())
        .unwrap_or_else(|error| panic!("cannot encode {} as a component: {error:?}", module_path.display()));
    if fs::read(component_path).ok().as_deref() != Some(component.as_slice()) {
        fs::write(component_path, &component)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", component_path.display()));
    }
}
