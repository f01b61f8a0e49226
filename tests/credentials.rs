//! Credentials: docker `config.json`, `docker-credential-*` helpers (fake shell scripts written
//! into per-test directories), the resolution chain, login (against mockito) and logout, and the
//! no-loss guarantees (foreign keys kept, corrupt files untouched, modes, ten concurrent logins
//! from ten processes).
//!
//! Every test works in its own temporary directory and passes the config path explicitly; no
//! test changes an environment variable of this process. What depends on `DOCKER_CONFIG`,
//! `HOME`, `REGISTRY_AUTH_FILE` or `XDG_RUNTIME_DIR` runs in a child process: this test binary
//! re-invoked with `--exact child_process_entry` and `OCIREG_CREDS_CHILD=<scenario>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use mockito::{Matcher, Server};
use ocireg::credentials::{self, ConfigOptions, CredentialHelper, DockerConfig, Source, resolve};
use ocireg::{
    Client, Credentials, Error, LoginOptions, LoginStored, Logout, RetryPolicy, login, logout,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory, removed when the test passes (kept for inspection when it fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("ocireg-test-{}-{}", std::process::id(), n));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn config(&self) -> PathBuf {
        self.0.join("config.json")
    }
    fn bin(&self) -> PathBuf {
        self.0.join("bin")
    }
    fn options(&self) -> ConfigOptions {
        ConfigOptions {
            config_path: Some(self.config()),
            helper_timeout: Duration::from_secs(10),
            containers_auth: false,
            helper_dirs: vec![self.bin()],
        }
    }
    fn login_options(&self, client: Option<ocireg::ClientBuilder>) -> LoginOptions {
        LoginOptions {
            config: self.options(),
            client,
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A docker config with everything docker, its plugins and the future may put there.
fn fixture() -> Value {
    json!({
        "auths": {
            "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
            "https://old.example.com:5000/v2/": {"auth": b64("old:oldpass")},
            "http://plain.example.com": {"auth": b64("plain:plainpass")},
            "ghcr.io": {"username": "ghuser", "password": "ghp_secret"},
            "id.example.com": {"identitytoken": "idtok-secret"},
            "rt.example.com": {"registrytoken": "rtok-secret"},
            "nopad.example.com": {"auth": "YTpiYw"},
            "email.example.com": {"auth": b64("e:epass"), "email": "e@example.com"}
        },
        "proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "localhost,127.0.0.1"}},
        "HttpHeaders": {"User-Agent": "custom/1.0", "X-Meta-Tenant": "t1"},
        "currentContext": "colima",
        "plugins": {"buildx": {"mode": "default"}, "-x-cli-hints": {"enabled": "false"}},
        "futureKey": {"nested": [1, 2]},
        "detachKeys": "ctrl-e,e",
        "psFormat": "table {{.ID}}\\t{{.Names}}",
        "numbers": [0, -3, 2.5, 1e3, 18446744073709551615_u64],
        "aliases": {"builder": "buildx"},
        "unicode": "h\u{e9}llo \u{1F600}"
    })
}

fn write_json(path: &Path, v: &Value) {
    fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// `after` equals `before` once the `auths` keys in `ours` are set aside: nothing else changed.
fn assert_only_changed(before: &Value, after: &Value, ours: &[&str]) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(a) = v.get_mut("auths").and_then(Value::as_object_mut) {
            for k in ours {
                a.remove(*k);
            }
        }
        v
    };
    assert_eq!(strip(before), strip(after));
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

/// Writes `docker-credential-<name>` (a /bin/sh script) into `dir`.
#[cfg(unix)]
fn write_helper(dir: &Path, name: &str, body: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let p = dir.join(format!("docker-credential-{name}"));
    let tmp = dir.join(format!(".tmp-{name}"));
    fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).unwrap();
    set_mode(&tmp, 0o755);
    fs::rename(&tmp, &p).unwrap();
    p
}

/// A working helper backed by files in `<dir>/store`: one file per server URL, the input of
/// `store` kept as is. Every call is logged (action and server URL, never the secret) in
/// `<dir>/store/log`.
#[cfg(unix)]
fn write_store_helper(t: &TempDir, name: &str) -> PathBuf {
    let store = t.path().join("store");
    fs::create_dir_all(&store).unwrap();
    let body = format!(
        r#"S='{store}'
fname() {{ printf '%s' "$1" | tr '/:' '__'; }}
case "$1" in
store)
  in=$(cat)
  url=$(printf '%s' "$in" | sed 's/^{{"ServerURL":"\([^"]*\)".*/\1/')
  echo "store $url" >> "$S/log"
  printf '%s' "$in" > "$S/$(fname "$url").json"
  ;;
get)
  url=$(cat)
  echo "get $url" >> "$S/log"
  f="$S/$(fname "$url").json"
  if [ -f "$f" ]; then cat "$f"; echo; else echo 'credentials not found in native keychain'; exit 1; fi
  ;;
erase)
  url=$(cat)
  echo "erase $url" >> "$S/log"
  f="$S/$(fname "$url").json"
  if [ -f "$f" ]; then rm "$f"; else echo 'credentials not found in native keychain'; exit 1; fi
  ;;
list)
  echo "list" >> "$S/log"
  printf '{{'
  sep=''
  for f in "$S"/*.json; do
    [ -f "$f" ] || continue
    u=$(sed 's/^{{"ServerURL":"\([^"]*\)","Username":"\([^"]*\)".*/"\1":"\2"/' "$f")
    printf '%s%s' "$sep" "$u"
    sep=','
  done
  printf '}}\n'
  ;;
*) echo "unknown action $1"; exit 1;;
esac"#,
        store = store.display()
    );
    write_helper(&t.bin(), name, &body)
}

