"""Client operations against the in-memory registry: ping, auth, login/logout, tags, catalog,
search, manifests, blobs, and the mapping of failures to exceptions."""

import hashlib
import io
import json
import os

import pytest

import ocireg
from ocireg import _ffi

from conftest import make_config

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_for(config_digest, config_size, layers=()):
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": d, "size": n} for d, n in layers
            ],
        },
        separators=(",", ":"),
    ).encode()


# -- ping and authentication ---------------------------------------------------------------------


def test_ping_anonymous(registry, client):
    client.ping()
    assert client.registry == registry.host
    assert client.base_url == registry.url
    assert client.request_count >= 1
    assert registry.request_count >= 1
    assert repr(client).startswith("<ocireg.Client http://127.0.0.1:")


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_ping_with_credentials(mode):
    with ocireg.testing.Registry(auth=mode, users={"alice": "secret", "bob": "pw"}) as reg:
        with ocireg.Client(reg.url, "alice", "secret") as c:
            c.ping()
            assert c.credential_source == "explicit"
        with ocireg.Client(reg.url, username="bob", password="pw") as c:
            c.ping()


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_wrong_password_is_authentication_error(mode):
    with ocireg.testing.Registry(auth=mode, users={"alice": "secret"}) as reg:
        with ocireg.Client(reg.url, "alice", "wrong", max_retries=0) as c:
            with pytest.raises(ocireg.AuthenticationError) as info:
                c.ping()
        err = info.value
        assert err.status == ocireg.Status.AUTHENTICATION
        assert err.status_name == "OCIREG_AUTHENTICATION"
        assert err.http_status == 401
        assert "wrong" not in err.message  # never a secret in a message
        with reg.client(max_retries=0) as anonymous:
            if mode == "basic":
                with pytest.raises(ocireg.AuthenticationError):
                    anonymous.tags("team/app")
            else:
                # Bearer: the token service hands out an anonymous token without the scope.
                with pytest.raises(ocireg.AuthorizationError) as info:
                    anonymous.tags("team/app")
                assert "repository:team/app:pull" in info.value.message


def test_login_and_logout(basic_registry, tmp_path):
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {}, "psFormat": "keep me"}))
    stored = ocireg.login(basic_registry.url, "alice", "secret", docker_config=str(config))
    assert stored == "config file %s" % config
    data = json.loads(config.read_text())
    assert basic_registry.host in data["auths"]
    assert data["psFormat"] == "keep me"

    # A client without explicit credentials finds them in that config.
    with ocireg.Client(basic_registry.url, docker_config=config) as c:
        c.ping()
        assert c.credential_source == "config file %s" % config

    assert ocireg.logout(basic_registry.url, docker_config=str(config)) is True
    assert basic_registry.host not in json.loads(config.read_text()).get("auths", {})
    assert ocireg.logout(basic_registry.url, docker_config=str(config)) is False
    with ocireg.Client(basic_registry.url, docker_config=config, max_retries=0) as c:
        with pytest.raises(ocireg.AuthenticationError):
            c.ping()


def test_login_with_a_wrong_password_stores_nothing(basic_registry, tmp_path):
    config = tmp_path / "config.json"
    with pytest.raises(ocireg.AuthenticationError):
        ocireg.login(basic_registry.url, "alice", "nope", docker_config=config, max_retries=0)
    assert not config.exists() or basic_registry.host not in config.read_text()
    # Logging out when nothing is stored is fine, and creates no file.
    missing = tmp_path / "missing.json"
    assert ocireg.logout(basic_registry.url, docker_config=missing) is False
    assert not missing.exists()


def test_login_is_cancelled_from_another_thread_and_stores_nothing(basic_registry, tmp_path):
    import time

    config = tmp_path / "config.json"
    basic_registry.set_delay(60)  # the credential check never gets its answer
    cancel = ocireg.Cancel()
    cancel.trigger_after(0.3)
    started = time.monotonic()
    try:
        with pytest.raises(ocireg.CancelledError):
            ocireg.login(basic_registry.url, "alice", "secret", docker_config=config,
                         cancel=cancel, read_timeout=None, response_timeout=None)
        assert time.monotonic() - started < 1.5
    finally:
        basic_registry.set_delay(0)
    assert not config.exists()
    with pytest.raises(TypeError):
        ocireg.login(basic_registry.url, "alice", "secret", cancel="not a handle")


