//! `ocireg`: the command line face of the ocireg library, in regshape's command groups.
//!
//! ```text
//! ocireg [GLOBAL OPTIONS] auth login|logout|status -r REGISTRY
//! ocireg [GLOBAL OPTIONS] ping -r REGISTRY
//! ocireg [GLOBAL OPTIONS] tag list|delete -i REF
//! ocireg [GLOBAL OPTIONS] catalog list -r REGISTRY | catalog search PATTERN -r REGISTRY
//! ocireg [GLOBAL OPTIONS] manifest get|info|digest|put|delete -i REF
//! ocireg [GLOBAL OPTIONS] blob head|get|upload|mount|delete -i REPO[@DIGEST]
//! ocireg [GLOBAL OPTIONS] image push|verify|pull|copy|tag ...
//! ocireg serve [--port N] [--auth none|basic|bearer] [--user NAME:PASSWORD]
//! ocireg completion bash|zsh|fish
//! ```
//!
//! `--json` makes every command print one JSON document on stdout (an error object on
//! failure); `--time-methods`, `--time-scenarios` and `--debug-calls` print telemetry on stderr.
//! Exit codes: 0 success, 1 failure, 2 usage or invalid input, 3 not supported by the registry.
//! The first CLI's spellings (`ocireg login REG`, `ocireg tags REF`, …) still work (module
//! `legacy`).

mod legacy;
mod output;
mod progress;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ocireg::credentials::ConfigOptions;
use ocireg::{
    BlobSource, BlobStatus, CheckStatus, Client, ClientBuilder, CopyOptions, Credentials,
    DeleteTagOptions, LoginOptions, LoginStored, Logout, Manifest, MountOutcome, Platform,
    PullOptions, PushOptions, Reference, VerifyOutcome, VerifyReport,
};
use serde_json::{Value, json};

use output::Failure;
use progress::Bars;

/// The exit codes, at the end of every subcommand's help.
const EXIT_CODES_SHORT: &str = "\
Exit codes: 0 success; 1 failure (not found, authentication, network, ...); 2 usage or invalid
input; 3 not supported by the registry. With --json: one JSON document on stdout.";

/// The command line definition, with the exit codes in every subcommand's help.
fn cli_command() -> clap::Command {
    fn codes(c: clap::Command) -> clap::Command {
        c.after_help(EXIT_CODES_SHORT).mut_subcommands(codes)
    }
    Cli::command().mut_subcommands(codes)
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure: not found, authentication, authorization, network, TLS, timeout, digest mismatch,
     a verification that failed or was inconclusive, ...
  2  usage error or invalid input (a bad reference is 2, before any request)
  3  not supported by the registry (e.g. no catalog API, deletes disabled)

With --json every command prints one JSON document on stdout; a failure is an object
{\"status\": \"error\", \"kind\": ..., \"message\": ..., \"http_status\": ..., \"registry_errors\": [...]}
with the same exit code. Telemetry (--time-methods, --time-scenarios, --debug-calls), progress
bars and prompts use stderr only.";

/// A synchronous OCI / Docker registry client.
#[derive(Parser, Debug)]
#[command(
    name = "ocireg",
    version,
    about = "A synchronous OCI / Docker registry client: auth, tags, catalog, manifests, blobs, images.",
    after_help = EXIT_CODES,
    arg_required_else_help = true,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten, next_help_heading = "Global options")]
    global: Global,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Options every command takes (before or after the command).
#[derive(Args, Debug, Clone)]
struct Global {
    /// User name (explicit credentials win over stored ones)
    #[arg(short = 'u', long, global = true, value_name = "USER")]
    username: Option<String>,
    /// Password or token (prompted for, hidden, when -u is given without it on a terminal)
    #[arg(
        short = 'p',
        long,
        global = true,
        value_name = "PASSWORD",
        conflicts_with = "password_stdin"
    )]
    password: Option<String>,
    /// Read the password from stdin (e.g. from a secrets manager)
    #[arg(long, global = true)]
    password_stdin: bool,
    /// Plain http and no TLS verification (implied for localhost, 127.0.0.0/8 and ::1 unless
    /// --ca-cert or an https:// registry asks for TLS)
    #[arg(long, global = true)]
    insecure: bool,
    /// Push files with sendfile(2) over plain http: less client CPU, but slower to a registry
    /// on this machine (for a remote plain-http registry)
    #[arg(long, global = true)]
    sendfile: bool,
    /// Trust this PEM CA certificate too
    #[arg(long, global = true, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Alternate Docker config file (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)
    #[arg(long, global = true, value_name = "PATH")]
    docker_config: Option<PathBuf>,
    /// The longest any one request may take, retries included
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// One JSON document on stdout (an error object on failure)
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars, no informational messages on stderr
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    /// Print each library call and its duration on stderr
    #[arg(long, global = true)]
    time_methods: bool,
    /// Print each workflow (login, push, pull, copy, ...) and its duration on stderr
    #[arg(long, global = true)]
    time_scenarios: bool,
    /// Print method, URL, status and headers of every HTTP call on stderr (secrets redacted)
    #[arg(long, global = true, alias = "debug")]
    debug_calls: bool,
}

