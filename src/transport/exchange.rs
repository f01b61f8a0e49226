//! One HTTP exchange through ureq, and the request log that never shows a secret.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ureq::http::Response;
use ureq::{Body, SendBody};

use super::Transport;
use super::request::{Method, ReqBody, Request};
use super::urls::{origin_of, path_of, shorten_url};
use crate::error::{Error, Result};

/// What a request log callback is told of each HTTP request: never a header value, a query
/// string (which may hold presigned secrets) or a body.
#[derive(Clone, Debug)]
pub struct RequestEvent {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: &'static str,
    /// `scheme://host[:port]/path`, without the query string.
    pub url: String,
    /// The status, or `None` when no response came (the error is in `error`).
    pub status: Option<u16>,
    /// Whether an `Authorization` header was sent (its value is never shown).
    pub authorized: bool,
    /// Time from sending the request to the response headers.
    pub elapsed: Duration,
    /// The failure, for requests that got no response.
    pub error: Option<String>,
}

/// A callback told of every HTTP request (a debug log).
pub type RequestCallback = Arc<dyn Fn(&RequestEvent) + Send + Sync>;

impl Transport {
    pub(super) fn send_once(
        &self,
        url: &str,
        req: &mut Request<'_>,
        authorization: Option<&str>,
    ) -> Result<Response<Body>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let what = req.what.clone();
        let uri: ureq::http::Uri = url.parse().map_err(|_| {
            Error::InvalidInput(format!("{what}: malformed URL {:?}", shorten_url(url)))
        })?;
        macro_rules! common {
            ($b:expr) => {{
                let mut b = $b;
                for (k, v) in &req.headers {
                    b = b.header(*k, v.as_str());
                }
                if let Some(a) = authorization {
                    b = b.header("authorization", a);
                }
                b
            }};
        }
        let result = match req.method {
            Method::Get | Method::Head | Method::Delete => {
                let b = match req.method {
                    Method::Get => self.agent.get(uri),
                    Method::Head => self.agent.head(uri),
                    _ => self.agent.delete(uri),
                };
                let b = common!(b);
                if req.method == Method::Delete {
                    b.config().max_redirects(0).build().call()
                } else {
                    b.call()
                }
            }
            Method::Post | Method::Put | Method::Patch => {
                let b = match req.method {
                    Method::Post => self.agent.post(uri),
                    Method::Put => self.agent.put(uri),
                    _ => self.agent.patch(uri),
                };
                let b = common!(b).config().max_redirects(0).build();
                match &mut req.body {
                    ReqBody::None => b.header("content-length", "0").send_empty(),
                    ReqBody::Bytes(bytes) => b.send(*bytes),
                    ReqBody::Stream { open, len } => {
                        let len = *len;
                        let reader = open().map_err(|e| {
                            Error::io(format!("{what}: opening the upload source"), e)
                        })?;
                        let mut checked = ExactLength::new(reader, len);
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
            log(&RequestEvent {
                method: req.method.as_str(),
                url: format!("{}{}", origin_of(url), path_of(url)),
                status: result.as_ref().ok().map(|r| r.status().as_u16()),
                authorized: authorization.is_some(),
                elapsed: started.elapsed(),
                error: result.as_ref().err().map(|e| e.to_string()),
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
