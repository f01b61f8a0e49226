//! Push, mount, chunked upload and manifest exchanges pinned against mockito.

use std::io::Write;

use mockito::{Matcher, Server, ServerGuard};
use ocireg::{
    BlobSource, BlobStatus, Client, Credentials, Digest, Error, ImageBuilder, MountOutcome,
    PushOptions, UploadOptions, media_types,
};

fn client(server: &ServerGuard) -> Client {
    Client::builder(&server.url())
        .credentials(Credentials::Anonymous)
        .retry_policy(ocireg::RetryPolicy::none())
        .build()
        .expect("client")
}

fn digest_query(state: &str, digest: &Digest) -> Matcher {
    // `_state` first, then `&digest=` (percent-encoded colon, as Go clients send it).
    Matcher::Regex(format!(
        "^_state={state}&digest={}%3A{}$",
        digest.algorithm().as_str(),
        digest.hex()
    ))
}

/// The query of the `POST` that asks whether a small blob is in team/app already: a mount of
/// `digest` from team/app itself (percent-encoded, as sent).
fn ask_query(digest: &Digest) -> Matcher {
    Matcher::Exact(format!(
        "mount={}%3A{}&from=team%2Fapp",
        digest.algorithm().as_str(),
        digest.hex()
    ))
}

fn blob_path(repo: &str, d: &Digest) -> String {
    format!("/v2/{repo}/blobs/{d}")
}

/// `HEAD` of the blob `d` of team/app answered with `status`. Not created yet: add to it, then
/// `.create()`.
fn head_blob(server: &mut ServerGuard, d: &Digest, status: usize) -> mockito::Mock {
    server
        .mock("HEAD", blob_path("team/app", d).as_str())
        .with_status(status)
}

/// The `POST` that opens an upload session in team/app, answered 202 with `location`. Not
/// created yet.
fn upload_session(server: &mut ServerGuard, location: &str) -> mockito::Mock {
    server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .with_status(202)
        .with_header("location", location)
}

/// Any `DELETE` (a cancelled upload session) answered 204.
fn any_delete(server: &mut ServerGuard) -> mockito::Mock {
    server
        .mock("DELETE", Matcher::Any)
        .with_status(204)
        .create()
}

/// Upload options that always upload (no `HEAD` first).
fn always_upload() -> UploadOptions {
    UploadOptions {
        skip_existing: false,
        ..Default::default()
    }
}

#[test]
fn an_existing_small_blob_is_skipped_after_one_post() {
    let mut server = Server::new();
    let data = b"already there".to_vec();
    let d = Digest::sha256_of(&data);
    // No HEAD: the upload's POST asks, as a mount from the repository itself, and the 201
    // says the blob is there.
    let head = head_blob(&mut server, &d, 200).expect(0).create();
    let post = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(ask_query(&d))
        .with_status(201)
        .with_header("location", &blob_path("team/app", &d))
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let put = server.mock("PUT", Matcher::Any).expect(0).create();
    let c = client(&server);
    let pushed = c
        .push_blob("team/app", BlobSource::bytes(&data[..]))
        .unwrap();
    assert_eq!(pushed.status, BlobStatus::Existed);
    assert_eq!(pushed.digest, d);
    assert_eq!(pushed.size, data.len() as u64);
    assert_eq!(c.request_count(), 1);
    head.assert();
    post.assert();
    put.assert();
}

/// A blob just over [`ocireg::ASK_BY_MOUNT_MAX`]: `HEAD`ed at the same time as it is asked
/// about.
fn large_blob() -> (Vec<u8>, Digest) {
    let data = vec![9u8; ocireg::ASK_BY_MOUNT_MAX as usize + 1];
    let d = Digest::sha256_of(&data);
    (data, d)
}

/// The asking `POST` for `d` in team/app, answered `status` (202: with the session
/// `/v2/team/app/blobs/uploads/u1?_state=s`). Not created yet.
fn ask(server: &mut ServerGuard, d: &Digest, status: usize) -> mockito::Mock {
    let m = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(ask_query(d))
        .with_status(status);
    match status {
        202 => m.with_header("location", "/v2/team/app/blobs/uploads/u1?_state=s"),
        201 => m
            .with_header("location", &blob_path("team/app", d))
            .with_header("docker-content-digest", &d.to_string()),
        _ => m,
    }
}

#[test]
fn an_existing_large_blob_is_skipped_after_one_round_trip() {
    let mut server = Server::new();
    let (data, d) = large_blob();
    // HEAD and the asking POST go out together; the 201 says it is there.
    let head = head_blob(&mut server, &d, 200)
        .with_header("content-length", &data.len().to_string())
        .expect(1)
        .create();
    let post = ask(&mut server, &d, 201).expect(1).create();
    let put = server.mock("PUT", Matcher::Any).expect(0).create();
    let c = client(&server);
    let pushed = c
        .push_blob("team/app", BlobSource::bytes(&data[..]))
        .unwrap();
    assert_eq!(pushed.status, BlobStatus::Existed);
    assert_eq!(c.request_count(), 2);
    for m in [head, post, put] {
        m.assert();
    }
}

