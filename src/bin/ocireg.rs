//! `ocireg`: a small command line face of the ocireg library.
//!
//! ```text
//! ocireg login REGISTRY -u USER (-p PASSWORD | --password-stdin)
//! ocireg logout REGISTRY
//! ocireg auth-status REGISTRY
//! ocireg ping REGISTRY
//! ocireg tags REPOSITORY-REFERENCE          e.g. 127.0.0.1:5000/team/app
//! ocireg catalog REGISTRY
//! ocireg search REGISTRY PATTERN
//! ocireg manifest REFERENCE                 raw manifest bytes on stdout
//! ocireg digest REFERENCE
//! ocireg push LAYOUT-DIR REFERENCE          push an OCI image layout, then verify it
//! ocireg pull REFERENCE DIR                 write an OCI image layout
//! ocireg verify REFERENCE LAYOUT-DIR        check a pushed layout against the registry
//! ocireg serve [--port N] [--auth none|basic|bearer] [--user NAME:PASSWORD]
//! ```
//!
//! Global options: `--debug` (log every HTTP request to stderr, never a secret), `--insecure` (plain http / no TLS verification; implied for 127.0.0.1,
//! localhost and ::1, as docker does), `--ca-cert FILE`, `--docker-config FILE`,
//! `-u USER -p PASSWORD` (explicit credentials for any command), `--timeout SECONDS` (the
//! longest any one request may take, retries included).
//! Exit codes: 0 success, 1 operation failed, 2 usage error.

use std::io::{Read, Write};
use std::process::ExitCode;

use ocireg::credentials::ConfigOptions;
use ocireg::{Client, ClientBuilder, Credentials, Reference};
use ocireg::{LoginOptions, LoginStored, Logout};

const USAGE: &str = "usage: ocireg [--debug] [--insecure] [--ca-cert FILE] [--docker-config FILE] [--timeout SECONDS] [-u USER -p PASSWORD] COMMAND ...
commands:
  login REGISTRY -u USER (-p PASSWORD | --password-stdin)
  logout REGISTRY
  auth-status REGISTRY
  ping REGISTRY
  tags REPOSITORY            e.g. 127.0.0.1:5000/team/app
  catalog REGISTRY
  search REGISTRY PATTERN
  manifest REFERENCE         e.g. 127.0.0.1:5000/team/app:v1
  digest REFERENCE
  push LAYOUT-DIR REFERENCE
  pull REFERENCE DIR
  verify REFERENCE LAYOUT-DIR
  serve [--port N] [--auth none|basic|bearer] [--user NAME:PASSWORD]";

#[derive(Default)]
struct Opts {
    insecure: bool,
    debug: bool,
    ca_cert: Option<String>,
    docker_config: Option<String>,
    timeout: Option<std::time::Duration>,
    username: Option<String>,
    password: Option<String>,
    password_stdin: bool,
    port: u16,
    auth: Option<String>,
    users: Vec<String>,
    args: Vec<String>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--insecure" => o.insecure = true,
            "--debug" => o.debug = true,
            "--ca-cert" => o.ca_cert = Some(value("--ca-cert")?),
            "--docker-config" => o.docker_config = Some(value("--docker-config")?),
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| {
                        format!("--timeout takes a positive number of seconds, not {v:?}")
                    })?;
                o.timeout = std::time::Duration::try_from_secs_f64(secs).ok();
            }
            "-u" | "--username" => o.username = Some(value("--username")?),
            "-p" | "--password" => o.password = Some(value("--password")?),
            "--password-stdin" => o.password_stdin = true,
            "--port" => {
                o.port = value("--port")?
                    .parse()
                    .map_err(|_| "--port takes a number".to_string())?
            }
            "--auth" => o.auth = Some(value("--auth")?),
            "--user" => o.users.push(value("--user")?),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => o.args.push(a),
        }
    }
    if o.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("reading the password from stdin: {e}"))?;
        o.password = Some(s.trim_end_matches(['\r', '\n']).to_string());
    }
    Ok(o)
}

fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

impl Opts {
    fn config(&self) -> ConfigOptions {
        ConfigOptions {
            config_path: self.docker_config.as_ref().map(Into::into),
            ..ConfigOptions::default()
        }
    }

