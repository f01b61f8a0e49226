"""Result types: manifests, push and pull results, verification reports, progress events."""

import enum
import json
from ctypes import byref, c_void_p
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

from . import _ffi
from ._handle import Handle

lib = _ffi.lib


class ProgressEvent(enum.IntEnum):
    """What a progress callback is told (``OCIREG_PROGRESS_*``)."""

    UPLOADING = _ffi.PROGRESS_UPLOADING
    EXISTED = _ffi.PROGRESS_EXISTED
    MOUNTED = _ffi.PROGRESS_MOUNTED
    UPLOADED = _ffi.PROGRESS_UPLOADED
    DOWNLOADING = _ffi.PROGRESS_DOWNLOADING
    REUSED = _ffi.PROGRESS_REUSED
    DOWNLOADED = _ffi.PROGRESS_DOWNLOADED


class Progress(NamedTuple):
    """One progress report of a push or pull: blob ``digest``, ``done`` / ``total`` bytes and
    the ``event`` (a :class:`ProgressEvent`, or a plain int for an event newer than this
    binding)."""

    digest: str
    done: int
    total: int
    event: Union[ProgressEvent, int]


#: A progress callback: called with a :class:`Progress`; returning ``False`` cancels the
#: operation (:class:`~ocireg.CancelledError`), raising an exception aborts it and re-raises
#: that exception from the call.
ProgressCallback = Callable[[Progress], Any]


def progress_trampoline(progress: Optional[ProgressCallback], state: _ffi.CallbackState):
    """A C progress callback calling ``progress`` (None: a NULL callback). Keep the
    returned object referenced for the duration of the C call."""
    if progress is None:
        return _ffi.PROGRESS_FN()  # a NULL function pointer (ctypes refuses None here)
    if not callable(progress):
        raise TypeError("progress must be callable, not %s" % type(progress).__name__)

    def trampoline(_userdata, digest, done, total, event):
        try:
            try:
                ev: Union[ProgressEvent, int] = ProgressEvent(event)
            except ValueError:
                ev = event
            result = progress(Progress(_ffi.decode(digest) or "", done, total, ev))
            return 1 if result is False else 0
        except BaseException as exc:  # never let an exception reach C
            state.capture(exc)
            return 1

    return _ffi.PROGRESS_FN(trampoline)


class Outcome(enum.IntEnum):
    """The outcome of a verification (``OCIREG_OUTCOME_*``)."""

    VERIFIED = _ffi.OUTCOME_VERIFIED
    FAILED = _ffi.OUTCOME_FAILED
    INCONCLUSIVE = _ffi.OUTCOME_INCONCLUSIVE


class Manifest(NamedTuple):
    """A manifest as the registry holds it: the exact ``data`` bytes, its ``media_type`` and
    its ``digest``."""

    data: bytes
    media_type: Optional[str]
    digest: Optional[str]

    @property
    def bytes(self) -> bytes:  # noqa: A003 (the brief's name for the manifest bytes)
        """The manifest bytes (same as :attr:`data`)."""
        return self.data

    def json(self) -> Any:
        """The manifest parsed as JSON."""
        return json.loads(self.data)


def _take_json(fn, ptr: int) -> str:
    out = c_void_p()
    _ffi.call(fn, ptr, byref(out))
    return _ffi.take_string(out) or ""


