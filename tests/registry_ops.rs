//! The registry operations of issue 12 — delete by tag, the digest for a platform, tags with
//! digests, image size, layers pulled into a directory — against the in-memory `ocireg::testing::Registry`
//! (every exchange checked from the registry's request log) and, when `OCIREG_RIG_OPEN` and
//! `OCIREG_RIG_TOKEN` name the rig's docker-registry 2.8 (`tests/rig/rig.sh`), against it too,
//! cross-checked with skopeo.
//!
//! A rig test whose variable is missing prints a skip note and passes, unless
//! `OCIREG_REQUIRE_RIG=1`: then it fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ocireg::testing::{RecordedRequest, Registry};
use ocireg::{
    BlobSource, Client, Credentials, DeleteTagOptions, Descriptor, Digest, Error, ImageIndex,
    ImageManifest, Platform, PullOptions, layer_file_name, media_types,
};

// ---------------------------------------------------------------------------------------------
// Helpers.

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh value per call (different content on every run against a persistent rig).
fn nonce() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{}-{n}", std::process::id(), t % 10_000_000_000)
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocireg-ops-{tag}-{}", nonce()));
    fs::create_dir_all(&d).unwrap();
    d
}

/// Deterministic pseudo-random bytes seeded by `seed`.
fn bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        x = (x ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn config_json(seed: &str, arch: &str, variant: Option<&str>) -> Vec<u8> {
    let variant = variant
        .map(|v| format!(r#""variant":"{v}","#))
        .unwrap_or_default();
    format!(
        r#"{{"architecture":"{arch}",{variant}"os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
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

/// What one pushed image is made of.
struct Pushed1 {
    digest: Digest,
    manifest: Vec<u8>,
    config: Descriptor,
}

/// Pushes an OCI image (config for `arch`, the given layers) and tags it (or not: `tag` None).
fn push_image(
    c: &Client,
    repo: &str,
    tag: Option<&str>,
    seed: &str,
    arch: &str,
    layers: &[Vec<u8>],
) -> Pushed1 {
    let config_bytes = config_json(seed, arch, None);
    let config = c
        .push_blob(repo, BlobSource::bytes(&config_bytes[..]))
        .unwrap();
    let mut descs = Vec::new();
    for l in layers {
        let p = c.push_blob(repo, BlobSource::bytes(&l[..])).unwrap();
        descs.push(Descriptor::new(
            media_types::OCI_LAYER_GZIP,
            p.digest,
            p.size,
        ));
    }
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(media_types::OCI_CONFIG, config.digest, config.size),
        layers: descs,
        subject: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&m).unwrap();
    let digest = Digest::sha256_of(&bytes);
    let reference = tag.map_or_else(|| digest.to_string(), str::to_string);
    assert_eq!(
        c.put_manifest(repo, &reference, media_types::OCI_MANIFEST, &bytes)
            .unwrap(),
        digest
    );
    Pushed1 {
        digest,
        manifest: bytes,
        config: m.config,
    }
}

/// Tags an image pushed by [`push_image`] once more (a plain manifest PUT).
fn tag_again(c: &Client, repo: &str, img: &Pushed1, tag: &str) {
    let d = c
        .put_manifest(repo, tag, media_types::OCI_MANIFEST, &img.manifest)
        .unwrap();
    assert_eq!(d, img.digest);
}

/// Pushes an OCI index of a linux/amd64 and a linux/arm64/v8 image sharing a base layer, tagged
/// `tag`. Returns the index digest and the child digests by architecture.
fn push_index(c: &Client, repo: &str, tag: &str, seed: &str) -> (Digest, BTreeMap<String, Digest>) {
    let base = bytes(&format!("{seed}-base"), 40_000);
    let mut children = Vec::new();
    let mut by_arch = BTreeMap::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let own = bytes(&format!("{seed}-{arch}"), 10_000);
        let img = push_image(c, repo, None, seed, arch, &[base.clone(), own]);
        let mut d = Descriptor::new(
            media_types::OCI_MANIFEST,
            img.digest.clone(),
            img.manifest.len() as u64,
        );
        d.platform = Some(Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(str::to_string),
            ..Default::default()
        });
        by_arch.insert(arch.to_string(), img.digest);
        children.push(d);
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
    let d = c
        .put_manifest(repo, tag, media_types::OCI_INDEX, &ib)
        .unwrap();
    (d, by_arch)
}

/// `METHOD /path` of every recorded request (queries left out), in order.
fn lines(reqs: &[RecordedRequest]) -> Vec<String> {
    reqs.iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn count(reqs: &[RecordedRequest], method: &str, path_part: &str) -> usize {
    reqs.iter()
        .filter(|r| r.method == method && r.path.contains(path_part))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Delete by tag.

#[test]
fn delete_tag_on_a_registry_that_deletes_tags_removes_only_the_tag() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let src = push_image(
        &c,
        "team/app",
        Some("v1"),
        &nonce(),
        "amd64",
        &[bytes("t", 100)],
    );
    tag_again(&c, "team/app", &src, "latest");
    reg.clear_requests();
    let gone = c.delete_tag("team/app", "v1").unwrap();
    assert_eq!(gone.digest, src.digest);
    assert!(
        !gone.manifest_deleted,
        "the in-memory registry deletes tags"
    );
    assert_eq!(gone.other_tags, None);
    assert_eq!(gone.removed_tags(), ["v1"]);
    assert_eq!(
        lines(&reg.requests()),
        [
            "HEAD /v2/team/app/manifests/v1 200".to_string(),
            "DELETE /v2/team/app/manifests/v1 202".to_string(),
            format!("HEAD /v2/team/app/manifests/{} 200", src.digest),
        ]
    );
    assert_eq!(c.tags("team/app").unwrap(), ["latest"]);
    assert_eq!(c.manifest_digest("team/app", "latest").unwrap(), src.digest);
    let err = c.delete_tag("team/app", "v1").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn delete_tag_by_digest_takes_every_tag_and_lists_them() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let src = push_image(
        &c,
        "team/app",
        Some("v1"),
        &nonce(),
        "amd64",
        &[bytes("u", 100)],
    );
    tag_again(&c, "team/app", &src, "latest");
    tag_again(&c, "team/app", &src, "stable");
    let keep = push_image(
        &c,
        "team/app",
        Some("other"),
        &nonce(),
        "amd64",
        &[bytes("k", 9)],
    );
    let options = DeleteTagOptions {
        tag_first: false,
        list_other_tags: true,
        ..Default::default()
    };
    reg.clear_requests();
    let gone = c.delete_tag_with("team/app", "v1", &options).unwrap();
    assert!(gone.manifest_deleted);
    assert_eq!(gone.digest, src.digest);
    let mut others = gone.other_tags.clone().unwrap();
    others.sort();
    assert_eq!(others, ["latest", "stable"]);
    let mut removed = gone.removed_tags();
    removed.sort();
    assert_eq!(removed, ["latest", "stable", "v1"]);
    let reqs = reg.requests();
    assert_eq!(count(&reqs, "DELETE", "/manifests/v1"), 0, "never by tag");
    assert_eq!(
        count(&reqs, "DELETE", &format!("/manifests/{}", src.digest)),
        1
    );
    assert_eq!(c.tags("team/app").unwrap(), ["other"]);
    assert_eq!(c.manifest_digest("team/app", "other").unwrap(), keep.digest);
}

// ---------------------------------------------------------------------------------------------
// Platform digest, tags with digests, image size.

#[test]
fn platform_descriptor_of_an_index_and_of_a_plain_manifest() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let (index, by_arch) = push_index(&c, "team/multi", "v1", &nonce());
    let arm: Platform = "linux/arm64".parse().unwrap();
    let d = c.platform_descriptor("team/multi", "v1", &arm).unwrap();
    assert_eq!(d.digest, by_arch["arm64"]);
    assert_eq!(d.media_type, media_types::OCI_MANIFEST);
    assert_eq!(d.platform.unwrap().variant.as_deref(), Some("v8"));
    let by_digest = c
        .platform_descriptor(
            "team/multi",
            &index.to_string(),
            &"linux/amd64".parse().unwrap(),
        )
        .unwrap();
    assert_eq!(by_digest.digest, by_arch["amd64"]);
    // A variant the index does not have, a platform it does not have.
    let v7 = c.platform_descriptor("team/multi", "v1", &"linux/arm64/v7".parse().unwrap());
    assert!(matches!(v7, Err(Error::NotFound { .. })));
    let err = c
        .platform_descriptor("team/multi", "v1", &"linux/s390x".parse().unwrap())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NotFound { .. }), "{msg}");
    assert!(
        msg.contains("linux/s390x") && msg.contains("linux/amd64, linux/arm64/v8"),
        "{msg}"
    );

    // A plain manifest answers itself when its config matches (one GET more: the config).
    let img = push_image(
        &c,
        "team/one",
        Some("v1"),
        &nonce(),
        "amd64",
        &[bytes("p", 10)],
    );
    reg.clear_requests();
    let d = c
        .platform_descriptor("team/one", "v1", &"linux/amd64".parse().unwrap())
        .unwrap();
    assert_eq!(d.digest, img.digest);
    assert_eq!(d.size, img.manifest.len() as u64);
    assert_eq!(d.platform.unwrap().to_string(), "linux/amd64");
    assert_eq!(
        lines(&reg.requests()),
        [
            "GET /v2/team/one/manifests/v1 200".to_string(),
            format!("GET /v2/team/one/blobs/{} 200", img.config.digest),
        ]
    );
    let err = c
        .platform_descriptor("team/one", "v1", &"linux/arm64".parse().unwrap())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NotFound { .. }), "{msg}");
    assert!(
        msg.contains("linux/arm64") && msg.contains("it has: linux/amd64"),
        "{msg}"
    );
}

