"""The test registry's hostile mode through the C ABI (``Registry.set_hostile``), checked with
raw HTTP (urllib, no redirects followed), never with ocireg's own client."""

import json
import urllib.error
import urllib.request

import pytest

import ocireg

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def raw_get(url):
    """(status, headers, body) of a GET, redirects and errors included."""
    try:
        with _opener.open(url, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def link_target(link):
    assert link and link.startswith("<") and 'rel="next"' in link, link
    return link[1 : link.index(">")]


def test_invalid_spec_raises_and_changes_nothing(registry):
    registry.add_image("team/app", "v1")
    with pytest.raises(ocireg.InvalidArgumentError) as info:
        registry.set_hostile("slow-drip:soon")
    assert '"slow-drip:soon"' in str(info.value)
    with pytest.raises(ocireg.InvalidArgumentError):
        registry.set_hostile("no-such-attack")
    with pytest.raises(ocireg.InvalidArgumentError):
        registry.set_hostile(None)  # NULL, refused by the library
    with pytest.raises(TypeError):
        registry.set_hostile(7)
    status, _, body = raw_get(registry.url + "/v2/team/app/tags/list")
    assert status == 200 and json.loads(body)["tags"] == ["v1"]


def test_cross_origin_link_points_at_the_other_port(registry):
    digest = registry.add_image("team/app", "v1")
    for tag in ("v2", "v3"):
        status, _, manifest = raw_get(registry.url + "/v2/team/app/manifests/v1")
        assert status == 200
        assert registry.add_manifest("team/app", tag, OCI_MANIFEST, manifest) == digest
    tags_url = registry.url + "/v2/team/app/tags/list?n=2"
    assert raw_get(tags_url)[1].get("Link") == '</v2/team/app/tags/list?last=v2&n=2>; rel="next"'

    registry.set_hostile("cross-origin-link")
    status, headers, body = raw_get(tags_url)
    assert status == 200 and json.loads(body)["tags"] == ["v1", "v2"]
    target = link_target(headers.get("Link"))
    port = int(registry.host.rsplit(":", 1)[1])
    assert target.startswith("http://127.0.0.1:")
    assert not target.startswith("http://127.0.0.1:%d/" % port)
    assert target.endswith("/v2/team/app/tags/list?last=v2&n=2")

    registry.clear_requests()
    status, headers, body = raw_get(target)
    assert status == 200
    assert json.loads(body)["tags"] == ["v3", "from-other-origin"]
    assert registry.requests() == [
        {
            "method": "GET",
            "path": "/v2/team/app/tags/list",
            "query": "last=v2&n=2",
            "status": 200,
            "authorized": False,
            "objectStore": True,
        }
    ]

    registry.set_hostile("none")
    assert raw_get(tags_url)[1].get("Link").startswith("</v2/team/app/tags/list?")


def test_cut_midway_and_large_error_body(registry):
    data = bytes(range(256)) * 4
    digest = registry.add_blob("team/app", data)
    registry.set_hostile("cut-midway:bad-range")
    request = urllib.request.Request(
        registry.url + "/v2/team/app/blobs/" + digest, headers={"Range": "bytes=512-"}
    )
    with _opener.open(request, timeout=60) as resp:
        assert resp.status == 206
        assert resp.headers["Content-Range"] == "bytes 256-1023/1024"
        assert resp.read() == data[256:]

    registry.set_hostile("large-error-body:4096")
    status, _, body = raw_get(registry.url + "/v2/team/app/manifests/nope")
    assert status == 404
    error = json.loads(body)["errors"][0]
    assert error["code"] == "MANIFEST_UNKNOWN" and len(error["message"]) == 4096


# --- The client against the hostile registry: credentials never leave the origin, no hang. ---


def _other_origin(registry):
    return [r for r in registry.requests() if r["objectStore"]]


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_client_refuses_a_cross_origin_link_and_leaks_nothing(auth):
    with ocireg.testing.Registry(auth=auth, users={"alice": "secret"}) as reg:
        reg.add_image("team/app", "v1")
        reg.set_hostile("cross-origin-link")
        with reg.client("alice", "secret") as c:
            with pytest.raises(ocireg.ProtocolError) as info:
                c.tags("team/app")
        assert "another origin" in str(info.value)
        assert _other_origin(reg) == [], "the other origin was never asked"


def test_client_sends_no_credentials_across_a_redirect_to_another_port():
    with ocireg.testing.Registry(auth="basic", users={"alice": "secret"}) as reg:
        reg.add_image("team/app", "v1")
        reg.set_hostile("cross-port-redirect")
        with reg.client("alice", "secret") as c:
            assert c.tags("team/app") == ["v1"]
        there = _other_origin(reg)
        assert there, "the redirect was followed"
        assert not any(r["authorized"] for r in there)


def test_client_gives_up_on_a_slow_drip(registry):
    registry.add_image("team/app", "v1")
    registry.set_hostile("slow-drip:200")
    with registry.client(max_retries=0, low_speed_limit=(1000, 1)) as c:
        with pytest.raises(ocireg.TimeoutError) as info:
            c.tags("team/app")
    assert "low-speed limit" in str(info.value)
    with pytest.raises(ocireg.InvalidArgumentError):
        registry.client(low_speed_limit=(1000,))
