//! The `ocireg` CLI against the real registries of `tests/rig` (Debian's docker-registry 2.8):
//! login through the token service, push, copy between two registries (checked by digest and by
//! skopeo), delete by tag, TLS with `--ca-cert`, and `--debug-calls` with no secret. Skipped
//! without the rig's `OCIREG_RIG_*` variables, unless `OCIREG_REQUIRE_RIG=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::rig;

const BIN: &str = env!("CARGO_BIN_EXE_ocireg");

fn scratch(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocireg-cli-real-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .output()
        .expect("run ocireg")
}

fn both(o: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", both(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok_json(o: &Output) -> Value {
    let d: Value = serde_json::from_str(&ok(o)).unwrap_or_else(|e| panic!("{e}: {}", both(o)));
    assert_eq!(d["status"], "success", "{d}");
    d
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{}", std::process::id(), nanos % 1_000_000_000)
}

/// A one-layer OCI layout made by tests/rig/make-oci-layout.sh; returns its manifest digest.
fn make_layout(dir: &Path, text: &str) -> String {
    let o = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/rig/make-oci-layout.sh"
        ))
        .arg(dir)
        .arg("latest")
        .arg(text)
        .output()
        .expect("bash");
    assert!(o.status.success(), "{}", both(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn the_cli_against_the_real_registries() {
    let (Some(open), Some(token), Some(user), Some(password)) = (
        rig("OCIREG_RIG_OPEN"),
        rig("OCIREG_RIG_TOKEN"),
        rig("OCIREG_RIG_USER"),
        rig("OCIREG_RIG_PASSWORD"),
    ) else {
        return;
    };
    let home = scratch("flow");
    let cfg = home.join("docker/config.json");
    let cfg = cfg.to_str().unwrap();
    let lay = home.join("layout");
    let digest = make_layout(&lay, &unique("cli real "));
    let lay = lay.to_str().unwrap();
    let repo = unique("cli/app");

    // Login through the token service: the seed's messages.
    let wrong = run(
        &home,
        &[
            "auth",
            "login",
            "-r",
            &token,
            "-u",
            &user,
            "-p",
            "wrong-pass",
            "--docker-config",
            cfg,
        ],
    );
    assert_eq!(wrong.status.code(), Some(1), "{}", both(&wrong));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).starts_with(&format!(
            "Error: Login failed for {token}: authentication rejected"
        )),
        "{}",
        both(&wrong)
    );
    let login = run(
        &home,
        &[
            "--debug-calls",
            "auth",
            "login",
            "-r",
            &token,
            "-u",
            &user,
            "-p",
            &password,
            "--docker-config",
            cfg,
        ],
    );
    assert_eq!(ok(&login), "Login succeeded.\n");
    let log = both(&login);
    assert!(log.contains("debug-calls: GET http://"), "{log}");
    assert!(!log.contains(&password), "{log}");
    for line in log
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("authorization:"))
    {
        assert!(line.ends_with("<redacted>"), "{line}");
    }

    // Push to the open registry, copy to the token registry (streamed), verify both ways.
    let src = format!("{open}/{repo}:v1");
    let push = ok(&run(&home, &["image", "push", lay, "-i", &src]));
    assert!(push.contains(&digest), "{push}");
    let dst = format!("{token}/{repo}:v1");
    let copy = ok_json(&run(
        &home,
        &[
            "--json",
            "--docker-config",
            cfg,
            "image",
            "copy",
            "-i",
            &src,
            &dst,
        ],
    ));
    assert_eq!(copy["copied"]["digest"], digest.as_str());
    assert!(
        copy["copied"]["stats"]["blobs_uploaded"].as_u64().unwrap() >= 2,
        "{copy}"
    );
    let d = ok_json(&run(
        &home,
        &[
            "--json",
            "--docker-config",
            cfg,
            "manifest",
            "digest",
            "-i",
            &dst,
        ],
    ));
    assert_eq!(d["digest"], digest.as_str());
    ok(&run(
        &home,
        &["--docker-config", cfg, "image", "verify", "-i", &dst, lay],
    ));
    if let Ok(o) = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("{user}:{password}"))
        .arg(format!("docker://{dst}"))
        .output()
    {
        assert!(o.status.success(), "skopeo: {}", both(&o));
        let sum = ocireg::Digest::sha256_of(&o.stdout);
        assert_eq!(sum.to_string(), digest, "skopeo sees the same manifest");
    } else if std::env::var("OCIREG_REQUIRE_SKOPEO").as_deref() == Ok("1") {
        panic!("skopeo is required (OCIREG_REQUIRE_SKOPEO=1)");
    }

    // Tags, a second tag, delete by tag (the manifest goes, with every tag on it).
    ok(&run(
        &home,
        &["--docker-config", cfg, "image", "tag", "-i", &dst, "stable"],
    ));
    let tags = ok_json(&run(
        &home,
        &[
            "--json",
            "--docker-config",
            cfg,
            "tag",
            "list",
            "-i",
            &format!("{token}/{repo}"),
        ],
    ));
    let mut names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["stable", "v1"]);
    let search = ok(&run(
        &home,
        &[
            "--docker-config",
            cfg,
            "catalog",
            "search",
            &repo,
            "-r",
            &token,
        ],
    ));
    assert_eq!(search, format!("{repo}\n"));
    let gone = ok_json(&run(
        &home,
        &[
            "--json",
            "--docker-config",
            cfg,
            "tag",
            "delete",
            "-i",
            &format!("{token}/{repo}:stable"),
        ],
    ));
    assert_eq!(gone["manifest_deleted"], true, "{gone}");
    let removed: Vec<&str> = gone["removed_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        removed.contains(&"stable") && removed.contains(&"v1"),
        "{gone}"
    );
    let missing = run(
        &home,
        &[
            "--json",
            "--docker-config",
            cfg,
            "manifest",
            "get",
            "-i",
            &dst,
        ],
    );
    assert_eq!(missing.status.code(), Some(1), "{}", both(&missing));

    // Logout: anonymous again, and the token registry refuses.
    assert_eq!(
        ok(&run(
            &home,
            &["auth", "logout", "-r", &token, "--docker-config", cfg]
        )),
        format!("Removing login credentials for {token}.\n")
    );
    let denied = run(
        &home,
        &[
            "--json",
            "--docker-config",
            cfg,
            "tag",
            "list",
            "-i",
            &format!("{token}/{repo}"),
        ],
    );
    assert_eq!(denied.status.code(), Some(1), "{}", both(&denied));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn tls_with_ca_cert_and_without() {
    let (Some(tls), Some(ca)) = (rig("OCIREG_RIG_TLS"), rig("OCIREG_RIG_CA")) else {
        return;
    };
    let home = scratch("tls");
    let o = ok(&run(&home, &["--ca-cert", &ca, "ping", "-r", &tls]));
    assert!(o.contains("API v2"), "{o}");
    let untrusted = run(&home, &["--json", "ping", "-r", &format!("https://{tls}")]);
    assert_eq!(untrusted.status.code(), Some(1), "{}", both(&untrusted));
    let d: Value = serde_json::from_slice(&untrusted.stdout).unwrap();
    assert_eq!(d["kind"], "tls", "{d}");
    let _ = std::fs::remove_dir_all(&home);
}
