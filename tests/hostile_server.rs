//! Pins what the test registry sends in each hostile scenario (`Registry::set_hostile`), talking
//! to it with a raw HTTP client (ureq without redirects, or a plain `TcpStream`), never with
//! ocireg's own `Client`: these tests prove the server side plays each attack, so that client
//! tests can rely on it.
#![cfg(feature = "test-server")]

use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use ocireg::Digest;
use ocireg::testing::{
    AuthMode, BearerPolicy, Hostile, OTHER_ORIGIN_NAME, RangeMode, RecordedRequest, Registry,
};

mod common;
use common::{Resp, agent, basic, call_with};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn call(method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
    call_with(&agent(), method, url, headers, None)
}

fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    call("GET", url, headers)
}

fn basic_registry() -> Registry {
    Registry::builder()
        .auth(AuthMode::Basic {
            users: vec![("alice".into(), "pw".into())],
        })
        .start()
        .unwrap()
}

fn bearer_registry() -> Registry {
    Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
            "alice", "pw",
        )])))
        .start()
        .unwrap()
}

/// A Bearer token of alice for `scope`.
fn token(reg: &Registry, scope: &str) -> Resp {
    get(
        &format!("{}/token?service=ocireg-test&scope={scope}", reg.url()),
        &[("Authorization", &basic("alice", "pw"))],
    )
}

fn bearer_for(reg: &Registry, scope: &str) -> String {
    let r = token(reg, scope);
    assert_eq!(r.status, 200);
    format!("Bearer {}", r.json()["token"].as_str().unwrap())
}

/// Tags `v1`, `v2`, `v3` of one image in `repo`; returns the manifest digest.
fn three_tags(reg: &Registry, repo: &str) -> Digest {
    let d = reg.add_image(repo, "v1", b"{}", &[b"layer"]).unwrap();
    let m = get_manifest_bytes(reg, repo, &d);
    for t in ["v2", "v3"] {
        reg.add_manifest(repo, Some(t), OCI_MANIFEST, &m).unwrap();
    }
    d
}

fn get_manifest_bytes(reg: &Registry, repo: &str, d: &Digest) -> Vec<u8> {
    let hostile = reg.hostile();
    reg.set_hostile(Hostile::None);
    let r = get(
        &format!("{}/v2/{repo}/manifests/{d}", reg.url()),
        &[("Authorization", &basic("alice", "pw"))],
    );
    reg.set_hostile(hostile);
    if r.status == 200 {
        return r.body;
    }
    // A Bearer registry: go through the token endpoint.
    let auth = bearer_for(reg, &format!("repository:{repo}:pull"));
    let r = get(
        &format!("{}/v2/{repo}/manifests/{d}", reg.url()),
        &[("Authorization", &auth)],
    );
    assert_eq!(r.status, 200);
    r.body
}

/// `(url, rel)` of a `Link` header value `<url>; rel="next"`.
fn link_target(link: &str) -> String {
    let (target, rest) = link
        .trim()
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .unwrap_or_else(|| panic!("malformed Link {link:?}"));
    assert!(rest.contains("rel=\"next\""), "{link}");
    target.to_string()
}

fn port_of(url: &str) -> u16 {
    let rest = url.strip_prefix("http://127.0.0.1:").expect(url);
    rest.split('/').next().unwrap().parse().unwrap()
}

fn store_requests(reg: &Registry) -> Vec<(String, String, bool, u16)> {
    reg.object_store_requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.authorized, r.status))
        .collect()
}