#[cfg(unix)]
fn helper_log(t: &TempDir) -> Vec<String> {
    fs::read_to_string(t.path().join("store").join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A mock registry with Basic auth that accepts exactly `user:pass` (401 and a Basic challenge
/// otherwise).
fn basic_registry(s: &mut Server, user: &str, pass: &str) -> mockito::Mock {
    let good = format!("Basic {}", b64(&format!("{user}:{pass}")));
    s.mock("GET", "/v2/")
        .with_status_code_from_request(move |req| {
            let sent = req.header("authorization");
            if sent.len() == 1 && sent[0].as_bytes() == good.as_bytes() {
                200
            } else {
                401
            }
        })
        .with_header("www-authenticate", r#"Basic realm="mock""#)
        .with_body("{}")
        .create()
}

fn quick_client(url: &str) -> ocireg::ClientBuilder {
    Client::builder(url).retry_policy(RetryPolicy::none())
}

// ---------------------------------------------------------------------------------------------
// Config file reading and key matching

#[test]
fn auths_entries_of_every_kind_and_key_shape() {
    let t = TempDir::new();
    write_json(&t.config(), &fixture());
    let o = t.options();
    let cases: Vec<(&str, Credentials)> = vec![
        ("docker.io", Credentials::basic("hubuser", "hubpass")),
        ("index.docker.io", Credentials::basic("hubuser", "hubpass")),
        (
            "registry-1.docker.io",
            Credentials::basic("hubuser", "hubpass"),
        ),
        (
            "https://index.docker.io/v1/",
            Credentials::basic("hubuser", "hubpass"),
        ),
        ("old.example.com:5000", Credentials::basic("old", "oldpass")),
        (
            "https://old.example.com:5000",
            Credentials::basic("old", "oldpass"),
        ),
        (
            "http://old.example.com:5000/v2/",
            Credentials::basic("old", "oldpass"),
        ),
        (
            "plain.example.com",
            Credentials::basic("plain", "plainpass"),
        ),
        ("ghcr.io", Credentials::basic("ghuser", "ghp_secret")),
        (
            "id.example.com",
            Credentials::IdentityToken("idtok-secret".into()),
        ),
        (
            "rt.example.com",
            Credentials::BearerToken("rtok-secret".into()),
        ),
        ("nopad.example.com", Credentials::basic("a", "bc")),
        ("email.example.com", Credentials::basic("e", "epass")),
    ];
    for (registry, want) in cases {
        let r = resolve(registry, None, &o).unwrap();
        assert_eq!(r.credentials, want, "{registry}");
        assert_eq!(r.source, Source::ConfigFile(t.config()), "{registry}");
    }
    for anonymous in [
        "old.example.com",
        "old.example.com:5001",
        "example.com",
        "quay.io",
    ] {
        let r = resolve(anonymous, None, &o).unwrap();
        assert_eq!(r.source, Source::Anonymous, "{anonymous}");
        assert!(r.credentials.is_anonymous());
    }
}

#[test]
fn explicit_credentials_win() {
    let t = TempDir::new();
    write_json(
        &t.config(),
        &json!({"credsStore": "missing-helper", "auths": {"h": {"auth": b64("a:b")}}}),
    );
    let c = Credentials::basic("x", "y");
    let r = resolve("h", Some(&c), &t.options()).unwrap();
    assert_eq!((r.credentials, r.source), (c, Source::Explicit));
    // Explicitly anonymous: the file is not consulted, and the source says "anonymous".
    let r = resolve("h", Some(&Credentials::Anonymous), &t.options()).unwrap();
    assert_eq!(
        (r.credentials, r.source),
        (Credentials::Anonymous, Source::Anonymous)
    );
}

#[test]
fn missing_and_empty_files_mean_anonymous() {
    let t = TempDir::new();
    let r = resolve("host:5000", None, &t.options()).unwrap();
    assert_eq!(r.source, Source::Anonymous);
    assert!(!t.config().exists(), "resolve must never create the file");
    fs::write(t.config(), "").unwrap();
    assert_eq!(
        resolve("host:5000", None, &t.options()).unwrap().source,
        Source::Anonymous
    );
}

#[test]
fn corrupt_file_is_a_clear_error_without_secrets() {
    let t = TempDir::new();
    let text =
        "{\n  \"auths\": {\n    \"h\": {\"auth\": \"c2VjcmV0dXNlcjpzZWNyZXRwYXNz\"},\n  }\n}";
    fs::write(t.config(), text).unwrap();
    let e = resolve("h", None, &t.options()).unwrap_err();
    assert!(matches!(e, Error::Credentials(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&t.config().display().to_string()), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
    assert!(
        !msg.contains("c2VjcmV0") && !format!("{e:?}").contains("c2VjcmV0"),
        "{msg}"
    );

    // an entry that is not base64 of user:password names the key, not the value
    write_json(
        &t.config(),
        &json!({"auths": {"h": {"auth": "bm9jb2xvbnNlY3JldA=="}}}),
    );
    let msg = resolve("h", None, &t.options()).unwrap_err().to_string();
    assert!(msg.contains("\"h\"") && !msg.contains("bm9jb2xv"), "{msg}");
    // other registries' entries are not the problem of this one
    assert_eq!(
        resolve("other", None, &t.options()).unwrap().source,
        Source::Anonymous
    );

    for bad in ["[1,2]", "\u{feff}{}", "{\"auths\": \"x\"}", "nul\0l"] {
        fs::write(t.config(), bad).unwrap();
        assert!(resolve("h", None, &t.options()).is_err(), "{bad:?}");
    }
}

#[test]
fn no_panic_on_strange_content() {
    let t = TempDir::new();
    let deep = format!("{}{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let samples: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        b"\xff\xfe\x00{".to_vec(),
        br#"{"auths": {"h": {"auth": "6Ziq"}}}"#.to_vec(),
        br#"{"auths": {"h": {"auth": ":"}}}"#.to_vec(),
        br#"{"auths": {"h": {"auth": "Og=="}}}"#.to_vec(),
        br#"{"auths": {"h": {"username": 5}}}"#.to_vec(),
        br#"{"auths": {"h": []}, "credHelpers": {"h": 5}}"#.to_vec(),
        br#"{"credHelpers": {"h": "../../bin/sh"}}"#.to_vec(),
        br#"{"credsStore": "a/b"}"#.to_vec(),
        br#"{"auths": {"": {}, "https://": {}, "@": {}, "h/../x": {}}}"#.to_vec(),
        vec![b'{'; 100_000],
    ];
    for s in samples {
        fs::write(t.config(), &s).unwrap();
        let _ = resolve("h", None, &t.options());
        let _ = logout("h", &t.options());
        let _ = DockerConfig::load(t.config());
    }
}

// ---------------------------------------------------------------------------------------------
// Credential helpers

#[cfg(unix)]
#[test]
fn cred_helpers_and_creds_store_are_asked_with_the_right_key() {
    let t = TempDir::new();
    write_store_helper(&t, "fake");
    let o = t.options();
    CredentialHelper::new("fake", &o)
        .store("host:5000", "hu", "hpass")
        .unwrap();
    CredentialHelper::new("fake", &o)
        .store("https://index.docker.io/v1/", "hub", "hubpw")
        .unwrap();
    CredentialHelper::new("fake", &o)
        .store("other:1", "ou", "opass")
        .unwrap();
    write_json(
        &t.config(),
        &json!({
            "credHelpers": {"host:5000": "fake", "docker.io": "fake"},
            "auths": {"host:5000": {"auth": b64("file:filepass")}, "nohelper": {"auth": b64("n:p")}}
        }),
    );
    let r = resolve("http://host:5000", None, &o).unwrap();
    assert_eq!(r.credentials, Credentials::basic("hu", "hpass"));
    assert_eq!(r.source, Source::Helper("fake".into()));
    assert_eq!(
        r.source.to_string(),
        "credential helper docker-credential-fake"
    );

    let r = resolve("registry-1.docker.io", None, &o).unwrap();
    assert_eq!(r.credentials, Credentials::basic("hub", "hubpw"));
    assert!(helper_log(&t).contains(&"get https://index.docker.io/v1/".to_string()));
    assert!(helper_log(&t).contains(&"get host:5000".to_string()));

    // no helper for this one: the file answers
    let r = resolve("nohelper", None, &o).unwrap();
    assert_eq!(r.source, Source::ConfigFile(t.config()));

    // credsStore answers for every registry without a credHelpers entry
    write_json(&t.config(), &json!({"credsStore": "fake"}));
    let r = resolve("other:1", None, &o).unwrap();
    assert_eq!(
        (r.credentials, r.source),
        (
            Credentials::basic("ou", "opass"),
            Source::Helper("fake".into())
        )
    );
    // the helper has nothing: on to the file, then anonymous
    let r = resolve("nothing:1", None, &o).unwrap();
    assert_eq!(r.source, Source::Anonymous);

    let listed = CredentialHelper::new("fake", &o).list().unwrap();
    assert_eq!(listed.get("host:5000").map(String::as_str), Some("hu"));
    assert_eq!(listed.len(), 3);
    assert!(CredentialHelper::new("fake", &o).erase("other:1").unwrap());
    assert!(!CredentialHelper::new("fake", &o).erase("other:1").unwrap());
    assert_eq!(
        CredentialHelper::new("fake", &o).get("other:1").unwrap(),
        None
    );
}

#[cfg(unix)]
#[test]
fn helper_answers_not_found_pass_style_and_token() {
    let t = TempDir::new();
    write_helper(
        &t.bin(),
        "notfound",
        "cat >/dev/null; echo 'credentials not found in native keychain'; exit 1",
    );
    write_helper(
        &t.bin(),
        "passempty",
        r#"cat >/dev/null; echo '{"ServerURL":"x","Username":"","Secret":""}'"#,
    );
    write_helper(
        &t.bin(),
        "token",
        r#"cat >/dev/null; echo '{"ServerURL":"x","Username":"<token>","Secret":"idtok-secret"}'"#,
    );
    let o = t.options();
    assert_eq!(
        CredentialHelper::new("notfound", &o).get("h").unwrap(),
        None
    );
    assert_eq!(
        CredentialHelper::new("passempty", &o).get("h").unwrap(),
        None
    );
    assert_eq!(
        CredentialHelper::new("token", &o).get("h").unwrap(),
        Some(Credentials::IdentityToken("idtok-secret".into()))
    );
    write_json(
        &t.config(),
        &json!({"credsStore": "passempty", "credHelpers": {"tok": "token", "nf": "notfound"},
                "auths": {"h": {"auth": b64("f:fp")}}}),
    );
    let r = resolve("h", None, &o).unwrap();
    assert_eq!(r.source, Source::ConfigFile(t.config()));
    let r = resolve("tok", None, &o).unwrap();
    assert_eq!(
        r.credentials,
        Credentials::IdentityToken("idtok-secret".into())
    );
    assert_eq!(r.source, Source::Helper("token".into()));
    assert_eq!(resolve("nf", None, &o).unwrap().source, Source::Anonymous);
    assert_eq!(logout("nf", &o).unwrap(), Logout::NotLoggedIn);
    assert_eq!(logout("x", &o).unwrap(), Logout::NotLoggedIn);
}

#[cfg(unix)]
#[test]
fn helper_failures_are_errors_naming_the_helper_without_secrets() {
    let t = TempDir::new();
    write_helper(
        &t.bin(),
        "broken",
        "cat >/dev/null; echo 'keychain is locked'; echo 'on stderr' >&2; exit 1",
    );
    write_helper(
        &t.bin(),
        "stderronly",
        "cat >/dev/null; echo 'only stderr' >&2; exit 3",
    );
    write_helper(
        &t.bin(),
        "garbage",
        "cat >/dev/null; echo 'not json but hunter2-secret'",
    );
    write_helper(&t.bin(), "echoer", "cat; exit 1");
    write_helper(&t.bin(), "killed", "cat >/dev/null; kill -9 $$");
    let noexec = t.bin().join("docker-credential-noexec");
    fs::write(&noexec, "#!/bin/sh\necho '{}'\n").unwrap();
    set_mode(&noexec, 0o644);
    let o = t.options();

    let e = CredentialHelper::new("broken", &o).get("h").unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::Credentials(_)));
    assert!(
        m.contains("docker-credential-broken") && m.contains("keychain is locked"),
        "{m}"
    );
    let m = CredentialHelper::new("stderronly", &o)
        .get("h")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("only stderr") && m.contains("exit status 3"),
        "{m}"
    );
    let m = CredentialHelper::new("garbage", &o)
        .get("h")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("docker-credential-garbage") && !m.contains("hunter2"),
        "{m}"
    );
    write_helper(
        &t.bin(),
        "trimmer",
        "sed 's/.*Secret\":\"\\([^\"]*\\)\".*/\\1/'; exit 1",
    );
    let e = CredentialHelper::new("trimmer", &o)
        .store("h", "user", "  hunter2-secret  ")
        .unwrap_err();
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e}");
    let e = CredentialHelper::new("echoer", &o)
        .store("h", "user", "hunter2-secret")
        .unwrap_err();
    let m = format!("{e} {e:?}");
    assert!(
        m.contains("docker-credential-echoer") && !m.contains("hunter2"),
        "{m}"
    );
    let m = CredentialHelper::new("killed", &o)
        .get("h")
        .unwrap_err()
        .to_string();
    assert!(m.contains("signal"), "{m}");

    for missing in ["nonexistent", "noexec"] {
        let m = CredentialHelper::new(missing, &o)
            .get("h")
            .unwrap_err()
            .to_string();
        assert!(m.contains(&format!("docker-credential-{missing}")), "{m}");
        assert!(m.contains("not found"), "{m}");
    }
    for bad in ["../../bin/sh", "", ".hidden", "a/b"] {
        assert!(CredentialHelper::new(bad, &o).get("h").is_err(), "{bad}");
    }

    // in the chain, a failing or missing helper is an error, not anonymous
    for name in ["broken", "nonexistent"] {
        write_json(&t.config(), &json!({"credsStore": name}));
        let e = resolve("h", None, &o).unwrap_err();
        assert!(
            e.to_string().contains(&format!("docker-credential-{name}")),
            "{e}"
        );
    }
}

#[cfg(unix)]
#[test]
fn hanging_helper_is_killed_at_the_timeout() {
    let t = TempDir::new();
    write_helper(&t.bin(), "hang", "exec sleep 60");
    let o = ConfigOptions {
        helper_timeout: Duration::from_secs(1),
        ..t.options()
    };
    let start = Instant::now();
    let e = CredentialHelper::new("hang", &o).get("h").unwrap_err();
    let took = start.elapsed();
    // Killed at the timeout, not when the helper would have finished (60 s); the upper bound
    // is loose because a loaded machine may take a while to reap it.
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    let m = e.to_string();
    assert!(
        m.contains("docker-credential-hang") && m.contains("timed out"),
        "{m}"
    );
    write_json(&t.config(), &json!({"credHelpers": {"h": "hang"}}));
    assert!(resolve("h", None, &o).is_err());
}

#[cfg(unix)]
#[test]
fn chatty_helper_cannot_deadlock() {
    let t = TempDir::new();
    // 3 MB on stderr and 2 MB of white space on stdout before the answer: far beyond a pipe
    // buffer, so reading only one stream, or reading after the exit, would hang.
    write_helper(
        &t.bin(),
        "chatty",
        "cat >/dev/null\n\
         head -c 3000000 /dev/zero | tr '\\0' x >&2\n\
         head -c 2000000 /dev/zero | tr '\\0' ' '\n\
         echo '{\"Username\":\"u\",\"Secret\":\"p\"}'",
    );
    // A background process keeps the pipes open after the helper exits.
    write_helper(
        &t.bin(),
        "daemon",
        "cat >/dev/null; sleep 60 & echo '{\"Username\":\"du\",\"Secret\":\"dp\"}'",
    );
    let o = t.options();
    let start = Instant::now();
    // the 1 MiB cap cuts the answer: a clear error rather than a hang or a huge allocation
    let r = CredentialHelper::new("chatty", &o).get("h");
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(r.is_err(), "{r:?}");
    let start = Instant::now();
    assert_eq!(
        CredentialHelper::new("daemon", &o).get("h").unwrap(),
        Some(Credentials::basic("du", "dp"))
    );
    // Not held until the background process (60 s) closes the pipes.
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Login against mockito

#[test]
fn login_basic_accepted_writes_auths_and_keeps_foreign_keys() {
    let t = TempDir::new();
    let before = fixture();
    write_json(&t.config(), &before);
    #[cfg(unix)]
    set_mode(&t.config(), 0o640);
    let mut s = Server::new();
    let _m = basic_registry(&mut s, "alice", "right-pass");
    let stored = login(&s.url(), "alice", "right-pass", &t.login_options(None)).unwrap();
    assert_eq!(stored, LoginStored::ConfigFile(t.config()));

    let key = s.host_with_port();
    let after = read_json(&t.config());
    assert_eq!(
        after["auths"][&key],
        json!({"auth": b64("alice:right-pass")})
    );
    assert_only_changed(&before, &after, &[&key]);
    #[cfg(unix)]
    assert_eq!(mode(&t.config()), 0o640);
    let text = fs::read_to_string(t.config()).unwrap();
    assert!(
        text.starts_with("{\n\t\""),
        "docker's tab indentation: {text}"
    );

    let r = resolve(&s.url(), None, &t.options()).unwrap();
    assert_eq!(r.credentials, Credentials::basic("alice", "right-pass"));
    // the client builder uses the same chain through the same options
    let c = Client::builder(&s.url())
        .config_options(t.options())
        .build()
        .unwrap();
    c.ping().unwrap();

    // a second login replaces the entry's stale fields, keeps its other fields
    let mut cfg = read_json(&t.config());
    cfg["auths"][&key] = json!({"username": "old", "password": "oldpw", "identitytoken": "it",
                                "email": "a@example.com"});
    write_json(&t.config(), &cfg);
    login(&s.url(), "alice", "right-pass", &t.login_options(None)).unwrap();
    let after = read_json(&t.config());
    assert_eq!(
        after["auths"][&key],
        json!({"auth": b64("alice:right-pass"), "email": "a@example.com"})
    );
    assert_only_changed(&before, &after, &[&key]);
}

#[test]
fn login_rejected_writes_nothing() {
    let t = TempDir::new();
    let mut s = Server::new();
    let _m = basic_registry(&mut s, "alice", "right-pass");

    // no file: none is created
    let e = login(&s.url(), "alice", "wrong", &t.login_options(None)).unwrap_err();
    assert!(
        matches!(&e, Error::Authentication { message, .. } if message.contains("authentication rejected")),
        "{e:?}"
    );
    assert!(!e.to_string().contains("wrong"));
    assert!(!t.config().exists());

    // an existing file: byte for byte the same
    write_json(&t.config(), &fixture());
    let bytes = fs::read(t.config()).unwrap();
    let e = login(&s.url(), "alice", "wrong", &t.login_options(None)).unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
    assert_eq!(fs::read(t.config()).unwrap(), bytes);
}

#[test]
fn login_bearer_through_the_token_service() {
    let t = TempDir::new();
    let mut s = Server::new();
    let challenge = format!(
        r#"Bearer realm="{}/token",service="mock-registry""#,
        s.url()
    );
    let good = format!("Basic {}", b64("bob:bob-pass"));
    let _unauth = s
        .mock("GET", "/v2/")
        .match_header("authorization", Matcher::Missing)
        .with_status(401)
        .with_header("www-authenticate", &challenge)
        .create();
    let _ok = s
        .mock("GET", "/v2/")
        .match_header("authorization", "Bearer tok-123")
        .with_status(200)
        .with_body("{}")
        .expect_at_least(1)
        .create();
    let token = s
        .mock("GET", "/token")
        .match_query(Matcher::UrlEncoded(
            "service".into(),
            "mock-registry".into(),
        ))
        .match_header("authorization", good.as_str())
        .with_status(200)
        .with_body(r#"{"token":"tok-123","expires_in":300}"#)
        .expect_at_least(1)
        .create();
    let _refused = s
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .match_header(
            "authorization",
            Matcher::Exact(format!("Basic {}", b64("bob:wrong"))),
        )
        .with_status(401)
        .with_body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}"#)
        .create();

    write_json(&t.config(), &fixture());
    let bytes = fs::read(t.config()).unwrap();
    let e = login(&s.url(), "bob", "wrong", &t.login_options(None)).unwrap_err();
    assert!(
        matches!(&e, Error::Authentication { message, .. } if message.contains("authentication rejected")),
        "{e:?}"
    );
    assert_eq!(fs::read(t.config()).unwrap(), bytes, "nothing written");

    let stored = login(&s.url(), "bob", "bob-pass", &t.login_options(None)).unwrap();
    assert_eq!(stored, LoginStored::ConfigFile(t.config()));
    token.assert();
    let after = read_json(&t.config());
    assert_eq!(
        after["auths"][s.host_with_port()]["auth"],
        json!(b64("bob:bob-pass"))
    );
    assert_only_changed(&fixture(), &after, &[&s.host_with_port()]);
}

#[test]
fn login_unreachable_is_a_network_error_and_writes_nothing() {
    let t = TempDir::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let e = login(&url, "u", "p", &t.login_options(Some(quick_client(&url)))).unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e:?}");
    assert!(!t.config().exists());
    write_json(&t.config(), &fixture());
    let bytes = fs::read(t.config()).unwrap();
    let e = login(&url, "u", "p", &t.login_options(Some(quick_client(&url)))).unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e:?}");
    assert_eq!(fs::read(t.config()).unwrap(), bytes);
}

#[test]
fn login_refuses_a_corrupt_file_before_the_network_and_leaves_it_untouched() {
    let t = TempDir::new();
    let mut s = Server::new();
    let never = s.mock("GET", "/v2/").with_status(200).expect(0).create();
    let corrupt: &[u8] =
        b"{\n\t\"auths\": {\n\t\t\"x\": {\"auth\": \"eDp5\"}\n\t},\n\t\"proxies\": \n}\n";
    fs::write(t.config(), corrupt).unwrap();
    #[cfg(unix)]
    set_mode(&t.config(), 0o640);
    let e = login(&s.url(), "u", "p", &t.login_options(None)).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::Credentials(_)), "{e:?}");
    assert!(
        m.contains(&t.config().display().to_string()) && m.contains("line 6"),
        "{m}"
    );
    assert_eq!(fs::read(t.config()).unwrap(), corrupt);
    #[cfg(unix)]
    assert_eq!(mode(&t.config()), 0o640);
    never.assert();

    // a file that parses but would not survive a rewrite exactly: verified, then refused
    let _m = basic_registry(&mut s, "u", "p");
    let lossy: &[u8] = br#"{"auths": {}, "futureKey": 123456789012345678901234567890}"#;
    fs::write(t.config(), lossy).unwrap();
    let e = login(&s.url(), "u", "p", &t.login_options(None)).unwrap_err();
    assert!(e.to_string().contains("nothing was written"), "{e}");
    assert_eq!(fs::read(t.config()).unwrap(), lossy);
    let dup: &[u8] = br#"{"auths": {}, "proxies": {"a": 1}, "proxies": {"b": 2}}"#;
    fs::write(t.config(), dup).unwrap();
    assert!(login(&s.url(), "u", "p", &t.login_options(None)).is_err());
    assert_eq!(fs::read(t.config()).unwrap(), dup);
}

