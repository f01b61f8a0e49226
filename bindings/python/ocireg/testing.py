"""An in-memory OCI registry on 127.0.0.1 for tests (``ocireg_test_registry_*``).

::

    with ocireg.testing.Registry(auth="basic", users={"alice": "secret"}) as reg:
        with ocireg.Client(reg.url, "alice", "secret") as client:
            client.ping()

Plain HTTP, everything in memory; requests are served by the registry's own threads. Needs a
library built with the ``test-server`` feature (``pip install`` builds it so); with another one
:class:`Registry` and :func:`panic` raise :class:`ocireg.UnsupportedError`.
"""

from __future__ import annotations

import ctypes
from ctypes import byref, c_int, c_size_t, c_void_p
from . import _ffi, errors
from ._handle import Handle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Union

lib = _ffi.lib

_AUTH_MODES = {
    "none": _ffi.TEST_AUTH_NONE,
    "basic": _ffi.TEST_AUTH_BASIC,
    "bearer": _ffi.TEST_AUTH_BEARER,
}


def _users_spec(users: Union[None, str, Dict[str, str]]) -> Optional[bytes]:
    if users is None or isinstance(users, str):
        return _ffi.cstr(users, "users", optional=True)
    if not isinstance(users, dict):
        raise TypeError("users must be a dict of user name to password, not %s" % type(users).__name__)
    parts = []
    for name, password in users.items():
        if not isinstance(name, str) or not isinstance(password, str):
            raise TypeError("users must map str to str")
        if ":" in name or "," in name or "," in password:
            raise errors.InvalidArgumentError(
                "test registry user names cannot hold ':' or ',', nor passwords ','",
                status=errors.Status.INVALID_ARGUMENT,
            )
        parts.append("%s:%s" % (name, password))
    return _ffi.cstr(",".join(parts), "users")


