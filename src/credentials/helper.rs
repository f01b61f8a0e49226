//! The `docker-credential-<name>` helper protocol (docker-credential-helpers).
//!
//! A helper is run as `docker-credential-<name> <action>`: `get` and `erase` read the server
//! URL on stdin, `store` reads `{"ServerURL","Username","Secret"}`, `get` prints that shape and
//! `list` prints `{url: username}`. Errors come on **stdout** with exit status 1;
//! `credentials not found in native keychain` means "no credentials". Debian's `pass` helper
//! answers a missing entry with an empty Username and Secret and exit 0, which is "not found"
//! too. A Username of `<token>` means the Secret is an identity (refresh) token.
//!
//! The helper is looked up in [`ConfigOptions::helper_dirs`], then in `PATH`. It is killed when
//! it runs longer than [`ConfigOptions::helper_timeout`]; stdout and stderr are read in their own
//! threads, so a chatty helper cannot deadlock. A missing helper, a failure or a timeout is
//! [`Error::Credentials`] naming the helper and its message; no message ever holds a secret.
//!
//! The server URL a helper is given is `registry_key`:
//! `host[:port]`, or `https://index.docker.io/v1/` for Docker Hub.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::ConfigOptions;
use crate::auth::Credentials;
use crate::error::{Error, Result};

/// The message a helper prints when it holds nothing for a server.
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// The Username that marks the Secret as an identity token.
pub const TOKEN_USERNAME: &str = "<token>";

/// Output kept from each helper stream; the rest is read and dropped.
const OUTPUT_CAP: usize = 1 << 20;

/// `docker-credential-<name>`.
pub fn program_name(helper: &str) -> String {
    format!("docker-credential-{helper}")
}

/// Asks the helper for the credentials of `server_url`. `Ok(None)` when it has none.
///
/// Username `<token>` gives [`Credentials::IdentityToken`]; anything else
/// [`Credentials::Basic`].
pub fn get(helper: &str, server_url: &str, options: &ConfigOptions) -> Result<Option<Credentials>> {
    let out = run(helper, "get", server_url.as_bytes().to_vec(), options)?;
    if !out.status.success() {
        return match out.failure() {
            Failure::NotFound => Ok(None),
            Failure::Message(m) => Err(failed(helper, "get", &m)),
        };
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: Option<String>,
        #[serde(rename = "Secret", default)]
        secret: Option<String>,
    }
    // The answer holds the secret: the parse error is not quoted.
    let answer: Answer = serde_json::from_slice(&out.stdout).map_err(|_| {
        failed(
            helper,
            "get",
            "answered something that is not a {\"Username\",\"Secret\"} JSON object",
        )
    })?;
    let username = answer.username.unwrap_or_default();
    let secret = answer.secret.unwrap_or_default();
    Ok(match (username.as_str(), secret.is_empty()) {
        ("", true) => None,
        (TOKEN_USERNAME, false) => Some(Credentials::IdentityToken(secret)),
        (TOKEN_USERNAME, true) => None,
        _ => Some(Credentials::Basic {
            username,
            password: secret,
        }),
    })
}

/// Stores `username` and `secret` for `server_url` in the helper (use [`TOKEN_USERNAME`] as the
/// user name to store an identity token).
pub fn store(
    helper: &str,
    server_url: &str,
    username: &str,
    secret: &str,
    options: &ConfigOptions,
) -> Result<()> {
    #[derive(Serialize)]
    struct Input<'a> {
        #[serde(rename = "ServerURL")]
        server_url: &'a str,
        #[serde(rename = "Username")]
        username: &'a str,
        #[serde(rename = "Secret")]
        secret: &'a str,
    }
    let input = serde_json::to_vec(&Input {
        server_url,
        username,
        secret,
    })
    .map_err(|e| failed(helper, "store", &format!("cannot encode the request: {e}")))?;
    let out = run(helper, "store", input, options)?;
    if out.status.success() {
        return Ok(());
    }
    match out.failure_redacting(Some(secret)) {
        Failure::NotFound => Err(failed(helper, "store", NOT_FOUND)),
        Failure::Message(m) => Err(failed(helper, "store", &m)),
    }
}

/// Erases the credentials of `server_url`. `Ok(false)` when the helper had none.
pub fn erase(helper: &str, server_url: &str, options: &ConfigOptions) -> Result<bool> {
    let out = run(helper, "erase", server_url.as_bytes().to_vec(), options)?;
    if out.status.success() {
        return Ok(true);
    }
    match out.failure() {
        Failure::NotFound => Ok(false),
        Failure::Message(m) => Err(failed(helper, "erase", &m)),
    }
}

/// Lists the servers the helper holds credentials for, with their user names.
pub fn list(helper: &str, options: &ConfigOptions) -> Result<BTreeMap<String, String>> {
    // Nothing is written to stdin: helpers ignore it, and a helper that exits before reading
    // would otherwise make the write raise SIGPIPE in hosts that do not ignore it.
    let out = run(helper, "list", Vec::new(), options)?;
    if !out.status.success() {
        return match out.failure() {
            Failure::NotFound => Ok(BTreeMap::new()),
            Failure::Message(m) => Err(failed(helper, "list", &m)),
        };
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(BTreeMap::new());
    }
    serde_json::from_slice(&out.stdout).map_err(|_| {
        failed(
            helper,
            "list",
            "answered something that is not a JSON object of strings",
        )
    })
}

