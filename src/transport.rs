//! The request pipeline. Every HTTP request ocireg makes goes through [`Transport::send`]: it
//! builds the URL, adds the user agent and authentication, retries idempotent requests on
//! transient failures, answers authentication challenges, and maps failures to [`Error`].

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use ureq::http::Response;
use ureq::{Agent, Body, SendBody};

use crate::auth::Credentials;
use crate::auth::challenge;
use crate::auth::token::{TokenCache, TokenKey};
use crate::error::{Error, ErrorInfo, Result};
use crate::headers;

/// How many bytes of an error body we read to find the OCI `errors[]`.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

/// Opens a request body; called again when the request must be replayed (after a 401).
pub(crate) type Opener<'a> = &'a mut dyn FnMut() -> io::Result<Box<dyn Read + 'a>>;

pub(crate) enum ReqBody<'a> {
    None,
    Bytes(&'a [u8]),
    /// A streamed body with a known length, sent with an explicit `Content-Length`.
    Stream {
        open: Opener<'a>,
        len: u64,
    },
}

/// One request, as the API modules describe it.
pub(crate) struct Request<'a> {
    pub method: Method,
    /// A path below the registry base (`/v2/…`) or an absolute URL (a `Location`).
    pub url: String,
    /// Token scopes this request needs, e.g. `repository:team/app:pull`.
    pub scopes: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
    pub body: ReqBody<'a>,
    /// What is being done, for error messages: `GET manifest team/app:v1`.
    pub what: String,
    pub repository: Option<String>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, url: impl Into<String>, what: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            scopes: Vec::new(),
            headers: Vec::new(),
            body: ReqBody::None,
            what: what.into(),
            repository: None,
        }
    }

    /// Adds the scope `repository:<repo>:<actions>` and remembers the repository.
    pub(crate) fn repo(mut self, repo: &str, actions: &str) -> Self {
        self.scopes.push(format!("repository:{repo}:{actions}"));
        if self.repository.is_none() {
            self.repository = Some(repo.to_string());
        }
        self
    }

    pub(crate) fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: ReqBody<'a>) -> Self {
        self.body = body;
        self
    }
}

