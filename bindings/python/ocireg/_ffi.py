"""Low-level ctypes access to ``libocireg`` (the C ABI of ``include/ocireg.h``).

This module finds and loads the shared library, checks its ABI version, and declares the
``argtypes`` / ``restype`` of every exported function (:data:`SIGNATURES`; they are set on a
function's first use, see :class:`Library`). It also holds the
few helpers every wrapper uses: turning an ``ocireg_error *`` into an exception, reading and
freeing owned strings and byte buffers, and encoding arguments.

Conventions followed here:

* owned ``char *`` results are declared ``c_void_p`` (never ``c_char_p``, which would lose the
  pointer to free) and read with :func:`ctypes.string_at`, then freed with
  ``ocireg_string_free``; borrowed ``const char *`` results are declared ``c_char_p``;
* the library is loaded with :class:`ctypes.CDLL`, so the GIL is released during every call;
* callbacks never let a Python exception reach C: see :class:`CallbackState`.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    byref,
    c_char_p,
    c_double,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_ssize_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)

from . import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple, Union

#: The ABI version this binding was written for (``OCIREG_ABI_VERSION`` of the header).
ABI_VERSION = 2

# ---------------------------------------------------------------------------------------------
# Constants of the header
# ---------------------------------------------------------------------------------------------

TIMEOUT_CONNECT = 0
TIMEOUT_RESPONSE = 1
TIMEOUT_READ = 2
TIMEOUT_WRITE = 3
TIMEOUT_OVERALL = 4

PROGRESS_UPLOADING = 0
PROGRESS_EXISTED = 1
PROGRESS_MOUNTED = 2
PROGRESS_UPLOADED = 3
PROGRESS_DOWNLOADING = 4
PROGRESS_REUSED = 5
PROGRESS_DOWNLOADED = 6

OUTCOME_VERIFIED = 0
OUTCOME_FAILED = 1
OUTCOME_INCONCLUSIVE = 2

TEST_AUTH_NONE = 0
TEST_AUTH_BASIC = 1
TEST_AUTH_BEARER = 2

# ---------------------------------------------------------------------------------------------
# Callback types
# ---------------------------------------------------------------------------------------------

#: ``ptrdiff_t (*ocireg_read_fn)(void *userdata, uint8_t *buf, size_t cap)``
READ_FN = CFUNCTYPE(c_ssize_t, c_void_p, c_void_p, c_size_t)
#: ``int (*ocireg_write_fn)(void *userdata, const uint8_t *buf, size_t len)``
WRITE_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
#: ``int (*ocireg_progress_fn)(void *userdata, const char *digest, uint64_t done,
#: uint64_t total, uint32_t event)``
PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_uint64, c_uint64, c_uint32)
#: ``void (*ocireg_retry_fn)(void *userdata, const char *method, const char *path,
#: uint32_t attempt, uint16_t status, const char *reason, uint64_t delay_ms)``
RETRY_FN = CFUNCTYPE(None, c_void_p, c_char_p, c_char_p, c_uint32, c_uint16, c_char_p, c_uint64)

# ---------------------------------------------------------------------------------------------
# Signatures: name -> (restype, argtypes). Every function of include/ocireg.h is here.
# ---------------------------------------------------------------------------------------------

_P = c_void_p  # any opaque handle (ocireg_client *, ocireg_image *, ...) or byte buffer
_PP = POINTER(c_void_p)  # T **out, char **out, ocireg_error **err
_S = c_char_p  # const char * argument, or borrowed const char * result
_ST = c_int  # ocireg_status

SIGNATURES = {
    # versions, errors, strings, lists
    "ocireg_abi_version": (c_uint32, []),
    "ocireg_version": (_S, []),
    "ocireg_error_status": (_ST, [_P]),
    "ocireg_error_message": (_S, [_P]),
    "ocireg_error_http_status": (c_uint16, [_P]),
    "ocireg_error_registry_code": (_S, [_P]),
    "ocireg_error_retry_after_secs": (c_int64, [_P]),
    "ocireg_error_registry_error_count": (c_size_t, [_P]),
    "ocireg_error_registry_error_code": (_S, [_P, c_size_t]),
    "ocireg_error_registry_error_message": (_S, [_P, c_size_t]),
    "ocireg_error_registry_error_detail": (_S, [_P, c_size_t]),
    "ocireg_error_body": (_S, [_P]),
    "ocireg_error_free": (None, [_P]),
    "ocireg_status_name": (_S, [c_uint32]),
    "ocireg_string_free": (None, [_P]),
    "ocireg_bytes_free": (None, [_P, c_size_t]),
    "ocireg_string_list_len": (c_size_t, [_P]),
    "ocireg_string_list_get": (_S, [_P, c_size_t]),
    "ocireg_string_list_free": (None, [_P]),
    # options
    "ocireg_options_new": (_ST, [_PP, _PP]),
    "ocireg_options_free": (None, [_P]),
    "ocireg_options_set_username_password": (_ST, [_P, _S, _S, _PP]),
    "ocireg_options_set_identity_token": (_ST, [_P, _S, _PP]),
    "ocireg_options_set_bearer_token": (_ST, [_P, _S, _PP]),
    "ocireg_options_set_anonymous": (_ST, [_P, _PP]),
    "ocireg_options_set_docker_config": (_ST, [_P, _S, _PP]),
    "ocireg_options_set_user_agent": (_ST, [_P, _S, _PP]),
    "ocireg_options_set_timeout_ms": (_ST, [_P, c_uint32, c_uint64, _PP]),
    "ocireg_options_set_ca_cert_pem": (_ST, [_P, _P, c_size_t, _PP]),
    "ocireg_options_set_client_cert_pem": (_ST, [_P, _P, c_size_t, _P, c_size_t, _PP]),
    "ocireg_options_set_insecure": (_ST, [_P, c_int, _PP]),
    "ocireg_options_set_proxy": (_ST, [_P, _S, _PP]),
    "ocireg_options_set_proxy_from_env": (_ST, [_P, c_int, _PP]),
    "ocireg_options_set_max_retries": (_ST, [_P, c_uint32, _PP]),
    "ocireg_options_set_low_speed_limit": (_ST, [_P, c_uint64, c_uint64, _PP]),
    "ocireg_options_set_backoff": (_ST, [_P, c_uint64, c_double, c_uint64, c_uint64, c_double, _PP]),
    "ocireg_options_set_retry_notify": (_ST, [_P, RETRY_FN, _P, _PP]),
    "ocireg_options_set_cancel": (_ST, [_P, _P, _PP]),
    # client
    "ocireg_client_new": (_ST, [_S, _P, _PP, _PP]),
    "ocireg_client_free": (None, [_P]),
    "ocireg_client_registry": (_S, [_P]),
    "ocireg_client_base_url": (_S, [_P]),
    "ocireg_client_credential_source": (_S, [_P]),
    "ocireg_client_request_count": (c_uint64, [_P]),
    "ocireg_ping": (_ST, [_P, _PP]),
    "ocireg_tags": (_ST, [_P, _S, _PP, _PP]),
    "ocireg_catalog": (_ST, [_P, _PP, _PP]),
    "ocireg_search": (_ST, [_P, _S, _PP, _PP]),
    "ocireg_tags_page": (_ST, [_P, _S, c_uint32, _S, _PP, _PP, _PP]),
    "ocireg_catalog_page": (_ST, [_P, c_uint32, _S, _PP, _PP, _PP]),
    # manifests
    "ocireg_manifest_get": (_ST, [_P, _S, _S, _PP, POINTER(c_size_t), _PP, _PP, _PP]),
    "ocireg_manifest_digest": (_ST, [_P, _S, _S, _PP, _PP]),
    "ocireg_manifest_put": (_ST, [_P, _S, _S, _S, _P, c_size_t, _PP, _PP]),
    "ocireg_manifest_delete": (_ST, [_P, _S, _S, _PP]),
    # blobs
    "ocireg_blob_exists": (_ST, [_P, _S, _S, POINTER(c_int), POINTER(c_uint64), _PP]),
    "ocireg_blob_push_bytes": (_ST, [_P, _S, _P, c_size_t, _PP, _PP]),
    "ocireg_blob_push_file": (_ST, [_P, _S, _S, _PP, _PP]),
    "ocireg_blob_push_stream": (_ST, [_P, _S, READ_FN, _P, c_uint64, _S, _PP, _PP]),
    "ocireg_blob_mount": (_ST, [_P, _S, _S, _S, POINTER(c_int), _PP]),
    "ocireg_blob_delete": (_ST, [_P, _S, _S, _PP]),
    "ocireg_blob_pull": (_ST, [_P, _S, _S, WRITE_FN, _P, POINTER(c_uint64), _PP]),
    "ocireg_blob_pull_to_path": (_ST, [_P, _S, _S, _S, POINTER(c_uint64), _PP]),
    "ocireg_blob_pull_bytes": (_ST, [_P, _S, _S, _PP, POINTER(c_size_t), _PP]),
    # cancellation, bound clients, streamed blob reads
    "ocireg_cancel_new": (_ST, [_PP, _PP]),
    "ocireg_cancel_trigger": (None, [_P]),
    "ocireg_cancel_is_triggered": (c_int32, [_P]),
    "ocireg_cancel_free": (None, [_P]),
    "ocireg_client_bind": (_ST, [_P, _P, c_uint64, _PP, _PP]),
    "ocireg_blob_reader_open": (_ST, [_P, _S, _S, _P, _PP, _PP]),
    "ocireg_blob_reader_read": (_ST, [_P, _P, c_size_t, POINTER(c_size_t), _PP]),
    "ocireg_blob_reader_size": (c_uint64, [_P]),
    "ocireg_blob_reader_free": (None, [_P]),
    # images
    "ocireg_image_from_layout": (_ST, [_S, _S, _PP, _PP]),
    "ocireg_image_digest": (_S, [_P]),
    "ocireg_image_media_type": (_S, [_P]),
    "ocireg_image_manifest": (c_void_p, [_P, POINTER(c_size_t)]),
    "ocireg_image_free": (None, [_P]),
    "ocireg_image_builder_new": (_ST, [_PP, _PP]),
    "ocireg_image_builder_set_config": (_ST, [_P, _P, c_size_t, _S, _PP]),
    "ocireg_image_builder_add_layer_bytes": (_ST, [_P, _P, c_size_t, _S, _PP]),
    "ocireg_image_builder_add_layer_file": (_ST, [_P, _S, _S, _PP]),
    "ocireg_image_builder_add_annotation": (_ST, [_P, _S, _S, _PP]),
    "ocireg_image_builder_set_artifact_type": (_ST, [_P, _S, _PP]),
    "ocireg_image_builder_set_docker_schema2": (_ST, [_P, c_int, _PP]),
    "ocireg_image_builder_build": (_ST, [_P, _PP, _PP]),
    "ocireg_image_builder_free": (None, [_P]),
    # push
    "ocireg_push_options_new": (_ST, [_PP, _PP]),
    "ocireg_push_options_set_threads": (_ST, [_P, c_uint32, _PP]),
    "ocireg_push_options_set_chunked": (_ST, [_P, c_uint64, _PP]),
    "ocireg_push_options_set_mount_from": (_ST, [_P, _S, _PP]),
    "ocireg_push_options_set_skip_existing": (_ST, [_P, c_int, _PP]),
    "ocireg_push_options_free": (None, [_P]),
    "ocireg_push_image": (_ST, [_P, _S, _S, _P, _P, PROGRESS_FN, _P, _PP, _PP]),
    "ocireg_push_layout": (_ST, [_P, _S, _S, _S, _P, PROGRESS_FN, _P, _PP, _PP]),
    "ocireg_pushed_from_image": (_ST, [_P, _S, _S, _PP, _PP]),
    "ocireg_pushed_digest": (_S, [_P]),
    "ocireg_pushed_media_type": (_S, [_P]),
    "ocireg_pushed_reference": (_S, [_P]),
    "ocireg_pushed_size": (c_uint64, [_P]),
    "ocireg_pushed_to_json": (_ST, [_P, _PP, _PP]),
    "ocireg_pushed_free": (None, [_P]),
    # verify
    "ocireg_verify": (_ST, [_P, _S, _P, _PP, _PP]),
    "ocireg_verify_report_outcome": (c_uint32, [_P]),
    "ocireg_verify_report_to_json": (_ST, [_P, _PP, _PP]),
    "ocireg_verify_report_to_text": (_ST, [_P, _PP, _PP]),
    "ocireg_verify_report_free": (None, [_P]),
    # pull
    "ocireg_pull_image": (_ST, [_P, _S, _S, _S, _S, c_uint32, PROGRESS_FN, _P, _PP, _PP]),
    "ocireg_pulled_digest": (_S, [_P]),
    "ocireg_pulled_media_type": (_S, [_P]),
    "ocireg_pulled_path": (_S, [_P]),
    "ocireg_pulled_size": (c_uint64, [_P]),
    "ocireg_pulled_to_json": (_ST, [_P, _PP, _PP]),
    "ocireg_pulled_to_pushed": (_ST, [_P, _PP, _PP]),
    "ocireg_pulled_free": (None, [_P]),
    # registry operations
    "ocireg_copy": (
        _ST,
        [_P, _S, _S, _P, _S, _S, c_uint32, _S, PROGRESS_FN, _P, _PP, _PP],
    ),
    "ocireg_retag": (_ST, [_P, _S, _S, _S, _S, _PP, _PP]),
    "ocireg_delete_tag": (_ST, [_P, _S, _S, c_int32, c_int32, _PP, _PP]),
    "ocireg_platform_descriptor": (_ST, [_P, _S, _S, _S, _PP, _PP]),
    "ocireg_tags_with_digests": (_ST, [_P, _S, _PP, _PP]),
    "ocireg_manifest_sizes": (
        _ST,
        [_P, c_size_t, _S, POINTER(c_uint64), POINTER(c_uint64), _PP],
    ),
    "ocireg_pull_layers": (
        _ST,
        [_P, _S, _S, _S, _S, c_uint32, PROGRESS_FN, _P, _PP, _PP],
    ),
    # credentials
    "ocireg_login": (_ST, [_S, _S, _S, _S, _P, _PP, _PP]),
    "ocireg_logout": (_ST, [_S, _S, POINTER(c_int), _PP]),
    # test registry
    "ocireg_test_registry_start": (_ST, [c_uint32, _S, _PP, _PP]),
    "ocireg_test_registry_url": (_S, [_P]),
    "ocireg_test_registry_host": (_S, [_P]),
    "ocireg_test_registry_request_count": (c_uint64, [_P]),
    "ocireg_test_registry_add_blob": (_ST, [_P, _S, _P, c_size_t, _PP, _PP]),
    "ocireg_test_registry_add_manifest": (_ST, [_P, _S, _S, _S, _P, c_size_t, _PP, _PP]),
    "ocireg_test_registry_add_image": (
        _ST,
        [_P, _S, _S, _P, c_size_t, POINTER(c_void_p), POINTER(c_size_t), c_size_t, _PP, _PP],
    ),
    "ocireg_test_registry_delete_blob": (_ST, [_P, _S, _S, POINTER(c_int), _PP]),
    "ocireg_test_registry_fail_next": (_ST, [_P, c_uint32, c_uint16, c_int64, _PP]),
    "ocireg_test_registry_stop": (_ST, [_P, _PP]),
    "ocireg_test_registry_free": (None, [_P]),
    "ocireg_test_registry_set_delay_ms": (_ST, [_P, c_uint64, _PP]),
    "ocireg_test_registry_drop_next": (_ST, [_P, c_uint32, _PP]),
    "ocireg_test_registry_redirect_blobs": (_ST, [_P, c_int, _PP]),
    "ocireg_test_registry_set_hostile": (_ST, [_P, _S, _PP]),
    "ocireg_test_registry_requests_json": (_ST, [_P, _PP, _PP]),
    "ocireg_test_registry_clear_requests": (_ST, [_P, _PP]),
    "ocireg_test_panic": (_ST, [_S, _PP]),
}

# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

if sys.platform == "darwin":
    _LIB_NAMES = ["libocireg.dylib"]
elif sys.platform == "win32":
    _LIB_NAMES = ["ocireg.dll"]
else:
    _LIB_NAMES = ["libocireg.so"]

_HERE = os.path.dirname(os.path.abspath(__file__))
# bindings/python/ocireg -> the repository root (meaningful only in a source checkout)
_REPO_ROOT = os.path.normpath(os.path.join(_HERE, os.pardir, os.pardir, os.pardir))

#: The functions that exist only when the library is built with the `test-server` feature.
#: A library without them loads; :mod:`ocireg.testing` then raises :class:`UnsupportedError`.
TEST_SERVER_FUNCTIONS = frozenset(n for n in SIGNATURES if n.startswith("ocireg_test_"))


def _mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return -1.0


def _packaged_paths() -> List[str]:
    """The library installed inside the package by ``pip install`` (setuptools-rust names it
    ``_libocireg`` plus one of Python's extension suffixes, e.g. ``_libocireg.abi3.so``)."""
    # importlib.machinery.EXTENSION_SUFFIXES is this list; importing importlib (and warnings
    # with it) would add ~0.6 ms to `import ocireg`.
    import _imp

    return [os.path.join(_HERE, "_libocireg" + suffix) for suffix in _imp.extension_suffixes()]


def candidate_paths() -> List[str]:
    """Where the library is looked for, in order: ``$OCIREG_LIB``; the library installed in
    this package (``ocireg/_libocireg.abi3.so``, put there by ``pip install``); then, for work
    in a source checkout, the repository's ``target/debug`` and ``target/release`` (built by
    ``cargo rustc --lib --crate-type cdylib --features capi,test-server``; within a profile the
    newer of ``target/<profile>/libocireg.so`` and ``target/<profile>/deps/libocireg.so``)."""
    paths = []
    env = os.environ.get("OCIREG_LIB")
    if env:
        paths.append(env)
    paths.extend(_packaged_paths())
    for profile in ("debug", "release"):
        found = []
        for name in _LIB_NAMES:
            for sub in ((), ("deps",)):
                found.append(os.path.join(_REPO_ROOT, "target", profile, *sub, name))
        paths.extend(sorted(found, key=_mtime, reverse=True))  # stable: ties keep this order
    return paths


class Library(ctypes.CDLL):
    """The loaded library: a :class:`ctypes.CDLL` whose functions get their ``restype`` and
    ``argtypes`` from :data:`SIGNATURES` when first looked up, not all at import (which took
    about 0.8 ms for 141 functions). ``CDLL.__getattr__`` looks a name up here once, then keeps
    the function object as an attribute. Two threads looking the same function up at once each
    get a complete function object (the one kept is the last)."""

    def __getitem__(self, name_or_ordinal: Any) -> Any:
        fn: Any = super().__getitem__(name_or_ordinal)
        signature = SIGNATURES.get(name_or_ordinal)
        if signature is not None:
            fn.restype, fn.argtypes = signature
        return fn


def _load() -> Tuple[Library, str]:
    env = os.environ.get("OCIREG_LIB")
    if env:
        # An explicit choice is never silently replaced by another library.
        if not os.path.exists(env):
            raise OSError("ocireg: OCIREG_LIB=%s does not exist" % env)
        return Library(env), env
    tried = []
    for path in candidate_paths():
        if os.path.exists(path):
            return Library(path), path
        tried.append(path)
    raise OSError(
        "ocireg: libocireg not found: install the package with `pip install ./bindings/python` "
        "(it builds the library), or set OCIREG_LIB to a libocireg.so built with "
        "`cargo rustc --lib --crate-type cdylib --features capi,test-server`; "
        "looked in: " + ", ".join(tried)
    )


#: The test-server functions the loaded library lacks (empty when built with `test-server`).
missing_test_functions: List[str] = []


def _check(cdll: Library, path: str) -> None:
    """Checks that the library has every function of :data:`SIGNATURES` (the ones of the
    test registry excepted: those go to :data:`missing_test_functions`)."""
    missing = []
    for name in SIGNATURES:
        try:
            cdll._FuncPtr((name, cdll))  # looks the symbol up and keeps nothing
        except AttributeError:
            if name in TEST_SERVER_FUNCTIONS:
                missing_test_functions.append(name)
            else:
                missing.append(name)
    if missing:
        raise OSError(
            "ocireg: %s lacks %s (a stale build? rebuild it)" % (path, ", ".join(sorted(missing)))
        )


def require_test_server() -> None:
    """Raises :class:`ocireg.UnsupportedError` when the loaded library was built without the
    ``test-server`` feature (and so has no test registry)."""
    if missing_test_functions:
        if len(missing_test_functions) == len(TEST_SERVER_FUNCTIONS):
            what = "it has no ocireg_test_* function"
        else:
            what = "missing " + ", ".join(sorted(missing_test_functions))
        raise errors.UnsupportedError(
            "ocireg: %s was built without the test-server feature (%s); the test registry needs "
            "a library built with `--features capi,test-server`" % (lib_path, what)
        )


lib, lib_path = _load()
_check(lib, lib_path)

_abi = lib.ocireg_abi_version()
if _abi != ABI_VERSION:
    raise OSError(
        "ocireg: %s has ABI version %d, this binding was written for %d"
        % (lib_path, _abi, ABI_VERSION)
    )

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def decode(raw: Optional[bytes]) -> Optional[str]:
    """A borrowed ``const char *`` result (bytes or None) as ``str`` (or None)."""
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")


def take_string(ptr: c_void_p) -> Optional[str]:
    """Reads an owned ``char *`` out-parameter and frees it (None stays None)."""
    addr = ptr.value
    if not addr:
        return None
    try:
        return ctypes.string_at(addr).decode("utf-8", errors="replace")
    finally:
        lib.ocireg_string_free(addr)


def parse_json(text: Union[str, bytes]) -> Any:
    """``json.loads``, with :mod:`json` imported on first use rather than at ``import ocireg``
    (about 1.4 ms most programs never need)."""
    import json

    return json.loads(text)


def take_bytes(ptr: c_void_p, length: c_size_t) -> bytes:
    """Reads an owned ``uint8_t *`` + length and frees it with ``ocireg_bytes_free``."""
    addr, n = ptr.value, length.value
    if not addr:
        return b""
    try:
        return ctypes.string_at(addr, n)
    finally:
        lib.ocireg_bytes_free(addr, n)


def take_string_list(ptr: c_void_p) -> List[str]:
    """Reads an owned ``ocireg_string_list *`` into a list and frees it."""
    addr = ptr.value
    if not addr:
        return []
    try:
        n = lib.ocireg_string_list_len(addr)
        return [decode(lib.ocireg_string_list_get(addr, i)) or "" for i in range(n)]
    finally:
        lib.ocireg_string_list_free(addr)


def error_from_ptr(status: int, err: int) -> errors.OciregError:
    """Builds the exception of an ``ocireg_error *`` and frees the error object."""
    entries: List[errors.ErrorEntry] = []
    body: Optional[str] = None
    try:
        if err:
            status = lib.ocireg_error_status(err)
            message = decode(lib.ocireg_error_message(err)) or ""
            http = lib.ocireg_error_http_status(err)
            code = decode(lib.ocireg_error_registry_code(err))
            retry = lib.ocireg_error_retry_after_secs(err)
            for i in range(lib.ocireg_error_registry_error_count(err)):
                entries.append(
                    errors.ErrorEntry.from_c(
                        decode(lib.ocireg_error_registry_error_code(err, i)) or "",
                        decode(lib.ocireg_error_registry_error_message(err, i)) or "",
                        decode(lib.ocireg_error_registry_error_detail(err, i)),
                    )
                )
            body = decode(lib.ocireg_error_body(err))
        else:
            message, http, code, retry = "", 0, None, -1
    finally:
        lib.ocireg_error_free(err)
    name = status_name(status)
    cls = errors.error_class(status)
    return cls(
        message or name,
        status=status,
        http_status=http or None,
        registry_code=code,
        retry_after=retry if retry >= 0 else None,
        status_name=name,
        errors=entries,
        body=body,
    )


def status_name(status: int) -> str:
    """The name of a status code, e.g. ``"OCIREG_NOT_FOUND"``."""
    if not 0 <= status <= 0xFFFFFFFF:
        return "OCIREG_UNKNOWN_STATUS"
    return decode(lib.ocireg_status_name(status)) or "OCIREG_UNKNOWN_STATUS"


def call(fn: Any, *args: Any) -> int:
    """Calls a fallible C function with ``args`` plus a trailing ``ocireg_error **`` and raises
    the matching :class:`~ocireg.errors.OciregError` when it does not return ``OCIREG_OK``."""
    err = c_void_p()
    status = fn(*args, byref(err))
    if status != 0:
        raise error_from_ptr(status, err.value or 0)
    if err.value:  # never set on success, but never leak either
        lib.ocireg_error_free(err.value)
    return status


def cstr(value: Any, what: str = "argument", optional: bool = False) -> Optional[bytes]:
    """Encodes a ``str`` (or ``bytes``, or path-like) argument as a NUL-terminated C string.

    ``None`` becomes NULL (the library reports a required NULL as ``InvalidArgumentError``).
    Strings that cannot be UTF-8 (lone surrogates) are passed as they are, so the library
    reports them too; an embedded NUL, which C cannot see, is refused here.
    """
    if value is None:
        return None
    if isinstance(value, str):
        raw = value.encode("utf-8", errors="surrogatepass")
    elif isinstance(value, bytes):
        raw = value
    elif isinstance(value, os.PathLike):
        raw = os.fsencode(value)
    else:
        raise TypeError(
            "%s must be str%s, not %s"
            % (what, " or None" if optional else "", type(value).__name__)
        )
    if b"\0" in raw:
        raise errors.InvalidArgumentError(
            "%s contains a NUL character" % what, status=errors.Status.INVALID_ARGUMENT
        )
    return raw


def buffer(data: Any, what: str = "data") -> Tuple[Any, int]:
    """A bytes-like object as ``(pointer argument, length)`` without copying ``bytes`` or a
    writable buffer (``bytearray``, writable ``memoryview``); other buffers are copied."""
    if data is None:
        return None, 0
    if isinstance(data, bytes):
        return (data if data else None), len(data)
    if isinstance(data, str):
        raise TypeError("%s must be bytes-like, not str" % what)
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError("%s must be bytes-like, not %s" % (what, type(data).__name__)) from None
    if not view.c_contiguous:
        copy = view.tobytes()
        return (copy if copy else None), len(copy)
    view = view.cast("B")
    n = view.nbytes
    if n == 0:
        return None, 0
    if not view.readonly:
        return (ctypes.c_char * n).from_buffer(view), n
    return view.tobytes(), n


class CallbackState:
    """Keeps a Python callback's exception away from C: the C trampoline catches everything,
    stores it here and returns the abort code; :meth:`reraise` raises it after the C call."""

    def __init__(self) -> None:
        self.exc: Optional[BaseException] = None

    def capture(self, exc: BaseException) -> None:
        if self.exc is None:
            self.exc = exc

    def reraise(self) -> None:
        """Raises the stored exception (if any), once."""
        exc = self.exc
        if exc is not None:
            self.exc = None
            raise exc


def call_with_callbacks(state: CallbackState, fn: Any, *args: Any) -> int:
    """As :func:`call`, but when a callback stored an exception and the call failed, that
    exception is raised instead of the library's error (usually ``CancelledError``). On success
    the caller takes the outputs, then calls ``state.reraise()``."""
    try:
        return call(fn, *args)
    except errors.OciregError:
        if state.exc is None:
            raise
    state.reraise()
    raise AssertionError("unreachable")  # pragma: no cover


def uint(value: Any, bits: int, what: str) -> int:
    """Checks that an integer argument fits the C unsigned type of ``bits`` bits (ctypes would
    silently wrap it)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = value.__index__()
        except AttributeError:
            raise TypeError("%s must be an int, not %s" % (what, type(value).__name__)) from None
    if not 0 <= value < (1 << bits):
        raise errors.InvalidArgumentError(
            "%s must be between 0 and %d, not %d" % (what, (1 << bits) - 1, value),
            status=errors.Status.INVALID_ARGUMENT,
        )
    return value