/// Where `docker-credential-<helper>` is: the first executable file of that name in
/// [`ConfigOptions::helper_dirs`], then in `PATH`.
///
/// A name that could leave the search directories (`/`, `\`, `..`, control characters) is
/// refused.
pub fn find(helper: &str, options: &ConfigOptions) -> Result<PathBuf> {
    if helper.is_empty()
        || helper.starts_with('.')
        || helper.contains(['/', '\\'])
        || helper.chars().any(char::is_control)
    {
        return Err(Error::Credentials(format!(
            "invalid credential helper name {:?}",
            crate::digest::shorten(helper)
        )));
    }
    let name = program_name(helper);
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for dir in options.helper_dirs.iter().chain(path_dirs.iter()) {
        // An empty PATH entry means the current directory: never search it.
        if dir.as_os_str().is_empty() {
            continue;
        }
        for candidate in candidates(dir, &name) {
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(Error::Credentials(format!(
        "credential helper {name} not found (searched {}PATH)",
        if options.helper_dirs.is_empty() {
            ""
        } else {
            "the helper directories and "
        }
    )))
}

#[cfg(windows)]
fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    vec![dir.join(format!("{name}.exe")), dir.join(name)]
}

#[cfg(not(windows))]
fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    vec![dir.join(name)]
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file())
}

fn failed(helper: &str, action: &str, message: &str) -> Error {
    Error::Credentials(format!(
        "credential helper {} {action} failed: {message}",
        program_name(helper)
    ))
}

struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

enum Failure {
    NotFound,
    Message(String),
}

impl Output {
    fn failure(&self) -> Failure {
        self.failure_redacting(None)
    }

    /// Why a helper failed: its stdout (where the protocol puts errors), else its stderr, else
    /// the exit status; cleaned, shortened, and with `secret` cut out.
    fn failure_redacting(&self, secret: Option<&str>) -> Failure {
        let stdout = String::from_utf8_lossy(&self.stdout);
        let stderr = String::from_utf8_lossy(&self.stderr);
        if stdout.contains(NOT_FOUND) || (stdout.trim().is_empty() && stderr.contains(NOT_FOUND)) {
            return Failure::NotFound;
        }
        let raw = if !stdout.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        // The secret goes before anything is trimmed, and so does its trimmed form: a secret
        // with surrounding whitespace may come back without it.
        let mut raw = raw.into_owned();
        if let Some(s) = secret {
            for form in [s, s.trim()] {
                if !form.is_empty() {
                    raw = raw.replace(form, "<redacted>");
                }
            }
        }
        let mut text = raw.trim().to_string();
        text = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text.chars().count() > 300 {
            text = text.chars().take(300).collect::<String>() + "…";
        }
        let status = match self.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        Failure::Message(if text.is_empty() {
            status
        } else {
            format!("{text} ({status})")
        })
    }
}

/// What a reader thread collected so far, and whether it reached the end.
#[derive(Default)]
struct Collected {
    bytes: Vec<u8>,
    done: bool,
}

/// A stream read to its end by its own thread, keeping the first [`OUTPUT_CAP`] bytes.
struct Collector {
    state: Arc<(Mutex<Collected>, Condvar)>,
}

impl Collector {
    fn spawn(stream: Option<impl Read + Send + 'static>) -> Collector {
        let state = Arc::new((Mutex::new(Collected::default()), Condvar::new()));
        let Some(mut stream) = stream else {
            state.0.lock().unwrap_or_else(|e| e.into_inner()).done = true;
            return Collector { state };
        };
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut g = shared.0.lock().unwrap_or_else(|e| e.into_inner());
                        let room = OUTPUT_CAP.saturating_sub(g.bytes.len());
                        g.bytes.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
            shared.0.lock().unwrap_or_else(|e| e.into_inner()).done = true;
            shared.1.notify_all();
        });
        Collector { state }
    }

    /// What was read by `deadline` (all of it, unless a grandchild still holds the pipe).
    fn finish(self, deadline: Instant) -> Vec<u8> {
        let (lock, cvar) = &*self.state;
        let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !g.done {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            g = match cvar.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        std::mem::take(&mut g.bytes)
    }
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin, within the timeout.
fn run(helper: &str, action: &str, input: Vec<u8>, options: &ConfigOptions) -> Result<Output> {
    let program = find(helper, options)?;
    let mut attempt = 0;
    let mut child = loop {
        let spawned = Command::new(&program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Ok(child) => break child,
            // A helper that was just written may still be open for writing in a process being
            // forked elsewhere: that clears within milliseconds.
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 5 => {
                attempt += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                let m = format!("cannot start {}: {e}", program.display());
                return Err(failed(helper, action, &m));
            }
        }
    };
    let start = Instant::now();
    // A huge timeout from the caller means "a year", not an overflow.
    let deadline = start
        .checked_add(options.helper_timeout)
        .unwrap_or_else(|| start + Duration::from_secs(365 * 24 * 60 * 60));

    let stdin = child.stdin.take();
    if let Some(mut stdin) = stdin {
        if input.is_empty() {
            drop(stdin);
        } else {
            // In a thread: a helper that does not read must not block us past the timeout.
            thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
    }
    let stdout = Collector::spawn(child.stdout.take());
    let stderr = Collector::spawn(child.stderr.take());

    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(helper, action, &format!("cannot wait for it: {e}")));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(
                helper,
                action,
                &format!(
                    "timed out after {:.1} s and was killed",
                    options.helper_timeout.as_secs_f64()
                ),
            ));
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // The pipes close when the helper exits, unless it left a background process holding them
    // open: its own output is in the pipes already, so a short grace period is enough.
    let grace = Instant::now() + Duration::from_millis(500);
    Ok(Output {
        status,
        stdout: stdout.finish(grace),
        stderr: stderr.finish(grace),
    })
}
