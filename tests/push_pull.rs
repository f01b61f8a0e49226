//! Push, verify and pull round trips against the in-memory `ocireg::testing::Registry` and, when
//! `OCIREG_RIG_OPEN` (and `OCIREG_RIG_TOKEN`, `OCIREG_RIG_TOKEN_SHORT`) name a real
//! distribution registry (`tests/rig/rig.sh`), against it too.
//!
//! A real-registry test whose variable is missing prints a skip note and passes, unless
//! `OCIREG_REQUIRE_RIG=1`: then it fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ocireg::testing::{AuthMode, BearerPolicy, Registry};
use ocireg::{
    BlobSource, BlobStatus, CheckKind, CheckStatus, Client, Credentials, Descriptor, Digest, Error,
    Image, ImageBuilder, ImageIndex, ImageManifest, MountOutcome, OciLayout, Platform, PullOptions,
    PushOptions, VerifyOutcome, media_types,
};

mod common;
use common::pseudo_random as bytes;
use common::{run, skopeo};

// ---------------------------------------------------------------------------------------------
// Helpers.

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh, unique value per call (different content on every run against a persistent rig).
fn nonce() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{t}-{n}", std::process::id())
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocireg-push-pull-{tag}-{}", nonce()));
    fs::create_dir_all(&d).unwrap();
    d
}

/// A gzip layer of `len` pseudo-random bytes.
fn layer(seed: &str, len: usize) -> Vec<u8> {
    ocireg::testing::gzip(&bytes(seed, len))
}

fn config_json(seed: &str, arch: &str) -> Vec<u8> {
    format!(
        r#"{{"architecture":"{arch}","os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    )
    .into_bytes()
}

fn anon(url: &str) -> Client {
    Client::builder(url)
        .credentials(Credentials::Anonymous)
        .build()
        .unwrap()
}

fn with_creds(url: &str, user: &str, password: &str) -> Client {
    Client::builder(url)
        .credentials(Credentials::basic(user, password))
        .build()
        .unwrap()
}

/// `http://host:port` from a rig variable, or `None` with a skip note (or a failure when
/// `OCIREG_REQUIRE_RIG=1`).
fn rig(var: &str) -> Option<String> {
    common::rig(var).map(|v| {
        if v.starts_with("http") {
            v
        } else {
            format!("http://{v}")
        }
    })
}

/// An image built from two layer files and a config, with fresh content.
fn built_image(dir: &Path, seed: &str) -> Image {
    let l1 = dir.join("layer1.tar.gz");
    let l2 = dir.join("layer2.tar.gz");
    fs::write(&l1, layer(&format!("{seed}-1"), 300_000)).unwrap();
    fs::write(&l2, layer(&format!("{seed}-2"), 50_000)).unwrap();
    ImageBuilder::new()
        .config(config_json(seed, "amd64"))
        .layer_file(&l1, media_types::OCI_LAYER_GZIP)
        .layer_file(&l2, media_types::OCI_LAYER_GZIP)
        .annotation("org.opencontainers.image.title", "ocireg test")
        .build()
        .unwrap()
}

/// Writes blob bytes into a layout (as skopeo would), returning their descriptor.
fn put_blob(layout: &OciLayout, media_type: &str, data: &[u8]) -> Descriptor {
    let d = layout.write_blob(data).unwrap();
    Descriptor::new(media_type, d, data.len() as u64)
}

/// An OCI layout holding an index of one image per architecture (sharing a base layer), tagged
/// `tag`. Returns the index digest and the child digests by architecture.
fn multi_arch_layout(dir: &Path, tag: &str, seed: &str) -> (Digest, BTreeMap<String, Digest>) {
    let mut layout = OciLayout::create(dir).unwrap();
    let base = put_blob(
        &layout,
        media_types::OCI_LAYER_GZIP,
        &layer(&format!("{seed}-base"), 80_000),
    );
    let mut children = Vec::new();
    let mut by_arch = BTreeMap::new();
    for arch in ["amd64", "arm64"] {
        let config = put_blob(&layout, media_types::OCI_CONFIG, &config_json(seed, arch));
        let own = put_blob(
            &layout,
            media_types::OCI_LAYER_GZIP,
            &layer(&format!("{seed}-{arch}"), 20_000),
        );
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(media_types::OCI_MANIFEST.into()),
            artifact_type: None,
            config,
            layers: vec![base.clone(), own],
            subject: None,
            annotations: None,
        };
        let mb = serde_json::to_vec(&m).unwrap();
        let mut md = put_blob(&layout, media_types::OCI_MANIFEST, &mb);
        md.platform = Some(Platform {
            architecture: arch.into(),
            os: "linux".into(),
            ..Default::default()
        });
        by_arch.insert(arch.to_string(), md.digest.clone());
        children.push(md);
    }
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_types::OCI_INDEX.into()),
        artifact_type: None,
        manifests: children,
        subject: None,
        annotations: None,
        extra: Default::default(),
    };
    let ib = serde_json::to_vec(&index).unwrap();
    let id = put_blob(&layout, media_types::OCI_INDEX, &ib);
    let digest = id.digest.clone();
    layout.set_ref(id, Some(tag));
    layout.save().unwrap();
    (digest, by_arch)
}