fn parse_timeout(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("a positive number of seconds, not {v:?}"))
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Log in, log out, and where credentials come from
    #[command(subcommand)]
    Auth(AuthCmd),
    /// Check that a registry answers the registry API v2 (GET /v2/ through the auth challenge)
    Ping(RegistryArg),
    /// List and delete tags
    #[command(subcommand)]
    Tag(TagCmd),
    /// List and search the repositories of a registry
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// Get, inspect, resolve, put and delete manifests
    #[command(subcommand)]
    Manifest(ManifestCmd),
    /// Check, download, upload, mount and delete blobs
    #[command(subcommand)]
    Blob(BlobCmd),
    /// Push, verify, pull, copy and tag whole images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Run the in-memory test registry in the foreground
    Serve(ServeArgs),
    /// Print a shell completion script
    Completion {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
struct RegistryArg {
    /// Registry host[:port] or URL (e.g. registry.example.com, http://127.0.0.1:5000)
    #[arg(short = 'r', long, value_name = "REGISTRY")]
    registry: String,
}

#[derive(Args, Debug)]
struct RefArg {
    /// Image reference REGISTRY/REPOSITORY[:TAG][@DIGEST]
    #[arg(short = 'i', long = "image-ref", value_name = "REF")]
    image_ref: String,
}

#[derive(Args, Debug)]
struct PlatformArg {
    /// From an index, the image for this platform (os/arch[/variant], e.g. linux/arm64/v8)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Option<Platform>,
}

fn parse_platform(v: &str) -> Result<Platform, String> {
    v.parse::<Platform>().map_err(|e| e.to_string())
}

#[derive(Subcommand, Debug)]
enum AuthCmd {
    /// Check credentials against the registry (GET /v2/, whole challenge), then store them
    ///
    /// Stored through the registry's credential helper when one is configured (credHelpers,
    /// credsStore), else base64 in the auths section of the Docker config file. What is missing
    /// of -u / -p is prompted for (the password hidden) when a terminal is attached.
    Login {
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Remove the stored credentials of a registry (idempotent)
    Logout {
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Where the credentials for a registry come from (flags, helper, config file, none)
    Status {
        #[command(flatten)]
        registry: RegistryArg,
    },
}

#[derive(Subcommand, Debug)]
enum TagCmd {
    /// List the tags of a repository (every page, unless --n or --last ask for one)
    List {
        #[command(flatten)]
        r: RefArg,
        /// One page of at most N tags
        #[arg(long = "n", value_name = "N")]
        n: Option<usize>,
        /// One page of tags after this one
        #[arg(long, value_name = "TAG")]
        last: Option<String>,
        /// Each tag with the digest it points at (a HEAD per tag)
        #[arg(long)]
        digests: bool,
    },
    /// Delete a tag: the registry deletes the manifest, and EVERY tag on it goes with it
    /// (unless it supports deleting a tag alone, OCI 1.1)
    Delete {
        #[command(flatten)]
        r: RefArg,
        /// Always delete the manifest by digest (docker_registry2's rmtag)
        #[arg(long)]
        by_digest: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CatalogCmd {
    /// List the repositories (every page, unless --n or --last ask for one)
    List {
        #[command(flatten)]
        registry: RegistryArg,
        /// One page of at most N repositories
        #[arg(long = "n", value_name = "N")]
        n: Option<usize>,
        /// One page of repositories after this one
        #[arg(long, value_name = "REPOSITORY")]
        last: Option<String>,
    },
    /// The repositories whose name contains PATTERN (a plain substring)
    Search {
        /// The substring
        pattern: String,
        #[command(flatten)]
        registry: RegistryArg,
    },
}

#[derive(Subcommand, Debug)]
enum ManifestCmd {
    /// The manifest's exact bytes on stdout
    Get {
        #[command(flatten)]
        r: RefArg,
        #[command(flatten)]
        platform: PlatformArg,
    },
    /// Digest, media type, size, config, layers or platforms of a manifest
    Info {
        #[command(flatten)]
        r: RefArg,
        #[command(flatten)]
        platform: PlatformArg,
    },
    /// The manifest's digest, by HEAD (no GET: a GET costs a Docker Hub pull)
    Digest {
        #[command(flatten)]
        r: RefArg,
        #[command(flatten)]
        platform: PlatformArg,
    },
    /// Upload a manifest as is, under the reference's tag (or its own digest)
    Put {
        #[command(flatten)]
        r: RefArg,
        /// The manifest file ("-": stdin)
        #[arg(value_name = "FILE", default_value = "-")]
        file: String,
        /// Content-Type (default: the manifest's mediaType field)
        #[arg(long, value_name = "TYPE")]
        media_type: Option<String>,
    },
    /// Delete a manifest by digest (REPO@sha256:...): every tag on it goes with it
    Delete {
        #[command(flatten)]
        r: RefArg,
    },
}

#[derive(Subcommand, Debug)]
enum BlobCmd {
    /// Whether the repository has the blob, and its size
    Head {
        #[command(flatten)]
        r: RefArg,
    },
    /// Download a blob (verified) to a file, or to stdout
    Get {
        #[command(flatten)]
        r: RefArg,
        /// Write here (verified before it is renamed into place) instead of stdout
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Upload a file as a blob (skipped when the repository has it)
    Upload {
        #[command(flatten)]
        r: RefArg,
        /// The file
        file: PathBuf,
    },
    /// Mount a blob from another repository of the same registry
    Mount {
        #[command(flatten)]
        r: RefArg,
        /// The repository that has the blob
        #[arg(long, value_name = "REPOSITORY")]
        from: String,
    },
    /// Delete a blob
    Delete {
        #[command(flatten)]
        r: RefArg,
    },
}

#[derive(Subcommand, Debug)]
enum ImageCmd {
    /// Push an OCI image layout, then verify what the registry holds
    Push {
        /// The OCI image layout directory
        layout: PathBuf,
        #[command(flatten)]
        r: RefArg,
        /// Do not verify the push
        #[arg(long)]
        no_verify: bool,
    },
    /// Check an OCI image layout against what the registry holds (Verified, Failed or Inconclusive)
    Verify {
        #[command(flatten)]
        r: RefArg,
        /// The OCI image layout directory
        layout: PathBuf,
    },
    /// Pull an image into an OCI image layout (or, with --layers, each layer as a file)
    Pull {
        #[command(flatten)]
        r: RefArg,
        /// The directory
        dir: PathBuf,
        #[command(flatten)]
        platform: PlatformArg,
        /// Write each layer blob as <dir>/<algorithm>-<hex> instead of a layout
        #[arg(long)]
        layers: bool,
    },
    /// Copy an image (an index with all its children) to another reference or registry
    Copy {
        #[command(flatten)]
        r: RefArg,
        /// Destination REGISTRY/REPOSITORY[:TAG]
        #[arg(value_name = "DEST")]
        dest: String,
        #[command(flatten)]
        platform: PlatformArg,
    },
    /// Give an existing manifest another tag (a TAG in the same repository, or REPOSITORY:TAG)
    Tag {
        #[command(flatten)]
        r: RefArg,
        /// The new tag, or REGISTRY/REPOSITORY:TAG
        #[arg(value_name = "TARGET")]
        target: String,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Port (0: any free port)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Authentication the registry demands
    #[arg(long, default_value = "none", value_parser = ["none", "basic", "bearer"])]
    auth: String,
    /// An accepted user (repeatable)
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,
}

// ----------------------------------------------------------------------------------- context

/// The progress bars being drawn, if any: telemetry lines go above them.
static BARS: Mutex<Option<Arc<Bars>>> = Mutex::new(None);

/// A line on stderr (above the progress bars when they are drawn).
fn say_err(line: &str) {
    let bars = BARS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match bars {
        Some(b) => b.println(line),
        None => eprintln!("{line}"),
    }
}

struct Ctx {
    g: Global,
    /// The password typed at the prompt, asked once per run (a copy builds two clients).
    prompted: Mutex<Option<String>>,
}

fn is_loopback(registry: &str) -> bool {
    let r = registry
        .strip_prefix("http://")
        .or_else(|| registry.strip_prefix("https://"))
        .unwrap_or(registry);
    let host = r.split('/').next().unwrap_or(r);
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

impl Ctx {
    fn new(g: Global) -> Ctx {
        Ctx {
            g,
            prompted: Mutex::new(None),
        }
    }

    /// The password: -p, --password-stdin, or the hidden prompt (once).
    fn password(&self) -> Result<String, Failure> {
        if let Some(p) = &self.g.password {
            return Ok(p.clone());
        }
        let mut prompted = self.prompted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = &*prompted {
            return Ok(p.clone());
        }
        let p = prompt_password()?;
        *prompted = Some(p.clone());
        Ok(p)
    }

    fn config(&self) -> ConfigOptions {
        ConfigOptions {
            config_path: self.g.docker_config.clone(),
            ..ConfigOptions::default()
        }
    }

    /// Plain http for a loopback registry, as docker allows, unless TLS was asked for (an
    /// `https://` registry, or `--ca-cert`).
    fn implied_plain_http(&self, registry: &str) -> bool {
        is_loopback(registry) && self.g.ca_cert.is_none() && !registry.starts_with("https://")
    }

    fn progress_wanted(&self) -> bool {
        !self.g.json && !self.g.quiet && std::io::stderr().is_terminal()
    }

    /// An informational line on stderr (not with --quiet or --json).
    fn info(&self, line: &str) {
        if !self.g.quiet && !self.g.json {
            say_err(line);
        }
    }

    fn builder(&self, registry: &str) -> Result<ClientBuilder, Failure> {
        let mut b = Client::builder(registry)
            .insecure(self.g.insecure || self.implied_plain_http(registry))
            .config_options(self.config())
            .sendfile(self.g.sendfile)
            .overall_timeout(self.g.timeout);
        if self.g.debug_calls {
            b = b.on_request(|ev| {
                let status = ev
                    .status
                    .map_or_else(|| "no answer".to_string(), |s| s.to_string());
                let mut text = format!(
                    "debug-calls: {} {} -> {status} ({:.1} ms)",
                    ev.method,
                    ev.url,
                    ev.elapsed.as_secs_f64() * 1000.0
                );
                if let Some(e) = &ev.error {
                    text.push_str(&format!(" error: {e}"));
                }
                for (name, value) in &ev.request_headers {
                    text.push_str(&format!("\ndebug-calls:   > {name}: {value}"));
                }
                for (name, value) in &ev.response_headers {
                    text.push_str(&format!("\ndebug-calls:   < {name}: {value}"));
                }
                say_err(&text);
            });
        }
        if let Some(ca) = &self.g.ca_cert {
            let pem = std::fs::read(ca)
                .map_err(|e| ocireg::Error::io(format!("reading {}", ca.display()), e))?;
            b = b.ca_cert_pem(pem);
        }
        if let Some(u) = &self.g.username {
            b = b.credentials(Credentials::basic(u.clone(), self.password()?));
        }
        Ok(b)
    }

    fn client(&self, registry: &str) -> Result<Client, Failure> {
        let b = self.builder(registry)?;
        Ok(self.call("ClientBuilder::build", || b.build())?)
    }

    /// A library call, timed for --time-methods.
    fn call<T>(
        &self,
        name: &str,
        f: impl FnOnce() -> ocireg::Result<T>,
    ) -> Result<T, ocireg::Error> {
        let t = Instant::now();
        let r = f();
        if self.g.time_methods {
            let outcome = if r.is_ok() { "ok" } else { "error" };
            say_err(&format!(
                "time-methods: {name} {:.1} ms ({outcome})",
                t.elapsed().as_secs_f64() * 1000.0
            ));
        }
        r
    }

    /// Prints the result: `text` (plain) or `doc` (--json).
    fn emit(&self, text: impl AsRef<str>, doc: Value) {
        let mut out = std::io::stdout().lock();
        if self.g.json {
            let _ = writeln!(out, "{doc}");
        } else {
            let t = text.as_ref();
            if !t.is_empty() {
                let _ = writeln!(out, "{t}");
            }
        }
    }

    fn bars(&self, label: &str, total: Option<u64>) -> Option<Arc<Bars>> {
        if !self.progress_wanted() {
            return None;
        }
        let b = Bars::new(label, total);
        *BARS.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&b));
        Some(b)
    }

    fn end_bars(&self, bars: &Option<Arc<Bars>>) {
        if let Some(b) = bars {
            b.finish();
            *BARS.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

/// Reads a line from the terminal (the user name prompt), never from a redirected stdin.
fn prompt_line(prompt: &str) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "no terminal to prompt for the user name: give -u USER".into(),
        ));
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| Failure::Usage(format!("reading the user name: {e}")))?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// The hidden password prompt, on the terminal only.
fn prompt_password() -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "no terminal to prompt for the password: give -p PASSWORD or --password-stdin".into(),
        ));
    }
    rpassword::prompt_password("Password: ")
        .map_err(|e| Failure::Usage(format!("reading the password: {e}")))
}

fn reference(s: &str) -> Result<Reference, Failure> {
    s.parse::<Reference>().map_err(Failure::from)
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

fn blob_digest(r: &Reference, what: &str) -> Result<String, Failure> {
    r.digest().map(ToString::to_string).ok_or_else(|| {
        Failure::Usage(format!(
            "{what} needs a digest: -i REGISTRY/REPOSITORY@sha256:..."
        ))
    })
}

fn platform_json(p: &Option<Platform>) -> Value {
    p.as_ref().map_or(Value::Null, |p| json!(p.to_string()))
}

fn descriptor_json(d: &ocireg::Descriptor) -> Value {
    json!({
        "mediaType": d.media_type,
        "digest": d.digest.to_string(),
        "size": d.size,
        "platform": platform_json(&d.platform),
    })
}

fn report_json(report: &VerifyReport) -> Value {
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|c| {
            let (status, why) = match &c.status {
                CheckStatus::Ok => ("ok", None),
                CheckStatus::Failed(m) => ("failed", Some(m.clone())),
                CheckStatus::Inconclusive(m) => ("inconclusive", Some(m.clone())),
            };
            json!({
                "check": format!("{:?}", c.kind),
                "digest": c.digest.to_string(),
                "size": c.size,
                "status": status,
                "reason": why,
            })
        })
        .collect();
    json!({
        "repository": report.repository,
        "digest": report.digest.to_string(),
        "outcome": outcome_word(report.outcome),
        "checks": checks,
    })
}

fn outcome_word(o: VerifyOutcome) -> &'static str {
    match o {
        VerifyOutcome::Verified => "verified",
        VerifyOutcome::Failed => "failed",
        VerifyOutcome::Inconclusive => "inconclusive",
    }
}

/// The verification's failure, naming Failed apart from Inconclusive.
fn verify_failure(report: VerifyReport) -> Failure {
    Failure::Verify(Box::new(report))
}

fn verify_text(report: &VerifyReport) -> String {
    match report.outcome {
        VerifyOutcome::Verified => format!(
            "Verified: the registry holds {}@{} as pushed ({} checks).",
            report.repository,
            report.digest,
            report.checks.len()
        ),
        VerifyOutcome::Failed => format!(
            "Failed: the registry does not hold {}@{} as pushed ({} of {} checks failed).",
            report.repository,
            report.digest,
            report.failures().count(),
            report.checks.len()
        ),
        VerifyOutcome::Inconclusive => format!(
            "Inconclusive: {} of {} checks of {}@{} could not be made (nothing found wrong).",
            report.inconclusive().count(),
            report.checks.len(),
            report.repository,
            report.digest
        ),
    }
}

// ----------------------------------------------------------------------------------- commands

fn run(ctx: &Ctx, cmd: Cmd) -> Result<(), Failure> {
    match cmd {
        Cmd::Auth(a) => auth(ctx, a),
        Cmd::Ping(RegistryArg { registry }) => {
            let c = ctx.client(&registry)?;
            ctx.call("Client::ping", || c.ping())?;
            ctx.emit(
                format!("{} speaks the registry API v2.", c.registry()),
                json!({"status": "success", "registry": c.registry(), "api": "registry/2.0"}),
            );
            Ok(())
        }
        Cmd::Tag(t) => tag(ctx, t),
        Cmd::Catalog(c) => catalog(ctx, c),
        Cmd::Manifest(m) => manifest(ctx, m),
        Cmd::Blob(b) => blob(ctx, b),
        Cmd::Image(i) => image(ctx, i),
        Cmd::Serve(s) => serve(ctx, s),
        Cmd::Completion { shell } => {
            let mut cmd = cli_command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ocireg", &mut script);
            let script = String::from_utf8_lossy(&script);
            ctx.emit(
                script.trim_end(),
                json!({"status": "success", "shell": shell.to_string(), "script": script}),
            );
            Ok(())
        }
    }
}

fn auth(ctx: &Ctx, a: AuthCmd) -> Result<(), Failure> {
    match a {
        AuthCmd::Login {
            registry: RegistryArg { registry },
        } => {
            let user = match &ctx.g.username {
                Some(u) => u.clone(),
                None => prompt_line("Username: ")?,
            };
            let password = ctx.password()?;
            let mut g = ctx.g.clone();
            g.username = None;
            let builder = Ctx::new(g).builder(&registry)?;
            let options = LoginOptions {
                config: ctx.config(),
                client: Some(builder),
            };
            let stored = scenario(ctx, "login", || {
                ctx.call("ocireg::login", || {
                    ocireg::login(&registry, &user, &password, &options)
                })
            })
            .map_err(|f| f.into_login(&registry))?;
            match &stored {
                LoginStored::Helper(_) | LoginStored::ConfigFile(_) => {
                    ctx.info(&format!("Credentials stored in the {stored}."));
                }
            }
            ctx.emit(
                "Login succeeded.",
                json!({"status": "success", "registry": registry}),
            );
            Ok(())
        }
        AuthCmd::Logout {
            registry: RegistryArg { registry },
        } => {
            let done = ctx
                .call("ocireg::logout", || {
                    ocireg::logout(&registry, &ctx.config())
                })
                .map_err(Failure::Logout)?;
            let text = match done {
                Logout::LoggedOut => format!("Removing login credentials for {registry}."),
                Logout::NotLoggedIn => format!("Not logged in to {registry}."),
            };
            ctx.emit(text, json!({"status": "success", "registry": registry}));
            Ok(())
        }
        AuthCmd::Status {
            registry: RegistryArg { registry },
        } => {
            let c = ctx.client(&registry)?;
            let source = c.credential_source();
            let (kind, detail) = match source {
                ocireg::credentials::Source::Explicit => ("flags", None),
                ocireg::credentials::Source::Helper(_) => ("credential_helper", None),
                ocireg::credentials::Source::ConfigFile(p) => {
                    ("config_file", Some(p.display().to_string()))
                }
                ocireg::credentials::Source::Anonymous => ("anonymous", None),
            };
            let text = match source {
                ocireg::credentials::Source::Anonymous => {
                    format!("Not logged in to {registry}: requests are anonymous.")
                }
                ocireg::credentials::Source::Explicit => {
                    format!("{registry}: credentials from the command line (-u/-p).")
                }
                other => format!("{registry}: credentials from the {other}."),
            };
            ctx.emit(
                text,
                json!({
                    "status": "success",
                    "registry": registry,
                    "source": kind,
                    "description": source.to_string(),
                    "path": detail,
                }),
            );
            Ok(())
        }
    }
}

fn tag(ctx: &Ctx, t: TagCmd) -> Result<(), Failure> {
    match t {
        TagCmd::List {
            r,
            n,
            last,
            digests,
        } => {
            let r = reference(&r.image_ref)?;
            let c = ctx.client(r.registry())?;
            let repo = r.repository();
            if digests {
                let pairs = ctx.call("Client::tags_with_digests", || c.tags_with_digests(repo))?;
                let text: Vec<String> = pairs.iter().map(|(t, d)| format!("{t}\t{d}")).collect();
                let tags: Vec<Value> = pairs
                    .iter()
                    .map(|(t, d)| json!({"tag": t, "digest": d.to_string()}))
                    .collect();
                ctx.emit(
                    text.join("\n"),
                    json!({"status": "success", "repository": repo, "tags": tags}),
                );
            } else if n.is_some() || last.is_some() {
                let page = ctx.call("Client::tags_page", || {
                    c.tags_page(repo, n, last.as_deref())
                })?;
                ctx.emit(
                    page.items.join("\n"),
                    json!({"status": "success", "repository": repo, "tags": page.items, "next": page.next}),
                );
            } else {
                let tags = ctx.call("Client::tags", || c.tags(repo))?;
                ctx.emit(
                    tags.join("\n"),
                    json!({"status": "success", "repository": repo, "tags": tags}),
                );
            }
            Ok(())
        }
        TagCmd::Delete { r, by_digest } => {
            let r = reference(&r.image_ref)?;
            let Some(tag) = r.tag() else {
                return Err(Failure::Usage(
                    "tag delete needs a tag: -i REGISTRY/REPOSITORY:TAG".into(),
                ));
            };
            let c = ctx.client(r.registry())?;
            let options = DeleteTagOptions {
                tag_first: !by_digest,
                list_other_tags: true,
                ..DeleteTagOptions::default()
            };
            let gone = scenario(ctx, "tag delete", || {
                ctx.call("Client::delete_tag_with", || {
                    c.delete_tag_with(r.repository(), tag, &options)
                })
            })?;
            let removed = gone.removed_tags();
            let text = if gone.manifest_deleted {
                format!(
                    "Deleted manifest {} of {}: every tag on it is gone ({}).",
                    gone.digest,
                    gone.repository,
                    removed.join(", ")
                )
            } else {
                format!(
                    "Removed tag {}:{}; manifest {} and its other tags remain.",
                    gone.repository, gone.tag, gone.digest
                )
            };
            ctx.emit(
                text,
                json!({
                    "status": "success",
                    "repository": gone.repository,
                    "tag": gone.tag,
                    "digest": gone.digest.to_string(),
                    "manifest_deleted": gone.manifest_deleted,
                    "removed_tags": removed,
                }),
            );
            Ok(())
        }
    }
}

fn catalog(ctx: &Ctx, cmd: CatalogCmd) -> Result<(), Failure> {
    match cmd {
        CatalogCmd::List {
            registry: RegistryArg { registry },
            n,
            last,
        } => {
            let c = ctx.client(&registry)?;
            if n.is_some() || last.is_some() {
                let page = ctx.call("Client::catalog_page", || {
                    c.catalog_page(n, last.as_deref())
                })?;
                ctx.emit(
                    page.items.join("\n"),
                    json!({"status": "success", "registry": c.registry(), "repositories": page.items, "next": page.next}),
                );
            } else {
                let repos = ctx.call("Client::catalog", || c.catalog())?;
                ctx.emit(
                    repos.join("\n"),
                    json!({"status": "success", "registry": c.registry(), "repositories": repos}),
                );
            }
            Ok(())
        }
        CatalogCmd::Search {
            pattern,
            registry: RegistryArg { registry },
        } => {
            let c = ctx.client(&registry)?;
            let repos = ctx.call("Client::search", || c.search(&pattern))?;
            ctx.emit(
                repos.join("\n"),
                json!({"status": "success", "registry": c.registry(), "pattern": pattern, "repositories": repos}),
            );
            Ok(())
        }
    }
}

/// The manifest a reference (and maybe a platform) names.
fn fetch_manifest(
    ctx: &Ctx,
    c: &Client,
    r: &Reference,
    platform: &Option<Platform>,
) -> Result<Manifest, Failure> {
    let reference = match platform {
        Some(p) => ctx
            .call("Client::platform_descriptor", || {
                c.platform_descriptor(r.repository(), &manifest_ref(r), p)
            })?
            .digest
            .to_string(),
        None => manifest_ref(r),
    };
    Ok(ctx.call("Client::manifest", || {
        c.manifest(r.repository(), &reference)
    })?)
}

fn manifest(ctx: &Ctx, cmd: ManifestCmd) -> Result<(), Failure> {
    match cmd {
        ManifestCmd::Get { r, platform } => {
            let r = reference(&r.image_ref)?;
            let c = ctx.client(r.registry())?;
            let m = fetch_manifest(ctx, &c, &r, &platform.platform)?;
            if ctx.g.json {
                let parsed: Value = serde_json::from_slice(&m.bytes).unwrap_or(Value::Null);
                ctx.emit(
                    "",
                    json!({
                        "status": "success",
                        "repository": r.repository(),
                        "digest": m.digest.to_string(),
                        "mediaType": m.media_type,
                        "size": m.bytes.len(),
                        "manifest": parsed,
                    }),
                );
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&m.bytes);
                let _ = writeln!(out);
            }
            Ok(())
        }
        ManifestCmd::Info { r, platform } => {
            let r = reference(&r.image_ref)?;
            let c = ctx.client(r.registry())?;
            let m = fetch_manifest(ctx, &c, &r, &platform.platform)?;
            let mut lines = vec![
                format!("digest:     {}", m.digest),
                format!("media type: {}", m.media_type),
                format!("size:       {} bytes", m.bytes.len()),
            ];
            let mut doc = json!({
                "status": "success",
                "repository": r.repository(),
                "digest": m.digest.to_string(),
                "mediaType": m.media_type,
                "size": m.bytes.len(),
            });
            if m.is_index() {
                let index = m.index()?;
                lines.push(format!("manifests:  {}", index.manifests.len()));
                for d in &index.manifests {
                    let p = d
                        .platform
                        .as_ref()
                        .map_or("(no platform)".to_string(), ToString::to_string);
                    lines.push(format!("  {p:<20} {} {} bytes", d.digest, d.size));
                }
                doc["manifests"] = index.manifests.iter().map(descriptor_json).collect();
            } else {
                let image = m.image()?;
                lines.push(format!(
                    "config:     {} {} bytes",
                    image.config.digest, image.config.size
                ));
                lines.push(format!("layers:     {}", image.layers.len()));
                for l in &image.layers {
                    lines.push(format!("  {} {} bytes", l.digest, l.size));
                }
                lines.push(format!(
                    "image size: {} bytes (config + layers)",
                    image.image_size()
                ));
                doc["config"] = descriptor_json(&image.config);
                doc["layers"] = image.layers.iter().map(descriptor_json).collect();
                doc["image_size"] = json!(image.image_size());
            }
            ctx.emit(lines.join("\n"), doc);
            Ok(())
        }
        ManifestCmd::Digest { r, platform } => {
            let r = reference(&r.image_ref)?;
            let c = ctx.client(r.registry())?;
            let d = match &platform.platform {
                Some(p) => {
                    ctx.call("Client::platform_descriptor", || {
                        c.platform_descriptor(r.repository(), &manifest_ref(&r), p)
                    })?
                    .digest
                }
                None => ctx.call("Client::manifest_digest", || {
                    c.manifest_digest(r.repository(), &manifest_ref(&r))
                })?,
            };
            ctx.emit(
                d.to_string(),
                json!({"status": "success", "repository": r.repository(), "digest": d.to_string()}),
            );
            Ok(())
        }
        ManifestCmd::Put {
            r,
            file,
            media_type,
        } => {
            let r = reference(&r.image_ref)?;
            let bytes = read_input(&file)?;
            let m = Manifest::from_bytes(bytes, media_type.as_deref())?;
            let c = ctx.client(r.registry())?;
            let target = match (r.tag(), r.digest()) {
                (Some(t), _) => t.to_string(),
                (None, Some(d)) => d.to_string(),
                (None, None) => m.digest.to_string(),
            };
            let d = ctx.call("Client::put_manifest", || {
                c.put_manifest(r.repository(), &target, &m.media_type, &m.bytes)
            })?;
            ctx.emit(
                format!("Put manifest {}:{target} {d}", r.repository()),
                json!({"status": "success", "repository": r.repository(), "reference": target, "digest": d.to_string(), "mediaType": m.media_type}),
            );
            Ok(())
        }
        ManifestCmd::Delete { r } => {
            let r = reference(&r.image_ref)?;
            let Some(d) = r.digest() else {
                return Err(Failure::Usage(
                    "manifest delete needs a digest (-i REGISTRY/REPOSITORY@sha256:...); to delete by tag use `ocireg tag delete`".into(),
                ));
            };
            let c = ctx.client(r.registry())?;
            ctx.call("Client::delete_manifest", || {
                c.delete_manifest(r.repository(), &d.to_string())
            })?;
            ctx.emit(
                format!(
                    "Deleted manifest {}@{d} (and every tag on it).",
                    r.repository()
                ),
                json!({"status": "success", "repository": r.repository(), "digest": d.to_string()}),
            );
            Ok(())
        }
    }
}

