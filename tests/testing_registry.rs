//! Pins the behaviour of `ocireg::testing::Registry` with a plain HTTP client (ureq), raw TCP,
//! curl and skopeo.
#![cfg(feature = "test-server")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ocireg::Digest;
use ocireg::testing::{AuthMode, BearerPolicy, Grant, RecordedRequest, Registry};

mod common;
use common::{Resp, agent, basic, call_with, following_agent};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    call_with(&agent(), method, url, headers, body)
}

fn get(url: &str) -> Resp {
    call("GET", url, &[], None)
}

/// A request without headers or body.
fn send(method: &str, url: &str) -> Resp {
    call(method, url, &[], None)
}

/// A request with an `Authorization` header and no body.
fn authed(method: &str, url: &str, authorization: &str) -> Resp {
    call(method, url, &[("Authorization", authorization)], None)
}

/// A `PUT` of `body` as `content_type`.
fn put_typed(url: &str, content_type: &str, body: &[u8]) -> Resp {
    call("PUT", url, &[("Content-Type", content_type)], Some(body))
}

/// Resolves a (relative) Location against the registry.
fn absolute(reg: &Registry, location: &str) -> String {
    if location.starts_with("http://") {
        location.to_string()
    } else {
        format!("{}{location}", reg.url())
    }
}

fn with_query(url: &str, q: &str) -> String {
    if url.contains('?') {
        format!("{url}&{q}")
    } else {
        format!("{url}?{q}")
    }
}

/// Pushes a blob by POST + PUT (monolithic in the PUT) and returns its digest.
fn push_blob(reg: &Registry, repo: &str, bytes: &[u8]) -> Digest {
    let r = send("POST", &format!("{}/v2/{repo}/blobs/uploads/", reg.url()));
    assert_eq!(r.status, 202);
    let d = Digest::sha256_of(bytes);
    let put = with_query(
        &absolute(reg, r.header("Location").unwrap()),
        &format!("digest={d}"),
    );
    let r = put_typed(&put, "application/octet-stream", bytes);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    d
}

fn manifest_json(config: (&Digest, usize), layers: &[(&Digest, usize)]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.0.to_string(),
            "size": config.1,
        },
        "layers": layers.iter().map(|(d, s)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": d.to_string(),
            "size": s,
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// Sends raw bytes and returns what came back before the server closed or went quiet.
fn raw(host: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_no_secret(reqs: &[RecordedRequest], secrets: &[&str]) {
    let dump = format!("{reqs:?}");
    for s in secrets {
        assert!(
            !dump.contains(s),
            "a secret leaked into the recorded requests"
        );
    }
}

#[test]
fn base_endpoint_and_unknown_paths() {
    let reg = Registry::start().unwrap();
    assert_eq!(reg.host(), format!("127.0.0.1:{}", reg.port()));
    let r = get(&format!("{}/v2/", reg.url()));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({}));
    assert_eq!(
        r.header("Docker-Distribution-Api-Version"),
        Some("registry/2.0")
    );
    assert_eq!(get(&format!("{}/v2", reg.url())).status, 200);
    assert_eq!(get(&format!("{}/", reg.url())).status, 404);
    let r = get(&format!("{}/v2/x/unknown/thing", reg.url()));
    assert_eq!(r.status, 404);
    let r = call(
        "POST",
        &format!("{}/v2/x/manifests/v1", reg.url()),
        &[],
        Some(b""),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "UNSUPPORTED");
    // The token endpoint only exists under Bearer auth.
    assert_eq!(
        get(&format!("{}/token?service=ocireg-test", reg.url())).status,
        404
    );
}

#[test]
fn push_blob_with_post_and_put_to_a_relative_location() {
    let reg = Registry::start().unwrap();
    let r = send("POST", &format!("{}/v2/team/app/blobs/uploads/", reg.url()));
    assert_eq!(r.status, 202);
    let location = r.header("Location").unwrap().to_string();
    assert!(
        location.starts_with("/v2/team/app/blobs/uploads/"),
        "{location}"
    );
    let uuid = r.header("Docker-Upload-UUID").unwrap();
    assert!(location.ends_with(uuid));
    assert_eq!(r.header("Range"), Some("0-0"));
    assert_eq!(r.header("OCI-Chunk-Min-Length"), None);

    let data = b"hello blob".to_vec();
    let d = Digest::sha256_of(&data);
    let r = put_typed(
        &format!("{}{location}?digest={d}", reg.url()),
        "application/octet-stream",
        &data,
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/team/app/blobs/{d}").as_str())
    );
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(d.to_string().as_str())
    );
    // The session is gone.
    assert_eq!(
        get(&format!("{}{location}", reg.url())).code(),
        "BLOB_UPLOAD_UNKNOWN"
    );

    let r = get(&format!("{}/v2/team/app/blobs/{d}", reg.url()));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(d.to_string().as_str())
    );
    assert_eq!(r.header("Content-Length"), Some("10"));
    let r = send("HEAD", &format!("{}/v2/team/app/blobs/{d}", reg.url()));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("10"));
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(d.to_string().as_str())
    );
    assert!(r.body.is_empty());
    // Only in that repository.
    assert_eq!(
        get(&format!("{}/v2/other/blobs/{d}", reg.url())).code(),
        "BLOB_UNKNOWN"
    );
}

