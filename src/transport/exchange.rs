//! One HTTP exchange through ureq, and the request log that never shows a secret.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ureq::http::Response;
use ureq::{Body, SendBody};

use super::Transport;
use super::body::drain;
use super::request::{Method, ReqBody, Request};
use super::urls::{same_origin, shorten_url};
use crate::error::{Error, Result};

/// What a request log callback is told of each HTTP exchange: the method, the URL, the status,
/// and the headers both ways, with every secret already redacted — `Authorization` and
/// `Proxy-Authorization` values (their scheme stays: `Bearer <redacted>`), cookies, tokens and
/// passwords, and the query of any URL (presigned URLs carry signatures there). Never a body.
///
/// ```
/// let client = ocireg::Client::builder("http://127.0.0.1:5000")
///     .on_request(|ev| {
///         eprintln!("{} {} -> {:?}", ev.method, ev.url, ev.status);
///         for (name, value) in &ev.request_headers {
///             eprintln!("  > {name}: {value}");
///         }
///         for (name, value) in &ev.response_headers {
///             eprintln!("  < {name}: {value}");
///         }
///     })
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Debug)]
pub struct RequestEvent {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: &'static str,
    /// `scheme://host[:port]/path`, without the query string or any password.
    pub url: String,
    /// The status, or `None` when no response came (the error is in `error`).
    pub status: Option<u16>,
    /// Whether an `Authorization` header was sent (its value is never shown).
    pub authorized: bool,
    /// Time from sending the request to the response headers.
    pub elapsed: Duration,
    /// The failure, for requests that got no response.
    pub error: Option<String>,
    /// The headers ocireg set on the request (ureq adds `Host` and `Accept-Encoding`), secrets
    /// redacted.
    pub request_headers: Vec<(String, String)>,
    /// The response's headers, secrets redacted (empty when no response came).
    pub response_headers: Vec<(String, String)>,
}

/// A header value as a log may show it: credentials, cookies and tokens redacted, the query of
/// URLs (`Location`, `Link`) removed.
pub(crate) fn redact_header(name: &str, value: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} <redacted>"),
            None => "<redacted>".into(),
        },
        "cookie" | "set-cookie" | "x-registry-auth" | "x-auth-token" | "x-amz-security-token" => {
            "<redacted>".into()
        }
        "location" | "content-location" => {
            let v = crate::redact::userinfo(value);
            match v.split_once('?') {
                Some((before, _)) => format!("{before}?<redacted>"),
                None => v,
            }
        }
        "link" => {
            // `<url?query>; rel="next"`: the query may hold a cursor, never a secret, but a
            // presigned URL could; keep the cursor's shape, drop nothing else.
            crate::redact::userinfo(value)
        }
        "www-authenticate" => value.to_string(),
        _ if name.contains("token") || name.contains("secret") || name.contains("password") => {
            "<redacted>".into()
        }
        _ => value.to_string(),
    }
}

/// A callback told of every HTTP request (a debug log).
pub type RequestCallback = Arc<dyn Fn(&RequestEvent) + Send + Sync>;

/// Redirects followed per attempt (GET and HEAD only; writes are never redirected).
const MAX_REDIRECTS: usize = 10;

