//! The registry operations of issue 12 — copy (within a registry by mount, between registries
//! by streaming), retag, delete by tag, the digest for a platform, tags with digests, image
//! size, layers pulled into a directory — against the in-memory `ocireg::testing::Registry`
//! (every exchange checked from the registry's request log) and, when `OCIREG_RIG_OPEN` and
//! `OCIREG_RIG_TOKEN` name the rig's docker-registry 2.8 (`tests/rig/rig.sh`), against it too,
//! cross-checked with skopeo.
//!
//! A rig test whose variable is missing prints a skip note and passes, unless
//! `OCIREG_REQUIRE_RIG=1`: then it fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ocireg::testing::{AuthMode, BearerPolicy, RecordedRequest, Registry};
use ocireg::{
    BlobSource, Client, CopyOptions, Credentials, DeleteTagOptions, Descriptor, Digest, Error,
    ImageIndex, ImageManifest, Platform, ProgressEvent, PullOptions, Pushed, VerifyOutcome,
    layer_file_name, media_types,
};

mod common;
use common::pseudo_random as bytes;
use common::{rig, skopeo};

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
    layers: Vec<Descriptor>,
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
        layers: m.layers,
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

fn assert_verified(report: &ocireg::VerifyReport) {
    assert_eq!(report.outcome, VerifyOutcome::Verified, "{report}");
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

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The scopes a token request asked for (repeated `scope=`, each possibly space-separated).
fn token_scopes(r: &RecordedRequest) -> Vec<String> {
    r.query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .flat_map(|v| {
            percent_decode(v)
                .split(' ')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Copy.

#[test]
fn copy_within_a_registry_mounts_every_blob() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let seed = nonce();
    let src = push_image(
        &c,
        "team/app",
        Some("v1"),
        &seed,
        "amd64",
        &[bytes("l1", 3000), bytes("l2", 2000)],
    );
    reg.clear_requests();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let options = CopyOptions::default().progress(move |p| {
        seen.lock().unwrap().push(p.event);
        true
    });
    let copied = c
        .copy("team/app", "v1", "team/copy", "stable", &options)
        .unwrap();
    assert_eq!(copied.digest, src.digest);
    assert_eq!(copied.tag.as_deref(), Some("stable"));
    assert_eq!(copied.stats.blobs_mounted, 3, "{:?}", copied.stats);
    assert_eq!(copied.stats.blobs_uploaded, 0);
    assert_eq!(copied.stats.bytes_uploaded, 0);
    assert_eq!(copied.stats.manifests_put, 1);
    let reqs = reg.requests();
    // GET manifest; per blob HEAD (404) + POST ?mount=&from= (201); PUT manifest.
    assert_eq!(reqs.len(), 1 + 3 * 2 + 1, "{:#?}", lines(&reqs));
    assert_eq!(copied.stats.requests, reqs.len() as u64);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/v2/team/app/manifests/v1");
    let mounts: Vec<&RecordedRequest> = reqs.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(mounts.len(), 3);
    for m in &mounts {
        assert_eq!(m.path, "/v2/team/copy/blobs/uploads/");
        assert!(m.query.contains("mount=sha256"), "{}", m.query);
        assert!(m.query.contains("from=team%2Fapp"), "{}", m.query);
        assert_eq!(m.status, 201);
    }
    assert_eq!(count(&reqs, "HEAD", "/v2/team/copy/blobs/"), 3);
    assert_eq!(count(&reqs, "GET", "/blobs/"), 0, "no blob byte moved");
    assert_eq!(count(&reqs, "PATCH", "/"), 0);
    let last = reqs.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("PUT", "/v2/team/copy/manifests/stable"),
        "the manifest goes last"
    );
    assert_verified(&c.verify("team/copy", &copied));
    assert_eq!(
        c.manifest_digest("team/copy", "stable").unwrap(),
        src.digest
    );
    let events = events.lock().unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == ProgressEvent::Mounted)
            .count(),
        3
    );
}