class Pushed(Handle):
    """What a push did (or, from :meth:`Image.to_pushed` / :meth:`Pulled.to_pushed`, what it
    would give): pass it to :meth:`Client.verify`."""

    _free_name = "ocireg_pushed_free"
    _what = "push result"

    @property
    def digest(self) -> str:
        """The manifest digest, ``"sha256:…"``."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_pushed_digest(h)) or ""

    @property
    def media_type(self) -> str:
        """The manifest media type."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_pushed_media_type(h)) or ""

    @property
    def reference(self) -> str:
        """``repository:tag@digest`` (or ``repository@digest``)."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_pushed_reference(h)) or ""

    @property
    def size(self) -> int:
        """The manifest size in bytes."""
        with self._borrow() as h:
            return lib.ocireg_pushed_size(h)

    def to_json(self) -> str:
        """Everything about the push as a JSON document (see ``ocireg_pushed_to_json``)."""
        with self._borrow() as h:
            return _take_json(lib.ocireg_pushed_to_json, h)

    def to_dict(self) -> Dict[str, Any]:
        """:meth:`to_json`, parsed."""
        return json.loads(self.to_json())

    def __repr__(self) -> str:
        if self.closed:
            return "<ocireg.Pushed (closed)>"
        return "<ocireg.Pushed %s>" % self.reference


class Pulled(Handle):
    """What :meth:`Client.pull_image` fetched."""

    _free_name = "ocireg_pulled_free"
    _what = "pull result"

    @property
    def digest(self) -> str:
        """The manifest digest."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_pulled_digest(h)) or ""

    @property
    def media_type(self) -> str:
        """The manifest media type."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_pulled_media_type(h)) or ""

    @property
    def path(self) -> str:
        """The OCI image layout directory the image was written to."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_pulled_path(h)) or ""

    @property
    def size(self) -> int:
        """The manifest size in bytes."""
        with self._borrow() as h:
            return lib.ocireg_pulled_size(h)

    def to_json(self) -> str:
        """Everything about the pull as a JSON document (see ``ocireg_pulled_to_json``)."""
        with self._borrow() as h:
            return _take_json(lib.ocireg_pulled_to_json, h)

    def to_dict(self) -> Dict[str, Any]:
        """:meth:`to_json`, parsed."""
        return json.loads(self.to_json())

    def to_pushed(self) -> Pushed:
        """What was pulled, as a push result to check with :meth:`Client.verify`."""
        out = c_void_p()
        with self._borrow() as h:
            _ffi.call(lib.ocireg_pulled_to_pushed, h, byref(out))
        return Pushed(out.value)

    def __repr__(self) -> str:
        if self.closed:
            return "<ocireg.Pulled (closed)>"
        return "<ocireg.Pulled %s in %s>" % (self.digest, self.path)


class VerifyReport:
    """The report of :meth:`Client.verify`: ``outcome`` (an :class:`Outcome`), ``ok``,
    ``checks`` (a list of dicts with ``kind``, ``tag``, ``digest``, ``size``, ``status`` and
    ``message``), the whole report as ``data`` (parsed JSON) and as ``text`` for people, and
    ``message`` (the library's error message when the verification failed, else None)."""

    def __init__(
        self, outcome: Union[Outcome, int], data: Dict[str, Any], text: str, message: Optional[str]
    ) -> None:
        self.outcome = outcome
        self.data = data
        self.text = text
        self.message = message

    @classmethod
    def _take(cls, ptr: int, message: Optional[str] = None) -> "VerifyReport":
        """Reads a ``ocireg_verify_report *`` and frees it."""
        try:
            raw = lib.ocireg_verify_report_outcome(ptr)
            try:
                outcome: Union[Outcome, int] = Outcome(raw)
            except ValueError:
                outcome = raw
            data = json.loads(_take_json(lib.ocireg_verify_report_to_json, ptr))
            text = _take_json(lib.ocireg_verify_report_to_text, ptr)
        finally:
            lib.ocireg_verify_report_free(ptr)
        return cls(outcome, data, text, message)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return self.outcome == Outcome.VERIFIED

    @property
    def checks(self) -> List[Dict[str, Any]]:
        return list(self.data.get("checks") or [])

    @property
    def failed_checks(self) -> List[Dict[str, Any]]:
        """The checks whose status is not ``"ok"``."""
        return [c for c in self.checks if c.get("status") != "ok"]

    @property
    def repository(self) -> Optional[str]:
        return self.data.get("repository")

    @property
    def digest(self) -> Optional[str]:
        return self.data.get("digest")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        name = self.outcome.name if isinstance(self.outcome, Outcome) else str(self.outcome)
        return "<ocireg.VerifyReport %s, %d checks>" % (name, len(self.checks))
