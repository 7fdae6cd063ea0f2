#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace
# (the first build also compiles every wasm guest into a component).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
# Guest crates live outside the host workspace; check them file by file.
find guest-supervisor artifacts/guests wit/sdk -name '*.rs' -not -path '*/target/*' -print0 |
  xargs -0 rustfmt --edition 2024 --config max_width=120 --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
