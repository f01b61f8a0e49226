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
//! - `urls`: URL resolution and encoding.

mod auth;
mod body;
mod errors;
mod exchange;
mod request;
mod retry;
mod urls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use ureq::http::Response;
use ureq::{Agent, Body};

use crate::auth::Credentials;
use crate::auth::challenge;
use crate::auth::token::TokenCache;
use crate::error::{Error, Result};

use auth::{Scheme, Sent};
pub(crate) use body::drain;
pub(crate) use errors::read_error_infos;
pub use exchange::{RequestCallback, RequestEvent};
pub(crate) use request::{Method, ReqBody, Request};
pub use retry::{RetryCallback, RetryEvent, RetryPolicy};
pub(crate) use urls::{percent_decode, percent_encode};

/// Settings the transport is built from (filled in by `ClientBuilder`).
pub(crate) struct TransportConfig {
    pub agent: Agent,
    pub base: String,
    pub registry: String,
    pub credentials: Credentials,
    pub plain_http_allowed: bool,
    pub retry: RetryPolicy,
    pub on_retry: Option<RetryCallback>,
    pub on_request: Option<RequestCallback>,
}

pub(crate) struct Transport {
    agent: Agent,
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
    requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Transport {
    pub(crate) fn new(c: TransportConfig) -> Transport {
        // A ready bearer token needs no discovery.
        let scheme = Scheme::Unknown;
        Transport {
            agent: c.agent,
            base: c.base,
            registry: c.registry,
            credentials: c.credentials,
            plain_http_allowed: c.plain_http_allowed,
            scheme: Mutex::new(scheme),
            discovery: Mutex::new(()),
            tokens: TokenCache::default(),
            retry: c.retry,
            on_retry: c.on_retry,
            on_request: c.on_request,
            requests: AtomicU64::new(0),
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

    /// HTTP requests sent so far, token requests included.
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends a request, authenticating and retrying as needed. Every status comes back as a
    /// response except 401 (answered here, or turned into an error); use [`Transport::send_expect`]
    /// to turn unexpected statuses into errors.
    pub(crate) fn send(&self, mut req: Request<'_>) -> Result<Response<Body>> {
        let url = self.url(&req.url);
        // Discovery: while the scheme is unknown, one request at a time finds it out.
        let _discovering = if *lock(&self.scheme) == Scheme::Unknown {
            let g = lock(&self.discovery);
            if *lock(&self.scheme) == Scheme::Unknown {
                Some(g)
            } else {
                None
            }
        } else {
            None
        };

        let mut auth_attempts = 0;
        let mut refreshed_token = false;
        loop {
            let (authorization, sent_kind) = self.authorization_for(&req)?;
            let resp = self.send_with_retries(&url, &mut req, authorization.as_deref())?;
            if resp.status().as_u16() != 401 {
                let mut s = lock(&self.scheme);
                if *s == Scheme::Unknown {
                    *s = Scheme::None;
                }
                return Ok(resp);
            }
            auth_attempts += 1;
            let challenges = challenge::parse_all(
                resp.headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
            let infos = read_error_infos(resp);
            if auth_attempts > 2 {
                return Err(self.auth_rejected(&sent_kind, &infos));
            }
            let bearer = challenges.iter().find(|c| c.scheme == "bearer");
            let basic = challenges.iter().find(|c| c.scheme == "basic");
            if let Some(ch) = bearer {
                let Some(realm) = ch.realm().filter(|r| !r.is_empty()) else {
                    return Err(Error::Authentication {
                        registry: self.registry.clone(),
                        message: "the registry's Bearer challenge has no realm".into(),
                    });
                };
                if ch.error() == Some("insufficient_scope") {
                    return Err(Error::Authorization {
                        registry: self.registry.clone(),
                        repository: req.repository.clone(),
                        message: format!(
                            "{} needs scope {:?}, which the token service did not grant",
                            req.what,
                            ch.scope().unwrap_or("")
                        ),
                    });
                }
                let new_scheme = Scheme::Bearer {
                    realm: realm.to_string(),
                    service: ch.service().map(str::to_string),
                };
                // The challenge may ask for more than we computed (a mount's source repository).
                for s in ch.scopes() {
                    if !req.scopes.contains(&s) {
                        req.scopes.push(s);
                    }
                }
                let had_token = sent_kind == Sent::Bearer;
                *lock(&self.scheme) = new_scheme;
                if had_token {
                    if refreshed_token || matches!(self.credentials, Credentials::BearerToken(_)) {
                        return Err(self.auth_rejected(&sent_kind, &infos));
                    }
                    // A cached token was refused (expired early, revoked): fetch a new one once.
                    refreshed_token = true;
                    self.tokens.invalidate_all_for(realm);
                }
                continue;
            } else if basic.is_some() {
                *lock(&self.scheme) = Scheme::Basic;
                match (&self.credentials, sent_kind) {
                    (Credentials::Basic { .. }, Sent::Nothing) => continue,
                    _ => return Err(self.auth_rejected(&sent_kind, &infos)),
                }
            } else {
                return Err(Error::Authentication {
                    registry: self.registry.clone(),
                    message: format!(
                        "{} answered 401 without a challenge ocireg understands{}",
                        req.what,
                        crate::error::InfoList(&infos)
                    ),
                });
            }
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

/// A transport for unit tests: Basic credentials, no retries, nothing sent until asked.
#[cfg(test)]
pub(crate) fn test_transport(base: &str, plain_http_allowed: bool) -> Transport {
    Transport::new(TransportConfig {
        agent: Agent::new_with_defaults(),
        base: base.to_string(),
        registry: "r.example".to_string(),
        credentials: Credentials::basic("alice", "pw-secret"),
        plain_http_allowed,
        retry: RetryPolicy::none(),
        on_retry: None,
        on_request: None,
    })
}
