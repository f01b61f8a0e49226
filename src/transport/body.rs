//! Response bodies: read under the low-speed limit, whole (with a limit, retried when the
//! connection breaks) or streamed, or drained so the connection can be reused.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use ureq::Body;
use ureq::http::Response;

use super::Transport;
use super::request::Request;
use crate::error::{Error, Result};

/// The slowest a response body may arrive: averaging below `bytes_per_sec` over any `window`,
/// the transfer is abandoned with [`Error::Timeout`] (curl's `--speed-limit`/`--speed-time`).
/// It catches a registry that drips a few bytes at a time, which no per-read timeout notices.
///
/// ```
/// use std::time::Duration;
/// let default = ocireg::LowSpeedLimit::default();
/// assert_eq!((default.bytes_per_sec, default.window), (1024, Duration::from_secs(30)));
/// let client = ocireg::Client::builder("http://127.0.0.1:5000")
///     .low_speed_limit(ocireg::LowSpeedLimit { bytes_per_sec: 10_000, window: Duration::from_secs(10) })
///     .build()?;
/// # Ok::<(), ocireg::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowSpeedLimit {
    /// The lowest average speed tolerated, in bytes per second.
    pub bytes_per_sec: u64,
    /// Over how long the speed is averaged.
    pub window: Duration,
}

impl Default for LowSpeedLimit {
    /// 1 KiB/s over 30 s.
    fn default() -> Self {
        LowSpeedLimit {
            bytes_per_sec: 1024,
            window: Duration::from_secs(30),
        }
    }
}

/// The most bytes of an unread body drained to keep its connection.
const DRAIN_LIMIT: u64 = 64 * 1024;
/// The longest a drain may take.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A body reader held to the low-speed limit and, optionally, a deadline. Failures are
/// `io::ErrorKind::TimedOut`, with a message saying which limit tripped.
pub(crate) struct Guarded<R> {
    inner: R,
    limit: Option<LowSpeedLimit>,
    deadline: Option<Instant>,
    window_start: Instant,
    window_bytes: u64,
}

impl<R: Read> Guarded<R> {
    pub(crate) fn new(inner: R, limit: Option<LowSpeedLimit>, deadline: Option<Instant>) -> Self {
        Guarded {
            inner,
            limit,
            deadline,
            window_start: Instant::now(),
            window_bytes: 0,
        }
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let now = Instant::now();
        if let Some(deadline) = self.deadline
            && now >= deadline
        {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the answer did not arrive in time",
            ));
        }
        if let Some(limit) = self.limit {
            self.window_bytes = self.window_bytes.saturating_add(n as u64);
            let elapsed = now.saturating_duration_since(self.window_start);
            if n > 0 && elapsed >= limit.window {
                // bytes / seconds < limit, in integers: bytes * 1000 < limit * milliseconds.
                let got = u128::from(self.window_bytes) * 1000;
                let need = u128::from(limit.bytes_per_sec) * elapsed.as_millis();
                if got < need {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the answer arrived slower than {} bytes/s for {} s (low-speed limit)",
                            limit.bytes_per_sec,
                            limit.window.as_secs_f64()
                        ),
                    ));
                }
                self.window_start = now;
                self.window_bytes = 0;
            }
        }
        Ok(n)
    }
}

