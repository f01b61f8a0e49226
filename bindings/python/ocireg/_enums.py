"""The public enums :class:`ocireg.ProgressEvent` and :class:`ocireg.Outcome`, made on first use.

:mod:`enum` (with :mod:`functools` and :mod:`collections`, which it imports) costs about 2 ms of
``import ocireg``, and most programs never look at a progress event or a verification outcome.
So this module is imported when one of the two is first needed: an attribute lookup on
:mod:`ocireg` or :mod:`ocireg._models` (their module ``__getattr__``), a progress callback, a
verification report. The classes are the ones ``ocireg._models`` defined before: their
``__module__`` is still ``ocireg._models``, so that pickles and :func:`help` are unchanged.
"""

import enum

from . import _ffi


class ProgressEvent(enum.IntEnum):
    """What a progress callback is told (``OCIREG_PROGRESS_*``)."""

    __module__ = "ocireg._models"

    UPLOADING = _ffi.PROGRESS_UPLOADING
    EXISTED = _ffi.PROGRESS_EXISTED
    MOUNTED = _ffi.PROGRESS_MOUNTED
    UPLOADED = _ffi.PROGRESS_UPLOADED
    DOWNLOADING = _ffi.PROGRESS_DOWNLOADING
    REUSED = _ffi.PROGRESS_REUSED
    DOWNLOADED = _ffi.PROGRESS_DOWNLOADED


class Outcome(enum.IntEnum):
    """The outcome of a verification (``OCIREG_OUTCOME_*``)."""

    __module__ = "ocireg._models"

    VERIFIED = _ffi.OUTCOME_VERIFIED
    FAILED = _ffi.OUTCOME_FAILED
    INCONCLUSIVE = _ffi.OUTCOME_INCONCLUSIVE
