//! The client against a hostile or flaky registry: each defect of the hostile-registry campaign
//! (issue 9) pinned by a test that failed before it was fixed. The registry plays one attack at
//! a time ([`Hostile`]); its second listener, on another port of the same host, is the "other
//! origin" that must never see a credential.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ocireg::testing::{AuthMode, BearerPolicy, Hostile, RangeMode, Registry};
use ocireg::{Client, Credentials, Error, LowSpeedLimit, RetryPolicy};

const USER: &str = "alice";
const PASSWORD: &str = "pw-hostile-secret";

fn basic_registry() -> Registry {
    Registry::builder()
        .auth(AuthMode::Basic {
            users: vec![(USER.into(), PASSWORD.into())],
        })
        .start()
        .unwrap()
}

fn bearer_registry() -> Registry {
    Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
            USER, PASSWORD,
        )])))
        .start()
        .unwrap()
}

fn client(reg: &Registry) -> Client {
    client_with(reg, |b| b)
}

fn client_with(
    reg: &Registry,
    f: impl FnOnce(ocireg::ClientBuilder) -> ocireg::ClientBuilder,
) -> Client {
    f(Client::builder(&reg.url()).credentials(Credentials::basic(USER, PASSWORD)))
        .build()
        .unwrap()
}

/// Tags `v0`..`v{n}` on one small image.
fn tagged(reg: &Registry, repo: &str, n: usize) {
    for i in 0..n {
        reg.add_image(repo, &format!("v{i}"), b"{}", &[b"layer"])
            .unwrap();
    }
}

/// No request that reached the other origin carried an `Authorization` header.
fn other_origin_saw_no_credentials(reg: &Registry) {
    for r in reg.object_store_requests() {
        assert!(!r.authorized, "credentials sent to the other origin: {r:?}");
    }
}

#[test]
fn a_cross_origin_link_is_refused_not_followed_with_credentials() {
    for reg in [basic_registry(), bearer_registry()] {
        tagged(&reg, "team/app", 3);
        reg.set_hostile(Hostile::CrossOriginLink);
        let c = client(&reg);
        let e = c.tags("team/app").unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
        assert!(e.to_string().contains("another origin"), "{e}");
        assert!(
            reg.object_store_requests().is_empty(),
            "the other origin was never asked: {:?}",
            reg.object_store_requests()
        );
        // The catalog and search walk the same way.
        let e = c.catalog().unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
        let e = c.search("team").unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
        assert!(reg.object_store_requests().is_empty());
    }
    // A caller-given bearer token is a credential too.
    let reg = bearer_registry();
    tagged(&reg, "team/app", 3);
    let token = client(&reg).tags("team/app").map(|_| ());
    token.unwrap();
    reg.set_hostile(Hostile::CrossOriginLink);
    let c = Client::builder(&reg.url())
        .credentials(Credentials::BearerToken("caller-given-token".into()))
        .build()
        .unwrap();
    let _ = c.tags("team/app");
    assert!(reg.object_store_requests().is_empty());
}

#[test]
fn a_redirect_to_another_port_gets_no_credentials() {
    for reg in [basic_registry(), bearer_registry()] {
        let digest = reg
            .add_image("team/app", "v1", b"{}", &[b"layer one"])
            .unwrap();
        let blob = reg.add_blob("team/app", &[7u8; 10_000]);
        reg.set_hostile(Hostile::CrossPortRedirect);
        let c = client(&reg);
        // The other origin serves the same resources without auth: the calls succeed...
        assert_eq!(c.manifest("team/app", "v1").unwrap().digest, digest);
        assert_eq!(c.manifest_digest("team/app", "v1").unwrap(), digest);
        let mut out = Vec::new();
        c.pull_blob("team/app", &blob.to_string(), &mut out)
            .unwrap();
        assert_eq!(out, vec![7u8; 10_000]);
        let tags = c.tags("team/app").unwrap();
        assert_eq!(tags, ["v1"]);
        // ...and no credential went there.
        let there = reg.object_store_requests();
        assert!(there.len() >= 4, "the redirects were followed: {there:?}");
        other_origin_saw_no_credentials(&reg);
    }
}

#[test]
fn a_huge_token_lifetime_neither_panics_nor_fails() {
    for h in [
        Hostile::HugeExpiresIn,
        Hostile::IssuedAtFuture,
        Hostile::IssuedAtPast,
    ] {
        let reg = bearer_registry();
        tagged(&reg, "team/app", 2);
        reg.set_hostile(h.clone());
        let c = client(&reg);
        assert_eq!(c.tags("team/app").unwrap().len(), 2, "{h:?}");
        // The token is cached and used again.
        assert_eq!(c.tags("team/app").unwrap().len(), 2, "{h:?}");
    }
}