#[test]
fn chunked_upload_with_ranges() {
    let reg = Registry::start().unwrap();
    let r = send("POST", &format!("{}/v2/chunks/blobs/uploads/", reg.url()));
    let loc = absolute(&reg, r.header("Location").unwrap());

    let r = call(
        "PATCH",
        &loc,
        &[
            ("Content-Type", "application/octet-stream"),
            ("Content-Range", "0-4"),
        ],
        Some(b"01234"),
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.header("Range"), Some("0-4"));
    let loc = absolute(&reg, r.header("Location").unwrap());

    // Out of order: 416, and the upload is unchanged.
    let r = call("PATCH", &loc, &[("Content-Range", "10-14")], Some(b"abcde"));
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Range"), Some("0-4"));
    // Content-Range and Content-Length disagree.
    let r = call("PATCH", &loc, &[("Content-Range", "5-6")], Some(b"abcde"));
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "SIZE_INVALID");

    let r = get(&loc);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Range"), Some("0-4"));

    // A streamed chunk without Content-Range.
    let r = call("PATCH", &loc, &[], Some(b"56789"));
    assert_eq!(r.status, 202);
    assert_eq!(r.header("Range"), Some("0-9"));

    // A wrong digest: 400 DIGEST_INVALID, session kept as it was.
    let wrong = Digest::sha256_of(b"something else");
    let r = call(
        "PUT",
        &with_query(&loc, &format!("digest={wrong}")),
        &[],
        Some(b"X"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "DIGEST_INVALID");
    assert_eq!(get(&loc).header("Range"), Some("0-9"));
    // Missing or malformed digest.
    assert_eq!(call("PUT", &loc, &[], None).code(), "DIGEST_INVALID");
    assert_eq!(
        call("PUT", &with_query(&loc, "digest=sha256:abc"), &[], None).code(),
        "DIGEST_INVALID"
    );

    // Final chunk in the PUT.
    let d = Digest::sha256_of(b"0123456789AB");
    let r = call(
        "PUT",
        &with_query(&loc, &format!("digest={d}")),
        &[],
        Some(b"AB"),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        get(&format!("{}/v2/chunks/blobs/{d}", reg.url())).body,
        b"0123456789AB"
    );

    // Cancel.
    let r = send("POST", &format!("{}/v2/chunks/blobs/uploads/", reg.url()));
    let loc = absolute(&reg, r.header("Location").unwrap());
    assert_eq!(call("DELETE", &loc, &[], None).status, 204);
    assert_eq!(get(&loc).status, 404);
    assert_eq!(
        call("PATCH", &loc, &[], Some(b"x")).code(),
        "BLOB_UPLOAD_UNKNOWN"
    );
    // A session cannot be used through another repository.
    let r = send("POST", &format!("{}/v2/chunks/blobs/uploads/", reg.url()));
    let id = r.header("Docker-Upload-UUID").unwrap().to_string();
    let other = format!("{}/v2/other/blobs/uploads/{id}", reg.url());
    assert_eq!(get(&other).code(), "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn monolithic_single_post() {
    let reg = Registry::start().unwrap();
    let data = b"single request".to_vec();
    let d = Digest::sha256_of(&data);
    let r = call(
        "POST",
        &format!("{}/v2/mono/blobs/uploads/?digest={d}", reg.url()),
        &[("Content-Type", "application/octet-stream")],
        Some(&data),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/mono/blobs/{d}").as_str())
    );
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(d.to_string().as_str())
    );
    assert_eq!(get(&format!("{}/v2/mono/blobs/{d}", reg.url())).body, data);

    let wrong = Digest::sha256_of(b"nope");
    let r = call(
        "POST",
        &format!("{}/v2/mono/blobs/uploads/?digest={wrong}", reg.url()),
        &[],
        Some(&data),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "DIGEST_INVALID");
    assert_eq!(
        get(&format!("{}/v2/mono/blobs/{wrong}", reg.url())).status,
        404
    );
}

#[test]
fn cross_repository_mount() {
    let reg = Registry::start().unwrap();
    let d = reg.add_blob("source/repo", b"shared layer");
    let r = call(
        "POST",
        &format!(
            "{}/v2/target/blobs/uploads/?mount={d}&from=source/repo",
            reg.url()
        ),
        &[],
        None,
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/target/blobs/{d}").as_str())
    );
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(d.to_string().as_str())
    );
    assert_eq!(
        get(&format!("{}/v2/target/blobs/{d}", reg.url())).body,
        b"shared layer"
    );

    // Unknown in the source: an ordinary session.
    let unknown = Digest::sha256_of(b"absent");
    let r = call(
        "POST",
        &format!(
            "{}/v2/target2/blobs/uploads/?mount={unknown}&from=source/repo",
            reg.url()
        ),
        &[],
        None,
    );
    assert_eq!(r.status, 202);
    assert!(
        r.header("Location")
            .unwrap()
            .starts_with("/v2/target2/blobs/uploads/")
    );
    assert_eq!(r.header("Range"), Some("0-0"));
}

