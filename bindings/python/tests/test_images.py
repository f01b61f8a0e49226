"""Images: build and push, progress and cancellation, OCI layouts, verify, pull."""

import hashlib
import json
import os

import pytest

import ocireg

from conftest import make_config, make_layer


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_build_image(image):
    assert image.media_type == "application/vnd.oci.image.manifest.v1+json"
    manifest = image.manifest
    assert image.digest == sha256(manifest)
    doc = json.loads(manifest)
    assert len(doc["layers"]) == 2
    assert doc["annotations"] == {"org.opencontainers.image.title": "test"}
    assert "sha256:" in repr(image)


def test_builder_variants(tmp_path):
    builder = ocireg.ImageBuilder()
    with pytest.raises(ocireg.OciregError):
        builder.build()  # no config yet
    builder.set_config(make_config(1)).add_layer(bytearray(make_layer({"a": b"a"})))
    oci = builder.build()
    docker = builder.set_docker_schema2(True).build()
    assert docker.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert docker.digest != oci.digest
    builder.set_docker_schema2(False)
    assert builder.build().digest == oci.digest  # the builder is left as it was
    artifact = (
        ocireg.ImageBuilder()
        .set_config(b"{}", "application/vnd.example.config+json")
        .add_layer(b"payload", "application/vnd.example.payload")
        .set_artifact_type("application/vnd.example")
        .build()
    )
    assert json.loads(artifact.manifest)["artifactType"] == "application/vnd.example"
    with pytest.raises(ocireg.IoError):
        ocireg.ImageBuilder().set_config(b"{}").add_layer(str(tmp_path / "missing.tar.gz")).build()
    for handle in (builder, oci, docker, artifact):
        handle.close()


def test_push_verify_pull(registry, client, image, tmp_path):
    events = []
    pushed = client.push_image("team/app", "v1", image, progress=events.append)
    with pushed:
        assert pushed.digest == image.digest
        assert pushed.media_type == image.media_type
        assert pushed.reference == "team/app:v1@" + image.digest
        assert pushed.size == len(image.manifest)
        info = pushed.to_dict()
        assert info["tag"] == "v1" and len(info["layers"]) == 2
        assert info["stats"]["blobsUploaded"] == 3
        assert json.loads(pushed.to_json()) == info
        assert any(e.event == ocireg.ProgressEvent.UPLOADED for e in events)
        assert all(isinstance(e, ocireg.Progress) and e.digest.startswith("sha256:") for e in events)
        assert client.tags("team/app") == ["v1"]
        assert client.manifest("team/app", "v1").data == image.manifest

        report = client.verify("team/app", pushed)
        assert report.ok and report.outcome == ocireg.Outcome.VERIFIED
        assert report.message is None
        assert report.repository == "team/app" and report.digest == image.digest
        kinds = {c["kind"] for c in report.checks}
        # The manifest by its tag (bytes hashing to the digest), not again by digest.
        assert kinds == {"config", "layer", "manifestByTag"}
        assert all(c["status"] == "ok" for c in report.checks)
        assert report.failed_checks == []
        assert "verified" in str(report).lower()
        assert client.verify("team/app", pushed, check=True).ok

    # Pushing again: every blob is already there.
    events = []
    with client.push_image("team/app", "v1", image, events.append) as again:
        assert again.to_dict()["stats"]["blobsUploaded"] == 0
    assert {e.event for e in events} == {ocireg.ProgressEvent.EXISTED}

    # Pull it into an OCI layout.
    events = []
    layout = tmp_path / "layout"
    with client.pull_image("team/app", "v1", layout, progress=events.append) as pulled:
        assert pulled.digest == image.digest
        assert pulled.media_type == image.media_type
        assert pulled.size == len(image.manifest)
        assert os.path.samefile(pulled.path, layout)
        stats = pulled.to_dict()["stats"]
        assert stats["blobsDownloaded"] == 3
        assert json.loads(pulled.to_json())["digest"] == image.digest
        with pulled.to_pushed() as expected:
            assert client.verify("team/app", expected).ok
    assert (layout / "oci-layout").exists() and (layout / "index.json").exists()
    blob = layout / "blobs" / "sha256" / image.digest.split(":", 1)[1]
    assert blob.read_bytes() == image.manifest
    assert any(e.event == ocireg.ProgressEvent.DOWNLOADED for e in events)
    # Pulling again reuses what is there.
    events = []
    with client.pull_image("team/app", image.digest, layout, events.append, threads=2):
        pass
    assert {e.event for e in events} <= {ocireg.ProgressEvent.REUSED, ocireg.ProgressEvent.DOWNLOADED}
    assert any(e.event == ocireg.ProgressEvent.REUSED for e in events)


