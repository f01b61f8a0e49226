//! Failures mapped to [`Error`]: ureq errors, and error answers with their OCI `errors[]`.

use std::io::{self, Read};

use ureq::Body;
use ureq::http::Response;

use super::Transport;
use super::body::Guarded;
use super::retry::retry_after_of;
use crate::error::{Error, ErrorInfo};

/// How much of an error body an error keeps as data.
const KEPT_BODY: usize = 64 * 1024;

/// The registry's error answer, as data: its `errors[]` entries and its body.
pub(crate) struct ErrorAnswer {
    pub errors: Vec<ErrorInfo>,
    pub body: Option<Box<str>>,
}

/// How many bytes of an error body we read to find the OCI `errors[]` (all of it is kept as
/// data; messages quote a little of it).
const ERROR_BODY_LIMIT: u64 = 1024 * 1024;

impl Transport {
    /// Reads (at most 1 MiB of) an error answer's body under the low-speed limit: its OCI
    /// `errors[]`, and the body itself (at most 64 KiB) for the caller to read as data.
    pub(crate) fn error_answer(&self, mut resp: Response<Body>) -> ErrorAnswer {
        let mut bytes = Vec::new();
        let r = Guarded::new(resp.body_mut().as_reader(), self.low_speed, None);
        let _ = r.take(ERROR_BODY_LIMIT).read_to_end(&mut bytes);
        let errors = parse_error_body(&bytes);
        let body = (!bytes.is_empty()).then(|| {
            let kept = &bytes[..bytes.len().min(KEPT_BODY)];
            String::from_utf8_lossy(kept).into()
        });
        ErrorAnswer { errors, body }
    }

    /// [`Error::Timeout`]: the request's overall deadline passed.
    pub(crate) fn deadline_expired(&self, what: &str) -> Error {
        Error::Timeout {
            registry: self.registry.clone(),
            message: format!("{what}: the overall timeout expired"),
        }
    }

    /// [`Error::Protocol`]: the registry answered something a registry must not.
    pub(crate) fn protocol(&self, message: impl Into<String>) -> Error {
        Error::Protocol {
            registry: self.registry.clone(),
            message: message.into(),
        }
    }

    /// Maps a ureq failure to our error type.
    pub(crate) fn map_ureq(&self, e: ureq::Error, what: &str) -> Error {
        let registry = self.registry.clone();
        match e {
            ureq::Error::Timeout(t) => Error::Timeout {
                registry,
                message: format!("{what}: {t} timeout"),
            },
            ureq::Error::HostNotFound => Error::Network {
                registry,
                message: format!("{what}: host not found"),
            },
            ureq::Error::ConnectionFailed => Error::Network {
                registry,
                message: format!("{what}: connection failed"),
            },
            ureq::Error::Io(io) => match io.kind() {
                io::ErrorKind::TimedOut => Error::Timeout {
                    registry,
                    message: format!("{what}: {io}"),
                },
                _ => {
                    let text = io.to_string();
                    if looks_like_tls(&text) {
                        Error::Tls {
                            registry,
                            message: tls_message(what, &text),
                        }
                    } else {
                        Error::Network {
                            registry,
                            message: format!("{what}: {text}"),
                        }
                    }
                }
            },
            ureq::Error::Tls(m) => Error::Tls {
                registry,
                message: tls_message(what, m),
            },
            ureq::Error::Pem(p) => Error::Tls {
                registry,
                message: format!("{what}: bad PEM: {p}"),
            },
            ureq::Error::Rustls(r) => Error::Tls {
                registry,
                message: tls_message(what, &r.to_string()),
            },
            ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => Error::Network {
                registry,
                message: format!("{what}: redirect failed ({e})"),
            },
            ureq::Error::BodyExceedsLimit(n) => Error::Protocol {
                registry,
                message: format!("{what}: the answer is larger than the {n} byte limit"),
            },
            other => Error::Network {
                registry,
                message: format!("{what}: {other}"),
            },
        }
    }