#[test]
fn manifests_put_get_head_delete() {
    let reg = Registry::start().unwrap();
    let base = reg.url();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let cd = push_blob(&reg, "team/app", config);
    let ld = push_blob(&reg, "team/app", b"layer bytes");
    let manifest = manifest_json((&cd, config.len()), &[(&ld, 11)]);
    let md = Digest::sha256_of(&manifest);

    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/v1"),
        OCI_MANIFEST,
        &manifest,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/team/app/manifests/{md}").as_str())
    );
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(md.to_string().as_str())
    );

    for reference in ["v1".to_string(), md.to_string()] {
        let r = get(&format!("{base}/v2/team/app/manifests/{reference}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, manifest);
        assert_eq!(r.header("Content-Type"), Some(OCI_MANIFEST));
        assert_eq!(
            r.header("Docker-Content-Digest"),
            Some(md.to_string().as_str())
        );
        let h = send("HEAD", &format!("{base}/v2/team/app/manifests/{reference}"));
        assert_eq!(h.status, 200);
        assert_eq!(
            h.header("Content-Length"),
            Some(manifest.len().to_string().as_str())
        );
        assert_eq!(h.header("Content-Type"), Some(OCI_MANIFEST));
    }
    let r = get(&format!("{base}/v2/team/app/manifests/nope"));
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "MANIFEST_UNKNOWN");

    // PUT by digest: accepted only when it matches.
    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/{md}"),
        OCI_MANIFEST,
        &manifest,
    );
    assert_eq!(r.status, 201);
    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/{}", Digest::sha256_of(b"x")),
        OCI_MANIFEST,
        &manifest,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "DIGEST_INVALID");

    // Content-Type must match the body's mediaType.
    let r = call(
        "PUT",
        &format!("{base}/v2/team/app/manifests/v2"),
        &[(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        Some(&manifest),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "MANIFEST_INVALID");
    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/v2"),
        OCI_MANIFEST,
        b"not json",
    );
    assert_eq!(r.code(), "MANIFEST_INVALID");

    // A missing blob.
    let missing = Digest::sha256_of(b"never pushed");
    let bad = manifest_json((&cd, config.len()), &[(&missing, 12)]);
    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/v2"),
        OCI_MANIFEST,
        &bad,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");
    // ... or one only present in another repository.
    let r = put_typed(
        &format!("{base}/v2/elsewhere/manifests/v1"),
        OCI_MANIFEST,
        &manifest,
    );
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");

    // An index needs its children.
    let index = |d: &Digest, size: usize| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{ "mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": size }],
        }))
        .unwrap()
    };
    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/multi"),
        OCI_INDEX,
        &index(&missing, 10),
    );
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");
    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/multi"),
        OCI_INDEX,
        &index(&md, manifest.len()),
    );
    assert_eq!(r.status, 201);

    // Too large.
    let mut huge = br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","x":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 4 << 20));
    huge.extend_from_slice(b"\"}");
    let r = put_typed(
        &format!("{base}/v2/team/app/manifests/huge"),
        OCI_MANIFEST,
        &huge,
    );
    assert_eq!(r.status, 413);

    // Delete a tag: the manifest stays.
    let r = send("DELETE", &format!("{base}/v2/team/app/manifests/v1"));
    assert_eq!(r.status, 202);
    assert_eq!(get(&format!("{base}/v2/team/app/manifests/v1")).status, 404);
    assert_eq!(
        get(&format!("{base}/v2/team/app/manifests/{md}")).status,
        200
    );
    // Delete by digest: the manifest and its tags go.
    put_typed(
        &format!("{base}/v2/team/app/manifests/again"),
        OCI_MANIFEST,
        &manifest,
    );
    let r = send("DELETE", &format!("{base}/v2/team/app/manifests/{md}"));
    assert_eq!(r.status, 202);
    assert_eq!(
        get(&format!("{base}/v2/team/app/manifests/{md}")).status,
        404
    );
    assert_eq!(
        get(&format!("{base}/v2/team/app/manifests/again")).status,
        404
    );
    let r = send("DELETE", &format!("{base}/v2/team/app/manifests/{md}"));
    assert_eq!(r.code(), "MANIFEST_UNKNOWN");
}

#[test]
fn blobs_ranges_deletes_and_errors() {
    let reg = Registry::start().unwrap();
    let data: Vec<u8> = (0..=255u8).collect();
    let d = reg.add_blob("r", &data);
    let url = format!("{}/v2/r/blobs/{d}", reg.url());
    let r = call("GET", &url, &[("Range", "bytes=10-19")], None);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[10..20]);
    assert_eq!(r.header("Content-Range"), Some("bytes 10-19/256"));
    assert_eq!(r.header("Content-Length"), Some("10"));
    let r = call("GET", &url, &[("Range", "bytes=250-")], None);
    assert_eq!(r.body, &data[250..]);
    let r = call("GET", &url, &[("Range", "bytes=300-")], None);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */256"));

    let r = get(&format!("{}/v2/r/blobs/sha256:abc", reg.url()));
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "DIGEST_INVALID");
    let r = get(&format!(
        "{}/v2/r/blobs/{}",
        reg.url(),
        Digest::sha256_of(b"?")
    ));
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "BLOB_UNKNOWN");

    assert_eq!(call("DELETE", &url, &[], None).status, 202);
    assert_eq!(get(&url).status, 404);
    assert_eq!(call("DELETE", &url, &[], None).code(), "BLOB_UNKNOWN");

    // The programmatic delete, for "verification must fail" tests.
    let d2 = reg.add_blob("r", b"x");
    assert!(reg.delete_blob("r", &d2));
    assert_eq!(get(&format!("{}/v2/r/blobs/{d2}", reg.url())).status, 404);
}

#[test]
fn names_are_validated_and_routed_from_the_end() {
    let reg = Registry::start().unwrap();
    for bad in ["UPPER", "a..b", "-a", "a/", "a%2F%2Fb", "a_b___c"] {
        let r = get(&format!("{}/v2/{bad}/tags/list", reg.url()));
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.code(), "NAME_INVALID", "{bad}");
    }
    // Components named like route segments.
    let d = reg
        .add_image("a/manifests/blobs/uploads", "v1", b"{}", &[b"l"])
        .unwrap();
    let r = get(&format!(
        "{}/v2/a/manifests/blobs/uploads/manifests/v1",
        reg.url()
    ));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(d.to_string().as_str())
    );
    let r = get(&format!(
        "{}/v2/a/manifests/blobs/uploads/tags/list",
        reg.url()
    ));
    assert_eq!(r.json()["tags"], serde_json::json!(["v1"]));
    // A digest with an escaped colon.
    let r = get(&format!(
        "{}/v2/a/manifests/blobs/uploads/manifests/{}",
        reg.url(),
        d.to_string().replace(':', "%3A")
    ));
    assert_eq!(r.status, 200);
}

