#!/usr/bin/env bash
# Installs every face of ocireg the way its users do, in a temporary directory outside the
# repository, and uses it from there. No environment variable points back into the checkout:
# only the commands a user types name it (cargo's --manifest-path, pip's and gem's source, Go's
# replace line).
#
#   C       cargo cinstall into a prefix; cc example.c $(pkg-config --cflags --libs ocireg)
#   Python  a fresh venv; pip install <checkout>/bindings/python; pip wheel (a platform wheel)
#   Ruby    gem build; gem install --local into a private gem home
#   Go      a module outside the repository (go mod edit -replace) built against the prefix
#   Rust    a crate depending on ocireg by path, default features: no tiny_http, no cbindgen,
#           no C library built
#   capi without test-server: the library loads in every binding; only the test registry
#           fails, naming the missing feature
#
# Prints what each face cost (install time, installed size).
#
# Environment:
#   OCIREG_PACKAGING_COLD=1   build each face in a fresh cargo target directory under the
#                             temporary directory (a first install's cost). By default cargo-c
#                             and pip use the checkout's target/, as they do for a user; the gem
#                             always builds in its own directory.
#   OCIREG_PACKAGING_KEEP=1   keep the temporary directory
# Needs cargo + cargo-c, cc, pkg-config, readelf, python3 with venv, ruby + gem, go.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d /tmp/ocireg-packaging.XXXXXX)"
cleanup() {
    if [ "${OCIREG_PACKAGING_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
cold="${OCIREG_PACKAGING_COLD:-0}"

for d in "$HOME/.cargo/bin" /usr/local/go/bin; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH
# Nothing a user would not have: no library, header, gem, module or target override.
unset OCIREG_LIB OCIREG_LIB_DIR OCIREG_HEADER CARGO_TARGET_DIR PKG_CONFIG_PATH LD_LIBRARY_PATH \
    GEM_HOME GEM_PATH RUBYLIB RUBYOPT PYTHONPATH GOFLAGS CGO_CFLAGS CGO_LDFLAGS CGO_CPPFLAGS \
    VIRTUAL_ENV
export GOTOOLCHAIN=local
cd "$work"
unset OLDPWD
if env | grep -F -- "$repo" >/dev/null; then
    echo "packaging: these variables point into the checkout:" >&2
    env | grep -F -- "$repo" >&2
    exit 1
fi

say() { printf '\n==> %s\n' "$*"; }
fail() { echo "packaging: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }
size() { du -sbL "$@" | awk '{ s += $1 } END { printf "%.1f MB", s / 1e6 }'; }
target_for() { # $1: face; a cargo target directory for cold runs, nothing otherwise
    if [ "$cold" = 1 ]; then echo "CARGO_TARGET_DIR=$work/target-$1"; fi
}
summary=()
cost() { summary+=("$(printf '%-28s %6ss  %s' "$1" "$2" "$3")"); }

gem_path="$(gem env gempath)"

# ------------------------------------------------------------------------------------------ C
say "C: cargo cinstall into $work/prefix, then cc + pkg-config"
prefix="$work/prefix"
t0=$(now)
env $(target_for c) cargo cinstall --release --locked --features capi,test-server \
    --manifest-path "$repo/Cargo.toml" --prefix="$prefix" --libdir=lib
t1=$(now)
for f in include/ocireg.h lib/libocireg.so lib/libocireg.so.0.1 lib/libocireg.a lib/pkgconfig/ocireg.pc; do
    [ -e "$prefix/$f" ] || fail "cargo cinstall did not install $f"
done
cmp -s "$prefix/include/ocireg.h" "$repo/include/ocireg.h" ||
    fail "the installed ocireg.h is not the committed include/ocireg.h"
so="$(readlink -f "$prefix/lib/libocireg.so")"
soname="$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')"
[ "$soname" = libocireg.so.0.1 ] || fail "SONAME is '$soname', expected libocireg.so.0.1"
if readelf -S "$so" | grep -q '\.debug_'; then fail "$so carries debug info"; fi
nm -D --defined-only "$so" | grep -q ' T ocireg_test_registry_start$' ||
    fail "the installed library lacks the test registry"
ls -l "$prefix/lib"
mkdir c && cp "$repo/bindings/c/example.c" c/
(
    cd c
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Werror example.c $(pkg-config --cflags --libs ocireg) -o example
    if readelf -d example | grep -Eq 'RPATH|RUNPATH'; then fail "example has a run path"; fi
    LD_LIBRARY_PATH="$prefix/lib" ./example >example.out
    grep -q "^tag: v1" example.out || { cat example.out; fail "the C example listed no tag"; }
)
echo "C example: ok ($(grep -c . c/example.out) lines of output)"
cost "C (cargo cinstall)" "$(secs "$t0" "$t1")" "prefix $(size "$prefix"); libocireg.so $(size "$so"), libocireg.a $(size "$prefix/lib/libocireg.a")"

# ------------------------------------------------------------------------------------- Python
say "Python: fresh venv, pip install <checkout>/bindings/python"
python3 -m venv venv
venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
t0=$(now)
env $(target_for python) venv/bin/python -m pip install -q "$repo/bindings/python"
t1=$(now)
site="$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir py && cat >py/check.py <<'EOF'
import os
import sys

import ocireg
from ocireg import testing

assert "OCIREG_LIB" not in os.environ
lib = ocireg.library_path()
assert lib.startswith(os.path.dirname(ocireg.__file__)), lib
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
with testing.Registry() as reg, ocireg.Client(reg.url, anonymous=True) as client:
    image = ocireg.ImageBuilder().set_config(CONFIG).add_layer(b"python layer").build()
    pushed = client.push_image("pkg/python", "v1", image)
    assert client.tags("pkg/python") == ["v1"], client.tags("pkg/python")
    report = client.verify("pkg/python", pushed)
    assert report.ok, report
print("python: pushed, listed and verified %s with %s" % (pushed.digest, lib))
EOF
(cd py && ../venv/bin/python check.py)
mkdir wheels
env $(target_for python) venv/bin/python -m pip wheel -q --no-deps -w wheels "$repo/bindings/python"
wheel="$(ls wheels/*.whl)"
case "$wheel" in *-linux_x86_64.whl | *manylinux*.whl) ;; *) fail "not a platform wheel: $wheel" ;; esac
venv/bin/python - "$wheel" <<'EOF' || fail "the wheel carries no library"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("ocireg/_libocireg") and n.endswith(".so")]
print("wheel %s holds %s" % (sys.argv[1].rsplit("/", 1)[-1], ", ".join(libs)))
sys.exit(0 if libs else 1)
EOF
cost "Python (pip install)" "$(secs "$t0" "$t1")" "site-packages/ocireg $(size "$site/ocireg"); wheel $(size "$wheel")"

