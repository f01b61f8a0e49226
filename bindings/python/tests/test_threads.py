"""Several threads sharing one client; the GIL is released during calls; closing a handle
while other threads use it is safe."""

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import ocireg

from conftest import make_config, make_layer


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _shared_client_work(registry, client, tmp_path, n_threads, n_tasks, push_threads):
    registry.add_image("team/app", "v1", make_config(1), [b"layer"])

    def work(i):
        data = ("blob %d " % i).encode() * 1000
        repo = "team/t%d" % (i % 4)
        digest = client.push_blob(repo, data)
        assert digest == sha256(data)
        assert client.blob_exists(repo, digest)
        chunks = []
        client.pull_blob(repo, digest, chunks.append)
        assert b"".join(chunks) == data
        assert client.tags("team/app") == ["v1"]
        assert client.manifest("team/app", "v1").media_type
        events = []
        image = (
            ocireg.ImageBuilder()
            .set_config(make_config(1))
            .add_layer(make_layer({"f%d" % i: data}))
            .build()
        )
        with image:
            expected = image.digest
            with client.push_image(
                "team/img%d" % i, "v1", image, events.append, threads=push_threads
            ) as pushed:
                assert client.verify("team/img%d" % i, pushed).ok
        assert events
        layout = tmp_path / ("l%d" % i)
        with client.pull_image("team/img%d" % i, "v1", layout, threads=push_threads) as pulled:
            assert pulled.digest == expected
        return i

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        assert sorted(pool.map(work, range(n_tasks))) == list(range(n_tasks))
    assert client.request_count > n_tasks


def test_threads_share_one_client(registry, tmp_path):
    # Four threads, one connection each at a time: see the stress test below for more.
    with registry.client(max_retries=0) as client:
        _shared_client_work(registry, client, tmp_path, n_threads=4, n_tasks=12, push_threads=1)


def test_threads_share_one_client_stress(registry, tmp_path):
    with registry.client(max_retries=0) as client:
        _shared_client_work(registry, client, tmp_path, n_threads=8, n_tasks=32, push_threads=4)


def test_calls_release_the_gil(registry):
    # A 1 s call: the ticker (every 10 ms) ticks about 100 times if the GIL is released and
    # at most once if not; 5 leaves room for a loaded machine.
    registry.set_delay(1.0)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        with registry.client(max_retries=0) as c:
            started = len(ticks)
            c.ping()
            during = len(ticks) - started
    finally:
        stop.set()
        t.join()
        registry.set_delay(0)
    assert during >= 5, "another Python thread was starved during a blocking call"


def test_close_while_calls_run_is_deferred(registry):
    registry.add_image("team/app", "v1")
    registry.set_delay(0.3)
    client = registry.client(max_retries=0)
    results = []

    def call():
        results.append(client.tags("team/app"))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    client.close()  # the running calls finish; the client is freed after the last one
    for t in threads:
        t.join()
    registry.set_delay(0)
    assert results == [["v1"]] * 4
    with pytest.raises(ocireg.InvalidArgumentError):
        client.tags("team/app")


def test_exclusive_borrow_waits_for_running_calls():
    # A builder's setters borrow it exclusively: one waits for the call running on it (the
    # borrow below), then goes on (the condition it waits on is made on demand).
    builder = ocireg.ImageBuilder()
    order = []

    def set_config():
        builder.set_config(make_config(1))
        order.append("set")

    with builder._borrow():
        t = threading.Thread(target=set_config)
        t.start()
        time.sleep(0.2)
        order.append("released")
    t.join()
    assert order == ["released", "set"]
    assert builder.build().digest.startswith("sha256:")
    builder.close()


def test_builder_is_safe_to_share(tmp_path):
    builder = ocireg.ImageBuilder().set_config(make_config(1))

    def add(i):
        builder.add_layer(("layer %d" % i).encode())
        return builder.build().digest

    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = list(pool.map(add, range(20)))
    assert len(set(digests)) == 20
    with builder.build() as image:
        assert len(json.loads(image.manifest)["layers"]) == 20
    builder.close()
