//! The request pipeline. Every HTTP request ocireg makes goes through [`Transport::send`]: it
//! builds the URL, adds the user agent and authentication, retries idempotent requests on
//! transient failures, answers authentication challenges, and maps failures to [`Error`].
//!
//! - `request`: what the API modules describe (method, path, scopes, body);
//! - `auth`: the challenge → token → cached `Authorization` header flow;
//! - `retry`: the retry policy, backoff and `Retry-After`;
//! - `exchange`: one HTTP exchange through ureq, and the request log;
//! - `errors`: ureq failures and error answers mapped to [`Error`];
//! - `body`: reading and draining response bodies;
//! - `urls`: URL resolution and encoding;
//! - `zerocopy`: file bodies sent with `sendfile` over plain-http connections.

mod auth;
mod body;
mod call;
mod errors;
mod exchange;
mod request;
mod retry;
mod urls;
mod zerocopy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ureq::http::Response;
use ureq::{Agent, Body};

use crate::auth::Credentials;
use crate::auth::token::TokenCache;
use std::sync::Arc;

use crate::error::{Error, Result};

use auth::{AuthAttempts, Scheme};
pub(crate) use body::Guarded;
pub use body::LowSpeedLimit;
pub(crate) use body::drain;
pub(crate) use call::Call;
pub use call::Cancel;
pub use exchange::{RequestCallback, RequestEvent};
pub(crate) use request::{Method, ReqBody, Request};
pub(crate) use retry::Retrier;
pub use retry::{RetryCallback, RetryEvent, RetryPolicy};
#[cfg(feature = "fuzzing")]
pub(crate) use urls::{join, origin_of, same_origin};
pub(crate) use urls::{percent_decode, percent_encode};
pub(crate) use zerocopy::FileRange;

/// Settings the transport is built from (filled in by `ClientBuilder`).
pub(crate) struct TransportConfig {
    /// The agent's settings, to build agents of their own for cancellable calls.
    pub agent_config: ureq::config::Config,
    /// File bodies go out with `sendfile` over plain-http connections.
    pub sendfile: bool,
    pub base: String,
    pub registry: String,
    pub credentials: Credentials,
    pub plain_http_allowed: bool,
    pub retry: RetryPolicy,
    pub on_retry: Option<RetryCallback>,
    pub on_request: Option<RequestCallback>,
    /// The longest a request may take, retries, backoff, redirects and body included.
    pub overall_timeout: Option<Duration>,
    /// The longest the body of a small answer (not a blob) may take to arrive.
    pub small_body_timeout: Option<Duration>,
    pub low_speed: Option<LowSpeedLimit>,
    pub user_agent: String,
}