impl Transport {
    /// One attempt of a request. Redirects of GET and HEAD are followed here rather than by
    /// ureq, so that `Authorization` goes to the registry's origin (or, for a token request, the
    /// token service's) and to no other scheme, host or port, whatever a redirect says.
    pub(super) fn send_once(
        &self,
        url: &str,
        req: &mut Request<'_>,
        authorization: Option<&str>,
    ) -> Result<Response<Body>> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let allowed = match &req.auth_origin {
                Some(origin) => same_origin(origin, &url),
                None => self.same_origin(&url),
            };
            let resp = self.exchange(&url, req, authorization.filter(|_| allowed))?;
            let redirect = matches!(req.method, Method::Get | Method::Head)
                && matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308);
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .filter(|_| redirect);
            let Some(location) = location else {
                return Ok(resp);
            };
            let next = self.resolve_redirect(&url, location)?;
            drain(resp);
            url = next;
        }
        Err(Error::Network {
            registry: self.registry.clone(),
            message: format!("{}: more than {MAX_REDIRECTS} redirects", req.what),
        })
    }

    /// One HTTP exchange: the request as given, no redirect followed, within what is left of
    /// the request's deadline; a small answer's body must also arrive within the response
    /// timeout.
    fn exchange(
        &self,
        url: &str,
        req: &mut Request<'_>,
        authorization: Option<&str>,
    ) -> Result<Response<Body>> {
        let what = req.what.clone();
        if let Some(call) = &req.call
            && call.cancelled()
        {
            return Err(Error::Cancelled(format!("{what}: the call was cancelled")));
        }
        let agent = match req.call.as_ref().and_then(|c| c.agent.as_ref()) {
            Some(lease) => lease.agent(),
            None => &self.agent,
        };
        let left = match req.deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(self.deadline_expired(&what)),
            },
            None => None,
        };
        let body_timeout = if req.large_body {
            None
        } else {
            self.small_body_timeout
        };
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|_| self.protocol(format!("{what}: malformed URL {:?}", shorten_url(url))))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        macro_rules! common {
            ($b:expr) => {{
                let mut b = $b;
                for (k, v) in &req.headers {
                    b = b.header(*k, v.as_str());
                }
                if let Some(a) = authorization {
                    b = b.header("authorization", a);
                }
                let mut c = b.config();
                if left.is_some() {
                    c = c.timeout_global(left);
                }
                if body_timeout.is_some() {
                    c = c.timeout_recv_body(body_timeout);
                }
                c.build()
            }};
        }
        let result = match req.method {
            Method::Get => common!(agent.get(uri)).call(),
            Method::Head => common!(agent.head(uri)).call(),
            Method::Delete => common!(agent.delete(uri)).call(),
            Method::Post | Method::Put | Method::Patch => {
                let b = match req.method {
                    Method::Post => agent.post(uri),
                    Method::Put => agent.put(uri),
                    _ => agent.patch(uri),
                };
                let b = common!(b);
                match &mut req.body {
                    ReqBody::None => b.header("content-length", "0").send_empty(),
                    ReqBody::Bytes(bytes) => b.send(*bytes),
                    ReqBody::Stream { open, len } => {
                        let len = *len;
                        let reader = open().map_err(|e| {
                            Error::io(format!("{what}: opening the upload source"), e)
                        })?;
                        let mut checked = ExactLength::new(reader, len);
                        // A file body may go out with sendfile (see `zerocopy`).
                        let _scope = super::zerocopy::Scope::new();
                        let r = b
                            .header("content-length", len.to_string())
                            .send(SendBody::from_reader(&mut checked));
                        if let Some(e) = checked.error.take() {
                            return Err(Error::InvalidInput(format!("{what}: {e}")));
                        }
                        r
                    }
                }
            }
        };
        if let Some(log) = &self.on_request {
            let mut request_headers: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), redact_header(k, v)))
                .collect();
            request_headers.push(("user-agent".into(), self.user_agent.clone()));
            if let Some(a) = authorization {
                request_headers.push(("authorization".into(), redact_header("authorization", a)));
            }
            let response_headers = match &result {
                Ok(r) => r
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        let v = String::from_utf8_lossy(v.as_bytes());
                        (k.as_str().to_string(), redact_header(k.as_str(), &v))
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            log(&RequestEvent {
                method: req.method.as_str(),
                url: shorten_url(url),
                status: result.as_ref().ok().map(|r| r.status().as_u16()),
                authorized: authorization.is_some(),
                elapsed: started.elapsed(),
                error: result.as_ref().err().map(|e| e.to_string()),
                request_headers,
                response_headers,
            });
        }
        result.map_err(|e| self.map_ureq(e, &what))
    }
}

/// Wraps a reader that must yield exactly `len` bytes: a short or long reader is an error, not a
/// corrupted upload.
struct ExactLength<R> {
    inner: R,
    remaining: u64,
    error: Option<String>,
    len: u64,
}

impl<R: Read> ExactLength<R> {
    fn new(inner: R, len: u64) -> Self {
        ExactLength {
            inner,
            remaining: len,
            error: None,
            len,
        }
    }
}

impl<R: Read> Read for ExactLength<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Probe for extra bytes: a longer source is an error.
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => {
                    let msg = format!(
                        "the source yields more than the announced {} bytes",
                        self.len
                    );
                    self.error = Some(msg.clone());
                    Err(io::Error::new(io::ErrorKind::InvalidData, msg))
                }
            };
        }
        let max = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            let msg = format!(
                "the source ended after {} of the announced {} bytes",
                self.len - self.remaining,
                self.len
            );
            self.error = Some(msg.clone());
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_length_reader() {
        let mut ok = ExactLength::new(&b"abc"[..], 3);
        let mut v = Vec::new();
        ok.read_to_end(&mut v).unwrap();
        assert_eq!(v, b"abc");
        let mut short = ExactLength::new(&b"ab"[..], 3);
        assert!(short.read_to_end(&mut Vec::new()).is_err());
        assert!(short.error.unwrap().contains("ended after 2"));
        let mut long = ExactLength::new(&b"abcd"[..], 3);
        assert!(long.read_to_end(&mut Vec::new()).is_err());
        assert!(long.error.unwrap().contains("more than"));
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_header;

    #[test]
    fn secrets_in_headers_are_redacted() {
        for (name, value, shown) in [
            (
                "Authorization",
                "Bearer eyJhbGciOi.secret",
                "Bearer <redacted>",
            ),
            ("authorization", "Basic YWxpY2U6cHc=", "Basic <redacted>"),
            ("Proxy-Authorization", "opaque", "<redacted>"),
            ("Set-Cookie", "session=abc; Path=/", "<redacted>"),
            ("X-Amz-Security-Token", "tok", "<redacted>"),
            ("X-Registry-Token", "tok", "<redacted>"),
            (
                "Location",
                "https://s3.example/blob?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA",
                "https://s3.example/blob?<redacted>",
            ),
            (
                "Location",
                "http://u:pw@h/v2/x",
                "http://u:<redacted>@h/v2/x",
            ),
            (
                "WWW-Authenticate",
                "Bearer realm=\"r\",service=\"s\"",
                "Bearer realm=\"r\",service=\"s\"",
            ),
            ("Content-Type", "application/json", "application/json"),
        ] {
            assert_eq!(redact_header(name, value), shown, "{name}");
        }
    }
}