#[test]
fn copy_within_a_bearer_registry_fetches_one_token_with_both_scopes() {
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
            "alice", "pw",
        )])))
        .start()
        .unwrap();
    let setup = with_creds(&reg.url(), "alice", "pw");
    let src = push_image(
        &setup,
        "team/base",
        Some("v1"),
        &nonce(),
        "amd64",
        &[bytes("b1", 5000), bytes("b2", 500)],
    );
    reg.clear_requests();
    // A fresh client: no token cached yet.
    let c = with_creds(&reg.url(), "alice", "pw");
    let copied = c
        .copy(
            "team/base",
            "v1",
            "team/derived",
            "v1",
            &CopyOptions::default(),
        )
        .unwrap();
    assert_eq!(copied.digest, src.digest);
    assert_eq!(copied.stats.blobs_mounted, 3);
    let reqs = reg.requests();
    let tokens: Vec<&RecordedRequest> = reqs.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(
        tokens.len(),
        1,
        "one token for the whole copy: {:#?}",
        lines(&reqs)
    );
    let mut scopes = token_scopes(tokens[0]);
    scopes.sort();
    assert_eq!(
        scopes,
        [
            "repository:team/base:pull",
            "repository:team/derived:pull,push"
        ],
        "{}",
        tokens[0].query
    );
    // One 401 (discovery), the token, then every request authorized; all mounts 201.
    assert_eq!(reqs.iter().filter(|r| r.status == 401).count(), 1);
    assert!(
        reqs.iter()
            .filter(|r| r.method == "POST")
            .all(|r| r.status == 201 && r.authorized)
    );
    assert_verified(&c.verify("team/derived", &copied));
}

#[test]
fn copy_between_registries_streams_every_blob() {
    let a = Registry::start().unwrap();
    let b = Registry::start().unwrap();
    let (ca, cb) = (anon(&a.url()), anon(&b.url()));
    let seed = nonce();
    let layers = [bytes(&format!("{seed}-1"), 300_000), bytes("x", 20_000)];
    let src = push_image(&ca, "src/app", Some("v1"), &seed, "amd64", &layers);
    a.clear_requests();
    let copied = ca
        .copy_to(
            "src/app",
            "v1",
            &cb,
            "dst/app",
            "v2",
            &CopyOptions::default(),
        )
        .unwrap();
    assert_eq!(copied.digest, src.digest, "same bytes, same digest");
    assert_eq!(copied.repository, "dst/app");
    assert_eq!(copied.tag.as_deref(), Some("v2"));
    assert_eq!(copied.config.as_ref(), Some(&src.config));
    assert_eq!(copied.layers, src.layers);
    assert_eq!(copied.stats.blobs_uploaded, 3);
    assert_eq!(copied.stats.blobs_mounted, 0);
    let blob_bytes: u64 = src.config.size + src.layers.iter().map(|l| l.size).sum::<u64>();
    assert_eq!(copied.stats.bytes_uploaded, blob_bytes);

    // The source: the manifest GET and one GET per blob, nothing else.
    let ra = a.requests();
    assert_eq!(ra.len(), 1 + 3, "{:#?}", lines(&ra));
    assert_eq!(count(&ra, "GET", "/v2/src/app/blobs/sha256:"), 3);
    // The destination: POST (asking whether the small blob is there: 202), one PUT with the
    // whole blob per blob; the manifest last. No HEAD, no PATCH: each download is the body of
    // one monolithic PUT.
    let rb = b.requests();
    assert_eq!(rb.len(), 2 * 3 + 1, "{:#?}", lines(&rb));
    assert_eq!(count(&rb, "HEAD", "/v2/dst/app/blobs/"), 0);
    assert_eq!(count(&rb, "POST", "/v2/dst/app/blobs/uploads/"), 3);
    assert_eq!(count(&rb, "PUT", "/v2/dst/app/blobs/uploads/"), 3);
    assert_eq!(count(&rb, "PATCH", "/"), 0);
    assert_eq!(rb.last().unwrap().path, "/v2/dst/app/manifests/v2");
    assert_eq!(copied.stats.requests, (ra.len() + rb.len()) as u64);

    assert_verified(&cb.verify("dst/app", &copied));
    let m = cb.manifest("dst/app", "v2").unwrap();
    assert_eq!(m.bytes, src.manifest, "manifest copied byte for byte");
    let mut got = Vec::new();
    cb.pull_blob("dst/app", &src.layers[0].digest.to_string(), &mut got)
        .unwrap();
    assert_eq!(got, layers[0]);
}