# --------------------------------------------------------------------------------------- Ruby
say "Ruby: gem build, gem install --local into a private gem home"
gems="$work/gems"
t0=$(now)
gem build --quiet -C "$repo/bindings/ruby" "$repo/bindings/ruby/ocireg.gemspec" --output "$work/ocireg-0.1.0.gem"
t1=$(now)
# GEM_HOME rather than --install-dir: RubyGems ignores the installed gems (Ruby's own fiddle)
# when resolving the dependencies of an --install-dir install, and cannot download one here.
GEM_HOME="$gems" GEM_PATH="$gems:$gem_path" gem install --local --no-document "$work/ocireg-0.1.0.gem"
t2=$(now)
[ ! -e "$gems/gems/ocireg-0.1.0/ext/ocireg/target" ] || fail "the gem install left cargo's target/"
mkdir rb && cat >rb/check.rb <<'EOF'
require "ocireg"

raise "OCIREG_LIB is set" if ENV.key?("OCIREG_LIB")
lib = Ocireg::Native::LIBRARY_PATH
raise "library #{lib} is not in the gem" unless lib.start_with?(ENV.fetch("GEM_HOME"))
config = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
reg = Ocireg::Testing::Registry.new
client = Ocireg::Client.new(reg.url, anonymous: true)
image = Ocireg::ImageBuilder.new.config(config).add_layer("ruby layer").build
pushed = client.push_image("pkg/ruby", "v1", image)
tags = client.tags("pkg/ruby")
raise "tags: #{tags.inspect}" unless tags == ["v1"]
report = client.verify("pkg/ruby", pushed)
raise "verify: #{report.outcome}" unless report.verified?
puts "ruby: pushed, listed and verified #{pushed.digest} with #{lib}"
# The docker_registry2 compatibility layer ships in the gem.
require "docker_registry2"
compat = $LOADED_FEATURES.grep(%r{/docker_registry2\.rb\z}).first.to_s
raise "docker_registry2.rb #{compat} is not the gem's" unless compat.start_with?(ENV.fetch("GEM_HOME"))
compat_tags = DockerRegistry.new(reg.url).tags("pkg/ruby")
raise "DockerRegistry#tags: #{compat_tags.inspect}" unless compat_tags == { "name" => "pkg/ruby", "tags" => ["v1"] }
puts "ruby: require \"docker_registry2\" from #{compat}"
client.close
reg.close
EOF
(cd rb && GEM_HOME="$gems" GEM_PATH="$gems:$gem_path" ruby check.rb)
cost "Ruby (gem build)" "$(secs "$t0" "$t1")" "gem $(size "$work/ocireg-0.1.0.gem")"
cost "Ruby (gem install)" "$(secs "$t1" "$t2")" "gem home $(size "$gems/gems/ocireg-0.1.0" "$gems/extensions")"