#[test]
fn login_argument_checks() {
    let t = TempDir::new();
    let o = t.login_options(None);
    for (r, u, p) in [
        ("h", "", "p"),
        ("h", "a:b", "p"),
        ("h", "u", ""),
        ("ho st", "u", "p"),
    ] {
        let e = login(r, u, p, &o).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    }
    assert!(!t.config().exists());
}

#[cfg(unix)]
#[test]
fn login_new_file_is_0600_in_a_0700_directory_at_the_explicit_path() {
    let t = TempDir::new();
    let mut s = Server::new();
    let _m = basic_registry(&mut s, "u", "p");
    let path = t.path().join("new").join("dir").join("my-config.json");
    let o = LoginOptions {
        config: ConfigOptions::with_config_path(&path),
        client: None,
    };
    let stored = login(&s.url(), "u", "p", &o).unwrap();
    assert_eq!(stored, LoginStored::ConfigFile(path.clone()));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&t.path().join("new")), 0o700);
    let names: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["my-config.json", "my-config.json.lock"]);
}

#[cfg(unix)]
#[test]
fn login_and_logout_through_helpers() {
    let t = TempDir::new();
    write_store_helper(&t, "fake");
    let mut s = Server::new();
    let _m = basic_registry(&mut s, "hu", "hpass");
    let key = s.host_with_port();

    // credHelpers: the file only loses the stale plain-text secret of this entry
    let mut before = fixture();
    before["credHelpers"] = json!({ key.clone(): "fake" });
    before["auths"][&key] = json!({"auth": b64("stale:stalepw"), "email": "keep@example.com"});
    write_json(&t.config(), &before);
    let stored = login(&s.url(), "hu", "hpass", &t.login_options(None)).unwrap();
    assert_eq!(stored, LoginStored::Helper("fake".into()));
    assert_eq!(
        stored.to_string(),
        "credential helper docker-credential-fake"
    );
    assert!(helper_log(&t).contains(&format!("store {key}")));
    assert_eq!(
        CredentialHelper::new("fake", &t.options())
            .get(&key)
            .unwrap(),
        Some(Credentials::basic("hu", "hpass"))
    );
    let after = read_json(&t.config());
    assert_eq!(after["auths"][&key], json!({"email": "keep@example.com"}));
    assert_only_changed(&before, &after, &[&key]);
    let r = resolve(&s.url(), None, &t.options()).unwrap();
    assert_eq!(r.source, Source::Helper("fake".into()));

    // without stale secrets the file is not rewritten at all
    let bytes = fs::read(t.config()).unwrap();
    login(&s.url(), "hu", "hpass", &t.login_options(None)).unwrap();
    assert_eq!(fs::read(t.config()).unwrap(), bytes);

    assert_eq!(logout(&s.url(), &t.options()).unwrap(), Logout::LoggedOut);
    assert!(helper_log(&t).contains(&format!("erase {key}")));
    assert_eq!(
        CredentialHelper::new("fake", &t.options())
            .get(&key)
            .unwrap(),
        None
    );
    assert_eq!(logout(&s.url(), &t.options()).unwrap(), Logout::NotLoggedIn);
    let after = read_json(&t.config());
    assert!(after["auths"].get(&key).is_none());
    assert_only_changed(&before, &after, &[&key]);

    // credsStore
    write_json(
        &t.config(),
        &json!({"credsStore": "fake", "currentContext": "x"}),
    );
    let bytes = fs::read(t.config()).unwrap();
    let stored = login(&s.url(), "hu", "hpass", &t.login_options(None)).unwrap();
    assert_eq!(stored, LoginStored::Helper("fake".into()));
    assert_eq!(fs::read(t.config()).unwrap(), bytes);
    assert_eq!(logout(&s.url(), &t.options()).unwrap(), Logout::LoggedOut);

    // a helper that fails to store: an error, and nothing in the file
    write_helper(
        &t.bin(),
        "nostore",
        "cat >/dev/null; echo 'store refused'; exit 1",
    );
    write_json(&t.config(), &json!({"credsStore": "nostore"}));
    let bytes = fs::read(t.config()).unwrap();
    let e = login(&s.url(), "hu", "hpass", &t.login_options(None)).unwrap_err();
    assert!(e.to_string().contains("store refused"), "{e}");
    assert_eq!(fs::read(t.config()).unwrap(), bytes);

    // a missing helper: refused before the network
    let mut s2 = Server::new();
    let never = s2.mock("GET", "/v2/").expect(0).create();
    write_json(&t.config(), &json!({"credsStore": "absent"}));
    let e = login(&s2.url(), "u", "p", &t.login_options(None)).unwrap_err();
    assert!(e.to_string().contains("docker-credential-absent"), "{e}");
    never.assert();
}