#[test]
fn tags_are_sorted_and_paginated() {
    let reg = Registry::start().unwrap();
    for t in ["g", "c", "a", "e", "b", "f", "d"] {
        reg.add_image("pages", t, b"{}", &[]).unwrap();
    }
    let r = get(&format!("{}/v2/pages/tags/list", reg.url()));
    assert_eq!(
        r.json(),
        serde_json::json!({ "name": "pages", "tags": ["a","b","c","d","e","f","g"] })
    );
    assert_eq!(r.header("Link"), None);

    let mut url = format!("{}/v2/pages/tags/list?n=3", reg.url());
    let mut pages = Vec::new();
    loop {
        let r = get(&url);
        assert_eq!(r.status, 200);
        pages.push(r.json()["tags"].clone());
        let Some(link) = r.header("Link") else { break };
        assert!(link.ends_with(r#">; rel="next""#), "{link}");
        let target = link.trim_start_matches('<').split('>').next().unwrap();
        assert!(target.starts_with("/v2/pages/tags/list?"), "{target}");
        url = format!("{}{target}", reg.url());
    }
    assert_eq!(
        pages,
        vec![
            serde_json::json!(["a", "b", "c"]),
            serde_json::json!(["d", "e", "f"]),
            serde_json::json!(["g"]),
        ]
    );
    let r = get(&format!("{}/v2/pages/tags/list?n=3&last=f", reg.url()));
    assert_eq!(r.json()["tags"], serde_json::json!(["g"]));
    let r = get(&format!("{}/v2/pages/tags/list?n=x", reg.url()));
    assert_eq!(r.code(), "PAGINATION_NUMBER_INVALID");

    let r = get(&format!("{}/v2/unknown/tags/list", reg.url()));
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "NAME_UNKNOWN");
}

#[test]
fn catalog_is_paginated() {
    let reg = Registry::start().unwrap();
    for name in ["r7", "r1", "r3", "r2", "r6", "r4", "team/r5"] {
        reg.add_image(name, "latest", b"{}", &[]).unwrap();
    }
    // Blobs alone do not make a repository appear.
    reg.add_blob("blobs-only", b"x");
    let r = get(&format!("{}/v2/_catalog", reg.url()));
    assert_eq!(
        r.json()["repositories"],
        serde_json::json!(["r1", "r2", "r3", "r4", "r6", "r7", "team/r5"])
    );
    let mut url = format!("{}/v2/_catalog?n=3", reg.url());
    let mut pages = 0;
    let mut all = Vec::new();
    loop {
        let r = get(&url);
        pages += 1;
        all.extend(
            r.json()["repositories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string()),
        );
        let Some(link) = r.header("Link") else { break };
        let target = link.trim_start_matches('<').split('>').next().unwrap();
        assert!(target.starts_with("/v2/_catalog?last="), "{target}");
        url = format!("{}{target}", reg.url());
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 7);
    let r = get(&format!("{}/v2/_catalog?n=1001", reg.url()));
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "PAGINATION_NUMBER_INVALID");
    assert_eq!(
        get(&format!("{}/v2/_catalog?n=1000", reg.url())).status,
        200
    );
}

#[test]
fn basic_auth() {
    let reg = Registry::builder()
        .auth(AuthMode::Basic {
            users: vec![("alice".into(), "s3cret-pw".into())],
        })
        .start()
        .unwrap();
    reg.add_image("private/app", "v1", b"{}", &[]).unwrap();
    let url = format!("{}/v2/private/app/manifests/v1", reg.url());
    let r = get(&url);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(r#"Basic realm="ocireg-test""#)
    );
    assert_eq!(r.code(), "UNAUTHORIZED");
    let r = authed("GET", &url, &basic("alice", "wrong"));
    assert_eq!(r.status, 401);
    let r = authed("GET", &url, &basic("alice", "s3cret-pw"));
    assert_eq!(r.status, 200);
    let r = authed(
        "GET",
        &format!("{}/v2/", reg.url()),
        &basic("alice", "s3cret-pw"),
    );
    assert_eq!(r.status, 200);
    let reqs = reg.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(
        reqs.iter()
            .map(|r| (r.status, r.authorized))
            .collect::<Vec<_>>(),
        vec![(401, false), (401, true), (200, true), (200, true)]
    );
    assert_no_secret(&reqs, &["s3cret-pw", &basic("alice", "s3cret-pw")[6..]]);
    reg.clear_requests();
    assert_eq!(reg.request_count(), 0);
}

/// Parses `Bearer realm="...",service="...",scope="..."` into key/value pairs.
fn challenge(h: &str) -> Vec<(String, String)> {
    let rest = h.strip_prefix("Bearer ").expect("a Bearer challenge");
    let mut out = Vec::new();
    let mut s = rest;
    while let Some((k, v)) = s.split_once("=\"") {
        let end = v.find('"').unwrap();
        out.push((k.trim_start_matches(',').to_string(), v[..end].to_string()));
        s = &v[end + 1..];
    }
    out
}

fn param<'a>(c: &'a [(String, String)], k: &str) -> Option<&'a str> {
    c.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str())
}

/// Follows a Bearer challenge: asks the token endpoint for its scope, returns the token.
fn token_for(r: &Resp, creds: Option<(&str, &str)>) -> (u16, String) {
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    let mut url = format!(
        "{}?service={}",
        param(&c, "realm").unwrap(),
        param(&c, "service").unwrap()
    );
    if let Some(scope) = param(&c, "scope") {
        for s in scope.split(' ') {
            url.push_str(&format!(
                "&scope={}",
                s.replace(':', "%3A").replace(',', "%2C")
            ));
        }
    }
    let auth = creds.map(|(u, p)| basic(u, p));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let t = call("GET", &url, &headers, None);
    if t.status != 200 {
        return (t.status, String::new());
    }
    let v = t.json();
    assert_eq!(v["token"], v["access_token"]);
    assert!(v["expires_in"].as_u64().is_some());
    assert!(v["issued_at"].as_str().unwrap().ends_with('Z'));
    (200, v["token"].as_str().unwrap().to_string())
}

