//! A request as the API modules describe it: method, path, token scopes, headers, body.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use super::call::Call;

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

    pub(super) fn idempotent(self) -> bool {
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
    /// When the whole request (retries, backoff, redirects, auth and the body) must be done;
    /// set by [`Transport::send`](super::Transport::send) from the client's overall timeout
    /// when the caller did not set one.
    pub deadline: Option<Instant>,
    /// The answer may be large (a blob): its body gets no deadline of its own, only the
    /// low-speed limit. Other answers (manifests, tag lists, tokens, errors) are small, and
    /// their body must arrive within the response timeout.
    pub large_body: bool,
    /// The origin (`scheme://host:port`) allowed to receive the `Authorization` header, when it
    /// is not the registry's own: the token service's, for token requests.
    pub auth_origin: Option<String>,
    /// The call this request belongs to, when the client is bound to a cancel handle or a
    /// deadline: its agent, its cancellation, its deadline.
    pub call: Option<Arc<Call>>,
    /// Sent at once even while the auth scheme is unknown, instead of waiting for the first
    /// request's answer: for a few requests started together on purpose (a push's two manifest
    /// probes), which then each learn the scheme from their own 401 and share one token fetch.
    pub race_discovery: bool,
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
            deadline: None,
            large_body: false,
            auth_origin: None,
            call: None,
            race_discovery: false,
        }
    }

    /// A copy of a request without a streamed body (GET, HEAD, DELETE, or a body of bytes), to
    /// send again after its answer broke off.
    pub(crate) fn replay(&self) -> Option<Request<'a>> {
        let body = match &self.body {
            ReqBody::None => ReqBody::None,
            ReqBody::Bytes(b) => ReqBody::Bytes(b),
            ReqBody::Stream { .. } => return None,
        };
        Some(Request {
            method: self.method,
            url: self.url.clone(),
            scopes: self.scopes.clone(),
            headers: self.headers.clone(),
            body,
            what: self.what.clone(),
            repository: self.repository.clone(),
            deadline: self.deadline,
            large_body: self.large_body,
            auth_origin: self.auth_origin.clone(),
            call: self.call.clone(),
            race_discovery: self.race_discovery,
        })
    }

    /// Lets the request go while the auth scheme is unknown, without waiting for the first
    /// request's answer (see [`Request::race_discovery`]).
    pub(crate) fn race_discovery(mut self) -> Self {
        self.race_discovery = true;
        self
    }

    /// Marks the answer as possibly large (a blob download).
    pub(crate) fn large_body(mut self) -> Self {
        self.large_body = true;
        self
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