def test_login_refuses_credential_options(basic_registry):
    with pytest.raises(TypeError):
        ocireg.login(basic_registry.url, "alice", "secret", username="bob")


def test_broken_docker_config_is_credentials_error(registry, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ocireg.CredentialsError):
        ocireg.Client(registry.url, docker_config=bad).ping()


def test_client_options(registry):
    with ocireg.Client(
        registry.url,
        anonymous=True,
        user_agent="ocireg-python-test/1",
        connect_timeout=5,
        response_timeout=5.5,
        read_timeout=5,
        write_timeout=5,
        timeout=30,
        max_retries=1,
        insecure=True,
    ) as c:
        c.ping()
    with ocireg.Client(registry.url, bearer_token="abc") as c:
        c.ping()  # the registry needs no auth: the token is simply sent
    with ocireg.Client(registry.url, identity_token="abc") as c:
        assert c.registry == registry.host
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.Client(registry.url, timeout=-1)
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.Client(registry.url, max_retries=-1)
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.Client(registry.url, username="alice")  # a user name needs a password
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.Client(registry.url, proxy="not a url at all ::")
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.Client(registry.url, client_cert=b"x")


def test_bad_ca_certificate_is_tls_error(registry, tmp_path):
    with pytest.raises(ocireg.TlsError):
        ocireg.Client(registry.url, ca_cert=b"not a certificate")
    pem = tmp_path / "ca.pem"
    pem.write_bytes(b"still not a certificate")
    with pytest.raises(ocireg.TlsError):
        ocireg.Client(registry.url, ca_cert=str(pem))
    with pytest.raises(ocireg.IoError):
        ocireg.Client(registry.url, ca_cert=str(tmp_path / "missing.pem"))
    with pytest.raises(ocireg.TlsError):
        ocireg.Client(registry.url, ca_cert=[b"-----BEGIN CERTIFICATE-----\n", pem])
    with pytest.raises(ocireg.TlsError):
        ocireg.Client(registry.url, client_cert=b"not a cert", client_key=b"not a key")


def test_proxy_settings(registry):
    with ocireg.Client(registry.url, anonymous=True, proxy_from_env=True) as c:
        c.ping()
    # A proxy that refuses connections: the request goes there, not to the registry.
    with ocireg.Client(registry.url, anonymous=True, proxy="http://127.0.0.1:1", max_retries=0) as c:
        with pytest.raises(ocireg.NetworkError):
            c.ping()


def test_unreachable_registry_is_network_error():
    reg = ocireg.testing.Registry()
    url = reg.url
    with reg.client(max_retries=0) as c:
        c.ping()
        reg.stop()
        reg.stop()  # twice is fine
        assert reg.url == url
        with pytest.raises(ocireg.NetworkError) as info:
            c.ping()
        assert isinstance(info.value, ConnectionError)
    with pytest.raises(ocireg.InvalidArgumentError):
        reg.add_blob("a/b", b"x")  # a stopped registry refuses its own calls
    reg.close()
    with pytest.raises(ocireg.InvalidArgumentError):
        reg.request_count


# -- tags, catalog, search -----------------------------------------------------------------------


def test_tags_catalog_search(registry, client):
    for repo, tag in [("team/app", "v1"), ("team/app", "v2"), ("team/db", "latest"), ("other", "x")]:
        registry.add_image(repo, tag, make_config(1), [b"layer of " + repo.encode()])
    assert sorted(client.tags("team/app")) == ["v1", "v2"]
    assert client.tags("team/db") == ["latest"]
    assert sorted(client.catalog()) == ["other", "team/app", "team/db"]
    assert sorted(client.search("team/")) == ["team/app", "team/db"]
    assert client.search("nothing-like-this") == []
    assert sorted(client.search("")) == ["other", "team/app", "team/db"]


def test_pages(registry, client):
    for i in range(5):
        registry.add_image("repo%d" % i, "t")
        registry.add_image("repo0", "v%d" % i)
    tags, nxt = client.tags_page("repo0", 2)
    assert tags == ["t", "v0"] and nxt == "v0"
    tags, nxt = client.tags_page("repo0", 2, nxt)
    assert tags == ["v1", "v2"]
    assert client.tags_page("repo0") == (["t", "v0", "v1", "v2", "v3", "v4"], None)
    seen, last = [], None
    while True:
        page, last = client.catalog_page(2, last)
        seen += page
        if last is None:
            break
    assert seen == ["repo%d" % i for i in range(5)]
    with pytest.raises(ocireg.InvalidArgumentError):
        client.tags_page("repo0", -1)