# ----------------------------------------------------------------------------------------- Go
say "Go: a module outside the repository, against the installed prefix"
mkdir gocheck && cat >gocheck/main.go <<'EOF'
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	ocireg "github.com/ocireg/ocireg/bindings/go"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "go:", err)
		os.Exit(1)
	}
}

func main() {
	ctx := context.Background()
	reg, err := ocireg.StartTestRegistry(ocireg.AuthNone, nil)
	if len(os.Args) > 1 && os.Args[1] == "expect-no-test-server" {
		if !errors.Is(err, ocireg.ErrUnsupported) || !strings.Contains(err.Error(), "test-server") {
			fmt.Fprintln(os.Stderr, "go: expected ErrUnsupported naming test-server, got", err)
			os.Exit(1)
		}
		fmt.Println("go: loads without test-server (library", ocireg.Version()+"); StartTestRegistry:", err)
		return
	}
	must(err)
	defer reg.Close()
	client, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
	must(err)
	defer client.Close()
	b, err := ocireg.NewImageBuilder()
	must(err)
	must(b.SetConfig([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), ""))
	must(b.AddLayer([]byte("go layer"), "application/vnd.oci.image.layer.v1.tar"))
	img, err := b.Build()
	must(err)
	pushed, err := client.PushImage(ctx, "pkg/go", "v1", img, nil, nil)
	must(err)
	tags, err := client.Tags(ctx, "pkg/go")
	must(err)
	if len(tags) != 1 || tags[0] != "v1" {
		must(fmt.Errorf("tags: %v", tags))
	}
	report, err := client.Verify(ctx, "pkg/go", pushed)
	must(err)
	fmt.Println("go: pushed, listed and verified", pushed.Digest(), "outcome", report.Outcome())
}
EOF
t0=$(now)
(
    cd gocheck
    go mod init example.com/ocireg-packaging >/dev/null 2>&1
    go mod edit -require=github.com/ocireg/ocireg/bindings/go@v0.0.0 \
        -replace=github.com/ocireg/ocireg/bindings/go="$repo/bindings/go"
    # A fresh build cache, as on a first install: Go's cache does not key a cgo package on
    # pkg-config's output, so a package cached against another prefix would link against that.
    GOCACHE="$work/gocache" PKG_CONFIG_PATH="$prefix/lib/pkgconfig" go build -o prog .
)
t1=$(now)
if readelf -d gocheck/prog | grep -Eq 'RPATH|RUNPATH'; then fail "the Go program has a run path"; fi
(cd gocheck && LD_LIBRARY_PATH="$prefix/lib" ./prog)
cost "Go (go build)" "$(secs "$t0" "$t1")" "program $(size gocheck/prog) + the C library above"

# --------------------------------------------------------------------------------------- Rust
say "Rust: a crate depending on ocireg by path, default features"
mkdir -p dependent/src
cat >dependent/Cargo.toml <<EOF
[package]
name = "dependent"
version = "0.1.0"
edition = "2021"

[dependencies]
ocireg = { path = "$repo" }
EOF
cat >dependent/src/lib.rs <<'EOF'
/// Lists the tags of a repository: the Rust API, nothing else.
pub fn tags(registry: &str, repository: &str) -> ocireg::Result<Vec<String>> {
    ocireg::Client::builder(registry).build()?.tags(repository)
}
EOF
(
    cd dependent
    tree="$(cargo tree --quiet -e normal,build)"
    for forbidden in tiny_http cbindgen; do
        if grep -q "$forbidden" <<<"$tree"; then fail "the dependency tree has $forbidden"; fi
    done
    echo "cargo tree: $(grep -c . <<<"$tree") lines, no tiny_http, no cbindgen"
)
t0=$(now)
(cd dependent && cargo build --quiet --message-format=json >build.json)
t1=$(now)
python3 - dependent/build.json <<'EOF' || fail "a C library was built for the dependent"
import json, sys
bad = []
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "ocireg":
        kinds = m["target"]["crate_types"]
        print("ocireg built as %s: %s" % (kinds, [f.rsplit("/", 1)[-1] for f in m["filenames"]]))
        if set(kinds) != {"lib"} or any(f.endswith((".so", ".a")) for f in m["filenames"]):
            bad.append(kinds)
