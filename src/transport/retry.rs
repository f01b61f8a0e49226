//! Retries of idempotent requests: the policy, exponential backoff with jitter, `Retry-After`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ureq::Body;
use ureq::http::Response;

use super::Transport;
use super::body::drain;
use super::request::Request;
use super::urls::path_of;
use crate::error::Result;
use crate::headers;

/// When and how idempotent requests (GET, HEAD) are retried: on connection errors, timeouts,
/// 429, 502, 503 and 504, with exponential backoff and jitter, honouring `Retry-After`.
///
/// ```
/// use std::time::Duration;
/// let p = ocireg::RetryPolicy { max_retries: 5, ..Default::default() };
/// assert_eq!(p.initial_backoff, Duration::from_millis(200));
/// let none = ocireg::RetryPolicy::none();
/// assert_eq!(none.max_retries, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it (with jitter), up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest backoff between two attempts.
    pub max_backoff: Duration,
    /// The longest `Retry-After` we honour; a registry asking for longer gets
    /// [`Error::RateLimited`] (or the error it sent) at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Default::default()
        }
    }
}

/// What a retry callback is told: which request failed, how, and how long ocireg waits.
#[derive(Clone, Debug)]
pub struct RetryEvent {
    /// `GET`, `HEAD`.
    pub method: &'static str,
    /// The URL path (no query string, so no presigned secrets).
    pub path: String,
    /// 1 for the first retry.
    pub attempt: u32,
    /// The status that caused the retry, or `None` for a connection error or timeout.
    pub status: Option<u16>,
    /// The error text for connection errors.
    pub reason: String,
    /// How long ocireg sleeps before the next attempt.
    pub delay: Duration,
}

/// A callback told of each retry (the Go seed's `RetryNotify`).
pub type RetryCallback = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

impl Transport {
    /// Sends once per attempt, retrying idempotent requests on transient failures.
    pub(super) fn send_with_retries(
        &self,
        url: &str,
        req: &mut Request<'_>,
        authorization: Option<&str>,
    ) -> Result<Response<Body>> {
        let mut attempt = 0u32;
        loop {
            let result = self.send_once(url, req, authorization);
            let retryable = req.method.idempotent() && attempt < self.retry.max_retries;
            let (status, reason, retry_after) = match &result {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    if !matches!(s, 429 | 502 | 503 | 504) {
                        return result;
                    }
                    let ra = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| headers::retry_after(v, SystemTime::now()));
                    (Some(s), format!("HTTP {s}"), ra)
                }
                Err(e) if e.is_transient() => (None, e.to_string(), None),
                Err(_) => return result,
            };
            if !retryable {
                return result;
            }
            let delay = match retry_after {
                Some(d) if d > self.retry.max_retry_after => return result,
                Some(d) => d,
                None => self.backoff(attempt),
            };
            if let Ok(resp) = result {
                drain(resp);
            }
            attempt += 1;
            if let Some(cb) = &self.on_retry {
                cb(&RetryEvent {
                    method: req.method.as_str(),
                    path: path_of(url).to_string(),
                    attempt,
                    status,
                    reason,
                    delay,
                });
            }
            std::thread::sleep(delay);
        }
    }

    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .initial_backoff
            .saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.retry.max_backoff);
        // Jitter: between half and all of the capped backoff.
        let nanos = capped.as_nanos() as u64;
        let half = nanos / 2;
        Duration::from_nanos(half + jitter(half.max(1)))
    }
}

/// A cheap random number below `bound` (jitter only; not for secrets).
fn jitter(bound: u64) -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() % bound
}