#[test]
fn a_slow_drip_ends_in_a_timeout() {
    let reg = Registry::start().unwrap();
    let digest = reg.add_image("team/app", "v1", b"{}", &[b"layer"]).unwrap();
    let blob = reg.add_blob("team/app", &[1u8; 4096]);
    reg.set_hostile(Hostile::SlowDrip {
        interval: Duration::from_millis(100),
    });
    // The low-speed limit: 1000 bytes/s over 1 s; the drip gives 10 bytes/s.
    let c = Client::builder(&reg.url())
        .low_speed_limit(LowSpeedLimit {
            bytes_per_sec: 1000,
            window: Duration::from_secs(1),
        })
        .response_timeout(None)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.manifest("team/app", "v1").unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("low-speed limit"), "{e}");
    let e = c
        .pull_blob("team/app", &blob.to_string(), &mut Vec::new())
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    let e = c.tags("team/app").unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    // Without a low-speed limit, a small answer's body still has the response timeout.
    let c = Client::builder(&reg.url())
        .low_speed_limit(None)
        .response_timeout(Duration::from_secs(1))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.manifest("team/app", &digest.to_string()).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    // The default client is protected too: the default limit (1 KiB/s over 30 s) is on.
    assert_eq!(
        Client::builder(&reg.url()).build().map(|_| ()).ok(),
        Some(())
    );
}

#[test]
fn an_endless_body_is_never_read_past_the_blob_size() {
    let reg = Registry::start().unwrap();
    let blob = reg.add_blob("team/app", &[3u8; 50_000]);
    for chunked in [false, true] {
        reg.set_hostile(Hostile::EndlessBody { chunked });
        let c = client_with(&reg, |b| {
            b.credentials(Credentials::Anonymous)
                .retry_policy(RetryPolicy::none())
        });
        // A writer with no size known: the HEAD says 50,000 bytes, and no more is read.
        let mut out = Vec::new();
        let e = c
            .pull_blob("team/app", &blob.to_string(), &mut out)
            .unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
        assert!(out.len() <= 50_000, "read {} bytes", out.len());
        // With a known size (a pull to a path), the same.
        let dir = tempdir("endless");
        let path = dir.join("blob");
        let e = c
            .pull_blob_to_path("team/app", &blob.to_string(), &path)
            .unwrap_err();
        assert!(
            matches!(e, Error::Protocol { .. } | Error::DigestMismatch { .. }),
            "{e:?}"
        );
        assert!(!path.exists(), "nothing half-written is left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_download_cut_midway_resumes_with_range() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let reg = Registry::start().unwrap();
    let blob = reg.add_blob("team/app", &data);
    let anonymous = |reg: &Registry| client_with(reg, |b| b.credentials(Credentials::Anonymous));

    reg.set_hostile(Hostile::CutMidway {
        range: RangeMode::Honour,
    });
    let mut out = Vec::new();
    let n = anonymous(&reg)
        .pull_blob("team/app", &blob.to_string(), &mut out)
        .unwrap();
    assert_eq!((n, &out), (200_000, &data));
    let gets: Vec<_> = reg
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/blobs/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(gets, [200, 206], "one cut GET, then one ranged GET");

    // To a path, and within a whole image pull.
    let dir = tempdir("resume");
    anonymous(&reg)
        .pull_blob_to_path("team/app", &blob.to_string(), dir.join("b"))
        .unwrap();
    assert_eq!(std::fs::read(dir.join("b")).unwrap(), data);
    reg.add_image("team/app", "v1", b"{\"a\":1}", &[&data[..150_000]])
        .unwrap();
    let pulled = anonymous(&reg)
        .pull_image("team/app", "v1", dir.join("layout"), &Default::default())
        .unwrap();
    assert!(pulled.stats.blobs_downloaded >= 2, "{:?}", pulled.stats);

    // A registry that ignores Range: the whole blob again, its first bytes skipped.
    reg.set_hostile(Hostile::CutMidway {
        range: RangeMode::Ignore,
    });
    let mut out = Vec::new();
    anonymous(&reg)
        .pull_blob("team/app", &blob.to_string(), &mut out)
        .unwrap();
    assert_eq!(out, data);

    // A 206 that does not start where asked is a protocol violation.
    reg.set_hostile(Hostile::CutMidway {
        range: RangeMode::WrongStart,
    });
    let e = anonymous(&reg)
        .pull_blob("team/app", &blob.to_string(), &mut Vec::new())
        .unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e:?}");

    // Without retries, a cut is a network error, and nothing is left at the path.
    reg.set_hostile(Hostile::CutMidway {
        range: RangeMode::Honour,
    });
    let c = client_with(&reg, |b| {
        b.credentials(Credentials::Anonymous)
            .retry_policy(RetryPolicy::none())
    });
    let e = c
        .pull_blob_to_path("team/app", &blob.to_string(), dir.join("c"))
        .unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e:?}");
    assert!(!dir.join("c").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-shot HTTP server: the first answer to each path is cut after `cut` bytes of its body,
/// every later one is whole. Returns its URL and a request counter.
fn cutting_server(body: &'static [u8], cut: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(if n == 0 { &body[..cut] } else { body });
        }
    });
    (url, count)
}

