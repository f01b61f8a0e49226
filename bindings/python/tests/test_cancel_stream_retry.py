"""Cancellation, per-call deadlines, streamed blob reads, retry control and errors as data
(issue 14), against the in-memory test registry through the C library. The only time bounds
asserted are the issue's (generous upper bounds)."""

import hashlib
import http.server
import io
import pickle
import threading
import time
import tracemalloc

import pytest

import ocireg

from conftest import make_config


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def patient_client(registry, **kw):
    """A client that would wait forever for a dripping body: only a cancel or a deadline ends
    its calls."""
    return registry.client(
        low_speed_limit=(0, 0), response_timeout=0, read_timeout=0, max_retries=0, **kw
    )


def trigger_later(cancel, seconds=0.3):
    t = threading.Thread(target=lambda: (time.sleep(seconds), cancel.trigger()))
    t.start()
    return t


# ---------------------------------------------------------------------------------------------
# Cancel handles


def test_cancel_handle_basics(registry, client):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    with ocireg.Cancel() as cancel:
        assert not cancel.triggered
        assert client.tags("team/app", cancel=cancel) == ["v1"]
        cancel.trigger()
        cancel.trigger()  # any number of times
        assert cancel.triggered and "triggered" in repr(cancel)
        with pytest.raises(ocireg.CancelledError) as info:
            client.tags("team/app", cancel=cancel)
        assert info.value.status == ocireg.Status.CANCELLED
        assert client.tags("team/app") == ["v1"]  # the client itself is untouched
    cancel.trigger()  # closed: a no-op
    assert "closed" in repr(cancel)
    with pytest.raises(ocireg.InvalidArgumentError):
        client.tags("team/app", cancel=cancel)  # a closed handle cannot be used
    with pytest.raises(TypeError):
        client.tags("team/app", cancel=threading.Event())
    for bad in (0, -1):
        with pytest.raises(ocireg.InvalidArgumentError):
            client.tags("team/app", timeout=bad)
    with pytest.raises(TypeError):
        client.tags("team/app", timeout="1")


def test_a_bound_client(registry, client):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    cancel = ocireg.Cancel()
    with client.bind(cancel) as bound:
        assert isinstance(bound, ocireg.Client) and bound is not client
        assert bound.registry == client.registry
        assert bound.tags("team/app") == ["v1"]
        cancel.trigger()
        with pytest.raises(ocireg.CancelledError):
            bound.tags("team/app")
        with pytest.raises(ocireg.CancelledError):
            bound.manifest("team/app", "v1")
    cancel.close()
    with client.bind(timeout=60) as bound:
        assert bound.tags("team/app") == ["v1"]
    assert client.tags("team/app") == ["v1"]


def test_a_call_stalled_mid_body_is_cancelled_from_another_thread(registry, tmp_path):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    blob = registry.add_blob("team/app", b"\x09" * (1 << 20))
    registry.set_hostile("slow-drip:2000")
    with patient_client(registry) as client:
        for call in (
            lambda c: client.manifest("team/app", "v1", cancel=c),
            lambda c: client.pull_blob_bytes("team/app", blob, cancel=c),
            lambda c: client.pull_blob("team/app", blob, str(tmp_path / "blob"), cancel=c),
        ):
            cancel = ocireg.Cancel()
            t = trigger_later(cancel)
            started = time.monotonic()
            with pytest.raises(ocireg.CancelledError):
                call(cancel)
            took = time.monotonic() - started
            t.join()
            assert took < 1.5, "took %.2f s" % took
        assert list(tmp_path.iterdir()) == []  # nothing half-written

        # A blob reader: a read waiting for the next byte is cancelled too.
        cancel = ocireg.Cancel()
        with client.open_blob("team/app", blob, cancel=cancel) as reader:
            t = trigger_later(cancel)
            started = time.monotonic()
            with pytest.raises(ocireg.CancelledError):
                while reader.read(65536):
                    pass
            took = time.monotonic() - started
            t.join()
        assert took < 1.5, "took %.2f s" % took
    registry.set_hostile("none")