#[test]
fn copy_skips_blobs_the_destination_has() {
    let a = Registry::start().unwrap();
    let b = Registry::start().unwrap();
    let (ca, cb) = (anon(&a.url()), anon(&b.url()));
    let src = push_image(
        &ca,
        "src/app",
        Some("v1"),
        &nonce(),
        "amd64",
        &[bytes("e1", 4000), bytes("e2", 4000)],
    );
    ca.copy_to(
        "src/app",
        "v1",
        &cb,
        "dst/app",
        "v1",
        &CopyOptions::default(),
    )
    .unwrap();
    a.clear_requests();
    b.clear_requests();
    let again = ca
        .copy_to(
            "src/app",
            "v1",
            &cb,
            "dst/app",
            "v1",
            &CopyOptions::default(),
        )
        .unwrap();
    assert_eq!(again.digest, src.digest);
    assert_eq!(again.stats.blobs_existing, 3);
    assert_eq!(again.stats.blobs_uploaded, 0);
    let (ra, rb) = (a.requests(), b.requests());
    assert_eq!(lines(&ra), ["GET /v2/src/app/manifests/v1 200"]);
    assert_eq!(rb.len(), 3 + 1, "{:#?}", lines(&rb));
    assert_eq!(count(&rb, "POST", "/v2/dst/app/blobs/uploads/"), 3);
    assert!(rb[..3].iter().all(|r| r.status == 201), "{:#?}", lines(&rb));
    assert_eq!(count(&rb, "PUT", "/manifests/v1"), 1);
}

#[test]
fn copy_of_an_index_brings_every_child_and_keeps_digests() {
    let a = Registry::start().unwrap();
    let b = Registry::start().unwrap();
    let (ca, cb) = (anon(&a.url()), anon(&b.url()));
    let (index, by_arch) = push_index(&ca, "src/multi", "v1", &nonce());
    b.clear_requests();
    let copied = ca
        .copy_to(
            "src/multi",
            "v1",
            &cb,
            "dst/multi",
            "v1",
            &CopyOptions::default(),
        )
        .unwrap();
    assert_eq!(copied.digest, index);
    assert_eq!(copied.media_type, media_types::OCI_INDEX);
    assert_eq!(copied.children.len(), 2);
    // Shared base layer copied once: 2 configs + 2 own layers + 1 base.
    assert_eq!(copied.stats.blobs_uploaded, 5);
    assert_eq!(copied.stats.manifests_put, 3);
    for (arch, d) in &by_arch {
        assert_eq!(
            &cb.manifest_digest("dst/multi", &d.to_string()).unwrap(),
            d,
            "{arch}"
        );
    }
    // Children before the index, the index last.
    let rb = b.requests();
    let puts: Vec<&str> = rb
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(puts.len(), 3);
    assert_eq!(puts[2], "/v2/dst/multi/manifests/v1");
    assert_verified(&cb.verify("dst/multi", &copied));
}

