//! Builds the explorer page the node serves at `/explorer/` from its
//! sources in `clients/typescript` (`explorer/` and the client library in
//! `src/`), with the pinned npm dependencies of its `package-lock.json`:
//! `npm ci` when they are not installed, then `explorer/build.mjs`
//! (esbuild) into `$OUT_DIR/explorer`, which `src/explorer.rs` embeds.
//!
//! A machine without Node.js and npm still builds the node: the page it
//! then serves says the explorer was not built and why, the build prints a
//! warning, and the build script runs again on the next build (so a
//! passing network failure does not stick). With
//! `WASMVISOR_REQUIRE_EXPLORER=1` (scripts/test.sh sets it) the build fails
//! instead.
//!
//! `npm ci` runs with `--ignore-scripts`: no dependency's install script
//! runs at build time (esbuild works from its platform package).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the explorer's directory holds; each file is embedded.
const FILES: [&str; 3] = ["index.html", "explorer.js", "style.css"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let client = manifest.join("../../clients/typescript");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("explorer");
    for source in ["src", "explorer", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", client.join(source).display());
    }
    println!("cargo:rerun-if-env-changed=WASMVISOR_REQUIRE_EXPLORER");
    std::fs::create_dir_all(&out).expect("the build directory is writable");
    if let Err(why) = build(&client, &out) {
        if std::env::var_os("WASMVISOR_REQUIRE_EXPLORER").is_some_and(|value| value == "1") {
            panic!("the explorer page was not built (WASMVISOR_REQUIRE_EXPLORER=1): {why}");
        }
        println!("cargo:warning=the explorer page was not built: {why}");
        // A path that never exists: cargo runs this script again next time.
        println!("cargo:rerun-if-changed={}", out.join("not-built-yet").display());
        let page = format!(
            "<!doctype html><meta charset=\"utf-8\"><title>wasmvisor explorer</title>\
             <p>This node was built without its explorer page: {}.</p>",
            why.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
        );
        std::fs::write(out.join("index.html"), page).expect("the build directory is writable");
        for file in ["explorer.js", "style.css"] {
            std::fs::write(out.join(file), "").expect("the build directory is writable");
        }
    }
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|error| format!("{what} could not run ({error}); Node.js 20.19+ and npm build the page"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("{what} failed: {}", stderr.trim()))
    }
}

fn build(client: &Path, out: &Path) -> Result<(), String> {
    // Installed dependencies are those of the lockfile unless the lockfile
    // changed since `npm ci` last wrote `node_modules/.package-lock.json`.
    let modified = |path: &Path| std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok();
    let installed = modified(&client.join("node_modules/.package-lock.json"));
    let locked = modified(&client.join("package-lock.json"));
    if installed.is_none() || installed < locked {
        run(
            Command::new("npm")
                .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(client),
            "npm ci",
        )?;
    }
    run(
        Command::new("node")
            .arg("explorer/build.mjs")
            .arg(out)
            .current_dir(client),
        "the explorer's build (explorer/build.mjs)",
    )?;
    for file in FILES {
        if !out.join(file).is_file() {
            return Err(format!("the explorer's build wrote no {file}"));
        }
    }
    Ok(())
}