def test_a_deadline_of_half_a_second_with_retries(registry):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    blob = registry.add_blob("team/app", b"\x07" * 100_000)
    registry.fail_next(1000, 503)
    retries = []
    with registry.client(
        max_retries=1000,
        backoff=ocireg.Backoff(initial=0.1, multiplier=1.0, jitter=0),
        retry_notify=lambda error, delay: retries.append(delay),
    ) as client:
        started = time.monotonic()
        with pytest.raises((ocireg.TimeoutError, ocireg.RegistryError)) as info:
            client.tags("team/app", timeout=0.5)
        took = time.monotonic() - started
        assert took < 1.0, "took %.2f s" % took
        if isinstance(info.value, ocireg.RegistryError):
            assert info.value.http_status == 503
        # 100 ms waits within 500 ms: a handful of retries, not a thousand.
        assert 1 <= len(retries) <= 10
    registry.fail_next(0)

    # A deadline while the registry is silent mid-body: TimeoutError.
    registry.set_hostile("slow-drip:2000")
    with patient_client(registry) as client:
        started = time.monotonic()
        with pytest.raises(ocireg.TimeoutError):
            client.manifest("team/app", "v1", timeout=0.5)
        assert time.monotonic() - started < 1.0
        # A bound client's deadline covers all its calls.
        with client.bind(timeout=0.5) as bound:
            with pytest.raises(ocireg.TimeoutError):
                bound.manifest("team/app", "v1")
        # A blob reader's deadline covers its reads.
        started = time.monotonic()
        with client.open_blob("team/app", blob, timeout=0.5) as reader:
            with pytest.raises(ocireg.TimeoutError):
                while reader.read(65536):
                    pass
        assert time.monotonic() - started < 1.0
    registry.set_hostile("none")


# ---------------------------------------------------------------------------------------------
# Streamed blob reads


def test_a_64_mib_blob_streams_verified_with_bounded_memory(registry, client):
    size = 64 << 20
    pattern = bytes(range(256)) * 4096  # 1 MiB
    data = b"".join(bytes([i]) + pattern[1:] for i in range(64))
    digest = registry.add_blob("team/app", data)
    del data  # the reading side never holds the blob whole
    tracemalloc.start()
    try:
        h = hashlib.sha256()
        buf = bytearray(256 << 10)
        view = memoryview(buf)
        total = 0
        with client.open_blob("team/app", digest) as reader:
            assert isinstance(reader, io.RawIOBase) and reader.readable()
            assert not reader.seekable()
            assert reader.size == size and reader.digest == digest
            while True:
                n = reader.readinto(view)
                if not n:
                    break
                h.update(view[:n])
                total += n
            assert reader.position == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert "sha256:" + h.hexdigest() == digest
    assert peak < 8 << 20, "the Python side held %d bytes" % peak
    assert reader.closed


def test_blob_reader_file_interface(registry, client):
    data = b"streamed blob content, read in small pieces"
    digest = registry.add_blob("team/app", data)
    with client.open_blob("team/app", digest) as reader:
        assert reader.read(5) == data[:5]
        assert reader.read(0) == b""
        assert reader.read() == data[5:]
        assert reader.read() == b""
    with pytest.raises(ValueError):
        reader.read(1)
    reader.close()  # twice is fine
    with client.open_blob("team/app", digest) as reader:
        assert b"".join(reader.chunks(7)) == data
    with client.open_blob("team/app", digest) as reader:
        assert reader.readall() == data
    with io.BufferedReader(client.open_blob("team/app", digest), 8) as buffered:
        assert buffered.peek(1)[:1] == b"s"
        assert buffered.read() == data
    with client.open_blob("team/app", digest, timeout=30) as reader:
        assert reader.read() == data
    with pytest.raises(ocireg.NotFoundError):
        client.open_blob("team/app", "sha256:" + "0" * 64)
    with pytest.raises(ocireg.InvalidReferenceError):
        client.open_blob("team/app", "not-a-digest")