#[test]
fn a_new_large_blob_is_headed_and_asked_at_once_then_put_into_the_session() {
    let mut server = Server::new();
    let (data, d) = large_blob();
    let head = head_blob(&mut server, &d, 404).expect(1).create();
    let post = ask(&mut server, &d, 202).expect(1).create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/u1")
        .match_query(digest_query("s", &d))
        .match_body(data.clone())
        .with_status(201)
        .expect(1)
        .create();
    let delete = server.mock("DELETE", Matcher::Any).expect(0).create();
    let c = client(&server);
    let pushed = c
        .push_blob("team/app", BlobSource::bytes(&data[..]))
        .unwrap();
    assert_eq!(pushed.status, BlobStatus::Uploaded);
    assert_eq!(c.request_count(), 3, "HEAD and POST, then PUT");
    for m in [head, post, put, delete] {
        m.assert();
    }
}

#[test]
fn a_large_blob_a_registry_holds_but_does_not_mount_is_not_sent_again() {
    let mut server = Server::new();
    let (data, d) = large_blob();
    let head = head_blob(&mut server, &d, 200)
        .with_header("content-length", &data.len().to_string())
        .expect(1)
        .create();
    // No mount: a session, which is deleted unused.
    let post = ask(&mut server, &d, 202).expect(1).create();
    let delete = server
        .mock("DELETE", "/v2/team/app/blobs/uploads/u1")
        .match_query(Matcher::Exact("_state=s".into()))
        .with_status(204)
        .expect(1)
        .create();
    let put = server.mock("PUT", Matcher::Any).expect(0).create();
    let c = client(&server);
    let pushed = c
        .push_blob("team/app", BlobSource::bytes(&data[..]))
        .unwrap();
    assert_eq!(pushed.status, BlobStatus::Existed);
    assert_eq!(c.request_count(), 3, "HEAD and POST, then DELETE");
    for m in [head, post, delete, put] {
        m.assert();
    }
}

#[test]
fn a_failed_head_of_a_large_blob_ends_the_push_and_deletes_the_session() {
    let mut server = Server::new();
    let (data, d) = large_blob();
    let head = head_blob(&mut server, &d, 403).expect(1).create();
    let post = ask(&mut server, &d, 202).expect(1).create();
    let delete = server
        .mock("DELETE", "/v2/team/app/blobs/uploads/u1")
        .match_query(Matcher::Any)
        .with_status(204)
        .expect(1)
        .create();
    let put = server.mock("PUT", Matcher::Any).expect(0).create();
    let c = client(&server);
    let e = c
        .push_blob("team/app", BlobSource::bytes(&data[..]))
        .unwrap_err();
    assert!(matches!(e, Error::Authorization { .. }), "{e}");
    for m in [head, post, delete, put] {
        m.assert();
    }
}

#[test]
fn a_registry_refusing_the_mount_query_gets_head_then_a_plain_post() {
    for (refusal, data) in [
        (400, b"new blob".to_vec()),
        (405, b"new blob".to_vec()),
        (501, b"new blob".to_vec()),
        (405, large_blob().0),
    ] {
        let mut server = Server::new();
        let d = Digest::sha256_of(&data);
        let ask = server
            .mock("POST", "/v2/team/app/blobs/uploads/")
            .match_query(ask_query(&d))
            .with_status(refusal)
            .expect(1)
            .create();
        let head = head_blob(&mut server, &d, 404).expect(1).create();
        let post = server
            .mock("POST", "/v2/team/app/blobs/uploads/")
            .match_query(Matcher::Missing)
            .with_status(202)
            .with_header("location", "/v2/team/app/blobs/uploads/u1?_state=s")
            .expect(1)
            .create();
        let put = server
            .mock("PUT", "/v2/team/app/blobs/uploads/u1")
            .match_query(digest_query("s", &d))
            .match_body(data.clone())
            .with_status(201)
            .expect(1)
            .create();
        let c = client(&server);
        let pushed = c
            .push_blob("team/app", BlobSource::bytes(&data[..]))
            .unwrap();
        assert_eq!(pushed.status, BlobStatus::Uploaded, "{refusal}");
        // A small blob's HEAD follows the refusal; a large one's went out with it.
        assert_eq!(c.request_count(), 4, "{refusal}: POST, HEAD, POST, PUT");
        for m in [ask, head, post, put] {
            m.assert();
        }
    }
}