def test_timeout_is_timeout_error(registry):
    registry.set_delay(1.0)
    with registry.client(max_retries=0, response_timeout=0.2) as c:
        with pytest.raises(ocireg.TimeoutError) as info:
            c.ping()
    assert isinstance(info.value, TimeoutError)  # the built-in, too
    registry.set_delay(0)


def test_broken_download_and_redirected_blobs(registry, client):
    digest = registry.add_blob("team/app", b"x" * 100_000)
    registry.drop_next(1)
    with pytest.raises(ocireg.NetworkError):
        client.pull_blob_bytes("team/app", digest)
    registry.redirect_blobs(True)
    registry.clear_requests()
    assert client.pull_blob_bytes("team/app", digest) == b"x" * 100_000
    requests = registry.requests()
    assert [r["status"] for r in requests] == [307, 200]
    assert requests[1]["objectStore"] is True
    assert registry.request_count == 2
    registry.redirect_blobs(False)


def test_unknown_repository_is_not_found_with_registry_code(client):
    with pytest.raises(ocireg.NotFoundError) as info:
        client.tags("no/such/repo")
    err = info.value
    assert err.status == ocireg.Status.NOT_FOUND
    assert err.http_status == 404
    assert err.registry_code == "NAME_UNKNOWN"
    assert "no/such/repo" in err.message
    assert err.retry_after is None


def test_bad_references_are_invalid_reference_errors(client):
    with pytest.raises(ocireg.InvalidReferenceError):
        client.tags("UPPER/case")
    with pytest.raises(ocireg.InvalidReferenceError):
        client.manifest("team/app", "-bad-tag")
    with pytest.raises(ocireg.InvalidReferenceError):
        client.blob_exists("team/app", "sha256:xyz")
    with pytest.raises(ValueError):  # InvalidReferenceError is a ValueError
        client.manifest_digest("team//app", "v1")


def test_null_and_invalid_arguments(client):
    with pytest.raises(ocireg.InvalidArgumentError, match="NULL"):
        client.tags(None)  # None is passed as NULL: the library refuses it
    with pytest.raises(ocireg.InvalidArgumentError, match="UTF-8"):
        client.tags("team/\udcffapp")  # not encodable as UTF-8
    with pytest.raises(ocireg.InvalidArgumentError, match="NUL"):
        client.tags("team\0app")
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.Client(None)
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.testing.Registry(auth="basic")  # users required
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.testing.Registry(auth="kerberos")
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.testing.Registry(auth=7)
    # Raw C calls with NULL handles: statuses, never crashes.
    lib = _ffi.lib
    with pytest.raises(ocireg.InvalidArgumentError):
        _ffi.call(lib.ocireg_ping, None)
    with pytest.raises(ocireg.InvalidArgumentError):
        _ffi.call(lib.ocireg_options_set_timeout_ms, None, 0, 1)
    assert lib.ocireg_client_registry(None) is None
    assert lib.ocireg_client_request_count(None) == 0
    assert lib.ocireg_test_registry_url(None) is None


def test_fail_next_maps_rate_limits_and_registry_errors(registry, client):
    registry.add_image("team/app", "v1")
    registry.fail_next(1, 429, retry_after=7)
    with pytest.raises(ocireg.RateLimitedError) as info:
        client.tags("team/app")
    assert info.value.retry_after == 7 and info.value.http_status == 429
    registry.fail_next(1, 503)
    with pytest.raises(ocireg.RegistryError) as info:
        client.tags("team/app")
    assert info.value.http_status == 503 and info.value.registry_code == "UNAVAILABLE"
    registry.fail_next(5, 503)
    registry.fail_next(0, 503)  # cancels
    assert client.tags("team/app") == ["v1"]
    with pytest.raises(ocireg.InvalidArgumentError):
        registry.fail_next(1, 200)
    with pytest.raises(ocireg.InvalidArgumentError):
        registry.fail_next(1, 70000)  # does not fit a uint16: refused, not wrapped


