"""Registry operations (issue 12): copy, retag, delete by tag, platform descriptors and digests,
tags with digests, image sizes, layers pulled into a directory; all against the in-memory test
registry through the C library."""

import hashlib
import json
import os

import pytest

import ocireg

from conftest import make_config

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_config(os_name, arch, variant=None):
    cfg = {"architecture": arch, "os": os_name, "rootfs": {"type": "layers", "diff_ids": []}}
    if variant:
        cfg["variant"] = variant
    return json.dumps(cfg, sort_keys=True).encode()


def add_index(registry, repo, tag):
    """An index of two images (linux/amd64 and linux/arm64/v8), tagged ``tag``. Returns
    ``(index_digest, {platform: child_digest}, {platform: layer bytes})``."""
    children, layers, entries = {}, {}, []
    for plat, (os_name, arch, variant) in {
        "linux/amd64": ("linux", "amd64", None),
        "linux/arm64/v8": ("linux", "arm64", "v8"),
    }.items():
        layer = ("layer of %s " % plat).encode() * 100
        digest = registry.add_image(repo, "only-" + arch, platform_config(os_name, arch, variant), [layer])
        children[plat] = digest
        layers[plat] = layer
        platform = {"os": os_name, "architecture": arch}
        if variant:
            platform["variant"] = variant
        entries.append((digest, platform))
    # The child manifests' sizes come from the registry (the bytes it stores).
    with registry.client() as c:
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": len(c.manifest(repo, digest).data),
                    "platform": platform,
                }
                for digest, platform in entries
            ],
        }
    body = json.dumps(index, sort_keys=True).encode()
    index_digest = registry.add_manifest(repo, tag, OCI_INDEX, body)
    return index_digest, children, layers


@pytest.fixture
def other_registry():
    with ocireg.testing.Registry(auth="basic", users={"bob": "pw"}) as reg:
        yield reg


def test_copy_within_the_registry_mounts_and_verifies(registry, client):
    digest = registry.add_image("team/src", "v1", make_config(1), [b"one layer"])
    registry.clear_requests()
    with client.copy("team/src", "v1", "team/dst") as pushed:
        assert isinstance(pushed, ocireg.Pushed)
        assert pushed.digest == digest
        assert pushed.reference == "team/dst:v1@" + digest
        report = client.verify("team/dst", pushed)
        assert report.ok, report.text
    assert client.manifest("team/dst", "v1").digest == digest
    # No blob travelled: the layer and config were mounted, never uploaded.
    uploads = [r for r in registry.requests() if r["method"] in ("PATCH", "PUT") and "/blobs/" in r["path"]]
    assert uploads == []
    assert any("from=team%2Fsrc" in (r["query"] or "") for r in registry.requests())
    # Under a new tag, and by digest.
    with client.copy("team/src", "v1", "team/dst", "stable") as pushed:
        assert pushed.digest == digest
    with client.copy("team/src", digest, "team/bydigest", digest) as pushed:
        assert client.verify("team/bydigest", pushed).ok
    assert sorted(client.tags("team/dst")) == ["stable", "v1"]


def test_copy_to_another_registry_streams_every_blob(registry, client, other_registry):
    layer = os.urandom(300_000)
    digest = registry.add_image("team/src", "v1", make_config(1), [layer])
    events = []
    with other_registry.client("bob", "pw", max_retries=0) as dest:
        with client.copy("team/src", "v1", "mirror/app", "v1", to=dest, threads=2, progress=events.append) as pushed:
            assert pushed.digest == digest
            report = dest.verify("mirror/app", pushed)
            assert report.ok, report.text
        manifest = dest.manifest("mirror/app", "v1")
        assert manifest.digest == digest  # bytes unchanged
        layer_digest = manifest.json()["layers"][0]["digest"]
        assert dest.pull_blob_bytes("mirror/app", layer_digest) == layer
        assert events and all(isinstance(e, ocireg.Progress) for e in events)
        # Again: every blob is there already, nothing is uploaded.
        other_registry.clear_requests()
        with client.copy("team/src", "v1", "mirror/app", "v1", to=dest):
            pass
        assert not [r for r in other_registry.requests() if r["method"] == "PATCH"]
    with pytest.raises(TypeError):
        client.copy("team/src", "v1", "x/y", to="not a client")


