"""Result types: manifests, push and pull results, verification reports, progress events."""

from __future__ import annotations

from ctypes import byref, c_uint64, c_void_p

from . import _ffi
from ._handle import Handle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

    from ._enums import Outcome, ProgressEvent
else:
    from ._namedtuple import NamedTuple

lib = _ffi.lib


def __getattr__(name: str) -> Any:
    # ProgressEvent and Outcome are made on first use (see ocireg._enums): enum costs ~2 ms.
    if name in ("ProgressEvent", "Outcome"):
        from . import _enums

        value = globals()[name] = getattr(_enums, name)
        return value
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


class Progress(NamedTuple):
    """One progress report of a push or pull: blob ``digest``, ``done`` / ``total`` bytes and
    the ``event`` (a :class:`ProgressEvent`, or a plain int for an event newer than this
    binding)."""

    digest: str
    done: int
    total: int
    event: Union[ProgressEvent, int]


if TYPE_CHECKING:
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
    from ._enums import ProgressEvent

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
        return _ffi.parse_json(self.data)

    def sizes(self) -> "ManifestSizes":
        """The image's sizes (config + layers, and layers only): see :func:`manifest_sizes`."""
        return manifest_sizes(self.data, self.media_type)

    @property
    def image_size(self) -> int:
        """The image's size in bytes, config + layers (docker_registry2's ``manifest_sum``);
        :class:`InvalidArgumentError` for an index, which has no single image."""
        return self.sizes().image_size


class ManifestSizes(NamedTuple):
    """The sizes of an image, from its manifest: ``image_size`` (config + layers, the
    docker_registry2 gem's ``manifest_sum``) and ``layers_size`` (the layers only)."""

    image_size: int
    layers_size: int


def manifest_sizes(data: Any, media_type: Optional[str] = None) -> ManifestSizes:
    """The :class:`ManifestSizes` of an image manifest given as bytes (its media type read from
    it unless given). An index has no image size: :class:`InvalidArgumentError`."""
    buf, n = _ffi.buffer(data, "data")
    mt = _ffi.cstr(media_type, "media_type", optional=True)
    image, layers = c_uint64(), c_uint64()
    _ffi.call(lib.ocireg_manifest_sizes, buf, n, mt, byref(image), byref(layers))
    return ManifestSizes(image.value, layers.value)


class Descriptor(NamedTuple):
    """An OCI content descriptor: ``media_type``, ``digest``, ``size``, ``platform`` (a dict
    such as ``{"os": "linux", "architecture": "arm64", "variant": "v8"}``, or None) and the
    whole descriptor as parsed JSON (``data``: annotations, urls, ...)."""

    media_type: str
    digest: str
    size: int
    platform: Optional[Dict[str, Any]]
    data: Dict[str, Any]

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Descriptor":
        return cls(
            data.get("mediaType") or "",
            data.get("digest") or "",
            int(data.get("size") or 0),
            data.get("platform"),
            data,
        )


class DeletedTag(NamedTuple):
    """What :meth:`Client.delete_tag` removed. When ``manifest_deleted`` is True the manifest
    itself was deleted, and **every tag that pointed at it is gone too**: ``removed_tags``
    lists the tags known gone (the one asked for, plus ``other_tags`` when they were
    listed). When False the registry removed only this tag (OCI 1.1 delete by tag)."""

    repository: str
    tag: str
    digest: str
    manifest_deleted: bool
    #: The other tags on the same manifest before the delete (None when not listed).
    other_tags: Optional[List[str]]
    removed_tags: List[str]

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "DeletedTag":
        return cls(
            data.get("repository") or "",
            data.get("tag") or "",
            data.get("digest") or "",
            bool(data.get("manifestDeleted")),
            data.get("otherTags"),
            list(data.get("removedTags") or []),
        )


class LayerFile(NamedTuple):
    """One layer written by :meth:`Client.pull_layers`: its ``digest``, ``size`` and
    ``media_type``, the ``path`` of its file, and whether it was ``downloaded`` (False: the
    file was already there with the right digest)."""

    digest: str
    size: int
    media_type: str
    path: str
    downloaded: bool


class PulledLayers(NamedTuple):
    """What :meth:`Client.pull_layers` did: the image's ``repository``, manifest ``digest``
    and ``media_type``, its ``platform`` (a dict such as ``{"os": "linux", "architecture":
    "amd64"}`` when it was chosen from an index, else None), the ``config``
    :class:`Descriptor`, the ``layers`` (:class:`LayerFile`), and ``stats`` (a dict with
    ``blobsDownloaded``, ``blobsReused``, ``bytesDownloaded``, ``requests``)."""

    repository: str
    digest: str
    media_type: str
    platform: Optional[Dict[str, Any]]
    config: Descriptor
    layers: List[LayerFile]
    stats: Dict[str, Any]

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "PulledLayers":
        return cls(
            data.get("repository") or "",
            data.get("digest") or "",
            data.get("mediaType") or "",
            data.get("platform"),
            Descriptor.from_json(data.get("config") or {}),
            [
                LayerFile(
                    layer.get("digest") or "",
                    int(layer.get("size") or 0),
                    layer.get("mediaType") or "",
                    layer.get("path") or "",
                    bool(layer.get("downloaded")),
                )
                for layer in data.get("layers") or []
            ],
            dict(data.get("stats") or {}),
        )


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
        return _ffi.parse_json(self.to_json())

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
        return _ffi.parse_json(self.to_json())

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
        from ._enums import Outcome

        try:
            raw = lib.ocireg_verify_report_outcome(ptr)
            try:
                outcome: Union[Outcome, int] = Outcome(raw)
            except ValueError:
                outcome = raw
            data = _ffi.parse_json(_take_json(lib.ocireg_verify_report_to_json, ptr))
            text = _take_json(lib.ocireg_verify_report_to_text, ptr)
        finally:
            lib.ocireg_verify_report_free(ptr)
        return cls(outcome, data, text, message)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return self.outcome == _ffi.OUTCOME_VERIFIED  # Outcome.VERIFIED (an IntEnum)

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
        from ._enums import Outcome

        name = self.outcome.name if isinstance(self.outcome, Outcome) else str(self.outcome)
        return "<ocireg.VerifyReport %s, %d checks>" % (name, len(self.checks))
