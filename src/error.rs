//! The error type of every ocireg operation.
//!
//! Each variant is something a caller can act on. Messages name the registry (and the repository
//! where there is one) and the reason. No variant ever carries a password, a token or an
//! `Authorization` header, so printing an error (`Display` or `Debug`) never leaks a secret.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `Result<T, ocireg::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One entry of the OCI error body `{"errors":[{"code","message","detail"}]}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The error code, such as `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `DENIED`, `UNAUTHORIZED`.
    #[serde(default)]
    pub code: String,
    /// The registry's human readable message.
    #[serde(default)]
    pub message: String,
    /// Free-form detail, as the registry sent it (often `null`, an object or a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// The most characters of a registry's code or message an error message quotes (the whole
/// text stays in [`ErrorInfo`]).
const QUOTED_CHARS: usize = 200;
/// The most `errors[]` entries an error message quotes.
const QUOTED_ENTRIES: usize = 5;

/// `s`, cut to `QUOTED_CHARS` characters with an ellipsis.
fn capped(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(QUOTED_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]).into(),
        None => s.into(),
    }
}

impl fmt::Display for ErrorInfo {
    /// `CODE: message`, each cut to 200 characters: a registry's answer may be huge.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, message) = (capped(&self.code), capped(&self.message));
        match (code.is_empty(), message.is_empty()) {
            (false, false) => write!(f, "{code}: {message}"),
            (false, true) => f.write_str(&code),
            (true, false) => f.write_str(&message),
            (true, true) => f.write_str("(no detail)"),
        }
    }
}

/// Formats a list of registry errors for a message: `" (CODE: message; CODE2: message2)"`, at
/// most five entries of at most 200 characters each.
pub(crate) struct InfoList<'a>(pub &'a [ErrorInfo]);

impl fmt::Display for InfoList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_str(" (")?;
        for (i, e) in self.0.iter().take(QUOTED_ENTRIES).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > QUOTED_ENTRIES {
            write!(f, "; and {} more", self.0.len() - QUOTED_ENTRIES)?;
        }
        f.write_str(")")
    }
}

