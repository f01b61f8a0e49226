"""The registry client, and login / logout."""

from __future__ import annotations

import ctypes
import os
from ctypes import byref, c_int, c_size_t, c_uint64, c_void_p

from . import _ffi, errors, retry
from ._handle import Handle, _Borrow
from ._models import (
    DeletedTag,
    Descriptor,
    Manifest,
    Pulled,
    PulledLayers,
    Pushed,
    VerifyReport,
    progress_trampoline,
)
from .blob import BlobReader, open_reader
from .cancel import Cancel
from .image import Image
from .retry import Backoff

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import (
        Any,
        Callable,
        Dict,
        List,
        Mapping,
        Optional,
        Sequence,
        Tuple,
        TypeVar,
        Union,
    )

    from ._models import ProgressCallback
    from .retry import RetryCallback

    PathLike = Union[str, "os.PathLike[str]"]
    #: PEM data (bytes, or str starting with ``-----BEGIN``) or the path of a PEM file.
    Pem = Union[bytes, str, "os.PathLike[str]"]

    _F = TypeVar("_F", bound=Callable[..., Any])
    _T = TypeVar("_T")

lib = _ffi.lib

_TIMEOUTS = (
    ("connect_timeout", _ffi.TIMEOUT_CONNECT),
    ("response_timeout", _ffi.TIMEOUT_RESPONSE),
    ("read_timeout", _ffi.TIMEOUT_READ),
    ("write_timeout", _ffi.TIMEOUT_WRITE),
    ("timeout", _ffi.TIMEOUT_OVERALL),
)


