//! The core client against a real registry: Debian's `docker-registry` (CNCF distribution 2.8),
//! started by `tests/rig/rig.sh` on 127.0.0.1 as open, Basic (htpasswd), Bearer (token server),
//! TLS and mutual-TLS registries. The rig exports `OCIREG_RIG_*` variables; without them these
//! tests print a skip note, unless `OCIREG_REQUIRE_RIG=1` (as in CI), where they fail.

use std::collections::BTreeSet;

use ocireg::{Client, Credentials, Error};

mod common;
use common::{rig, token_requests};

const EMPTY_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn user() -> Credentials {
    Credentials::basic(
        std::env::var("OCIREG_RIG_USER").unwrap_or_else(|_| "alice".into()),
        std::env::var("OCIREG_RIG_PASSWORD").unwrap_or_else(|_| "secret".into()),
    )
}

fn http_client(hostport: &str, creds: Credentials) -> Client {
    Client::builder(&format!("http://{hostport}"))
        .credentials(creds)
        .build()
        .expect("client")
}

/// An index manifest that references nothing: creating a repository costs one PUT. The
/// annotation makes each one distinct.
fn index_for(name: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{EMPTY_INDEX}","manifests":[],"annotations":{{"test":"{name}"}}}}"#
    )
    .into_bytes()
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// An image manifest with one 2-byte config blob and no layers.
fn image_for(name: &str, config_digest: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":2}},"layers":[],"annotations":{{"test":"{name}"}}}}"#
    )
    .into_bytes()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{}", std::process::id(), nanos % 1_000_000_000)
}