#[test]
fn tags_with_digests_heads_every_tag() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let one = push_image(
        &c,
        "team/app",
        Some("v1"),
        &nonce(),
        "amd64",
        &[bytes("a", 10)],
    );
    let two = push_image(
        &c,
        "team/app",
        Some("v2"),
        &nonce(),
        "amd64",
        &[bytes("b", 10)],
    );
    tag_again(&c, "team/app", &one, "latest");
    reg.clear_requests();
    let mut got = c.tags_with_digests("team/app").unwrap();
    got.sort();
    assert_eq!(
        got,
        [
            ("latest".to_string(), one.digest.clone()),
            ("v1".to_string(), one.digest),
            ("v2".to_string(), two.digest),
        ]
    );
    let reqs = reg.requests();
    assert_eq!(count(&reqs, "GET", "/tags/list"), 1);
    assert_eq!(count(&reqs, "HEAD", "/manifests/"), 3);
    assert_eq!(reqs.len(), 4);
    assert!(matches!(
        c.tags_with_digests("team/none"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn image_size_is_config_plus_layers() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let img = push_image(
        &c,
        "team/app",
        Some("v1"),
        &nonce(),
        "amd64",
        &[bytes("s1", 1000), bytes("s2", 234)],
    );
    let m = c.manifest("team/app", "v1").unwrap();
    assert_eq!(m.image_size().unwrap(), img.config.size + 1234);
    assert_eq!(m.image().unwrap().layers_size(), 1234);
    let (_, _) = push_index(&c, "team/multi", "v1", &nonce());
    let index = c.manifest("team/multi", "v1").unwrap();
    assert!(matches!(index.image_size(), Err(Error::InvalidInput(_))));
}

// ---------------------------------------------------------------------------------------------
// Layers into a directory.

#[test]
fn pull_layers_writes_each_layer_named_by_digest() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let layers = [bytes("pl1", 50_000), bytes("pl2", 7)];
    let img = push_image(&c, "team/app", Some("v1"), &nonce(), "amd64", &layers);
    let dir = tmpdir("layers").join("sub");
    let pulled = c
        .pull_layers("team/app", "v1", &dir, &PullOptions::default())
        .unwrap();
    assert_eq!(pulled.digest, img.digest);
    assert_eq!(pulled.config, img.config);
    assert_eq!(pulled.layers.len(), 2);
    for (l, data) in pulled.layers.iter().zip(&layers) {
        assert!(l.downloaded);
        assert_eq!(
            l.path,
            dir.join(format!("sha256-{}", l.descriptor.digest.hex()))
        );
        assert_eq!(l.path, dir.join(layer_file_name(&l.descriptor.digest)));
        assert_eq!(&fs::read(&l.path).unwrap(), data);
    }
    // Only the two layer files: no config, no manifest, no temporary file left.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    assert_eq!(pulled.stats.blobs_downloaded, 2);

    // Again: the files are there with the right digest, nothing is downloaded.
    reg.clear_requests();
    let again = c
        .pull_layers("team/app", "v1", &dir, &PullOptions::default())
        .unwrap();
    assert!(again.layers.iter().all(|l| !l.downloaded));
    assert_eq!(again.stats.blobs_reused, 2);
    assert_eq!(count(&reg.requests(), "GET", "/blobs/"), 0);

    // A damaged file is downloaded again.
    fs::write(&pulled.layers[0].path, b"damaged").unwrap();
    let fixed = c
        .pull_layers("team/app", "v1", &dir, &PullOptions::default())
        .unwrap();
    assert!(fixed.layers[0].downloaded && !fixed.layers[1].downloaded);
    assert_eq!(fs::read(&pulled.layers[0].path).unwrap(), layers[0]);

    // From an index: the platform asked for.
    let (_, by_arch) = push_index(&c, "team/multi", "v1", &nonce());
    let arm_dir = tmpdir("layers-arm");
    let arm = c
        .pull_layers(
            "team/multi",
            "v1",
            &arm_dir,
            &PullOptions::default().platform("linux/arm64".parse().unwrap()),
        )
        .unwrap();
    assert_eq!(arm.digest, by_arch["arm64"]);
    assert_eq!(arm.platform.unwrap().architecture, "arm64");
    assert!(arm.from_index.is_some());
    assert_eq!(fs::read_dir(&arm_dir).unwrap().count(), 2);
    fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    fs::remove_dir_all(arm_dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Against the rig (docker-registry 2.8).

fn rig(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            if std::env::var("OCIREG_REQUIRE_RIG").as_deref() == Ok("1") {
                panic!("{var} is not set but OCIREG_REQUIRE_RIG=1: start tests/rig/rig.sh");
            }
            eprintln!("SKIP: {var} is not set (tests/rig/rig.sh start DIR; source DIR/env)");
            None
        }
    }
}

fn rig_user() -> (String, String) {
    (
        std::env::var("OCIREG_RIG_USER").unwrap_or_else(|_| "alice".into()),
        std::env::var("OCIREG_RIG_PASSWORD").unwrap_or_else(|_| "secret".into()),
    )
}

#[test]
fn rig_delete_tag_falls_back_to_the_digest() {
    let Some(open) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    let c = anon(&format!("http://{open}"));
    let seed = nonce();
    let repo = format!("ops/delete-{seed}");
    let img = push_image(&c, &repo, Some("v1"), &seed, "amd64", &[bytes(&seed, 100)]);
    tag_again(&c, &repo, &img, "latest");
    let keep = push_image(
        &c,
        &repo,
        Some("keep"),
        &nonce(),
        "amd64",
        &[bytes("k", 10)],
    );
    let before = c.request_count();
    let options = DeleteTagOptions {
        list_other_tags: true,
        ..Default::default()
    };
    let gone = c.delete_tag_with(&repo, "v1", &options).unwrap();
    // Distribution 2.8 answers DELETE by tag with 400 DIGEST_INVALID: by digest, all tags go.
    assert!(gone.manifest_deleted);
    assert_eq!(gone.digest, img.digest);
    assert_eq!(
        gone.other_tags.as_deref(),
        Some(&["latest".to_string()][..])
    );
    // HEAD; tags list + 3 HEADs; DELETE by tag (400); DELETE by digest (202).
    assert_eq!(c.request_count() - before, 1 + 1 + 3 + 2);
    assert_eq!(c.tags(&repo).unwrap(), ["keep"]);
    assert!(matches!(
        c.manifest(&repo, &img.digest.to_string()),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(c.manifest_digest(&repo, "keep").unwrap(), keep.digest);

    // Under Bearer: one token for HEAD and DELETEs (pull + delete).
    let Some(token) = rig("OCIREG_RIG_TOKEN") else {
        return;
    };
    let (user, password) = rig_user();
    let setup = with_creds(&format!("http://{token}"), &user, &password);
    push_image(
        &setup,
        &repo,
        Some("v1"),
        &seed,
        "amd64",
        &[bytes(&seed, 100)],
    );
    let fresh = with_creds(&format!("http://{token}"), &user, &password);
    let gone = fresh.delete_tag(&repo, "v1").unwrap();
    assert!(gone.manifest_deleted);
    // 401, token, HEAD, DELETE by tag (400), DELETE by digest (202).
    assert_eq!(fresh.request_count(), 5);
}

#[test]
fn rig_platform_tags_and_layers() {
    let Some(open) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    let c = anon(&format!("http://{open}"));
    let seed = nonce();
    let repo = format!("ops/plat-{seed}");
    let (index, by_arch) = push_index(&c, &repo, "v1", &seed);
    let d = c
        .platform_descriptor(&repo, "v1", &"linux/arm64".parse().unwrap())
        .unwrap();
    assert_eq!(d.digest, by_arch["arm64"]);
    let mut tags = c.tags_with_digests(&repo).unwrap();
    tags.sort();
    assert_eq!(tags, [("v1".to_string(), index)]);
    let dir = tmpdir("rig-layers");
    let pulled = c
        .pull_layers(
            &repo,
            "v1",
            &dir,
            &PullOptions::default().platform("linux/amd64".parse().unwrap()),
        )
        .unwrap();
    assert_eq!(pulled.digest, by_arch["amd64"]);
    for l in &pulled.layers {
        assert_eq!(
            Digest::sha256_of(&fs::read(&l.path).unwrap()),
            l.descriptor.digest
        );
    }
    fs::remove_dir_all(dir).unwrap();
}
