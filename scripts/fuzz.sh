#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz, cargo-fuzz + libFuzzer) and runs each
# for a bounded time: first its committed regression inputs, then new
# inputs from its corpus. Any finding fails the script; libFuzzer writes the
# input to $CARGO_TARGET_DIR/fuzz-findings/<target>/.
#
#   scripts/fuzz.sh                 every target, WASMVISOR_FUZZ_SECONDS each (30)
#   scripts/fuzz.sh rest 3600       one target for an hour
#
# A run of every target (what scripts/test.sh does) starts each from its
# seeds in a fresh corpus, so its length stays bounded: libFuzzer first
# executes the whole corpus it is given, and a grown component corpus takes
# minutes to compile. A run of one named target grows the persistent corpus
# in $CARGO_TARGET_DIR/fuzz-corpus/<target>/.
#
# Coverage instrumentation without a sanitizer (`-s none`): every crate of
# ours denies `unsafe`, so what fuzzing can find is a panic, an arithmetic
# overflow (debug assertions are on), a hang or unbounded memory — and this
# builds with the stable toolchain. See SECURITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasmvisor/target}"
tools="${WASMVISOR_TOOLS:-$HOME/.cache/wasmvisor/tools}"
cargo_fuzz_version=0.13.2
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version into $tools"
  cargo install --quiet --locked --root "$tools" --version "$cargo_fuzz_version" cargo-fuzz
fi
export PATH="$tools/bin:$PATH"

targets=(transaction supervisor rest storage component)
seconds="${WASMVISOR_FUZZ_SECONDS:-30}"
fuzz_target_dir="$CARGO_TARGET_DIR/fuzz"
corpora="$CARGO_TARGET_DIR/fuzz-corpus"
if [ $# -ge 1 ]; then
  targets=("$1")
else
  corpora="$(mktemp -d)"
  trap 'rm -rf "$corpora"' EXIT
fi
if [ $# -ge 2 ]; then seconds="$2"; fi
findings="$CARGO_TARGET_DIR/fuzz-findings"
options=(-s none --debug-assertions --fuzz-dir tests/fuzz --target-dir "$fuzz_target_dir")

echo "fuzz: building ${targets[*]}"
for target in "${targets[@]}"; do
  cargo fuzz build "${options[@]}" "$target"
done

# The component target starts from the project's real components.
mkdir -p "$corpora/component"
for component in "$CARGO_TARGET_DIR"/wasm/*.wasm; do
  [ -e "$component" ] || continue
  # A leading 1: the rest is a component wrapped in a spec.
  { printf '\001'; cat "$component"; } >"$corpora/component/seed-$(basename "$component" .wasm)"
done

for target in "${targets[@]}"; do
  mkdir -p "$corpora/$target" "$findings/$target"
  regressions="tests/fuzz/regressions/$target"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    echo "fuzz: $target: replaying $(ls "$regressions" | wc -l) regression inputs"
    cargo fuzz run "${options[@]}" "$target" "$regressions" -- -runs=0
  fi
  echo "fuzz: $target: ${seconds} s"
  log="$findings/$target/last-run.log"
  status=0
  cargo fuzz run "${options[@]}" "$target" "$corpora/$target" -- \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=1048576 \
    -artifact_prefix="$findings/$target/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed "s/^/fuzz: $target: /" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target found a problem (exit $status); the input is in $findings/$target/" >&2
    exit 1
  fi
done
echo "fuzz: no findings"