impl Transport {
    /// The body of `resp` as a reader held to the low-speed limit.
    pub(crate) fn body_reader(&self, resp: Response<Body>) -> Guarded<ureq::BodyReader<'static>> {
        Guarded::new(resp.into_body().into_reader(), self.low_speed, None)
    }

    /// Reads a whole small body: at most `limit` bytes (a longer one is [`Error::Protocol`]),
    /// under the low-speed limit.
    pub(crate) fn read_body(
        &self,
        resp: &mut Response<Body>,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        let reader = Guarded::new(resp.body_mut().as_reader(), self.low_speed, None);
        let mut out = Vec::new();
        match reader.take(limit.saturating_add(1)).read_to_end(&mut out) {
            Ok(_) if out.len() as u64 > limit => Err(self.protocol(format!(
                "{what}: the answer is larger than the {limit} byte limit"
            ))),
            Ok(_) => Ok(out),
            Err(e) => Err(self.body_error(what, out.len() as u64, e)),
        }
    }

    /// Sends a request and reads its whole, small answer (at most `limit` bytes); a status
    /// outside `ok` is an error. An answer cut off mid-way is fetched again, like a
    /// connection error, as the retry policy and the deadline allow (the request must have no
    /// streamed body).
    pub(crate) fn fetch(
        &self,
        mut req: Request<'_>,
        ok: &[u16],
        limit: u64,
    ) -> Result<(Response<Body>, Vec<u8>)> {
        if req.deadline.is_none() {
            req.deadline = self.deadline_from_now();
        }
        self.read_whole(req, limit, |r| self.send_expect(r, ok))
    }

    /// Sends `req` with `send` and reads the whole answer (at most `limit` bytes). An answer cut
    /// off mid-way (a broken connection) is asked for again, as the retry policy and the
    /// request's deadline allow; a request with a streamed body is never sent twice.
    pub(crate) fn read_whole<'a>(
        &self,
        mut req: Request<'a>,
        limit: u64,
        mut send: impl FnMut(Request<'a>) -> Result<Response<Body>>,
    ) -> Result<(Response<Body>, Vec<u8>)> {
        let mut retries = self.retrier(
            req.method.as_str(),
            &self.url(&req.url),
            req.deadline,
            req.call.clone(),
        );
        loop {
            let again = req.replay();
            let what = req.what.clone();
            let mut resp = send(req)?;
            let error = match self.read_body(&mut resp, limit, &what) {
                Ok(body) => return Ok((resp, body)),
                Err(e) => e,
            };
            let (Error::Network { .. }, Some(next)) = (&error, again) else {
                return Err(error);
            };
            let Some(delay) = retries.plan(self, None) else {
                return Err(error);
            };
            retries.wait(self, delay, None, error.to_string());
            req = next;
        }
    }

    /// The error for a body that could not be read after `got` bytes: a tripped limit is
    /// [`Error::Timeout`], anything else a broken connection ([`Error::Network`]).
    pub(crate) fn body_error(&self, what: &str, got: u64, e: io::Error) -> Error {
        let message = format!("{what}: reading the answer after {got} bytes: {e}");
        // ureq reports its own timeouts as an `Other` error wrapping `ureq::Error::Timeout`.
        let ureq_timeout = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
        match e.kind() {
            _ if ureq_timeout => Error::Timeout {
                registry: self.registry.clone(),
                message,
            },
            io::ErrorKind::TimedOut => Error::Timeout {
                registry: self.registry.clone(),
                message,
            },
            _ => Error::Network {
                registry: self.registry.clone(),
                message,
            },
        }
    }
}

/// Reads and discards what is left of a small body (a known `Content-Length` of at most 64 KiB,
/// within 2 s) so the connection goes back to the pool; a larger, unsized or slow body is
/// dropped with its connection instead.
pub(crate) fn drain(mut resp: Response<Body>) {
    let small = super::content_length(&resp).is_some_and(|n| n <= DRAIN_LIMIT);
    if !small {
        return;
    }
    let deadline = Instant::now().checked_add(DRAIN_TIME);
    let mut r = Guarded::new(resp.body_mut().as_reader(), None, deadline);
    let _ = io::copy(&mut (&mut r).take(DRAIN_LIMIT), &mut io::sink());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `chunk` bytes per read, sleeping `pause` before each.
    struct Drip {
        left: usize,
        chunk: usize,
        pause: Duration,
    }

    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(self.pause);
            let n = self.left.min(self.chunk).min(buf.len());
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_slow_body_trips_the_low_speed_limit() {
        let limit = LowSpeedLimit {
            bytes_per_sec: 1000,
            window: Duration::from_millis(50),
        };
        let slow = Drip {
            left: 1 << 20,
            chunk: 1,
            pause: Duration::from_millis(10),
        };
        let e = Guarded::new(slow, Some(limit), None)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("low-speed limit"), "{e}");
        // Fast enough: 1000 bytes per 10 ms is 100 kB/s.
        let fast = Drip {
            left: 20_000,
            chunk: 1000,
            pause: Duration::from_millis(10),
        };
        let mut out = Vec::new();
        Guarded::new(fast, Some(limit), None)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 20_000);
    }

    #[test]
    fn a_deadline_ends_a_body() {
        let slow = Drip {
            left: 1 << 20,
            chunk: 100,
            pause: Duration::from_millis(5),
        };
        let deadline = Instant::now() + Duration::from_millis(30);
        let e = Guarded::new(slow, None, Some(deadline))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
