//! Delete by tag and delete by digest, pinned exchange by exchange against mockito: the tag form
//! first, the fallback to the digest when the registry refuses it (distribution 2.x: 400
//! `DIGEST_INVALID`; others 405), and deletes disabled (405 `UNSUPPORTED`). And a copy from a
//! source that serves a corrupt blob.

use mockito::{Matcher, Mock, Server, ServerGuard};
use ocireg::testing::Registry;
use ocireg::{
    Client, CopyOptions, Credentials, DeleteTagOptions, Descriptor, Digest, Error, ImageManifest,
    media_types,
};

fn client(server: &ServerGuard) -> Client {
    Client::builder(&server.url())
        .credentials(Credentials::Anonymous)
        .retry_policy(ocireg::RetryPolicy::none())
        .build()
        .expect("client")
}

fn digest() -> Digest {
    Digest::sha256_of(br#"{"schemaVersion":2}"#)
}

/// `HEAD /v2/team/app/manifests/<reference>` answering 200 with the digest.
fn head(server: &mut ServerGuard, reference: &str, d: &Digest) -> Mock {
    server
        .mock(
            "HEAD",
            format!("/v2/team/app/manifests/{reference}").as_str(),
        )
        .match_header("accept", Matcher::Regex(r"image\.index\.v1\+json".into()))
        .with_status(200)
        .with_header("docker-content-digest", &d.to_string())
        .with_header("content-type", media_types::OCI_MANIFEST)
        .expect(1)
        .create()
}

fn delete(server: &mut ServerGuard, reference: &str, status: usize, code: &str) -> Mock {
    let body = if code.is_empty() {
        String::new()
    } else {
        format!(r#"{{"errors":[{{"code":"{code}","message":"refused","detail":null}}]}}"#)
    };
    server
        .mock(
            "DELETE",
            format!("/v2/team/app/manifests/{reference}").as_str(),
        )
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(1)
        .create()
}

#[test]
fn digest_invalid_to_the_tag_form_falls_back_to_the_digest() {
    let mut server = Server::new();
    let d = digest();
    let head = head(&mut server, "v1", &d);
    let by_tag = delete(&mut server, "v1", 400, "DIGEST_INVALID");
    let by_digest = delete(&mut server, &d.to_string(), 202, "");
    let c = client(&server);
    let gone = c.delete_tag("team/app", "v1").unwrap();
    assert!(gone.manifest_deleted, "by digest: every tag on it goes");
    assert_eq!(gone.digest, d);
    assert_eq!(gone.tag, "v1");
    assert_eq!(c.request_count(), 3);
    head.assert();
    by_tag.assert();
    by_digest.assert();
}

#[test]
fn method_not_allowed_to_the_tag_form_falls_back_too() {
    let mut server = Server::new();
    let d = digest();
    let head = head(&mut server, "v1", &d);
    let by_tag = delete(&mut server, "v1", 405, "UNSUPPORTED");
    let by_digest = delete(&mut server, &d.to_string(), 202, "");
    let gone = client(&server).delete_tag("team/app", "v1").unwrap();
    assert!(gone.manifest_deleted);
    head.assert();
    by_tag.assert();
    by_digest.assert();
}

#[test]
fn an_accepted_tag_delete_is_checked_with_a_head_by_digest() {
    let mut server = Server::new();
    let d = digest();
    let head_tag = head(&mut server, "v1", &d);
    let by_tag = delete(&mut server, "v1", 202, "");
    // The manifest is still there: only the tag went.
    let head_digest = head(&mut server, &d.to_string(), &d);
    let never = server
        .mock("DELETE", format!("/v2/team/app/manifests/{d}").as_str())
        .expect(0)
        .create();
    let c = client(&server);
    let gone = c.delete_tag("team/app", "v1").unwrap();
    assert!(!gone.manifest_deleted);
    assert_eq!(gone.removed_tags(), ["v1"]);
    assert_eq!(c.request_count(), 3);
    head_tag.assert();
    by_tag.assert();
    head_digest.assert();
    never.assert();
}

#[test]
fn a_registry_whose_tag_delete_takes_the_manifest_says_so() {
    let mut server = Server::new();
    let d = digest();
    let head_tag = head(&mut server, "v1", &d);
    let by_tag = delete(&mut server, "v1", 202, "");
    let gone_head = server
        .mock("HEAD", format!("/v2/team/app/manifests/{d}").as_str())
        .with_status(404)
        .expect(1)
        .create();
    let gone = client(&server).delete_tag("team/app", "v1").unwrap();
    assert!(gone.manifest_deleted);
    head_tag.assert();
    by_tag.assert();
    gone_head.assert();
}

#[test]
fn deletes_disabled_is_unsupported() {
    let mut server = Server::new();
    let d = digest();
    let head = head(&mut server, "v1", &d);
    let by_tag = delete(&mut server, "v1", 405, "UNSUPPORTED");
    let by_digest = delete(&mut server, &d.to_string(), 405, "UNSUPPORTED");
    let err = client(&server).delete_tag("team/app", "v1").unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("deleting manifests") && msg.contains("UNSUPPORTED"),
        "{msg}"
    );
    head.assert();
    by_tag.assert();
    by_digest.assert();
}

#[test]
fn tag_first_off_deletes_by_digest_only() {
    let mut server = Server::new();
    let d = digest();
    let head = head(&mut server, "v1", &d);
    let by_tag = server
        .mock("DELETE", "/v2/team/app/manifests/v1")
        .expect(0)
        .create();
    let by_digest = delete(&mut server, &d.to_string(), 202, "");
    let options = DeleteTagOptions {
        tag_first: false,
        ..Default::default()
    };
    let gone = client(&server)
        .delete_tag_with("team/app", "v1", &options)
        .unwrap();
    assert!(gone.manifest_deleted);
    head.assert();
    by_tag.assert();
    by_digest.assert();
}

#[test]
fn other_refusals_are_not_retried_by_digest() {
    let mut server = Server::new();
    let d = digest();
    let head = head(&mut server, "v1", &d);
    let by_tag = delete(&mut server, "v1", 403, "DENIED");
    let by_digest = server
        .mock("DELETE", format!("/v2/team/app/manifests/{d}").as_str())
        .expect(0)
        .create();
    let err = client(&server).delete_tag("team/app", "v1").unwrap_err();
    assert!(matches!(err, Error::Authorization { .. }), "{err:?}");
    head.assert();
    by_tag.assert();
    by_digest.assert();
}

#[test]
fn an_unknown_tag_is_not_found_before_any_delete() {
    let mut server = Server::new();
    let head = server
        .mock("HEAD", "/v2/team/app/manifests/nope")
        .with_status(404)
        .expect(1)
        .create();
    let none = server.mock("DELETE", Matcher::Any).expect(0).create();
    let err = client(&server).delete_tag("team/app", "nope").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    head.assert();
    none.assert();
}

#[test]
fn delete_manifest_by_digest_maps_405_to_unsupported() {
    let mut server = Server::new();
    let d = digest();
    let m = delete(&mut server, &d.to_string(), 405, "UNSUPPORTED");
    let err = client(&server)
        .delete_manifest("team/app", &d.to_string())
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    m.assert();
}

#[test]
fn a_corrupt_source_blob_fails_the_copy_and_lands_nowhere() {
    let mut server = Server::new();
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer = vec![42u8; 300_000];
    let mut corrupt = layer.clone();
    corrupt[299_999] ^= 1;
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(
            media_types::OCI_CONFIG,
            Digest::sha256_of(&config),
            config.len() as u64,
        ),
        layers: vec![Descriptor::new(
            media_types::OCI_LAYER_GZIP,
            Digest::sha256_of(&layer),
            layer.len() as u64,
        )],
        subject: None,
        annotations: None,
    };
    let mb = serde_json::to_vec(&m).unwrap();
    let _manifest = server
        .mock("GET", "/v2/src/app/manifests/v1")
        .with_status(200)
        .with_header("content-type", media_types::OCI_MANIFEST)
        .with_header("docker-content-digest", &Digest::sha256_of(&mb).to_string())
        .with_body(&mb)
        .create();
    let _config = server
        .mock(
            "GET",
            format!("/v2/src/app/blobs/{}", m.config.digest).as_str(),
        )
        .with_status(200)
        .with_body(&config)
        .create();
    let bad = server
        .mock(
            "GET",
            format!("/v2/src/app/blobs/{}", m.layers[0].digest).as_str(),
        )
        .with_status(200)
        .with_body(&corrupt)
        .expect(1)
        .create();
    let dst = Registry::start().unwrap();
    let cb = Client::builder(&dst.url())
        .credentials(Credentials::Anonymous)
        .build()
        .unwrap();
    let err = client(&server)
        .copy_to(
            "src/app",
            "v1",
            &cb,
            "dst/app",
            "v1",
            &CopyOptions::default(),
        )
        .unwrap_err();
    // The source's error, not what the upload made of the stream breaking off.
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("src/app"), "{err}");
    bad.assert();
    assert_eq!(
        cb.blob_exists("dst/app", &m.layers[0].digest.to_string())
            .unwrap(),
        None
    );
    assert!(matches!(
        cb.manifest("dst/app", "v1"),
        Err(Error::NotFound { .. })
    ));
}