    fn builder(&self, registry: &str) -> Result<ClientBuilder, ocireg::Error> {
        let mut b = Client::builder(registry)
            .insecure(self.insecure || is_loopback(registry))
            .config_options(self.config())
            .overall_timeout(self.timeout);
        if self.debug {
            b = b.on_request(|ev| {
                let status = ev
                    .status
                    .map_or_else(|| "no answer".to_string(), |s| s.to_string());
                let auth = if ev.authorized { " (auth)" } else { "" };
                eprintln!(
                    "debug: {} {} -> {status}{auth} in {:.1} ms",
                    ev.method,
                    ev.url,
                    ev.elapsed.as_secs_f64() * 1000.0
                );
            });
        }
        if let Some(ca) = &self.ca_cert {
            let pem =
                std::fs::read(ca).map_err(|e| ocireg::Error::io(format!("reading {ca}"), e))?;
            b = b.ca_cert_pem(pem);
        }
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            b = b.credentials(Credentials::basic(u.clone(), p.clone()));
        }
        Ok(b)
    }

    fn client(&self, registry: &str) -> Result<Client, ocireg::Error> {
        self.builder(registry)?.build()
    }

    fn arg(&self, i: usize, what: &str) -> Result<&str, String> {
        self.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing {what}"))
    }
}

enum Failure {
    Usage(String),
    Op(Box<ocireg::Error>),
    /// regshape's format: `Error: Login failed for <registry>: <reason>`.
    Login(String, Box<ocireg::Error>),
}

impl From<ocireg::Error> for Failure {
    fn from(e: ocireg::Error) -> Self {
        Failure::Op(Box::new(e))
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Usage(e)
    }
}

fn reference(s: &str) -> Result<Reference, Failure> {
    Ok(s.parse::<Reference>()?)
}

