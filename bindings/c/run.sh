#!/usr/bin/env bash
# Builds and runs the C example and the C test program against the shared library:
#   1. gcc -Wall -Wextra -Werror with AddressSanitizer + UndefinedBehaviorSanitizer, run both;
#   2. a plain build of the test program, run under valgrind (definite leaks and memory errors
#      fail the run).
# Exits non-zero on any failure.
#
# Environment:
#   OCIREG_LIB_DIR       directory holding libocireg.so: a `cargo cinstall` prefix's lib/, or
#                        (default) $CARGO_TARGET_DIR/debug or target/debug, where the library is
#                        built first with `cargo rustc --lib --crate-type cdylib --features
#                        capi,test-server` unless OCIREG_SKIP_BUILD=1
#   OCIREG_C_BUILD_DIR   where the programs are built (default: $OCIREG_LIB_DIR/c-abi)
#   OCIREG_REQUIRE_VALGRIND=1  fail (rather than skip the valgrind step) when valgrind is missing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
lib_dir="${OCIREG_LIB_DIR:-$target/debug}"
build_dir="${OCIREG_C_BUILD_DIR:-$lib_dir/c-abi}"
cc="${CC:-gcc}"

if [ "${OCIREG_SKIP_BUILD:-0}" != 1 ]; then
    echo "== cargo rustc --lib --crate-type cdylib --features capi,test-server"
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo rustc --lib --crate-type cdylib \
        --features capi,test-server --quiet)
fi
lib="$lib_dir/libocireg.so"
if [ ! -f "$lib" ]; then
    echo "run.sh: $lib not found (build the crate first)" >&2
    exit 1
fi

mkdir -p "$build_dir"
# A library installed by `cargo cinstall` has the SONAME libocireg.so.0.1, and the symlink of
# that name next to it; a plain `cargo rustc` cdylib has none (programs then ask for
# libocireg.so). Either way the program finds it through its run path.
if command -v readelf >/dev/null 2>&1; then
    soname="$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')"
    if [ -n "$soname" ] && [ ! -e "$lib_dir/$soname" ]; then
        echo "run.sh: $lib has the SONAME $soname, but $lib_dir/$soname does not exist" >&2
        exit 1
    fi
fi

# Every function the library exports is declared in the header (cbindgen saw it), and every
# declared function is exercised by the C test program.
header="$root/include/ocireg.h"
declared="$(sed -n 's/^[a-z][a-z0-9_ *]*[ *]\(ocireg_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)"
if command -v nm >/dev/null 2>&1; then
    exported="$(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 ~ /^ocireg_/ {print $3}' | sort -u)"
    if [ "$exported" != "$declared" ]; then
        echo "run.sh: exported symbols and header declarations differ:" >&2
        diff <(echo "$exported") <(echo "$declared") >&2 || true
        exit 1
    fi
fi
for f in $declared; do
    if ! grep -q "$f(" "$here/test_ocireg.c"; then
        echo "run.sh: $f is not exercised by test_ocireg.c" >&2
        exit 1
    fi
done
echo "== $(echo "$declared" | wc -l) functions, all declared, exported and tested"

common=(-std=c11 -Wall -Wextra -Werror -Wpedantic -g -pthread -I"$root/include")
link=(-L"$lib_dir" -Wl,-rpath,"$lib_dir" -locireg -pthread)
asan=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

echo "== compile (ASan + UBSan)"
"$cc" "${common[@]}" "${asan[@]}" "$here/example.c" -o "$build_dir/example-asan" "${link[@]}"
"$cc" "${common[@]}" "${asan[@]}" "$here/test_ocireg.c" -o "$build_dir/test_ocireg-asan" "${link[@]}"
if command -v nm >/dev/null 2>&1 && ! nm "$build_dir/test_ocireg-asan" | grep -c __asan_init >/dev/null; then
    echo "run.sh: the ASan build is not instrumented" >&2
    exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "== example (ASan)"
"$build_dir/example-asan"
echo "== test_ocireg (ASan)"
"$build_dir/test_ocireg-asan"

if command -v valgrind >/dev/null 2>&1; then
    echo "== compile (plain, for valgrind)"
    "$cc" "${common[@]}" -O1 "$here/test_ocireg.c" -o "$build_dir/test_ocireg" "${link[@]}"
    echo "== test_ocireg (valgrind)"
    valgrind --quiet --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite --error-exitcode=1 \
        "$build_dir/test_ocireg"
elif [ "${OCIREG_REQUIRE_VALGRIND:-0}" = 1 ]; then
    echo "run.sh: valgrind not found and OCIREG_REQUIRE_VALGRIND=1" >&2
    exit 1
else
    echo "== valgrind not found: valgrind step skipped"
fi
echo "== C ABI: all passed"
