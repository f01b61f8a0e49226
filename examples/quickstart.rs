//! The quickstart: every main job of ocireg, one step after another, with timings.
//!
//! ```text
//! cargo run --example quickstart                   # against the built-in registry (Bearer auth)
//! cargo run --example quickstart -- HOST:PORT      # against another registry (or OCIREG_REGISTRY)
//! ```
//!
//! Against another registry, credentials come from `OCIREG_USERNAME` / `OCIREG_PASSWORD` (then a
//! login is done into a temporary docker config), or else from the usual resolution chain
//! (docker config, credential helpers, anonymous). Loopback registries are spoken to over plain
//! http, as docker does; use `OCIREG_INSECURE=1` to force it elsewhere.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ocireg::LoginOptions;
use ocireg::credentials::ConfigOptions;
use ocireg::testing::{AuthMode, BearerPolicy, Registry};
use ocireg::{Client, ImageBuilder, PullOptions, PushOptions, media_types};

type Step<T> = Result<T, Box<dyn std::error::Error>>;

struct Report {
    started: Instant,
}

impl Report {
    fn step<T>(&self, name: &str, f: impl FnOnce() -> Step<(T, String)>) -> Step<T> {
        let t = Instant::now();
        match f() {
            Ok((v, detail)) => {
                println!("  ok   {name:<10} {:>8}  {detail}", ms(t.elapsed()));
                Ok(v)
            }
            Err(e) => {
                println!("  FAIL {name:<10} {:>8}  {e}", ms(t.elapsed()));
                Err(e)
            }
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn temp_dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocireg-quickstart-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn is_loopback(host: &str) -> bool {
    let h = host.rsplit_once(':').map_or(host, |(h, _)| h);
    h == "localhost" || h.starts_with("127.") || h == "[::1]"
}

fn main() {
    if let Err(e) = run() {
        eprintln!("\nquickstart failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Step<()> {
    let report = Report {
        started: Instant::now(),
    };
    let target = std::env::args().nth(1).or_else(|| {
        std::env::var("OCIREG_REGISTRY")
            .ok()
            .filter(|s| !s.is_empty())
    });
    let workdir = temp_dir("work");
    std::fs::create_dir_all(&workdir)?;
    let docker_config = workdir.join("docker").join("config.json");

    // 1. The registry: the built-in one with Bearer auth, or the one given.
    let (_server, registry, creds) = match &target {
        None => {
            let server = report.step("registry", || {
                let policy = BearerPolicy::full_access(&[("alice", "quickstart-secret")]);
                let s = Registry::builder().auth(AuthMode::Bearer(policy)).start()?;
                let d = format!("built-in registry with Bearer auth at {}", s.url());
                Ok((s, d))
            })?;
            let url = server.url();
            (
                Some(server),
                url,
                Some(("alice".to_string(), "quickstart-secret".to_string())),
            )
        }
        Some(t) => {
            println!("  using  {t}");
            let creds = match (
                std::env::var("OCIREG_USERNAME"),
                std::env::var("OCIREG_PASSWORD"),
            ) {
                (Ok(u), Ok(p)) => Some((u, p)),
                _ => None,
            };
            (None, t.clone(), creds)
        }
    };
    let insecure = std::env::var("OCIREG_INSECURE").as_deref() == Ok("1")
        || registry.starts_with("http://")
        || is_loopback(&registry);
    let config = ConfigOptions::with_config_path(&docker_config);
    let template = Client::builder(&registry).insecure(insecure);

    // 2. Log in (checks the password against /v2/, then stores it in a temporary docker config).
    if let Some((user, password)) = &creds {
        report.step("login", || {
            let stored = ocireg::login(
                &registry,
                user,
                password,
                &LoginOptions {
                    config: config.clone(),
                    client: Some(template.clone()),
                },
            )?;
            Ok(((), format!("as {user}, stored in {stored}")))
        })?;
    }
    // The client finds the credentials through the resolution chain (the config file above).
    let client = template.clone().config_options(config.clone()).build()?;
    println!(
        "  info client      credentials: {}",
        client.credential_source()
    );

    // 3. Push a small generated image: a config and two real tar+gzip layers.
    let repo = format!("quickstart/hello-{}", std::process::id());
    let image = ImageBuilder::new()
        .config(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#
                .to_vec(),
        )
        .layer_bytes(
            ocireg::testing::tar_gz(&[("hello.txt", b"hello from ocireg\n")]),
            media_types::OCI_LAYER_GZIP,
        )
        .layer_bytes(
            ocireg::testing::tar_gz(&[("data.bin", &[42u8; 64 * 1024])]),
            media_types::OCI_LAYER_GZIP,
        )
        .annotation("org.opencontainers.image.title", "ocireg quickstart")
        .build()?;
    let pushed = report.step("push", || {
        let before = client.request_count();
        let p = client.push_image(&repo, "v1", &image, &PushOptions::default())?;
        let d = format!(
            "{repo}:v1 {} ({} blobs, {} requests)",
            p.digest,
            p.layers.len() + 1,
            client.request_count() - before
        );
        Ok((p, d))
    })?;

    // 4. Tags and search.
    report.step("tags", || {
        let tags = client.tags(&repo)?;
        let d = format!("{repo}: {tags:?}");
        Ok(((), d))
    })?;
    report.step("search", || match client.search("quickstart/") {
        Ok(found) => Ok(((), format!("\"quickstart/\" matches {found:?}"))),
        Err(ocireg::Error::Unsupported { .. }) => {
            Ok(((), "this registry has no catalog API: skipped".to_string()))
        }
        Err(e) => Err(e.into()),
    })?;

    // 5. Verify the push: every blob present with its size, the tag points at the manifest.
    report.step("verify", || {
        let r = client.verify(&repo, &pushed);
        let d = format!("{:?}: {} checks", r.outcome, r.checks.len());
        if r.is_verified() {
            Ok(((), d))
        } else {
            Err(d.into())
        }
    })?;

    // 6. Pull it back into an OCI image layout, every digest verified on the way.
    let out = workdir.join("pulled");
    report.step("pull", || {
        let p = client.pull_image(&repo, "v1", &out, &PullOptions::default())?;
        if p.digest != pushed.digest {
            return Err(format!("pulled {} but pushed {}", p.digest, pushed.digest).into());
        }
        Ok((
            (),
            format!("{} into {} (same digest)", p.digest, show(&out)),
        ))
    })?;

    println!(
        "\nquickstart done in {} ({} HTTP requests by the client)",
        ms(report.started.elapsed()),
        client.request_count()
    );
    let _ = std::fs::remove_dir_all(&workdir);
    Ok(())
}

fn show(p: &Path) -> String {
    p.display().to_string()
}