class Registry(Handle):
    """A running in-memory registry. ``auth`` is ``"none"``, ``"basic"`` or ``"bearer"``
    (tokens from the registry's own ``/token`` endpoint); ``users`` maps user names to
    passwords (required for ``"basic"`` and ``"bearer"``). Stop and free it with
    :meth:`close` or by leaving the ``with`` block."""

    _free_name = "ocireg_test_registry_free"
    _what = "test registry"

    def __init__(
        self, auth: Union[str, int] = "none", users: Union[None, str, Dict[str, str]] = None
    ) -> None:
        _ffi.require_test_server()
        super().__init__()
        if isinstance(auth, str):
            if auth not in _AUTH_MODES:
                raise errors.InvalidArgumentError(
                    "auth must be one of %s, not %r" % (", ".join(sorted(_AUTH_MODES)), auth),
                    status=errors.Status.INVALID_ARGUMENT,
                )
            mode = _AUTH_MODES[auth]
        else:
            mode = _ffi.uint(auth, 32, "auth")
        spec = _users_spec(users)
        self._create(lib.ocireg_test_registry_start, mode, spec)
        with self._borrow() as h:
            self._url = _ffi.decode(lib.ocireg_test_registry_url(h)) or ""
            self._host = _ffi.decode(lib.ocireg_test_registry_host(h)) or ""

    @property
    def url(self) -> str:
        """``"http://127.0.0.1:PORT"``: pass it to :class:`ocireg.Client`."""
        return self._url

    @property
    def host(self) -> str:
        """``"127.0.0.1:PORT"``, the registry part of image references."""
        return self._host

    @property
    def request_count(self) -> int:
        """How many requests the registry answered so far (token endpoint included)."""
        with self._borrow() as h:
            return lib.ocireg_test_registry_request_count(h)

    def client(self, username: Optional[str] = None, password: Optional[str] = None, **kw: Any):
        """An :class:`ocireg.Client` of this registry (anonymous unless credentials are given,
        so that no docker config is read)."""
        from .client import Client

        if username is None and password is None and not any(
            k in kw for k in ("identity_token", "bearer_token", "docker_config")
        ):
            kw.setdefault("anonymous", True)
        return Client(self.url, username, password, **kw)

    def add_blob(self, repository: str, data: Any) -> str:
        """Stores a blob directly (no HTTP) and returns its digest."""
        repo = _ffi.cstr(repository, "repository")
        buf, n = _ffi.buffer(data)
        out = c_void_p()
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_add_blob, h, repo, buf, n, byref(out))
        return _ffi.take_string(out) or ""

    def add_manifest(
        self, repository: str, tag: Optional[str], media_type: str, data: Any
    ) -> str:
        """Stores a manifest directly (no HTTP), tagged ``tag`` unless None; checked like a
        push. Returns its digest."""
        repo = _ffi.cstr(repository, "repository")
        tg = _ffi.cstr(tag, "tag", optional=True)
        mt = _ffi.cstr(media_type, "media_type")
        buf, n = _ffi.buffer(data)
        out = c_void_p()
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_add_manifest, h, repo, tg, mt, buf, n, byref(out))
        return _ffi.take_string(out) or ""

    def add_image(
        self, repository: str, tag: str, config: Any = b"{}", layers: Iterable[Any] = ()
    ) -> str:
        """Stores an image directly (no HTTP): the config blob, the layer blobs and an OCI image
        manifest, tagged ``tag``. Returns the manifest digest."""
        repo, tg = _ffi.cstr(repository, "repository"), _ffi.cstr(tag, "tag")
        cfg, cfg_len = _ffi.buffer(config, "config")
        bufs = [_ffi.buffer(layer, "layer") for layer in layers]
        n = len(bufs)
        ptrs = (c_void_p * max(n, 1))()
        lens = (c_size_t * max(n, 1))()
        for i, (buf, length) in enumerate(bufs):
            ptrs[i] = ctypes.cast(buf, c_void_p).value if buf is not None else None
            lens[i] = length
        out = c_void_p()
        with self._borrow() as h:
            _ffi.call(
                lib.ocireg_test_registry_add_image,
                h,
                repo,
                tg,
                cfg,
                cfg_len,
                ptrs if n else None,
                lens if n else None,
                n,
                byref(out),
            )
        del bufs  # the layer buffers had to live until here
        return _ffi.take_string(out) or ""

    def delete_blob(self, repository: str, digest: str) -> bool:
        """Removes a blob from a repository; True when it was there."""
        repo, dg = _ffi.cstr(repository, "repository"), _ffi.cstr(digest, "digest")
        found = c_int()
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_delete_blob, h, repo, dg, byref(found))
        return bool(found.value)

    def fail_next(self, n: int, status: int = 503, retry_after: Optional[int] = None) -> None:
        """Makes the next ``n`` requests (token endpoint excepted) fail with HTTP ``status``
        (400–599), with ``Retry-After: retry_after`` when given; ``n=0`` cancels."""
        count = _ffi.uint(n, 32, "n")
        code = _ffi.uint(status, 16, "status")
        retry = -1 if retry_after is None else _ffi.uint(retry_after, 63, "retry_after")
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_fail_next, h, count, code, retry)

    def set_delay(self, seconds: float) -> None:
        """Delays every answer (token endpoint included) by ``seconds``; 0 turns it off. For
        timeout tests."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError("seconds must be a number, not %s" % type(seconds).__name__)
        if seconds < 0:
            raise errors.InvalidArgumentError(
                "seconds must not be negative", status=errors.Status.INVALID_ARGUMENT
            )
        ms = _ffi.uint(int(round(seconds * 1000)), 64, "seconds")
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_set_delay_ms, h, ms)

    def drop_next(self, n: int) -> None:
        """The next ``n`` blob downloads send the full ``Content-Length``, half the body, then
        close the connection."""
        count = _ffi.uint(n, 32, "n")
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_drop_next, h, count)

    def redirect_blobs(self, on: bool = True) -> None:
        """True: blob downloads answer ``307`` to a second, unauthenticated listener (like a
        CDN); False: off (the default)."""
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_redirect_blobs, h, 1 if on else 0)

    def set_hostile(self, spec: str) -> None:
        """Plays one attack of a hostile registry from the next request on (``"none"``: off),
        e.g. ``"cross-origin-link"``, ``"slow-drip:2000"``, ``"cut-midway:bad-range"``; see
        ``ocireg_test_registry_set_hostile`` in bindings/c/API.md for every scenario. A bad
        spec raises :class:`InvalidArgumentError`."""
        scenario = _ffi.cstr(spec, "spec")
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_set_hostile, h, scenario)

    def requests(self) -> List[Dict[str, Any]]:
        """Every request answered so far, oldest first: dicts with ``method``, ``path``,
        ``query``, ``status``, ``authorized`` and ``objectStore``."""
        out = c_void_p()
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_requests_json, h, byref(out))
        return _ffi.parse_json(_ffi.take_string(out) or "[]")

    def clear_requests(self) -> None:
        """Forgets the recorded requests (:attr:`request_count` starts again from 0)."""
        with self._borrow() as h:
            _ffi.call(lib.ocireg_test_registry_clear_requests, h)

    def stop(self) -> None:
        """Stops serving (clients then get :class:`NetworkError`); :attr:`url` stays readable.
        Waits for calls running on this object. Stopping twice is fine."""
        with self._borrow(exclusive=True) as h:
            _ffi.call(lib.ocireg_test_registry_stop, h)

    def __repr__(self) -> str:
        return "<ocireg.testing.Registry %s%s>" % (self._url or "?", " (closed)" if self.closed else "")


def panic(message: Optional[str] = None) -> None:
    """Makes the library panic on purpose (``ocireg_test_panic``): always raises
    :class:`ocireg.PanicError` with the message ``"panic: <message>"``."""
    _ffi.require_test_server()
    _ffi.call(lib.ocireg_test_panic, _ffi.cstr(message, "message", optional=True))