/// The authentication scheme a registry asked for, once we know it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scheme {
    Unknown,
    /// `/v2/` or a request answered without a challenge: no auth needed so far.
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

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

    /// Absolute URL for a request path or a `Location`/`Link` value.
    pub(crate) fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else if path_or_url.starts_with("/v2/") || path_or_url == "/v2/" {
            // A path from the registry (Location, Link) is relative to the host, but our own
            // paths are relative to the base (which may carry a path prefix).
            format!("{}{}", self.base, path_or_url)
        } else {
            headers::resolve_url(&self.base, path_or_url)
        }
    }

    /// Resolves a `Location` or `Link` header value sent by the registry.
    pub(crate) fn resolve_location(&self, location: &str) -> String {
        let origin = origin_of(&self.base);
        if location.starts_with('/') && !location.starts_with("//") {
            // Registries behind a path prefix send Locations that already contain it.
            let prefix = &self.base[origin.len()..];
            if !prefix.is_empty() && !location.starts_with(prefix) {
                return format!("{}{}", self.base, location);
            }
        }
        headers::resolve_url(origin, location)
    }

    /// Sends a request, authenticating and retrying as needed. Every status comes back as a
    /// response except 401 (answered here, or turned into an error); use [`Transport::check`] to
    /// turn unexpected statuses into errors.
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

    fn auth_rejected(&self, sent: &Sent, infos: &[ErrorInfo]) -> Error {
        let message = match sent {
            Sent::Nothing => format!("credentials are required{}", crate::error::InfoList(infos)),
            Sent::Basic | Sent::Bearer => {
                format!("authentication rejected{}", crate::error::InfoList(infos))
            }
        };
        Error::Authentication {
            registry: self.registry.clone(),
            message,
        }
    }

    /// The `Authorization` header for a request, fetching a token if the scheme is Bearer.
    fn authorization_for(&self, req: &Request<'_>) -> Result<(Option<String>, Sent)> {
        let scheme = lock(&self.scheme).clone();
        match scheme {
            Scheme::Unknown | Scheme::None => {
                if let Credentials::BearerToken(t) = &self.credentials {
                    return Ok((Some(format!("Bearer {t}")), Sent::Bearer));
                }
                Ok((None, Sent::Nothing))
            }
            Scheme::Basic => match &self.credentials {
                Credentials::Basic { username, password } => {
                    self.check_plain_http_for_secret(&self.base)?;
                    let raw = format!("{username}:{password}");
                    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
                    Ok((Some(format!("Basic {b64}")), Sent::Basic))
                }
                _ => Ok((None, Sent::Nothing)),
            },
            Scheme::Bearer { realm, service } => {
                if let Credentials::BearerToken(t) = &self.credentials {
                    return Ok((Some(format!("Bearer {t}")), Sent::Bearer));
                }
                let key = TokenKey::new(&realm, service.as_deref(), &req.scopes);
                let token = match self.tokens.get(&key) {
                    Some(t) => t,
                    None => self.fetch_token(&key)?,
                };
                Ok((Some(format!("Bearer {token}")), Sent::Bearer))
            }
        }
    }

    /// Refuses to send a secret over plain http unless the caller chose plain http.
    fn check_plain_http_for_secret(&self, url: &str) -> Result<()> {
        if url.starts_with("http://") && !self.plain_http_allowed {
            return Err(Error::Authentication {
                registry: self.registry.clone(),
                message: format!(
                    "refusing to send credentials over plain http to {} (the registry is https; \
                     use an http:// registry or insecure(true) if this is intended)",
                    origin_of(url)
                ),
            });
        }
        Ok(())
    }

    fn fetch_token(&self, key: &TokenKey) -> Result<String> {
        // One fetch per key at a time: parallel uploads to one repository share a token.
        let fetch_mutex = self.tokens.fetch_mutex(key);
        let _g = lock(&fetch_mutex);
        if let Some(t) = self.tokens.get(key) {
            return Ok(t);
        }
        let has_secret = !self.credentials.is_anonymous();
        if has_secret {
            self.check_plain_http_for_secret(&key.realm)?;
        }
        let mut query = Vec::new();
        if let Some(s) = &key.service {
            query.push(("service", s.clone()));
        }
        for s in &key.scopes {
            query.push(("scope", s.clone()));
        }
        let (resp, what) = match &self.credentials {
            Credentials::IdentityToken(refresh) => {
                let mut form = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", refresh.clone()),
                    ("client_id", "ocireg".to_string()),
                ];
                form.extend(query);
                let body = form_encode(&form);
                let mut req = Request::new(Method::Post, key.realm.clone(), "token request")
                    .header("content-type", "application/x-www-form-urlencoded");
                req.body = ReqBody::Bytes(body.as_bytes());
                (
                    self.send_with_retries(&key.realm, &mut req, None)?,
                    "POST token",
                )
            }
            creds => {
                let mut q = query;
                let mut auth = None;
                if let Credentials::Basic { username, password } = creds {
                    q.push(("account", username.clone()));
                    let raw = format!("{username}:{password}");
                    auth = Some(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(raw)
                    ));
                }
                let sep = if key.realm.contains('?') { '&' } else { '?' };
                let url = if q.is_empty() {
                    key.realm.clone()
                } else {
                    format!("{}{}{}", key.realm, sep, form_encode(&q))
                };
                let mut req = Request::new(Method::Get, url.clone(), "token request");
                (
                    self.send_with_retries(&url, &mut req, auth.as_deref())?,
                    "GET token",
                )
            }
        };
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            let infos = read_error_infos(resp);
            return Err(Error::Authentication {
                registry: self.registry.clone(),
                message: format!(
                    "authentication rejected by the token service{}",
                    crate::error::InfoList(&infos)
                ),
            });
        }
        if !(200..300).contains(&status) {
            let infos = read_error_infos(resp);
            return Err(Error::Registry {
                registry: self.registry.clone(),
                operation: format!("{what} at {}", origin_of(&key.realm)),
                status,
                errors: infos,
            });
        }
        let mut resp = resp;
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_vec()
            .map_err(|e| self.map_ureq(e, "reading the token response"))?;
        let token =
            self.tokens
                .insert_response(key, &bytes)
                .map_err(|m| Error::Authentication {
                    registry: self.registry.clone(),
                    message: format!("the token service answered an unusable token: {m}"),
                })?;
        Ok(token)
    }

    /// Sends once per attempt, retrying idempotent requests on transient failures.
    fn send_with_retries(
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

    fn backoff(&self, attempt: u32) -> Duration {
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

    fn send_once(
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
            ureq::Error::BodyExceedsLimit(n) => Error::InvalidInput(format!(
                "{what}: the registry's answer is larger than the {n} byte limit"
            )),
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

    /// Reads a whole (small) body with a limit.
    pub(crate) fn read_body(
        &self,
        resp: &mut Response<Body>,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        resp.body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.map_ureq(e, what))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    Nothing,
    Basic,
    Bearer,
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

/// Reads and discards what is left of a body so the connection goes back to the pool.
pub(crate) fn drain(mut resp: Response<Body>) {
    let mut r = resp.body_mut().as_reader();
    let _ = io::copy(&mut (&mut r).take(1024 * 1024), &mut io::sink());
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

/// `scheme://authority` of a URL.
pub(crate) fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The path of a URL, without the query string (which may hold presigned secrets).
pub(crate) fn path_of(url: &str) -> &str {
    let origin = origin_of(url);
    let rest = &url[origin.len()..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

fn shorten_url(url: &str) -> String {
    crate::digest::shorten(&format!("{}{}", origin_of(url), path_of(url)))
}

/// `application/x-www-form-urlencoded` / query encoding.
pub(crate) fn form_encode(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (malformed escapes are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_helpers() {
        assert_eq!(origin_of("https://h:5000/v2/x?y"), "https://h:5000");
        assert_eq!(origin_of("http://h"), "http://h");
        assert_eq!(
            path_of("https://h/v2/a/blobs/x?sig=secret"),
            "/v2/a/blobs/x"
        );
        assert_eq!(
            percent_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            form_encode(&[("a", "1 2".into()), ("b", "x&y".into())]),
            "a=1%202&b=x%26y"
        );
    }

    fn transport(base: &str, plain_http_allowed: bool) -> Transport {
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

    #[test]
    fn secrets_never_go_over_plain_http_unless_chosen() {
        // An https registry whose token realm is http:// gets an error, not the password.
        let t = transport("https://r.example", false);
        let e = t
            .check_plain_http_for_secret("http://auth.example/token")
            .unwrap_err();
        assert!(matches!(e, Error::Authentication { .. }));
        assert!(
            e.to_string()
                .contains("refusing to send credentials over plain http")
        );
        assert!(!e.to_string().contains("pw-secret"));
        let key = TokenKey::new("http://auth.example/token", None, &[]);
        assert!(matches!(
            t.fetch_token(&key),
            Err(Error::Authentication { .. })
        ));
        assert_eq!(t.request_count(), 0, "nothing was sent");
        assert!(
            t.check_plain_http_for_secret("https://auth.example/token")
                .is_ok()
        );
        // The caller chose plain http (an http:// registry or insecure): allowed.
        let t = transport("http://r.example", true);
        assert!(
            t.check_plain_http_for_secret("http://auth.example/token")
                .is_ok()
        );
    }

    #[test]
    fn locations_resolve_against_the_registry() {
        let t = transport("https://h:5000/prefix", false);
        assert_eq!(t.url("/v2/x"), "https://h:5000/prefix/v2/x");
        assert_eq!(
            t.resolve_location("/v2/x?_state=a"),
            "https://h:5000/prefix/v2/x?_state=a"
        );
        assert_eq!(
            t.resolve_location("/prefix/v2/x"),
            "https://h:5000/prefix/v2/x"
        );
        assert_eq!(t.resolve_location("http://other/v2/y"), "http://other/v2/y");
        let t = transport("http://127.0.0.1:5000", true);
        assert_eq!(
            t.resolve_location("/v2/r/blobs/uploads/u?_state=s"),
            "http://127.0.0.1:5000/v2/r/blobs/uploads/u?_state=s"
        );
    }

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