sys.exit(1 if bad else 0)
EOF
# What `cargo publish` would upload: only what a Rust user needs, well under 1 MB.
(cd "$repo" && cargo package --quiet --no-verify --allow-dirty --target-dir "$work/package" 2>/dev/null) ||
    fail "cargo package failed"
crate="$(ls "$work"/package/package/ocireg-*.crate)"
if tar -tzf "$crate" | grep -E '^[^/]+/(bindings|tests|bench|target)/'; then
    fail "the .crate holds files a Rust user does not need"
fi
if tar -tvzf "$crate" | grep '^l'; then fail "the .crate holds symlinks"; fi
[ "$(stat -c %s "$crate")" -lt 1000000 ] || fail "the .crate weighs $(size "$crate")"
echo "$(basename "$crate"): $(tar -tzf "$crate" | grep -vc '/$') files, $(size "$crate")"
cost "Rust (dependent, debug)" "$(secs "$t0" "$t1")" ".crate $(size "$crate")"

# --------------------------------------------------------------- capi without test-server
say "a C library built without test-server: every binding loads it"
bare="$work/prefix-bare"
t0=$(now)
env $(target_for c) cargo cinstall --release --locked --features capi \
    --manifest-path "$repo/Cargo.toml" --prefix="$bare" --libdir=lib
t1=$(now)
if nm -D --defined-only "$bare/lib/libocireg.so" | grep -q ' ocireg_test_'; then
    fail "the capi-only library has test functions"
fi
cat >c/version.c <<'EOF'
#include <stdio.h>
#include <ocireg.h>
int main(void) {
    printf("c: loads without test-server (library %s, ABI %u)\n", ocireg_version(), ocireg_abi_version());
    return ocireg_abi_version() == OCIREG_ABI_VERSION ? 0 : 1;
}
EOF
(
    cd c
    # shellcheck disable=SC2046
    cc -std=c11 version.c $(PKG_CONFIG_PATH="$bare/lib/pkgconfig" pkg-config --cflags --libs ocireg) -o version
    LD_LIBRARY_PATH="$bare/lib" ./version
)
(cd py && OCIREG_LIB="$bare/lib/libocireg.so" ../venv/bin/python - <<'EOF')
import ocireg
from ocireg import testing
try:
    testing.Registry()
except ocireg.UnsupportedError as e:
    assert "test-server" in str(e), e
    print("python: loads without test-server (library %s); Registry(): %s" % (ocireg.version(), e))
else:
    raise SystemExit("python: testing.Registry() worked without test-server")
EOF
(cd rb && OCIREG_LIB="$bare/lib/libocireg.so" GEM_HOME="$gems" GEM_PATH="$gems:$gem_path" ruby - <<'EOF')
require "ocireg"
begin
  Ocireg::Testing::Registry.new
  abort "ruby: Testing::Registry.new worked without test-server"
rescue Ocireg::UnsupportedError => e
  raise "message: #{e.message}" unless e.message.include?("test-server")
  puts "ruby: loads without test-server (library #{Ocireg.library_version}); Registry.new: #{e.message}"
end
EOF
(
    cd gocheck
    # Its own build cache: one keyed like the first would link against the first prefix.
    GOCACHE="$work/gocache-bare" PKG_CONFIG_PATH="$bare/lib/pkgconfig" go build -o prog-bare .
    LD_LIBRARY_PATH="$bare/lib" ./prog-bare expect-no-test-server
)
cost "C without test-server" "$(secs "$t0" "$t1")" "libocireg.so $(size "$(readlink -f "$bare/lib/libocireg.so")")"

say "what each face cost (install time on $(nproc) cores; $([ "$cold" = 1 ] && echo "cold: fresh cargo target directories" || echo "cargo-c and pip reuse the checkout's target/"))"
printf '%s\n' "${summary[@]}"
echo "packaging: all faces installed and used outside the repository"