def test_verify_fails_after_a_blob_is_deleted(registry, client, image):
    with client.push_image("team/app", "v1", image) as pushed:
        layer = pushed.to_dict()["layers"][0]["digest"]
        assert registry.delete_blob("team/app", layer)
        report = client.verify("team/app", pushed)
        assert not report.ok
        assert report.outcome == ocireg.Outcome.FAILED
        assert report.message and layer in report.message
        failed = report.failed_checks
        assert [c["digest"] for c in failed] == [layer]
        assert failed[0]["kind"] == "layer" and failed[0]["status"] == "failed"
        with pytest.raises(ocireg.VerifyFailedError) as info:
            client.verify("team/app", pushed, check=True)
        assert info.value.status == ocireg.Status.VERIFY_FAILED
        assert info.value.report.outcome == ocireg.Outcome.FAILED


def test_verify_expectation_from_an_image(registry, client, image):
    with image.to_pushed("team/app", "v1") as expected:
        assert expected.digest == image.digest
        assert client.verify("team/app", expected).outcome == ocireg.Outcome.FAILED
        client.push_image("team/app", "v1", image).close()
        assert client.verify("team/app", expected).ok
    with image.to_pushed("team/app") as untagged:
        assert untagged.reference == "team/app@" + image.digest
    with pytest.raises(TypeError):
        client.verify("team/app", image)


def test_push_oci_layout(registry, client, image, tmp_path):
    client.push_image("src/app", "v1", image).close()
    layout = tmp_path / "layout"
    client.pull_image("src/app", "v1", str(layout)).close()

    # Push the layout directory as it is to another repository.
    events = []
    with client.push_image("dst/app", "v1", str(layout), progress=events.append) as pushed:
        assert pushed.digest == image.digest
        assert client.verify("dst/app", pushed).ok
    assert events
    # Through an Image, with push options.
    with ocireg.Image.from_layout(layout) as from_layout:
        assert from_layout.digest == image.digest
        assert from_layout.manifest == image.manifest
        with client.push_image(
            "dst/chunked", "v2", from_layout, threads=1, chunk_size=1000, skip_existing=False
        ) as pushed:
            assert client.verify("dst/chunked", pushed).ok
        with client.push_image("dst/mounted", "v1", from_layout, mount_from="src/app") as pushed:
            assert pushed.to_dict()["stats"]["blobsMounted"] == 3
    with ocireg.Image.from_layout(layout, "v1") as tagged:
        assert tagged.digest == image.digest
    # The layout directory with push options.
    with client.push_image(
        "dst/layout-mounted", "v1", str(layout), threads=1, mount_from="src/app"
    ) as pushed:
        assert pushed.digest == image.digest
        assert pushed.to_dict()["stats"]["blobsMounted"] == 3
    with pytest.raises(ocireg.OciregError):
        ocireg.Image.from_layout(tmp_path / "not-a-layout")


def test_progress_false_cancels(client, image):
    calls = []

    def stop(progress):
        calls.append(progress)
        return False

    with pytest.raises(ocireg.CancelledError):
        client.push_image("team/app", "v1", image, stop)
    assert calls
    # A cancelled push never leaves a tag.
    with pytest.raises(ocireg.NotFoundError):
        client.manifest("team/app", "v1")


def test_progress_exception_aborts_and_is_reraised(client, image, tmp_path):
    class Stop(Exception):
        pass

    def explode(progress):
        raise Stop(progress.digest)

    with pytest.raises(Stop) as info:
        client.push_image("team/app", "v1", image, explode)
    assert info.value.args[0].startswith("sha256:")

    client.push_image("team/app", "v1", image).close()
    with pytest.raises(Stop):
        client.pull_image("team/app", "v1", tmp_path / "layout", explode, threads=1)

    def interrupt(progress):
        raise KeyboardInterrupt()  # a BaseException, caught and re-raised all the same

    with pytest.raises(KeyboardInterrupt):
        client.pull_image("team/app", "v1", tmp_path / "layout2", progress=interrupt)
    with pytest.raises(TypeError):
        client.push_image("team/app", "v1", image, progress="not callable")


def test_pull_errors(client, image, tmp_path):
    client.push_image("team/app", "v1", image).close()
    with pytest.raises(ocireg.NotFoundError):
        client.pull_image("team/app", "nope", tmp_path / "a")
    with pytest.raises(ocireg.InvalidArgumentError):
        client.pull_image("team/app", "v1", tmp_path / "b", platform="linux")
    with pytest.raises(ocireg.InvalidArgumentError):
        client.pull_image("team/app", "v1", tmp_path / "c", threads=65)
    with client.pull_image("team/app", "v1", tmp_path / "d", platform="linux/amd64") as pulled:
        assert pulled.digest == image.digest


def test_push_with_credentials(bearer_registry, image):
    with ocireg.Client(bearer_registry.url, "alice", "secret") as c:
        with c.push_image("team/app", "v1", image) as pushed:
            assert c.verify("team/app", pushed).ok
