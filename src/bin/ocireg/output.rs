//! Failures: their plain-text message (stderr), their JSON error object (stdout, with
//! `--json`) and their exit code (regshape's: 0 success, 1 failure, 2 usage or invalid input,
//! 3 not supported by the registry).

use std::io::Write;
use std::process::ExitCode;

use ocireg::{Error, VerifyOutcome, VerifyReport};
use serde_json::{Value, json};

/// Why a command failed.
pub enum Failure {
    /// A usage error found after parsing (e.g. a missing digest, no terminal to prompt).
    Usage(String),
    /// A library error.
    Op(Box<Error>),
    /// regshape's `Error: Login failed for <registry>: <reason>`.
    Login(String, Box<Error>),
    /// regshape's `Error: Could not store credentials: <reason>`.
    Store(Box<Error>),
    /// A logout that could not remove the credentials.
    Logout(Error),
    /// A verification that did not verify (Failed or Inconclusive).
    Verify(Box<VerifyReport>),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Op(Box::new(e))
    }
}

impl Failure {
    /// A failed login: credential store errors are "Could not store credentials", everything
    /// else "Login failed for REGISTRY".
    pub fn into_login(self, registry: &str) -> Failure {
        match self {
            Failure::Op(e) => match *e {
                Error::Credentials(_) | Error::Io { .. } => Failure::Store(e),
                _ => Failure::Login(registry.to_string(), e),
            },
            other => other,
        }
    }
}

/// The machine-readable kind of a library error.
fn kind(e: &Error) -> &'static str {
    match e {
        Error::Authentication { .. } => "authentication",
        Error::Authorization { .. } => "authorization",
        Error::NotFound { .. } => "not_found",
        Error::Tls { .. } => "tls",
        Error::Network { .. } => "network",
        Error::Timeout { .. } => "timeout",
        Error::RateLimited { .. } => "rate_limited",
        Error::Registry { .. } => "registry",
        Error::DigestMismatch { .. } => "digest_mismatch",
        Error::InvalidReference(_) => "invalid_reference",
        Error::InvalidInput(_) => "invalid_input",
        Error::Unsupported { .. } => "unsupported",
        Error::Credentials(_) => "credentials",
        Error::Io { .. } => "io",
        Error::Cancelled(_) => "cancelled",
        Error::Protocol { .. } => "protocol",
        _ => "error",
    }
}

fn code_of(e: &Error) -> u8 {
    match e {
        Error::InvalidReference(_) | Error::InvalidInput(_) => 2,
        Error::Unsupported { .. } => 3,
        _ => 1,
    }
}

/// The reason regshape prints after `Login failed for REGISTRY: `.
fn login_reason(e: &Error) -> String {
    match e {
        Error::Authentication { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn registry_errors(e: &Error) -> Value {
    e.registry_errors()
        .iter()
        .map(|i| json!({"code": i.code, "message": i.message, "detail": i.detail}))
        .collect()
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Op(e) => code_of(e),
            Failure::Login(_, e) => code_of(e),
            Failure::Store(_) | Failure::Logout(_) | Failure::Verify(_) => 1,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Usage(m) => m.clone(),
            Failure::Op(e) => e.to_string(),
            Failure::Login(registry, e) => {
                format!("Login failed for {registry}: {}", login_reason(e))
            }
            Failure::Store(e) => format!("Could not store credentials: {}", store_reason(e)),
            Failure::Logout(e) => format!("Could not remove credentials: {e}"),
            Failure::Verify(r) => {
                let what = match r.outcome {
                    VerifyOutcome::Failed => {
                        "Failed: the registry does not hold the image as expected"
                    }
                    VerifyOutcome::Inconclusive => {
                        "Inconclusive: some checks could not be made (nothing found wrong)"
                    }
                    VerifyOutcome::Verified => "Verified",
                };
                let mut m = format!("verification of {}@{}: {what}", r.repository, r.digest);
                for c in r.failures().chain(r.inconclusive()) {
                    m.push_str(&format!("\n  {c}"));
                }
                m
            }
        }
    }

    fn json(&self) -> Value {
        let mut doc = json!({
            "status": "error",
            "kind": "usage",
            "message": self.message(),
            "http_status": Value::Null,
            "registry_errors": [],
            "exit_code": self.exit_code(),
        });
        match self {
            Failure::Usage(_) => {}
            Failure::Op(e) | Failure::Store(e) => {
                doc["kind"] = json!(kind(e));
                doc["http_status"] = json!(e.http_status());
                doc["registry_errors"] = registry_errors(e);
            }
            Failure::Login(registry, e) => {
                doc["kind"] = json!(kind(e));
                doc["http_status"] = json!(e.http_status());
                doc["registry_errors"] = registry_errors(e);
                doc["registry"] = json!(registry);
            }
            Failure::Logout(e) => {
                doc["kind"] = json!(kind(e));
            }
            Failure::Verify(r) => {
                doc["kind"] = json!(match r.outcome {
                    VerifyOutcome::Inconclusive => "verify_inconclusive",
                    _ => "verify_failed",
                });
                doc["verify"] = crate::report_json(r);
            }
        }
        doc
    }
}

/// The reason after `Could not store credentials: ` (the library's `credentials: ` prefix
/// would say it twice).
fn store_reason(e: &Error) -> String {
    match e {
        Error::Credentials(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Reports a failure: `Error: <message>` on stderr, or the JSON error object on stdout.
pub fn fail(f: &Failure, json: bool) -> ExitCode {
    if json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", f.json());
    } else {
        crate::say_err(&format!("Error: {}", f.message()));
    }
    ExitCode::from(f.exit_code())
}

/// A clap error: help and version to stdout with exit 0; a usage error to stderr (or as a JSON
/// error object on stdout with --json) with exit 2.
pub fn clap_error(e: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ if json => {
            let message = e.render().to_string();
            let first = message
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("usage error")
                .trim_start_matches("error: ")
                .to_string();
            let doc = json!({
                "status": "error",
                "kind": "usage",
                "message": first,
                "http_status": Value::Null,
                "registry_errors": [],
                "exit_code": 2,
            });
            println!("{doc}");
            ExitCode::from(2)
        }
        _ => {
            // Usage errors, and `ocireg` alone (its help, as a usage error): stderr.
            let _ = e.print();
            ExitCode::from(2)
        }
    }
}
