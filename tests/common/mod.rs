//! Helpers shared by the integration tests (each test file is its own crate and takes what it
//! uses with `mod common;`): a raw HTTP client for talking to a registry without ocireg's own
//! `Client`, and the `OCIREG_RIG_*` plumbing of the real-registry tests.
#![allow(dead_code)]

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;

/// A plain ureq agent: no proxy, HTTP error statuses as responses, at most `max_redirects`
/// redirects followed, 60 s per request.
pub fn agent_with_redirects(max_redirects: u32) -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .max_redirects(max_redirects)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// An agent that never follows a redirect (the test sees every 3xx).
pub fn agent() -> ureq::Agent {
    agent_with_redirects(0)
}

/// An agent that follows up to 5 redirects.
pub fn following_agent() -> ureq::Agent {
    agent_with_redirects(5)
}

/// A response read whole.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics, showing the body, when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The first OCI error code of the body.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends one request through `agent` and reads the whole response.
pub fn call_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = match body {
        Some(bytes) => agent.run(b.body(bytes.to_vec()).unwrap()),
        None => agent.run(b.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut body = Vec::new();
    resp.into_body()
        .into_reader()
        .read_to_end(&mut body)
        .unwrap_or_else(|e| panic!("reading {method} {url}: {e}"));
    Resp {
        status,
        headers,
        body,
    }
}

/// The `Authorization` value of HTTP Basic credentials.
pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// The value of a rig variable, or `None` with a skip note (a failure when
/// `OCIREG_REQUIRE_RIG=1`).
pub fn rig(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            if std::env::var("OCIREG_REQUIRE_RIG").as_deref() == Ok("1") {
                panic!("{var} is not set but OCIREG_REQUIRE_RIG=1: start tests/rig/rig.sh first");
            }
            eprintln!(
                "skipped: {var} is not set (run tests/rig/rig.sh start DIR and source DIR/env)"
            );
            None
        }
    }
}

/// How many tokens the rig's token server `server` has handed out.
pub fn token_requests(server: &str) -> u64 {
    let agent = ureq::Agent::config_builder()
        .proxy(None)
        .build()
        .new_agent();
    let mut resp = agent
        .get(format!("{server}/stats"))
        .call()
        .expect("token server stats");
    let v: serde_json::Value =
        serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
    v["token_requests"].as_u64().expect("token_requests")
}

/// Runs a command that must succeed and returns its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deterministic pseudo-random bytes seeded by `seed` (incompressible, different per seed).
pub fn pseudo_random(seed: &str, len: usize) -> Vec<u8> {
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

/// `skopeo` when it is installed, or `None` with a skip note (a failure when
/// `OCIREG_REQUIRE_RIG=1`).
pub fn skopeo() -> Option<&'static str> {
    let ok = Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some("skopeo")
    } else if std::env::var("OCIREG_REQUIRE_RIG").as_deref() == Ok("1") {
        panic!("skopeo is not installed but OCIREG_REQUIRE_RIG=1 (bash tests/rig/install.sh)");
    } else {
        eprintln!("skipped: skopeo is not installed (bash tests/rig/install.sh)");
        None
    }
}
