//! Authentication: the scheme a registry asked for, the `Authorization` header of each request,
//! and Bearer tokens fetched from the token service.

use base64::Engine as _;
use ureq::Body;
use ureq::http::Response;

use super::body::drain;
use super::errors::ErrorAnswer;
use super::request::{Method, ReqBody, Request};
use super::urls::{form_encode, origin_of, shorten_url};
use super::{Transport, lock};
use crate::auth::token::TokenKey;
use crate::auth::{Credentials, challenge};
use crate::error::{Error, Result};

/// The authentication scheme a registry asked for, once we know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Scheme {
    Unknown,
    /// `/v2/` or a request answered without a challenge: no auth needed so far.
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sent {
    Nothing,
    Basic,
    Bearer,
}

/// What the auth loop of one request remembers between its attempts.
#[derive(Default)]
pub(super) struct AuthAttempts {
    /// 401s answered so far.
    answered: u32,
    /// A cached token was refused and a new one fetched.
    refreshed_token: bool,
    /// A 401 without a challenge sent us to `/v2/` to learn one.
    probed: bool,
}

impl Transport {
    /// Answers a 401: learns the scheme from its `WWW-Authenticate` challenge (or, when it has
    /// none, as behind some proxies, from one `GET /v2/`), and returns `Ok` when the request
    /// should be sent again with new credentials; an error when it cannot succeed.
    pub(super) fn answer_401(
        &self,
        req: &mut Request<'_>,
        resp: Response<Body>,
        sent: Sent,
        state: &mut AuthAttempts,
    ) -> Result<()> {
        state.answered += 1;
        let mut challenges = challenges_of(&resp);
        let answer = self.error_answer(resp);
        if state.answered > 2 {
            return Err(self.auth_rejected(sent, answer));
        }
        if challenges.is_empty() && !state.probed {
            state.probed = true;
            challenges = self.probe_challenge(req)?;
        }
        let bearer = challenges.iter().find(|c| c.scheme == "bearer");
        let basic = challenges.iter().any(|c| c.scheme == "basic");
        if let Some(ch) = bearer {
            let Some(realm) = ch.realm().filter(|r| !r.is_empty()) else {
                return Err(self.authentication("the registry's Bearer challenge has no realm"));
            };
            if ch.error() == Some("insufficient_scope") {
                return Err(Error::Authorization {
                    registry: self.registry.clone(),
                    repository: req.repository.clone(),
                    message: format!(
                        "{} needs scope {:?}, which the token service did not grant",
                        req.what,
                        crate::digest::shorten(ch.scope().unwrap_or(""))
                    ),
                    errors: answer.errors,
                    body: answer.body,
                });
            }
            // The challenge may ask for more than we computed (a mount's source repository).
            for s in ch.scopes() {
                if !req.scopes.contains(&s) {
                    req.scopes.push(s);
                }
            }
            *lock(&self.scheme) = Scheme::Bearer {
                realm: realm.to_string(),
                service: ch.service().map(str::to_string),
            };
            if sent == Sent::Bearer {
                if state.refreshed_token || matches!(self.credentials, Credentials::BearerToken(_))
                {
                    return Err(self.auth_rejected(sent, answer));
                }
                // A cached token was refused (expired early, revoked): fetch a new one once.
                state.refreshed_token = true;
                self.tokens.invalidate_all_for(realm);
            }
            Ok(())
        } else if basic {
            *lock(&self.scheme) = Scheme::Basic;
            match (&self.credentials, sent) {
                (Credentials::Basic { .. }, Sent::Nothing) => Ok(()),
                _ => Err(self.auth_rejected(sent, answer)),
            }
        } else {
            Err(Error::Authentication {
                registry: self.registry.clone(),
                message: format!(
                    "{} answered 401 without a challenge ocireg understands, and so did \
                     GET /v2/{}",
                    req.what,
                    crate::error::InfoList(&answer.errors)
                ),
                errors: answer.errors,
                body: answer.body,
            })
        }
    }

    /// `GET /v2/` without credentials, for the challenge a 401 did not carry.
    fn probe_challenge(&self, req: &Request<'_>) -> Result<Vec<challenge::Challenge>> {
        let mut probe = Request::new(Method::Get, "/v2/", "GET /v2/ (for the auth challenge)");
        probe.deadline = req.deadline;
        probe.call = req.call.clone();
        let url = self.url("/v2/");
        let resp = self.send_with_retries(&url, &mut probe, None)?;
        let found = challenges_of(&resp);
        drain(resp);
        Ok(found)
    }

    pub(super) fn auth_rejected(&self, sent: Sent, answer: ErrorAnswer) -> Error {
        let infos = crate::error::InfoList(&answer.errors);
        let message = match sent {
            Sent::Nothing => format!("credentials are required{infos}"),
            Sent::Basic | Sent::Bearer => format!("authentication rejected{infos}"),
        };
        Error::Authentication {
            registry: self.registry.clone(),
            message,
            errors: answer.errors,
            body: answer.body,
        }
    }

    /// [`Error::Authentication`] for a reason of ours (no registry answer behind it).
    pub(super) fn authentication(&self, message: impl Into<String>) -> Error {
        Error::Authentication {
            registry: self.registry.clone(),
            message: message.into(),
            errors: Vec::new(),
            body: None,
        }
    }