/// The flow every configuration must pass: ping, seed repositories and tags, tags, catalog
/// and search over more than 1,000 repositories, manifest by tag, digest and tag@digest,
/// HEAD digest, not-found errors, delete.
fn core_flow(c: &Client, label: &str) {
    c.ping().unwrap_or_else(|e| panic!("{label}: ping: {e}"));
    let base = unique(&format!("core-{label}/"));
    const N: usize = 1050;
    // A repository shows in distribution's catalog once it holds a blob: mount one tiny config
    // blob into each, then tag an image manifest that references it.
    let source = format!("{base}source");
    let config = c
        .push_blob(&source, ocireg::BlobSource::bytes(&b"{}"[..]))
        .unwrap_or_else(|e| panic!("{label}: push config: {e}"));
    std::thread::scope(|s| {
        for shard in 0..6 {
            let c = c.clone();
            let (base, source, digest) = (base.clone(), source.clone(), config.digest.to_string());
            s.spawn(move || {
                for i in (shard..N).step_by(6) {
                    let repo = format!("{base}r{i:04}");
                    let mounted = c
                        .mount_blob(&repo, &source, &digest, None)
                        .unwrap_or_else(|e| panic!("{label}: mount into {repo}: {e}"));
                    assert_eq!(mounted, ocireg::MountOutcome::Mounted, "{label}: {repo}");
                    c.put_manifest(&repo, "v1", OCI_MANIFEST, &image_for(&repo, &digest))
                        .unwrap_or_else(|e| panic!("{label}: seed {repo}: {e}"));
                }
            });
        }
    });
    let catalog = c
        .catalog()
        .unwrap_or_else(|e| panic!("{label}: catalog: {e}"));
    let ours: BTreeSet<_> = catalog
        .iter()
        .filter(|r| r.starts_with(&base) && **r != source)
        .collect();
    assert_eq!(
        ours.len(),
        N,
        "{label}: every seeded repository is in the catalog"
    );
    let found = c.search(&format!("{base}r010")).unwrap();
    let want: Vec<String> = (100..110)
        .map(|i| format!("{base}r{i:04}"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    assert_eq!(
        found_sorted, want,
        "{label}: search is a substring match over all pages"
    );
    assert!(
        c.search("no-such-substring-anywhere-ocireg")
            .unwrap()
            .is_empty()
    );

    let repo = format!("{base}r0000");
    let mut digests = Vec::new();
    for tag in ["t3", "t1", "t2"] {
        let body = index_for(&format!("{repo}:{tag}"));
        digests.push((
            tag,
            c.put_manifest(&repo, tag, EMPTY_INDEX, &body).unwrap(),
            body,
        ));
    }
    let mut tags = c.tags(&repo).unwrap();
    tags.sort();
    assert_eq!(
        tags,
        vec!["t1", "t2", "t3", "v1"],
        "{label}: tags (distribution returns them unsorted)"
    );
    for (tag, digest, body) in &digests {
        let by_tag = c.manifest(&repo, tag).unwrap();
        assert_eq!(&by_tag.digest, digest);
        assert_eq!(&by_tag.bytes, body, "bytes come back exactly");
        assert_eq!(by_tag.media_type, EMPTY_INDEX);
        let by_digest = c.manifest(&repo, &digest.to_string()).unwrap();
        assert_eq!(&by_digest.bytes, body);
        let both = c.manifest(&repo, &format!("{tag}@{digest}")).unwrap();
        assert_eq!(&both.digest, digest);
        assert_eq!(&c.manifest_digest(&repo, tag).unwrap(), digest);
    }
    let other = &digests[0].1;
    let e = c.manifest(&repo, &format!("t1@{other}")).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{label}: {e:?}");

    let e = c.tags(&format!("{base}does-not-exist")).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{label}: {e:?}");
    assert_eq!(e.registry_code(), Some("NAME_UNKNOWN"));
    let e = c.manifest(&repo, "nope").unwrap_err();
    assert_eq!(e.registry_code(), Some("MANIFEST_UNKNOWN"), "{label}: {e}");

    // Delete by digest removes the tag.
    let (tag, digest, _) = &digests[1];
    c.delete_manifest(&repo, &digest.to_string()).unwrap();
    assert!(!c.tags(&repo).unwrap().contains(&tag.to_string()));
    assert!(matches!(
        c.manifest(&repo, tag),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn open_registry_core_flow() {
    let Some(open) = rig("OCIREG_RIG_OPEN") else {
        return;
    };
    core_flow(&http_client(&open, Credentials::Anonymous), "open");
}

#[test]
fn basic_registry_core_flow_and_wrong_password() {
    let Some(basic) = rig("OCIREG_RIG_BASIC") else {
        return;
    };
    let c = http_client(&basic, user());
    core_flow(&c, "basic");

    let wrong = http_client(&basic, Credentials::basic("alice", "not-the-password"));
    let e = wrong.ping().unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
    assert!(e.to_string().contains("authentication rejected"), "{e}");
    assert!(!format!("{e} {e:?}").contains("not-the-password"));

    let anon = http_client(&basic, Credentials::Anonymous);
    let e = anon.tags("anything").unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");

    // After the first 401, credentials go with every request: one request per call.
    let before = c.request_count();
    c.ping().unwrap();
    assert_eq!(c.request_count() - before, 1);
}

#[test]
fn bearer_registry_core_flow_scopes_and_request_counts() {
    let Some(token) = rig("OCIREG_RIG_TOKEN") else {
        return;
    };
    let server = rig("OCIREG_RIG_TOKEN_SERVER").expect("token server");
    let c = http_client(&token, user());
    core_flow(&c, "bearer");

    // Cold: 401, token, retry = 3 requests; warm: 1.
    let fresh = http_client(&token, user());
    let repo = unique("count/");
    c.put_manifest(&repo, "v1", EMPTY_INDEX, &index_for(&repo))
        .unwrap();
    let tokens_before = token_requests(&server);
    fresh.tags(&repo).unwrap();
    assert_eq!(fresh.request_count(), 3, "cold tags: 401, token, retry");
    fresh.tags(&repo).unwrap();
    fresh.manifest(&repo, "v1").unwrap();
    assert_eq!(
        fresh.request_count(),
        5,
        "warm: one request each, same pull scope"
    );
    assert_eq!(
        token_requests(&server) - tokens_before,
        1,
        "one token for one scope"
    );

    // Wrong password: the token service refuses.
    let e = http_client(&token, Credentials::basic("alice", "wrong"))
        .ping()
        .unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");

    // Anonymous: pull on public/ only.
    let public = unique("public/p");
    c.put_manifest(&public, "v1", EMPTY_INDEX, &index_for(&public))
        .unwrap();
    let anon = http_client(&token, Credentials::Anonymous);
    assert_eq!(anon.tags(&public).unwrap(), vec!["v1"]);
    let e = anon
        .put_manifest(&public, "v2", EMPTY_INDEX, &index_for("x"))
        .unwrap_err();
    assert!(
        matches!(e, Error::Authorization { .. }),
        "anonymous push is refused: {e:?}"
    );
    let e = anon.tags(&repo).unwrap_err();
    assert!(
        matches!(e, Error::Authorization { .. }),
        "anonymous pull outside public/: {e:?}"
    );
    let e = anon.catalog().unwrap_err();
    assert!(
        matches!(e, Error::Authorization { .. }),
        "anonymous catalog: {e:?}"
    );
}

#[test]
fn tls_registry_needs_its_ca() {
    let Some(tls) = rig("OCIREG_RIG_TLS") else {
        return;
    };
    let ca = std::fs::read(rig("OCIREG_RIG_CA").expect("ca")).unwrap();
    let trusted = Client::builder(&format!("https://{tls}"))
        .credentials(Credentials::Anonymous)
        .ca_cert_pem(ca)
        .build()
        .unwrap();
    core_flow(&trusted, "tls");

    let untrusted = Client::builder(&tls)
        .credentials(Credentials::Anonymous)
        .build()
        .unwrap();
    let e = untrusted.ping().unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("not trusted"), "{e}");

    // insecure(true) skips verification (and, without a scheme, means plain http: so give https).
    let insecure = Client::builder(&format!("https://{tls}"))
        .credentials(Credentials::Anonymous)
        .insecure(true)
        .build()
        .unwrap();
    insecure.ping().unwrap();
}

#[test]
fn mtls_registry_needs_a_client_certificate() {
    let Some(mtls) = rig("OCIREG_RIG_MTLS") else {
        return;
    };
    let ca = std::fs::read(rig("OCIREG_RIG_CA").expect("ca")).unwrap();
    let cert = std::fs::read(rig("OCIREG_RIG_CLIENT_CERT").expect("cert")).unwrap();
    let key = std::fs::read(rig("OCIREG_RIG_CLIENT_KEY").expect("key")).unwrap();
    let with_cert = Client::builder(&format!("https://{mtls}"))
        .credentials(Credentials::Anonymous)
        .ca_cert_pem(ca.clone())
        .client_cert_pem(cert, key)
        .build()
        .unwrap();
    with_cert.ping().unwrap();
    let repo = unique("mtls/");
    with_cert
        .put_manifest(&repo, "v1", EMPTY_INDEX, &index_for(&repo))
        .unwrap();
    assert_eq!(with_cert.tags(&repo).unwrap(), vec!["v1"]);

    let without = Client::builder(&format!("https://{mtls}"))
        .credentials(Credentials::Anonymous)
        .ca_cert_pem(ca)
        .retry_policy(ocireg::RetryPolicy::none())
        .build()
        .unwrap();
    let e = without.ping().unwrap_err();
    // TLS 1.3 reports a missing client certificate after the handshake: an alert or a reset.
    assert!(
        matches!(e, Error::Tls { .. } | Error::Network { .. }),
        "{e:?}"
    );
}

/// A registry whose CA the machine trusts works without `ca_cert_pem` / `--ca-cert`: the client
/// reads the system's store (here `SSL_CERT_FILE`, in a child process: the store is read once
/// per process).
#[test]
fn a_ca_the_system_trusts_needs_no_ca_cert() {
    let Some(tls) = rig("OCIREG_RIG_TLS") else {
        return;
    };
    let ca = rig("OCIREG_RIG_CA").expect("ca");
    let run = |cert_file: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ocireg"));
        cmd.args(["ping", &format!("https://{tls}")])
            .env_remove("SSL_CERT_DIR")
            .env_remove("DOCKER_CONFIG");
        match cert_file {
            Some(f) => cmd.env("SSL_CERT_FILE", f),
            None => cmd.env_remove("SSL_CERT_FILE"),
        };
        cmd.output().expect("run ocireg")
    };
    let trusted = run(Some(&ca));
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    let untrusted = run(None);
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("not trusted"));
}
