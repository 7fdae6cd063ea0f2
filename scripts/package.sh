#!/usr/bin/env bash
# Builds the Debian package (cargo-deb, from host/node/Cargo.toml's
# [package.metadata.deb]), checks it, installs it with dpkg, runs the
# installed binary until it answers /readyz, and removes the package again.
# Needs root (dpkg -i). Run by scripts/test.sh.
#
#   scripts/package.sh            build, check, install, run, purge
#   scripts/package.sh --keep     the same, leaving the package installed
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasmvisor/target}"
keep=false
[ "${1:-}" = "--keep" ] && keep=true

tools="$CARGO_TARGET_DIR/tools"
cargo_deb_version=2.12.1
if ! "$tools/bin/cargo-deb" --version 2>/dev/null | grep -q "$cargo_deb_version"; then
  echo "package: installing cargo-deb $cargo_deb_version into $tools"
  cargo install --quiet --locked --root "$tools" --version "$cargo_deb_version" cargo-deb
fi

out="$CARGO_TARGET_DIR/debian"
rm -rf "$out"
"$tools/bin/cargo-deb" -p wasmvisor-node --strip --output "$out/" -- --locked
deb=$(ls "$out"/wasmvisor_*.deb)
echo "package: built $deb ($(du -h "$deb" | cut -f1))"

# What it holds: the binary, the configuration (a conffile), the unit.
contents=$(dpkg-deb --contents "$deb")
for path in usr/bin/wasmvisor etc/wasmvisor/node.toml lib/systemd/system/wasmvisor.service; do
  grep -q " $path\$" <<<"$contents" || { echo "package: $path is missing from $deb"; exit 1; }
done
info=$(dpkg-deb --info "$deb")
grep -q '^ Depends:.*adduser' <<<"$info" || { echo "package: no dependency on adduser"; exit 1; }

# Never on a machine where the package is installed: installing over it
# would restart its node, and purging would remove its configuration.
if dpkg-query -W -f='${Status}' wasmvisor 2>/dev/null | grep -q 'install ok installed'; then
  echo "package: wasmvisor is installed on this machine; not testing over it (dpkg --purge wasmvisor first)"
  exit 1
fi
cleanup() {
  if [ -n "${node:-}" ]; then kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi
  rm -rf "${scratch:-}"
  if [ "$keep" = false ]; then dpkg --purge wasmvisor >/dev/null; fi
}
trap cleanup EXIT
dpkg -i "$deb"

# The installed unit, against the installed binary and user.
systemd-analyze verify /lib/systemd/system/wasmvisor.service
getent passwd wasmvisor >/dev/null || { echo "package: no system user wasmvisor"; exit 1; }
[ "$(stat -c '%U %a' /var/lib/wasmvisor)" = "wasmvisor 700" ] || { echo "package: /var/lib/wasmvisor is not the user's 0700"; exit 1; }
/usr/bin/wasmvisor --version

# The installed binary runs a development chain and answers /readyz.
scratch=$(mktemp -d)
/usr/bin/wasmvisor run-dev --data-dir "$scratch/data" --public-api 127.0.0.1:0 \
  --private-api 127.0.0.1:0 >"$scratch/out" 2>"$scratch/log" &
node=$!
for _ in $(seq 1 120); do
  public=$(sed -n 's/^public API listening on //p' "$scratch/out")
  if [ -n "$public" ] && curl -fsS "$public/readyz" >"$scratch/ready" 2>/dev/null; then
    echo "package: the installed binary answers /readyz: $(cat "$scratch/ready")"
    exit 0
  fi
  sleep 0.5
done
echo "package: the installed binary did not answer /readyz with 200 in 60 s"
tail -20 "$scratch/log"
exit 1