#[test]
fn any_other_error_to_the_asking_post_is_the_push_error() {
    let mut server = Server::new();
    let data = b"new blob".to_vec();
    let d = Digest::sha256_of(&data);
    let ask = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(ask_query(&d))
        .with_status(403)
        .with_body(r#"{"errors":[{"code":"DENIED","message":"no push for you"}]}"#)
        .expect(1)
        .create();
    let head = head_blob(&mut server, &d, 404).expect(0).create();
    let c = client(&server);
    let e = c
        .push_blob("team/app", BlobSource::bytes(&data[..]))
        .unwrap_err();
    assert!(matches!(e, Error::Authorization { .. }), "{e}");
    assert!(e.to_string().contains("DENIED"), "{e}");
    ask.assert();
    head.assert();
}

#[test]
fn blob_exists_reports_size_or_none() {
    let mut server = Server::new();
    let d = Digest::sha256_of(b"x");
    let other = Digest::sha256_of(b"y");
    let present = head_blob(&mut server, &d, 200)
        .with_header("content-length", "1")
        .expect(1)
        .create();
    let missing = head_blob(&mut server, &other, 404).expect(1).create();
    let c = client(&server);
    assert_eq!(c.blob_exists("team/app", &d.to_string()).unwrap(), Some(1));
    assert_eq!(c.blob_exists("team/app", &other.to_string()).unwrap(), None);
    assert!(matches!(
        c.blob_exists("team/app", "sha256:../../etc/passwd"),
        Err(Error::InvalidReference(_))
    ));
    present.assert();
    missing.assert();
}

#[test]
fn mount_201_is_mounted() {
    let mut server = Server::new();
    let d = Digest::sha256_of(b"shared layer");
    let mount = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("mount".into(), d.to_string()),
            Matcher::UrlEncoded("from".into(), "team/base".into()),
        ]))
        .with_status(201)
        .with_header("location", &blob_path("team/app", &d))
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let out = c
        .mount_blob("team/app", "team/base", &d.to_string(), None)
        .unwrap();
    assert_eq!(out, MountOutcome::Mounted);
    // With a fallback source, a 201 is still a mount (nothing uploaded).
    let mount_again = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(Matcher::UrlEncoded("mount".into(), d.to_string()))
        .with_status(201)
        .expect(1)
        .create();
    let out = c
        .mount_blob(
            "team/app",
            "team/base",
            &d.to_string(),
            Some(BlobSource::bytes(&b"shared layer"[..])),
        )
        .unwrap();
    assert_eq!(out, MountOutcome::Mounted);
    mount.assert();
    mount_again.assert();
}

#[test]
fn mount_202_falls_back_to_upload_into_the_session() {
    let mut server = Server::new();
    let data = b"layer the source lacks".to_vec();
    let d = Digest::sha256_of(&data);
    let mount = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("mount".into(), d.to_string()),
            Matcher::UrlEncoded("from".into(), "team/base".into()),
        ]))
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/sess1?_state=m1")
        .with_header("range", "0-0")
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/sess1")
        .match_query(digest_query("m1", &d))
        .match_header("content-length", data.len().to_string().as_str())
        .match_header("content-type", "application/octet-stream")
        .match_body(data.clone())
        .with_status(201)
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let out = c
        .mount_blob(
            "team/app",
            "team/base",
            &d.to_string(),
            Some(BlobSource::bytes(&data[..])),
        )
        .unwrap();
    match out {
        MountOutcome::Uploaded(b) => {
            assert_eq!(b.digest, d);
            assert_eq!(b.status, BlobStatus::Uploaded);
        }
        other => panic!("expected an upload, got {other:?}"),
    }
    assert_eq!(
        c.request_count(),
        2,
        "no second POST: the mount's session is used"
    );
    mount.assert();
    put.assert();

    // Without a fallback the session is cancelled and nothing is stored.
    let mount2 = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(Matcher::UrlEncoded("mount".into(), d.to_string()))
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/sess2?_state=m2")
        .expect(1)
        .create();
    let cancel = server
        .mock("DELETE", "/v2/team/app/blobs/uploads/sess2")
        .match_query(Matcher::UrlEncoded("_state".into(), "m2".into()))
        .with_status(204)
        .expect(1)
        .create();
    let out = c
        .mount_blob("team/app", "team/base", &d.to_string(), None)
        .unwrap();
    assert_eq!(out, MountOutcome::NotMounted);
    mount2.assert();
    cancel.assert();
}

