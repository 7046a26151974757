#!/usr/bin/env bash
# Installs what otc needs on Debian 12 (as root; a no-op when all is there)
# and builds it into build/. Used by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  meson ninja-build pkg-config gcc
  libglib2.0-dev libssl-dev libjson-glib-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-nice
  libgstreamer-plugins-bad1.0-dev libnice-dev libsoup-3.0-dev libjwt-dev
  libsrtp2-dev
  iproute2 util-linux
  clang valgrind python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  libclang-rt-14-dev   # libFuzzer and clang's sanitizer runtimes (only
                       # recommended by clang, and recommends are skipped)
  llvm                 # llvm-cov, llvm-profdata: scripts/fuzz-coverage.sh
  libc6-dbg   # names the dynamic loader's frames for valgrind's suppressions
  chromium
)
# the web client's tests (tests/browser): Node and npm, unless a Node is
# there already (a nodejs from elsewhere conflicts with Debian's npm)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "otc: these Debian packages are missing; run as root to install them:" >&2
    echo "  ${missing[*]}" >&2
    exit 1
  fi
  echo "otc: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi

if [ ! -f build/build.ninja ]; then
  meson setup build "$@"
fi
ninja -C build
# playwright-core for tests/browser/e2e.mjs, from the npm registry
# (again when the lock file changed since: a stamp in node_modules)
stamp=tests/browser/node_modules/.otc-package-lock.json
if command -v npm >/dev/null 2>&1 \
    && ! cmp -s tests/browser/package-lock.json "$stamp"; then
  npm ci --prefix tests/browser --no-audit --no-fund
  cp tests/browser/package-lock.json "$stamp"
fi
