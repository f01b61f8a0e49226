"""Fixtures of the ocireg Python binding tests.

The tests import the package from this source tree (bindings/python), whatever the current
directory, and start their own in-memory registries on 127.0.0.1 through the C ABI: no network,
no external registry. The library is found as the package finds it: $OCIREG_LIB (tests/run-all.sh
points it at a `cargo cinstall` prefix), else the repository's target/debug (or target/release).
"""

import gzip
import io
import json
import os
import sys
import tarfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# Tests talk to 127.0.0.1 only: never through a proxy (the library ignores proxy variables
# unless asked, but be safe for anything else).
for _var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)

import ocireg  # noqa: E402


def make_layer(files):
    """A gzip-compressed tar layer holding ``files`` (name -> bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def make_config(n_layers=1):
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64] * n_layers},
            "config": {},
        },
        sort_keys=True,
    ).encode()


@pytest.fixture
def registry():
    with ocireg.testing.Registry() as reg:
        yield reg


@pytest.fixture
def client(registry):
    with registry.client(max_retries=0) as c:
        yield c


@pytest.fixture
def basic_registry():
    with ocireg.testing.Registry(auth="basic", users={"alice": "secret", "bob": "pw"}) as reg:
        yield reg


@pytest.fixture
def bearer_registry():
    with ocireg.testing.Registry(auth="bearer", users={"alice": "secret"}) as reg:
        yield reg


@pytest.fixture
def image(tmp_path):
    """A two-layer image: one layer from bytes, one from a file."""
    layer_file = tmp_path / "layer2.tar.gz"
    layer_file.write_bytes(make_layer({"etc/motd": b"hello from a file layer\n"}))
    with ocireg.ImageBuilder() as builder:
        builder.set_config(make_config(2))
        builder.add_layer(make_layer({"hello.txt": b"hello\n"}))
        builder.add_layer(str(layer_file))
        builder.add_annotation("org.opencontainers.image.title", "test")
        img = builder.build()
    with img:
        yield img