fn assert_no_secret(reqs: &[RecordedRequest], secrets: &[&str]) {
    let text = format!("{reqs:?}");
    for s in secrets {
        assert!(!text.contains(s), "a secret was recorded: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP over a TcpStream, for what ureq hides (framing, short bodies, trickling).

/// Sends a request with `Connection: close` and returns the stream.
fn raw_request(reg: &Registry, method: &str, path: &str, headers: &[(&str, &str)]) -> TcpStream {
    let mut s = TcpStream::connect(reg.host()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", reg.host());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s
}

struct Head {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the status line and headers one byte at a time (nothing of the body is consumed).
fn read_head(s: &mut TcpStream) -> Head {
    let mut head = Vec::new();
    let mut b = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            other => panic!(
                "the head broke off ({other:?}): {}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    Head { status, headers }
}

/// Reads until the server closes the connection (or it breaks); returns what arrived.
fn read_until_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A GET answered within 30 s: proves that the registry has a free worker (a worker still
/// busy with an abandoned answer would leave this request queued).
fn answered_within_30s(reg: &Registry) -> u16 {
    let mut s = raw_request(reg, "GET", "/v2/", &[]);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    read_head(&mut s).status
}

/// Stops the registry on another thread; false when that takes longer than 30 s (the stopping
/// thread is then left behind, so that the test fails instead of hanging).
fn stops_within_30s(reg: ManuallyDrop<Registry>) -> bool {
    let reg = ManuallyDrop::into_inner(reg);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        reg.stop();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(30)).is_ok()
}

/// Distinct bytes, so that offsets show in comparisons.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn specs_parse_and_name_the_bad_one() {
    let reg = Registry::start().unwrap();
    assert_eq!(reg.hostile(), Hostile::None);
    reg.set_hostile("cut-midway:bad-range".parse().unwrap());
    assert_eq!(
        reg.hostile(),
        Hostile::CutMidway {
            range: RangeMode::WrongStart
        }
    );
    let e = "slow-drip:soon".parse::<Hostile>().unwrap_err();
    assert!(matches!(e, ocireg::Error::InvalidInput(_)), "{e:?}");
    assert!(e.to_string().contains("\"slow-drip:soon\""), "{e}");
    reg.set_hostile(Hostile::None);
    assert_eq!(reg.hostile(), Hostile::None);
}

#[test]
fn cross_origin_link_sends_the_next_page_to_the_other_port() {
    let reg = basic_registry();
    three_tags(&reg, "team/app");
    reg.add_image("other/app", "v1", b"{}", &[]).unwrap();
    let auth = basic("alice", "pw");
    let creds = [("Authorization", auth.as_str())];
    let tags_url = format!("{}/v2/team/app/tags/list", reg.url());

    // Not hostile: a full list has no Link.
    assert_eq!(get(&tags_url, &creds).header("Link"), None);

    reg.set_hostile(Hostile::CrossOriginLink);
    let r = get(&format!("{tags_url}?n=2"), &creds);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tags"], serde_json::json!(["v1", "v2"]));
    let next = link_target(r.header("Link").expect("a Link header"));
    assert_eq!(
        next,
        format!(
            "{}/v2/team/app/tags/list?last=v2&n=2",
            reg.object_store_url()
        )
    );
    assert_ne!(port_of(&next), reg.port());
    assert_eq!(port_of(&next), port_of(&reg.object_store_url()));
    // Even a complete page points at the other origin.
    let r = get(&tags_url, &creds);
    assert_eq!(r.json()["tags"].as_array().unwrap().len(), 3);
    assert_eq!(
        link_target(r.header("Link").unwrap()),
        format!(
            "{}/v2/team/app/tags/list?last=v3&n=3",
            reg.object_store_url()
        )
    );

    // The other origin answers a plausible page with an extra name, and records who sent
    // credentials.
    let r = get(&next, &creds);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "team/app");
    assert_eq!(
        r.json()["tags"],
        serde_json::json!(["v3", OTHER_ORIGIN_NAME])
    );
    assert_eq!(r.header("Link"), None);
    assert_eq!(get(&next, &[]).status, 200);

    // The catalog too.
    let r = get(&format!("{}/v2/_catalog?n=1", reg.url()), &creds);
    assert_eq!(r.json()["repositories"], serde_json::json!(["other/app"]));
    let next_catalog = link_target(r.header("Link").unwrap());
    assert_eq!(
        next_catalog,
        format!(
            "{}/v2/_catalog?last=other%2Fapp&n=1",
            reg.object_store_url()
        )
    );
    let r = get(&next_catalog, &[]);
    assert_eq!(
        r.json()["repositories"],
        serde_json::json!(["team/app", OTHER_ORIGIN_NAME])
    );

    let path = "/v2/team/app/tags/list".to_string();
    assert_eq!(
        store_requests(&reg),
        vec![
            ("GET".into(), path.clone(), true, 200),
            ("GET".into(), path, false, 200),
            ("GET".into(), "/v2/_catalog".into(), false, 200),
        ]
    );
    assert_eq!(reg.object_store_requests()[0].query, "last=v2&n=2");
    assert_no_secret(&reg.requests(), &[&auth[6..], "pw\""]);

    reg.set_hostile(Hostile::None);
    assert_eq!(get(&tags_url, &creds).header("Link"), None);
}

#[test]
fn cross_port_redirect_sends_every_repository_read_to_the_other_port() {
    let reg = bearer_registry();
    let d = reg
        .add_image("team/app", "v1", b"{}", &[b"layer one"])
        .unwrap();
    let manifest = get_manifest_bytes(&reg, "team/app", &d);
    let layer = Digest::sha256_of(b"layer one");
    let auth = bearer_for(&reg, "repository:team/app:pull");
    let creds = [("Authorization", auth.as_str())];

    reg.set_hostile(Hostile::CrossPortRedirect);
    // The token endpoint and /v2/ are answered by the registry itself.
    assert_eq!(token(&reg, "repository:team/app:pull").status, 200);
    assert_eq!(get(&format!("{}/v2/", reg.url()), &creds).status, 200);
    // Without credentials: the usual challenge, no redirect.
    let r = get(&format!("{}/v2/team/app/tags/list", reg.url()), &[]);
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").is_some());

    let reads = [
        ("GET", "/v2/team/app/tags/list?n=5".to_string()),
        ("GET", "/v2/team/app/manifests/v1".to_string()),
        ("HEAD", format!("/v2/team/app/manifests/{d}")),
        ("GET", format!("/v2/team/app/blobs/{layer}")),
        ("HEAD", format!("/v2/team/app/blobs/{layer}")),
    ];
    let mut locations = Vec::new();
    for (method, path) in &reads {
        let r = call(method, &format!("{}{path}", reg.url()), &creds);
        assert_eq!(r.status, 307, "{method} {path}");
        let location = r.header("Location").unwrap().to_string();
        assert_eq!(location, format!("{}{path}", reg.object_store_url()));
        assert_ne!(port_of(&location), reg.port());
        locations.push(location);
    }

    // The other port serves the same resources without authentication; a careless client that
    // sends its credentials there is recorded as such.
    let r = get(&locations[0], &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tags"], serde_json::json!(["v1"]));
    let r = get(&locations[1], &creds);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, manifest);
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(d.to_string().as_str())
    );
    let r = call("HEAD", &locations[2], &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Length"),
        Some(manifest.len().to_string().as_str())
    );
    let r = get(&locations[3], &creds);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"layer one");
    let r = get(&locations[3], &[("Range", "bytes=6-")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"one");
    assert_eq!(call("HEAD", &locations[4], &[]).status, 200);
    // Nothing is written there.
    assert_eq!(
        call("PUT", &locations[1], &[]).status,
        405,
        "the other origin is read-only"
    );

    let p = |i: usize| reads[i].1.split('?').next().unwrap().to_string();
    assert_eq!(
        store_requests(&reg),
        vec![
            ("GET".into(), p(0), false, 200),
            ("GET".into(), p(1), true, 200),
            ("HEAD".into(), p(2), false, 200),
            ("GET".into(), p(3), true, 200),
            ("GET".into(), p(3), false, 206),
            ("HEAD".into(), p(4), false, 200),
            ("PUT".into(), p(1), false, 405),
        ]
    );
    // The redirecting requests themselves were authorized at the registry.
    assert!(
        reg.requests()
            .iter()
            .filter(|r| r.status == 307)
            .all(|r| r.authorized && !r.object_store)
    );
    assert_no_secret(&reg.requests(), &[&auth[7..]]);

    reg.set_hostile(Hostile::None);
    let r = get(&format!("{}/v2/team/app/manifests/v1", reg.url()), &creds);
    assert_eq!(r.status, 200);
}

#[test]
fn token_endpoint_answers_absurd_lifetimes() {
    let reg = bearer_registry();
    reg.add_image("r", "v1", b"{}", &[]).unwrap();
    let scope = "repository:r:pull";
    let normal = token(&reg, scope).json();
    assert_eq!(normal["expires_in"], 300);

    reg.set_hostile(Hostile::HugeExpiresIn);
    let r = token(&reg, scope);
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        text.contains("\"expires_in\":9223372036854775807"),
        "{text}"
    );
    assert_eq!(r.json()["expires_in"].as_i64(), Some(i64::MAX));
    // The token works.
    let auth = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let tags = format!("{}/v2/r/tags/list", reg.url());
    assert_eq!(get(&tags, &[("Authorization", &auth)]).status, 200);
    // Failures are not rewritten.
    let r = get(
        &format!("{}/token?service=ocireg-test&scope={scope}", reg.url()),
        &[("Authorization", &basic("alice", "wrong"))],
    );
    assert_eq!(r.status, 401);
    assert!(r.json().get("expires_in").is_none());

    reg.set_hostile(Hostile::IssuedAtFuture);
    let v = token(&reg, scope).json();
    assert_eq!(v["issued_at"], "9999-12-31T23:59:59Z");
    assert_eq!(v["expires_in"], 300);
    reg.set_hostile(Hostile::IssuedAtPast);
    let v = token(&reg, scope).json();
    assert_eq!(v["issued_at"], "0001-01-01T00:00:00Z");
    let auth = format!("Bearer {}", v["token"].as_str().unwrap());
    assert_eq!(get(&tags, &[("Authorization", &auth)]).status, 200);
}

#[test]
fn slow_drip_trickles_the_body_with_a_correct_length() {
    let reg = Registry::start().unwrap();
    let data = pattern(40);
    let d = reg.add_blob("r", &data);
    reg.add_image("r", "v1", b"{}", &[]).unwrap();
    reg.set_hostile(Hostile::SlowDrip {
        interval: Duration::from_millis(50),
    });

    let mut s = raw_request(&reg, "GET", &format!("/v2/r/blobs/{d}"), &[]);
    let head = read_head(&mut s);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("40"));
    let mut buf = [0u8; 1024];
    let first = s.read(&mut buf).unwrap();
    assert!(
        (1..data.len()).contains(&first),
        "the first read got {first} bytes"
    );
    let mut body = buf[..first].to_vec();
    body.extend(read_until_close(&mut s));
    assert_eq!(body, data);

    // Tag lists drip too, and come out whole.
    let r = get(&format!("{}/v2/r/tags/list", reg.url()), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tags"], serde_json::json!(["v1"]));
    // HEAD and errors are answered as usual.
    let mut s = raw_request(&reg, "HEAD", &format!("/v2/r/blobs/{d}"), &[]);
    assert_eq!(read_head(&mut s).header("Content-Length"), Some("40"));
    let r = get(&format!("{}/v2/r/manifests/nope", reg.url()), &[]);
    assert_eq!(r.status, 404);
}

#[test]
fn slow_drip_gives_up_when_the_client_hangs_up_and_when_the_registry_stops() {
    // Leaked if an assertion fails: dropping a registry that does not stop would hang the test.
    let reg = ManuallyDrop::new(Registry::start().unwrap());
    let d = reg.add_blob("r", &pattern(100));
    // An hour per byte: an answer that did not notice would hold its worker for hours.
    reg.set_hostile(Hostile::SlowDrip {
        interval: Duration::from_secs(3600),
    });
    let path = format!("/v2/r/blobs/{d}");
    // More hung-up clients than the registry has workers.
    for _ in 0..20 {
        let mut s = raw_request(&reg, "GET", &path, &[]);
        let head = read_head(&mut s);
        assert_eq!(head.status, 200);
        let mut b = [0u8; 16];
        assert_eq!(s.read(&mut b).unwrap(), 1);
    }
    assert_eq!(answered_within_30s(&reg), 200);

    // A client still waiting when the registry stops.
    let mut s = raw_request(&reg, "GET", &path, &[]);
    read_head(&mut s);
    assert!(stops_within_30s(reg), "the registry did not stop");
    let rest = read_until_close(&mut s);
    assert!(rest.len() < 100, "{}", rest.len());
}

#[test]
fn endless_body_never_ends() {
    // Leaked if an assertion fails: dropping a registry that does not stop would hang the test.
    let reg = ManuallyDrop::new(Registry::start().unwrap());
    let data = pattern(1000);
    let d = reg.add_blob("r", &data);
    let url = format!("{}/v2/r/blobs/{d}", reg.url());
    const TEN_MIB: u64 = 10 << 20;

    for chunked in [false, true] {
        reg.set_hostile(Hostile::EndlessBody { chunked });
        let resp = agent().get(&url).call().unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("Content-Length").is_none());
        assert_eq!(
            resp.headers()
                .get("Transfer-Encoding")
                .map(|v| v.to_str().unwrap().to_string()),
            chunked.then(|| "chunked".to_string())
        );
        let mut got = Vec::new();
        resp.into_body()
            .into_reader()
            .take(TEN_MIB)
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got.len() as u64, TEN_MIB, "chunked: {chunked}");
        assert_eq!(&got[..1000], &data[..]);
        assert_eq!(&got[1000..2000], &data[..]);
    }

    // Raw: no Content-Length, close-delimited.
    reg.set_hostile(Hostile::EndlessBody { chunked: false });
    let mut s = raw_request(&reg, "GET", &format!("/v2/r/blobs/{d}"), &[]);
    let head = read_head(&mut s);
    assert_eq!(head.header("Content-Length"), None);
    assert_eq!(head.header("Connection"), Some("close"));
    drop(s);
    // HEAD is answered as usual.
    let r = call("HEAD", &url, &[]);
    assert_eq!(r.header("Content-Length"), Some("1000"));

    // Hung-up clients free their workers.
    for _ in 0..20 {
        let mut s = raw_request(&reg, "GET", &format!("/v2/r/blobs/{d}"), &[]);
        read_head(&mut s);
        let mut b = [0u8; 4096];
        assert!(s.read(&mut b).unwrap() > 0);
    }
    assert_eq!(answered_within_30s(&reg), 200);

    // A client that stopped reading does not keep the registry from stopping.
    let mut s = raw_request(&reg, "GET", &format!("/v2/r/blobs/{d}"), &[]);
    read_head(&mut s);
    std::thread::sleep(Duration::from_millis(300));
    assert!(stops_within_30s(reg), "the registry did not stop");
    // What was sent before the stop can still be read, then the connection ends.
    let rest = read_until_close(&mut s);
    assert!(rest.len() < 64 << 20, "{}", rest.len());
}