    /// Turns a non-success response into an error, reading its OCI error body.
    pub(crate) fn error_from(
        &self,
        resp: Response<Body>,
        what: &str,
        repository: Option<&str>,
    ) -> Error {
        let status = resp.status().as_u16();
        let retry_after = retry_after_of(&resp);
        let ErrorAnswer { errors, body } = self.error_answer(resp);
        let registry = self.registry.clone();
        match status {
            401 => Error::Authentication {
                registry,
                message: format!(
                    "{what}: authentication required{}",
                    crate::error::InfoList(&errors)
                ),
                errors,
                body,
            },
            403 => Error::Authorization {
                registry,
                repository: repository.map(str::to_string),
                message: format!("{what}: denied{}", crate::error::InfoList(&errors)),
                errors,
                body,
            },
            404 => Error::NotFound {
                registry,
                what: what.to_string(),
                errors,
                body,
            },
            429 => Error::RateLimited {
                registry,
                retry_after,
                errors,
                body,
            },
            _ => Error::Registry {
                registry,
                operation: what.to_string(),
                status,
                errors,
                body,
                retry_after,
            },
        }
    }
}

/// Parses an error body: the OCI `{"errors": [...]}` (each entry on its own, so one malformed
/// entry costs only itself), or a plain-text body (distribution's `404 page not found`) as one
/// entry with that text.
pub(crate) fn parse_error_body(bytes: &[u8]) -> Vec<ErrorInfo> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<serde_json::Value>,
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(bytes) {
        return env.errors.into_iter().filter_map(error_entry).collect();
    }
    if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() {
        return Vec::new(); // JSON, but not an error body
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() || text.starts_with('{') || text.starts_with('<') {
        return Vec::new();
    }
    vec![ErrorInfo {
        code: String::new(),
        message: text.to_string(),
        detail: None,
    }]
}

/// One entry of `errors[]`: an object with `code`, `message` and `detail` of any type (a
/// non-string code or message is shown as its JSON text); anything else is kept as a message.
fn error_entry(v: serde_json::Value) -> Option<ErrorInfo> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    match v {
        serde_json::Value::Object(mut o) => Some(ErrorInfo {
            code: o.get("code").map(text).unwrap_or_default(),
            message: o.get("message").map(text).unwrap_or_default(),
            detail: o.remove("detail").filter(|d| !d.is_null()),
        }),
        serde_json::Value::Null => None,
        other => Some(ErrorInfo {
            code: String::new(),
            message: text(&other),
            detail: None,
        }),
    }
}

fn looks_like_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("certificate")
        || t.contains("tls")
        || t.contains("handshake")
        || t.contains("alert")
        // rustls reading a plain-http answer as a TLS record: "received corrupt message of
        // type InvalidContentType".
        || t.contains("corrupt message")
}

fn tls_message(what: &str, detail: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        format!(
            "{what}: the server certificate is not trusted (unknown issuer; add its CA with \
             ClientBuilder::ca_cert_pem): {detail}"
        )
    } else if lower.contains("invalidcontenttype") {
        format!(
            "{what}: the server did not answer TLS (a plain-http port? use an http:// registry \
             or insecure for it): {detail}"
        )
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        format!("{what}: the server certificate is not valid for this host name: {detail}")
    } else {
        format!("{what}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let e = parse_error_body(br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}}]}"#);
        assert_eq!(e[0].code, "NAME_UNKNOWN");
        let t = parse_error_body(b"404 page not found\n");
        assert_eq!(t[0].message, "404 page not found");
        assert!(parse_error_body(b"<html>").is_empty());
        assert!(parse_error_body(b"").is_empty());
        assert!(parse_error_body(b"[1, 2]").is_empty());
    }

    #[test]
    fn a_malformed_entry_costs_only_itself() {
        let e = parse_error_body(
            br#"{"errors":[{"code":"DENIED","message":"no"},{"code":5},"odd",null,{"code":"UNKNOWN","message":["m"],"detail":null}]}"#,
        );
        let codes: Vec<_> = e
            .iter()
            .map(|i| (i.code.as_str(), i.message.as_str()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("DENIED", "no"),
                ("5", ""),
                ("", "odd"),
                ("UNKNOWN", "[\"m\"]")
            ]
        );
        assert!(e.iter().all(|i| i.detail.is_none()));
    }
}
