"""Retry control: the backoff policy (:class:`Backoff`) and the retry callback
(``retry_notify=`` of :class:`ocireg.Client`), the Go seed's ``GetBackOff`` / ``RetryNotify``.

A retry callback is called with the error that caused the retry and the delay before the next
attempt, in seconds::

    def notify(error: ocireg.OciregError, delay: float) -> None:
        log.warning("%s %s: %s; retry %d in %.1f s",
                    error.method, error.path, error, error.attempt, delay)

    client = ocireg.Client("registry.example.com", retry_notify=notify,
                           backoff=ocireg.Backoff(initial=0.5, max_interval=30))

It runs on the thread that made the call, before the call returns. It cannot stop the retries
(a :class:`ocireg.Cancel` or ``timeout=`` can); an exception it raises is kept until the call
returns and then raised from the call in place of its result or its error — it never reaches
the C library.
"""

from __future__ import annotations

# Not threading, contextlib, collections.abc (which imports collections) nor warnings: with
# what they pull in, over 1 ms of `import ocireg`. threading.local is _thread._local, and
# collections.abc.Mapping is _collections_abc.Mapping (loaded at start-up: `os` uses it).
from _collections_abc import Mapping
from _thread import _local as _thread_local
from . import _ffi, errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, NamedTuple, Optional

    #: A retry callback: ``callback(error, delay_seconds)``.
    RetryCallback = Callable[[errors.OciregError, float], Any]
else:
    from ._namedtuple import NamedTuple


class Backoff(NamedTuple):
    """The wait between retries, in seconds: the first wait ``initial``, each next one
    ``multiplier`` times longer (at least 1), at most ``max_interval``, less a random part of
    up to ``jitter`` (0 to 1) of it; no retry starts later than ``max_elapsed`` after the first
    attempt (None: no such limit; ``max_retries`` of the client bounds the count). A registry's
    ``Retry-After`` replaces the wait. The defaults are the library's."""

    initial: float = 0.2
    multiplier: float = 2.0
    max_interval: float = 10.0
    max_elapsed: Optional[float] = None
    jitter: float = 0.5


def _ms(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds, not %s" % (what, type(value).__name__))
    if value < 0:
        raise errors.InvalidArgumentError(
            "%s must not be negative" % what, status=errors.Status.INVALID_ARGUMENT
        )
    return _ffi.uint(int(round(value * 1000)), 64, what)


def set_backoff(opts: int, backoff: Any) -> None:
    """Applies a :class:`Backoff` (or a mapping of its fields) to a live ``ocireg_options *``."""
    if isinstance(backoff, Mapping):
        backoff = Backoff(**backoff)
    if not isinstance(backoff, Backoff):
        raise TypeError("backoff must be an ocireg.Backoff, not %s" % type(backoff).__name__)
    for name in ("multiplier", "jitter"):
        value = getattr(backoff, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("backoff.%s must be a number, not %s" % (name, type(value).__name__))
    _ffi.call(
        _ffi.lib.ocireg_options_set_backoff,
        opts,
        _ms(backoff.initial, "backoff.initial"),
        float(backoff.multiplier),
        _ms(backoff.max_interval, "backoff.max_interval"),
        0 if backoff.max_elapsed is None else max(_ms(backoff.max_elapsed, "backoff.max_elapsed"), 1),
        float(backoff.jitter),
    )


# ---------------------------------------------------------------------------------------------
# Exceptions raised by callbacks, kept per thread until the call returns
# ---------------------------------------------------------------------------------------------

_local = _thread_local()


def _frames() -> List[List[BaseException]]:
    frames = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


class callback_frame:
    """``with callback_frame():`` wraps one public call: an exception a retry callback raised
    during it (on this thread) is raised when the call returns, in place of its result or
    error (the call's own error becomes its ``__context__``)."""

    __slots__ = ("_frames", "_mine")

    def __enter__(self) -> None:
        self._frames = frames = _frames()
        self._mine: List[BaseException] = []
        frames.append(self._mine)

    def __exit__(self, *exc_info: Any) -> None:
        frames, mine = self._frames, self._mine
        if frames and frames[-1] is mine:
            frames.pop()
        if mine:
            raise mine[0]


def _keep(exc: BaseException) -> None:
    frames = _frames()
    if frames:
        if not frames[-1]:
            frames[-1].append(exc)
    else:  # a call outside any frame: never silent
        import warnings

        warnings.warn(
            "exception in an ocireg retry_notify callback: %r" % (exc,), RuntimeWarning, stacklevel=2
        )


def retry_error(method: str, path: str, attempt: int, status: int, reason: str) -> errors.OciregError:
    """The exception describing the failure that caused a retry: :class:`RateLimitedError`
    for a 429, :class:`RegistryError` for another HTTP status, :class:`TimeoutError` or
    :class:`NetworkError` when there was no answer; with ``method``, ``path`` (no query) and
    ``attempt`` (1 for the first retry) attributes."""
    if status == 429:
        cls: type = errors.RateLimitedError
    elif status:
        cls = errors.RegistryError
    elif "timed out" in reason.lower() or "timeout" in reason.lower():
        cls = errors.TimeoutError
    else:
        cls = errors.NetworkError
    err = cls(reason, http_status=status or None)
    err.method = method  # type: ignore[attr-defined]
    err.path = path  # type: ignore[attr-defined]
    err.attempt = attempt  # type: ignore[attr-defined]
    return err


def retry_trampoline(callback: Callable[..., Any]):
    """A C ``ocireg_retry_fn`` calling ``callback(error, delay_seconds)``. Keep the returned
    object referenced for as long as a client built with it lives."""
    if not callable(callback):
        raise TypeError("retry_notify must be callable, not %s" % type(callback).__name__)

    def trampoline(_userdata, method, path, attempt, status, reason, delay_ms):
        try:
            err = retry_error(
                _ffi.decode(method) or "",
                _ffi.decode(path) or "",
                attempt,
                status,
                _ffi.decode(reason) or "",
            )
            callback(err, delay_ms / 1000.0)
        except BaseException as exc:  # never let an exception reach C
            _keep(exc)

    return _ffi.RETRY_FN(trampoline)