#[test]
fn cut_midway_cuts_plain_gets_and_answers_ranges_as_told() {
    let reg = Registry::start().unwrap();
    let data = pattern(1000);
    let d = reg.add_blob("r", &data);
    let path = format!("/v2/r/blobs/{d}");
    let url = format!("{}{path}", reg.url());

    // Not hostile: whole.
    let mut s = raw_request(&reg, "GET", &path, &[]);
    read_head(&mut s);
    assert_eq!(read_until_close(&mut s), data);

    reg.set_hostile(Hostile::CutMidway {
        range: RangeMode::Honour,
    });
    for _ in 0..2 {
        let mut s = raw_request(&reg, "GET", &path, &[]);
        let head = read_head(&mut s);
        assert_eq!(head.status, 200);
        assert_eq!(head.header("Content-Length"), Some("1000"));
        assert_eq!(head.header("Accept-Ranges"), Some("bytes"));
        assert_eq!(read_until_close(&mut s), &data[..500]);
    }
    let r = get(&url, &[("Range", "bytes=500-")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Range"), Some("bytes 500-999/1000"));
    assert_eq!(r.body, &data[500..]);
    assert_eq!(
        call("HEAD", &url, &[]).header("Content-Length"),
        Some("1000")
    );

    reg.set_hostile(Hostile::CutMidway {
        range: RangeMode::Ignore,
    });
    let mut s = raw_request(&reg, "GET", &path, &[]);
    read_head(&mut s);
    assert_eq!(read_until_close(&mut s), &data[..500]);
    let r = get(&url, &[("Range", "bytes=500-")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Range"), None);
    assert_eq!(r.body, data);

    reg.set_hostile(Hostile::CutMidway {
        range: RangeMode::WrongStart,
    });
    let mut s = raw_request(&reg, "GET", &path, &[]);
    read_head(&mut s);
    assert_eq!(read_until_close(&mut s), &data[..500]);
    let r = get(&url, &[("Range", "bytes=500-")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Range"), Some("bytes 250-999/1000"));
    assert_eq!(r.body, &data[250..]);
    let r = get(&url, &[("Range", "bytes=0-")]);
    assert_eq!(r.header("Content-Range"), Some("bytes 1-999/1000"));
    assert_eq!(r.body, &data[1..]);

    reg.set_hostile(Hostile::None);
    assert_eq!(get(&url, &[]).body, data);
}

#[test]
fn no_challenge_401_drops_www_authenticate_off_v2() {
    for reg in [basic_registry(), bearer_registry()] {
        let d = reg.add_image("r", "v1", b"{}", &[b"l"]).unwrap();
        let base = format!("{}/v2/", reg.url());
        let repo_paths = [
            format!("{}/v2/r/tags/list", reg.url()),
            format!("{}/v2/r/manifests/v1", reg.url()),
            format!("{}/v2/r/blobs/{}", reg.url(), Digest::sha256_of(b"l")),
            format!("{}/v2/r/manifests/{d}", reg.url()),
        ];
        // Not hostile: every 401 has its challenge.
        for u in repo_paths.iter().chain([&base]) {
            let r = get(u, &[]);
            assert_eq!(r.status, 401, "{u}");
            assert!(r.header("WWW-Authenticate").is_some(), "{u}");
        }

        reg.set_hostile(Hostile::NoChallenge401 { everywhere: false });
        let r = get(&base, &[]);
        assert_eq!(r.status, 401);
        assert!(r.header("WWW-Authenticate").is_some());
        for u in &repo_paths {
            let r = get(u, &[]);
            assert_eq!(r.status, 401, "{u}");
            assert_eq!(r.header("WWW-Authenticate"), None, "{u}");
            assert_eq!(r.json()["errors"][0]["code"], "UNAUTHORIZED");
        }
        let r = call("HEAD", &repo_paths[1], &[]);
        assert_eq!((r.status, r.header("WWW-Authenticate")), (401, None));
        // Good credentials still work.
        let auth = if get(&base, &[("Authorization", &basic("alice", "pw"))]).status == 200 {
            basic("alice", "pw")
        } else {
            bearer_for(&reg, "repository:r:pull")
        };
        assert_eq!(get(&repo_paths[0], &[("Authorization", &auth)]).status, 200);

        reg.set_hostile(Hostile::NoChallenge401 { everywhere: true });
        for u in repo_paths.iter().chain([&base]) {
            let r = get(u, &[]);
            assert_eq!((r.status, r.header("WWW-Authenticate")), (401, None), "{u}");
        }
    }
}

#[test]
fn query_only_link_resolves_against_the_current_path() {
    let reg = Registry::start().unwrap();
    three_tags(&reg, "r");
    reg.add_image("s", "v1", b"{}", &[]).unwrap();
    reg.set_hostile(Hostile::QueryOnlyLink);

    let path = format!("{}/v2/r/tags/list", reg.url());
    let mut url = format!("{path}?n=1");
    let mut seen = Vec::new();
    let mut links = Vec::new();
    loop {
        let r = get(&url, &[]);
        assert_eq!(r.status, 200);
        for t in r.json()["tags"].as_array().unwrap() {
            seen.push(t.as_str().unwrap().to_string());
        }
        let Some(link) = r.header("Link") else { break };
        let target = link_target(link);
        assert!(target.starts_with('?'), "{target}");
        links.push(target.clone());
        // RFC 3986 §5.3: the current path with the new query.
        url = format!("{path}{target}");
    }
    assert_eq!(links, ["?last=v1&n=1", "?last=v2&n=1"]);
    assert_eq!(seen, ["v1", "v2", "v3"]);

    let r = get(&format!("{}/v2/_catalog?n=1", reg.url()), &[]);
    assert_eq!(r.json()["repositories"], serde_json::json!(["r"]));
    assert_eq!(link_target(r.header("Link").unwrap()), "?last=r&n=1");
    let r = get(&format!("{}/v2/_catalog?last=r&n=1", reg.url()), &[]);
    assert_eq!(r.json()["repositories"], serde_json::json!(["s"]));
    assert_eq!(r.header("Link"), None);

    reg.set_hostile(Hostile::None);
    let r = get(&format!("{path}?n=1"), &[]);
    assert_eq!(
        link_target(r.header("Link").unwrap()),
        "/v2/r/tags/list?last=v1&n=1"
    );
}

#[test]
fn changing_cursor_never_repeats_and_never_ends() {
    let reg = Registry::start().unwrap();
    three_tags(&reg, "r");
    reg.add_image("s", "v1", b"{}", &[]).unwrap();
    reg.set_hostile(Hostile::ChangingCursor);

    let mut url = format!("{}/v2/r/tags/list?n=2", reg.url());
    let mut links = Vec::new();
    for _ in 0..10 {
        let r = get(&url, &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["tags"], serde_json::json!(["v1", "v2"]));
        let target = link_target(r.header("Link").expect("always a next page"));
        assert!(
            target.starts_with("/v2/r/tags/list?last=") && target.ends_with("&n=2"),
            "{target}"
        );
        assert!(!links.contains(&target), "{target} repeated");
        links.push(target.clone());
        url = format!("{}{target}", reg.url());
    }
    // Without n: everything, and still a next page.
    let r = get(&format!("{}/v2/r/tags/list", reg.url()), &[]);
    assert_eq!(r.json()["tags"].as_array().unwrap().len(), 3);
    assert!(!link_target(r.header("Link").unwrap()).contains("&n="));

    let mut url = format!("{}/v2/_catalog?n=1", reg.url());
    for _ in 0..3 {
        let r = get(&url, &[]);
        assert_eq!(r.json()["repositories"], serde_json::json!(["r"]));
        let target = link_target(r.header("Link").unwrap());
        assert!(target.starts_with("/v2/_catalog?last=c"), "{target}");
        assert!(!links.contains(&target));
        links.push(target.clone());
        url = format!("{}{target}", reg.url());
    }
}

#[test]
fn large_error_body_fills_every_error_message() {
    let reg = basic_registry();
    reg.add_image("r", "v1", b"{}", &[]).unwrap();
    let auth = basic("alice", "pw");
    let missing = format!("{}/v2/r/manifests/nope", reg.url());
    let r = get(&missing, &[("Authorization", &auth)]);
    assert!(r.body.len() < 1000);

    reg.set_hostile(Hostile::LargeErrorBody { bytes: 65536 });
    let r = get(&missing, &[("Authorization", &auth)]);
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(v["errors"][0]["code"], "MANIFEST_UNKNOWN");
    assert_eq!(v["errors"][0]["message"].as_str().unwrap().len(), 65536);
    assert!(r.body.len() > 65536);
    // Every error answer: a 401, a blob 404, an injected failure.
    let r = get(&missing, &[]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["errors"][0]["message"].as_str().unwrap().len(),
        65536
    );
    let blob = format!("{}/v2/r/blobs/{}", reg.url(), Digest::sha256_of(b"x"));
    let r = get(&blob, &[("Authorization", &auth)]);
    assert_eq!(r.json()["errors"][0]["code"], "BLOB_UNKNOWN");
    assert_eq!(
        r.json()["errors"][0]["message"].as_str().unwrap().len(),
        65536
    );
    reg.fail_next(1, 503, None);
    let r = get(&format!("{}/v2/", reg.url()), &[("Authorization", &auth)]);
    assert_eq!(r.status, 503);
    assert_eq!(
        r.json()["errors"][0]["message"].as_str().unwrap().len(),
        65536
    );
    // A HEAD announces the long body and sends none.
    let r = call("HEAD", &missing, &[("Authorization", &auth)]);
    assert!(
        r.header("Content-Length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 65536,
        "{:?}",
        r.header("Content-Length")
    );
    // Successes are untouched.
    let r = get(
        &format!("{}/v2/r/tags/list", reg.url()),
        &[("Authorization", &auth)],
    );
    assert_eq!(r.json()["tags"], serde_json::json!(["v1"]));
}

#[test]
fn malformed_error_entry_sits_between_two_good_ones() {
    let reg = Registry::start().unwrap();
    reg.add_image("r", "v1", b"{}", &[]).unwrap();
    let missing = format!("{}/v2/r/manifests/nope", reg.url());
    assert_eq!(
        get(&missing, &[]).json()["errors"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    reg.set_hostile(Hostile::MalformedErrorEntry { string: false });
    let r = get(&missing, &[]);
    assert_eq!(r.status, 404);
    let errors = r.json()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0]["code"], "MANIFEST_UNKNOWN");
    assert_eq!(errors[1], serde_json::json!({ "code": 5 }));
    assert_eq!(errors[2]["code"], "UNKNOWN");
    assert_eq!(errors[2]["message"], "the entry after a malformed one");

    reg.set_hostile(Hostile::MalformedErrorEntry { string: true });
    let errors = get(&missing, &[]).json()["errors"].clone();
    assert_eq!(errors[1], "not an error object");
    assert_eq!(errors[0]["code"], "MANIFEST_UNKNOWN");
    assert_eq!(errors[2]["code"], "UNKNOWN");
    // Successes are untouched.
    assert_eq!(
        get(&format!("{}/v2/r/tags/list", reg.url()), &[]).json()["tags"],
        serde_json::json!(["v1"])
    );
}