#[test]
fn bearer_flow() {
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(
            BearerPolicy::full_access(&[("alice", "alice-pw")]).with_anonymous_pull("public"),
        ))
        .start()
        .unwrap();
    reg.add_image("private/app", "v1", b"{}", &[]).unwrap();
    reg.add_image("public/app", "v1", b"{}", &[]).unwrap();
    let base = reg.url();

    // /v2/: a challenge without scope.
    let r = get(&format!("{base}/v2/"));
    assert_eq!(r.status, 401);
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(param(&c, "realm"), Some(format!("{base}/token").as_str()));
    assert_eq!(param(&c, "service"), Some("ocireg-test"));
    assert_eq!(param(&c, "scope"), None);
    let (_, anon) = token_for(&r, None);
    let r = authed("GET", &format!("{base}/v2/"), &format!("Bearer {anon}"));
    assert_eq!(r.status, 200);

    // 401 -> token -> 200.
    let url = format!("{base}/v2/private/app/manifests/v1");
    let r = get(&url);
    assert_eq!(r.status, 401);
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(param(&c, "scope"), Some("repository:private/app:pull"));
    assert_eq!(param(&c, "error"), None);
    let (status, token) = token_for(&r, Some(("alice", "alice-pw")));
    assert_eq!(status, 200);
    let bearer = format!("Bearer {token}");
    assert_eq!(
        call("GET", &url, &[("Authorization", &bearer)], None).status,
        200
    );
    // The token is scoped: pushing to the same repository needs another one.
    let r = authed(
        "POST",
        &format!("{base}/v2/private/app/blobs/uploads/"),
        &bearer,
    );
    assert_eq!(r.status, 401);
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(param(&c, "scope"), Some("repository:private/app:pull,push"));
    assert_eq!(param(&c, "error"), Some("insufficient_scope"));
    let (_, push_token) = token_for(&r, Some(("alice", "alice-pw")));
    let r = authed(
        "POST",
        &format!("{base}/v2/private/app/blobs/uploads/"),
        &format!("Bearer {push_token}"),
    );
    assert_eq!(r.status, 202);

    // Wrong password at the token endpoint.
    let r = get(&url);
    let (status, _) = token_for(&r, Some(("alice", "wrong")));
    assert_eq!(status, 401);

    // Anonymous: a token, but not enough for a private repository.
    let (status, anon) = token_for(&r, None);
    assert_eq!(status, 200);
    let r = authed("GET", &url, &format!("Bearer {anon}"));
    assert_eq!(r.status, 401);
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(param(&c, "error"), Some("insufficient_scope"));
    // Anonymous pull of public content works, anonymous push does not.
    let pub_url = format!("{base}/v2/public/app/manifests/v1");
    let r = get(&pub_url);
    let (_, anon) = token_for(&r, None);
    assert_eq!(
        authed("GET", &pub_url, &format!("Bearer {anon}")).status,
        200
    );
    let r = send("POST", &format!("{base}/v2/public/app/blobs/uploads/"));
    let (_, anon_push) = token_for(&r, None);
    let r = authed(
        "POST",
        &format!("{base}/v2/public/app/blobs/uploads/"),
        &format!("Bearer {anon_push}"),
    );
    assert_eq!(r.status, 401);

    // A foreign token.
    let r = authed("GET", &url, "Bearer not-a-token-of-ours");
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(param(&c, "error"), Some("invalid_token"));

    // The catalog needs registry:catalog:*.
    let r = get(&format!("{base}/v2/_catalog"));
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(param(&c, "scope"), Some("registry:catalog:*"));
    let (_, cat) = token_for(&r, Some(("alice", "alice-pw")));
    let r = authed(
        "GET",
        &format!("{base}/v2/_catalog"),
        &format!("Bearer {cat}"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["repositories"],
        serde_json::json!(["private/app", "public/app"])
    );

    // Several scopes in one token request, repeated or space-separated.
    let t = call(
        "GET",
        &format!(
            "{base}/token?service=ocireg-test&scope=repository:private/app:pull&scope=repository:public/app:pull+registry:catalog:*"
        ),
        &[("Authorization", &basic("alice", "alice-pw"))],
        None,
    );
    assert_eq!(t.status, 200);
    let multi = format!("Bearer {}", t.json()["token"].as_str().unwrap());
    assert_eq!(
        call("GET", &url, &[("Authorization", &multi)], None).status,
        200
    );
    assert_eq!(
        call("GET", &pub_url, &[("Authorization", &multi)], None).status,
        200
    );
    assert_eq!(
        authed("GET", &format!("{base}/v2/_catalog"), &multi).status,
        200
    );

    // OAuth2 POST: password grant with a refresh token, then a refresh grant.
    let form = "grant_type=password&username=alice&password=alice-pw&service=ocireg-test&client_id=tests&access_type=offline&scope=repository%3Aprivate%2Fapp%3Apull";
    let t = call(
        "POST",
        &format!("{base}/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
    );
    assert_eq!(t.status, 200);
    let refresh = t.json()["refresh_token"].as_str().unwrap().to_string();
    let form = format!(
        "grant_type=refresh_token&refresh_token={refresh}&service=ocireg-test&client_id=tests&scope=repository%3Aprivate%2Fapp%3Adelete"
    );
    let t = call("POST", &format!("{base}/token"), &[], Some(form.as_bytes()));
    assert_eq!(t.status, 200);
    let del = format!("Bearer {}", t.json()["access_token"].as_str().unwrap());
    let r = authed(
        "DELETE",
        &format!("{base}/v2/private/app/manifests/v1"),
        &del,
    );
    assert_eq!(r.status, 202);
    let t = call(
        "POST",
        &format!("{base}/token"),
        &[],
        Some(b"grant_type=password&username=alice&password=nope&service=ocireg-test"),
    );
    assert_eq!(t.status, 401);

    // Token endpoint requests are recorded, and nothing secret is.
    let reqs = reg.requests();
    assert!(
        reqs.iter()
            .any(|r| r.path == "/token" && r.method == "POST")
    );
    assert!(
        reqs.iter()
            .any(|r| r.path == "/token" && r.method == "GET" && r.status == 401)
    );
    assert_no_secret(
        &reqs,
        &[
            "alice-pw",
            &token,
            &push_token,
            &cat,
            &refresh,
            &multi[7..],
            &del[7..],
        ],
    );
}

#[test]
fn bearer_mount_asks_for_both_repositories() {
    let mut policy = BearerPolicy::full_access(&[("alice", "pw")]);
    // bob may push to his own namespace but not read alice's.
    policy.users.push(("bob".into(), "bob-pw".into()));
    policy.grants.push(Grant {
        user: Some("bob".into()),
        repository_prefix: "bob".into(),
        actions: vec!["pull".into(), "push".into()],
        catalog: false,
    });
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(policy))
        .start()
        .unwrap();
    let d = reg.add_blob("alice/src", b"layer");
    let mount = |user: &str| {
        format!(
            "{}/v2/{user}/dst/blobs/uploads/?mount={d}&from=alice/src",
            reg.url()
        )
    };

    let r = call("POST", &mount("alice"), &[], None);
    assert_eq!(r.status, 401);
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(
        param(&c, "scope"),
        Some("repository:alice/dst:pull,push repository:alice/src:pull")
    );
    let (_, t) = token_for(&r, Some(("alice", "pw")));
    let r = authed("POST", &mount("alice"), &format!("Bearer {t}"));
    assert_eq!(r.status, 201);

    // bob's token cannot read the source: an ordinary upload session instead.
    let r = call("POST", &mount("bob"), &[], None);
    let (_, t) = token_for(&r, Some(("bob", "bob-pw")));
    let r = authed("POST", &mount("bob"), &format!("Bearer {t}"));
    assert_eq!(r.status, 202);
}

