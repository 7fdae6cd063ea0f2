#!/usr/bin/env bash
# The whole test suite: formatting, lints, every test of the workspace (the
# first build also compiles every wasm guest into a component), the crash
# consistency run, the TypeScript client's tests, the explorer's browser
# test, the standing attack suite, the partition suite and the Byzantine
# suite with their reports, then a bounded run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
# The client's and the explorer's tests find the built binaries here.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# The node's build fails rather than embed a placeholder explorer page.
export WASMVISOR_REQUIRE_EXPLORER=1

echo "== cargo fmt --check"
cargo fmt --all -- --check
# Guest crates live outside the host workspace; check them file by file.
find guest-supervisor artifacts/guests wit/sdk tests/fuzz -name '*.rs' -not -path '*/target/*' -print0 |
  xargs -0 rustfmt --edition 2024 --config max_width=120 --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
# The SIGKILL crash-consistency test and the attack suite run on their own
# below, so their reports are printed.
cargo test --workspace --locked -- --skip sigkill_under_load --skip the_standing_attack_suite \
  --skip four_validators_survive_partitions
echo "== the TypeScript client (Node's test runner; the real binary on loopback ports)"
./scripts/client-tests.sh
# The Byzantine build runs before the steps below, which put the normal
# binary back in place.
echo "== the Byzantine suite (one of four validators lies; the node's test-only build)"
cargo clippy --locked -p wasmvisor-node --all-targets --features byzantine -- -D warnings
cargo test --locked -p wasmvisor-node --features byzantine --test all -- --exact \
  byzantine::one_byzantine_validator_of_four_neither_forks_nor_stops_the_chain --nocapture
# The explorer's test serves tampered proofs from this build.
cp "$CARGO_TARGET_DIR/debug/wasmvisor" "$CARGO_TARGET_DIR/wasmvisor-byzantine"
echo "== crash consistency (the real binary, SIGKILL under load)"
cargo test --locked -p wasmvisor-node --test all -- --exact \
  crash::sigkill_under_load_loses_no_committed_block_and_replays_identically --nocapture
echo "== the explorer in a real browser (chromium headless; screenshots in \$CARGO_TARGET_DIR/explorer-screenshots)"
./scripts/explorer-tests.sh
echo "== the standing attack suite (the real binary)"
cargo test --locked -p wasmvisor-node --test all -- --exact attacks::the_standing_attack_suite --nocapture
echo "== partitions (four validators in network namespaces; needs root)"
WASMVISOR_PARTITIONS_REQUIRED=1 cargo test --locked -p wasmvisor-node --test all -- --exact \
  partitions::four_validators_survive_partitions_and_converge_after_each --nocapture
echo "== the Debian package (cargo-deb, systemd-analyze verify, dpkg -i, the installed binary)"
./scripts/package.sh
echo "== fuzz (${WASMVISOR_FUZZ_SECONDS:-30} s per target)"
./scripts/fuzz.sh
