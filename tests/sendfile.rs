//! `ClientBuilder::sendfile(true)`: file blobs go out with `sendfile(2)` on plain-http
//! connections. The exchanges must be byte for byte those of the ordinary path (mockito), and
//! whole pushes must read back intact from the in-memory registry and from docker-registry 2.8
//! (`tests/rig/rig.sh`; skopeo reads the image back independently). Over https the option must
//! change nothing. Real-registry tests whose variables are missing print a skip note and pass,
//! unless `OCIREG_REQUIRE_RIG=1`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mockito::{Matcher, Server};
use ocireg::testing::Registry;
use ocireg::{
    BlobSource, Client, Credentials, Digest, Image, ImageBuilder, OciLayout, PullOptions,
    PushOptions, UploadOptions, media_types,
};

mod common;

use common::{rig, skopeo};

fn sendfile_client(url: &str) -> Client {
    Client::builder(url)
        .credentials(Credentials::Anonymous)
        .retry_policy(ocireg::RetryPolicy::none())
        .sendfile(true)
        .build()
        .unwrap()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ocireg-sendfile-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_monolithic_upload_from_a_file_is_the_same_exchange() {
    let mut server = Server::new();
    let data = common::pseudo_random("mono", 700_001);
    let d = Digest::sha256_of(&data);
    let dir = tmpdir("mono");
    let path = dir.join("layer.bin");
    fs::write(&path, &data).unwrap();
    let post = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/u1?_state=a")
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/u1")
        .match_query(Matcher::Regex(format!(
            "^_state=a&digest=sha256%3A{}$",
            d.hex()
        )))
        .match_header("content-length", "700001")
        .match_body(data.clone())
        .with_status(201)
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let c = sendfile_client(&server.url());
    let opts = UploadOptions {
        skip_existing: false,
        ..Default::default()
    };
    let pushed = c
        .push_blob_with(
            "team/app",
            BlobSource::file_with_digest(&path, d.clone()),
            &opts,
        )
        .unwrap();
    assert_eq!((pushed.digest, pushed.size), (d, 700_001));
    post.assert();
    put.assert();
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn chunks_of_a_file_go_from_their_offsets() {
    let mut server = Server::new();
    let data = common::pseudo_random("chunks", 300_000);
    let d = Digest::sha256_of(&data);
    let dir = tmpdir("chunks");
    let path = dir.join("layer.bin");
    fs::write(&path, &data).unwrap();
    let post = server
        .mock("POST", "/v2/team/app/blobs/uploads/")
        .with_status(202)
        .with_header("location", "/v2/team/app/blobs/uploads/c?_state=s0")
        .with_header("range", "0-0")
        .expect(1)
        .create();
    let mut patches = Vec::new();
    for (i, start) in [0usize, 131_072, 262_144].into_iter().enumerate() {
        let end = (start + 131_072).min(data.len());
        patches.push(
            server
                .mock("PATCH", "/v2/team/app/blobs/uploads/c")
                .match_query(Matcher::Exact(format!("_state=s{i}")))
                .match_header("content-range", format!("{start}-{}", end - 1).as_str())
                .match_header("content-length", (end - start).to_string().as_str())
                .match_body(data[start..end].to_vec())
                .with_status(202)
                .with_header(
                    "location",
                    &format!("/v2/team/app/blobs/uploads/c?_state=s{}", i + 1),
                )
                .with_header("range", &format!("0-{}", end - 1))
                .expect(1)
                .create(),
        );
    }
    let put = server
        .mock("PUT", "/v2/team/app/blobs/uploads/c")
        .match_query(Matcher::Regex(format!(
            "^_state=s3&digest=sha256%3A{}$",
            d.hex()
        )))
        .match_header("content-length", "0")
        .with_status(201)
        .with_header("docker-content-digest", &d.to_string())
        .expect(1)
        .create();
    let c = sendfile_client(&server.url());
    let opts = UploadOptions {
        chunked: true,
        chunk_size: 131_072,
        skip_existing: false,
    };
    let pushed = c
        .push_blob_with(
            "team/app",
            BlobSource::file_with_digest(&path, d.clone()),
            &opts,
        )
        .unwrap();
    assert_eq!(pushed.digest, d);
    post.assert();
    for p in &patches {
        p.assert();
    }
    put.assert();
    fs::remove_dir_all(dir).unwrap();
}

/// An image of file layers (one over 1 MiB, one small) and a config.
fn file_image(dir: &Path, seed: &str) -> Image {
    let big = dir.join("big.tar.gz");
    let small = dir.join("small.tar.gz");
    // Real gzip streams: skopeo looks inside a layer whose media type says gzip.
    fs::write(
        &big,
        ocireg::testing::gzip(&common::pseudo_random(
            &format!("{seed}-big"),
            3 * 1024 * 1024 + 17,
        )),
    )
    .unwrap();
    fs::write(
        &small,
        ocireg::testing::gzip(&common::pseudo_random(&format!("{seed}-small"), 40_000)),
    )
    .unwrap();
    ImageBuilder::new()
        .config(format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
        ))
        .layer_file(&big, media_types::OCI_LAYER_GZIP)
        .layer_file(&small, media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap()
}

/// Pushes a file image with `c`, verifies it, pulls it back and compares every blob.
fn round_trip(c: &Client, repo: &str) -> Image {
    let dir = tmpdir("round");
    let image = file_image(&dir, &dir.display().to_string());
    let pushed = c
        .push_image(repo, "v1", &image, &PushOptions::default())
        .unwrap();
    assert_eq!(&pushed.digest, image.digest());
    assert_eq!(pushed.stats.blobs_uploaded, 3);
    let report = c.verify(repo, &pushed);
    assert!(report.is_verified(), "{report}");
    let out = dir.join("pulled");
    c.pull_image(repo, "v1", &out, &PullOptions::default())
        .unwrap();
    let layout = OciLayout::open(&out).unwrap();
    for d in image.blob_descriptors() {
        let data = fs::read(layout.blob_path(&d.digest)).unwrap();
        assert_eq!(Digest::sha256_of(&data), d.digest);
    }
    fs::remove_dir_all(dir).unwrap();
    image
}

#[test]
fn memory_push_with_sendfile_reads_back_intact() {
    let reg = Registry::start().unwrap();
    round_trip(&sendfile_client(&reg.url()), "team/sendfile");
}

#[test]
fn rig_push_with_sendfile_reads_back_intact_and_skopeo_agrees() {
    let Some(host) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    let c = sendfile_client(&format!("http://{host}"));
    let repo = format!("ocireg-test/sendfile-{}", std::process::id());
    let image = round_trip(&c, &repo);
    let Some(skopeo) = skopeo() else {
        return;
    };
    let dir = tmpdir("skopeo");
    let copied = dir.join("copied");
    common::run(Command::new(skopeo).args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{host}/{repo}:v1"),
        &format!("oci:{}:v1", copied.display()),
    ]));
    let back = Image::from_layout(&copied, Some("v1")).unwrap();
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.layers(), image.layers());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn over_https_sendfile_changes_nothing() {
    let Some(tls) = rig("OCIREG_RIG_TLS") else {
        return;
    };
    let ca = fs::read(rig("OCIREG_RIG_CA").expect("OCIREG_RIG_CA")).unwrap();
    let c = Client::builder(&format!("https://{tls}"))
        .credentials(Credentials::Anonymous)
        .ca_cert_pem(ca)
        .sendfile(true)
        .build()
        .unwrap();
    round_trip(
        &c,
        &format!("ocireg-test/sendfile-tls-{}", std::process::id()),
    );
}
