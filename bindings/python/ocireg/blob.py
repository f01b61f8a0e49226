"""Blobs read as a stream (``ocireg_blob_reader_*``): :class:`BlobReader`, a read-only binary
file object returned by :meth:`ocireg.Client.open_blob`."""

from __future__ import annotations

import ctypes
import io
from ctypes import byref, c_size_t
from . import _ffi, retry
from ._handle import Handle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import ExitStack
    from typing import Any, Iterator, Optional

lib = _ffi.lib

#: The read size of :meth:`BlobReader.readall` and :meth:`BlobReader.chunks`.
CHUNK_SIZE = 1 << 20


class _ReaderHandle(Handle):
    _free_name = "ocireg_blob_reader_free"
    _what = "blob reader"

    def __init__(self, ptr: int, keep: ExitStack) -> None:
        super().__init__(ptr)
        self._keep = keep  # what must outlive the C reader (the borrowed cancel handle)

    def _free(self, ptr: int) -> None:
        try:
            super()._free(ptr)
        finally:
            self._keep.close()


class BlobReader(io.RawIOBase):
    """A blob being downloaded, as a read-only, non-seekable binary file (an
    :class:`io.RawIOBase`: ``read``, ``readinto``, ``readall``; wrap it in
    :class:`io.BufferedReader` for ``peek`` / ``readline``). Use it in a ``with`` block, or
    call :meth:`close`::

        with client.open_blob("team/app", digest) as blob:
            for chunk in blob.chunks():
                sink.write(chunk)

    The bytes are verified as they stream: the read that reaches the end raises
    :class:`ocireg.DigestMismatchError` when they do not hash to the digest (so a reader that
    returned ``b""`` delivered exactly the blob); a body longer than announced raises
    :class:`ocireg.ProtocolError`; a dropped connection is resumed with ``Range``. Reads obey
    the ``cancel`` / ``timeout`` the reader was opened with. One thread at a time.
    """

    def __init__(self, ptr: int, repository: str, digest: str, keep: ExitStack) -> None:
        super().__init__()
        self._handle = _ReaderHandle(ptr, keep)
        self._size = int(lib.ocireg_blob_reader_size(ptr))
        self._pos = 0
        #: The repository the blob is read from.
        self.repository = repository
        #: The digest of the blob.
        self.digest = digest

    @property
    def size(self) -> int:
        """The blob's size in bytes (as the registry announced it)."""
        return self._size

    @property
    def position(self) -> int:
        """How many bytes were read so far."""
        return self._pos

    def readable(self) -> bool:
        """True (while open)."""
        if self.closed:
            raise ValueError("I/O operation on a closed blob reader")
        return True

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        """Reads up to ``len(buffer)`` bytes into the writable ``buffer`` and returns how many
        (0 at the end of the blob, once its digest was verified)."""
        if self.closed:
            raise ValueError("I/O operation on a closed blob reader")
        view = memoryview(buffer)
        if view.readonly:
            raise TypeError("readinto() needs a writable buffer")
        view = view.cast("B")
        n = view.nbytes
        if n == 0:
            return 0
        target = (ctypes.c_char * n).from_buffer(view)
        got = c_size_t()
        try:
            with retry.callback_frame(), self._handle._borrow(exclusive=True) as h:
                _ffi.call(lib.ocireg_blob_reader_read, h, target, n, byref(got))
        finally:
            del target
        self._pos += got.value
        return got.value

    def readall(self) -> bytes:
        """Reads the rest of the blob (into memory: for a large blob, read in chunks)."""
        out = bytearray()
        buf = bytearray(CHUNK_SIZE)
        while True:
            n = self.readinto(buf)
            if not n:
                return bytes(out)
            out += memoryview(buf)[:n]

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yields the rest of the blob in pieces of at most ``size`` bytes."""
        size = _ffi.uint(size, 63, "size")
        if size == 0:
            raise ValueError("size must be positive")
        buf = bytearray(size)
        while True:
            n = self.readinto(buf)
            if not n:
                return
            yield bytes(memoryview(buf)[:n])

    def close(self) -> None:
        """Closes the reader (and its connection). Closing twice is fine."""
        if not self.closed:
            try:
                self._handle.close()
            finally:
                super().close()

    def __repr__(self) -> str:
        state = " (closed)" if self.closed else " at %d" % self._pos
        return "<ocireg.BlobReader %s@%s, %d bytes%s>" % (
            self.repository,
            self.digest,
            self._size,
            state,
        )


def open_reader(
    client_ptr: int, repository: str, digest: str, cancel: Optional[Any], keep: ExitStack
) -> BlobReader:
    """Opens a :class:`BlobReader` through the live client pointer ``client_ptr``; ``cancel``
    (a :class:`ocireg.Cancel` or None) stays borrowed in ``keep`` until the reader is freed.
    ``keep`` is closed here on failure."""
    from ctypes import c_void_p

    try:
        repo, dg = _ffi.cstr(repository, "repository"), _ffi.cstr(digest, "digest")
        cancel_ptr = keep.enter_context(cancel._borrow()) if cancel is not None else None
        out = c_void_p()
        _ffi.call(lib.ocireg_blob_reader_open, client_ptr, repo, dg, cancel_ptr, byref(out))
    except BaseException:
        keep.close()
        raise
    return BlobReader(out.value, repository, digest, keep)
