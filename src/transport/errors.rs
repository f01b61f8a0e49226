//! Failures mapped to [`Error`]: ureq errors, and error answers with their OCI `errors[]`.

use std::io;
use std::time::SystemTime;

use ureq::Body;
use ureq::http::Response;

use super::Transport;
use crate::error::{Error, ErrorInfo};
use crate::headers;

/// How many bytes of an error body we read to find the OCI `errors[]`.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

impl Transport {
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
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| headers::retry_after(v, SystemTime::now()));
        let errors = read_error_infos(resp);
        let registry = self.registry.clone();
        match status {
            401 => Error::Authentication {
                registry,
                message: format!(
                    "{what}: authentication required{}",
                    crate::error::InfoList(&errors)
                ),
            },
            403 => Error::Authorization {
                registry,
                repository: repository.map(str::to_string),
                message: format!("{what}: denied{}", crate::error::InfoList(&errors)),
            },
            404 => Error::NotFound {
                registry,
                what: what.to_string(),
                errors,
            },
            429 => Error::RateLimited {
                registry,
                retry_after,
                errors,
            },
            _ => Error::Registry {
                registry,
                operation: what.to_string(),
                status,
                errors,
            },
        }
    }
}

/// Reads (a bounded part of) an error body and parses its OCI `errors[]`. A `text/plain` body
/// (distribution's `404 page not found`) becomes one entry with that message.
pub(crate) fn read_error_infos(mut resp: Response<Body>) -> Vec<ErrorInfo> {
    let bytes = match resp
        .body_mut()
        .with_config()
        .limit(ERROR_BODY_LIMIT)
        .read_to_vec()
    {
        Ok(b) => b,
        Err(_) => return Vec::new(),
    };
    parse_error_body(&bytes)
}

pub(crate) fn parse_error_body(bytes: &[u8]) -> Vec<ErrorInfo> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        errors: Vec<ErrorInfo>,
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(bytes) {
        return env.errors;
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() || text.starts_with('{') || text.starts_with('<') {
        return Vec::new();
    }
    vec![ErrorInfo {
        code: String::new(),
        message: crate::digest::shorten(text),
        detail: None,
    }]
}

fn looks_like_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("certificate") || t.contains("tls") || t.contains("handshake") || t.contains("alert")
}

fn tls_message(what: &str, detail: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        format!(
            "{what}: the server certificate is not trusted (unknown issuer; add its CA with \
             ClientBuilder::ca_cert_pem): {detail}"
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
    }
}
