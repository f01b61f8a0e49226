"""ocireg: a synchronous OCI / Docker registry client (Python binding of ``libocireg``).

::

    import ocireg

    with ocireg.Client("registry.example.com", "alice", "secret") as client:
        print(client.tags("team/app"))
        image = (ocireg.ImageBuilder()
                 .set_config(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
                 .add_layer("layer.tar.gz")
                 .build())
        pushed = client.push_image("team/app", "v1", image)
        assert client.verify("team/app", pushed).ok

The library is the one ``pip install`` built into this package; ``$OCIREG_LIB`` overrides it
(development), and in a source checkout the repository's ``target/debug`` and
``target/release`` are tried last. Every call releases the GIL; a
:class:`Client` may be shared by many threads.
"""

from __future__ import annotations

from . import _ffi
from ._models import (
    DeletedTag,
    Descriptor,
    LayerFile,
    Manifest,
    ManifestSizes,
    Progress,
    Pulled,
    PulledLayers,
    Pushed,
    VerifyReport,
    manifest_sizes,
)
from .blob import BlobReader
from .cancel import Cancel
from .client import Client, login, logout
from .errors import (
    AuthenticationError,
    AuthorizationError,
    CancelledError,
    CredentialsError,
    DigestMismatchError,
    ErrorEntry,
    InvalidArgumentError,
    InvalidReferenceError,
    IoError,
    NetworkError,
    NotFoundError,
    OciregError,
    PanicError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    Status,
    TimeoutError,
    TlsError,
    UnsupportedError,
    VerifyFailedError,
)
from .image import LAYER_TAR, LAYER_TAR_GZIP, Image, ImageBuilder
from .retry import Backoff

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List

    from ._enums import Outcome, ProgressEvent

__version__ = "0.1.0"

#: The ABI version this binding was written for.
ABI_VERSION = _ffi.ABI_VERSION


def version() -> str:
    """The loaded library's version, e.g. ``"0.1.0"``."""
    return _ffi.decode(_ffi.lib.ocireg_version()) or ""


def abi_version() -> int:
    """The loaded library's ABI version (checked against :data:`ABI_VERSION` at import)."""
    return int(_ffi.lib.ocireg_abi_version())


def library_path() -> str:
    """The path of the loaded ``libocireg``."""
    return _ffi.lib_path


def status_name(status: int) -> str:
    """The name of a status code, e.g. ``status_name(5) == "OCIREG_NOT_FOUND"``."""
    return _ffi.status_name(status)


#: The public names made on first use, by __getattr__ (not ``testing``, a submodule).
_LAZY = ("Outcome", "ProgressEvent")


def __getattr__(name: str) -> Any:
    # ProgressEvent and Outcome (enums) are made on first use: enum, with functools and
    # collections, costs ~2 ms of the import (see ocireg._enums). Kept here once made.
    if name in _LAZY:
        from . import _enums

        value = globals()[name] = getattr(_enums, name)
        return value
    # ocireg.testing (the in-memory test registry, for tests) is imported on first use: most
    # programs never need it. Importing the submodule makes it an attribute of the package.
    # (Not `from . import testing`, which asks this function for the attribute first; not
    # importlib.import_module: importing importlib costs ~0.6 ms.)
    if name == "testing":
        import sys

        __import__(__name__ + ".testing")
        return sys.modules[__name__ + ".testing"]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__() -> List[str]:
    # dir(ocireg) lists ProgressEvent and Outcome before they are made, as it always did.
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ABI_VERSION",
    "AuthenticationError",
    "AuthorizationError",
    "Backoff",
    "BlobReader",
    "Cancel",
    "CancelledError",
    "Client",
    "CredentialsError",
    "DeletedTag",
    "Descriptor",
    "DigestMismatchError",
    "ErrorEntry",
    "Image",
    "ImageBuilder",
    "InvalidArgumentError",
    "InvalidReferenceError",
    "IoError",
    "LAYER_TAR",
    "LAYER_TAR_GZIP",
    "LayerFile",
    "Manifest",
    "ManifestSizes",
    "NetworkError",
    "NotFoundError",
    "OciregError",
    "Outcome",
    "PanicError",
    "ProtocolError",
    "Progress",
    "ProgressEvent",
    "Pulled",
    "PulledLayers",
    "Pushed",
    "RateLimitedError",
    "RegistryError",
    "Status",
    "TimeoutError",
    "TlsError",
    "UnsupportedError",
    "VerifyFailedError",
    "VerifyReport",
    "abi_version",
    "library_path",
    "login",
    "logout",
    "manifest_sizes",
    "status_name",
    "testing",
    "version",
]