/// Everything that can go wrong, one variant per thing a caller can act on.
///
/// ```
/// use ocireg::Error;
/// let e = Error::InvalidReference("tag \"-bad\" must start with a letter, digit or _".into());
/// assert!(e.to_string().contains("-bad"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry (or its token service) rejected the credentials, or demands credentials that
    /// were not given.
    #[error("authentication failed for {registry}: {message}")]
    Authentication {
        /// `host[:port]` of the registry.
        registry: String,
        /// Why, e.g. "authentication rejected".
        message: String,
        /// The registry's OCI error entries (e.g. `UNAUTHORIZED`), if it sent some.
        errors: Vec<ErrorInfo>,
        /// The registry's answer body (at most 64 KiB), if there was one.
        body: Option<Box<str>>,
    },
    /// The credentials are valid but do not grant this operation (HTTP 403, `DENIED`, or a token
    /// with `error="insufficient_scope"`).
    #[error("access denied by {registry}{}: {message}", repo_suffix(.repository))]
    Authorization {
        /// `host[:port]` of the registry.
        registry: String,
        /// The repository, when the request named one.
        repository: Option<String>,
        /// Why.
        message: String,
        /// The registry's OCI error entries (e.g. `DENIED`), if it sent some.
        errors: Vec<ErrorInfo>,
        /// The registry's answer body (at most 64 KiB), if there was one.
        body: Option<Box<str>>,
    },
    /// The repository, tag, manifest or blob does not exist.
    #[error("not found on {registry}: {what}{}", InfoList(.errors))]
    NotFound {
        /// `host[:port]` of the registry.
        registry: String,
        /// What was looked for, e.g. `manifest library/alpine:3.20`.
        what: String,
        /// The registry's OCI error entries, if any.
        errors: Vec<ErrorInfo>,
        /// The registry's answer body (at most 64 KiB), if there was one.
        body: Option<Box<str>>,
    },
    /// TLS failed: untrusted certificate, wrong host name, handshake failure, bad PEM.
    #[error("TLS error with {registry}: {message}")]
    Tls {
        /// `host[:port]` of the registry.
        registry: String,
        /// Why, e.g. "certificate is not trusted (UnknownIssuer)".
        message: String,
    },
    /// The registry could not be reached, or the connection broke.
    #[error("network error talking to {registry}: {message}")]
    Network {
        /// `host[:port]` of the registry.
        registry: String,
        /// Why.
        message: String,
    },
    /// A configured timeout expired.
    #[error("timed out talking to {registry}: {message}")]
    Timeout {
        /// `host[:port]` of the registry.
        registry: String,
        /// Which timeout.
        message: String,
    },
    /// HTTP 429 that persisted through the retry policy.
    #[error("rate limited by {registry}{}{}", retry_suffix(.retry_after), InfoList(.errors))]
    RateLimited {
        /// `host[:port]` of the registry.
        registry: String,
        /// How long the registry asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// The registry's OCI error entries (e.g. `TOOMANYREQUESTS`), if any.
        errors: Vec<ErrorInfo>,
        /// The registry's answer body (at most 64 KiB), if there was one.
        body: Option<Box<str>>,
    },
    /// Any other error answer from the registry, with its OCI error body.
    #[error("registry {registry} answered {status} to {operation}{}", InfoList(.errors))]
    Registry {
        /// `host[:port]` of the registry.
        registry: String,
        /// What we asked, e.g. `PUT manifest team/app:v1`.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The parsed OCI error entries (empty when the body was not JSON).
        errors: Vec<ErrorInfo>,
        /// The registry's answer body (at most 64 KiB), if there was one.
        body: Option<Box<str>>,
        /// How long the registry asked us to wait (`Retry-After` of a 503), if it said.
        retry_after: Option<Duration>,
    },
    /// Content did not hash to the digest it should have.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked, e.g. `blob in team/app`.
        what: String,
        /// The digest we expected.
        expected: String,
        /// The digest of the bytes we got (or the size mismatch).
        actual: String,
    },
    /// An image reference, repository name, tag or digest is malformed.
    #[error("invalid reference: {0}")]
    InvalidReference(String),
    /// Any other bad argument or malformed document.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The registry does not implement the API this operation needs.
    #[error("{registry} does not support {what}")]
    Unsupported {
        /// `host[:port]` of the registry.
        registry: String,
        /// What is missing, e.g. "the catalog API (/v2/_catalog)".
        what: String,
    },
    /// A credential store, helper program or docker config file failed.
    #[error("credentials: {0}")]
    Credentials(String),
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The caller cancelled the operation (a progress callback returned false).
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// The registry answered something a registry must not: a `Link` or redirect to another
    /// origin, a `Range` answer that does not match the request, a body longer than announced
    /// or than any answer of its kind may be, a malformed `Location`. Not the caller's fault,
    /// and not worth retrying.
    #[error("protocol violation by {registry}: {message}")]
    Protocol {
        /// `host[:port]` of the registry.
        registry: String,
        /// What the registry did wrong.
        message: String,
    },
}

fn repo_suffix(repo: &Option<String>) -> String {
    match repo {
        Some(r) => format!(" for repository {r}"),
        None => String::new(),
    }
}

fn retry_suffix(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(" (retry after {} s)", d.as_secs()),
        None => String::new(),
    }
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The HTTP status behind this error, where there is one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Authentication { .. } => Some(401),
            Error::Authorization { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::RateLimited { .. } => Some(429),
            Error::Registry { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The registry's OCI error entries, where the registry sent some: every entry of its
    /// `errors[]`, each with code, message and detail.
    pub fn registry_errors(&self) -> &[ErrorInfo] {
        match self {
            Error::Authentication { errors, .. }
            | Error::Authorization { errors, .. }
            | Error::NotFound { errors, .. }
            | Error::Registry { errors, .. }
            | Error::RateLimited { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The body of the registry's error answer as it was sent (at most 64 KiB), where there is
    /// one: for what [`Error::registry_errors`] could not parse.
    pub fn body(&self) -> Option<&str> {
        match self {
            Error::Authentication { body, .. }
            | Error::Authorization { body, .. }
            | Error::NotFound { body, .. }
            | Error::Registry { body, .. }
            | Error::RateLimited { body, .. } => body.as_deref(),
            _ => None,
        }
    }

    /// How long the registry asked to wait before trying again (`Retry-After` of a 429 or a
    /// 503), where it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Registry { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The first OCI error code (e.g. `MANIFEST_UNKNOWN`), if the registry sent one.
    pub fn registry_code(&self) -> Option<&str> {
        self.registry_errors()
            .first()
            .map(|e| e.code.as_str())
            .filter(|c| !c.is_empty())
    }

    /// True when retrying later might succeed (network trouble, timeouts, rate limits, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { .. } | Error::Timeout { .. } | Error::RateLimited { .. } => true,
            Error::Registry { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
