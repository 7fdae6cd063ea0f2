//! Builds the explorer page the node serves at `/explorer/` from its
//! sources in `clients/typescript` (`explorer/` and the client library in
//! `src/`), with the pinned npm dependencies of its `package-lock.json`:
//! `npm ci` when they are not installed, then `explorer/build.mjs`
//! (esbuild) into `$OUT_DIR/explorer`, which `src/explorer.rs` embeds.
//!
//! A machine without Node.js and npm still builds the node: the page it
//! then serves says the explorer was not built and why, and the build
//! prints a warning.

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
    std::fs::create_dir_all(&out).expect("the build directory is writable");
    if let Err(why) = build(&client, &out) {
        println!("cargo:warning=the explorer page was not built: {why}");
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
    if !client.join("node_modules/.package-lock.json").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
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