def test_copy_an_index_whole_or_one_platform(registry, client, other_registry):
    index_digest, children, _ = add_index(registry, "multi/app", "v1")
    with other_registry.client("bob", "pw") as dest:
        with client.copy("multi/app", "v1", "multi/app", to=dest) as pushed:
            assert pushed.digest == index_digest
            assert dest.verify("multi/app", pushed).ok
        for child in children.values():
            assert dest.manifest("multi/app", child).digest == child
        with client.copy("multi/app", "v1", "arm/app", "v1", to=dest, platform="linux/arm64/v8") as pushed:
            assert pushed.digest == children["linux/arm64/v8"]
        assert dest.manifest("arm/app", "v1").digest == children["linux/arm64/v8"]


def test_copy_of_a_missing_image_is_not_found(client):
    with pytest.raises(ocireg.NotFoundError):
        client.copy("no/such", "v1", "team/dst")


def test_retag_in_the_same_and_another_repository(registry, client):
    digest = registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    with client.retag("team/app", "v1", "latest") as tagged:
        assert tagged.digest == digest
        assert client.verify("team/app", tagged).ok
    assert sorted(client.tags("team/app")) == ["latest", "v1"]
    assert client.manifest_digest("team/app", "latest") == digest
    with client.retag("team/app", digest, "prod", to_repository="team/released") as tagged:
        assert tagged.reference == "team/released:prod@" + digest
    assert client.tags("team/released") == ["prod"]
    with pytest.raises(ocireg.NotFoundError):
        client.retag("team/app", "no-such-tag", "x")
    with pytest.raises(ocireg.InvalidReferenceError):
        client.retag("team/app", "v1", "not a tag!")


def test_delete_tag_alone_or_with_every_tag_of_its_manifest(registry, client):
    digest = registry.add_image("team/app", "v1", make_config(1), [b"layer"])
    for tag in ("v2", "latest"):
        client.retag("team/app", "v1", tag).close()

    # OCI 1.1 delete by tag: only that tag goes; the other tags are listed.
    gone = client.delete_tag("team/app", "v2")
    assert isinstance(gone, ocireg.DeletedTag)
    assert gone.repository == "team/app" and gone.tag == "v2" and gone.digest == digest
    assert gone.manifest_deleted is False
    assert sorted(gone.other_tags) == ["latest", "v1"]
    assert gone.removed_tags == ["v2"]
    assert sorted(client.tags("team/app")) == ["latest", "v1"]

    # By digest (what distribution 2.8 forces): every tag of the manifest goes with it.
    gone = client.delete_tag("team/app", "v1", tag_first=False)
    assert gone.manifest_deleted is True
    assert gone.other_tags == ["latest"]
    assert sorted(gone.removed_tags) == ["latest", "v1"]
    assert client.tags("team/app") == []
    with pytest.raises(ocireg.NotFoundError):
        client.manifest("team/app", digest)

    # Without listing the other tags.
    registry.add_image("team/other", "a", make_config(1), [b"layer"])
    gone = client.delete_tag("team/other", "a", list_other_tags=False)
    assert gone.other_tags is None and gone.removed_tags == ["a"]
    with pytest.raises(ocireg.NotFoundError):
        client.delete_tag("team/other", "no-such-tag")


def test_platform_descriptor_and_digest(registry, client):
    index_digest, children, _ = add_index(registry, "multi/app", "v1")
    d = client.platform_descriptor("multi/app", "v1", "linux/arm64/v8")
    assert isinstance(d, ocireg.Descriptor)
    assert d.digest == children["linux/arm64/v8"]
    assert d.media_type == OCI_MANIFEST
    assert d.size == len(client.manifest("multi/app", d.digest).data)
    assert d.platform == {"os": "linux", "architecture": "arm64", "variant": "v8"}
    assert d.data["digest"] == d.digest
    assert client.platform_digest("multi/app", index_digest, "linux/amd64") == children["linux/amd64"]
    # A plain manifest answers itself when its config matches.
    plain = registry.add_image("team/app", "v1", make_config(1), [b"x"])
    assert client.platform_digest("team/app", "v1", "linux/amd64") == plain
    # No such platform: NotFound, naming the platforms there are.
    with pytest.raises(ocireg.NotFoundError) as info:
        client.platform_descriptor("multi/app", "v1", "windows/amd64")
    assert "linux/amd64" in str(info.value) and "linux/arm64" in str(info.value)
    with pytest.raises(ocireg.NotFoundError):
        client.platform_digest("team/app", "v1", "linux/s390x")
    with pytest.raises(ocireg.InvalidArgumentError):
        client.platform_digest("team/app", "v1", "linux")


