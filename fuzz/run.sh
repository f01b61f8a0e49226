#!/usr/bin/env bash
# The fuzz targets' CI smoke run and long run. See fuzz/README.md.
#
#   fuzz/run.sh smoke [TARGET...]          build every target, run each for a fixed number of
#                                          executions over its seeds (a few minutes in all)
#   fuzz/run.sh long [SECONDS] [TARGET...] run each target for SECONDS (default 300), one at a time
#
# Exits non-zero when a target crashes, hangs (-timeout), or runs out of memory (-rss_limit_mb);
# the input is then in fuzz/artifacts/<target>/. The committed seeds (fuzz/seeds/<target>/) are
# only read: the smoke run grows a scratch corpus it deletes, the long run grows fuzz/corpus/
# <target>/ (ignored by git), so long runs go on where the last one stopped.
#
# Environment: OCIREG_FUZZ_RUNS_SCALE multiplies the smoke run's executions (default 1);
# OCIREG_FUZZ_TIMEOUT is the per-execution limit in seconds (default 5).
set -euo pipefail
cd "$(dirname "$0")"

case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH" ;; esac
if ! command -v cargo >/dev/null; then
    echo "fuzz/run.sh: cargo not found (looked in PATH and $HOME/.cargo/bin)" >&2
    exit 1
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked
fi

mode=${1:-smoke}
[ $# -gt 0 ] && shift
seconds=300
if [ "$mode" = long ] && [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
case "$mode" in smoke | long) ;; *)
    echo "usage: fuzz/run.sh smoke [TARGET...] | fuzz/run.sh long [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac

# Executions per target in the smoke run: about 5 s each on a busy 2-core machine. The
# credential helper target starts a process per execution; the update target writes files.
smoke_runs() {
    local scale=${OCIREG_FUZZ_RUNS_SCALE:-1}
    case "$1" in
        credential_helper) echo $((300 * scale)) ;;
        docker_config_update) echo $((3000 * scale)) ;;
        ffi | client_registry) echo $((5000 * scale)) ;;
        *) echo $((20000 * scale)) ;;
    esac
}
# Per-execution time limit. Every input here runs in milliseconds, but with -timeout=1 a
# machine shared with other builds produced false hangs (a 2 s stall in string formatting,
# 1-4 ms when replayed), so: 5 s, and 10 s for the helper target, which waits for a child.
exec_timeout() {
    case "$1" in credential_helper) echo 10 ;; *) echo "${OCIREG_FUZZ_TIMEOUT:-5}" ;; esac
}

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ocireg-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# Scratch files the targets write (helper scripts, config files) go here and are removed.
export OCIREG_FUZZ_SCRATCH="$scratch/files"
mkdir -p "$OCIREG_FUZZ_SCRATCH"

start=$(date +%s)
echo "==> cargo +nightly fuzz build (${#targets[@]} targets)"
if [ $# -gt 0 ]; then
    for t in "${targets[@]}"; do cargo +nightly fuzz build "$t"; done
else
    cargo +nightly fuzz build
fi
build_secs=$(($(date +%s) - start))
echo "    built in ${build_secs}s"
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir="target/$host/release"

failed=()
summary=()
for t in "${targets[@]}"; do
    if [ "$mode" = smoke ]; then
        corpus="$scratch/corpus/$t"
        limit="-runs=$(smoke_runs "$t")"
    else
        corpus="corpus/$t"
        limit="-max_total_time=$seconds"
    fi
    mkdir -p "$corpus" "artifacts/$t"
    seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    log="$scratch/$t.log"
    echo "==> $t ($limit)"
    t0=$(date +%s.%N)
    set +e
    # New inputs go to the first directory only: the corpus, never the seeds.
    "$bin_dir/$t" "$limit" -timeout="$(exec_timeout "$t")" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    set -e
    t1=$(date +%s.%N)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 || true)
    line=$(printf '%-22s %10s execs %8.1fs  %s  corpus %s' "$t" "${execs:-?}" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "${cov:-cov: ?}" "$(find "$corpus" -type f | wc -l)")
    if [ $rc -ne 0 ]; then
        line="$line  FAILED (exit $rc)"
        failed+=("$t")
        grep -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY|Test unit written' "$log" |
            head -8 | sed 's/^/    /'
        cp "$log" "artifacts/$t/last-run.log"
    fi
    echo "    $line"
    summary+=("$line")
done

echo
echo "==> fuzz $mode: ${#targets[@]} targets in $(($(date +%s) - start))s (build ${build_secs}s)"
printf '    %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs and logs in fuzz/artifacts/<target>/)"
    echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
    exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
