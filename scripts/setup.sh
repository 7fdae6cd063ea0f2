#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test wasmvisor.
# Idempotent: installs only what is missing, so it is cheap to run again.
#
# - wasm guests: if rustup's wasm32-unknown-unknown target is installed it is
#   used; otherwise Debian's rustc-web/cargo-web with the std sources and
#   lld, which build std for wasm32 from source (see artifacts/build.rs).
# - RocksDB's -sys crate runs bindgen: libclang-dev.
# - rustfmt and clippy for the checks in scripts/test.sh.
# - iproute2 (`ip`, `tc`) for the partition suite's network namespaces.
# - prometheus (`prometheus`, `promtool`) for the metrics tests: promtool
#   checks /metrics and the alert rules under deploy/, and a Prometheus
#   server scrapes four validators.
# - curl and adduser for scripts/package.sh (the Debian package's test).
# - Node.js and npm for the TypeScript client's tests and the explorer's
#   build; chromium, which the explorer's browser test drives headless.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=(libclang-dev iproute2 prometheus curl adduser chromium)
if ! rustup target list --installed 2>/dev/null | grep -qx 'wasm32-unknown-unknown'; then
  packages+=(rustc-web cargo-web rust-web-src lld-22)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

# The TypeScript client (clients/typescript) needs Node.js 20.19 or later
# with npm: Debian's packages if the machine has none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs npm"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "setup: Node.js $(node --version) is too old for the TypeScript client; it needs 20.19 or later" >&2
  exit 1
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
    echo "setup: adding rustup component ${component}"
    rustup component add "$component"
  fi
done
echo "setup: done"