fn assert_verified(report: &ocireg::VerifyReport) {
    assert_eq!(report.outcome, VerifyOutcome::Verified, "{report}");
    assert!(
        report.checks.iter().all(|c| c.status == CheckStatus::Ok),
        "{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// Scenarios, run against the in-memory registry and the real one.

/// Build → push → verify → pull → compare → re-push from the pulled layout → delete a blob →
/// verify fails.
fn built_image_round_trip(c: &Client, repo: &str) {
    let dir = tmpdir("built");
    let seed = nonce();
    let image = built_image(&dir, &seed);

    let before = c.request_count();
    let pushed = c
        .push_image(repo, "v1", &image, &PushOptions::default())
        .unwrap();
    assert_eq!(&pushed.digest, image.digest());
    assert_eq!(pushed.stats.blobs_uploaded, 3);
    assert_eq!(
        c.request_count() - before,
        2 + 2 * 3 + 1,
        "two manifest HEADs, POST (asking, as a mount from the repository itself) + PUT per \
         blob, one manifest PUT"
    );

    let report = c.verify(repo, &pushed);
    assert_verified(&report);
    // The manifest by tag (its bytes hash to the digest), the config and two layers.
    assert_eq!(report.checks.len(), 1 + 3, "{report}");
    assert!(
        report
            .checks
            .iter()
            .any(|k| k.kind == CheckKind::ManifestByTag("v1".into()))
    );

    // Pull it back: same manifest, same blobs, byte for byte.
    let out = dir.join("pulled");
    let pulled = c
        .pull_image(repo, "v1", &out, &PullOptions::default())
        .unwrap();
    assert_eq!(&pulled.digest, image.digest());
    assert_eq!(pulled.stats.blobs_downloaded, 3);
    let layout = OciLayout::open(&out).unwrap();
    for d in image.blob_descriptors() {
        let data = fs::read(layout.blob_path(&d.digest)).unwrap();
        assert_eq!(Digest::sha256_of(&data), d.digest);
        assert_eq!(data.len() as u64, d.size);
    }
    let back = Image::from_layout(&out, Some("v1")).unwrap();
    assert_eq!(back.digest(), image.digest());
    assert_eq!(back.manifest().bytes, image.manifest().bytes);
    assert_eq!(back.config(), image.config());
    assert_eq!(back.layers(), image.layers());
    assert_verified(&c.verify(repo, &pulled.to_pushed()));

    // Pulling again reuses every blob.
    let again = c
        .pull_image(repo, "v1", &out, &PullOptions::default())
        .unwrap();
    assert_eq!(again.stats.blobs_reused, 3);
    assert_eq!(again.stats.blobs_downloaded, 0);

    // Re-push of what is already there: the manifest HEADs, nothing else.
    let before = c.request_count();
    let re = c
        .push_image(repo, "v1", &back, &PushOptions::default())
        .unwrap();
    assert_eq!(re.stats.manifests_existing, 1);
    assert_eq!(re.stats.blobs_uploaded, 0);
    assert_eq!(c.request_count() - before, 2);

    // A new image on the same two layers (another config): each layer's POST finds it there
    // (201, as a mount from the repository itself), only the config is uploaded.
    let sibling = ImageBuilder::new()
        .config(config_json(&format!("{seed}-sibling"), "amd64"))
        .layer_file(dir.join("layer1.tar.gz"), media_types::OCI_LAYER_GZIP)
        .layer_file(dir.join("layer2.tar.gz"), media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let before = c.request_count();
    let pushed_sibling = c
        .push_image(repo, "sibling", &sibling, &PushOptions::default())
        .unwrap();
    assert_eq!(pushed_sibling.stats.blobs_existing, 2);
    assert_eq!(pushed_sibling.stats.blobs_uploaded, 1);
    assert_eq!(pushed_sibling.stats.blobs_mounted, 0);
    assert_eq!(
        c.request_count() - before,
        2 + 2 + 2 + 1,
        "manifest HEADs, one POST per layer, POST + PUT for the config, the manifest PUT"
    );
    assert_verified(&c.verify(repo, &pushed_sibling));

    // A blob over ASK_BY_MOUNT_MAX is HEADed alongside the asking POST: new, HEAD 404 and
    // POST 202 then the PUT; there, POST 201 (and HEAD 200), no upload.
    let large = bytes(
        &format!("{seed}-large"),
        ocireg::ASK_BY_MOUNT_MAX as usize + 1,
    );
    let before = c.request_count();
    let first = c.push_blob(repo, BlobSource::bytes(&large[..])).unwrap();
    assert_eq!(first.status, BlobStatus::Uploaded);
    assert_eq!(c.request_count() - before, 3, "HEAD and POST, then PUT");
    let before = c.request_count();
    let again = c.push_blob(repo, BlobSource::bytes(&large[..])).unwrap();
    assert_eq!(again.status, BlobStatus::Existed);
    assert_eq!(c.request_count() - before, 2, "HEAD and POST (201)");

    // A blob deleted after the push makes verify fail, naming that blob.
    let victim = image.layers()[1].digest.clone();
    c.delete_blob(repo, &victim.to_string()).unwrap();
    let report = c.verify(repo, &pushed);
    assert_eq!(report.outcome, VerifyOutcome::Failed, "{report}");
    let failed: Vec<_> = report.failures().collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0].digest, victim);
    assert_eq!(failed[0].kind, CheckKind::Layer);
    // And pulling it is an error that leaves nothing behind.
    let target = dir.join("victim.blob");
    assert!(matches!(
        c.pull_blob_to_path(repo, &victim.to_string(), &target),
        Err(Error::NotFound { .. })
    ));
    assert!(!target.exists());
    assert_eq!(
        fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .count(),
        0
    );
    fs::remove_dir_all(dir).unwrap();
}

/// A multi-arch layout: push (children first, by digest), verify, pull all, pull one platform,
/// re-push.
fn index_round_trip(c: &Client, repo: &str) {
    let dir = tmpdir("index");
    let seed = nonce();
    let src = dir.join("src");
    let (index_digest, by_arch) = multi_arch_layout(&src, "multi", &seed);
    let image = Image::from_layout(&src, Some("multi")).unwrap();
    assert!(image.is_index());
    assert_eq!(image.children().len(), 2);
    // 1 shared layer + 2 own layers + 2 configs.
    assert_eq!(image.blob_descriptors().len(), 5);

    let pushed = c
        .push_image(repo, "multi", &image, &PushOptions::default().threads(3))
        .unwrap();
    assert_eq!(pushed.digest, index_digest);
    assert_eq!(pushed.stats.blobs_uploaded, 5);
    assert_eq!(pushed.stats.manifests_put, 3);
    assert_eq!(pushed.children.len(), 2);
    let report = c.verify(repo, &pushed);
    assert_verified(&report);
    // The index by tag + 2 children by digest + 5 blobs.
    assert_eq!(report.checks.len(), 1 + 2 + 5, "{report}");

    // Pull everything: the same index, children and blobs.
    let all = dir.join("all");
    let pulled = c
        .pull_image(repo, "multi", &all, &PullOptions::default())
        .unwrap();
    assert_eq!(pulled.digest, index_digest);
    assert_eq!(pulled.children.len(), 2);
    let back = Image::from_layout(&all, Some("multi")).unwrap();
    assert_eq!(back.manifest().bytes, image.manifest().bytes);
    for (a, b) in back.children().iter().zip(image.children()) {
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.layers(), b.layers());
    }

    // One platform: the child is what index.json points at.
    let one = dir.join("arm64");
    let opts = PullOptions::default().platform("linux/arm64".parse().unwrap());
    let p = c.pull_image(repo, "multi", &one, &opts).unwrap();
    assert_eq!(&p.digest, &by_arch["arm64"]);
    assert_eq!(
        p.from_index.as_ref().map(|d| &d.digest),
        Some(&index_digest)
    );
    let l = OciLayout::open(&one).unwrap();
    assert_eq!(l.find(Some("multi")).unwrap().digest, by_arch["arm64"]);
    assert_eq!(
        l.find(Some("multi"))
            .unwrap()
            .platform
            .as_ref()
            .map(|p| p.architecture.as_str()),
        Some("arm64")
    );
    assert!(!l.blob_path(&by_arch["amd64"]).exists());
    assert_verified(&c.verify(repo, &p.to_pushed()));
    let missing = PullOptions::default().platform("linux/s390x".parse().unwrap());
    let e = c
        .pull_image(repo, "multi", dir.join("none"), &missing)
        .unwrap_err();
    assert!(e.to_string().contains("linux/amd64"), "{e}");

    // Re-push under the same tag: the two manifest HEADs find it, nothing else is sent.
    let before = c.request_count();
    let re = c
        .push_image(repo, "multi", &back, &PushOptions::default())
        .unwrap();
    assert_eq!(re.stats.manifests_existing, 1);
    assert_eq!(re.stats.manifests_put, 0);
    assert_eq!(c.request_count() - before, 2);
    // Under another tag: the index PUT only.
    let before = c.request_count();
    let re = c
        .push_image(repo, "multi-again", &back, &PushOptions::default())
        .unwrap();
    assert_eq!(re.stats.manifests_put, 1);
    assert_eq!(c.request_count() - before, 2 + 1);
    fs::remove_dir_all(dir).unwrap();
}