#[test]
fn a_small_answer_cut_midway_is_fetched_again() {
    const TAGS: &[u8] = br#"{"name":"team/app","tags":["a","b","c"]}"#;
    let (url, count) = cutting_server(TAGS, 10);
    let c = Client::builder(&url)
        .credentials(Credentials::Anonymous)
        .build()
        .unwrap();
    assert_eq!(c.tags("team/app").unwrap(), ["a", "b", "c"]);
    assert_eq!(count.load(Ordering::SeqCst), 2, "one cut answer, one retry");
    // Without retries, it is a network error.
    let (url, _) = cutting_server(TAGS, 10);
    let c = Client::builder(&url)
        .credentials(Credentials::Anonymous)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.tags("team/app").unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e:?}");
}

#[test]
fn a_401_without_a_challenge_learns_it_from_v2() {
    let reg = basic_registry();
    tagged(&reg, "team/app", 1);
    reg.set_hostile(Hostile::NoChallenge401 { everywhere: false });
    let c = client(&reg);
    assert_eq!(c.tags("team/app").unwrap(), ["v0"]);
    let seen: Vec<_> = reg
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("/v2/team/app/tags/list".to_string(), 401),
            ("/v2/".to_string(), 401),
            ("/v2/team/app/tags/list".to_string(), 200),
        ],
        "three requests, as regshape makes"
    );
    // Without a challenge anywhere: an authentication error, not a loop.
    let reg = basic_registry();
    tagged(&reg, "team/app", 1);
    reg.set_hostile(Hostile::NoChallenge401 { everywhere: true });
    let e = client(&reg).tags("team/app").unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
    assert!(reg.request_count() <= 3, "{:?}", reg.requests());
}

#[test]
fn a_query_only_link_keeps_the_path() {
    let reg = Registry::start().unwrap();
    for i in 0..1_050 {
        reg.add_manifest(
            &format!("repo{i:04}"),
            Some("v1"),
            "application/vnd.oci.image.index.v1+json",
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
        )
        .unwrap();
    }
    reg.set_hostile(Hostile::QueryOnlyLink);
    let c = Client::builder(&reg.url()).build().unwrap();
    assert_eq!(c.catalog().unwrap().len(), 1_050);
    assert_eq!(c.search("repo104").unwrap().len(), 10);
    let links: Vec<_> = reg
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2/_catalog")
        .collect();
    assert!(links.len() >= 2, "the second page was fetched: {links:?}");
}

#[test]
fn an_ever_changing_cursor_stops_when_no_name_is_new() {
    let reg = Registry::start().unwrap();
    tagged(&reg, "team/app", 3);
    reg.set_hostile(Hostile::ChangingCursor);
    let c = Client::builder(&reg.url()).build().unwrap();
    let mut tags = c.tags("team/app").unwrap();
    tags.sort();
    assert_eq!(tags, ["v0", "v1", "v2"]);
    assert!(
        reg.request_count() <= 3,
        "the walk stopped: {} requests",
        reg.request_count()
    );
}

#[test]
fn token_as_user_name_means_an_identity_token() {
    let reg = bearer_registry();
    tagged(&reg, "team/app", 1);
    // A refresh token, as `docker login` stores it (identitytoken).
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let body = agent
        .post(&format!("{}/token", reg.url()))
        .content_type("application/x-www-form-urlencoded")
        .send(format!(
            "grant_type=password&username={USER}&password={PASSWORD}&service=ocireg-test&access_type=offline"
        ))
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let resp: serde_json::Value = serde_json::from_str(&body).unwrap();
    let refresh = resp["refresh_token"].as_str().unwrap().to_string();
    reg.clear_requests();
    let c = Client::builder(&reg.url())
        .credentials(Credentials::basic("<token>", refresh.clone()))
        .build()
        .unwrap();
    assert_eq!(c.tags("team/app").unwrap(), ["v0"]);
    let token = reg
        .requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .unwrap();
    assert_eq!(token.method, "POST", "the OAuth2 refresh-token form");
    assert!(!format!("{c:?}").contains(&refresh));
}