def test_retries_hide_transient_failures(registry):
    registry.add_image("team/app", "v1")
    with registry.client(max_retries=3) as c:
        registry.fail_next(2, 503, retry_after=0)
        assert c.tags("team/app") == ["v1"]


# -- manifests -----------------------------------------------------------------------------------


def test_manifest_get_put_digest_delete(registry, client):
    digest = registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    m = client.manifest("team/app", "v1")
    assert isinstance(m, ocireg.Manifest)
    assert m.digest == digest == sha256(m.data)
    assert m.bytes == m.data
    assert m.media_type == OCI_MANIFEST
    assert m.json()["schemaVersion"] == 2
    assert client.manifest("team/app", digest).data == m.data
    assert client.manifest("team/app", "v1@" + digest).digest == digest
    assert client.manifest_digest("team/app", "v1") == digest

    # Put: blobs first, then the manifest (media type read from it), under a new tag.
    config = make_config(0)
    cfg_digest = client.push_blob("team/app", config)
    body = manifest_for(cfg_digest, len(config))
    put_digest = client.put_manifest("team/app", "v2", body)
    assert put_digest == sha256(body)
    assert client.manifest("team/app", "v2").data == body
    # By digest, with an explicit media type, from a bytearray.
    assert client.put_manifest("team/app", put_digest, bytearray(body), OCI_MANIFEST) == put_digest
    # A manifest pushed under a digest it does not have.
    with pytest.raises(ocireg.DigestMismatchError):
        client.put_manifest("team/app", "sha256:" + "1" * 64, body)
    # Not JSON.
    with pytest.raises(ocireg.OciregError):
        client.put_manifest("team/app", "v3", b"not json", OCI_MANIFEST)

    client.delete_manifest("team/app", put_digest)
    with pytest.raises(ocireg.NotFoundError) as info:
        client.manifest("team/app", "v2")
    assert info.value.registry_code == "MANIFEST_UNKNOWN"
    assert "v2" not in client.tags("team/app")


def test_manifest_referencing_missing_blobs_is_refused(client):
    body = manifest_for("sha256:" + "2" * 64, 10)
    with pytest.raises(ocireg.OciregError) as info:
        client.put_manifest("team/app", "v1", body)
    assert info.value.http_status is not None and 400 <= info.value.http_status < 500


# -- blobs ---------------------------------------------------------------------------------------


def test_blob_push_exists_pull_bytes(client):
    data = b"hello blob\n" * 100
    digest = client.push_blob("team/app", data)
    assert digest == sha256(data)
    assert client.blob_exists("team/app", digest)
    assert client.blob_size("team/app", digest) == len(data)
    missing = sha256(b"missing")
    assert client.blob_exists("team/app", missing) is False
    assert client.blob_size("team/app", missing) is None
    assert client.pull_blob_bytes("team/app", digest) == data
    # Pushing again is a no-op that returns the same digest; memoryview and bytearray work.
    assert client.push_blob("team/app", memoryview(data)) == digest
    assert client.push_blob("team/app", bytearray(data)) == digest
    # The empty blob.
    empty = client.push_blob("team/app", b"")
    assert empty == sha256(b"")
    assert client.pull_blob_bytes("team/app", empty) == b""
    with pytest.raises(ocireg.NotFoundError) as info:
        client.pull_blob_bytes("team/app", missing)
    assert info.value.registry_code == "BLOB_UNKNOWN"


def test_blob_files(client, tmp_path):
    src = tmp_path / "blob.bin"
    data = os.urandom(300_000)
    src.write_bytes(data)
    digest = client.push_blob("team/app", src)  # a pathlib.Path
    assert digest == sha256(data)
    assert client.push_blob("team/app", str(src)) == digest
    dest = tmp_path / "out" / "blob.bin"
    dest.parent.mkdir()
    assert client.pull_blob("team/app", digest, dest) == len(data)
    assert dest.read_bytes() == data
    with pytest.raises(ocireg.IoError) as info:
        client.push_blob("team/app", str(tmp_path / "missing"))
    assert isinstance(info.value, OSError)
    with pytest.raises(ocireg.IoError):
        client.pull_blob("team/app", digest, str(tmp_path / "no" / "such" / "dir" / "x"))
    # A failed download leaves nothing behind and the existing file untouched.
    dest.write_bytes(b"keep")
    with pytest.raises(ocireg.NotFoundError):
        client.pull_blob("team/app", sha256(b"nope"), dest)
    assert dest.read_bytes() == b"keep"