#[test]
fn login_to_docker_hub_uses_the_hub_key() {
    let t = TempDir::new();
    let mut s = Server::new();
    let _m = basic_registry(&mut s, "hubby", "hubpw");
    write_json(&t.config(), &fixture());
    // the template client points at the mock; the key is Docker Hub's
    let o = t.login_options(Some(quick_client(&s.url())));
    login("docker.io", "hubby", "hubpw", &o).unwrap();
    let after = read_json(&t.config());
    assert_eq!(
        after["auths"]["https://index.docker.io/v1/"],
        json!({"auth": b64("hubby:hubpw")})
    );
    assert_only_changed(&fixture(), &after, &["https://index.docker.io/v1/"]);
    assert_eq!(
        resolve("index.docker.io", None, &t.options())
            .unwrap()
            .credentials,
        Credentials::basic("hubby", "hubpw")
    );
}

// ---------------------------------------------------------------------------------------------
// Logout

#[test]
fn logout_removes_every_key_of_the_registry_and_nothing_else() {
    let t = TempDir::new();
    let mut before = fixture();
    before["auths"]["old.example.com:5000"] = json!({"auth": b64("x:y")});
    before["auths"]["http://old.example.com:5000"] = json!({});
    write_json(&t.config(), &before);
    let o = t.options();
    assert_eq!(
        logout("old.example.com:5000", &o).unwrap(),
        Logout::LoggedOut
    );
    let after = read_json(&t.config());
    assert_only_changed(
        &before,
        &after,
        &[
            "old.example.com:5000",
            "http://old.example.com:5000",
            "https://old.example.com:5000/v2/",
        ],
    );
    assert_eq!(
        after["auths"].as_object().unwrap().len(),
        before["auths"].as_object().unwrap().len() - 3
    );
    assert_eq!(
        resolve("old.example.com:5000", None, &o).unwrap().source,
        Source::Anonymous
    );
    assert_eq!(
        logout("old.example.com:5000", &o).unwrap(),
        Logout::NotLoggedIn
    );
    assert_eq!(logout("docker.io", &o).unwrap(), Logout::LoggedOut);
    assert!(
        read_json(&t.config())["auths"]
            .get("https://index.docker.io/v1/")
            .is_none()
    );

    // nothing to remove: the file is not rewritten
    let bytes = fs::read(t.config()).unwrap();
    assert_eq!(
        logout("never.example.com", &o).unwrap(),
        Logout::NotLoggedIn
    );
    assert_eq!(fs::read(t.config()).unwrap(), bytes);
}