#[test]
fn bearer_token_expires() {
    let mut policy = BearerPolicy::full_access(&[("alice", "pw")]);
    policy.token_ttl = Duration::from_secs(1);
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(policy))
        .start()
        .unwrap();
    reg.add_image("app", "v1", b"{}", &[]).unwrap();
    let url = format!("{}/v2/app/manifests/v1", reg.url());
    let r = get(&url);
    let (status, _) = token_for(&r, Some(("alice", "pw")));
    assert_eq!(status, 200);
    let t = call(
        "GET",
        &format!(
            "{}/token?service=ocireg-test&scope=repository:app:pull",
            reg.url()
        ),
        &[("Authorization", &basic("alice", "pw"))],
        None,
    );
    assert_eq!(t.json()["expires_in"], 1);
    let bearer = format!("Bearer {}", t.json()["token"].as_str().unwrap());
    assert_eq!(
        call("GET", &url, &[("Authorization", &bearer)], None).status,
        200
    );
    std::thread::sleep(Duration::from_millis(1200));
    let r = call("GET", &url, &[("Authorization", &bearer)], None);
    assert_eq!(r.status, 401);
    let c = challenge(r.header("WWW-Authenticate").unwrap());
    assert_eq!(param(&c, "error"), Some("invalid_token"));
    assert_eq!(param(&c, "scope"), Some("repository:app:pull"));
}

#[test]
fn fail_next_with_retry_after() {
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[("a", "b")])))
        .start()
        .unwrap();
    reg.fail_next(2, 429, Some(7));
    // The token endpoint is never failed.
    let t = get(&format!("{}/token?service=ocireg-test", reg.url()));
    assert_eq!(t.status, 200);
    let bearer = format!("Bearer {}", t.json()["token"].as_str().unwrap());
    for _ in 0..2 {
        let r = authed("GET", &format!("{}/v2/", reg.url()), &bearer);
        assert_eq!(r.status, 429);
        assert_eq!(r.header("Retry-After"), Some("7"));
        assert_eq!(r.code(), "TOOMANYREQUESTS");
    }
    let r = authed("GET", &format!("{}/v2/", reg.url()), &bearer);
    assert_eq!(r.status, 200);
    reg.fail_next(1, 503, None);
    let r = get(&format!("{}/v2/anything/tags/list", reg.url()));
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), None);
    assert_eq!(r.code(), "UNAVAILABLE");
    let statuses: Vec<u16> = reg.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 429, 429, 200, 503]);
}

#[test]
fn drop_next_sends_a_short_body() {
    let reg = Registry::start().unwrap();
    let data = vec![7u8; 1 << 20];
    let d = reg.add_blob("r", &data);
    let url = format!("{}/v2/r/blobs/{d}", reg.url());
    reg.drop_next(1);
    let resp = agent().get(&url).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["Content-Length"].to_str().unwrap(),
        (1u64 << 20).to_string()
    );
    let mut got = Vec::new();
    let e = resp.into_body().into_reader().read_to_end(&mut got);
    assert!(e.is_err(), "the body must break off");
    assert!(got.len() <= 1 << 19, "{}", got.len());
    // The next download is whole; the server is fine.
    assert_eq!(get(&url).body, data);
    // HEAD is not a download: it does not use up a pending drop.
    reg.drop_next(1);
    assert_eq!(call("HEAD", &url, &[], None).status, 200);
    let resp = agent().get(&url).call().unwrap();
    assert!(
        resp.into_body()
            .into_reader()
            .read_to_end(&mut Vec::new())
            .is_err()
    );
    // Ranged downloads are cut too: headers for the range, half of it.
    reg.drop_next(1);
    let resp = agent()
        .get(&url)
        .header("Range", "bytes=0-99")
        .call()
        .unwrap();
    assert_eq!(resp.status(), 206);
    let mut got = Vec::new();
    assert!(
        resp.into_body()
            .into_reader()
            .read_to_end(&mut got)
            .is_err()
    );
    assert_eq!(got.len(), 50);
    reg.drop_next(0);
    assert_eq!(get(&url).body, data);
}