/// Docker schema 2, chunked uploads, mounts.
fn other_paths(c: &Client, repo: &str, other_repo: &str) {
    let dir = tmpdir("other");
    let seed = nonce();
    // Docker schema 2.
    let docker = ImageBuilder::new()
        .config(config_json(&seed, "amd64"))
        .layer_bytes(
            bytes(&format!("{seed}-d"), 10_000),
            media_types::OCI_LAYER_GZIP,
        )
        .docker_schema2()
        .build()
        .unwrap();
    let pushed = c
        .push_image(repo, "docker", &docker, &PushOptions::default())
        .unwrap();
    assert_eq!(pushed.media_type, media_types::DOCKER_MANIFEST);
    assert_verified(&c.verify(repo, &pushed));
    let pulled = c
        .pull_image(repo, "docker", dir.join("docker"), &PullOptions::default())
        .unwrap();
    assert_eq!(pulled.digest, pushed.digest);

    // Chunked: 3 MiB in 1 MiB chunks, offsets from the registry's Range.
    let big = dir.join("big.bin");
    fs::write(&big, bytes(&format!("{seed}-big"), 3 << 20)).unwrap();
    let image = ImageBuilder::new()
        .config(config_json(&seed, "arm64"))
        .layer_file(&big, media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    let before = c.request_count();
    let pushed = c
        .push_image(
            repo,
            "chunked",
            &image,
            &PushOptions::default().chunked(1 << 20),
        )
        .unwrap();
    // Manifest HEADs; layer (over 1 MiB): HEAD, POST, 3 PATCH, PUT; config (small): POST
    // (asking), 1 PATCH, PUT; manifest PUT.
    assert_eq!(c.request_count() - before, 2 + 6 + 3 + 1);
    assert_verified(&c.verify(repo, &pushed));
    let mut out = Vec::new();
    let n = c
        .pull_blob(repo, &image.layers()[0].digest.to_string(), &mut out)
        .unwrap();
    assert_eq!(n, 3 << 20);
    assert_eq!(Digest::sha256_of(&out), image.layers()[0].digest);

    // Mount into another repository: 201 when the source has it.
    let layer = image.layers()[0].digest.to_string();
    let out = c.mount_blob(other_repo, repo, &layer, None).unwrap();
    assert_eq!(out, MountOutcome::Mounted);
    assert_eq!(c.blob_exists(other_repo, &layer).unwrap(), Some(3 << 20));
    // 202 when it does not: the fallback is uploaded into that session.
    let fresh = bytes(&format!("{seed}-fresh"), 4_000);
    let fd = Digest::sha256_of(&fresh);
    let out = c
        .mount_blob(
            other_repo,
            repo,
            &fd.to_string(),
            Some(BlobSource::bytes(&fresh[..])),
        )
        .unwrap();
    assert!(matches!(out, MountOutcome::Uploaded(ref b) if b.status == BlobStatus::Uploaded));
    assert_eq!(
        c.blob_exists(other_repo, &fd.to_string()).unwrap(),
        Some(4_000)
    );
    // A whole image mounted from the first repository: the manifest HEADs, HEAD + mount per
    // blob, one manifest.
    let before = c.request_count();
    let mounted = c
        .push_image(
            other_repo,
            "mounted",
            &image,
            &PushOptions::default().mount_from(repo.parse().unwrap()),
        )
        .unwrap();
    assert_eq!(
        mounted.stats.blobs_mounted + mounted.stats.blobs_existing,
        2
    );
    assert_eq!(
        c.request_count() - before,
        2 + 2 * 2 + 1 - mounted.stats.blobs_existing as u64
    );
    assert_verified(&c.verify(other_repo, &mounted));

    // A reader without a digest (hashed while streaming).
    let r = bytes(&format!("{seed}-reader"), 70_000);
    let pb = c
        .push_blob(repo, BlobSource::reader(&r[..], 70_000, None))
        .unwrap();
    assert_eq!(pb.digest, Digest::sha256_of(&r));
    // Pushing it again is a HEAD.
    let again = c.push_blob(repo, BlobSource::bytes(&r[..])).unwrap();
    assert_eq!(again.status, BlobStatus::Existed);
    fs::remove_dir_all(dir).unwrap();
}

/// A layout written by shell tools (`tests/rig/make-oci-layout.sh`: tar, gzip, printf): push,
/// verify, pull back, same bytes.
fn shell_layout_round_trip(c: &Client, repo: &str) {
    let dir = tmpdir("shell");
    let src = dir.join("src");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rig/make-oci-layout.sh");
    let want: Digest = run(Command::new("bash")
        .arg(&script)
        .arg(&src)
        .arg("v1")
        .arg(nonce()))
    .trim()
    .parse()
    .unwrap();
    let image = Image::from_layout(&src, None).unwrap();
    assert_eq!(image.digest(), &want);
    assert_eq!(image.ref_name(), Some("v1"));
    let pushed = c
        .push_image(repo, "v1", &image, &PushOptions::default())
        .unwrap();
    assert_eq!(pushed.digest, want);
    assert_verified(&c.verify(repo, &pushed));
    let out = dir.join("out");
    let pulled = c
        .pull_image(repo, "v1", &out, &PullOptions::default())
        .unwrap();
    assert_eq!(pulled.digest, want);
    let back = Image::from_layout(&out, Some("v1")).unwrap();
    assert_eq!(back.manifest().bytes, image.manifest().bytes);
    for d in image.blob_descriptors() {
        let a = fs::read(OciLayout::open(&src).unwrap().blob_path(&d.digest)).unwrap();
        let b = fs::read(OciLayout::open(&out).unwrap().blob_path(&d.digest)).unwrap();
        assert_eq!(a, b);
    }
    fs::remove_dir_all(dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// In-memory registry.

#[test]
fn memory_shell_layout_round_trip() {
    let reg = Registry::start().unwrap();
    shell_layout_round_trip(&anon(&reg.url()), "team/shell");
}

#[test]
fn memory_built_image_round_trip() {
    let reg = Registry::start().unwrap();
    built_image_round_trip(&anon(&reg.url()), "team/built");
}

#[test]
fn memory_index_round_trip() {
    let reg = Registry::start().unwrap();
    index_round_trip(&anon(&reg.url()), "team/multi");
}

#[test]
fn memory_other_paths() {
    let reg = Registry::start().unwrap();
    other_paths(&anon(&reg.url()), "team/app", "team/other");
}

#[test]
fn memory_registry_answers_bursts_of_parallel_connections() {
    // Each round: 21 new blobs on 8 threads, then a re-push (HEADs only) on 8 threads.
    let reg = Registry::start().unwrap();
    for round in 0..5 {
        let mut b = ImageBuilder::new().config(config_json(&format!("burst-{round}"), "amd64"));
        for i in 0..20 {
            b = b.layer_bytes(
                layer(&format!("burst-{round}-{i}"), 1024),
                media_types::OCI_LAYER_GZIP,
            );
        }
        let image = b.build().unwrap();
        let c = Client::builder(&reg.url())
            .credentials(ocireg::Credentials::Anonymous)
            // A stranded connection shows as a stalled answer: fail instead of waiting it out.
            .response_timeout(Duration::from_secs(5))
            .retry_policy(ocireg::RetryPolicy::none())
            .build()
            .unwrap();
        let opts = PushOptions::default().threads(8);
        let pushed = c.push_image("burst/app", "v1", &image, &opts).unwrap();
        assert_eq!(pushed.stats.blobs_uploaded, 21);
        let again = c.push_image("burst/app", "v1", &image, &opts).unwrap();
        assert_eq!(again.stats.manifests_existing, 1);
        assert_eq!(again.stats.requests, 2);
    }
}

#[test]
fn memory_bearer_parallel_push_shares_one_auth_step() {
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
            "alice", "secret",
        )])))
        .start()
        .unwrap();
    let mut b = ImageBuilder::new().config(config_json("bearer", "amd64"));
    for i in 0..20 {
        b = b.layer_bytes(
            bytes(&format!("bearer-{i}"), 100 * 1024),
            media_types::OCI_LAYER_GZIP,
        );
    }
    let image = b.build().unwrap();
    let c = with_creds(&reg.url(), "alice", "secret");
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default().threads(8))
        .unwrap();
    let reqs = reg.requests();
    let unauthorized = reqs.iter().filter(|r| r.status == 401).count();
    // The two manifest probes go out at once, before the scheme is known; every later
    // request waits for what they learned.
    assert!(unauthorized <= 2, "{unauthorized} 401s: {reqs:#?}");
    let tokens = reqs.iter().filter(|r| r.path.contains("token")).count();
    assert_eq!(tokens, 1, "one token serves the whole push: {reqs:#?}");
    assert_eq!(pushed.stats.blobs_uploaded, 21);

    // Verify from a fresh client (fresh auth), long after the push's token.
    let fresh = with_creds(&reg.url(), "alice", "secret");
    assert_verified(&fresh.verify("team/app", &pushed));
    // Refused credentials: inconclusive, never verified.
    let wrong = with_creds(&reg.url(), "alice", "wrong");
    let report = wrong.verify("team/app", &pushed);
    assert_eq!(report.outcome, VerifyOutcome::Inconclusive, "{report}");
    // And a mount under Bearer (needs pull on the source too).
    let layer = image.layers()[0].digest.to_string();
    assert_eq!(
        c.mount_blob("team/copy", "team/app", &layer, None).unwrap(),
        MountOutcome::Mounted
    );
}

