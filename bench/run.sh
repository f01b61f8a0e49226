#!/usr/bin/env bash
# ocireg vs crane, regctl, oras and skopeo on a local docker-registry 2.8 (open, Basic, Bearer),
# directly on loopback and behind toxiproxy at 20 ms and 80 ms RTT.
#
#   bench/run.sh                  # full run: 5 paired rounds per measure
#   bench/run.sh --quick          # 1 round, small inputs: checks the harness end to end
#   bench/run.sh --runs 9 --only push-256m,pull-256m@80ms --tools ocireg,crane
#   bench/run.sh --list           # the measures --only accepts
#
# Installs what is missing (idempotent), builds ocireg in release, starts the registries of
# tests/rig plus toxiproxy, then hands over to bench/compare.py (every other option is its).
# Writes bench/results/<date>.{md,svg,json}. Everything started here is stopped on exit and
# the temporary directory is removed. Not part of the test suite.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

# ---------------------------------------------------------------- pinned versions
# The peers and toxiproxy, installed with `go install …@VERSION` into $TOOLS/bin.
CRANE_VERSION=v0.22.1    # github.com/google/go-containerregistry/cmd/crane
REGCTL_VERSION=v0.11.7   # github.com/regclient/regclient/cmd/regctl
ORAS_VERSION=v1.3.6      # oras.land/oras/cmd/oras
TOXIPROXY_VERSION=v2.5.0 # github.com/Shopify/toxiproxy/v2/cmd/server (newest on the Go proxy)
# skopeo and docker-registry come from Debian (tests/rig/install.sh): 1.9.3 and 2.8.2 on Debian 12.

TOOLS="${OCIREG_BENCH_TOOLS:-/tmp/ocireg-bench-tools}"

for d in "$HOME/.cargo/bin" /usr/local/go/bin; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

case " $* " in
    *" -h "* | *" --help "* | *" --list "*) exec python3 "$HERE/compare.py" "$@" ;;
esac
python3 "$HERE/compare.py" --check-args "$@" || exit 2 # a typo fails now, not after the build

# ---------------------------------------------------------------- install (idempotent)
say "installing what is missing"
bash "$REPO/tests/rig/install.sh"

apt_missing=()
command -v ruby >/dev/null 2>&1 || apt_missing+=(ruby)
command -v unshare >/dev/null 2>&1 || apt_missing+=(util-linux)
[ -x /usr/bin/time ] || apt_missing+=(time)
if [ "${#apt_missing[@]}" -gt 0 ]; then
    say "apt-get install ${apt_missing[*]} (Ruby binding load, GNU time, unshare)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

command -v go >/dev/null 2>&1 || die "go not found (Go ≥ 1.22 is needed to install the peers)"
mkdir -p "$TOOLS/bin"
go_tool() { # NAME MODULE-PATH@VERSION: installs unless $TOOLS/bin/NAME.version says VERSION
    local name="$1" pkg="$2" stamp="$TOOLS/bin/$1.version"
    if [ -x "$TOOLS/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then
        return 0
    fi
    say "go install $pkg"
    GOBIN="$TOOLS/bin" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local go install "$pkg" ||
        die "go install $pkg failed"
    echo "$pkg" >"$stamp"
}
go_tool crane "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
go_tool regctl "github.com/regclient/regclient/cmd/regctl@$REGCTL_VERSION"
go_tool oras "oras.land/oras/cmd/oras@$ORAS_VERSION"
go_tool server "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"

# ---------------------------------------------------------------- build ocireg (ONE place)
# The CLI needs the `cli` feature (opt-in): pass it whenever Cargo.toml has it.
features=()
grep -Eq '^[[:space:]]*cli[[:space:]]*=' "$REPO/Cargo.toml" && features=(--features cli)
say "cargo build --release --lib --bin ocireg --examples ${features[*]}"
(cd "$REPO" && cargo build --release --lib --bin ocireg --examples "${features[@]}") ||
    die "cargo build failed"
target_dir="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# The C library the Python and Ruby bindings load: the crate builds only an rlib by itself, so
# build the cdylib as their packages do (`cargo rustc --crate-type cdylib`, release, stripped
# of debug info), in a target directory of its own so the two builds do not undo each other.
say "cargo rustc --release --lib --crate-type cdylib --features capi,test-server"
(cd "$REPO" && cargo rustc --release --lib --crate-type cdylib --features capi,test-server \
    --target-dir "$target_dir/bench-cdylib") || die "cargo rustc (cdylib) failed"
export OCIREG_BENCH_BIN="$target_dir/release/ocireg"
export OCIREG_BENCH_LIB="$target_dir/bench-cdylib/release/libocireg.so"
[ -x "$OCIREG_BENCH_BIN" ] || die "$OCIREG_BENCH_BIN not built"

# ---------------------------------------------------------------- run
export OCIREG_BENCH_TOOLS="$TOOLS/bin"
export OCIREG_BENCH_PINS="crane=$CRANE_VERSION regctl=$REGCTL_VERSION oras=$ORAS_VERSION toxiproxy=$TOXIPROXY_VERSION"
# Inputs, registry storage and pulled layouts go to tmpfs when there is room: the clients are
# measured, not the disk (here ext4 mounted with `discard`, where removing a run's files took
# 1.5 min and writeback of one pull can land in the next run's timing).
tmp_root="${OCIREG_BENCH_TMPDIR:-}"
if [ -z "$tmp_root" ]; then
    tmp_root=/tmp
    if [ -d /dev/shm ] && [ -w /dev/shm ] &&
        [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')" -ge $((3 * 1024 * 1024)) ]; then
        tmp_root=/dev/shm
    fi
fi
WORK="$(mktemp -d "$tmp_root/ocireg-bench.XXXXXX")"
export OCIREG_BENCH_WORK="$WORK"

PY_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
        kill -TERM "$PY_PID" 2>/dev/null || true
        wait "$PY_PID" 2>/dev/null || true
    fi
    # compare.py stops what it started; this is the backstop when it could not.
    if [ -f "$WORK/pids" ]; then
        while read -r pid exe; do
            [ -n "$pid" ] || continue
            [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$exe" ] && kill -TERM "$pid" 2>/dev/null || true
        done <"$WORK/pids"
    fi
    [ -d "$WORK/rig" ] && bash "$REPO/tests/rig/rig.sh" stop "$WORK/rig" >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 "$HERE/compare.py" "$@" &
PY_PID=$!
wait "$PY_PID"