#[test]
fn the_overall_timeout_covers_retries_and_backoff() {
    let reg = Registry::start().unwrap();
    tagged(&reg, "team/app", 1);
    reg.fail_next(100, 503, None);
    let c = Client::builder(&reg.url())
        .retry_policy(RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(200),
            ..RetryPolicy::default()
        })
        .overall_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let e = c.tags("team/app").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Registry { status: 503, .. } | Error::Timeout { .. }
        ),
        "{e:?}"
    );
    // Ten retries with backoff from 0.2 s would take minutes; the deadline leaves room for 3.
    assert!(reg.request_count() <= 3, "{} requests", reg.request_count());
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_password_in_a_reference_or_registry_is_never_shown() {
    for bad in [
        "http://alice:PW-1234@127.0.0.1:5420/team/app",
        "https://alice:PW-1234@127.0.0.1:5420/Team/app:v1",
        "alice:PW-1234@127.0.0.1:5420/team/app",
    ] {
        let e = bad.parse::<ocireg::Reference>().unwrap_err();
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("PW-1234"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
    for bad in [
        "https://alice:PW-1234@ho st",
        "https://alice:PW-1234@h:99999",
    ] {
        let e = Client::builder(bad).build().unwrap_err();
        assert!(!format!("{e} {e:?}").contains("PW-1234"), "{e:?}");
    }
    let b = Client::builder("https://alice:PW-1234@registry.example");
    assert!(!format!("{b:?}").contains("PW-1234"));
    let c = b.build().unwrap();
    assert!(!format!("{c:?}").contains("PW-1234"));
}

#[test]
fn error_bodies_are_capped_in_messages_and_kept_whole_as_data() {
    let reg = Registry::start().unwrap();
    reg.set_hostile(Hostile::LargeErrorBody { bytes: 100_000 });
    let c = Client::builder(&reg.url()).build().unwrap();
    let e = c.manifest("team/app", "nope").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.to_string().len() < 2_000, "{} bytes", e.to_string().len());
    assert_eq!(e.registry_errors()[0].message.len(), 100_000);

    reg.set_hostile(Hostile::MalformedErrorEntry { string: false });
    let e = c.manifest("team/app", "nope").unwrap_err();
    let codes: Vec<_> = e
        .registry_errors()
        .iter()
        .map(|i| i.code.as_str())
        .collect();
    assert_eq!(codes, ["MANIFEST_UNKNOWN", "5", "UNKNOWN"], "{e:?}");
    reg.set_hostile(Hostile::MalformedErrorEntry { string: true });
    let e = c.manifest("team/app", "nope").unwrap_err();
    assert_eq!(e.registry_errors().len(), 3, "{e:?}");
    assert_eq!(
        e.registry_errors()[2].message,
        "the entry after a malformed one"
    );
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "ocireg-hostile-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn the_request_log_shows_headers_with_every_secret_redacted() {
    use std::sync::Mutex;
    let reg = bearer_registry();
    tagged(&reg, "team/app", 1);
    let blob = reg.add_blob("team/app", &[1u8; 1000]);
    reg.redirect_blobs(true);
    let log: Arc<Mutex<Vec<ocireg::RequestEvent>>> = Arc::default();
    let sink = log.clone();
    let c = client_with(&reg, |b| {
        b.on_request(move |ev| sink.lock().unwrap().push(ev.clone()))
    });
    c.tags("team/app").unwrap();
    c.pull_blob("team/app", &blob.to_string(), &mut Vec::new())
        .unwrap();
    let log = log.lock().unwrap();
    let text = format!("{log:?}");
    assert!(!text.contains(PASSWORD), "{text}");
    let auth: Vec<_> = log
        .iter()
        .flat_map(|e| e.request_headers.iter())
        .filter(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(!auth.is_empty(), "authorized requests were logged");
    assert!(
        auth.iter()
            .all(|v| *v == "Bearer <redacted>" || *v == "Basic <redacted>"),
        "{auth:?}"
    );
    // The token service's answer carried the token in its body, never in a header shown; the
    // blob redirect's Location is shown without its query.
    let locations: Vec<_> = log
        .iter()
        .flat_map(|e| e.response_headers.iter())
        .filter(|(k, _)| k == "location")
        .collect();
    assert!(!locations.is_empty());
    assert!(
        log.iter()
            .any(|e| e.response_headers.iter().any(|(k, _)| k == "content-type")),
        "response headers are shown"
    );
}
