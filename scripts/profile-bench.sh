#!/usr/bin/env bash
# Profiles one benchmark scenario with perf (call graphs from DWARF) and
# prints where the measured work's time went (scripts/profile-summary.py).
#
#   scripts/profile-bench.sh tps --runtime native
#
# Needs `perf` (Debian: linux-perf) and a release build of the harness.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p wasmvisor-bench >&2
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
perf record -F 149 --call-graph dwarf,16384 -o "$data/perf.data" -- \
  "$target/release/wasmvisor-bench" "$@" >&2
perf script -i "$data/perf.data" -F tid,ip,sym --no-inline 2>/dev/null | ./scripts/profile-summary.py
