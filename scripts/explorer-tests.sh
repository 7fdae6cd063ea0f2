#!/usr/bin/env bash
# The explorer's browser test (clients/typescript/test/browser): Debian's
# chromium, headless, driven by playwright-core against the page a real
# `wasmvisor run-dev` serves, then against the node's Byzantine test build
# (`$CARGO_TARGET_DIR/wasmvisor-byzantine`, which scripts/test.sh copies
# aside after the Byzantine suite) serving tampered proofs. Screenshots go
# to $CARGO_TARGET_DIR/explorer-screenshots.
set -euo pipefail
cd "$(dirname "$0")/../clients/typescript"
: "${CARGO_TARGET_DIR:?set CARGO_TARGET_DIR: the test needs the built binaries and guests}"
for built in "$CARGO_TARGET_DIR/debug/wasmvisor" "$CARGO_TARGET_DIR/wasmvisor-byzantine" \
  "$CARGO_TARGET_DIR/wasm/token.wasm" "${WASMVISOR_CHROMIUM:-/usr/bin/chromium}"; do
  [ -e "$built" ] || { echo "explorer-tests: $built is missing" >&2; exit 1; }
done
[ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$CARGO_TARGET_DIR/explorer-screenshots"
npm run test:browser