#[test]
fn redirected_blobs_come_from_the_object_store_without_credentials() {
    let reg = Registry::builder()
        .auth(AuthMode::Basic {
            users: vec![("alice".into(), "pw".into())],
        })
        .start()
        .unwrap();
    let data = b"redirected content".to_vec();
    let d = reg.add_blob("r", &data);
    reg.redirect_blobs(true);
    let url = format!("{}/v2/r/blobs/{d}", reg.url());
    let auth = basic("alice", "pw");

    let r = call("GET", &url, &[("Authorization", &auth)], None);
    assert_eq!(r.status, 307);
    let location = r.header("Location").unwrap().to_string();
    assert!(location.starts_with("http://localhost:"), "{location}");

    // A client that follows the redirect (ureq drops credentials across hosts).
    let r = call_with(
        &following_agent(),
        "GET",
        &url,
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    // Unauthenticated at the registry: still 401, no redirect.
    assert_eq!(get(&url).status, 401);
    // HEAD is answered by the registry itself.
    assert_eq!(
        call("HEAD", &url, &[("Authorization", &auth)], None).status,
        200
    );
    // A careless client that sends credentials to the object store is recorded as such.
    let r = call("GET", &location, &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200);
    // Range works there too, and drop_next applies to the object store.
    let r = call("GET", &location, &[("Range", "bytes=0-9")], None);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[..10]);

    let reqs = reg.requests();
    let at_store: Vec<(bool, u16)> = reqs
        .iter()
        .filter(|r| r.object_store)
        .map(|r| (r.authorized, r.status))
        .collect();
    assert_eq!(at_store, vec![(false, 200), (true, 200), (false, 206)]);
    assert!(
        reqs.iter()
            .filter(|r| !r.object_store && r.status == 307)
            .all(|r| r.authorized)
    );
    assert!(
        reqs.iter()
            .filter(|r| r.object_store)
            .all(|r| r.path.starts_with("/objects/"))
    );
    assert_no_secret(&reqs, &["pw\"", &auth[6..]]);

    reg.redirect_blobs(false);
    assert_eq!(
        call("GET", &url, &[("Authorization", &auth)], None).status,
        200
    );
}

