"""Drift guard: every function of include/ocireg.h is declared and wrapped by this binding."""

import os
import re

import pytest

from ocireg import _ffi

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), "ocireg")
HEADER = os.environ.get(
    "OCIREG_HEADER", os.path.join(HERE, os.pardir, os.pardir, os.pardir, "include", "ocireg.h")
)


def header_functions():
    if not os.path.exists(HEADER):
        pytest.skip("include/ocireg.h not found at %s" % HEADER)
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    # Comments mention functions too; only declarations count (they still all match this).
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    code = re.sub(r"//[^\n]*", "", code)
    names = set(re.findall(r"\b(ocireg_\w+)\(", code))
    assert names, "no function found in the header"
    return names


def test_every_header_function_is_declared():
    missing = sorted(header_functions() - set(_ffi.SIGNATURES))
    assert not missing, "declare these in ocireg/_ffi.py SIGNATURES: %s" % ", ".join(missing)


def test_no_stale_declarations():
    stale = sorted(set(_ffi.SIGNATURES) - header_functions())
    assert not stale, "declared but gone from the header: %s" % ", ".join(stale)


def test_every_declaration_has_argtypes_and_restype():
    for name in _ffi.SIGNATURES:
        if name in _ffi.missing_test_functions:
            continue  # a library built without `test-server`: checked by the next test
        fn = getattr(_ffi.lib, name)
        restype, argtypes = _ffi.SIGNATURES[name]
        assert fn.argtypes is not None and list(fn.argtypes) == list(argtypes), name
        assert fn.restype is restype, name  # never the ctypes default (c_int truncates pointers)


def test_every_header_function_is_wrapped():
    """Each function is called from the package outside the declarations in _ffi.py."""
    sources = []
    for fname in sorted(os.listdir(PACKAGE)):
        if fname.endswith(".py"):
            with open(os.path.join(PACKAGE, fname), encoding="utf-8") as f:
                text = f.read()
            if fname == "_ffi.py":
                text = text.split("SIGNATURES = {", 1)[0] + text.split("\n}\n", 1)[1]
            sources.append(text)
    code = "\n".join(sources)
    unwrapped = sorted(n for n in header_functions() if not re.search(r'\b%s\b' % n, code))
    assert not unwrapped, "not wrapped by the Python API: %s" % ", ".join(unwrapped)


def test_header_abi_version_matches():
    header_functions()  # skips when the header is not there
    with open(HEADER, encoding="utf-8") as f:
        m = re.search(r"#define OCIREG_ABI_VERSION (\d+)", f.read())
    assert m and int(m.group(1)) == _ffi.ABI_VERSION


def test_only_test_server_functions_may_be_missing():
    assert set(_ffi.missing_test_functions) <= _ffi.TEST_SERVER_FUNCTIONS