pub(crate) struct Transport {
    agent: Agent,
    agents: zerocopy::AgentRecipe,
    /// Spare agents for calls bound to a cancel handle.
    stock: call::AgentStock,
    /// `scheme://host[:port][/base/path]`, no trailing slash.
    base: String,
    /// `host[:port]`, used in messages and as the credential key.
    registry: String,
    credentials: Credentials,
    /// The caller chose plain http (an `http://` registry, or `insecure`).
    plain_http_allowed: bool,
    scheme: Mutex<Scheme>,
    /// Held while the first request discovers the auth scheme, so parallel requests share one
    /// 401 instead of each provoking their own.
    discovery: Mutex<()>,
    tokens: TokenCache,
    retry: RetryPolicy,
    on_retry: Option<RetryCallback>,
    on_request: Option<RequestCallback>,
    overall_timeout: Option<Duration>,
    small_body_timeout: Option<Duration>,
    low_speed: Option<LowSpeedLimit>,
    requests: AtomicU64,
    /// For the request log.
    user_agent: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Transport {
    pub(crate) fn new(c: TransportConfig) -> Transport {
        let agents = zerocopy::AgentRecipe {
            config: c.agent_config,
            sendfile: c.sendfile,
        };
        Transport {
            agent: agents.agent(),
            agents,
            stock: Default::default(),
            base: c.base,
            registry: c.registry,
            credentials: c.credentials.normalized(),
            plain_http_allowed: c.plain_http_allowed,
            scheme: Mutex::new(Scheme::Unknown),
            discovery: Mutex::new(()),
            tokens: TokenCache::default(),
            retry: c.retry,
            on_retry: c.on_retry,
            on_request: c.on_request,
            overall_timeout: c.overall_timeout,
            small_body_timeout: c.small_body_timeout,
            low_speed: c.low_speed,
            requests: AtomicU64::new(0),
            user_agent: c.user_agent,
        }
    }

    pub(crate) fn registry(&self) -> &str {
        &self.registry
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The context of a call bound to `cancel` and/or `deadline`.
    pub(crate) fn call(&self, cancel: Option<Cancel>, deadline: Option<Instant>) -> Call {
        Call::new(cancel, deadline, &self.stock, &self.agents)
    }

    /// HTTP requests sent so far, token requests included.
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The deadline of a request starting now, from the overall timeout.
    pub(crate) fn deadline_from_now(&self) -> Option<Instant> {
        self.overall_timeout
            .and_then(|d| Instant::now().checked_add(d))
    }

    /// Sends a request, authenticating and retrying as needed, all within its deadline. Every
    /// status comes back as a response except 401 (answered here, or turned into an error); use
    /// [`Transport::send_expect`] to turn unexpected statuses into errors.
    pub(crate) fn send(&self, mut req: Request<'_>) -> Result<Response<Body>> {
        let url = self.url(&req.url);
        if req.deadline.is_none() {
            req.deadline = self.deadline_from_now();
        }
        if let Some(call) = &req.call {
            req.deadline = earliest(req.deadline, call.deadline);
        }
        // Discovery: while the scheme is unknown, one request at a time finds it out (unless
        // the caller started a few at once on purpose).
        let _discovering = if !req.race_discovery && *lock(&self.scheme) == Scheme::Unknown {
            let g = lock(&self.discovery);
            if *lock(&self.scheme) == Scheme::Unknown {
                Some(g)
            } else {
                None
            }
        } else {
            None
        };
        let mut auth = AuthAttempts::default();
        loop {
            let (authorization, sent) = self.authorization_for(&req)?;
            let resp = self.send_with_retries(&url, &mut req, authorization.as_deref())?;
            if resp.status().as_u16() != 401 {
                let mut s = lock(&self.scheme);
                if *s == Scheme::Unknown {
                    *s = Scheme::None;
                }
                return Ok(resp);
            }
            self.answer_401(&mut req, resp, sent, &mut auth)?;
        }
    }

    /// `send`, then turn any status outside `ok` into an error.
    pub(crate) fn send_expect(&self, req: Request<'_>, ok: &[u16]) -> Result<Response<Body>> {
        let what = req.what.clone();
        let repo = req.repository.clone();
        let resp = self.send(req)?;
        if ok.contains(&resp.status().as_u16()) {
            Ok(resp)
        } else {
            Err(self.error_from(resp, &what, repo.as_deref()))
        }
    }
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The transport as one call sees it: the client's transport, with the call context of a
/// client bound to a cancel handle or a deadline ([`crate::Client::with_cancel`]). Every
/// request sent through it carries the context, and every failure of a cancelled call is
/// [`Error::Cancelled`](crate::Error::Cancelled).
#[derive(Clone, Copy)]
pub(crate) struct Tx<'a> {
    t: &'a Transport,
    call: Option<&'a Arc<Call>>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(t: &'a Transport, call: Option<&'a Arc<Call>>) -> Tx<'a> {
        Tx { t, call }
    }

    /// [`Transport::send`] within this call.
    pub(crate) fn send(&self, mut req: Request<'_>) -> Result<Response<Body>> {
        req.call = self.call.cloned();
        self.t.send(req).map_err(|e| self.explain(e))
    }

    /// [`Transport::send_expect`] within this call.
    pub(crate) fn send_expect(&self, mut req: Request<'_>, ok: &[u16]) -> Result<Response<Body>> {
        req.call = self.call.cloned();
        self.t.send_expect(req, ok).map_err(|e| self.explain(e))
    }

    /// [`Transport::fetch`] within this call.
    pub(crate) fn fetch(
        &self,
        mut req: Request<'_>,
        ok: &[u16],
        limit: u64,
    ) -> Result<(Response<Body>, Vec<u8>)> {
        req.call = self.call.cloned();
        self.t.fetch(req, ok, limit).map_err(|e| self.explain(e))
    }

    /// The deadline of a request of this call starting now.
    pub(crate) fn deadline_from_now(&self) -> Option<Instant> {
        earliest(
            self.t.deadline_from_now(),
            self.call.and_then(|c| c.deadline),
        )
    }

    /// A retry budget for one request of this call.
    pub(crate) fn retrier(
        &self,
        method: &'static str,
        url: &str,
        deadline: Option<Instant>,
    ) -> retry::Retrier {
        self.t.retrier(method, url, deadline, self.call.cloned())
    }

    /// [`Transport::body_error`] within this call.
    pub(crate) fn body_error(&self, what: &str, got: u64, e: std::io::Error) -> Error {
        self.explain(self.t.body_error(what, got, e))
    }

    /// `e`, or [`Error::Cancelled`] when this call was cancelled.
    pub(crate) fn explain(&self, e: Error) -> Error {
        match self.call {
            Some(c) => c.explain(e),
            None => e,
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Transport;

    fn deref(&self) -> &Transport {
        self.t
    }
}

/// The `Content-Length` of an answer, if it has a valid one.
pub(crate) fn content_length(resp: &Response<Body>) -> Option<u64> {
    resp.headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// A transport for unit tests: Basic credentials, no retries, nothing sent until asked.
#[cfg(test)]
pub(crate) fn test_transport(base: &str, plain_http_allowed: bool) -> Transport {
    Transport::new(TransportConfig {
        agent_config: Agent::config_builder().build(),
        sendfile: false,
        base: base.to_string(),
        registry: "r.example".to_string(),
        credentials: Credentials::basic("alice", "pw-secret"),
        plain_http_allowed,
        retry: RetryPolicy::none(),
        on_retry: None,
        on_request: None,
        overall_timeout: None,
        small_body_timeout: None,
        low_speed: None,
        user_agent: "ocireg-test".into(),
    })
}