#[test]
fn delay_slows_every_answer() {
    let reg = Registry::start().unwrap();
    reg.set_delay(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(get(&format!("{}/v2/", reg.url())).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // Back to zero: ten answers come faster than one delayed answer would have (the bound is
    // loose so that a loaded machine cannot fail it).
    reg.set_delay(Duration::from_secs(20));
    reg.set_delay(Duration::ZERO);
    let t = Instant::now();
    for _ in 0..10 {
        assert_eq!(get(&format!("{}/v2/", reg.url())).status, 200);
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn parallel_clients() {
    let reg = Registry::start().unwrap();
    // One slow request must not hold up the others.
    reg.set_delay(Duration::from_millis(200));
    std::thread::scope(|s| {
        for i in 0..12 {
            let reg = &reg;
            s.spawn(move || {
                let data = vec![i as u8; 100_000 + i];
                let d = push_blob(reg, &format!("par/r{i}"), &data);
                assert_eq!(
                    get(&format!("{}/v2/par/r{i}/blobs/{d}", reg.url())).body,
                    data
                );
            });
        }
    });
    reg.set_delay(Duration::ZERO);
    assert_eq!(reg.request_count(), 36);
}

#[test]
fn malformed_requests_get_4xx_and_do_not_hurt_the_server() {
    let reg = Registry::start().unwrap();
    let host = reg.host();
    // (request, the status line it starts with, an OCI error code the answer holds)
    let cases: [(&[u8], &str, Option<&str>); 8] = [
        (b"NONSENSE\r\n\r\n", "HTTP/1.1 400", None),
        // A TLS ClientHello gets a plain-HTTP refusal at once (clients probing HTTPS fall back
        // fast). At once: `raw` gives up after 5 s of silence, so a late answer fails this check.
        (
            &[
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ],
            "HTTP/1.0 400",
            None,
        ),
        (
            b"GET /v2/%zz/tags/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
            Some("NAME_INVALID"),
        ),
        (
            b"GET /v2/a/blobs/sha256:../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 404",
            None,
        ),
        (
            b"GET /v2/a/blobs/sha256:..%2F..%2Fetc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 404",
            None,
        ),
        (
            b"GET /v2/a/blobs/sha256:.. HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
            Some("DIGEST_INVALID"),
        ),
        // A body that claims to be enormous and never comes.
        (
            b"PATCH /v2/a/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\nabc",
            "HTTP/1.1 404",
            None,
        ),
        (
            b"PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n{",
            "HTTP/1.1 413",
            None,
        ),
    ];
    for (request, status_line, code) in cases {
        let out = raw(&host, request);
        assert!(out.starts_with(status_line), "{out}");
        if let Some(code) = code {
            assert!(out.contains(code), "{out}");
        }
    }
    // A body shorter than announced.
    let r = send("POST", &format!("{}/v2/a/blobs/uploads/", reg.url()));
    let loc = r.header("Location").unwrap().to_string();
    let out = raw(
        &host,
        format!("PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a few")
            .as_bytes(),
    );
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(get(&absolute(&reg, &loc)).header("Range"), Some("0-0"));
    // Chunked request bodies are understood.
    let d = Digest::sha256_of(b"hello world");
    let out = raw(
        &host,
        format!(
            "PUT {loc}?digest={d} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");
    // Still serving.
    assert_eq!(get(&format!("{}/v2/", reg.url())).status, 200);
    assert_eq!(
        get(&format!("{}/v2/a/blobs/{d}", reg.url())).body,
        b"hello world"
    );
}

#[test]
fn large_chunked_upload() {
    let reg = Registry::start().unwrap();
    let data: Vec<u8> = (0..(24u32 << 20)).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256_of(&data);
    let r = send("POST", &format!("{}/v2/big/blobs/uploads/", reg.url()));
    let mut loc = absolute(&reg, r.header("Location").unwrap());
    let chunk = 5 << 20;
    for (i, c) in data.chunks(chunk).enumerate() {
        let start = i * chunk;
        let range = format!("{start}-{}", start + c.len() - 1);
        let r = call("PATCH", &loc, &[("Content-Range", &range)], Some(c));
        assert_eq!(r.status, 202);
        assert_eq!(
            r.header("Range"),
            Some(format!("0-{}", start + c.len() - 1).as_str())
        );
        loc = absolute(&reg, r.header("Location").unwrap());
    }
    let r = call("PUT", &with_query(&loc, &format!("digest={d}")), &[], None);
    assert_eq!(r.status, 201);
    let r = get(&format!("{}/v2/big/blobs/{d}", reg.url()));
    assert_eq!(
        r.header("Content-Length"),
        Some(data.len().to_string().as_str())
    );
    assert!(r.body == data);
}

#[test]
fn stop_closes_the_port() {
    let reg = Registry::start().unwrap();
    let host = reg.host();
    // A keep-alive connection is open when it stops.
    let a = agent();
    assert_eq!(
        call_with(&a, "GET", &format!("{}/v2/", reg.url()), &[], None).status,
        200
    );
    let t = Instant::now();
    reg.stop();
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(TcpStream::connect(&host).is_err());
}

// ---------------------------------------------------------------------------------------------
// Interoperability with skopeo (containers/image, the Go client of podman and buildah).

fn skopeo_available() -> bool {
    let found = Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("OCIREG_REQUIRE_SKOPEO").as_deref() == Ok("1") {
            panic!("skopeo is not on PATH but OCIREG_REQUIRE_SKOPEO=1");
        }
        eprintln!("note: skopeo is not on PATH; skipping the skopeo interoperability test");
    }
    found
}

/// Writes an OCI image layout with one image tagged `tag`; returns the manifest digest.
fn write_oci_layout(dir: &Path, tag: &str) -> Digest {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let write = |bytes: &[u8]| {
        let d = Digest::sha256_of(bytes);
        std::fs::write(blobs.join(d.hex()), bytes).unwrap();
        d
    };
    let tar = ocireg::testing::tar(&[("hello.txt", b"hello from ocireg\n")]);
    let layer = ocireg::testing::gzip(&tar);
    let ld = write(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [Digest::sha256_of(&tar).to_string()] },
    }))
    .unwrap();
    let cd = write(&config);
    let manifest = manifest_json((&cd, config.len()), &[(&ld, layer.len())]);
    let md = write(&manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": md.to_string(),
            "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag },
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    md
}

fn skopeo(args: &[&str]) {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn index_digest(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ocireg-testing-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn skopeo_round_trip(reg: &Registry, creds: Option<&str>, name: &str) {
    let dir = temp_dir(name);
    let src = dir.join("src");
    let back = dir.join("back");
    let md = write_oci_layout(&src, "v1");
    let dest = format!("docker://{}/interop/{name}:v1", reg.host());
    let mut push = vec!["copy", "--dest-tls-verify=false"];
    if let Some(c) = creds {
        push.extend(["--dest-creds", c]);
    }
    let src_ref = format!("oci:{}:v1", src.display());
    push.extend([src_ref.as_str(), dest.as_str()]);
    skopeo(&push);
    let r = send(
        "HEAD",
        &format!("{}/v2/interop/{name}/manifests/v1", reg.url()),
    );
    if creds.is_none() {
        assert_eq!(
            r.header("Docker-Content-Digest"),
            Some(md.to_string().as_str())
        );
    }
    let mut pull = vec!["copy", "--src-tls-verify=false"];
    if let Some(c) = creds {
        pull.extend(["--src-creds", c]);
    }
    let back_ref = format!("oci:{}:v1", back.display());
    pull.extend([dest.as_str(), back_ref.as_str()]);
    skopeo(&pull);
    assert_eq!(index_digest(&back), md.to_string());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn skopeo_push_and_pull() {
    if !skopeo_available() {
        return;
    }
    let reg = Registry::start().unwrap();
    skopeo_round_trip(&reg, None, "open");
    let reqs = reg.requests();
    assert!(
        reqs.iter()
            .any(|r| r.method == "PUT" && r.path.contains("/manifests/"))
    );
    assert!(reqs.iter().all(|r| r.status < 500), "{reqs:#?}");

    // Through Bearer authentication, with the credentials skopeo sends to the token endpoint.
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
            "alice", "alice-pw",
        )])))
        .start()
        .unwrap();
    skopeo_round_trip(&reg, Some("alice:alice-pw"), "bearer");
    let reqs = reg.requests();
    assert!(reqs.iter().any(|r| r.path == "/token" && r.status == 200));
    assert_no_secret(&reqs, &["alice-pw"]);

    // And Basic.
    let reg = Registry::builder()
        .auth(AuthMode::Basic {
            users: vec![("bob".into(), "bob-pw".into())],
        })
        .start()
        .unwrap();
    skopeo_round_trip(&reg, Some("bob:bob-pw"), "basic");
}

/// Measures a 256 MiB POST + PUT upload with curl. Run with
/// `cargo test --release --test testing_registry -- --ignored --nocapture upload_throughput`.
#[test]
#[ignore]
fn upload_throughput_with_curl() {
    let reg = Registry::start().unwrap();
    let dir = temp_dir("throughput");
    let file = dir.join("blob");
    let data: Vec<u8> = (0..(256u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &data).unwrap();
    let d = Digest::sha256_of(&data);
    drop(data);
    let r = send("POST", &format!("{}/v2/perf/blobs/uploads/", reg.url()));
    let loc = with_query(
        &absolute(&reg, r.header("Location").unwrap()),
        &format!("digest={d}"),
    );
    let t = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .args([
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(&loc)
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "201",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "256 MiB PUT with curl: {secs:.2} s, {:.0} MiB/s",
        256.0 / secs
    );
    let t = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{}/v2/perf/blobs/{d}", reg.url()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "256 MiB GET with curl: {secs:.2} s, {:.0} MiB/s",
        256.0 / secs
    );
    let _ = std::fs::remove_dir_all(&dir);
}
