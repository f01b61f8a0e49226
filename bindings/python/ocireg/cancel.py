"""Cancellation handles (``ocireg_cancel_*``): stop a running call from another thread."""

from __future__ import annotations

from . import _ffi
from ._handle import Handle

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading

lib = _ffi.lib


class Cancel(Handle):
    """A cancellation handle. Pass it as ``cancel=`` to any network call of a
    :class:`ocireg.Client` (or bind a client to it with :meth:`ocireg.Client.bind`); calling
    :meth:`trigger` — from any thread — makes those calls raise :class:`ocireg.CancelledError`
    promptly, even while the registry is silent in the middle of an answer, with nothing
    half-written (no partial file, no tag pointing at a missing blob)::

        cancel = ocireg.Cancel()
        threading.Timer(5, cancel.trigger).start()
        try:
            client.pull_image("team/app", "v1", "out/", cancel=cancel)
        except ocireg.CancelledError:
            print("gave up after 5 s")

    A handle once triggered stays triggered: every later call using it is cancelled at once.
    Use a new handle for new calls. Thread-safe. Free it with :meth:`close` (or ``with``, or
    let the garbage collector do it); calls still using it keep it alive until they return.
    """

    _free_name = "ocireg_cancel_free"
    _what = "cancel handle"

    def __init__(self) -> None:
        super().__init__()
        self._create(lib.ocireg_cancel_new)

    def trigger(self) -> None:
        """Cancels every call using this handle, now and later. Callable from any thread, any
        number of times; a closed handle is left alone."""
        try:
            with self._borrow() as h:
                lib.ocireg_cancel_trigger(h)
        except _ffi.errors.InvalidArgumentError:
            pass  # closed: no call can use it any more

    @property
    def triggered(self) -> bool:
        """Whether :meth:`trigger` was called."""
        with self._borrow() as h:
            return bool(lib.ocireg_cancel_is_triggered(h))

    def trigger_after(self, seconds: float) -> threading.Timer:
        """Triggers the handle ``seconds`` from now, from a daemon timer thread (returned: call
        its ``cancel()`` to call the trigger off)."""
        import threading  # here, not at `import ocireg` (about 0.7 ms most programs never need)

        timer = threading.Timer(seconds, self.trigger)
        timer.daemon = True
        timer.start()
        return timer

    def __repr__(self) -> str:
        if self.closed:
            return "<ocireg.Cancel (closed)>"
        return "<ocireg.Cancel%s>" % (" triggered" if self.triggered else "")
