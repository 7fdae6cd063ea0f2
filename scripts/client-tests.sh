#!/usr/bin/env bash
# The TypeScript client's tests (clients/typescript): built with tsc, run by
# Node's test runner against the committed wire-format vectors and a real
# `wasmvisor run-dev` node — the debug binary and the token component that
# `cargo test` built into $CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../clients/typescript"
: "${CARGO_TARGET_DIR:?set CARGO_TARGET_DIR: the tests need the built binary and guests}"
for built in "$CARGO_TARGET_DIR/debug/wasmvisor" "$CARGO_TARGET_DIR/wasm/token.wasm"; do
  [ -e "$built" ] || { echo "client-tests: $built is missing; run cargo test first" >&2; exit 1; }
done
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
npm test
