//! Authentication: the scheme a registry asked for, the `Authorization` header of each request,
//! and Bearer tokens fetched from the token service.

use base64::Engine as _;

use super::errors::read_error_infos;
use super::request::{Method, ReqBody, Request};
use super::urls::{form_encode, origin_of};
use super::{Transport, lock};
use crate::auth::Credentials;
use crate::auth::token::TokenKey;
use crate::error::{Error, ErrorInfo, Result};

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

impl Transport {
    pub(super) fn auth_rejected(&self, sent: &Sent, infos: &[ErrorInfo]) -> Error {
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
    pub(super) fn check_plain_http_for_secret(&self, url: &str) -> Result<()> {
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

    pub(super) fn fetch_token(&self, key: &TokenKey) -> Result<String> {
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
            t.fetch_token(&key),
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