#[test]
fn monolithic_upload_with_relative_location() {
    let mut server = Server::new();
    let data = vec![7u8; 100_000];
    let d = Digest::sha256_of(&data);
    let head = head_blob(&mut server, &d, 404).expect(0).create();
    let post = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .match_query(ask_query(&d))
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/u1?_state=abc")
        .with_header("range", "0-0")
        .with_header("docker-upload-uuid", "u1")
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/u1")
        .match_query(digest_query("abc", &d))
        .match_header("content-length", "100000")
        .match_header("content-type", "application/octet-stream")
        .match_header("transfer-encoding", Matcher::Missing)
        .match_body(data.clone())
        .with_status(201)
        .with_header("location", &blob_path("team/app", &d))
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let pushed = c
        .push_blob("team/app", BlobSource::bytes(&data[..]))
        .unwrap();
    assert_eq!(pushed.status, BlobStatus::Uploaded);
    assert_eq!(pushed.digest, d);
    assert_eq!(c.request_count(), 2, "POST (asking), PUT");
    head.assert();
    post.assert();
    put.assert();
}

#[test]
fn monolithic_upload_with_absolute_location_from_a_file() {
    let mut server = Server::new();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256_of(&data);
    let dir = tempdir("abs");
    let path = dir.join("layer.bin");
    std::fs::write(&path, &data).unwrap();
    let head = head_blob(&mut server, &d, 404).expect(1).create();
    let post = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .with_status(202)
        .with_header(
            "location",
            &format!(
                "{}/v2/team/app/blobs/uploads/u2?_state=xyz%3D%3D",
                server.url()
            ),
        )
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/u2")
        .match_query(digest_query("xyz%3D%3D", &d))
        .match_header("content-length", "300000")
        .match_body(data.clone())
        .with_status(201)
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let pushed = c.push_blob("team/app", BlobSource::file(&path)).unwrap();
    assert_eq!((pushed.digest.clone(), pushed.size), (d, 300_000));
    head.assert();
    post.assert();
    put.assert();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn chunked_upload_follows_range_and_location() {
    let mut server = Server::new();
    let data = b"0123456789".to_vec();
    let d = Digest::sha256_of(&data);
    let post = upload_session(&mut server, "/v2/team/app/blobs/uploads/c?_state=s0")
        .with_header("range", "0-0")
        .with_header("oci-chunk-min-length", "4")
        .expect(1)
        .create();
    // Chunk size 3 is raised to the registry's minimum of 4.
    let p1 = server
        .mock("PATCH", "/v2/team/app/blobs/uploads/c")
        .match_query(Matcher::Regex("^_state=s0$".into()))
        .match_header("content-type", "application/octet-stream")
        .match_header("content-range", "0-3")
        .match_header("content-length", "4")
        .match_body(b"0123".to_vec())
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/c?_state=s1")
        .with_header("range", "0-3")
        .expect(1)
        .create();
    // The registry keeps only 2 of the next 4 bytes: the next chunk starts where its Range says.
    let p2 = server
        .mock("PATCH", "/v2/team/app/blobs/uploads/c")
        .match_query(Matcher::Regex("^_state=s1$".into()))
        .match_header("content-range", "4-7")
        .match_body(b"4567".to_vec())
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/c?_state=s2")
        .with_header("range", "0-5")
        .expect(1)
        .create();
    let p3 = server
        .mock("PATCH", "/v2/team/app/blobs/uploads/c")
        .match_query(Matcher::Regex("^_state=s2$".into()))
        .match_header("content-range", "6-9")
        .match_body(b"6789".to_vec())
        .with_status(202)
        .with_header(
            "location",
            &format!("{}/v2/team/app/blobs/uploads/c?_state=s3", server.url()),
        )
        .with_header("range", "0-9")
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/c")
        .match_query(digest_query("s3", &d))
        .match_header("content-length", "0")
        .match_body(Matcher::Exact(String::new()))
        .with_status(201)
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let opts = UploadOptions {
        chunked: true,
        chunk_size: 3,
        skip_existing: false,
    };
    let pushed = c
        .push_blob_with("team/app", BlobSource::bytes(&data[..]), &opts)
        .unwrap();
    assert_eq!(pushed.digest, d);
    assert_eq!(c.request_count(), 5);
    for m in [&post, &p1, &p2, &p3, &put] {
        m.assert();
    }
}

#[test]
fn reader_without_digest_is_hashed_while_streaming() {
    let mut server = Server::new();
    let data = vec![42u8; 50_000];
    let d = Digest::sha256_of(&data);
    let post = upload_session(&mut server, "/v2/team/app/blobs/uploads/r?_state=a")
        .expect(1)
        .create();
    let patch = server
        .mock("PATCH", "/v2/team/app/blobs/uploads/r")
        .match_query(Matcher::Regex("^_state=a$".into()))
        .match_header("content-length", "50000")
        .match_header("content-range", "0-49999")
        .match_body(data.clone())
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/r?_state=b")
        .with_header("range", "0-49999")
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/r")
        .match_query(digest_query("b", &d))
        .with_status(201)
        .expect(1)
        .create();
    let c = client(&server);
    let pushed = c
        .push_blob("team/app", BlobSource::reader(&data[..], 50_000, None))
        .unwrap();
    assert_eq!(pushed.digest, d);
    assert_eq!(
        c.request_count(),
        3,
        "no HEAD without a digest: POST, PATCH, PUT"
    );
    post.assert();
    patch.assert();
    put.assert();
}

#[test]
fn wrong_digest_is_an_error() {
    let mut server = Server::new();
    let data = b"some bytes".to_vec();
    let claimed = Digest::sha256_of(b"other bytes");
    let _post = upload_session(&mut server, "/v2/team/app/blobs/uploads/w?_state=q")
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/w")
        .match_query(digest_query("q", &claimed))
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_body(r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#)
        .expect(1)
        .create();
    let cancel = server
        .mock("DELETE", "/v2/team/app/blobs/uploads/w")
        .match_query(Matcher::Any)
        .with_status(204)
        .expect(1)
        .create();
    let c = client(&server);
    let opts = always_upload();
    let e = c
        .push_blob_with(
            "team/app",
            BlobSource::reader(&data[..], data.len() as u64, Some(claimed)),
            &opts,
        )
        .unwrap_err();
    assert_eq!(e.http_status(), Some(400), "{e}");
    assert_eq!(e.registry_code(), Some("DIGEST_INVALID"), "{e}");
    put.assert();
    cancel.assert();

    // A registry that stored something else (its Docker-Content-Digest differs) is caught too.
    let mut server = Server::new();
    let d = Digest::sha256_of(&data);
    let _post = upload_session(&mut server, "/v2/team/app/blobs/uploads/w2?_state=q").create();
    let _put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/w2")
        .match_query(Matcher::Any)
        .with_status(201)
        .with_header(
            "docker-content-digest",
            &Digest::sha256_of(b"zzz").to_string(),
        )
        .create();
    let _cancel = any_delete(&mut server);
    let c = client(&server);
    let e = c
        .push_blob_with("team/app", BlobSource::bytes(&data[..]), &opts)
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&d.to_string()), "{e}");
}

