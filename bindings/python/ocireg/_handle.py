"""Ownership of the library's opaque handles.

A :class:`Handle` owns one pointer and frees it exactly once, with its type's ``_free``
function, on :meth:`Handle.close`, on leaving a ``with`` block, or when garbage collected.
Calls borrow the pointer for their duration (:meth:`Handle._borrow`): closing a handle while
other threads are still inside a call on it defers the free until the last call returns, so a
Python program can never make the library use freed memory. Handles whose C functions take a
non-const pointer (builders, the test registry's ``stop``) borrow it exclusively: such a call
waits for the running ones and holds the others off, as the C conventions require.

Neither :mod:`threading` nor :mod:`contextlib` is imported here (with what they pull in, about
1.5 ms of ``import ocireg``): the state is guarded by a plain :mod:`_thread` lock, a
:class:`threading.Condition` on that lock is made only when a borrow first has to wait, and
:meth:`Handle._borrow` returns a small context manager class.
"""

from __future__ import annotations

import _thread
from ctypes import byref, c_void_p
from . import _ffi, errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


class Handle:
    #: Name of the C function that frees this kind of handle (e.g. ``"ocireg_client_free"``).
    _free_name = ""
    #: What the handle is, for messages.
    _what = "object"

    def __init__(self, ptr: Optional[int] = None) -> None:
        self._ptr = ptr or None
        self._lock = _thread.allocate_lock()
        #: A threading.Condition on _lock, made by the first borrow that has to wait.
        self._cond: Any = None
        self._active = 0
        self._exclusive = False
        self._closing = False

    def _borrow(self, exclusive: bool = False) -> "_Borrow":
        """A context manager giving the pointer for the duration of a call (see the module)."""
        return _Borrow(self, exclusive)

    def _acquire(self, exclusive: bool) -> int:
        with self._lock:
            while self._exclusive or (exclusive and self._active):
                cond = self._cond
                if cond is None:
                    import threading

                    cond = self._cond = threading.Condition(self._lock)
                cond.wait()
            if self._ptr is None or self._closing:
                raise errors.InvalidArgumentError(
                    "the %s is closed" % self._what, status=errors.Status.INVALID_ARGUMENT
                )
            self._active += 1
            self._exclusive = exclusive
            return self._ptr

    def _release(self, exclusive: bool) -> None:
        ptr = None
        with self._lock:
            self._active -= 1
            if exclusive:
                self._exclusive = False
            if self._closing and self._active == 0 and self._ptr is not None:
                ptr, self._ptr = self._ptr, None
            if self._cond is not None:
                self._cond.notify_all()
        if ptr is not None:
            self._free(ptr)

    def _create(self, fn: Any, *args: Any) -> None:
        """Calls the C constructor ``fn(*args, &out)`` and takes the handle it makes."""
        out = c_void_p()
        _ffi.call(fn, *args, byref(out))
        self._ptr = out.value

    def _free(self, ptr: int) -> None:
        """Frees the library object (exactly once, when no call uses it any more)."""
        getattr(_ffi.lib, self._free_name)(ptr)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None or self._closing

    def close(self) -> None:
        """Frees the library object (deferred until calls still running on it return).
        Closing twice is fine."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ did not run
            return
        with lock:
            if self._closing or self._ptr is None:
                self._closing = True
                return
            self._closing = True
            if self._active:
                return  # the last running call frees it
            ptr, self._ptr = self._ptr, None
        self._free(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass


class _Borrow:
    """``with handle._borrow() as ptr``: the pointer, borrowed until the block is left."""

    __slots__ = ("_handle", "_exclusive")

    def __init__(self, handle: Handle, exclusive: bool) -> None:
        self._handle = handle
        self._exclusive = exclusive

    def __enter__(self) -> int:
        return self._handle._acquire(self._exclusive)

    def __exit__(self, *exc_info: Any) -> None:
        self._handle._release(self._exclusive)
