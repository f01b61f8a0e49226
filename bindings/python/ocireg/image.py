"""Images to push: built from a config and layers (:class:`ImageBuilder`), or read from an OCI
image layout directory (:meth:`Image.from_layout`)."""

from __future__ import annotations

import ctypes
import os
from ctypes import byref, c_size_t, c_void_p
from . import _ffi
from ._handle import Handle
from ._models import Pushed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Union

lib = _ffi.lib

#: The OCI media type of a gzip-compressed tar layer (the default of :meth:`ImageBuilder.add_layer`).
LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
#: The OCI media type of an uncompressed tar layer.
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"

if TYPE_CHECKING:
    PathLike = Union[str, "os.PathLike[str]"]


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


class Image(Handle):
    """An image (or an index with its child images) ready to push: its manifest bytes and where
    each blob comes from. Immutable; may be shared between threads."""

    _free_name = "ocireg_image_free"
    _what = "image"

    @classmethod
    def from_layout(cls, directory: PathLike, tag: Optional[str] = None) -> "Image":
        """Reads the image of the OCI image layout in ``directory``: the manifest tagged ``tag``
        (its ``org.opencontainers.image.ref.name``, a full reference ending in ``:tag``, or a
        digest), or the only one when ``tag`` is None. Blobs stay on disk."""
        out = c_void_p()
        _ffi.call(
            lib.ocireg_image_from_layout,
            _ffi.cstr(directory, "directory"),
            _ffi.cstr(tag, "tag", optional=True),
            byref(out),
        )
        return cls(out.value)

    @property
    def digest(self) -> str:
        """The manifest digest, ``"sha256:…"``."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_image_digest(h)) or ""

    @property
    def media_type(self) -> str:
        """The manifest media type."""
        with self._borrow() as h:
            return _ffi.decode(lib.ocireg_image_media_type(h)) or ""

    @property
    def manifest(self) -> bytes:
        """The manifest bytes, exactly as they will be pushed."""
        n = c_size_t()
        with self._borrow() as h:
            ptr = lib.ocireg_image_manifest(h, byref(n))
            return ctypes.string_at(ptr, n.value) if ptr else b""

    def to_pushed(self, repository: str, tag: Optional[str] = None) -> Pushed:
        """What pushing this image to ``repository`` under ``tag`` (None: untagged) gives,
        without pushing anything: the expectation :meth:`Client.verify` checks."""
        out = c_void_p()
        with self._borrow() as h:
            _ffi.call(
                lib.ocireg_pushed_from_image,
                h,
                _ffi.cstr(repository, "repository"),
                _ffi.cstr(tag, "tag", optional=True),
                byref(out),
            )
        return Pushed(out.value)

    def __repr__(self) -> str:
        if self.closed:
            return "<ocireg.Image (closed)>"
        return "<ocireg.Image %s %s>" % (self.media_type, self.digest)


class ImageBuilder(Handle):
    """Builds an image from a config blob and layers (bytes or files). Every setter returns the
    builder, so calls chain::

        image = (ocireg.ImageBuilder()
                 .set_config(b'{"architecture":"amd64","os":"linux"}')
                 .add_layer(b"...tar.gz bytes...")
                 .add_layer("layer2.tar.gz")
                 .build())

    :meth:`build` leaves the builder as it was: it can build again, or be changed and build
    another image.
    """

    _free_name = "ocireg_image_builder_free"
    _what = "image builder"

    def __init__(self) -> None:
        super().__init__()
        self._create(lib.ocireg_image_builder_new)

    def set_config(self, data: Any, media_type: Optional[str] = None) -> "ImageBuilder":
        """Sets the config blob (JSON bytes); ``media_type`` None means the OCI image config
        type (or Docker's with :meth:`set_docker_schema2`). Required before :meth:`build`."""
        buf, n = _ffi.buffer(data, "config")
        mt = _ffi.cstr(media_type, "media_type", optional=True)
        with self._borrow(exclusive=True) as h:
            _ffi.call(lib.ocireg_image_builder_set_config, h, buf, n, mt)
        return self

    def add_layer(self, layer: Any, media_type: str = LAYER_TAR_GZIP) -> "ImageBuilder":
        """Adds a layer: bytes-like data (copied), or a file path (hashed by :meth:`build` and
        streamed when pushed, never loaded into memory)."""
        mt = _ffi.cstr(media_type, "media_type")
        if _is_path(layer):
            path = _ffi.cstr(layer, "path")
            with self._borrow(exclusive=True) as h:
                _ffi.call(lib.ocireg_image_builder_add_layer_file, h, path, mt)
        else:
            buf, n = _ffi.buffer(layer, "layer")
            with self._borrow(exclusive=True) as h:
                _ffi.call(lib.ocireg_image_builder_add_layer_bytes, h, buf, n, mt)
        return self

    def add_annotation(self, key: str, value: str) -> "ImageBuilder":
        """Adds a manifest annotation (OCI format only)."""
        k, v = _ffi.cstr(key, "key"), _ffi.cstr(value, "value")
        with self._borrow(exclusive=True) as h:
            _ffi.call(lib.ocireg_image_builder_add_annotation, h, k, v)
        return self

    def set_artifact_type(self, media_type: str) -> "ImageBuilder":
        """Sets the manifest's ``artifactType`` (OCI format only)."""
        mt = _ffi.cstr(media_type, "media_type")
        with self._borrow(exclusive=True) as h:
            _ffi.call(lib.ocireg_image_builder_set_artifact_type, h, mt)
        return self

    def set_docker_schema2(self, on: bool = True) -> "ImageBuilder":
        """True: write a Docker image manifest, schema 2; False: an OCI image manifest (the
        default)."""
        with self._borrow(exclusive=True) as h:
            _ffi.call(lib.ocireg_image_builder_set_docker_schema2, h, 1 if on else 0)
        return self

    def build(self) -> Image:
        """Builds the image (hashes the layer files that need it, serializes the manifest)."""
        out = c_void_p()
        with self._borrow() as h:
            _ffi.call(lib.ocireg_image_builder_build, h, byref(out))
        return Image(out.value)

    def __repr__(self) -> str:
        return "<ocireg.ImageBuilder%s>" % (" (closed)" if self.closed else "")