#[test]
fn a_reader_yielding_the_wrong_length_is_an_error() {
    let mut server = Server::new();
    let _post = upload_session(&mut server, "/v2/team/app/blobs/uploads/s?_state=q").create();
    let _put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/s")
        .match_query(Matcher::Any)
        .with_status(201)
        .create();
    let _patch = server
        .mock("PATCH", "/v2/team/app/blobs/uploads/s")
        .match_query(Matcher::Any)
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/s?_state=r")
        .with_header("range", "0-9")
        .create();
    let _cancel = any_delete(&mut server);
    let c = client(&server);
    let d = Digest::sha256_of(b"0123456789");
    // Short, with a digest (monolithic PUT).
    let e = c
        .push_blob_with(
            "team/app",
            BlobSource::reader(&b"01234"[..], 10, Some(d)),
            &always_upload(),
        )
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e}");
    assert!(e.to_string().contains("5 of the announced 10"), "{e}");
    // Long, without a digest (PATCH, then the reader is checked before the closing PUT).
    let e = c
        .push_blob(
            "team/app",
            BlobSource::reader(&b"0123456789-extra"[..], 10, None),
        )
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e}");
    assert!(e.to_string().contains("more than the announced 10"), "{e}");
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ocireg-push-mock-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The two manifest HEADs a push starts with: by digest, answering `by_digest`, and by the tag
/// `v1`, answering `by_tag` (200 with the image's digest, or 404).
fn manifest_probes(
    server: &mut ServerGuard,
    image: &ocireg::Image,
    by_digest: usize,
    by_tag: usize,
) -> Vec<mockito::Mock> {
    let digest = image.digest().to_string();
    [
        (format!("/v2/team/app/manifests/{digest}"), by_digest),
        ("/v2/team/app/manifests/v1".into(), by_tag),
    ]
    .into_iter()
    .map(|(path, status)| {
        server
            .mock("HEAD", path.as_str())
            .match_header(
                "accept",
                Matcher::Regex("application/vnd.oci.image.manifest.v1\\+json".into()),
            )
            .with_status(status)
            .with_header("docker-content-digest", &digest)
            .expect(1)
            .create()
    })
    .collect()
}