def _invalid(message: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(message, status=errors.Status.INVALID_ARGUMENT)


def _pem(value: Pem, what: str) -> bytes:
    """PEM bytes from PEM data or a file path."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode("utf-8")
    if isinstance(value, (str, os.PathLike)):
        try:
            with open(value, "rb") as f:
                return f.read()
        except OSError as exc:
            raise errors.IoError(
                "cannot read %s %s: %s" % (what, os.fspath(value), exc.strerror or exc),
                status=errors.Status.IO,
            ) from exc
    raise TypeError("%s must be PEM bytes or a path, not %s" % (what, type(value).__name__))


def _seconds_to_ms(value: float, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds, not %s" % (what, type(value).__name__))
    if value < 0:
        raise _invalid("%s must not be negative" % what)
    return _ffi.uint(int(round(value * 1000)), 64, what)


def _network(fn: _F) -> _F:
    """Marks a public call: an exception a retry callback raised during it is raised from it
    when it returns (see :mod:`ocireg.retry`). The wrapper looks like ``fn`` as
    :func:`functools.wraps` makes it (not used: functools and what it imports cost ~1 ms of
    ``import ocireg``)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with retry.callback_frame():
            return fn(*args, **kwargs)

    for name in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
        setattr(wrapper, name, getattr(fn, name))
    wrapper.__dict__.update(fn.__dict__)
    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _deadline_ms(timeout: Any) -> int:
    """A per-call ``timeout=`` (seconds, > 0) in milliseconds (at least 1)."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds, not %s" % type(timeout).__name__)
    if not timeout > 0:
        raise _invalid("timeout must be a positive number of seconds, not %r" % (timeout,))
    return _ffi.uint(max(int(round(timeout * 1000)), 1), 64, "timeout")


def _check_cancel(cancel: Any) -> Optional[Cancel]:
    if cancel is not None and not isinstance(cancel, Cancel):
        raise TypeError("cancel must be an ocireg.Cancel, not %s" % type(cancel).__name__)
    return cancel


def _set_options(opts: int, settings: Mapping[str, Any]) -> List[Any]:
    """Applies keyword settings (those of :class:`Client`, checked by :func:`_option_settings`) to
    a live ``ocireg_options *``; a setting that is absent keeps its default. Returns the objects
    that must stay referenced for as long as a client built from the options lives (the retry
    callback)."""
    keepalive: List[Any] = []
    get = settings.get
    if get("username") is not None or get("password") is not None:
        _ffi.call(
            lib.ocireg_options_set_username_password,
            opts,
            _ffi.cstr(get("username"), "username"),
            _ffi.cstr(get("password"), "password"),
        )
    # The settings that are one string each.
    for name, setter in (
        ("identity_token", lib.ocireg_options_set_identity_token),
        ("bearer_token", lib.ocireg_options_set_bearer_token),
        ("docker_config", lib.ocireg_options_set_docker_config),
        ("user_agent", lib.ocireg_options_set_user_agent),
    ):
        if get(name) is not None:
            _ffi.call(setter, opts, _ffi.cstr(get(name), name))
    if get("anonymous"):
        _ffi.call(lib.ocireg_options_set_anonymous, opts)
    if get("insecure"):
        _ffi.call(lib.ocireg_options_set_insecure, opts, 1)
    ca_cert = get("ca_cert")
    if ca_cert is not None:
        certs = ca_cert if isinstance(ca_cert, (list, tuple)) else [ca_cert]
        for cert in certs:
            pem = _pem(cert, "ca_cert")
            _ffi.call(lib.ocireg_options_set_ca_cert_pem, opts, pem or None, len(pem))
    client_cert, client_key = get("client_cert"), get("client_key")
    if client_cert is not None or client_key is not None:
        if client_cert is None or client_key is None:
            raise _invalid("client_cert and client_key go together")
        cert, key = _pem(client_cert, "client_cert"), _pem(client_key, "client_key")
        _ffi.call(
            lib.ocireg_options_set_client_cert_pem,
            opts,
            cert or None,
            len(cert),
            key or None,
            len(key),
        )
    if get("proxy") is not None:
        _ffi.call(lib.ocireg_options_set_proxy, opts, _ffi.cstr(get("proxy"), "proxy"))
    if get("proxy_from_env"):
        _ffi.call(lib.ocireg_options_set_proxy_from_env, opts, 1)
    if get("max_retries") is not None:
        _ffi.call(
            lib.ocireg_options_set_max_retries,
            opts,
            _ffi.uint(get("max_retries"), 32, "max_retries"),
        )
    low_speed_limit = get("low_speed_limit")
    if low_speed_limit is not None:
        try:
            rate, window = low_speed_limit
        except (TypeError, ValueError):
            raise _invalid("low_speed_limit must be (bytes_per_second, seconds)") from None
        _ffi.call(
            lib.ocireg_options_set_low_speed_limit,
            opts,
            _ffi.uint(rate, 64, "low_speed_limit bytes_per_second"),
            _seconds_to_ms(window, "low_speed_limit seconds"),
        )
    for name, kind in _TIMEOUTS:
        value = get(name)
        if value is not None:
            _ffi.call(lib.ocireg_options_set_timeout_ms, opts, kind, _seconds_to_ms(value, name))
    if get("backoff") is not None:
        retry.set_backoff(opts, get("backoff"))
    if get("retry_notify") is not None:
        trampoline = retry.retry_trampoline(get("retry_notify"))
        _ffi.call(lib.ocireg_options_set_retry_notify, opts, trampoline, None)
        keepalive.append(trampoline)
    return keepalive


class _Options:
    """A temporary ``ocireg_options *``, freed on leaving the ``with`` block."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.ptr: Optional[int] = None
        #: What must outlive the clients built from these options.
        self.keepalive: List[Any] = []

    def __enter__(self) -> int:
        out = c_void_p()
        _ffi.call(lib.ocireg_options_new, byref(out))
        self.ptr = out.value
        try:
            self.keepalive = _set_options(self.ptr, self.settings)
        except BaseException:
            self.__exit__()
            raise
        return self.ptr  # type: ignore[return-value]

    def __exit__(self, *exc_info: Any) -> None:
        ptr, self.ptr = self.ptr, None
        lib.ocireg_options_free(ptr)


class _PushOptions:
    """A temporary ``ocireg_push_options *`` (None when every setting is at its default)."""

    def __init__(
        self,
        threads: Optional[int],
        chunk_size: Optional[int],
        mount_from: Optional[str],
        skip_existing: Optional[bool],
    ) -> None:
        self.settings = (threads, chunk_size, mount_from, skip_existing)
        self.ptr: Optional[int] = None

    def __enter__(self) -> Optional[int]:
        threads, chunk_size, mount_from, skip_existing = self.settings
        if all(s is None for s in self.settings):
            return None
        out = c_void_p()
        _ffi.call(lib.ocireg_push_options_new, byref(out))
        self.ptr = out.value
        try:
            if threads is not None:
                _ffi.call(
                    lib.ocireg_push_options_set_threads, self.ptr, _ffi.uint(threads, 32, "threads")
                )
            if chunk_size is not None:
                _ffi.call(
                    lib.ocireg_push_options_set_chunked,
                    self.ptr,
                    _ffi.uint(chunk_size, 64, "chunk_size"),
                )
            if mount_from is not None:
                _ffi.call(
                    lib.ocireg_push_options_set_mount_from,
                    self.ptr,
                    _ffi.cstr(mount_from, "mount_from"),
                )
            if skip_existing is not None:
                _ffi.call(
                    lib.ocireg_push_options_set_skip_existing, self.ptr, 1 if skip_existing else 0
                )
        except BaseException:
            self.__exit__()
            raise
        return self.ptr

    def __exit__(self, *exc_info: Any) -> None:
        ptr, self.ptr = self.ptr, None
        lib.ocireg_push_options_free(ptr)


def _stream_size(stream: Any) -> int:
    """The bytes left in a seekable binary stream."""
    try:
        seekable = stream.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    if not seekable:
        raise _invalid("size= is required to push a blob from a stream that cannot seek")
    here = stream.tell()
    end = stream.seek(0, os.SEEK_END)
    stream.seek(here, os.SEEK_SET)
    return max(end - here, 0)


def _read_trampoline(stream: Any, state: _ffi.CallbackState):
    readinto = getattr(stream, "readinto", None)
    read = getattr(stream, "read", None)
    if readinto is None and read is None:
        raise TypeError("data must be bytes-like, a path, or a readable binary stream")

    def trampoline(_userdata, buf, cap):
        try:
            if cap == 0:
                return 0
            if readinto is not None:
                view = memoryview((ctypes.c_char * cap).from_address(buf)).cast("B")
                n = readinto(view)
                view.release()
                if n is None:
                    raise BlockingIOError("the stream has no data ready (non-blocking stream)")
            else:
                chunk = read(cap)
                if chunk is None:
                    raise BlockingIOError("the stream has no data ready (non-blocking stream)")
                if isinstance(chunk, str):
                    raise TypeError("the stream must be binary (read() returned str)")
                n = len(chunk)
                if n > cap:
                    raise ValueError("read(%d) returned %d bytes" % (cap, n))
                ctypes.memmove(buf, bytes(chunk), n)
            return n
        except BaseException as exc:  # never let an exception reach C
            state.capture(exc)
            return -1

    return _ffi.READ_FN(trampoline)


def _write_trampoline(sink: Any, state: _ffi.CallbackState):
    if callable(sink) and not hasattr(sink, "write"):
        write: Callable[[bytes], Any] = sink
    else:
        write = getattr(sink, "write", None)  # type: ignore[assignment]
        if write is None:
            raise TypeError("dest must be a path, a writable binary stream or a callable")

    def trampoline(_userdata, buf, n):
        try:
            data = ctypes.string_at(buf, n)
            written = write(data)
            # Raw (unbuffered) streams may write less than asked: write the rest.
            rest = memoryview(data)
            while isinstance(written, int) and 0 <= written < len(rest):
                if written == 0:
                    raise OSError("write() wrote nothing")
                rest = rest[written:]
                written = write(rest)
            return 0
        except BaseException as exc:  # never let an exception reach C
            state.capture(exc)
            return 1

    return _ffi.WRITE_FN(trampoline)


def _leave(entered: List[Any]) -> None:
    """Leaves the context managers ``entered`` (:class:`_Borrow`, :class:`_Bound`: they
    ignore the exception and never suppress it), the last one first, every one even if one
    fails."""
    if entered:
        cm = entered.pop()
        try:
            cm.__exit__(None, None, None)
        finally:
            _leave(entered)


class _Bound:
    """``with _Bound(client, cancel, ms) as ptr``: a client bound to ``cancel`` (or None) and
    a deadline ``ms`` from now (0: none) for one call (see ``Client._use``), freed after it;
    the client and the cancel handle stay borrowed meanwhile."""

    __slots__ = ("_borrows", "_ms", "_ptr")

    def __init__(self, client: Client, cancel: Optional[Cancel], ms: int) -> None:
        self._borrows = [client._borrow()]
        if cancel is not None:
            self._borrows.append(cancel._borrow())
        self._ms = ms
        self._ptr: Optional[int] = None

    def __enter__(self) -> int:
        entered: List[Any] = []
        try:
            ptrs = []
            for borrow in self._borrows:
                ptrs.append(borrow.__enter__())
                entered.append(borrow)
            out = c_void_p()
            cancel_ptr = ptrs[1] if len(ptrs) > 1 else None
            _ffi.call(lib.ocireg_client_bind, ptrs[0], cancel_ptr, self._ms, byref(out))
        except BaseException:
            _leave(entered)
            raise
        self._ptr = out.value
        return out.value  # type: ignore[return-value]

    def __exit__(self, *exc_info: Any) -> None:
        try:
            lib.ocireg_client_free(self._ptr)
        finally:
            _leave(list(self._borrows))


class Client(Handle):
    """A client of one registry: one connection pool, one token cache. Thread-safe: one client
    may serve many threads at once.

    ``registry`` is ``host``, ``host:port``, ``http://host:port``, ``https://host/base/path`` or
    ``https://user:password@host``; ``docker.io`` means Docker Hub. Without a scheme https is
    used (plain http with ``insecure=True``).

    Credentials: ``username`` / ``password`` (a token may be the password), or
    ``identity_token``, or ``bearer_token``, or ``anonymous=True``; with none of these they come
    from the docker config (``docker_config``, else the default one) and credential helpers.

    Other settings: ``insecure`` (plain http without a scheme, no certificate verification),
    ``ca_cert`` (extra trusted CA: PEM bytes or a file path, or a list of them),
    ``client_cert`` / ``client_key`` (mutual TLS), ``user_agent``, ``proxy``,
    ``proxy_from_env``, ``max_retries``, and timeouts in seconds (0: no limit):
    ``connect_timeout``, ``response_timeout``, ``read_timeout``, ``write_timeout`` and
    ``timeout`` (the longest any one request may take, retries included).
    ``low_speed_limit=(bytes_per_second, seconds)``: a body arriving slower than that on
    average is abandoned with :class:`TimeoutError` (default ``(1024, 30)``; ``(0, 0)`` turns
    it off).

    Retries: ``max_retries``, ``backoff`` (an :class:`ocireg.Backoff`, or a dict of its fields:
    the waits between retries) and ``retry_notify`` (called as ``retry_notify(error, delay_seconds)`` on the
    calling thread before each retry; see :mod:`ocireg.retry`).

    Every network method takes the keyword arguments ``cancel=`` (an :class:`ocireg.Cancel`:
    triggering it from another thread makes the call raise :class:`CancelledError` promptly)
    and ``timeout=`` (seconds: a deadline for the whole call, every request, retry, backoff
    and body included; past it the call raises :class:`TimeoutError`). :meth:`bind` gives a
    client whose every call is bound so.

    Use it as a context manager, or call :meth:`close`.
    """

    _free_name = "ocireg_client_free"
    _what = "client"

    def __init__(
        self,
        registry: str,
        username: Optional[str] = None,
        password: Optional[str] = None,
        *,
        insecure: bool = False,
        ca_cert: Union[None, Pem, Sequence[Pem]] = None,
        docker_config: Optional[PathLike] = None,
        identity_token: Optional[str] = None,
        bearer_token: Optional[str] = None,
        anonymous: bool = False,
        client_cert: Optional[Pem] = None,
        client_key: Optional[Pem] = None,
        user_agent: Optional[str] = None,
        proxy: Optional[str] = None,
        proxy_from_env: bool = False,
        max_retries: Optional[int] = None,
        connect_timeout: Optional[float] = None,
        response_timeout: Optional[float] = None,
        read_timeout: Optional[float] = None,
        write_timeout: Optional[float] = None,
        timeout: Optional[float] = None,
        low_speed_limit: Optional[Tuple[int, float]] = None,
        backoff: Union[None, Backoff, Mapping[str, Any]] = None,
        retry_notify: Optional[RetryCallback] = None,
    ) -> None:
        # Every parameter but ``registry`` is a setting of the options (see _option_settings).
        settings = {k: v for k, v in locals().items() if k not in ("self", "registry", "__class__")}
        super().__init__()
        reg = _ffi.cstr(registry, "registry")
        options = _Options(_option_settings(settings))
        with options as opts:
            self._create(lib.ocireg_client_new, reg, opts)
        # The retry callback must outlive this client and every client bound from it.
        self._keepalive = options.keepalive

    # -- binding to a cancel handle or a deadline -----------------------------------------------

    def _use(
        self, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> Union[_Borrow, _Bound]:
        """A context manager giving the client pointer for one call: this client's, or (with
        ``cancel`` or ``timeout``) a client bound to them for the duration of the call, freed
        after it."""
        _check_cancel(cancel)
        if cancel is None and timeout is None:
            return self._borrow()
        return _Bound(self, cancel, 0 if timeout is None else _deadline_ms(timeout))

    def bind(self, cancel: Optional[Cancel] = None, timeout: Optional[float] = None) -> "Client":
        """A client for the calls of one operation: this client's registry, credentials and
        tokens, bound to ``cancel`` (an :class:`ocireg.Cancel`) and/or a deadline ``timeout``
        seconds from now that covers every call made through it. A client bound to a cancel
        handle has connections no other client uses meanwhile (lent from a stock the client
        keeps, so keep-alive connections serve one bound call after another): triggering it
        ends only its calls. Close it when done (it may outlive this client)."""
        _check_cancel(cancel)
        ms = 0 if timeout is None else _deadline_ms(timeout)
        out = c_void_p()
        with self._borrow() as h:
            if cancel is not None:
                with cancel._borrow() as c:
                    _ffi.call(lib.ocireg_client_bind, h, c, ms, byref(out))
            else:
                _ffi.call(lib.ocireg_client_bind, h, None, ms, byref(out))
        bound = Client.__new__(Client)
        Handle.__init__(bound, out.value)
        bound._keepalive = self._keepalive
        return bound

    def _progress_call(
        self,
        fn: Any,
        progress: Optional[ProgressCallback],
        cancel: Optional[Cancel],
        timeout: Optional[float],
        *args: Any,
        take: Callable[[c_void_p], _T],
    ) -> _T:
        """Calls ``fn(client, *args, callback, NULL, &out)`` for the C functions that report
        progress: ``client`` is this client for the call (see :meth:`_use`), ``callback``
        calls ``progress``. An argument that is a context manager (a handle's ``_borrow()``,
        another client's ``_use()``) is entered for the call, in order after the client, and
        passes what it yields. Returns ``take(out)``, taken before an exception raised by
        ``progress`` is re-raised, so that the output is never leaked."""
        state = _ffi.CallbackState()
        callback = progress_trampoline(progress, state)
        out = c_void_p()
        entered: List[Any] = []  # the context managers entered, left in reverse order
        try:
            use = self._use(cancel, timeout)
            h = use.__enter__()
            entered.append(use)
            values = []
            for a in args:
                if isinstance(a, (_Borrow, _Bound)):
                    values.append(a.__enter__())
                    entered.append(a)
                else:
                    values.append(a)
            _ffi.call_with_callbacks(state, fn, h, *values, callback, None, byref(out))
        finally:
            _leave(entered)
        result = take(out)
        state.reraise()
        return result

    # -- information ---------------------------------------------------------------------------

    @property
    def registry(self) -> str:
        """The registry as ``host[:port]``."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_client_registry(h)) or ""

    @property
    def base_url(self) -> str:
        """The base URL requests go to."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_client_base_url(h)) or ""

    @property
    def credential_source(self) -> str:
        """Where the credentials came from: ``"explicit"``, ``"anonymous"``,
        ``"config file …"`` or ``"credential helper …"`` (never a secret)."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_client_credential_source(h)) or ""

    @property
    def request_count(self) -> int:
        """HTTP requests this client sent so far (token requests and retries included)."""
        with self._borrow() as h:
            return lib.ocireg_client_request_count(h)

    def __repr__(self) -> str:
        if self.closed:
            return "<ocireg.Client (closed)>"
        return "<ocireg.Client %s>" % self.base_url

    # -- registry, repositories, tags ----------------------------------------------------------

    @_network
    def ping(self, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None) -> None:
        """Checks that the registry speaks the API v2 and accepts the credentials."""
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_ping, h)

    @_network
    def tags(
        self, repository: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> List[str]:
        """Every tag of ``repository``."""
        repo = _ffi.cstr(repository, "repository")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_tags, h, repo, byref(out))
        return _ffi.take_string_list(out)

    @_network
    def catalog(self, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None) -> List[str]:
        """Every repository in the registry's catalog (:class:`UnsupportedError` when the
        registry has no catalog)."""
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_catalog, h, byref(out))
        return _ffi.take_string_list(out)

    @_network
    def search(
        self, pattern: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> List[str]:
        """The repositories whose name contains ``pattern`` (plain, case-sensitive)."""
        pat = _ffi.cstr(pattern, "pattern")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_search, h, pat, byref(out))
        return _ffi.take_string_list(out)

    @_network
    def tags_page(
        self,
        repository: str,
        n: int = 0,
        last: Optional[str] = None,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Tuple[List[str], Optional[str]]:
        """One page of the tags of ``repository``: at most ``n`` tags (0: the registry's page
        size) after the tag ``last`` (None: from the start). Returns ``(tags, next_last)``,
        ``next_last`` being the ``last`` of the next page, or None after the last page."""
        repo = _ffi.cstr(repository, "repository")
        count = _ffi.uint(n, 32, "n")
        after = _ffi.cstr(last, "last", optional=True)
        out, nxt = c_void_p(), c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_tags_page, h, repo, count, after, byref(out), byref(nxt))
        try:
            page = _ffi.take_string_list(out)
        finally:
            following = _ffi.take_string(nxt)
        return page, following

    @_network
    def catalog_page(
        self,
        n: int = 0,
        last: Optional[str] = None,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Tuple[List[str], Optional[str]]:
        """One page of the catalog, as :meth:`tags_page`: ``(repositories, next_last)``."""
        count = _ffi.uint(n, 32, "n")
        after = _ffi.cstr(last, "last", optional=True)
        out, nxt = c_void_p(), c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_catalog_page, h, count, after, byref(out), byref(nxt))
        try:
            page = _ffi.take_string_list(out)
        finally:
            following = _ffi.take_string(nxt)
        return page, following

    # -- manifests ------------------------------------------------------------------------------

    @_network
    def manifest(
        self, repository: str, reference: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> Manifest:
        """Fetches a manifest by tag, digest or ``tag@digest``, verified against its digest."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        data, length = c_void_p(), c_size_t()
        media_type, digest = c_void_p(), c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(
                lib.ocireg_manifest_get,
                h,
                repo,
                ref,
                byref(data),
                byref(length),
                byref(media_type),
                byref(digest),
            )
        try:
            body = _ffi.take_bytes(data, length)
        finally:
            mt, dg = _ffi.take_string(media_type), _ffi.take_string(digest)
        return Manifest(body, mt, dg)

    @_network
    def manifest_digest(
        self, repository: str, reference: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> str:
        """The digest a tag (or digest) resolves to, by ``HEAD``."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_manifest_digest, h, repo, ref, byref(out))
        return _ffi.take_string(out) or ""

    @_network
    def put_manifest(
        self,
        repository: str,
        reference: str,
        data: Any,
        media_type: Optional[str] = None,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> str:
        """Uploads manifest bytes as they are under ``reference`` (a tag, or its digest) and
        returns its digest. ``media_type`` None: read from the manifest (or guessed). Push the
        blobs it references first."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        mt = _ffi.cstr(media_type, "media_type", optional=True)
        buf, n = _ffi.buffer(data, "data")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_manifest_put, h, repo, ref, mt, buf, n, byref(out))
        return _ffi.take_string(out) or ""

    @_network
    def delete_manifest(
        self, repository: str, digest: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> None:
        """Deletes a manifest by digest (with every tag pointing at it)."""
        repo, dg = _ffi.cstr(repository, "repository"), _ffi.cstr(digest, "digest")
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_manifest_delete, h, repo, dg)

    # -- blobs ----------------------------------------------------------------------------------

    def _blob_head(self, repository: str, digest: str, cancel: Optional[Cancel], timeout: Optional[float]):
        repo, dg = _ffi.cstr(repository, "repository"), _ffi.cstr(digest, "digest")
        exists, size = c_int(), c_uint64()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_blob_exists, h, repo, dg, byref(exists), byref(size))
        return bool(exists.value), size.value

    @_network
    def blob_exists(
        self, repository: str, digest: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> bool:
        """Whether the blob is in the repository (``HEAD``)."""
        return self._blob_head(repository, digest, cancel, timeout)[0]

    @_network
    def blob_size(
        self, repository: str, digest: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> Optional[int]:
        """The blob's size in bytes (by ``HEAD``), or None when the repository lacks it."""
        exists, size = self._blob_head(repository, digest, cancel, timeout)
        return size if exists else None

    @_network
    def push_blob(
        self,
        repository: str,
        data: Any,
        *,
        digest: Optional[str] = None,
        size: Optional[int] = None,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> str:
        """Uploads a blob unless the repository has it, and returns its digest. ``data`` is
        bytes-like, a file path (hashed, then streamed), or a readable binary stream (streamed;
        ``size`` is the number of bytes to send, by default what is left of a seekable stream;
        ``digest``, when known, lets the upload be skipped if the blob is there)."""
        repo = _ffi.cstr(repository, "repository")
        out = c_void_p()
        if isinstance(data, (bytes, bytearray, memoryview)):
            buf, n = _ffi.buffer(data)
            with self._use(cancel, timeout) as h:
                _ffi.call(lib.ocireg_blob_push_bytes, h, repo, buf, n, byref(out))
        elif isinstance(data, (str, os.PathLike)):
            path = _ffi.cstr(data, "path")
            with self._use(cancel, timeout) as h:
                _ffi.call(lib.ocireg_blob_push_file, h, repo, path, byref(out))
        else:
            state = _ffi.CallbackState()
            reader = _read_trampoline(data, state)
            length = _stream_size(data) if size is None else _ffi.uint(size, 64, "size")
            dg = _ffi.cstr(digest, "digest", optional=True)
            with self._use(cancel, timeout) as h:
                _ffi.call_with_callbacks(
                    state, lib.ocireg_blob_push_stream, h, repo, reader, None, length, dg, byref(out)
                )
            result = _ffi.take_string(out) or ""
            state.reraise()
            return result
        return _ffi.take_string(out) or ""

    @_network
    def mount_blob(
        self,
        repository: str,
        from_repository: str,
        digest: str,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> bool:
        """Mounts a blob from another repository of the registry; False when the registry could
        not (nothing is stored then)."""
        repo = _ffi.cstr(repository, "repository")
        src = _ffi.cstr(from_repository, "from_repository")
        dg = _ffi.cstr(digest, "digest")
        mounted = c_int()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_blob_mount, h, repo, src, dg, byref(mounted))
        return bool(mounted.value)

    @_network
    def delete_blob(
        self, repository: str, digest: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> None:
        """Deletes a blob from a repository."""
        repo, dg = _ffi.cstr(repository, "repository"), _ffi.cstr(digest, "digest")
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_blob_delete, h, repo, dg)

    @_network
    def pull_blob(
        self, repository: str, digest: str, dest: Any, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> int:
        """Downloads a blob and returns its size. ``dest`` is a file path (written under a
        temporary name and renamed into place once verified), a writable binary stream or a
        callable taking each chunk (these receive the bytes before the final digest check,
        which raises :class:`DigestMismatchError` on a mismatch)."""
        repo, dg = _ffi.cstr(repository, "repository"), _ffi.cstr(digest, "digest")
        size = c_uint64()
        if isinstance(dest, (str, os.PathLike)):
            path = _ffi.cstr(dest, "dest")
            with self._use(cancel, timeout) as h:
                _ffi.call(lib.ocireg_blob_pull_to_path, h, repo, dg, path, byref(size))
            return size.value
        state = _ffi.CallbackState()
        writer = _write_trampoline(dest, state)
        with self._use(cancel, timeout) as h:
            _ffi.call_with_callbacks(
                state, lib.ocireg_blob_pull, h, repo, dg, writer, None, byref(size)
            )
        state.reraise()
        return size.value

    @_network
    def pull_blob_bytes(
        self, repository: str, digest: str, *, cancel: Optional[Cancel] = None, timeout: Optional[float] = None
    ) -> bytes:
        """Downloads a (small) blob into memory, verified."""
        repo, dg = _ffi.cstr(repository, "repository"), _ffi.cstr(digest, "digest")
        data, length = c_void_p(), c_size_t()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_blob_pull_bytes, h, repo, dg, byref(data), byref(length))
        return _ffi.take_bytes(data, length)

    # -- images ---------------------------------------------------------------------------------

    @_network
    def push_image(
        self,
        repository: str,
        tag: str,
        image: Union[Image, PathLike],
        progress: Optional[ProgressCallback] = None,
        *,
        threads: Optional[int] = None,
        chunk_size: Optional[int] = None,
        mount_from: Optional[str] = None,
        skip_existing: Optional[bool] = None,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Pushed:
        """Pushes an :class:`Image` (or the image of an OCI image layout directory: its
        manifest tagged ``tag``, else its only one) and tags it ``tag`` (or pass the image's
        digest to push it untagged). Blobs go first, in parallel, skipping those already there.

        ``progress`` is called on this thread with a :class:`Progress`; returning ``False``
        cancels, raising aborts and re-raises. ``threads`` (1–64), ``chunk_size`` (upload in
        chunks of that many bytes), ``mount_from`` (try mounting missing blobs from that
        repository) and ``skip_existing`` are the push options."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(tag, "tag")
        if isinstance(image, Image):
            fn, source = lib.ocireg_push_image, image._borrow()
        elif isinstance(image, (str, os.PathLike)):
            fn, source = lib.ocireg_push_layout, _ffi.cstr(image, "layout_dir")
        else:
            raise TypeError(
                "image must be an ocireg.Image or a layout directory, not %s"
                % type(image).__name__
            )
        with _PushOptions(threads, chunk_size, mount_from, skip_existing) as popts:
            return self._progress_call(
                fn,
                progress,
                cancel,
                timeout,
                repo,
                ref,
                source,
                popts,
                take=lambda out: Pushed(out.value),
            )

    @_network
    def verify(
        self,
        repository: str,
        pushed: Pushed,
        check: bool = False,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> VerifyReport:
        """Checks that what was pushed is in ``repository`` (every blob, the manifest by tag and
        by digest) and returns the :class:`VerifyReport`. A failed or inconclusive verification
        is reported, not raised, unless ``check=True``: then it raises
        :class:`VerifyFailedError` with the report as its ``report``."""
        if not isinstance(pushed, Pushed):
            raise TypeError("pushed must be an ocireg.Pushed, not %s" % type(pushed).__name__)
        repo = _ffi.cstr(repository, "repository")
        out, err = c_void_p(), c_void_p()
        with self._use(cancel, timeout) as h, pushed._borrow() as p:
            status = lib.ocireg_verify(h, repo, p, byref(out), byref(err))
        if status not in (errors.Status.OK, errors.Status.VERIFY_FAILED) or not out.value:
            if out.value:  # never written on these statuses, but never leak either
                lib.ocireg_verify_report_free(out.value)
            if status == errors.Status.OK:
                lib.ocireg_error_free(err.value)
                raise errors.PanicError(
                    "ocireg_verify returned OCIREG_OK without a report",
                    status=errors.Status.PANIC,
                )
            raise _ffi.error_from_ptr(status, err.value or 0)
        if status == errors.Status.OK:
            failure = None
            lib.ocireg_error_free(err.value)  # NULL on success; freeing NULL is a no-op
        else:
            failure = _ffi.error_from_ptr(status, err.value or 0)
        report = VerifyReport._take(out.value, failure.message if failure else None)
        if failure is not None and check:
            failure.report = report  # type: ignore[attr-defined]
            raise failure
        return report

    @_network
    def pull_image(
        self,
        repository: str,
        reference: str,
        directory: PathLike,
        progress: Optional[ProgressCallback] = None,
        *,
        platform: Optional[str] = None,
        threads: int = 0,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Pulled:
        """Pulls an image (or an index with its children, or one ``platform``'s image,
        ``"os/arch[/variant]"``) into the OCI image layout directory ``directory``, verifying
        every blob. ``threads`` is the number of parallel downloads (0: the default).
        ``progress`` as in :meth:`push_image`."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        dirname = _ffi.cstr(directory, "directory")
        plat = _ffi.cstr(platform, "platform", optional=True)
        nthreads = _ffi.uint(threads, 32, "threads")
        return self._progress_call(
            lib.ocireg_pull_image,
            progress,
            cancel,
            timeout,
            repo,
            ref,
            dirname,
            plat,
            nthreads,
            take=lambda out: Pulled(out.value),
        )

    # -- streamed blob reads --------------------------------------------------------------------

    @_network
    def open_blob(
        self,
        repository: str,
        digest: str,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> BlobReader:
        """Opens a blob for reading as a stream: a :class:`BlobReader` (a read-only binary
        file, an :class:`io.RawIOBase`) verified as it streams — the read that reaches the end
        raises :class:`DigestMismatchError` if the bytes do not match ``digest``. The request
        is sent now: a missing blob raises :class:`NotFoundError` here. ``cancel`` and
        ``timeout`` cover the open and every read. Close the reader when done (``with``)."""
        _check_cancel(cancel)
        # The client (or the client bound to the deadline) is needed for the open only: the
        # reader keeps what it needs. The cancel handle stays borrowed by the reader.
        from contextlib import ExitStack  # here: it costs ~1 ms of `import ocireg`

        with self._use(None, timeout) as h:
            return open_reader(h, repository, digest, cancel, ExitStack())

    # -- registry operations --------------------------------------------------------------------

    @_network
    def copy(
        self,
        repository: str,
        reference: str,
        to_repository: str,
        to_reference: Optional[str] = None,
        *,
        to: Optional["Client"] = None,
        platform: Optional[str] = None,
        threads: int = 0,
        progress: Optional[ProgressCallback] = None,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Pushed:
        """Copies the image ``repository:reference`` (a manifest, or an index with all its
        children) to ``to_repository:to_reference`` (a tag, or the image's digest; None: the
        same ``reference``): within this registry when ``to`` is None (blobs are mounted
        across repositories, no byte travels), else to the registry of the client ``to`` (each
        blob streamed from here to there, bounded memory, no temporary file). Blobs go in
        parallel (``threads``, 0: 4), those already there are skipped, manifests go last, and
        every byte is unchanged (same digests). ``platform`` (``"os/arch[/variant]"``) copies
        one platform of an index. ``progress`` as in :meth:`push_image`. ``cancel`` and
        ``timeout`` bind both clients.

        Returns what was pushed to the destination: check it with
        ``dest_client.verify(to_repository, pushed)``."""
        if to is not None and not isinstance(to, Client):
            raise TypeError("to must be an ocireg.Client, not %s" % type(to).__name__)
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        to_repo = _ffi.cstr(to_repository, "to_repository")
        to_ref = _ffi.cstr(reference if to_reference is None else to_reference, "to_reference")
        plat = _ffi.cstr(platform, "platform", optional=True)
        nthreads = _ffi.uint(threads, 32, "threads")
        return self._progress_call(
            lib.ocireg_copy,
            progress,
            cancel,
            timeout,
            repo,
            ref,
            to._use(cancel, timeout) if to is not None else None,
            to_repo,
            to_ref,
            nthreads,
            plat,
            take=lambda out: Pushed(out.value),
        )

    @_network
    def retag(
        self,
        repository: str,
        reference: str,
        to_tag: str,
        *,
        to_repository: Optional[str] = None,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Pushed:
        """Gives the manifest ``repository:reference`` the tag ``to_tag`` (in
        ``to_repository``, by default the same repository: the manifest's bytes are fetched
        and put under the new tag; in another repository of the registry it is a
        :meth:`copy`). Returns what was tagged (check it with :meth:`verify`)."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        to_repo = _ffi.cstr(
            repository if to_repository is None else to_repository, "to_repository"
        )
        tag = _ffi.cstr(to_tag, "to_tag")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_retag, h, repo, ref, to_repo, tag, byref(out))
        return Pushed(out.value)

    @_network
    def delete_tag(
        self,
        repository: str,
        tag: str,
        *,
        tag_first: bool = True,
        list_other_tags: bool = True,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> DeletedTag:
        """Deletes the tag ``tag`` of ``repository``. The registry is asked to delete the tag
        alone first (OCI 1.1; skipped with ``tag_first=False``); a registry that refuses that
        (distribution 2.8) gets the manifest deleted by digest — and **every tag on that
        manifest goes with it** (what the registry does, and what docker_registry2's
        ``rmtag`` does). The returned :class:`DeletedTag` says which: ``manifest_deleted``,
        and ``removed_tags`` (with ``list_other_tags``, the default, the other tags on the
        manifest are found first, one ``HEAD`` per tag of the repository). A registry with
        deletes disabled raises :class:`UnsupportedError`."""
        repo, tg = _ffi.cstr(repository, "repository"), _ffi.cstr(tag, "tag")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(
                lib.ocireg_delete_tag,
                h,
                repo,
                tg,
                1 if tag_first else 0,
                1 if list_other_tags else 0,
                byref(out),
            )
        return DeletedTag.from_json(_ffi.parse_json(_ffi.take_string(out) or "{}"))

    @_network
    def platform_descriptor(
        self,
        repository: str,
        reference: str,
        platform: str,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Descriptor:
        """The :class:`Descriptor` of the image for ``platform`` (``"os/arch[/variant]"``,
        e.g. ``"linux/arm64/v8"``) that ``repository:reference`` names: the matching child of
        an index, or the manifest itself when its config's platform matches. Otherwise
        :class:`NotFoundError`, whose message names the platforms there are."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        plat = _ffi.cstr(platform, "platform")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_platform_descriptor, h, repo, ref, plat, byref(out))
        return Descriptor.from_json(_ffi.parse_json(_ffi.take_string(out) or "{}"))

    def platform_digest(
        self,
        repository: str,
        reference: str,
        platform: str,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> str:
        """The digest of the image for ``platform`` (see :meth:`platform_descriptor`);
        docker_registry2's ``digest(repo, tag, arch, os, variant)``."""
        return self.platform_descriptor(
            repository, reference, platform, cancel=cancel, timeout=timeout
        ).digest

    @_network
    def tags_with_digests(
        self,
        repository: str,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> Dict[str, str]:
        """Every tag of ``repository`` with the digest it points at, ``{tag: digest}`` in the
        registry's tag order (one ``HEAD`` per tag, in parallel); docker_registry2's
        ``tags(repo, with_hashes: true)``."""
        repo = _ffi.cstr(repository, "repository")
        out = c_void_p()
        with self._use(cancel, timeout) as h:
            _ffi.call(lib.ocireg_tags_with_digests, h, repo, byref(out))
        entries = _ffi.parse_json(_ffi.take_string(out) or "[]")
        return {e["tag"]: e["digest"] for e in entries}

    def image_size(
        self,
        repository: str,
        reference: str,
        *,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> int:
        """The size in bytes of the image ``repository:reference``, config + layers, from its
        manifest (docker_registry2's ``manifest_sum``; see :meth:`Manifest.sizes`). An index
        has no single image size: pick a platform's digest first (:meth:`platform_digest`)."""
        return self.manifest(repository, reference, cancel=cancel, timeout=timeout).image_size

    @_network
    def pull_layers(
        self,
        repository: str,
        reference: str,
        directory: PathLike,
        platform: Optional[str] = None,
        *,
        threads: int = 0,
        progress: Optional[ProgressCallback] = None,
        cancel: Optional[Cancel] = None,
        timeout: Optional[float] = None,
    ) -> PulledLayers:
        """Downloads the layers of the image ``repository:reference`` into ``directory``
        (created if needed), each a file named ``<algorithm>-<hex>`` of its digest, verified
        before it is renamed into place; a file already there with the right digest is kept.
        For an index, ``platform`` (``"os/arch[/variant]"``) picks the image (None: this
        machine's). docker_registry2's ``pull(repo, tag, dir)``. ``threads`` (0: 8) and
        ``progress`` as in :meth:`pull_image`."""
        repo, ref = _ffi.cstr(repository, "repository"), _ffi.cstr(reference, "reference")
        dirname = _ffi.cstr(directory, "directory")
        plat = _ffi.cstr(platform, "platform", optional=True)
        nthreads = _ffi.uint(threads, 32, "threads")
        text = self._progress_call(
            lib.ocireg_pull_layers,
            progress,
            cancel,
            timeout,
            repo,
            ref,
            dirname,
            plat,
            nthreads,
            take=_ffi.take_string,
        )
        return PulledLayers.from_json(_ffi.parse_json(text or "{}"))


def _option_settings(settings: Mapping[str, Any], caller: str = "Client()") -> Mapping[str, Any]:
    """``settings`` once checked: the keywords of :class:`Client` are the option settings, and
    any other is a :class:`TypeError`, as for a misspelt keyword argument."""
    for key in settings:
        if key not in _OPTION_NAMES:
            raise TypeError("%s got an unexpected keyword argument %r" % (caller, key))
    return settings


#: The names of the option settings: the parameters of ``Client()`` but ``registry`` (read
#: from the code object: importing :mod:`inspect` would add ~5 ms to ``import ocireg``).
_INIT = Client.__init__.__code__
_OPTION_NAMES = frozenset(_INIT.co_varnames[: _INIT.co_argcount + _INIT.co_kwonlyargcount]) - {
    "self",
    "registry",
}


@_network
def login(
    registry: str,
    username: str,
    password: str,
    *,
    docker_config: Optional[PathLike] = None,
    cancel: Optional[Cancel] = None,
    **options: Any,
) -> str:
    """Checks ``username`` / ``password`` against ``registry``, then stores them (in the
    credential helper the docker config names for the registry, else in the config's
    ``auths``). Returns where they went, e.g. ``"config file /home/me/.docker/config.json"``.
    ``options`` are the TLS, ``insecure``, timeout and retry settings of :class:`Client`.
    ``cancel`` (an :class:`ocireg.Cancel`) stops the check from another thread with
    :class:`CancelledError`; nothing is stored then."""
    _check_cancel(cancel)
    for key in ("username", "password", "identity_token", "bearer_token", "anonymous"):
        if key in options:
            raise TypeError("login() got an unexpected keyword argument %r" % key)
    reg = _ffi.cstr(registry, "registry")
    user, pw = _ffi.cstr(username, "username"), _ffi.cstr(password, "password")
    cfg = _ffi.cstr(docker_config, "docker_config", optional=True)
    out = c_void_p()
    from contextlib import ExitStack  # here: it costs ~1 ms of `import ocireg`

    with _Options(_option_settings(options, "login()")) as opts, ExitStack() as stack:
        if cancel is not None:
            _ffi.call(lib.ocireg_options_set_cancel, opts, stack.enter_context(cancel._borrow()))
        _ffi.call(lib.ocireg_login, reg, user, pw, cfg, opts, byref(out))
    return _ffi.take_string(out) or ""


@_network
def logout(registry: str, *, docker_config: Optional[PathLike] = None) -> bool:
    """Removes the stored credentials of ``registry``; True when something was removed, False
    when nothing was stored (not an error)."""
    reg = _ffi.cstr(registry, "registry")
    cfg = _ffi.cstr(docker_config, "docker_config", optional=True)
    removed = c_int()
    _ffi.call(lib.ocireg_logout, reg, cfg, byref(removed))
    return bool(removed.value)
