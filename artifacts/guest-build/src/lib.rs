//! Compiling Rust crates to wasm components, as the repository's guest
//! build (`artifacts/build.rs`) and `wasmvisor build` both do.
//!
//! Toolchain choice, in order:
//! 1. the rustup toolchain, if its `wasm32-unknown-unknown` standard
//!    library is installed (`rustup target add wasm32-unknown-unknown`);
//! 2. Debian's `rustc-web`/`cargo-web` with `rust-web-src` and `lld`
//!    (building `std` from source with `-Zbuild-std`);
//! 3. otherwise an error naming what to install.
//!
//! `WASMVISOR_GUEST_TOOLCHAIN=debian` forces the second.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is compiled for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// How guests will be compiled.
#[derive(Debug, Clone)]
pub enum Toolchain {
    /// rustup's cargo with the installed wasm32 standard library.
    Rustup {
        /// The cargo to run.
        cargo: PathBuf,
    },
    /// Debian's newer Rust, building `std` from source.
    Debian {
        /// Debian's cargo.
        cargo: PathBuf,
        /// Debian's rustc.
        rustc: PathBuf,
        /// The `wasm-ld` linker.
        linker: PathBuf,
    },
}

impl Toolchain {
    /// Picks the toolchain: `rustc` is the compiler whose wasm32 standard
    /// library is looked for (`None`: `$RUSTC`, else `rustc` on the path),
    /// `cargo` the cargo that goes with it (`None`: `$CARGO`, else `cargo`).
    pub fn choose(rustc: Option<OsString>, cargo: Option<PathBuf>) -> Result<Self, String> {
        let forced = env::var("WASMVISOR_GUEST_TOOLCHAIN").ok();
        let rustc = rustc.or_else(|| env::var_os("RUSTC")).unwrap_or_else(|| "rustc".into());
        if forced.as_deref() != Some("debian") && rustup_has_wasm_target(&rustc) {
            let cargo = cargo
                .or_else(|| env::var_os("CARGO").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("cargo"));
            return Ok(Toolchain::Rustup { cargo });
        }
        let cargo = PathBuf::from("/usr/bin/cargo");
        let rustc = PathBuf::from("/usr/bin/rustc");
        let std_source = Path::new("/usr/lib/rustlib/src/rust/library");
        if let Some(linker) = find_wasm_ld()
            && cargo.exists()
            && rustc.exists()
            && std_source.exists()
        {
            return Ok(Toolchain::Debian { cargo, rustc, linker });
        }
        Err(format!(
            "no wasm toolchain was found. Install one of:\n\
             - with internet access: `rustup target add {WASM_TARGET}`\n\
             - on Debian 12 without it: `apt-get install -y rustc-web cargo-web rust-web-src lld-22`\n\
             (the repository's scripts/setup.sh installs the latter)"
        ))
    }

    /// What the toolchain is, for people.
    pub fn describe(&self) -> String {
        match self {
            Toolchain::Rustup { .. } => format!("the rustup toolchain's {WASM_TARGET} target"),
            Toolchain::Debian { linker, .. } => {
                format!("Debian's rustc-web with -Zbuild-std ({})", linker.display())
            }
        }
    }

    /// `cargo build --release --target wasm32-unknown-unknown` of the
    /// crate or workspace at `manifest`, into `target_dir`, with `args`
    /// added. Called from a build script (`nested`), the cargo settings of
    /// the enclosing build (its environment variables) are cleared, so the
    /// guests build with their own; otherwise the caller's environment
    /// (registry mirrors, offline mode, ...) is kept.
    pub fn build(&self, manifest: &Path, target_dir: &Path, args: &[&str], nested: bool) -> Result<(), String> {
        let mut command = match self {
            Toolchain::Rustup { cargo } | Toolchain::Debian { cargo, .. } => Command::new(cargo),
        };
        for (key, _) in env::vars_os().filter(|_| nested) {
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
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .args(args);
        if let Toolchain::Debian { rustc, linker, .. } = self {
            command
                .env("RUSTC", rustc)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker)
                .arg("-Zbuild-std=std,panic_abort");
        }
        let output = command
            .output()
            .map_err(|error| format!("cannot run cargo to build for {WASM_TARGET}: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo build for {WASM_TARGET} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }
}

/// Where `build` leaves the core module of the package named `package`.
pub fn module_path(target_dir: &Path, package: &str) -> PathBuf {
    target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Whether the rustup toolchain of `rustc` has a wasm32 `std`.
fn rustup_has_wasm_target(rustc: &OsString) -> bool {
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

/// Encodes a core module (with its embedded WIT metadata) as a component
/// and writes it to `component_path`, rewriting it only when it changed;
/// answers the component.
pub fn componentize(module_path: &Path, component_path: &Path) -> Result<Vec<u8>, String> {
    let module = fs::read(module_path).map_err(|error| format!("cannot read {}: {error}", module_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|encoder| encoder.encode())
        .map_err(|error| format!("cannot encode {} as a component: {error:?}", module_path.display()))?;
    if fs::read(component_path).ok().as_deref() != Some(component.as_slice()) {
        fs::write(component_path, &component)
            .map_err(|error| format!("cannot write {}: {error}", component_path.display()))?;
    }
    Ok(component)
}
