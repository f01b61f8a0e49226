"""``import ocireg`` in a fresh interpreter: what it does at import, and what it leaves for the
first use (which must still work). The test process itself has loaded much more."""

import os
import subprocess
import sys
import textwrap

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_fresh(script):
    """Runs ``script`` in ``python -S`` (no site: only what ocireg imports gets imported) with
    warnings as errors; returns its standard output."""
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    proc = subprocess.run(
        [sys.executable, "-S", "-W", "error", "-c", textwrap.dedent(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return proc.stdout.splitlines()


def test_signatures_are_set_on_first_use():
    out = run_fresh(
        """
        import ctypes
        import ocireg
        from ocireg import _ffi
        print(sorted(n for n in vars(_ffi.lib) if n.startswith("ocireg_")))
        fn = _ffi.lib.ocireg_status_name
        print(fn.restype is ctypes.c_char_p, fn.argtypes == [ctypes.c_uint32])
        print(ocireg.status_name(5), fn is _ffi.lib.ocireg_status_name)
        fresh = _ffi.lib["ocireg_tags"]  # item lookup: typed too, not kept
        print(fresh.argtypes == _ffi.SIGNATURES["ocireg_tags"][1], "ocireg_tags" in vars(_ffi.lib))
        """
    )
    assert out == [
        "['ocireg_abi_version']",  # the ABI check at import
        "True True",
        "OCIREG_NOT_FOUND True",
        "True False",
    ]


def test_first_lookups_from_many_threads_at_once():
    out = run_fresh(
        """
        import threading
        import ocireg
        barrier = threading.Barrier(16)
        results = [None] * 16
        def work(i):
            barrier.wait()
            results[i] = {ocireg.status_name(i % 8) for _ in range(50)}
        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(sorted({len(r) for r in results}), len({r.pop() for r in results}))
        """
    )
    assert out == ["[1] 8"]


def test_json_and_testing_are_imported_when_first_needed():
    out = run_fresh(
        """
        import sys
        import ocireg
        print("json" in sys.modules, "ocireg.testing" in sys.modules)
        print(ocireg.errors.ErrorEntry.from_c("X", "", '{"a": [1]}').detail)
        with ocireg.testing.Registry() as reg, ocireg.Client(reg.url) as client:
            try:
                client.tags("missing/repo")
            except ocireg.NotFoundError as e:
                print(e.errors[0].code, e.errors[0].detail)
            print([r["path"] for r in reg.requests()])
        from ocireg import *  # noqa: F401,F403  (every name of __all__, testing included)
        print(testing is ocireg.testing is sys.modules["ocireg.testing"])
        """
    )
    assert out == [
        "False False",
        "{'a': [1]}",
        "NAME_UNKNOWN {'name': 'missing/repo'}",
        "['/v2/missing/repo/tags/list']",
        "True",
    ]


def test_no_typing_at_run_time():
    # The annotations are strings (`from __future__ import annotations`) and the typing names
    # are imported for type checkers only: typing (and re with it) cost ~9 ms of the import.
    out = run_fresh(
        """
        import sys
        import ocireg
        print("typing" in sys.modules, "re" in sys.modules)
        ocireg.testing  # the test registry, imported on first use: no typing either
        print("typing" in sys.modules, "re" in sys.modules)
        """
    )
    assert out == ["False False", "False False"]


def test_named_tuples_without_typing():
    out = run_fresh(
        """
        import ocireg
        b = ocireg.Backoff(initial=1)
        print(b, b._replace(jitter=0.1).jitter, ocireg.Backoff._fields[-1], type(b).__mro__[1:])
        m = ocireg.Manifest(b"{}", "t", None)
        print(m._asdict(), m.bytes, m.json(), ocireg.Manifest.__doc__.split(":")[0])
        e = ocireg.ErrorEntry("C", "m")
        code, message, detail = e
        print(e, isinstance(e, tuple), detail, ocireg.ErrorEntry.__module__)
        """
    )
    assert out == [
        "Backoff(initial=1, multiplier=2.0, max_interval=10.0, max_elapsed=None, jitter=0.5) "
        "0.1 jitter (<class 'tuple'>, <class 'object'>)",
        "{'data': b'{}', 'media_type': 't', 'digest': None} b'{}' {} A manifest as the registry "
        "holds it",
        "ErrorEntry(code='C', message='m', detail=None) True None ocireg.errors",
    ]


def test_no_threading_contextlib_enum_functools_collections_at_run_time():
    # A client and its calls need none of them (a plain _thread lock guards a handle, and its
    # borrows are small classes; the NamedTuple classes are made without collections; the two
    # enums are made on first use): with what they import, ~5 ms of the import.
    out = run_fresh(
        """
        import sys
        import ocireg
        names = ("threading", "contextlib", "enum", "functools", "collections")
        print([n for n in names if n in sys.modules])
        client = ocireg.Client("registry.example.com", anonymous=True)
        try:
            client.tags("Not/A/Valid/Name")
        except ocireg.InvalidReferenceError:
            pass
        print(client.base_url, [n for n in names if n in sys.modules])
        print(ocireg.Client.tags.__name__, ocireg.Client.tags.__wrapped__.__qualname__)
        cancel = ocireg.Cancel()
        cancel.trigger_after(0).join()  # the timer thread imports threading
        print(cancel.triggered, "threading" in sys.modules)
        """
    )
    assert out == [
        "[]",
        "https://registry.example.com []",
        "tags Client.tags",
        "True True",
    ]


def test_enums_are_made_on_first_use():
    out = run_fresh(
        """
        import sys
        import ocireg
        print("enum" in sys.modules, "ProgressEvent" in dir(ocireg), "Outcome" in ocireg.__all__)
        ev = ocireg.ProgressEvent(3)
        print(repr(ev), ev.name, ev.value, ev == 3, type(ev).__module__, "enum" in sys.modules)
        print(ocireg._models.ProgressEvent is ocireg.ProgressEvent, list(ocireg.Outcome)[-1].name)
        import pickle
        print(pickle.loads(pickle.dumps(ocireg.Outcome.FAILED)) is ocireg.Outcome.FAILED)
        """
    )
    assert out == [
        "False True True",
        "<ProgressEvent.UPLOADED: 3> UPLOADED 3 True ocireg._models True",
        "True INCONCLUSIVE",
        "True",
    ]


def test_no_importlib_at_run_time():
    # Finding the installed library (_libocireg.abi3.so) and importing ocireg.testing need
    # no importlib (~0.6 ms with the warnings it imports).
    out = run_fresh(
        """
        import sys
        import ocireg
        paths = ocireg._ffi._packaged_paths()
        print(any(p.endswith("_libocireg.abi3.so") for p in paths), ocireg.testing.__name__)
        print("importlib" in sys.modules)
        """
    )
    assert out == ["True ocireg.testing", "False"]
