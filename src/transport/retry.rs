//! Retries of idempotent requests: the policy, exponential backoff with jitter, `Retry-After`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

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
    /// [`Error::RateLimited`](crate::Error::RateLimited) (or the error it sent) at once.
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
    /// Sends once per attempt, retrying idempotent requests on transient failures (connection
    /// errors, timeouts, 429, 502, 503, 504) while the policy and the request's deadline allow.
    pub(super) fn send_with_retries(
        &self,
        url: &str,
        req: &mut Request<'_>,
        authorization: Option<&str>,
    ) -> Result<Response<Body>> {
        let mut retries = self.retrier(req.method.as_str(), url, req.deadline);
        loop {
            let result = self.send_once(url, req, authorization);
            let (status, reason, retry_after) = match &result {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    if !matches!(s, 429 | 502 | 503 | 504) {
                        return result;
                    }
                    (Some(s), format!("HTTP {s}"), retry_after_of(resp))
                }
                Err(e) if e.is_transient() => (None, e.to_string(), None),
                Err(_) => return result,
            };
            if !req.method.idempotent() {
                return result;
            }
            let Some(delay) = retries.plan(retry_after) else {
                return result;
            };
            if let Ok(resp) = result {
                drain(resp);
            }
            retries.wait(delay, status, reason);
        }
    }

    /// A retry budget for one request.
    pub(crate) fn retrier(
        &self,
        method: &'static str,
        url: &str,
        deadline: Option<Instant>,
    ) -> Retrier<'_> {
        Retrier {
            t: self,
            method,
            path: path_of(url).to_string(),
            deadline,
            attempt: 0,
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .initial_backoff
            .saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.retry.max_backoff);
        // Jitter: between half and all of the capped backoff.
        let nanos = u64::try_from(capped.as_nanos()).unwrap_or(u64::MAX);
        let half = nanos / 2;
        Duration::from_nanos(half.saturating_add(fastrand::u64(0..=half)))
    }
}

/// The retries of one request: how many are left, and the deadline none may cross.
pub(crate) struct Retrier<'t> {
    t: &'t Transport,
    method: &'static str,
    path: String,
    deadline: Option<Instant>,
    attempt: u32,
}

impl Retrier<'_> {
    /// The wait before the next attempt, or `None` when there is none: the policy's retries are
    /// used up, the registry asked for a longer wait than the policy honours, or the wait
    /// would end past the request's deadline.
    pub(crate) fn plan(&self, retry_after: Option<Duration>) -> Option<Duration> {
        let policy = &self.t.retry;
        if self.attempt >= policy.max_retries {
            return None;
        }
        let delay = match retry_after {
            Some(d) if d > policy.max_retry_after => return None,
            Some(d) => d,
            None => self.t.backoff(self.attempt),
        };
        match self.deadline {
            Some(deadline) => Instant::now()
                .checked_add(delay)
                .filter(|end| *end < deadline)
                .map(|_| delay),
            None => Some(delay),
        }
    }

    /// Tells the retry callback and sleeps `delay`.
    pub(crate) fn wait(&mut self, delay: Duration, status: Option<u16>, reason: String) {
        self.attempt += 1;
        if let Some(cb) = &self.t.on_retry {
            cb(&RetryEvent {
                method: self.method,
                path: self.path.clone(),
                attempt: self.attempt,
                status,
                reason,
                delay,
            });
        }
        std::thread::sleep(delay);
    }
}

/// The `Retry-After` of an answer, if it has a valid one.
pub(crate) fn retry_after_of(resp: &Response<Body>) -> Option<Duration> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| headers::retry_after(v, SystemTime::now()))
}
