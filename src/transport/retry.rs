//! Retries of idempotent requests: the policy, exponential backoff with jitter, `Retry-After`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ureq::Body;
use ureq::http::Response;

use super::Transport;
use super::body::drain;
use super::call::Call;
use super::request::Request;
use super::urls::path_of;
use crate::error::Result;
use crate::headers;

/// When and how idempotent requests (GET, HEAD) are retried: on connection errors, timeouts,
/// 429, 502, 503 and 504, with exponential backoff and jitter, honouring `Retry-After` (the Go
/// seed's `GetBackOff`: an exponential backoff's initial interval, multiplier, maximum interval,
/// maximum elapsed time and randomization).
///
/// The wait before retry `n` (from 0) is `initial_backoff × multiplier^n`, at most
/// `max_backoff`, less a random part of up to `jitter` of it; a `Retry-After` replaces it.
///
/// ```
/// use std::time::Duration;
/// let p = ocireg::RetryPolicy {
///     max_retries: 8,
///     multiplier: 1.5,
///     max_elapsed: Some(Duration::from_secs(30)),
///     ..Default::default()
/// };
/// assert_eq!(p.initial_backoff, Duration::from_millis(200));
/// assert_eq!(ocireg::RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// How much each backoff grows over the previous one (default 2).
    pub multiplier: f64,
    /// The longest backoff between two attempts.
    pub max_backoff: Duration,
    /// The share of each backoff that is random, from 0 (none) to 1 (default 0.5: between half
    /// and all of it), so that many clients do not retry in step.
    pub jitter: f64,
    /// No retry starts later than this after the first attempt (default none: `max_retries`
    /// bounds it).
    pub max_elapsed: Option<Duration>,
    /// The longest `Retry-After` we honour; a registry asking for longer gets
    /// [`Error::RateLimited`](crate::Error::RateLimited) (or the error it sent) at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(10),
            jitter: 0.5,
            max_elapsed: None,
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
        let mut retries = self.retrier(req.method.as_str(), url, req.deadline, req.call.clone());
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
            let Some(delay) = retries.plan(self, retry_after) else {
                return result;
            };
            if let Ok(resp) = result {
                drain(resp);
            }
            retries.wait(self, delay, status, reason);
        }
    }

    /// A retry budget for one request.
    pub(crate) fn retrier(
        &self,
        method: &'static str,
        url: &str,
        deadline: Option<Instant>,
        call: Option<Arc<Call>>,
    ) -> Retrier {
        Retrier {
            method,
            path: path_of(url).to_string(),
            deadline,
            attempt: 0,
            started: Instant::now(),
            call,
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let p = &self.retry;
        let multiplier = if p.multiplier.is_finite() && p.multiplier >= 1.0 {
            p.multiplier
        } else {
            1.0
        };
        let grown = p.initial_backoff.as_secs_f64() * multiplier.powi(attempt.min(64) as i32);
        let capped = Duration::try_from_secs_f64(grown)
            .unwrap_or(p.max_backoff)
            .min(p.max_backoff);
        let jitter = if p.jitter.is_finite() {
            p.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        capped.mul_f64(1.0 - jitter * fastrand::f64())
    }
}

/// The retries of one request: how many are left, and the deadline none may cross.
pub(crate) struct Retrier {
    method: &'static str,
    path: String,
    deadline: Option<Instant>,
    attempt: u32,
    started: Instant,
    call: Option<Arc<Call>>,
}

impl Retrier {
    /// The wait before the next attempt, or `None` when there is none: the policy's retries are
    /// used up, the registry asked for a longer wait than the policy honours, or the wait
    /// would end past the request's deadline or the policy's maximum elapsed time.
    pub(crate) fn plan(&self, t: &Transport, retry_after: Option<Duration>) -> Option<Duration> {
        let policy = &t.retry;
        if self.attempt >= policy.max_retries || self.call.as_ref().is_some_and(|c| c.cancelled()) {
            return None;
        }
        let delay = match retry_after {
            Some(d) if d > policy.max_retry_after => return None,
            Some(d) => d,
            None => t.backoff(self.attempt),
        };
        let end = Instant::now().checked_add(delay)?;
        if self.deadline.is_some_and(|d| end >= d) {
            return None;
        }
        if let Some(max) = policy.max_elapsed
            && end.saturating_duration_since(self.started) > max
        {
            return None;
        }
        Some(delay)
    }

    /// Tells the retry callback and sleeps `delay` (less when the call is cancelled meanwhile:
    /// its next request then fails at once).
    pub(crate) fn wait(
        &mut self,
        t: &Transport,
        delay: Duration,
        status: Option<u16>,
        reason: String,
    ) {
        self.attempt += 1;
        let call_cb = self.call.as_ref().and_then(|c| c.on_retry.as_ref());
        if let Some(cb) = call_cb.or(t.on_retry.as_ref()) {
            cb(&RetryEvent {
                method: self.method,
                path: self.path.clone(),
                attempt: self.attempt,
                status,
                reason,
                delay,
            });
        }
        match &self.call {
            Some(call) => {
                call.sleep(delay);
            }
            None => std::thread::sleep(delay),
        }
    }
}

/// The `Retry-After` of an answer, if it has a valid one.
pub(crate) fn retry_after_of(resp: &Response<Body>) -> Option<Duration> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| headers::retry_after(v, SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::test_transport;

    #[test]
    fn backoff_grows_by_the_multiplier_up_to_the_cap_with_jitter_below() {
        let mut t = test_transport("http://h", true);
        t.retry = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            multiplier: 3.0,
            max_backoff: Duration::from_secs(2),
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let waits: Vec<_> = (0..5).map(|n| t.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 300, 900, 2000, 2000]);
        t.retry.jitter = 0.5;
        for n in 0..50 {
            let w = t.backoff(1);
            assert!(
                w >= Duration::from_millis(150) && w <= Duration::from_millis(300),
                "{n}: {w:?}"
            );
        }
        // Nonsense settings never panic: no growth, no jitter.
        t.retry.multiplier = f64::NAN;
        t.retry.jitter = f64::INFINITY;
        assert_eq!(t.backoff(7), Duration::from_millis(100));
        t.retry.multiplier = 1e300;
        t.retry.jitter = 0.0;
        assert_eq!(t.backoff(60), Duration::from_secs(2));
    }

    #[test]
    fn max_elapsed_and_the_deadline_end_the_retries() {
        let mut t = test_transport("http://h", true);
        t.retry = RetryPolicy {
            max_retries: 100,
            initial_backoff: Duration::from_secs(1),
            jitter: 0.0,
            max_elapsed: Some(Duration::from_millis(1500)),
            ..RetryPolicy::default()
        };
        let r = t.retrier("GET", "http://h/v2/", None, None);
        assert_eq!(r.plan(&t, None), Some(Duration::from_secs(1)));
        assert_eq!(
            r.plan(&t, Some(Duration::from_secs(2))),
            None,
            "past max_elapsed"
        );
        let soon = Instant::now() + Duration::from_millis(500);
        let r = t.retrier("GET", "http://h/v2/", Some(soon), None);
        assert_eq!(r.plan(&t, None), None, "past the deadline");
    }
}