def test_blob_streams(client, tmp_path):
    data = os.urandom(1_000_003)
    # From a seekable stream: the size is what is left of it.
    stream = io.BytesIO(b"skip" + data)
    stream.seek(4)
    digest = client.push_blob("team/app", stream)
    assert digest == sha256(data)
    # From a file object, with the digest known (the upload is then skipped).
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    with open(src, "rb") as f:
        assert client.push_blob("team/app", f, digest=digest) == digest
    # A stream with only read() (no readinto) and an explicit size.

    class Reader:
        def __init__(self, payload):
            self.buf = io.BytesIO(payload)

        def read(self, n):
            return self.buf.read(min(n, 4096))

    other = b"other data" * 1000
    assert client.push_blob("repo/two", Reader(other), size=len(other)) == sha256(other)
    # A reader that yields fewer bytes than announced is an error, never a corrupt blob.
    with pytest.raises(ocireg.OciregError):
        client.push_blob("repo/three", Reader(b"short"), size=100)
    assert not client.blob_exists("repo/three", sha256(b"short"))
    # A non-seekable stream needs size=.
    with pytest.raises(ocireg.InvalidArgumentError):
        client.push_blob("repo/two", Reader(other))

    # Pull into a file object, and into a callable.
    out = io.BytesIO()
    assert client.pull_blob("team/app", digest, out) == len(data)
    assert out.getvalue() == data
    chunks = []
    assert client.pull_blob("team/app", digest, chunks.append) == len(data)
    assert b"".join(chunks) == data
    assert all(isinstance(c, bytes) for c in chunks)
    # Into an unbuffered (raw) file.
    raw = tmp_path / "raw.bin"
    with open(raw, "wb", buffering=0) as f:
        assert client.pull_blob("team/app", digest, f) == len(data)
    assert raw.read_bytes() == data


def test_callback_exceptions_propagate_and_never_reach_c(client):
    digest = client.push_blob("team/app", b"x" * 100_000)

    class Boom(Exception):
        pass

    def bad_writer(chunk):
        raise Boom("writer failed")

    with pytest.raises(Boom, match="writer failed"):
        client.pull_blob("team/app", digest, bad_writer)

    class BadReader:
        def read(self, n):
            raise Boom("reader failed")

    with pytest.raises(Boom, match="reader failed"):
        client.push_blob("team/app", BadReader(), size=10)

    with pytest.raises(TypeError):  # a text stream gives str
        client.push_blob("team/app", io.StringIO("text"), size=4)
    with pytest.raises(TypeError):  # a text sink refuses bytes
        client.pull_blob("team/app", digest, io.StringIO())
    # The client is still fine.
    assert client.pull_blob_bytes("team/app", digest) == b"x" * 100_000


def test_blob_mount_and_delete(client):
    digest = client.push_blob("team/src", b"mount me")
    assert client.mount_blob("team/dst", "team/src", digest) is True
    assert client.blob_exists("team/dst", digest)
    assert client.mount_blob("team/dst2", "team/src", sha256(b"absent")) is False
    client.delete_blob("team/dst", digest)
    assert not client.blob_exists("team/dst", digest)
    assert client.blob_exists("team/src", digest)


def test_test_registry_helpers(registry, client):
    d = registry.add_blob("team/app", b"direct")
    assert client.pull_blob_bytes("team/app", d) == b"direct"
    config = b"{}"
    cfg = registry.add_blob("team/app", config)
    body = manifest_for(cfg, len(config))
    md = registry.add_manifest("team/app", "m1", OCI_MANIFEST, body)
    assert client.manifest("team/app", "m1").digest == md
    assert registry.add_manifest("team/app", None, OCI_MANIFEST, body) == md
    assert registry.delete_blob("team/app", d) is True
    assert registry.delete_blob("team/app", d) is False
    assert registry.add_image("team/app", "empty") == client.manifest_digest("team/app", "empty")
    with pytest.raises(ocireg.InvalidReferenceError):
        registry.add_image("team/app", "-x")
    count = registry.request_count
    client.ping()
    assert registry.request_count > count
    assert "127.0.0.1" in repr(registry)