def test_tags_with_digests(registry, client):
    first = registry.add_image("team/app", "a", make_config(1), [b"first"])
    second = registry.add_image("team/app", "b", make_config(1), [b"second"])
    client.retag("team/app", "a", "c").close()
    tags = client.tags_with_digests("team/app")
    assert tags == {"a": first, "b": second, "c": first}
    assert list(tags) == client.tags("team/app")  # the registry's order


def test_tags_with_digests_of_an_unknown_repository_is_not_found(client):
    with pytest.raises(ocireg.NotFoundError):
        client.tags_with_digests("no/such")


def test_image_size_from_a_manifest(registry, client):
    config = make_config(2)
    layers = [b"a" * 1000, b"b" * 234]
    registry.add_image("team/app", "v1", config, layers)
    m = client.manifest("team/app", "v1")
    sizes = m.sizes()
    assert isinstance(sizes, ocireg.ManifestSizes)
    assert sizes == (len(config) + 1234, 1234)
    assert sizes.image_size == m.image_size == client.image_size("team/app", "v1")
    assert ocireg.manifest_sizes(m.data) == sizes
    assert ocireg.manifest_sizes(bytearray(m.data), OCI_MANIFEST).layers_size == 1234
    # An index has no single image size; garbage is refused.
    index_digest, _, _ = add_index(registry, "multi/app", "v1")
    with pytest.raises(ocireg.InvalidArgumentError):
        client.image_size("multi/app", index_digest)
    with pytest.raises(ocireg.InvalidArgumentError):
        ocireg.manifest_sizes(b"not json")


def test_pull_layers_into_a_directory(registry, client, tmp_path):
    layers = [b"first layer " * 100, b"second layer " * 50]
    config = make_config(2)
    digest = registry.add_image("team/app", "v1", config, layers)
    events = []
    pulled = client.pull_layers("team/app", "v1", tmp_path / "layers", progress=events.append)
    assert isinstance(pulled, ocireg.PulledLayers)
    assert pulled.repository == "team/app" and pulled.digest == digest
    assert pulled.media_type == OCI_MANIFEST
    assert pulled.config.digest == sha256(config) and pulled.config.size == len(config)
    assert [layer.digest for layer in pulled.layers] == [sha256(x) for x in layers]
    for layer, data in zip(pulled.layers, layers):
        assert isinstance(layer, ocireg.LayerFile)
        assert layer.downloaded is True and layer.size == len(data)
        assert os.path.basename(layer.path) == layer.digest.replace(":", "-")
        with open(layer.path, "rb") as f:
            assert f.read() == data
    assert pulled.stats["blobsDownloaded"] == 2
    assert events
    # Files already there with the right digest are kept.
    again = client.pull_layers("team/app", "v1", str(tmp_path / "layers"), threads=1)
    assert [layer.downloaded for layer in again.layers] == [False, False]
    assert sorted(os.listdir(tmp_path / "layers")) == sorted(
        x.digest.replace(":", "-") for x in pulled.layers
    )


def test_pull_layers_of_one_platform_of_an_index(registry, client, tmp_path):
    _, children, layer_bytes = add_index(registry, "multi/app", "v1")
    pulled = client.pull_layers("multi/app", "v1", tmp_path, "linux/arm64/v8")
    assert pulled.digest == children["linux/arm64/v8"]
    assert pulled.platform["architecture"] == "arm64"
    assert len(pulled.layers) == 1
    with open(pulled.layers[0].path, "rb") as f:
        assert f.read() == layer_bytes["linux/arm64/v8"]
    with pytest.raises(ocireg.NotFoundError):
        client.pull_layers("multi/app", "v1", tmp_path / "none", "linux/s390x")