fn read_input(file: &str) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| ocireg::Error::io("reading stdin", e))?;
    } else {
        bytes = std::fs::read(file).map_err(|e| ocireg::Error::io(format!("reading {file}"), e))?;
    }
    Ok(bytes)
}

fn blob(ctx: &Ctx, cmd: BlobCmd) -> Result<(), Failure> {
    match cmd {
        BlobCmd::Head { r } => {
            let r = reference(&r.image_ref)?;
            let d = blob_digest(&r, "blob head")?;
            let c = ctx.client(r.registry())?;
            match ctx.call("Client::blob_exists", || c.blob_exists(r.repository(), &d))? {
                Some(size) => {
                    ctx.emit(
                        format!("{d} {size} bytes"),
                        json!({"status": "success", "repository": r.repository(), "digest": d, "exists": true, "size": size}),
                    );
                    Ok(())
                }
                None => Err(Failure::Op(Box::new(ocireg::Error::NotFound {
                    registry: c.registry().to_string(),
                    what: format!("blob {}@{d}", r.repository()),
                    errors: Vec::new(),
                    body: None,
                }))),
            }
        }
        BlobCmd::Get { r, output } => {
            let r = reference(&r.image_ref)?;
            let d = blob_digest(&r, "blob get")?;
            let c = ctx.client(r.registry())?;
            match output {
                Some(path) => {
                    let n = ctx.call("Client::pull_blob_to_path", || {
                        c.pull_blob_to_path(r.repository(), &d, &path)
                    })?;
                    ctx.emit(
                        format!("Wrote {d} ({n} bytes) to {}", path.display()),
                        json!({"status": "success", "repository": r.repository(), "digest": d, "size": n, "path": path.display().to_string()}),
                    );
                }
                None if ctx.g.json => {
                    return Err(Failure::Usage(
                        "blob get --json needs -o FILE (the blob cannot share stdout with the JSON document)".into(),
                    ));
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    ctx.call("Client::pull_blob", || {
                        c.pull_blob(r.repository(), &d, &mut out)
                    })?;
                    let _ = out.flush();
                }
            }
            Ok(())
        }
        BlobCmd::Upload { r, file } => {
            let r = reference(&r.image_ref)?;
            let c = ctx.client(r.registry())?;
            let pushed = ctx.call("Client::push_blob", || {
                c.push_blob(r.repository(), BlobSource::file(&file))
            })?;
            let status = match pushed.status {
                BlobStatus::Existed => "existed",
                BlobStatus::Mounted => "mounted",
                BlobStatus::Uploaded => "uploaded",
            };
            ctx.emit(
                format!(
                    "{} {}@{} ({} bytes)",
                    capitalize(status),
                    r.repository(),
                    pushed.digest,
                    pushed.size
                ),
                json!({"status": "success", "repository": r.repository(), "digest": pushed.digest.to_string(), "size": pushed.size, "blob_status": status}),
            );
            Ok(())
        }
        BlobCmd::Mount { r, from } => {
            let r = reference(&r.image_ref)?;
            let d = blob_digest(&r, "blob mount")?;
            let c = ctx.client(r.registry())?;
            let outcome = ctx.call("Client::mount_blob", || {
                c.mount_blob(r.repository(), &from, &d, None)
            })?;
            match outcome {
                MountOutcome::Mounted | MountOutcome::Uploaded(_) => {
                    ctx.emit(
                        format!("Mounted {d} from {from} into {}", r.repository()),
                        json!({"status": "success", "repository": r.repository(), "from": from, "digest": d, "mounted": true}),
                    );
                    Ok(())
                }
                MountOutcome::NotMounted => {
                    Err(Failure::Op(Box::new(ocireg::Error::Unsupported {
                        registry: c.registry().to_string(),
                        what: format!(
                            "mounting {d} from {from} (it answered 202: upload the blob instead)"
                        ),
                    })))
                }
            }
        }
        BlobCmd::Delete { r } => {
            let r = reference(&r.image_ref)?;
            let d = blob_digest(&r, "blob delete")?;
            let c = ctx.client(r.registry())?;
            ctx.call("Client::delete_blob", || c.delete_blob(r.repository(), &d))?;
            ctx.emit(
                format!("Deleted blob {}@{d}", r.repository()),
                json!({"status": "success", "repository": r.repository(), "digest": d}),
            );
            Ok(())
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A workflow, timed for --time-scenarios.
fn scenario<T>(
    ctx: &Ctx,
    name: &str,
    f: impl FnOnce() -> Result<T, ocireg::Error>,
) -> Result<T, Failure> {
    let t = Instant::now();
    let r = f();
    if ctx.g.time_scenarios {
        let outcome = if r.is_ok() { "ok" } else { "error" };
        say_err(&format!(
            "time-scenarios: {name} {:.1} ms ({outcome})",
            t.elapsed().as_secs_f64() * 1000.0
        ));
    }
    r.map_err(Failure::from)
}

fn pushed_json(p: &ocireg::Pushed) -> Value {
    json!({
        "repository": p.repository,
        "tag": p.tag,
        "digest": p.digest.to_string(),
        "mediaType": p.media_type,
        "size": p.size,
        "stats": {
            "blobs_uploaded": p.stats.blobs_uploaded,
            "blobs_existing": p.stats.blobs_existing,
            "blobs_mounted": p.stats.blobs_mounted,
            "bytes_uploaded": p.stats.bytes_uploaded,
            "manifests_put": p.stats.manifests_put,
            "requests": p.stats.requests,
        },
    })
}

fn image(ctx: &Ctx, cmd: ImageCmd) -> Result<(), Failure> {
    match cmd {
        ImageCmd::Push {
            layout,
            r,
            no_verify,
        } => {
            let r = reference(&r.image_ref)?;
            let tag = r.tag().unwrap_or("latest").to_string();
            let c = ctx.client(r.registry())?;
            let image = ctx.call("Image::from_layout", || {
                ocireg::Image::from_layout(&layout, None)
            })?;
            let bars = ctx.bars("push", Some(image.total_blob_size()));
            let mut options = PushOptions::default();
            if let Some(b) = &bars {
                options = options.progress(b.callback());
            }
            let pushed = scenario(ctx, "push", || {
                ctx.call("Client::push_image", || {
                    c.push_image(r.repository(), &tag, &image, &options)
                })
            });
            ctx.end_bars(&bars);
            let pushed = pushed?;
            let mut doc = json!({"status": "success", "pushed": pushed_json(&pushed)});
            let mut text = format!("Pushed {}:{tag} {}", r.repository(), pushed.digest);
            // A re-push that found the tag already at this digest (HEAD by tag, with one by digest)
            // sent nothing: no blob of it can be missing because of this push, so the blob
            // checks are left to `image verify` (crane and oras stop there too).
            let already_there = pushed.stats.manifests_put == 0
                && pushed.stats.blobs_uploaded == 0
                && pushed.stats.blobs_mounted == 0
                && pushed.stats.manifests_existing > 0;
            if !no_verify && already_there {
                text = format!(
                    "Already there: the registry holds {}:{tag} as {} (its tag and digest were \
                     checked before anything was sent; `ocireg image verify` checks every blob).",
                    r.repository(),
                    pushed.digest
                );
                doc["verify"] = json!({"outcome": "already_present"});
            } else if !no_verify {
                let report = scenario(ctx, "verify", || {
                    ctx.call("Client::verify", || Ok(c.verify(r.repository(), &pushed)))
                })?;
                if !report.is_verified() {
                    return Err(verify_failure(report));
                }
                text.push('\n');
                text.push_str(&verify_text(&report));
                doc["verify"] = report_json(&report);
            }
            ctx.emit(text, doc);
            Ok(())
        }
        ImageCmd::Verify { r, layout } => {
            let r = reference(&r.image_ref)?;
            let c = ctx.client(r.registry())?;
            let image = ctx.call("Image::from_layout", || {
                ocireg::Image::from_layout(&layout, None)
            })?;
            let pushed = ocireg::Pushed::from_image(&image, r.repository(), r.tag())?;
            let report = scenario(ctx, "verify", || {
                ctx.call("Client::verify", || Ok(c.verify(r.repository(), &pushed)))
            })?;
            if !report.is_verified() {
                return Err(verify_failure(report));
            }
            let mut lines: Vec<String> = report.checks.iter().map(|c| c.to_string()).collect();
            lines.push(verify_text(&report));
            let mut doc = report_json(&report);
            doc["status"] = json!("success");
            ctx.emit(lines.join("\n"), doc);
            Ok(())
        }
        ImageCmd::Pull {
            r,
            dir,
            platform,
            layers,
        } => {
            let r = reference(&r.image_ref)?;
            let c = ctx.client(r.registry())?;
            let bars = ctx.bars("pull", None);
            let mut options = PullOptions::default();
            if let Some(p) = platform.platform {
                options = options.platform(p);
            }
            if let Some(b) = &bars {
                options = options.progress(b.callback());
            }
            let reference = manifest_ref(&r);
            if layers {
                let pulled = scenario(ctx, "pull", || {
                    ctx.call("Client::pull_layers", || {
                        c.pull_layers(r.repository(), &reference, &dir, &options)
                    })
                });
                ctx.end_bars(&bars);
                let pulled = pulled?;
                let mut lines = vec![format!(
                    "Pulled the {} layers of {}@{} into {}",
                    pulled.layers.len(),
                    pulled.repository,
                    pulled.digest,
                    dir.display()
                )];
                for l in &pulled.layers {
                    lines.push(format!("  {}", l.path.display()));
                }
                let files: Vec<Value> = pulled
                    .layers
                    .iter()
                    .map(|l| json!({"digest": l.descriptor.digest.to_string(), "size": l.descriptor.size, "path": l.path.display().to_string(), "downloaded": l.downloaded}))
                    .collect();
                ctx.emit(
                    lines.join("\n"),
                    json!({
                        "status": "success",
                        "repository": pulled.repository,
                        "digest": pulled.digest.to_string(),
                        "platform": platform_json(&pulled.platform),
                        "layers": files,
                        "bytes_downloaded": pulled.stats.bytes_downloaded,
                    }),
                );
            } else {
                let pulled = scenario(ctx, "pull", || {
                    ctx.call("Client::pull_image", || {
                        c.pull_image(r.repository(), &reference, &dir, &options)
                    })
                });
                ctx.end_bars(&bars);
                let pulled = pulled?;
                ctx.emit(
                    format!("Pulled {} into {}", pulled.digest, dir.display()),
                    json!({
                        "status": "success",
                        "repository": pulled.repository,
                        "digest": pulled.digest.to_string(),
                        "mediaType": pulled.media_type,
                        "platform": platform_json(&pulled.platform),
                        "path": dir.display().to_string(),
                        "blobs_downloaded": pulled.stats.blobs_downloaded,
                        "blobs_reused": pulled.stats.blobs_reused,
                        "bytes_downloaded": pulled.stats.bytes_downloaded,
                    }),
                );
            }
            Ok(())
        }
        ImageCmd::Copy { r, dest, platform } => {
            let src = reference(&r.image_ref)?;
            let dst = reference(&dest)?;
            let to_ref = match (dst.tag(), dst.digest(), src.tag()) {
                (Some(t), _, _) => t.to_string(),
                (None, Some(d), _) => d.to_string(),
                (None, None, Some(t)) => t.to_string(),
                (None, None, None) => manifest_ref(&src),
            };
            let c = ctx.client(src.registry())?;
            let bars = ctx.bars("copy", None);
            let mut options = CopyOptions::default();
            if let Some(p) = platform.platform {
                options = options.platform(p);
            }
            if let Some(b) = &bars {
                options = options.progress(b.callback());
            }
            let same = src.registry() == dst.registry();
            let copied = if same {
                scenario(ctx, "copy", || {
                    ctx.call("Client::copy", || {
                        c.copy(
                            src.repository(),
                            &manifest_ref(&src),
                            dst.repository(),
                            &to_ref,
                            &options,
                        )
                    })
                })
            } else {
                match ctx.client(dst.registry()) {
                    Ok(d) => scenario(ctx, "copy", || {
                        ctx.call("Client::copy_to", || {
                            c.copy_to(
                                src.repository(),
                                &manifest_ref(&src),
                                &d,
                                dst.repository(),
                                &to_ref,
                                &options,
                            )
                        })
                    }),
                    Err(e) => Err(e),
                }
            };
            ctx.end_bars(&bars);
            let copied = copied?;
            ctx.emit(
                format!(
                    "Copied {}/{} to {}/{} {} ({} blobs uploaded, {} mounted, {} existed)",
                    src.registry(),
                    src.repository(),
                    dst.registry(),
                    copied.reference(),
                    copied.digest,
                    copied.stats.blobs_uploaded,
                    copied.stats.blobs_mounted,
                    copied.stats.blobs_existing
                ),
                json!({"status": "success", "source": src.to_string(), "destination": dst.registry(), "copied": pushed_json(&copied)}),
            );
            Ok(())
        }
        ImageCmd::Tag { r, target } => {
            let src = reference(&r.image_ref)?;
            let (to_repo, to_tag) = if target.contains('/') || target.contains(':') {
                let t = reference(&target)?;
                if t.registry() != src.registry() {
                    return Err(Failure::Usage(format!(
                        "image tag stays in one registry ({} here, {} there): use `ocireg image copy`",
                        src.registry(),
                        t.registry()
                    )));
                }
                let Some(tag) = t.tag() else {
                    return Err(Failure::Usage(format!(
                        "the target {target:?} names no tag"
                    )));
                };
                (t.repository().to_string(), tag.to_string())
            } else {
                (src.repository().to_string(), target.clone())
            };
            let c = ctx.client(src.registry())?;
            let tagged = scenario(ctx, "tag", || {
                ctx.call("Client::retag", || {
                    c.retag(src.repository(), &manifest_ref(&src), &to_repo, &to_tag)
                })
            })?;
            ctx.emit(
                format!("Tagged {to_repo}:{to_tag} {}", tagged.digest),
                json!({"status": "success", "repository": to_repo, "tag": to_tag, "digest": tagged.digest.to_string()}),
            );
            Ok(())
        }
    }
}

fn serve(ctx: &Ctx, s: ServeArgs) -> Result<(), Failure> {
    use ocireg::testing::{AuthMode, BearerPolicy, Registry};
    let users: Vec<(String, String)> = s
        .users
        .iter()
        .map(|u| {
            u.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or(Failure::Usage("--user must be NAME:PASSWORD".into()))
        })
        .collect::<Result<_, _>>()?;
    let auth = match s.auth.as_str() {
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
        _ => AuthMode::None,
    };
    let reg = Registry::builder().auth(auth).port(s.port).start()?;
    ctx.emit(
        format!(
            "serving an in-memory registry at {} (Ctrl-C to stop)",
            reg.url()
        ),
        json!({"status": "serving", "url": reg.url(), "host": reg.host(), "auth": s.auth}),
    );
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    let args = legacy::rewrite(std::env::args_os().collect());
    let json_wanted = args.iter().any(|a| a == "--json");
    let matches = match cli_command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return output::clap_error(e, json_wanted),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return output::clap_error(e, json_wanted),
    };
    let mut g = cli.global;
    if g.password_stdin {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            return output::fail(
                &Failure::Usage(format!("reading the password from stdin: {e}")),
                g.json,
            );
        }
        g.password = Some(s.trim_end_matches(['\r', '\n']).to_string());
    }
    let ctx = Ctx::new(g);
    let started = Instant::now();
    let name = command_name(&cli.cmd);
    let r = run(&ctx, cli.cmd);
    if ctx.g.time_scenarios {
        let outcome = if r.is_ok() { "ok" } else { "error" };
        say_err(&format!(
            "time-scenarios: ocireg {name} {:.1} ms ({outcome})",
            started.elapsed().as_secs_f64() * 1000.0
        ));
    }
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => output::fail(&f, ctx.g.json),
    }
}

