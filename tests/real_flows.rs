//! Whole flows against real registries (Debian's docker-registry 2.8 started by tests/rig) in the
//! configurations users have — Basic (htpasswd), Bearer (token server), TLS — cross-checked
//! with an independent client, skopeo: login / logout (config file and credential helper),
//! push of a built image and of an OCI layout, verify, pull back with identical digests, skopeo
//! copies in both directions, skopeo reading the credentials ocireg stored; under Bearer also
//! a cross-repository mount (two scopes), anonymous pull of public/, a push refused for lack of
//! scope, a wrong password, and a token that expires in the middle of a long push.
//!
//! Without the rig's `OCIREG_RIG_*` variables these tests print a skip note, unless
//! `OCIREG_REQUIRE_RIG=1` (CI), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use ocireg::credentials::ConfigOptions;
use ocireg::{
    Client, ClientBuilder, Credentials, Error, Image, ImageBuilder, PullOptions, PushOptions,
    Pushed, VerifyOutcome, media_types,
};
use ocireg::{LoginOptions, LoginStored, Logout};

mod common;
use common::{rig, run, token_requests};

fn skopeo() -> Option<&'static str> {
    let ok = Command::new("skopeo")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some("skopeo")
    } else if std::env::var("OCIREG_REQUIRE_SKOPEO").as_deref() == Ok("1") {
        panic!("skopeo is not installed but OCIREG_REQUIRE_SKOPEO=1");
    } else {
        eprintln!("skipped: skopeo is not installed");
        None
    }
}

fn tmpdir(label: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "ocireg-flows-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn nonce() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}x{}", std::process::id(), n % 10_000_000_000)
}

fn image(seed: &str, layers: usize, layer_size: usize) -> Image {
    let mut b = ImageBuilder::new().config(
        format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"Labels":{{"seed":"{seed}"}}}}}}"#)
            .into_bytes(),
    );
    for i in 0..layers {
        let mut bytes = format!("{seed}-{i}-").into_bytes();
        bytes.resize(layer_size, (i % 251) as u8);
        let layer = ocireg::testing::tar_gz(&[(&format!("layer-{i}.bin"), &bytes)]);
        b = b.layer_bytes(layer, media_types::OCI_LAYER_GZIP);
    }
    b.build().unwrap()
}

/// One registry configuration of the matrix.
struct Config {
    label: &'static str,
    host: String,
    /// `--tls-verify=false` for plain http, or `--cert-dir DIR` for TLS (skopeo flags).
    skopeo_tls: Vec<String>,
    skopeo_creds: Option<String>,
    builder: ClientBuilder,
}

impl Config {
    fn client(&self, creds: Credentials) -> Client {
        self.builder.clone().credentials(creds).build().unwrap()
    }

    fn skopeo_args(&self, direction: &str) -> Vec<String> {
        let mut a = Vec::new();
        for f in &self.skopeo_tls {
            a.push(f.replace("--", &format!("--{direction}-")));
        }
        if let Some(c) = &self.skopeo_creds {
            a.push(format!("--{direction}-creds={c}"));
        }
        a
    }
}

fn user() -> (String, String) {
    (
        std::env::var("OCIREG_RIG_USER").unwrap_or_else(|_| "alice".into()),
        std::env::var("OCIREG_RIG_PASSWORD").unwrap_or_else(|_| "secret".into()),
    )
}

fn http_config(label: &'static str, var: &str, with_user: bool) -> Option<Config> {
    let host = rig(var)?;
    let (u, p) = user();
    Some(Config {
        label,
        builder: Client::builder(&format!("http://{host}")),
        host,
        skopeo_tls: vec!["--tls-verify=false".into()],
        skopeo_creds: with_user.then(|| format!("{u}:{p}")),
    })
}

fn tls_config() -> Option<Config> {
    let host = rig("OCIREG_RIG_TLS")?;
    let ca = std::fs::read(rig("OCIREG_RIG_CA")?).unwrap();
    let certs_d = rig("OCIREG_RIG_CERTS_D")?;
    Some(Config {
        label: "tls",
        builder: Client::builder(&format!("https://{host}")).ca_cert_pem(ca),
        host,
        skopeo_tls: vec![format!("--cert-dir={certs_d}")],
        skopeo_creds: None,
    })
}

