#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build carefill, idempotently:
#  - apt: cmake (HiGHS build) and libclang-dev (bindgen in highs-sys);
#  - apt: chromium and chromium-driver (the console's browser tests; skip with CAREFILL_NO_BROWSER=1);
#  - HiGHS 1.16.0 built once from the source bundled in the highs-sys crate into
#    /opt/highs-1.16.0, found by highs-sys through pkg-config (see .cargo/config.toml).
#    Without it highs-sys would rebuild HiGHS (~7 min) for every cargo profile.
set -euo pipefail
cd "$(dirname "$0")/.."

HIGHS_VERSION=1.16.0
PREFIX=/opt/highs-$HIGHS_VERSION

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
# libclang itself, not libclang-cpp (which some images ship alone and bindgen cannot use).
have_libclang=""
for pat in '/usr/lib/llvm-*/lib/libclang.so*' '/usr/lib/llvm-*/lib/libclang-[0-9]*.so*' '/usr/lib/*-linux-gnu/libclang-[0-9]*.so*'; do
  compgen -G "$pat" >/dev/null && have_libclang=1
done
[ -n "$have_libclang" ] || need_apt+=(libclang-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
if [ -z "${CAREFILL_NO_BROWSER:-}" ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -f "$PREFIX/lib/pkgconfig/highs.pc" ]; then
  cargo fetch --locked >/dev/null 2>&1 || cargo fetch >/dev/null
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/highs-sys-$HIGHS_VERSION/HiGHS | head -n1)
  echo "bootstrap: building HiGHS $HIGHS_VERSION into $PREFIX (about 7 minutes, once per machine)" >&2
  build=$(mktemp -d)
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DFAST_BUILD=ON -DBUILD_CXX_EXE=OFF -DBUILD_EXAMPLES=OFF \
    -DBUILD_TESTING=OFF -DZLIB=OFF -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO cmake --install "$build" >/dev/null
  rm -rf "$build"
fi