fn run(o: &Opts) -> Result<(), Failure> {
    let cmd = o.arg(0, "command")?;
    let mut out = std::io::stdout().lock();
    let w = |out: &mut std::io::StdoutLock<'_>, s: &str| {
        let _ = writeln!(out, "{s}");
    };
    match cmd {
        "login" => {
            let registry = o.arg(1, "REGISTRY")?;
            let (Some(u), Some(p)) = (&o.username, &o.password) else {
                return Err("login needs -u USER and -p PASSWORD or --password-stdin"
                    .to_string()
                    .into());
            };
            let options = LoginOptions {
                config: o.config(),
                client: Some(o.builder(registry)?),
            };
            match ocireg::login(registry, u, p, &options) {
                Ok(LoginStored::Helper(h)) => w(
                    &mut out,
                    &format!("Login succeeded (stored by docker-credential-{h})."),
                ),
                Ok(LoginStored::ConfigFile(path)) => w(
                    &mut out,
                    &format!("Login succeeded (stored in {}).", path.display()),
                ),
                Err(e) => return Err(Failure::Login(registry.to_string(), Box::new(e))),
            }
        }
        "logout" => {
            let registry = o.arg(1, "REGISTRY")?;
            match ocireg::logout(registry, &o.config())? {
                Logout::LoggedOut => w(
                    &mut out,
                    &format!("Removing login credentials for {registry}."),
                ),
                Logout::NotLoggedIn => w(&mut out, &format!("Not logged in to {registry}.")),
            }
        }
        "auth-status" => {
            let registry = o.arg(1, "REGISTRY")?;
            let c = o.client(registry)?;
            w(
                &mut out,
                &format!(
                    "{}: credentials from {}",
                    c.registry(),
                    c.credential_source()
                ),
            );
        }
        "ping" => {
            let c = o.client(o.arg(1, "REGISTRY")?)?;
            c.ping()?;
            w(
                &mut out,
                &format!("{} speaks the registry API v2", c.registry()),
            );
        }
        "tags" => {
            let r = reference(o.arg(1, "REPOSITORY")?)?;
            for t in o.client(r.registry())?.tags(r.repository())? {
                w(&mut out, &t);
            }
        }
        "catalog" => {
            for r in o.client(o.arg(1, "REGISTRY")?)?.catalog()? {
                w(&mut out, &r);
            }
        }
        "search" => {
            let c = o.client(o.arg(1, "REGISTRY")?)?;
            for r in c.search(o.arg(2, "PATTERN")?)? {
                w(&mut out, &r);
            }
        }
        "manifest" | "digest" => {
            let r = reference(o.arg(1, "REFERENCE")?)?;
            let c = o.client(r.registry())?;
            let m = c.manifest(r.repository(), &manifest_ref(&r))?;
            if cmd == "digest" {
                w(&mut out, &m.digest.to_string());
            } else {
                let _ = out.write_all(&m.bytes);
                let _ = writeln!(out);
            }
        }
        "push" => {
            let dir = o.arg(1, "LAYOUT-DIR")?;
            let r = reference(o.arg(2, "REFERENCE")?)?;
            let tag = r.tag().unwrap_or("latest");
            let c = o.client(r.registry())?;
            let image = ocireg::Image::from_layout(dir, None)?;
            let pushed = c.push_image(r.repository(), tag, &image, &Default::default())?;
            w(
                &mut out,
                &format!("pushed {}:{tag} {}", r.repository(), pushed.digest),
            );
            let report = c.verify(r.repository(), &pushed);
            w(&mut out, &format!("verify: {:?}", report.outcome));
            if !report.is_verified() {
                return Err(ocireg::Error::InvalidInput(format!(
                    "verification of the push: {:?}",
                    report.outcome
                ))
                .into());
            }
        }
        "verify" => {
            let r = reference(o.arg(1, "REFERENCE")?)?;
            let dir = o.arg(2, "LAYOUT-DIR")?;
            let c = o.client(r.registry())?;
            let image = ocireg::Image::from_layout(dir, None)?;
            let pushed = ocireg::Pushed::from_image(&image, r.repository(), r.tag())?;
            let report = c.verify(r.repository(), &pushed);
            for check in &report.checks {
                w(&mut out, &format!("{check}"));
            }
            w(&mut out, &format!("outcome: {:?}", report.outcome));
            if !report.is_verified() {
                return Err(ocireg::Error::InvalidInput(
                    "the registry does not hold this image".into(),
                )
                .into());
            }
        }
        "pull" => {
            let r = reference(o.arg(1, "REFERENCE")?)?;
            let dir = o.arg(2, "DIR")?;
            let c = o.client(r.registry())?;
            let pulled =
                c.pull_image(r.repository(), &manifest_ref(&r), dir, &Default::default())?;
            w(&mut out, &format!("pulled {} into {dir}", pulled.digest));
        }
        "serve" => serve(o)?,
        other => return Err(format!("unknown command {other}").into()),
    }
    Ok(())
}

/// The manifest reference to request: `tag@digest`, the digest, or the tag.
fn manifest_ref(r: &Reference) -> String {
    match (r.tag(), r.digest()) {
        (Some(t), Some(d)) => format!("{t}@{d}"),
        (None, Some(d)) => d.to_string(),
        (Some(t), None) => t.to_string(),
        (None, None) => "latest".to_string(),
    }
}

fn serve(o: &Opts) -> Result<(), Failure> {
    use ocireg::testing::{AuthMode, BearerPolicy, Registry};
    let users: Vec<(String, String)> = o
        .users
        .iter()
        .map(|u| {
            u.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or(format!("--user {u:?} must be NAME:PASSWORD"))
        })
        .collect::<Result<_, _>>()?;
    let auth = match o.auth.as_deref().unwrap_or("none") {
        "none" => AuthMode::None,
        "basic" => AuthMode::Basic {
            users: users.clone(),
        },
        "bearer" => {
            let refs: Vec<(&str, &str)> = users
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            AuthMode::Bearer(BearerPolicy::full_access(&refs))
        }
        other => return Err(format!("--auth {other}: none, basic or bearer").into()),
    };
    let reg = Registry::builder().auth(auth).port(o.port).start()?;
    println!(
        "serving an in-memory registry at {} (Ctrl-C to stop)",
        reg.url()
    );
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ocireg: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("ocireg: {e}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Op(e)) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Login(registry, e)) => {
            let reason = match &*e {
                ocireg::Error::Authentication { message, .. } => message.clone(),
                other => other.to_string(),
            };
            eprintln!("Error: Login failed for {registry}: {reason}");
            ExitCode::from(1)
        }
    }
}