#[test]
fn logout_never_creates_a_file() {
    let t = TempDir::new();
    let path = t.path().join("absent").join("config.json");
    let o = ConfigOptions::with_config_path(&path);
    assert_eq!(logout("h", &o).unwrap(), Logout::NotLoggedIn);
    assert!(!t.path().join("absent").exists());
}

#[test]
fn logout_leaves_a_corrupt_file_untouched() {
    let t = TempDir::new();
    let corrupt: &[u8] = b"{\"auths\": {\"h\": {\"auth\": \"eDp5\"}}";
    fs::write(t.config(), corrupt).unwrap();
    let e = logout("h", &t.options()).unwrap_err();
    assert!(matches!(e, Error::Credentials(_)), "{e:?}");
    assert_eq!(fs::read(t.config()).unwrap(), corrupt);
}

// ---------------------------------------------------------------------------------------------
// Secrets never shown

#[test]
fn no_secret_in_debug_or_display() {
    let t = TempDir::new();
    write_json(&t.config(), &fixture());
    let secrets = [
        "hubpass",
        "oldpass",
        "ghp_secret",
        "idtok-secret",
        "rtok-secret",
        &b64("hubuser:hubpass"),
    ];
    let mut shown = String::new();
    for r in [
        "docker.io",
        "old.example.com:5000",
        "ghcr.io",
        "id.example.com",
        "rt.example.com",
    ] {
        let res = resolve(r, None, &t.options()).unwrap();
        shown += &format!("{res:?} {} {:?}\n", res.source, res.credentials);
    }
    let cfg = DockerConfig::load(t.config()).unwrap().unwrap();
    shown += &format!("{cfg:?}\n");
    let lo = LoginOptions {
        config: t.options(),
        client: Some(
            Client::builder("https://u:builder-secret@h")
                .credentials(Credentials::basic("u", "builder-secret")),
        ),
    };
    shown += &format!("{lo:?} {:?}\n", t.options());
    let e = login("ho st", "u", "hubpass", &lo).unwrap_err();
    shown += &format!("{e} {e:?}\n");
    for s in secrets.iter().chain(&["builder-secret"]) {
        assert!(!shown.contains(s), "{s} shown in:\n{shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// Ten logins from ten processes at once

#[test]
fn ten_concurrent_logins_from_ten_processes_leave_ten_entries() {
    let t = TempDir::new();
    let before = fixture();
    write_json(&t.config(), &before);
    #[cfg(unix)]
    set_mode(&t.config(), 0o640);
    let go = t.path().join("go");
    let mut children = Vec::new();
    for i in 0..10 {
        let out = t.path().join(format!("child-{i}.key"));
        let child = child_command("concurrent_login")
            .env("OCIREG_T_CONFIG", t.config())
            .env("OCIREG_T_GO", &go)
            .env("OCIREG_T_OUT", &out)
            .spawn()
            .unwrap();
        children.push((child, out));
    }
    // every child is waiting for the go file: they start together
    std::thread::sleep(Duration::from_millis(300));
    fs::write(&go, "").unwrap();
    let mut keys = Vec::new();
    for (child, out) in children {
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        keys.push(fs::read_to_string(out).unwrap());
    }
    let after = read_json(&t.config());
    let auths = after["auths"].as_object().unwrap();
    for k in &keys {
        assert!(
            auths.get(k).is_some_and(|e| e["auth"].is_string()),
            "the entry of {k} was lost"
        );
    }
    assert_eq!(auths.len(), before["auths"].as_object().unwrap().len() + 10);
    let ours: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_only_changed(&before, &after, &ours);
    #[cfg(unix)]
    assert_eq!(mode(&t.config()), 0o640);
    // no temporary file left behind
    let leftovers: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

// ---------------------------------------------------------------------------------------------
// Environment-dependent paths, each in a child process

fn child_command(scenario: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OCIREG_CREDS_CHILD", scenario)
    .env_remove("DOCKER_CONFIG")
    .env_remove("REGISTRY_AUTH_FILE")
    .env_remove("XDG_RUNTIME_DIR")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    c
}

fn run_child(scenario: &str, t: &TempDir, envs: &[(&str, PathBuf)]) {
    let mut c = child_command(scenario);
    c.env("OCIREG_T_DIR", t.path());
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.contains("CHILD-OK"),
        "scenario {scenario} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn docker_config_env_and_home() {
    let t = TempDir::new();
    let dc = t.path().join("dc");
    let home = t.path().join("home");
    fs::create_dir_all(&dc).unwrap();
    fs::create_dir_all(home.join(".docker")).unwrap();
    write_json(
        &dc.join("config.json"),
        &json!({"auths": {"h": {"auth": b64("dc:dcpw")}}}),
    );
    write_json(
        &home.join(".docker").join("config.json"),
        &json!({"auths": {"h": {"auth": b64("home:homepw")}}}),
    );
    run_child(
        "docker_config_env",
        &t,
        &[("DOCKER_CONFIG", dc), ("HOME", home.clone())],
    );
    run_child("home_only", &t, &[("HOME", home)]);
}

#[test]
fn login_creates_the_file_where_it_was_told() {
    let t = TempDir::new();
    let dc = t.path().join("dc-new");
    let home = t.path().join("home");
    fs::create_dir_all(&home).unwrap();
    run_child(
        "login_locations",
        &t,
        &[("DOCKER_CONFIG", dc.clone()), ("HOME", home.clone())],
    );
    assert!(dc.join("config.json").exists());
    assert!(t.path().join("explicit").join("config.json").exists());
    assert!(
        !home.join(".docker").exists(),
        "the home directory was touched"
    );
}

#[test]
fn containers_auth_json() {
    let t = TempDir::new();
    let run = t.path().join("run");
    fs::create_dir_all(run.join("containers")).unwrap();
    write_json(
        &run.join("containers").join("auth.json"),
        &json!({"auths": {"quay.io": {"auth": b64("xdg:xdgpw")},
                          "quay.io/team": {"auth": b64("scoped:pw")},
                          "both": {"auth": b64("c:cpw")}}}),
    );
    let raf = t.path().join("raf.json");
    write_json(
        &raf,
        &json!({"auths": {"docker.io": {"auth": b64("raf:rafpw")}}}),
    );
    write_json(
        &t.config(),
        &json!({"auths": {"both": {"auth": b64("d:dpw")}}}),
    );
    run_child("containers_xdg", &t, &[("XDG_RUNTIME_DIR", run.clone())]);
    run_child(
        "containers_raf",
        &t,
        &[("XDG_RUNTIME_DIR", run), ("REGISTRY_AUTH_FILE", raf)],
    );
}

/// Runs one scenario when invoked by [`child_command`]; passes trivially otherwise.
#[test]
fn child_process_entry() {
    let Ok(scenario) = std::env::var("OCIREG_CREDS_CHILD") else {
        return;
    };
    let dir = std::env::var_os("OCIREG_T_DIR").map(PathBuf::from);
    let env_path = |k: &str| PathBuf::from(std::env::var_os(k).unwrap());
    match scenario.as_str() {
        "concurrent_login" => {
            let config = env_path("OCIREG_T_CONFIG");
            let go = env_path("OCIREG_T_GO");
            let mut s = Server::new();
            let _m = basic_registry(&mut s, "user", "pw");
            let start = Instant::now();
            while !go.exists() {
                assert!(start.elapsed() < Duration::from_secs(30), "no go signal");
                std::thread::sleep(Duration::from_millis(2));
            }
            let o = LoginOptions {
                config: ConfigOptions::with_config_path(&config),
                client: None,
            };
            let stored = login(&s.url(), "user", "pw", &o).unwrap();
            assert_eq!(stored, LoginStored::ConfigFile(config));
            fs::write(env_path("OCIREG_T_OUT"), s.host_with_port()).unwrap();
        }
        "docker_config_env" => {
            let dc = env_path("DOCKER_CONFIG");
            let o = ConfigOptions::default();
            assert_eq!(o.resolved_config_path().unwrap(), dc.join("config.json"));
            let r = resolve("h", None, &o).unwrap();
            assert_eq!(r.credentials, Credentials::basic("dc", "dcpw"));
            assert_eq!(r.source, Source::ConfigFile(dc.join("config.json")));
            // the explicit path still wins
            let explicit = dir.unwrap().join("nothing.json");
            let o = ConfigOptions::with_config_path(&explicit);
            assert_eq!(o.resolved_config_path().unwrap(), explicit);
            assert_eq!(resolve("h", None, &o).unwrap().source, Source::Anonymous);
            // and so does the client builder's
            let c = Client::builder("h").build().unwrap();
            assert_eq!(
                c.credential_source().to_string(),
                format!("config file {}", dc.join("config.json").display())
            );
        }
        "home_only" => {
            let home = env_path("HOME");
            let path = home.join(".docker").join("config.json");
            let o = ConfigOptions::default();
            assert_eq!(o.resolved_config_path().unwrap(), path);
            let r = resolve("h", None, &o).unwrap();
            assert_eq!(r.credentials, Credentials::basic("home", "homepw"));
            assert_eq!(r.source, Source::ConfigFile(path));
        }
        "login_locations" => {
            let dir = dir.unwrap();
            let dc = env_path("DOCKER_CONFIG");
            let mut s = Server::new();
            let _m = basic_registry(&mut s, "u", "p");
            // an explicit path that does not exist yet is where the file is created
            let explicit = dir.join("explicit").join("config.json");
            let o = LoginOptions {
                config: ConfigOptions::with_config_path(&explicit),
                client: None,
            };
            assert_eq!(
                login(&s.url(), "u", "p", &o).unwrap(),
                LoginStored::ConfigFile(explicit)
            );
            assert!(!dc.exists());
            // no explicit path: $DOCKER_CONFIG/config.json, even though it does not exist yet
            let o = LoginOptions::default();
            assert_eq!(
                login(&s.url(), "u", "p", &o).unwrap(),
                LoginStored::ConfigFile(dc.join("config.json"))
            );
            #[cfg(unix)]
            {
                assert_eq!(mode(&dc), 0o700);
                assert_eq!(mode(&dc.join("config.json")), 0o600);
            }
            assert_eq!(
                logout(&s.url(), &ConfigOptions::default()).unwrap(),
                Logout::LoggedOut
            );
        }
        "containers_xdg" => {
            let run = env_path("XDG_RUNTIME_DIR");
            let auth = run.join("containers").join("auth.json");
            let o = ConfigOptions::with_config_path(dir.unwrap().join("config.json"));
            assert_eq!(o.containers_auth_path(), Some(auth.clone()));
            let r = resolve("quay.io", None, &o).unwrap();
            assert_eq!(r.credentials, Credentials::basic("xdg", "xdgpw"));
            assert_eq!(r.source, Source::ConfigFile(auth.clone()));
            // the docker file comes first
            let r = resolve("both", None, &o).unwrap();
            assert_eq!(r.credentials, Credentials::basic("d", "dpw"));
            // switched off
            let off = ConfigOptions {
                containers_auth: false,
                ..o.clone()
            };
            assert_eq!(off.containers_auth_path(), None);
            assert_eq!(
                resolve("quay.io", None, &off).unwrap().source,
                Source::Anonymous
            );
        }
        "containers_raf" => {
            let raf = env_path("REGISTRY_AUTH_FILE");
            let o = ConfigOptions::with_config_path(dir.unwrap().join("config.json"));
            assert_eq!(o.containers_auth_path(), Some(raf.clone()));
            let r = resolve("registry-1.docker.io", None, &o).unwrap();
            assert_eq!(r.credentials, Credentials::basic("raf", "rafpw"));
            assert_eq!(r.source, Source::ConfigFile(raf));
            // REGISTRY_AUTH_FILE replaces the XDG file
            assert_eq!(
                resolve("quay.io", None, &o).unwrap().source,
                Source::Anonymous
            );
        }
        other => panic!("unknown scenario {other}"),
    }
    println!("CHILD-OK");
}

// Keep the re-exports the crate promises in use.
#[allow(dead_code)]
fn _api_shape() {
    let _: fn(&str, Option<&Credentials>, &ConfigOptions) -> ocireg::Result<credentials::Resolved> =
        resolve;
}

#[test]
fn temp_files_of_killed_writers_are_removed_by_the_next_write() {
    // A writer killed mid-write (kill -9) leaves `.config.json.tmp-<pid>-…`, 0600, which may
    // hold a credential. The next write removes those of processes that no longer run, and
    // leaves those of running processes (pid 1 always runs) alone.
    let t = TempDir::new();
    write_json(&t.config(), &fixture());
    let dir = t.config().parent().unwrap().to_path_buf();
    let dead = dir.join(".config.json.tmp-4194305-AbCdEf");
    let alive = dir.join(".config.json.tmp-1-AbCdEf");
    let other = dir.join(".other.json.tmp-4194305-AbCdEf");
    for p in [&dead, &alive, &other] {
        fs::write(p, "{\"auths\":{\"x\":{\"auth\":\"c2VjcmV0\"}}}").unwrap();
    }
    let mut s = Server::new();
    let _m = basic_registry(&mut s, "alice", "right-pass");
    login(&s.url(), "alice", "right-pass", &t.login_options(None)).unwrap();
    assert!(!dead.exists(), "the dead writer's temporary file is gone");
    assert!(alive.exists(), "a running writer's file is left alone");
    assert!(
        other.exists(),
        "another file's temporary files are not ours"
    );
    let ours: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".config.json.tmp-") && !n.starts_with(".config.json.tmp-1-"))
        .collect();
    assert!(
        ours.is_empty(),
        "this write left no temporary file: {ours:?}"
    );
}