class _TamperingRegistry(http.server.ThreadingHTTPServer):
    """A registry answering other bytes (same length) than the blob's digest says."""

    daemon_threads = True

    def __init__(self, real, fake):
        self.digest = sha256(real)
        self.fake = fake

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(handler, body):
                server = handler.server
                if handler.path == "/v2/" or handler.path == "/v2":
                    payload = b"{}"
                elif handler.path == "/v2/team/app/blobs/" + server.digest:
                    payload = server.fake
                else:
                    handler.send_response(404)
                    handler.send_header("Content-Length", "0")
                    handler.end_headers()
                    return
                handler.send_response(200)
                handler.send_header("Content-Type", "application/octet-stream")
                handler.send_header("Content-Length", str(len(payload)))
                handler.send_header("Docker-Content-Digest", server.digest)
                handler.end_headers()
                if body:
                    handler.wfile.write(payload)

            def do_GET(handler):
                handler._answer(True)

            def do_HEAD(handler):
                handler._answer(False)

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


def test_a_tampered_blob_fails_on_the_last_read():
    real = bytes(range(256)) * 4096  # 1 MiB
    fake = bytearray(real)
    fake[-1] ^= 0xFF  # the last byte differs: only the end can tell
    server = _TamperingRegistry(real, bytes(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with ocireg.Client(server.url, anonymous=True, max_retries=0) as client:
            total = 0
            buf = bytearray(64 << 10)
            with client.open_blob("team/app", sha256(real)) as reader:
                assert reader.size == len(real)
                with pytest.raises(ocireg.DigestMismatchError):
                    while True:
                        n = reader.readinto(buf)
                        assert n, "the end was reached without the digest check failing"
                        total += n
            # Every read but the one that reached the end delivered its bytes.
            assert len(real) - len(buf) <= total < len(real)
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------------------
# Retry control


def test_the_retry_callback_sees_each_retry_of_a_503_storm(registry):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    seen = []
    thread = threading.get_ident()

    def notify(error, delay):
        seen.append((error, delay, threading.get_ident()))

    backoff = ocireg.Backoff(initial=0.01, multiplier=2.0, max_interval=0.05, jitter=0.0)
    with registry.client(max_retries=5, backoff=backoff, retry_notify=notify) as client:
        registry.fail_next(4, 503)
        assert client.tags("team/app") == ["v1"]
        assert [delay for _, delay, _ in seen] == [0.01, 0.02, 0.04, 0.05]
        for attempt, (error, _, tid) in enumerate(seen, start=1):
            assert tid == thread  # on the calling thread
            assert isinstance(error, ocireg.RegistryError)
            assert error.http_status == 503
            assert error.attempt == attempt
            assert error.method == "GET" and error.path == "/v2/team/app/tags/list"
        # One storm longer than the retries: the callback saw every retry, then the error.
        seen.clear()
        registry.fail_next(10, 503)
        with pytest.raises(ocireg.RegistryError) as info:
            client.tags("team/app")
        assert info.value.http_status == 503
        assert len(seen) == 5
        registry.fail_next(0)
        # A Retry-After replaces the backoff's wait.
        seen.clear()
        registry.fail_next(1, 429, retry_after=1)
        assert client.tags("team/app") == ["v1"]
        assert len(seen) == 1
        assert isinstance(seen[0][0], ocireg.RateLimitedError) and seen[0][1] == 1.0


def test_the_retry_callback_is_told_of_failures_without_an_answer(registry):
    seen = []
    with registry.client(
        max_retries=1, response_timeout=0.2, retry_notify=lambda e, d: seen.append(e)
    ) as client:
        registry.set_delay(0.6)
        with pytest.raises(ocireg.TimeoutError):
            client.tags("team/app")
        registry.set_delay(0)
        registry.stop()
        with pytest.raises(ocireg.NetworkError):
            client.tags("team/app")
    assert [type(e) for e in seen] == [ocireg.TimeoutError, ocireg.NetworkError]
    assert all(e.http_status is None and e.attempt == 1 for e in seen)


def test_retry_callbacks_of_an_operation_with_workers(registry, tmp_path):
    registry.add_image("team/app", "v1", make_config(1), [b"first", b"second"])
    seen = []
    backoff = ocireg.Backoff(initial=0.01, multiplier=1.0, jitter=0.0)
    with registry.client(max_retries=5, backoff=backoff, retry_notify=lambda e, d: seen.append(d)) as client:
        registry.fail_next(2, 503)
        with client.pull_image("team/app", "v1", tmp_path / "layout", threads=2):
            pass
    assert seen == [0.01, 0.01]


def test_an_exception_in_the_retry_callback_is_raised_from_the_call(registry):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])

    class Boom(Exception):
        pass

    calls = []

    def notify(error, delay):
        calls.append(delay)
        raise Boom("from the callback")

    backoff = ocireg.Backoff(initial=0.01, jitter=0.0)
    with registry.client(max_retries=3, backoff=backoff, retry_notify=notify) as client:
        registry.fail_next(2, 503)
        # The callback cannot stop the retries: the call runs to its end, then raises.
        with pytest.raises(Boom):
            client.tags("team/app")
        assert len(calls) == 2
        registry.fail_next(10, 503)
        with pytest.raises(Boom) as info:
            client.tags("team/app")
        assert isinstance(info.value.__context__, ocireg.RegistryError)
        registry.fail_next(0)
        assert client.tags("team/app") == ["v1"]  # nothing left over


