#!/usr/bin/env bash
# Runs every test of ocireg on this machine: installs what is missing (Debian's docker-registry,
# skopeo, ruby, valgrind, pkg-config; PyJWT in a venv; cargo-c), starts the real registries of
# tests/rig on 127.0.0.1, installs the C library with cargo-c into a temporary prefix, then runs
# the Rust tests (unit, mockito, in-memory registry, real registries, skopeo interop), the C ABI
# tests (ASan + valgrind), and the Python, Ruby and Go binding tests against that prefix, and
# installs every face as its users do, outside the repository (tests/packaging/run.sh), and
# ends with a short run of every fuzz target.
# Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# Toolchains installed per user (rustup, Go's tarball) may be missing from a bare PATH.
for d in "$HOME/.cargo/bin" /usr/local/go/bin; do
  case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH

say() { printf '\n==> %s\n' "$*"; }

say "installing what is missing"
bash tests/rig/install.sh
need=()
for p in ruby ruby-dev ruby-minitest rake valgrind gcc make binutils pkg-config python3-venv; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c "import pytest" 2>/dev/null \
  || python3 -m pip install -q pytest 2>/dev/null \
  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest >/dev/null
# cargo-c (`cargo cinstall`): 0.10.24 is the newest that builds with Rust 1.95 (about 8 minutes).
if ! cargo cinstall --version >/dev/null 2>&1; then
  cargo install --quiet cargo-c --version 0.10.24+cargo-0.98.0 --locked
fi

started=$SECONDS
rig=$(mktemp -d /tmp/ocireg-rig.XXXXXX)
cleanup() { bash tests/rig/rig.sh stop "$rig" >/dev/null 2>&1 || true; rm -rf "$rig"; }
trap cleanup EXIT
say "starting the real registries (tests/rig)"
bash tests/rig/rig.sh start "$rig" >/dev/null
# shellcheck disable=SC1091
source "$rig/env"
export OCIREG_REQUIRE_RIG=1 OCIREG_REQUIRE_SKOPEO=1 OCIREG_REQUIRE_C=1
# Tests talk to 127.0.0.1 only: never through a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1,localhost

# The C ABI test and the three binding suites run against the C library as cargo-c installs it.
say "the C library: cargo cinstall into a temporary prefix"
prefix="$rig/prefix"
cargo cinstall --release --locked --features capi,test-server --prefix="$prefix" --libdir=lib
ls -l "$prefix/lib"
export OCIREG_LIB_DIR="$prefix/lib" # tests/c_abi.rs

# Every feature: the C surface, the test registry, the CLI.
features=(--features capi,test-server,cli)

say "Rust: unit, mockito, in-memory registry, real registries, C ABI"
cargo test --all-targets "${features[@]}"
cargo test --doc "${features[@]}"

say "the README's main job: the quickstart, on the built-in registry, then on real ones"
cargo run -q --example quickstart "${features[@]}"
cargo run -q --example quickstart "${features[@]}" -- "$OCIREG_RIG_OPEN"
OCIREG_USERNAME="$OCIREG_RIG_USER" OCIREG_PASSWORD="$OCIREG_RIG_PASSWORD" \
  cargo run -q --example quickstart "${features[@]}" -- "$OCIREG_RIG_TOKEN"

say "Python binding (ctypes)"
OCIREG_LIB="$prefix/lib/libocireg.so" python3 -m pytest -q bindings/python/tests

say "Ruby binding (Fiddle)"
OCIREG_LIB="$prefix/lib/libocireg.so" ruby bindings/ruby/test/run.rb

say "Go binding (cgo, #cgo pkg-config: ocireg; go vet, go test -race)"
# Go's build cache keys a cgo package on its CGO_* flags but not on pkg-config's output: without
# the prefix in CGO_LDFLAGS a package built against an earlier run's prefix (long deleted) is
# reused and the link fails with "cannot find -locireg".
(cd bindings/go && export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_LDFLAGS="-L$prefix/lib" \
  PKG_CONFIG_PATH="$prefix/lib/pkgconfig" LD_LIBRARY_PATH="$prefix/lib" &&
  go vet ./... && go test -race -count=1 ./...)

say "the rig's own selftest (curl + skopeo against every registry)"
bash tests/rig/selftest.sh "$rig"

say "packaging: every face installed as its users install it, outside the repository"
bash tests/packaging/run.sh

say "fuzzing smoke run (every cargo-fuzz target for a fixed number of executions; nightly)"
bash fuzz/run.sh smoke

say "all passed in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
