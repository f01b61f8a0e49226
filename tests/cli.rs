//! The `ocireg` command line tool, run as a program against the in-memory registry.

use std::path::PathBuf;
use std::process::{Command, Output};

use ocireg::testing::{AuthMode, BearerPolicy, Registry};
use ocireg::{Client, Credentials, ImageBuilder, PullOptions, PushOptions, media_types};

fn ocireg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ocireg"))
        .args(args)
        .env_remove("DOCKER_CONFIG")
        .output()
        .expect("run ocireg")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmpdir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocireg-cli-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn login_push_tags_search_pull_verify_logout() {
    let reg = Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
            "alice",
            "cli-secret",
        )])))
        .start()
        .unwrap();
    let host = reg.host();
    let dir = tmpdir("flow");
    let config = dir.join("docker").join("config.json");
    let cfg = config.to_str().unwrap();

    // A layout to push: build an image, push it with the library, pull it into a layout.
    let c = Client::builder(&reg.url())
        .credentials(Credentials::basic("alice", "cli-secret"))
        .build()
        .unwrap();
    let image = ImageBuilder::new()
        .config(br#"{"architecture":"amd64","os":"linux"}"#.to_vec())
        .layer_bytes(
            ocireg::testing::tar_gz(&[("f", b"cli")]),
            media_types::OCI_LAYER_GZIP,
        )
        .build()
        .unwrap();
    c.push_image("seed/app", "v1", &image, &PushOptions::default())
        .unwrap();
    let layout = dir.join("layout");
    c.pull_image("seed/app", "v1", &layout, &PullOptions::default())
        .unwrap();
    let layout = layout.to_str().unwrap();

    let wrong = ocireg(&[
        "--docker-config",
        cfg,
        "login",
        &host,
        "-u",
        "alice",
        "-p",
        "nope",
    ]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("authentication rejected"),
        "{}",
        text(&wrong)
    );
    assert!(!text(&wrong).contains("nope"));
    assert!(!config.exists(), "nothing stored after a failed login");

    let ok = ocireg(&[
        "--docker-config",
        cfg,
        "login",
        &host,
        "-u",
        "alice",
        "-p",
        "cli-secret",
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("Login succeeded"));

    let status = ocireg(&["--docker-config", cfg, "auth-status", &host]);
    assert!(text(&status).contains("config file"), "{}", text(&status));

    let reference = format!("{host}/cli/app:v2");
    let push = ocireg(&["--docker-config", cfg, "push", layout, &reference]);
    assert!(push.status.success(), "{}", text(&push));
    assert!(text(&push).contains("Verified"), "{}", text(&push));

    let tags = ocireg(&["--docker-config", cfg, "tags", &format!("{host}/cli/app")]);
    assert_eq!(String::from_utf8_lossy(&tags.stdout), "v2\n");
    let search = ocireg(&["--docker-config", cfg, "search", &host, "cli/"]);
    assert_eq!(String::from_utf8_lossy(&search.stdout), "cli/app\n");
    let digest = ocireg(&["--docker-config", cfg, "digest", &reference]);
    assert_eq!(
        String::from_utf8_lossy(&digest.stdout).trim(),
        image.digest().to_string()
    );
    let verify = ocireg(&["--docker-config", cfg, "verify", &reference, layout]);
    assert!(verify.status.success(), "{}", text(&verify));

    let out = dir.join("pulled");
    let pull = ocireg(&[
        "--docker-config",
        cfg,
        "pull",
        &reference,
        out.to_str().unwrap(),
    ]);
    assert!(pull.status.success(), "{}", text(&pull));
    assert!(out.join("index.json").exists());

    let missing = ocireg(&["--docker-config", cfg, "tags", &format!("{host}/cli/none")]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains("not found"), "{}", text(&missing));

    let logout = ocireg(&["--docker-config", cfg, "logout", &host]);
    assert!(text(&logout).contains("Removing login credentials"));
    let again = ocireg(&["--docker-config", cfg, "logout", &host]);
    assert!(text(&again).contains("Not logged in"));
    let denied = ocireg(&["--docker-config", cfg, "tags", &format!("{host}/cli/app")]);
    assert_eq!(
        denied.status.code(),
        Some(1),
        "anonymous now: {}",
        text(&denied)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ocireg(&[]).status.code(), Some(2));
    assert_eq!(ocireg(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(ocireg(&["--bogus"]).status.code(), Some(2));
    assert_eq!(ocireg(&["tags"]).status.code(), Some(2));
    // A bad reference is a usage error (2), before any request.
    let bad = ocireg(&["tags", "UPPER/case"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("invalid reference"), "{}", text(&bad));
}

#[test]
fn a_password_in_a_reference_is_never_printed() {
    for args in [
        &["tags", "http://alice:PW-9876@127.0.0.1:5420/team/app"][..],
        &["tags", "alice:PW-9876@127.0.0.1:5420/team/app"],
        &[
            "manifest",
            "https://alice:PW-9876@127.0.0.1:5420/Team/app:v1",
        ],
        &["ping", "https://alice:PW-9876@ho st"],
    ] {
        let out = ocireg(args);
        assert!(!out.status.success());
        let t = text(&out);
        assert!(!t.contains("PW-9876"), "{args:?}: {t}");
        assert!(t.contains("<redacted>"), "{args:?}: {t}");
    }
}

#[test]
fn timeout_bounds_a_request_against_a_stalled_registry() {
    let reg = Registry::start().unwrap();
    reg.add_image("team/app", "v1", b"{}", &[b"layer"]).unwrap();
    reg.set_delay(std::time::Duration::from_secs(20));
    let repo = format!("{}/team/app", reg.host());
    let out = ocireg(&["--timeout", "0.5", "tags", &repo]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("timed out"), "{}", text(&out));
    reg.set_delay(std::time::Duration::ZERO);
    let bad = ocireg(&["--timeout", "soon", "tags", &repo]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}