#[test]
fn repush_on_a_fresh_client_is_two_heads_and_nothing_else() {
    let mut server = Server::new();
    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(vec![4u8; 4096], media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let probes = manifest_probes(&mut server, &image, 200, 200);
    let c = client(&server);
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap();
    assert_eq!(c.request_count(), 2);
    assert_eq!(pushed.stats.requests, 2);
    assert_eq!(pushed.stats.manifests_existing, 1);
    assert_eq!(&pushed.digest, image.digest());
    for p in &probes {
        p.assert();
    }
}

/// A fresh client (one that has not learned the registry's auth scheme yet, as in every CLI
/// run) sends its two manifest probes at once, in one round trip: this registry answers
/// neither until both have arrived. Sent one after the other, the second would never come.
#[test]
fn a_fresh_client_asks_by_tag_and_by_digest_at_once() {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(vec![5u8; 4096], media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let digest = image.digest().to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = digest.clone();
    let server = std::thread::spawn(move || {
        // Accept (and read the head of) requests until two are waiting or 20 s have passed.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut waiting = Vec::new();
        let mut paths = Vec::new();
        while waiting.len() < 2 && Instant::now() < deadline {
            match listener.accept() {
                Ok((sock, _)) => {
                    sock.set_nonblocking(false).unwrap();
                    sock.set_read_timeout(Some(Duration::from_secs(20)))
                        .unwrap();
                    let mut reader = BufReader::new(sock.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    paths.push(line.trim().to_string());
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    waiting.push(sock);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        let both_waited = waiting.len() == 2;
        for mut sock in waiting {
            let _ = write!(
                sock,
                "HTTP/1.1 200 OK\r\ndocker-content-digest: {answer}\r\ncontent-length: 0\r\n\
                 connection: close\r\n\r\n"
            );
        }
        (both_waited, paths)
    });
    let c = Client::builder(&format!("http://{addr}"))
        .credentials(Credentials::Anonymous)
        .retry_policy(ocireg::RetryPolicy::none())
        .build()
        .unwrap();
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap();
    let (both_waited, mut paths) = server.join().unwrap();
    assert!(
        both_waited,
        "the probes went one after the other: {paths:?}"
    );
    paths.sort();
    assert_eq!(
        paths,
        [
            format!("HEAD /v2/team/app/manifests/{digest} HTTP/1.1"),
            "HEAD /v2/team/app/manifests/v1 HTTP/1.1".to_string(),
        ]
    );
    assert_eq!(pushed.stats.manifests_existing, 1);
}

#[test]
fn repush_on_a_client_that_knows_the_scheme_is_two_heads_at_once() {
    let mut server = Server::new();
    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(vec![4u8; 4096], media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let v2 = server
        .mock("GET", "/v2/")
        .with_body("{}")
        .expect(1)
        .create();
    let probes = manifest_probes(&mut server, &image, 200, 200);
    let c = client(&server);
    c.ping().unwrap();
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap();
    assert_eq!(c.request_count(), 3);
    assert_eq!(pushed.stats.requests, 2);
    assert_eq!(pushed.stats.manifests_existing, 1);
    v2.assert();
    for p in &probes {
        p.assert();
    }
}

#[test]
fn a_manifest_there_under_another_tag_gets_only_the_manifest_put() {
    let mut server = Server::new();
    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(vec![5u8; 4096], media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let probes = manifest_probes(&mut server, &image, 200, 404);
    let manifest = server
        .mock("PUT", "/v2/team/app/manifests/v1")
        .match_body(image.manifest().bytes.clone())
        .with_status(201)
        .with_header("docker-content-digest", &image.digest().to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap();
    assert_eq!(c.request_count(), 3, "two HEADs, one PUT, no blob request");
    assert_eq!(pushed.stats.manifests_put, 1);
    for p in &probes {
        p.assert();
    }
    manifest.assert();
}

/// Mocks for an image whose (small) blobs are all new: no HEAD, POST (asking) 202, PUT 201.
fn new_blob_mocks(server: &mut ServerGuard, n: usize) -> Vec<mockito::Mock> {
    vec![
        server
            .mock("HEAD", Matcher::Regex(r"^/v2/team/app/blobs/".into()))
            .with_status(404)
            .expect(0)
            .create(),
        upload_session(server, "/v2/team/app/blobs/uploads/x?_state=1")
            .match_query(Matcher::Regex(
                r"^mount=sha256%3A[0-9a-f]{64}&from=team%2Fapp$".into(),
            ))
            .expect(n)
            .create(),
        server
            .mock("PUT", "/v2/team/app/blobs/uploads/x")
            .match_query(Matcher::Regex(
                r"^_state=1&digest=sha256%3A[0-9a-f]{64}$".into(),
            ))
            .with_status(201)
            .expect(n)
            .create(),
    ]
}

/// Mocks for blobs whose upload is cut short (no expectations): HEAD 404 (asked only of large
/// blobs), POST 202 (asking or not), PUT 201.
fn interrupted_blob_mocks(server: &mut ServerGuard) -> Vec<mockito::Mock> {
    vec![
        server
            .mock("HEAD", Matcher::Regex(r"^/v2/team/app/blobs/".into()))
            .with_status(404)
            .create(),
        upload_session(server, "/v2/team/app/blobs/uploads/x?_state=1")
            .match_query(Matcher::Any)
            .create(),
        server
            .mock("PUT", "/v2/team/app/blobs/uploads/x")
            .match_query(Matcher::Any)
            .with_status(201)
            .create(),
    ]
}

/// A manifest `PUT` that must never come.
fn no_manifest_put(server: &mut ServerGuard) -> mockito::Mock {
    server
        .mock("PUT", Matcher::Regex("^/v2/team/app/manifests/".into()))
        .with_status(201)
        .expect(0)
        .create()
}

#[test]
fn image_push_counts_two_requests_per_blob_and_one_manifest() {
    let mut server = Server::new();
    let image = ImageBuilder::new()
        .config(br#"{"architecture":"amd64","os":"linux"}"#.to_vec())
        .layer_bytes(vec![1u8; 1000], media_types::OCI_LAYER_GZIP)
        .layer_bytes(vec![2u8; 2000], media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let blobs = new_blob_mocks(&mut server, 3);
    let probes = manifest_probes(&mut server, &image, 404, 404);
    let manifest = server
        .mock("PUT", "/v2/team/app/manifests/v1")
        .match_header("content-type", media_types::OCI_MANIFEST)
        .match_body(image.manifest().bytes.clone())
        .with_status(201)
        .with_header("docker-content-digest", &image.digest().to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap();
    // Two manifest HEADs (tag, digest: neither there), two requests per blob, one PUT.
    assert_eq!(c.request_count(), 2 + 2 * 3 + 1);
    assert_eq!(pushed.stats.requests, 9);
    for p in &probes {
        p.assert();
    }
    assert_eq!(pushed.stats.blobs_uploaded, 3);
    assert_eq!(
        pushed.stats.bytes_uploaded,
        3000 + image.config().unwrap().size
    );
    assert_eq!(&pushed.digest, image.digest());
    assert_eq!(pushed.layers.len(), 2);
    for m in &blobs {
        m.assert();
    }
    manifest.assert();
}

#[test]
fn manifest_put_checks_docker_content_digest() {
    let mut server = Server::new();
    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(b"layer".to_vec(), media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let _blobs = new_blob_mocks(&mut server, 2);
    let manifest = server
        .mock("PUT", "/v2/team/app/manifests/v1")
        .with_status(201)
        .with_header(
            "docker-content-digest",
            &Digest::sha256_of(b"not it").to_string(),
        )
        .expect(1)
        .create();
    let c = client(&server);
    let e = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    manifest.assert();
}

#[test]
fn a_short_source_fails_the_push_and_no_manifest_is_put() {
    let mut server = Server::new();
    let dir = tempdir("short");
    let path = dir.join("layer.bin");
    std::fs::write(&path, vec![9u8; 200_000]).unwrap();
    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_file(&path, media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    // The file shrinks after the image was described: the upload must fail, not send garbage.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.write_all(&[9u8; 1000]).unwrap();
    drop(f);
    let _blobs = interrupted_blob_mocks(&mut server);
    let cancel = server
        .mock("DELETE", "/v2/team/app/blobs/uploads/x")
        .match_query(Matcher::Any)
        .with_status(204)
        .expect_at_least(1)
        .create();
    let manifest = no_manifest_put(&mut server);
    let c = client(&server);
    let e = c
        .push_image("team/app", "v1", &image, &PushOptions::default().threads(1))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e}");
    assert!(
        e.to_string()
            .contains("ended after 1000 of the announced 200000"),
        "{e}"
    );
    manifest.assert();
    cancel.assert();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cancelling_from_the_progress_callback_stops_before_the_manifest() {
    let mut server = Server::new();
    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(vec![5u8; 500_000], media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let _blobs = interrupted_blob_mocks(&mut server);
    let _cancel = any_delete(&mut server);
    let manifest = no_manifest_put(&mut server);
    let c = client(&server);
    let opts = PushOptions::default().progress(|p| p.done < 100_000);
    let e = c.push_image("team/app", "v1", &image, &opts).unwrap_err();
    assert!(matches!(e, Error::Cancelled(_)), "{e}");
    manifest.assert();
}

#[test]
fn a_push_of_blobs_already_there_is_one_post_each_and_one_manifest_put() {
    let mut server = Server::new();
    let image = ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(vec![3u8; 4096], media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let mut asks = Vec::new();
    for d in image.blob_descriptors() {
        asks.push(
            server
                .mock("POST", "/v2/team/app/blobs/uploads/")
                .match_query(ask_query(&d.digest))
                .with_status(201)
                .with_header("location", &blob_path("team/app", &d.digest))
                .expect(1)
                .create(),
        );
    }
    let head = server
        .mock("HEAD", Matcher::Regex(r"^/v2/team/app/blobs/".into()))
        .with_status(500)
        .expect(0)
        .create();
    let put_blob = server
        .mock("PUT", Matcher::Regex(r"^/v2/team/app/blobs/".into()))
        .with_status(500)
        .expect(0)
        .create();
    let _probes = manifest_probes(&mut server, &image, 404, 404);
    let manifest = server
        .mock("PUT", "/v2/team/app/manifests/v1")
        .with_status(201)
        .with_header("docker-content-digest", &image.digest().to_string())
        .expect(1)
        .create();
    let c = client(&server);
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap();
    assert_eq!(pushed.stats.blobs_existing, 2);
    assert_eq!(pushed.stats.blobs_uploaded, 0);
    assert_eq!(pushed.stats.blobs_mounted, 0);
    assert_eq!(c.request_count(), 2 + 2 + 1);
    for a in &asks {
        a.assert();
    }
    head.assert();
    put_blob.assert();
    manifest.assert();
}

#[test]
fn pulled_blobs_are_verified_and_nothing_partial_is_left() {
    let mut server = Server::new();
    let good = b"the real content".to_vec();
    let d = Digest::sha256_of(&good);
    let bad = server
        .mock("GET", blob_path("team/app", &d).as_str())
        .with_status(200)
        .with_body("tampered content")
        .expect(2)
        .create();
    let c = client(&server);
    let mut out = Vec::new();
    let e = c
        .pull_blob("team/app", &d.to_string(), &mut out)
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    let dir = tempdir("pull");
    let target = dir.join("blob");
    std::fs::write(&target, b"previous").unwrap();
    let e = c
        .pull_blob_to_path("team/app", &d.to_string(), &target)
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"previous",
        "the old file is untouched"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
    bad.assert();

    let ok = server
        .mock("GET", blob_path("team/app", &d).as_str())
        .with_status(200)
        .with_body(&good)
        .expect(1)
        .create();
    assert_eq!(
        c.pull_blob_to_path("team/app", &d.to_string(), &target)
            .unwrap(),
        16
    );
    assert_eq!(std::fs::read(&target).unwrap(), good);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    ok.assert();
    std::fs::remove_dir_all(dir).unwrap();
}

/// A 401 on the PUT (a token that expired during the upload) replays the body from its source.
fn expiring_token_server(data: &[u8], d: &Digest) -> (ServerGuard, Vec<mockito::Mock>) {
    let mut server = Server::new();
    let realm = format!("{}/token", server.url());
    let mocks = vec![
        upload_session(&mut server, "/v2/team/app/blobs/uploads/e?_state=1")
            .expect(1)
            .create(),
        server
            .mock("PUT", "/v2/team/app/blobs/uploads/e")
            .match_query(Matcher::Any)
            .match_header("authorization", Matcher::Missing)
            .with_status(401)
            .with_header(
                "www-authenticate",
                &format!(
                    r#"Bearer realm="{realm}",service="mock",scope="repository:team/app:pull,push""#
                ),
            )
            .expect(1)
            .create(),
        server
            .mock("GET", "/token")
            .match_query(Matcher::UrlEncoded(
                "scope".into(),
                "repository:team/app:pull,push".into(),
            ))
            .with_status(200)
            .with_body(r#"{"token":"fresh","expires_in":300}"#)
            .expect(1)
            .create(),
        server
            .mock("PUT", "/v2/team/app/blobs/uploads/e")
            .match_query(digest_query("1", d))
            .match_header("authorization", "Bearer fresh")
            .match_header("content-length", data.len().to_string().as_str())
            .match_body(data.to_vec())
            .with_status(201)
            .expect(1)
            .create(),
    ];
    (server, mocks)
}

#[test]
fn a_401_during_the_upload_replays_the_body_from_the_file() {
    let data = vec![0xabu8; 150_000];
    let d = Digest::sha256_of(&data);
    let (server, mocks) = expiring_token_server(&data, &d);
    let dir = tempdir("replay");
    let path = dir.join("blob");
    std::fs::write(&path, &data).unwrap();
    let c = client(&server);
    let opts = always_upload();
    let pushed = c
        .push_blob_with(
            "team/app",
            BlobSource::file_with_digest(&path, d.clone()),
            &opts,
        )
        .unwrap();
    assert_eq!(pushed.digest, d);
    for m in &mocks {
        m.assert();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_401_during_the_upload_of_a_reader_is_a_clean_error() {
    let data = vec![0xcdu8; 150_000];
    let d = Digest::sha256_of(&data);
    let (mut server, _mocks) = expiring_token_server(&data, &d);
    let _cancel = any_delete(&mut server);
    let c = client(&server);
    let opts = always_upload();
    let e = c
        .push_blob_with(
            "team/app",
            BlobSource::reader(&data[..], 150_000, Some(d)),
            &opts,
        )
        .unwrap_err();
    assert!(e.to_string().contains("read only once"), "{e}");
}
