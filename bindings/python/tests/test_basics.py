"""Loading, versions, status names, the exception hierarchy, panics, handle ownership."""

import builtins
import gc
import os
import pickle

import pytest

import ocireg
from ocireg import _ffi


def test_versions():
    assert ocireg.abi_version() == ocireg.ABI_VERSION == 2
    assert ocireg.version() == "0.1.0"
    assert ocireg.__version__ == "0.1.0"
    # $OCIREG_LIB or target/*/libocireg.so, or the package's own _libocireg.abi3.so
    name = os.path.basename(ocireg.library_path())
    assert name.startswith(("libocireg.", "_libocireg.", "ocireg.")), name


def test_status_names():
    assert ocireg.status_name(0) == "OCIREG_OK"
    assert ocireg.status_name(5) == "OCIREG_NOT_FOUND"
    assert ocireg.status_name(99) == "OCIREG_PANIC"
    assert ocireg.status_name(1234) == "OCIREG_UNKNOWN_STATUS"
    assert ocireg.status_name(-1) == "OCIREG_UNKNOWN_STATUS"


def test_every_status_has_its_class():
    expected = {
        ocireg.Status.INVALID_ARGUMENT: ocireg.InvalidArgumentError,
        ocireg.Status.INVALID_REFERENCE: ocireg.InvalidReferenceError,
        ocireg.Status.AUTHENTICATION: ocireg.AuthenticationError,
        ocireg.Status.AUTHORIZATION: ocireg.AuthorizationError,
        ocireg.Status.NOT_FOUND: ocireg.NotFoundError,
        ocireg.Status.TLS: ocireg.TlsError,
        ocireg.Status.NETWORK: ocireg.NetworkError,
        ocireg.Status.TIMEOUT: ocireg.TimeoutError,
        ocireg.Status.RATE_LIMITED: ocireg.RateLimitedError,
        ocireg.Status.REGISTRY: ocireg.RegistryError,
        ocireg.Status.DIGEST_MISMATCH: ocireg.DigestMismatchError,
        ocireg.Status.UNSUPPORTED: ocireg.UnsupportedError,
        ocireg.Status.CREDENTIALS: ocireg.CredentialsError,
        ocireg.Status.IO: ocireg.IoError,
        ocireg.Status.CANCELLED: ocireg.CancelledError,
        ocireg.Status.VERIFY_FAILED: ocireg.VerifyFailedError,
        ocireg.Status.PROTOCOL: ocireg.ProtocolError,
        ocireg.Status.PANIC: ocireg.PanicError,
    }
    for status, cls in expected.items():
        assert ocireg.errors.error_class(status) is cls
        assert issubclass(cls, ocireg.OciregError)
        assert cls.default_status == status
        # Each status name is known to the library.
        assert ocireg.status_name(status) != "OCIREG_UNKNOWN_STATUS"
    assert ocireg.errors.error_class(1234) is ocireg.OciregError
    # Built-in bases, so that generic handlers keep working.
    assert issubclass(ocireg.TimeoutError, builtins.TimeoutError)
    assert issubclass(ocireg.NetworkError, ConnectionError)
    assert issubclass(ocireg.IoError, OSError)
    assert issubclass(ocireg.InvalidArgumentError, ValueError)
    assert issubclass(ocireg.InvalidReferenceError, ValueError)


def test_error_attributes_and_pickling():
    e = ocireg.RateLimitedError("slow down", http_status=429, registry_code="TOOMANYREQUESTS", retry_after=7)
    assert str(e) == "slow down" and e.status == ocireg.Status.RATE_LIMITED
    assert "retry_after=7" in repr(e)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is ocireg.RateLimitedError
    assert (again.message, again.http_status, again.registry_code, again.retry_after) == (
        "slow down", 429, "TOOMANYREQUESTS", 7)


def test_panic_is_caught_and_the_process_goes_on():
    with pytest.raises(ocireg.PanicError) as info:
        ocireg.testing.panic("boom")
    assert info.value.message == "panic: boom"
    assert info.value.status == 99 and info.value.status_name == "OCIREG_PANIC"
    with pytest.raises(ocireg.PanicError, match="panic: test panic"):
        ocireg.testing.panic()
    assert ocireg.version() == "0.1.0"


def test_error_object_accessors_accept_null():
    lib = _ffi.lib
    assert lib.ocireg_error_status(None) == ocireg.Status.INVALID_ARGUMENT
    assert lib.ocireg_error_message(None) is None
    assert lib.ocireg_error_http_status(None) == 0
    assert lib.ocireg_error_registry_code(None) is None
    assert lib.ocireg_error_retry_after_secs(None) == -1
    # Every free function accepts NULL.
    for name in _ffi.SIGNATURES:
        if name.endswith("_free") and name != "ocireg_bytes_free":
            getattr(lib, name)(None)
    lib.ocireg_bytes_free(None, 0)


def test_null_out_parameters_are_invalid_arguments():
    lib = _ffi.lib
    with pytest.raises(ocireg.InvalidArgumentError):
        _ffi.call(lib.ocireg_options_new, None)
    with pytest.raises(ocireg.InvalidArgumentError):
        _ffi.call(lib.ocireg_image_builder_new, None)
    with pytest.raises(ocireg.InvalidArgumentError):
        _ffi.call(lib.ocireg_client_new, None, None, None)
    # A NULL error pointer is allowed: only the status comes back.
    assert lib.ocireg_client_new(None, None, None, None) == ocireg.Status.INVALID_ARGUMENT


def test_string_list_accessors_accept_null():
    lib = _ffi.lib
    assert lib.ocireg_string_list_len(None) == 0
    assert lib.ocireg_string_list_get(None, 0) is None


def test_closed_handles_refuse_calls(registry):
    client = registry.client()
    client.close()
    client.close()  # twice is fine
    assert client.closed
    with pytest.raises(ocireg.InvalidArgumentError, match="closed"):
        client.ping()
    with ocireg.ImageBuilder() as builder:
        pass
    with pytest.raises(ocireg.InvalidArgumentError):
        builder.build()


def test_handles_are_freed_by_the_garbage_collector(registry):
    for _ in range(50):
        c = registry.client()
        c.ping()
        del c
    gc.collect()


def test_bad_argument_types_raise_type_error(client):
    with pytest.raises(TypeError):
        client.tags(42)
    with pytest.raises(TypeError):
        client.push_blob("a/b", 3.5)
    with pytest.raises(TypeError):
        client.push_image("a/b", "v1", 17)
    with pytest.raises(TypeError):
        ocireg.Client("127.0.0.1:1", ca_cert=12)
