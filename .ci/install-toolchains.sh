#!/usr/bin/env bash
# Installs the toolchains that the tests and `make plugins` need beyond Go.
# Usage: .ci/install-toolchains.sh [section...]   (default: every section:
# plugins, monitoring, browser)
# Idempotent: a section whose tools are already present does nothing, so a
# second run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# plugins: what the Wasm examples are built with (examples/*, sdk/*):
#  - C:              Debian's clang and lld (wasm-ld);
#  - AssemblyScript: assemblyscript 0.28 from npm, into the local tools dir
#                    sdk/assemblyscript/node_modules (no global install);
#  - Rust:           Debian's own rustc with libstd-rust-dev-wasm32 (the
#                    wasm32-unknown-unknown std). It installs as /usr/bin/rustc;
#                    a rustup rustc earlier on PATH is not used by the build.
plugins() {
  local pkgs=()
  command -v clang >/dev/null 2>&1 || pkgs+=(clang)
  command -v wasm-ld >/dev/null 2>&1 || pkgs+=(lld)
  [ -x /usr/bin/rustc ] || pkgs+=(rustc)
  ls /usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1 || pkgs+=(libstd-rust-dev-wasm32)
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
  if [ "${#pkgs[@]}" -gt 0 ]; then
    apt_install "${pkgs[@]}"
  fi
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 20 ]; then
    echo "install-toolchains: Node.js $node_major found; assemblyscript 0.28 asks for Node.js 20 or later" >&2
  fi
  local asdir=sdk/assemblyscript
  if [ ! -x "$asdir/node_modules/.bin/asc" ] ||
     ! grep -q '"version": "0\.28\.' "$asdir/node_modules/assemblyscript/package.json" 2>/dev/null; then
    log "npm install assemblyscript@0.28 (into $asdir/node_modules)"
    (cd "$asdir" && npm install --no-audit --no-fund --loglevel=error)
  fi
  log "plugins: $(clang --version | head -n1); $(/usr/bin/rustc --version); asc $("$asdir/node_modules/.bin/asc" --version 2>&1 | tail -n1)"
}

# monitoring: Debian's prometheus package, for promtool (check and unit-test
# deploy/prometheus/rules) and the Prometheus server that package deploy's
# tests run against a cdp node (its own config, a random port, a temp dir).
monitoring() {
  if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    apt_install prometheus
  fi
  log "monitoring: $(prometheus --version 2>&1 | head -n1)"
}

# browser: Debian's chromium, which the dashboard tests (host/dashboard_test.go)
# drive headless with chromedp; they fail without it.
browser() {
  if ! command -v chromium >/dev/null 2>&1 && [ -z "${CDP_CHROMIUM:-}" ]; then
    apt_install chromium
  fi
  log "browser: $(${CDP_CHROMIUM:-chromium} --version 2>/dev/null | head -n1)"
}

sections=("$@")
[ "${#sections[@]}" -gt 0 ] || sections=(plugins monitoring browser)
for s in "${sections[@]}"; do
  case "$s" in
    plugins) plugins ;;
    monitoring) monitoring ;;
    browser) browser ;;
    *) echo "install-toolchains: unknown section $s (known: plugins, monitoring, browser)" >&2; exit 2 ;;
  esac
done
