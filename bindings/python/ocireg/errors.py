"""The exceptions of ocireg: one class per ``ocireg_status`` of the C ABI.

Every exception raised for a library failure is an :class:`OciregError` and carries what the
library's ``ocireg_error`` object held: ``message``, ``status`` (the numeric status code),
``status_name`` (e.g. ``"OCIREG_NOT_FOUND"``), ``http_status`` (``None`` when there was no HTTP
answer), ``registry_code`` (the registry's first OCI error code such as ``"NAME_UNKNOWN"``, or
``None``), ``retry_after`` (seconds the registry asked to wait with ``Retry-After``, for
:class:`RateLimitedError` and a 503 :class:`RegistryError`; otherwise ``None``), ``errors``
(every entry of the registry's ``{"errors": [...]}`` answer, as :class:`ErrorEntry` tuples of
``code``, ``message`` and ``detail``) and ``body`` (the registry's error answer as it came,
at most 64 KiB, or ``None``).

Where a built-in exception means the same thing, the class also derives from it, so that
``except TimeoutError`` or ``except ValueError`` keep working: :class:`TimeoutError` is a
:class:`builtins.TimeoutError`, :class:`NetworkError` a :class:`ConnectionError`,
:class:`IoError` an :class:`OSError`, and :class:`InvalidArgumentError` /
:class:`InvalidReferenceError` are :class:`ValueError`.
"""

from __future__ import annotations

import builtins

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, NamedTuple, Optional, Sequence
else:
    from ._namedtuple import NamedTuple

__all__ = [
    "Status",
    "ErrorEntry",
    "OciregError",
    "InvalidArgumentError",
    "InvalidReferenceError",
    "AuthenticationError",
    "AuthorizationError",
    "NotFoundError",
    "TlsError",
    "NetworkError",
    "TimeoutError",
    "RateLimitedError",
    "RegistryError",
    "DigestMismatchError",
    "UnsupportedError",
    "CredentialsError",
    "IoError",
    "CancelledError",
    "VerifyFailedError",
    "ProtocolError",
    "PanicError",
]


class Status:
    """The ``ocireg_status`` codes (stable numbers, never reused)."""

    OK = 0
    INVALID_ARGUMENT = 1
    INVALID_REFERENCE = 2
    AUTHENTICATION = 3
    AUTHORIZATION = 4
    NOT_FOUND = 5
    TLS = 6
    NETWORK = 7
    TIMEOUT = 8
    RATE_LIMITED = 9
    REGISTRY = 10
    DIGEST_MISMATCH = 11
    UNSUPPORTED = 12
    CREDENTIALS = 13
    IO = 14
    CANCELLED = 15
    VERIFY_FAILED = 16
    PROTOCOL = 17
    PANIC = 99


class ErrorEntry(NamedTuple):
    """One entry of a registry's ``{"errors": [{"code", "message", "detail"}]}`` answer:
    ``code`` (e.g. ``"MANIFEST_UNKNOWN"``; ``""`` when the entry had none), ``message``
    (``""`` when none) and ``detail`` (the entry's ``detail`` parsed from JSON, e.g.
    ``{"name": "team/app"}``; ``None`` when it had none)."""

    code: str
    message: str
    detail: Any = None

    @classmethod
    def from_c(cls, code: str, message: str, detail_json: Optional[str]) -> "ErrorEntry":
        """An entry from the C accessors (``detail_json`` is JSON text or None)."""
        detail: Any = None
        if detail_json is not None:
            import json

            try:
                detail = json.loads(detail_json)
            except ValueError:  # never expected: the library writes JSON; keep the text
                detail = detail_json
        return cls(code, message, detail)