/// login (checked against /v2/) into a temporary docker config, logout, and login through a
/// fake credential helper; skopeo reads what ocireg stored.
fn login_flow(cfg: &Config, creds: &(String, String)) {
    let dir = tmpdir(&format!("login-{}", cfg.label));
    let config_path = dir.join("docker").join("config.json");
    let options = LoginOptions {
        config: ConfigOptions::with_config_path(&config_path),
        client: Some(cfg.builder.clone()),
    };
    let stored = ocireg::login(&cfg.host, &creds.0, &creds.1, &options)
        .unwrap_or_else(|e| panic!("{}: login: {e}", cfg.label));
    assert_eq!(stored, LoginStored::ConfigFile(config_path.clone()));
    // A client without explicit credentials finds them through the chain.
    let c = cfg
        .builder
        .clone()
        .config_options(ConfigOptions::with_config_path(&config_path))
        .build()
        .unwrap();
    assert_eq!(
        c.credential_source(),
        &ocireg::credentials::Source::ConfigFile(config_path.clone())
    );
    c.ping().unwrap();

    if let Some(skopeo) = skopeo() {
        // skopeo reads the file ocireg wrote: push something, then inspect it with --authfile.
        let repo = format!("flows/authfile-{}-{}", cfg.label, nonce());
        c.push_image(&repo, "v1", &image(&repo, 1, 100), &PushOptions::default())
            .unwrap();
        let mut args = vec![
            "inspect".to_string(),
            "--authfile".into(),
            config_path.display().to_string(),
        ];
        args.extend(cfg.skopeo_tls.iter().cloned());
        args.push(format!("docker://{}/{repo}:v1", cfg.host));
        let out = run(Command::new(skopeo).args(&args));
        assert!(out.contains("\"Digest\""), "{out}");
    }

    assert_eq!(
        ocireg::logout(&cfg.host, &options.config).unwrap(),
        Logout::LoggedOut
    );
    assert_eq!(
        ocireg::logout(&cfg.host, &options.config).unwrap(),
        Logout::NotLoggedIn
    );

    // Wrong password: nothing stored.
    let before = std::fs::read(&config_path).unwrap();
    if cfg.skopeo_creds.is_some() {
        let e = ocireg::login(&cfg.host, &creds.0, "wrong-password", &options).unwrap_err();
        assert!(
            matches!(e, Error::Authentication { .. }),
            "{}: {e:?}",
            cfg.label
        );
        assert_eq!(
            std::fs::read(&config_path).unwrap(),
            before,
            "nothing written"
        );
    }

    // Through a credential helper named in credHelpers.
    let helper_dir = dir.join("bin");
    std::fs::create_dir_all(&helper_dir).unwrap();
    let store = dir.join("helper-store");
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  store) cat > '{s}' ;;\n  get) if [ -s '{s}' ]; then cat '{s}'; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n  erase) rm -f '{s}' ;;\n  list) echo '{{}}' ;;\nesac\n",
        s = store.display()
    );
    let helper = helper_dir.join("docker-credential-flowtest");
    std::fs::write(&helper, script).unwrap();
    let mut perms = std::fs::metadata(&helper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&helper, perms).unwrap();
    let helper_config = dir.join("helper").join("config.json");
    std::fs::create_dir_all(helper_config.parent().unwrap()).unwrap();
    std::fs::write(
        &helper_config,
        format!(
            r#"{{"credHelpers":{{"{}":"flowtest"}},"proxies":{{"keep":"me"}}}}"#,
            cfg.host
        ),
    )
    .unwrap();
    let mut hconf = ConfigOptions::with_config_path(&helper_config);
    hconf.helper_dirs = vec![helper_dir];
    let hopts = LoginOptions {
        config: hconf.clone(),
        client: Some(cfg.builder.clone()),
    };
    let stored = ocireg::login(&cfg.host, &creds.0, &creds.1, &hopts).unwrap();
    assert_eq!(stored, LoginStored::Helper("flowtest".into()));
    assert!(std::fs::read_to_string(&store).unwrap().contains(&creds.0));
    let c = cfg
        .builder
        .clone()
        .config_options(hconf.clone())
        .build()
        .unwrap();
    assert_eq!(
        c.credential_source(),
        &ocireg::credentials::Source::Helper("flowtest".into())
    );
    c.ping().unwrap();
    assert!(
        std::fs::read_to_string(&helper_config)
            .unwrap()
            .contains("keep"),
        "foreign keys kept"
    );
    assert_eq!(
        ocireg::logout(&cfg.host, &hconf).unwrap(),
        Logout::LoggedOut
    );
    assert!(!store.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Push a built image and an OCI layout, verify, pull back, compare digests; skopeo copies in
/// both directions.
fn push_flow(cfg: &Config, c: &Client) {
    let dir = tmpdir(&format!("push-{}", cfg.label));
    let repo = format!("flows/{}-{}", cfg.label, nonce());

    let built = image(&repo, 3, 50_000);
    let pushed = c
        .push_image(&repo, "built", &built, &PushOptions::default())
        .unwrap_or_else(|e| panic!("{}: push: {e}", cfg.label));
    assert_eq!(&pushed.digest, built.digest());
    let report = c.verify(&repo, &pushed);
    assert_eq!(
        report.outcome,
        VerifyOutcome::Verified,
        "{}: {report:?}",
        cfg.label
    );

    // Pull back into an OCI layout: same digests everywhere.
    let layout = dir.join("layout");
    let pulled = c
        .pull_image(&repo, "built", &layout, &PullOptions::default())
        .unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    let from_layout = Image::from_layout(&layout, None).unwrap();
    assert_eq!(from_layout.digest(), built.digest());
    assert_eq!(from_layout.layers(), built.layers());

    // Push that layout to another repository (blobs from files, streamed).
    let repo2 = format!("{repo}-layout");
    let pushed2 = c
        .push_image(&repo2, "v1", &from_layout, &PushOptions::default())
        .unwrap();
    assert_eq!(pushed2.digest, pushed.digest);
    assert!(c.verify(&repo2, &pushed2).is_verified());
    // A re-push of what is there: HEADs and one manifest PUT, nothing uploaded.
    let again = c
        .push_image(&repo2, "v1", &from_layout, &PushOptions::default())
        .unwrap();
    assert_eq!(again.stats.blobs_uploaded, 0);
    assert_eq!(again.stats.bytes_uploaded, 0);

    let Some(skopeo) = skopeo() else { return };
    // ocireg pushed, skopeo copies back: identical digests.
    let copied = dir.join("skopeo-copied");
    let mut args = vec!["copy".to_string()];
    args.extend(cfg.skopeo_args("src"));
    args.push(format!("docker://{}/{repo}:built", cfg.host));
    args.push(format!("oci:{}:built", copied.display()));
    run(Command::new(skopeo).args(&args));
    let back = Image::from_layout(&copied, Some("built")).unwrap();
    assert_eq!(
        back.digest(),
        &pushed.digest,
        "{}: skopeo sees our digest",
        cfg.label
    );

    // skopeo pushes, ocireg pulls and verifies.
    let repo3 = format!("{repo}-by-skopeo");
    let mut args = vec!["copy".to_string()];
    args.extend(cfg.skopeo_args("dest"));
    args.push(format!("oci:{}:built", copied.display()));
    args.push(format!("docker://{}/{repo3}:v1", cfg.host));
    run(Command::new(skopeo).args(&args));
    let expected = Pushed::from_image(&back, &repo3, Some("v1")).unwrap();
    let report = c.verify(&repo3, &expected);
    assert!(report.is_verified(), "{}: {report:?}", cfg.label);
    let out = dir.join("from-skopeo");
    let p = c
        .pull_image(&repo3, "v1", &out, &PullOptions::default())
        .unwrap();
    assert_eq!(&p.digest, back.digest());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn basic_auth_whole_flow() {
    let Some(cfg) = http_config("basic", "OCIREG_RIG_BASIC", true) else {
        return;
    };
    let creds = user();
    login_flow(&cfg, &creds);
    let c = cfg.client(Credentials::basic(&creds.0, &creds.1));
    push_flow(&cfg, &c);
    let e = cfg
        .client(Credentials::basic(&creds.0, "wrong"))
        .tags("flows/x")
        .unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
}

#[test]
fn tls_whole_flow() {
    let Some(cfg) = tls_config() else { return };
    login_flow(&cfg, &user());
    let c = cfg.client(Credentials::Anonymous);
    push_flow(&cfg, &c);
}

#[test]
fn open_registry_login_and_push_flow() {
    let Some(cfg) = http_config("open", "OCIREG_RIG_OPEN", false) else {
        return;
    };
    login_flow(&cfg, &user());
    push_flow(&cfg, &cfg.client(Credentials::Anonymous));
}

#[test]
fn bearer_whole_flow() {
    let Some(cfg) = http_config("bearer", "OCIREG_RIG_TOKEN", true) else {
        return;
    };
    let creds = user();
    login_flow(&cfg, &creds);
    let c = cfg.client(Credentials::basic(&creds.0, &creds.1));
    push_flow(&cfg, &c);

    // Cross-repository mount: the challenge names two resources in one scope.
    let base = format!("flows/base-{}", nonce());
    let img = image(&base, 2, 10_000);
    c.push_image(&base, "v1", &img, &PushOptions::default())
        .unwrap();
    let derived = format!("flows/derived-{}", nonce());
    let pushed = c
        .push_image(
            &derived,
            "v1",
            &img,
            &PushOptions::default().mount_from(base.parse().unwrap()),
        )
        .unwrap();
    assert_eq!(
        pushed.stats.blobs_mounted, 3,
        "config + 2 layers mounted: {:?}",
        pushed.stats
    );
    assert_eq!(pushed.stats.bytes_uploaded, 0);
    assert!(c.verify(&derived, &pushed).is_verified());

    // Anonymous: pull of public/ works, push is refused for lack of scope.
    let public = format!("public/flows-{}", nonce());
    let pub_pushed = c
        .push_image(
            &public,
            "v1",
            &image(&public, 1, 100),
            &PushOptions::default(),
        )
        .unwrap();
    let anon = cfg.client(Credentials::Anonymous);
    assert!(anon.verify(&public, &pub_pushed).is_verified());
    let out = tmpdir("anon-pull");
    anon.pull_image(&public, "v1", &out, &PullOptions::default())
        .unwrap();
    let e = anon
        .push_image(
            &public,
            "v2",
            &image("anon", 1, 10),
            &PushOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Authorization { .. }), "{e:?}");
    let e = anon.tags(&derived).unwrap_err();
    assert!(matches!(e, Error::Authorization { .. }), "{e:?}");

    // Wrong password.
    let e = cfg
        .client(Credentials::basic(&creds.0, "wrong"))
        .push_image(
            "flows/nope",
            "v1",
            &image("x", 1, 10),
            &PushOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_token_that_expires_in_the_middle_of_a_long_push_is_renewed() {
    let Some(host) = rig("OCIREG_RIG_TOKEN_SHORT") else {
        return;
    };
    let Some(server) = rig("OCIREG_RIG_TOKEN_SERVER_SHORT") else {
        return;
    };
    let (u, p) = user();
    let c = Client::builder(&format!("http://{host}"))
        .credentials(Credentials::basic(u, p))
        .build()
        .unwrap();
    let repo = format!("flows/slow-{}", nonce());
    let img = image(&repo, 4, 256 * 1024);
    let before = token_requests(&server);
    // The tokens live 5 s; slow the push down so that it takes about 10 s.
    let opts = PushOptions::default().threads(1).progress(|p| {
        if p.done == p.total && p.total > 1000 {
            std::thread::sleep(std::time::Duration::from_millis(2500));
        }
        true
    });
    let pushed = c.push_image(&repo, "v1", &img, &opts).unwrap();
    let fetched = token_requests(&server) - before;
    assert!(
        fetched >= 2,
        "the token was renewed during the push ({fetched} fetched)"
    );
    assert!(c.verify(&repo, &pushed).is_verified());
}

#[test]
fn layouts_written_by_skopeo_push_and_verify() {
    let Some(cfg) = http_config("open", "OCIREG_RIG_OPEN", false) else {
        return;
    };
    let Some(skopeo) = skopeo() else { return };
    // A layout made by the rig's script (gzip layer, OCI config), as skopeo/umoci write them.
    let dir = tmpdir("made");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rig/make-oci-layout.sh");
    run(Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .arg("v1")
        .arg(nonce()));
    let img = Image::from_layout(&dir, Some("v1")).unwrap();
    let c = cfg.client(Credentials::Anonymous);
    let repo = format!("flows/made-{}", nonce());
    let pushed = c
        .push_image(&repo, "v1", &img, &PushOptions::default())
        .unwrap();
    assert!(c.verify(&repo, &pushed).is_verified());
    let out = run(Command::new(skopeo).args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/{repo}:v1", cfg.host),
    ]));
    assert_eq!(
        ocireg::Digest::sha256_of(out.as_bytes()),
        pushed.digest,
        "skopeo gets the exact bytes we pushed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