#[test]
fn memory_verify_of_an_unreachable_registry_is_inconclusive() {
    let reg = Registry::start().unwrap();
    let c = Client::builder(&reg.url())
        .credentials(Credentials::Anonymous)
        .retry_policy(ocireg::RetryPolicy::none())
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let dir = tmpdir("gone");
    let image = built_image(&dir, "gone");
    let pushed = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap();
    assert_verified(&c.verify("team/app", &pushed));
    reg.stop();
    let report = c.verify("team/app", &pushed);
    assert_eq!(report.outcome, VerifyOutcome::Inconclusive, "{report}");
    assert!(
        report
            .checks
            .iter()
            .all(|k| matches!(k.status, CheckStatus::Inconclusive(_)))
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_a_push_that_fails_leaves_no_tag() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let dir = tmpdir("fail");
    let path = dir.join("layer");
    fs::write(&path, bytes("fail", 100_000)).unwrap();
    let image = ImageBuilder::new()
        .config(config_json("fail", "amd64"))
        .layer_file(&path, media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    // The file changes after the image was described: the registry refuses the digest.
    fs::write(&path, bytes("other", 100_000)).unwrap();
    let e = c
        .push_image("team/app", "v1", &image, &PushOptions::default())
        .unwrap_err();
    assert_eq!(e.http_status(), Some(400), "{e}");
    assert!(matches!(
        c.manifest("team/app", "v1"),
        Err(Error::NotFound { .. })
    ));
    fs::remove_dir_all(dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Real distribution registry (tests/rig/rig.sh).

#[test]
fn rig_built_image_round_trip() {
    let Some(url) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    built_image_round_trip(
        &anon(&url),
        &format!("ocireg-test/built-{}", std::process::id()),
    );
}

#[test]
fn rig_shell_layout_round_trip() {
    let Some(url) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    shell_layout_round_trip(
        &anon(&url),
        &format!("ocireg-test/shell-{}", std::process::id()),
    );
}

#[test]
fn rig_index_round_trip() {
    let Some(url) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    index_round_trip(
        &anon(&url),
        &format!("ocireg-test/multi-{}", std::process::id()),
    );
}

#[test]
fn rig_other_paths() {
    let Some(url) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    let id = std::process::id();
    other_paths(
        &anon(&url),
        &format!("ocireg-test/app-{id}"),
        &format!("ocireg-test/other-{id}"),
    );
}

#[test]
fn rig_bearer_push_mount_and_verify() {
    let Some(url) = rig("OCIREG_RIG_TOKEN") else {
        return;
    };
    let user = std::env::var("OCIREG_RIG_USER").unwrap_or_else(|_| "alice".into());
    let password = std::env::var("OCIREG_RIG_PASSWORD").unwrap_or_else(|_| "secret".into());
    let c = with_creds(&url, &user, &password);
    let id = std::process::id();
    let dir = tmpdir("rig-bearer");
    let image = built_image(&dir, &nonce());
    let repo = format!("ocireg-test/bearer-{id}");
    let pushed = c
        .push_image(&repo, "v1", &image, &PushOptions::default())
        .unwrap();
    // Two manifest HEADs sent at once by a fresh client: one or two 401s (the second only if
    // sent before the first's answer), one token request for the whole push.
    // Then POST (asking) + PUT per blob and the manifest PUT.
    let auth = pushed.stats.requests - (2 + 2 * 3 + 1);
    assert!((2..=3).contains(&auth), "{auth} auth requests");
    assert_verified(&c.verify(&repo, &pushed));

    // Twenty small layers on eight threads, from a fresh client: still one token.
    let seed = nonce();
    let mut b = ImageBuilder::new().config(config_json(&seed, "amd64"));
    for i in 0..20 {
        b = b.layer_bytes(
            layer(&format!("{seed}-{i}"), 100 * 1024),
            media_types::OCI_LAYER_GZIP,
        );
    }
    let small = b.build().unwrap();
    let fresh = with_creds(&url, &user, &password);
    let pushed = fresh
        .push_image(&repo, "small", &small, &PushOptions::default().threads(8))
        .unwrap();
    let auth = pushed.stats.requests - (2 + 2 * 21 + 1);
    assert!((2..=3).contains(&auth), "{auth} auth requests");
    assert_verified(&fresh.verify(&repo, &pushed));
    // A mount needs pull on the source as well: two scopes in one token request.
    let other = format!("ocireg-test/bearer-copy-{id}");
    let layer = image.layers()[0].digest.to_string();
    assert_eq!(
        c.mount_blob(&other, &repo, &layer, None).unwrap(),
        MountOutcome::Mounted
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rig_verify_long_after_the_push_renews_the_token() {
    let Some(url) = rig("OCIREG_RIG_TOKEN_SHORT") else {
        return;
    };
    let ttl: u64 = std::env::var("OCIREG_RIG_TOKEN_SHORT_TTL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let user = std::env::var("OCIREG_RIG_USER").unwrap_or_else(|_| "alice".into());
    let password = std::env::var("OCIREG_RIG_PASSWORD").unwrap_or_else(|_| "secret".into());
    let c = with_creds(&url, &user, &password);
    let dir = tmpdir("rig-short");
    let image = built_image(&dir, &nonce());
    let repo = format!("ocireg-test/short-{}", std::process::id());
    let pushed = c
        .push_image(&repo, "v1", &image, &PushOptions::default())
        .unwrap();
    std::thread::sleep(Duration::from_secs(ttl + 1));
    assert_verified(&c.verify(&repo, &pushed));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rig_skopeo_interop() {
    let Some(url) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    let Some(skopeo) = skopeo() else { return };
    let host = url.trim_start_matches("http://");
    let id = std::process::id();
    let c = anon(&url);
    let dir = tmpdir("skopeo");

    // Pushed by ocireg, copied back by skopeo: identical digests.
    let image = built_image(&dir, &nonce());
    let repo = format!("ocireg-test/skopeo-{id}");
    let pushed = c
        .push_image(&repo, "v1", &image, &PushOptions::default())
        .unwrap();
    let copied = dir.join("copied");
    run(Command::new(skopeo).args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{host}/{repo}:v1"),
        &format!("oci:{}:v1", copied.display()),
    ]));
    let back = Image::from_layout(&copied, Some("v1")).unwrap();
    assert_eq!(back.digest(), &pushed.digest);
    assert_eq!(back.config(), image.config());
    assert_eq!(back.layers(), image.layers());

    // The multi-arch index too.
    let src = dir.join("multi");
    let (index_digest, _) = multi_arch_layout(&src, "multi", &nonce());
    let multi = Image::from_layout(&src, Some("multi")).unwrap();
    let mrepo = format!("ocireg-test/skopeo-multi-{id}");
    c.push_image(&mrepo, "multi", &multi, &PushOptions::default())
        .unwrap();
    let mcopied = dir.join("mcopied");
    run(Command::new(skopeo).args([
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{host}/{mrepo}:multi"),
        &format!("oci:{}:multi", mcopied.display()),
    ]));
    assert_eq!(
        Image::from_layout(&mcopied, Some("multi"))
            .unwrap()
            .digest(),
        &index_digest
    );

    // Pushed by skopeo, pulled and verified by ocireg.
    let made = dir.join("made");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rig/make-oci-layout.sh");
    let want: Digest = run(Command::new("bash")
        .arg(&script)
        .arg(&made)
        .arg("v1")
        .arg(nonce()))
    .trim()
    .parse()
    .unwrap();
    let srepo = format!("ocireg-test/by-skopeo-{id}");
    run(Command::new(skopeo).args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", made.display()),
        &format!("docker://{host}/{srepo}:v1"),
    ]));
    let out = dir.join("pulled");
    let pulled = c
        .pull_image(&srepo, "v1", &out, &PullOptions::default())
        .unwrap();
    assert_eq!(pulled.digest, want);
    assert_verified(&c.verify(&srepo, &pulled.to_pushed()));
    let ours = Image::from_layout(&out, Some("v1")).unwrap();
    let theirs = Image::from_layout(&made, Some("v1")).unwrap();
    assert_eq!(ours.manifest().bytes, theirs.manifest().bytes);
    fs::remove_dir_all(dir).unwrap();
}
