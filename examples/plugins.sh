#!/bin/sh
# Builds every example plugin from source to OUT_DIR/<example>.wasm (default
# bin/plugins). An example whose toolchain is missing is skipped, not fatal:
# the rest are built and the skipped ones listed with what they need
# (.ci/install-toolchains.sh installs every toolchain). Exits 1 when an
# example whose toolchain is present fails to build.
# Usage: examples/plugins.sh [OUT_DIR]   (GO and MAKE may be set)
set -u
cd "$(dirname "$0")/.."
out=${1:-bin/plugins}
GO=${GO:-go}
MAKE=${MAKE:-make}
mkdir -p "$out/.build"
out=$(cd "$out" && pwd)

# missing NAME: prints what building the example needs and this machine
# lacks, nothing when all is there (as examples/build.go checks for the tests).
missing() {
  case $1 in
    c-cpa|aviation)
      for t in clang wasm-ld; do command -v $t >/dev/null 2>&1 || { echo "$t (apt-get install clang lld)"; return; }; done ;;
    as-cpa)
      command -v node >/dev/null 2>&1 || { echo "node (apt-get install nodejs)"; return; }
      [ -x sdk/assemblyscript/node_modules/.bin/asc ] || echo "AssemblyScript (.ci/install-toolchains.sh installs it into sdk/assemblyscript/node_modules)" ;;
    rust-cpa)
      [ -x /usr/bin/rustc ] || { echo "Debian's rustc (apt-get install rustc libstd-rust-dev-wasm32)"; return; }
      ls /usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1 || echo "libstd-rust-dev-wasm32 (apt-get install libstd-rust-dev-wasm32)" ;;
    *) command -v "$GO" >/dev/null 2>&1 || echo "go" ;;
  esac
}

built="" skipped="" failed=""
for d in examples/*/; do
  n=$(basename "$d")
  [ -f "$d/Makefile" ] || continue
  need=$(missing "$n")
  if [ -n "$need" ]; then
    skipped="$skipped
  $n: needs $need"
    continue
  fi
  echo "== $n -> $out/$n.wasm"
  if $MAKE -s -C "$d" GO="$GO" OUT="$out/$n.wasm" BUILD="$out/.build"; then
    built="$built $n"
  else
    failed="$failed $n"
  fi
done
echo "built:${built:- none}"
[ -z "$skipped" ] || echo "skipped (toolchain missing):$skipped"
if [ -n "$failed" ]; then
  echo "FAILED:$failed" >&2
  exit 1
fi