fn command_name(cmd: &Cmd) -> String {
    let (group, sub) = match cmd {
        Cmd::Auth(a) => (
            "auth",
            match a {
                AuthCmd::Login { .. } => "login",
                AuthCmd::Logout { .. } => "logout",
                AuthCmd::Status { .. } => "status",
            },
        ),
        Cmd::Ping(_) => ("ping", ""),
        Cmd::Tag(t) => (
            "tag",
            match t {
                TagCmd::List { .. } => "list",
                TagCmd::Delete { .. } => "delete",
            },
        ),
        Cmd::Catalog(c) => (
            "catalog",
            match c {
                CatalogCmd::List { .. } => "list",
                CatalogCmd::Search { .. } => "search",
            },
        ),
        Cmd::Manifest(m) => (
            "manifest",
            match m {
                ManifestCmd::Get { .. } => "get",
                ManifestCmd::Info { .. } => "info",
                ManifestCmd::Digest { .. } => "digest",
                ManifestCmd::Put { .. } => "put",
                ManifestCmd::Delete { .. } => "delete",
            },
        ),
        Cmd::Blob(b) => (
            "blob",
            match b {
                BlobCmd::Head { .. } => "head",
                BlobCmd::Get { .. } => "get",
                BlobCmd::Upload { .. } => "upload",
                BlobCmd::Mount { .. } => "mount",
                BlobCmd::Delete { .. } => "delete",
            },
        ),
        Cmd::Image(i) => (
            "image",
            match i {
                ImageCmd::Push { .. } => "push",
                ImageCmd::Verify { .. } => "verify",
                ImageCmd::Pull { .. } => "pull",
                ImageCmd::Copy { .. } => "copy",
                ImageCmd::Tag { .. } => "tag",
            },
        ),
        Cmd::Serve(_) => ("serve", ""),
        Cmd::Completion { .. } => ("completion", ""),
    };
    if sub.is_empty() {
        group.to_string()
    } else {
        format!("{group} {sub}")
    }
}
