#!/usr/bin/env bash
# Runs every test of ocireg on this machine: installs what is missing (Debian's docker-registry,
# skopeo, ruby, valgrind; PyJWT in a venv), starts the real registries of tests/rig on 127.0.0.1,
# then runs the Rust tests (unit, mockito, in-memory registry, real registries, skopeo interop),
# the C ABI tests (ASan + valgrind), the Python, Ruby and Go binding tests, and a short run of
# every fuzz target.
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
for p in ruby ruby-ffi ruby-minitest valgrind gcc; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c "import pytest" 2>/dev/null \
  || python3 -m pip install -q pytest 2>/dev/null \
  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest >/dev/null

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

say "Rust: unit, mockito, in-memory registry, real registries, C ABI"
cargo test --all-targets
cargo test --doc

say "the README's main job: the quickstart, on the built-in registry, then on real ones"
cargo run -q --example quickstart
cargo run -q --example quickstart -- "$OCIREG_RIG_OPEN"
OCIREG_USERNAME="$OCIREG_RIG_USER" OCIREG_PASSWORD="$OCIREG_RIG_PASSWORD" \
  cargo run -q --example quickstart -- "$OCIREG_RIG_TOKEN"

say "the shared library for the bindings (cargo test alone refreshes only target/debug/deps)"
cargo build
ls -l target/debug/libocireg.so

say "Python binding (ctypes)"
python3 -m pytest -q bindings/python/tests

say "Ruby binding (ruby-ffi)"
ruby bindings/ruby/test/run.rb

say "Go binding (cgo)"
(cd bindings/go && export GOFLAGS=-mod=mod GOTOOLCHAIN=local && go vet ./... && go test -count=1 ./...)

say "the rig's own selftest (curl + skopeo against every registry)"
bash tests/rig/selftest.sh "$rig"

say "fuzzing smoke run (every cargo-fuzz target for a fixed number of executions; nightly)"
bash fuzz/run.sh smoke