def test_backoff_is_checked(registry):
    for bad in (
        ocireg.Backoff(multiplier=0.5),
        ocireg.Backoff(jitter=1.5),
    ):
        with pytest.raises(ocireg.InvalidArgumentError):
            registry.client(backoff=bad)
    with pytest.raises(ocireg.InvalidArgumentError):
        registry.client(backoff=ocireg.Backoff(initial=-1))
    with pytest.raises(TypeError):
        registry.client(backoff=(1, 2))
    with pytest.raises(TypeError):
        registry.client(retry_notify="not callable")
    with registry.client(backoff={"initial": 0.05, "max_elapsed": 5}) as client:
        client.ping()


# ---------------------------------------------------------------------------------------------
# Errors as data


def test_an_error_with_two_entries_shows_both(registry, client):
    registry.set_hostile("malformed-error-entry")
    with pytest.raises(ocireg.NotFoundError) as info:
        client.manifest("team/app", "no-such-tag")
    registry.set_hostile("none")
    e = info.value
    assert e.http_status == 404
    assert len(e.errors) == 3, e.errors  # good, malformed ({"code": 5}), good
    first, last = e.errors[0], e.errors[-1]
    assert isinstance(first, ocireg.ErrorEntry)
    assert first.code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")
    assert first.message
    assert last == ocireg.ErrorEntry("UNKNOWN", "the entry after a malformed one", None)
    assert e.body and "the entry after a malformed one" in e.body and first.code in e.body
    # Pickled and back: everything kept.
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is type(e) and back.errors == e.errors and back.body == e.body


def test_error_entries_detail_and_retry_after(registry, client):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    with pytest.raises(ocireg.NotFoundError) as info:
        client.manifest("team/app", "nope")
    (entry,) = info.value.errors
    assert entry.code == "MANIFEST_UNKNOWN" and entry.message
    assert entry.detail == {"reference": "nope"}
    assert "MANIFEST_UNKNOWN" in info.value.body

    registry.fail_next(1, 429, retry_after=7)
    with pytest.raises(ocireg.RateLimitedError) as info:
        client.tags("team/app")
    assert info.value.retry_after == 7 and info.value.http_status == 429
    registry.fail_next(1, 503, retry_after=3)
    with pytest.raises(ocireg.RegistryError) as info:
        client.tags("team/app")
    assert info.value.retry_after == 3 and info.value.status == ocireg.Status.REGISTRY

    # No registry answer: no entries, no body.
    with pytest.raises(ocireg.InvalidReferenceError) as info:
        client.tags("Not/Valid")
    assert info.value.errors == [] and info.value.body is None