#[test]
fn copy_of_one_platform_from_an_index() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let (_, by_arch) = push_index(&c, "src/multi", "v1", &nonce());
    let options = CopyOptions::default().platform("linux/arm64".parse().unwrap());
    let copied = c
        .copy("src/multi", "v1", "dst/arm", "v1", &options)
        .unwrap();
    assert_eq!(copied.digest, by_arch["arm64"]);
    assert_eq!(copied.media_type, media_types::OCI_MANIFEST);
    assert_eq!(
        copied.platform.as_ref().map(|p| p.to_string()).as_deref(),
        Some("linux/arm64/v8")
    );
    assert_eq!(
        c.manifest_digest("dst/arm", "v1").unwrap(),
        by_arch["arm64"]
    );
    assert_verified(&c.verify("dst/arm", &copied));
    let err = c
        .copy(
            "src/multi",
            "v1",
            "dst/none",
            "v1",
            &CopyOptions::default().platform("linux/s390x".parse().unwrap()),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn copy_resumes_a_cut_download_inside_the_stream() {
    let a = Registry::start().unwrap();
    let b = Registry::start().unwrap();
    let (ca, cb) = (anon(&a.url()), anon(&b.url()));
    let layer = bytes("cut", 1 << 20);
    let src = push_image(&ca, "src/cut", Some("v1"), "cut", "amd64", &[layer]);
    a.clear_requests();
    // The first blob download (the largest: the layer) breaks off halfway.
    a.drop_next(1);
    let copied = ca
        .copy_to(
            "src/cut",
            "v1",
            &cb,
            "dst/cut",
            "v1",
            &CopyOptions::default().threads(1),
        )
        .unwrap();
    assert_eq!(copied.digest, src.digest);
    let ra = a.requests();
    // Config, layer, and the layer's resumed rest (Range): the upload never noticed.
    assert_eq!(count(&ra, "GET", "/blobs/"), 3, "{:#?}", lines(&ra));
    assert_eq!(count(&b.requests(), "PUT", "/blobs/uploads/"), 2);
    assert_verified(&cb.verify("dst/cut", &copied));
}

/// A 64 MiB blob between two registries: each blob crosses as one streamed PUT body fed by its
/// download (the pipe's bound is pinned by the unit tests in src/copy.rs).
#[test]
fn copy_of_a_large_blob_between_registries_is_streamed() {
    let a = Registry::start().unwrap();
    let b = Registry::start().unwrap();
    let (ca, cb) = (anon(&a.url()), anon(&b.url()));
    let big = bytes("big", 64 << 20);
    let src = push_image(&ca, "src/big", Some("v1"), "big", "amd64", &[big]);
    a.clear_requests();
    let copied = ca
        .copy_to(
            "src/big",
            "v1",
            &cb,
            "dst/big",
            "v1",
            &CopyOptions::default(),
        )
        .unwrap();
    assert_eq!(copied.digest, src.digest);
    assert_eq!(copied.stats.bytes_uploaded, (64 << 20) + src.config.size);
    let rb = b.requests();
    assert_eq!(count(&rb, "PATCH", "/"), 0);
    assert_eq!(count(&rb, "PUT", "/blobs/uploads/"), 2);
    assert_eq!(count(&a.requests(), "GET", "/blobs/"), 2);
    assert_eq!(
        cb.blob_exists("dst/big", &src.layers[0].digest.to_string())
            .unwrap(),
        Some(64 << 20)
    );
    assert_verified(&cb.verify("dst/big", &copied));
}

#[test]
fn copy_into_a_digest_must_be_that_digest() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let src = push_image(&c, "a/b", Some("v1"), &nonce(), "amd64", &[bytes("d", 10)]);
    let copied = c
        .copy(
            "a/b",
            "v1",
            "a/c",
            &src.digest.to_string(),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(copied.tag, None);
    assert_verified(&c.verify("a/c", &copied));
    let other = Digest::sha256_of(b"other");
    let err = c
        .copy("a/b", "v1", "a/d", &other.to_string(), &Default::default())
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Retag.

#[test]
fn retag_in_the_same_repository_is_a_get_and_a_put() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let src = push_image(
        &c,
        "team/app",
        Some("v1.2.3"),
        &nonce(),
        "amd64",
        &[bytes("r", 100)],
    );
    reg.clear_requests();
    let tagged = c.retag("team/app", "v1.2.3", "team/app", "stable").unwrap();
    assert_eq!(tagged.digest, src.digest);
    assert_eq!(tagged.tag.as_deref(), Some("stable"));
    assert_eq!(
        lines(&reg.requests()),
        [
            "GET /v2/team/app/manifests/v1.2.3 200",
            "PUT /v2/team/app/manifests/stable 201",
        ]
    );
    let mut tags = c.tags("team/app").unwrap();
    tags.sort();
    assert_eq!(tags, ["stable", "v1.2.3"]);
    assert_eq!(tagged.layers, src.layers);
    assert_verified(&c.verify("team/app", &tagged));
}

#[test]
fn retag_of_an_index_and_across_repositories() {
    let reg = Registry::start().unwrap();
    let c = anon(&reg.url());
    let (index, _) = push_index(&c, "team/multi", "v1", &nonce());
    let tagged = c.retag("team/multi", "v1", "team/multi", "latest").unwrap();
    assert_eq!(tagged.digest, index);
    assert_eq!(tagged.children.len(), 2);
    assert_verified(&c.verify("team/multi", &tagged));

    reg.clear_requests();
    let moved = c.retag("team/multi", "v1", "other/multi", "v1").unwrap();
    assert_eq!(moved.digest, index);
    let reqs = reg.requests();
    assert!(count(&reqs, "POST", "/v2/other/multi/blobs/uploads/") > 0);
    assert!(
        reqs.iter()
            .filter(|r| r.method == "POST")
            .all(|r| r.query.contains("mount=") && r.status == 201),
        "across repositories: a copy by mounts"
    );
    assert_verified(&c.verify("other/multi", &moved));
    assert!(
        c.retag("team/multi", "v1", "team/multi", "bad tag")
            .is_err()
    );
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
// Against the rig (docker-registry 2.8), cross-checked with skopeo.

fn rig_user() -> (String, String) {
    (
        std::env::var("OCIREG_RIG_USER").unwrap_or_else(|_| "alice".into()),
        std::env::var("OCIREG_RIG_PASSWORD").unwrap_or_else(|_| "secret".into()),
    )
}

/// The digest skopeo reports for `docker://host/repo:tag`.
fn skopeo_digest(skopeo: &str, host: &str, image: &str, creds: Option<&str>) -> String {
    let mut cmd = Command::new(skopeo);
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.arg(format!("--creds={c}"));
    }
    // --raw gives the manifest bytes exactly: their sha256 is the digest (works for indexes).
    let out = cmd
        .arg(format!("docker://{host}/{image}"))
        .output()
        .expect("spawn skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Digest::sha256_of(&out.stdout).to_string()
}

/// skopeo's own view of the digest (`inspect` without --raw, for an image manifest).
fn skopeo_inspect_digest(skopeo: &str, host: &str, image: &str, creds: Option<&str>) -> String {
    let mut cmd = Command::new(skopeo);
    cmd.args(["inspect", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.arg(format!("--creds={c}"));
    }
    let out = cmd
        .arg(format!("docker://{host}/{image}"))
        .output()
        .expect("spawn skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

#[test]
fn rig_copy_from_the_open_to_the_bearer_registry() {
    let (Some(open), Some(token)) = (rig("OCIREG_RIG_OPEN"), rig("OCIREG_RIG_TOKEN")) else {
        return;
    };
    let (user, password) = rig_user();
    let src = anon(&format!("http://{open}"));
    let dst = with_creds(&format!("http://{token}"), &user, &password);
    let seed = nonce();
    let repo = format!("ops/src-{seed}");
    let img = push_image(
        &src,
        &repo,
        Some("v1"),
        &seed,
        "amd64",
        &[
            bytes(&format!("{seed}-a"), 2 << 20),
            bytes(&format!("{seed}-b"), 1000),
        ],
    );
    let to_repo = format!("ops/dst-{seed}");
    let copied: Pushed = src
        .copy_to(&repo, "v1", &dst, &to_repo, "v1", &CopyOptions::default())
        .unwrap();
    assert_eq!(copied.digest, img.digest);
    assert_eq!(copied.stats.blobs_uploaded, 3);
    assert_verified(&dst.verify(&to_repo, &copied));
    assert_eq!(dst.manifest_digest(&to_repo, "v1").unwrap(), img.digest);

    // An index, too.
    let (index, _) = push_index(&src, &repo, "multi", &seed);
    let copied_index = src
        .copy_to(
            &repo,
            "multi",
            &dst,
            &to_repo,
            "multi",
            &CopyOptions::default(),
        )
        .unwrap();
    assert_eq!(copied_index.digest, index);
    assert_verified(&dst.verify(&to_repo, &copied_index));

    // Within the Bearer registry: mounts, one token for both repositories.
    let third = format!("ops/third-{seed}");
    let fresh = with_creds(&format!("http://{token}"), &user, &password);
    let mounted = fresh
        .copy(&to_repo, "v1", &third, "v1", &CopyOptions::default())
        .unwrap();
    assert_eq!(mounted.stats.blobs_mounted, 3, "{:?}", mounted.stats);
    // 401 + token, GET manifest, HEAD + POST per blob, PUT manifest.
    assert_eq!(mounted.stats.requests, 2 + 1 + 3 * 2 + 1);
    assert_verified(&fresh.verify(&third, &mounted));

    let Some(skopeo) = skopeo() else { return };
    let creds = format!("{user}:{password}");
    for (host, image, creds) in [
        (open.as_str(), format!("{repo}:v1"), None),
        (
            token.as_str(),
            format!("{to_repo}:v1"),
            Some(creds.as_str()),
        ),
        (token.as_str(), format!("{third}:v1"), Some(creds.as_str())),
    ] {
        assert_eq!(
            skopeo_inspect_digest(skopeo, host, &image, creds),
            img.digest.to_string(),
            "{host}/{image}"
        );
    }
    assert_eq!(
        skopeo_digest(skopeo, &token, &format!("{to_repo}:multi"), Some(&creds)),
        index.to_string()
    );
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