    /// The `Authorization` header for a request, fetching a token if the scheme is Bearer.
    pub(super) fn authorization_for(&self, req: &Request<'_>) -> Result<(Option<String>, Sent)> {
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
                    Ok((Some(basic_header(username, password)), Sent::Basic))
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
                    None => self.fetch_token(&key, req)?,
                };
                Ok((Some(format!("Bearer {token}")), Sent::Bearer))
            }
        }
    }

    /// Refuses to send a secret over plain http unless the caller chose plain http.
    pub(super) fn check_plain_http_for_secret(&self, url: &str) -> Result<()> {
        if url.starts_with("http://") && !self.plain_http_allowed {
            return Err(self.authentication(format!(
                "refusing to send credentials over plain http to {} (the registry is https; \
                 use an http:// registry or insecure(true) if this is intended)",
                shorten_url(origin_of(url))
            )));
        }
        Ok(())
    }

    /// Fetches a token from the token service (once per key at a time: parallel requests that
    /// need the same token wait for one fetch), caches it and returns it.
    pub(super) fn fetch_token(&self, key: &TokenKey, outer: &Request<'_>) -> Result<String> {
        let fetch_mutex = self.tokens.fetch_mutex(key);
        let _g = lock(&fetch_mutex);
        if let Some(t) = self.tokens.get(key) {
            return Ok(t);
        }
        if !self.credentials.is_anonymous() {
            self.check_plain_http_for_secret(&key.realm)?;
        }
        let mut query = Vec::new();
        if let Some(s) = &key.service {
            query.push(("service", s.clone()));
        }
        for s in &key.scopes {
            query.push(("scope", s.clone()));
        }
        let mut form = String::new();
        let mut authorization = None;
        let (method, url) = match &self.credentials {
            // OAuth2: the refresh token goes in a form body, never in the URL.
            Credentials::IdentityToken(refresh) => {
                let mut pairs = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", refresh.clone()),
                    ("client_id", "ocireg".to_string()),
                ];
                pairs.extend(query);
                form = form_encode(&pairs);
                (Method::Post, key.realm.clone())
            }
            creds => {
                if let Credentials::Basic { username, password } = creds {
                    query.push(("account", username.clone()));
                    authorization = Some(basic_header(username, password));
                }
                let sep = if key.realm.contains('?') { '&' } else { '?' };
                let url = if query.is_empty() {
                    key.realm.clone()
                } else {
                    format!("{}{sep}{}", key.realm, form_encode(&query))
                };
                (Method::Get, url)
            }
        };
        let what = format!("{} token", method.as_str());
        let mut req = Request::new(method, url.clone(), what.clone());
        req.deadline = outer.deadline;
        req.call = outer.call.clone();
        // The credentials go to the token service the challenge named, and nowhere else.
        req.auth_origin = Some(origin_of(&key.realm).to_string());
        if method == Method::Post {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(ReqBody::Bytes(form.as_bytes()));
        }
        let (_, bytes) = self.read_whole(req, TOKEN_BODY_LIMIT, |mut req| {
            let resp = self.send_with_retries(&url, &mut req, authorization.as_deref())?;
            let status = resp.status().as_u16();
            if status == 401 || status == 403 {
                let answer = self.error_answer(resp);
                return Err(Error::Authentication {
                    registry: self.registry.clone(),
                    message: format!(
                        "authentication rejected by the token service{}",
                        crate::error::InfoList(&answer.errors)
                    ),
                    errors: answer.errors,
                    body: answer.body,
                });
            }
            if !(200..300).contains(&status) {
                let retry_after = super::retry::retry_after_of(&resp);
                let answer = self.error_answer(resp);
                return Err(Error::Registry {
                    registry: self.registry.clone(),
                    operation: format!("{what} at {}", shorten_url(origin_of(&key.realm))),
                    status,
                    errors: answer.errors,
                    body: answer.body,
                    retry_after,
                });
            }
            Ok(resp)
        })?;
        self.tokens.insert_response(key, &bytes).map_err(|m| {
            self.authentication(format!("the token service answered an unusable token: {m}"))
        })
    }
}

/// The largest token service answer read.
const TOKEN_BODY_LIMIT: u64 = 1024 * 1024;

/// `Basic base64(user:password)`.
fn basic_header(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The challenges of a 401's `WWW-Authenticate` headers.
fn challenges_of(resp: &Response<Body>) -> Vec<challenge::Challenge> {
    challenge::parse_all(
        resp.headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::test_transport;

    #[test]
    fn secrets_never_go_over_plain_http_unless_chosen() {
        // An https registry whose token realm is http:// gets an error, not the password.
        let t = test_transport("https://r.example", false);
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
            t.fetch_token(&key, &Request::new(Method::Get, "/v2/", "test")),
            Err(Error::Authentication { .. })
        ));
        assert_eq!(t.request_count(), 0, "nothing was sent");
        assert!(
            t.check_plain_http_for_secret("https://auth.example/token")
                .is_ok()
        );
        // The caller chose plain http (an http:// registry or insecure): allowed.
        let t = test_transport("http://r.example", true);
        assert!(
            t.check_plain_http_for_secret("http://auth.example/token")
                .is_ok()
        );
    }
}