class OciregError(Exception):
    """Base class of every ocireg failure."""

    #: The status code this class stands for (overridden by each subclass).
    default_status = -1

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        http_status: Optional[int] = None,
        registry_code: Optional[str] = None,
        retry_after: Optional[int] = None,
        status_name: Optional[str] = None,
        errors: Optional[Sequence[ErrorEntry]] = None,
        body: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = self.default_status if status is None else status
        self.status_name = status_name
        self.http_status = http_status
        self.registry_code = registry_code
        self.retry_after = retry_after
        #: Every entry of the registry's ``errors[]`` answer (empty when there was none).
        self.errors: List[ErrorEntry] = [ErrorEntry(*e) for e in (errors or ())]
        #: The registry's error answer as it came (capped at 64 KiB), or None.
        self.body = body

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        extra = ""
        if self.http_status is not None:
            extra += ", http_status=%d" % self.http_status
        if self.registry_code is not None:
            extra += ", registry_code=%r" % self.registry_code
        if self.retry_after is not None:
            extra += ", retry_after=%d" % self.retry_after
        return "%s(%r, status=%d%s)" % (type(self).__name__, self.message, self.status, extra)

    def __reduce__(self):
        return (
            type(self),
            (
                self.message,
                self.status,
                self.http_status,
                self.registry_code,
                self.retry_after,
                self.status_name,
                [tuple(e) for e in self.errors],
                self.body,
            ),
        )


class InvalidArgumentError(OciregError, ValueError):
    """A required value was missing, a string was not UTF-8, or an argument or document was
    malformed (``OCIREG_INVALID_ARGUMENT``)."""

    default_status = Status.INVALID_ARGUMENT


class InvalidReferenceError(OciregError, ValueError):
    """An image reference, repository name, tag or digest is malformed."""

    default_status = Status.INVALID_REFERENCE


class AuthenticationError(OciregError):
    """The registry rejected the credentials, or demands credentials that were not given (401)."""

    default_status = Status.AUTHENTICATION


class AuthorizationError(OciregError):
    """The credentials do not grant this operation (403, ``DENIED``, insufficient scope)."""

    default_status = Status.AUTHORIZATION


class NotFoundError(OciregError):
    """The repository, tag, manifest or blob does not exist (404)."""

    default_status = Status.NOT_FOUND


class TlsError(OciregError):
    """TLS failed: untrusted certificate, wrong host name, handshake failure, bad PEM."""

    default_status = Status.TLS


class NetworkError(OciregError, ConnectionError):
    """The registry could not be reached, or the connection broke."""

    default_status = Status.NETWORK


class TimeoutError(OciregError, builtins.TimeoutError):  # noqa: A001 (shadows the built-in on purpose)
    """A configured timeout, or a call's ``timeout=`` deadline, expired."""

    default_status = Status.TIMEOUT


class RateLimitedError(OciregError):
    """HTTP 429 that persisted through the retry policy; ``retry_after`` holds the seconds the
    registry asked to wait (``None`` when it did not say)."""

    default_status = Status.RATE_LIMITED


class RegistryError(OciregError):
    """Any other error answer from the registry; see ``http_status`` and ``registry_code``."""

    default_status = Status.REGISTRY


class DigestMismatchError(OciregError):
    """Content did not hash to the digest it should have."""

    default_status = Status.DIGEST_MISMATCH


class UnsupportedError(OciregError):
    """The registry does not implement the API this operation needs (e.g. no catalog)."""

    default_status = Status.UNSUPPORTED


class CredentialsError(OciregError):
    """A credential store, helper program or docker config file failed."""

    default_status = Status.CREDENTIALS


class IoError(OciregError, OSError):
    """A local file operation failed."""

    default_status = Status.IO


class CancelledError(OciregError):
    """The operation was cancelled: its :class:`ocireg.Cancel` was triggered, or a callback
    asked to stop."""

    default_status = Status.CANCELLED


class VerifyFailedError(OciregError):
    """A push verification ran and its report says the push is not correct; ``report`` holds
    the :class:`ocireg.VerifyReport` when there is one."""

    default_status = Status.VERIFY_FAILED

    report = None


class ProtocolError(OciregError):
    """The registry answered something a registry must not (a cross-origin ``Link`` or
    redirect, a wrong ``Range`` answer, an oversized body): not the caller's fault."""

    default_status = Status.PROTOCOL


class PanicError(OciregError):
    """A Rust panic was caught at the library boundary (a bug in ocireg)."""

    default_status = Status.PANIC


#: Each status code's class: every direct subclass of OciregError above stands for one.
_BY_STATUS = {cls.default_status: cls for cls in OciregError.__subclasses__()}


def error_class(status: int) -> type:
    """The exception class for a status code (:class:`OciregError` for an unknown one)."""
    return _BY_STATUS.get(status, OciregError)
