//! Bearer tokens: the cache key (realm, service, scopes), the cache, and parsing of token
//! service answers (`token` or `access_token`, `expires_in` defaulting to 60 s).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Identifies a token: who issued it, for which service, with which scopes (normalised, so
/// `pull,push` and `push,pull` share one entry).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    pub realm: String,
    pub service: Option<String>,
    pub scopes: Vec<String>,
}

impl TokenKey {
    pub(crate) fn new(realm: &str, service: Option<&str>, scopes: &[String]) -> TokenKey {
        TokenKey {
            realm: realm.to_string(),
            service: service.map(str::to_string),
            scopes: normalize_scopes(scopes),
        }
    }
}

/// Merges scopes per resource and sorts resources and actions:
/// `["repository:a:push,pull", "repository:a:pull", "repository:b:pull"]` →
/// `["repository:a:pull,push", "repository:b:pull"]`.
pub(crate) fn normalize_scopes(scopes: &[String]) -> Vec<String> {
    let mut merged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in scopes.iter().flat_map(|s| s.split_whitespace()) {
        match s.rsplit_once(':') {
            Some((resource, actions)) if resource.contains(':') => {
                let set = merged.entry(resource.to_string()).or_default();
                set.extend(
                    actions
                        .split(',')
                        .filter(|a| !a.is_empty())
                        .map(str::to_string),
                );
            }
            _ => {
                merged.entry(s.to_string()).or_default();
            }
        }
    }
    merged
        .into_iter()
        .map(|(r, a)| {
            if a.is_empty() && !r.matches(':').count().eq(&2) {
                r
            } else {
                format!("{r}:{}", a.into_iter().collect::<Vec<_>>().join(","))
            }
        })
        .collect()
}

/// True when the normalised scopes `have` grant everything in the normalised scopes `want`:
/// every resource of `want` is in `have` with at least its actions (`*` in `have` grants every
/// action).
pub(crate) fn scopes_cover(have: &[String], want: &[String]) -> bool {
    fn split(s: &str) -> (&str, Vec<&str>) {
        match s.rsplit_once(':') {
            Some((resource, actions)) if resource.contains(':') => (
                resource,
                actions.split(',').filter(|a| !a.is_empty()).collect(),
            ),
            _ => (s, Vec::new()),
        }
    }
    want.iter().all(|w| {
        let (resource, actions) = split(w);
        have.iter().any(|h| {
            let (r, granted) = split(h);
            r == resource && (granted.contains(&"*") || actions.iter().all(|a| granted.contains(a)))
        })
    })
}

#[derive(Clone)]
struct Cached {
    token: String,
    valid_until: Instant,
}

/// Tokens cached per key until shortly before they expire.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<TokenKey, Cached>>,
    fetching: Mutex<HashMap<TokenKey, Arc<Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TokenCache {
    /// A valid token for `key`: the one fetched for exactly these scopes, or else one fetched
    /// (from the same realm and service) for scopes that cover them, so that a `pull` after a
    /// push (a verification, a pull of what was pushed) reuses the push's `pull,push` token
    /// instead of asking the token service again.
    pub(crate) fn get(&self, key: &TokenKey) -> Option<String> {
        let map = lock(&self.tokens);
        let now = Instant::now();
        if let Some(c) = map.get(key).filter(|c| now < c.valid_until) {
            return Some(c.token.clone());
        }
        map.iter()
            .filter(|(k, c)| {
                now < c.valid_until
                    && k.realm == key.realm
                    && k.service == key.service
                    && scopes_cover(&k.scopes, &key.scopes)
            })
            // The narrowest covering token: the least privilege that serves.
            .min_by_key(|(k, _)| k.scopes.len())
            .map(|(_, c)| c.token.clone())
    }

    /// The mutex that serialises fetches of one key, so that parallel requests needing the same
    /// token wait for one fetch instead of each making their own.
    pub(crate) fn fetch_mutex(&self, key: &TokenKey) -> Arc<Mutex<()>> {
        lock(&self.fetching).entry(key.clone()).or_default().clone()
    }

    pub(crate) fn invalidate_all_for(&self, realm: &str) {
        lock(&self.tokens).retain(|k, _| k.realm != realm);
    }

    /// Parses a token service answer, caches the token, and returns it.
    pub(crate) fn insert_response(&self, key: &TokenKey, body: &[u8]) -> Result<String, String> {
        let parsed = parse_token_response(body)?;
        let ttl = parsed.expires_in;
        // Renew a little before expiry: 10% of the lifetime, at most 30 s.
        let margin = (ttl / 10).min(Duration::from_secs(30));
        let now = Instant::now();
        let valid_until = now.checked_add(ttl.saturating_sub(margin)).unwrap_or(now);
        lock(&self.tokens).insert(
            key.clone(),
            Cached {
                token: parsed.token.clone(),
                valid_until,
            },
        );
        Ok(parsed.token)
    }
}

/// The longest a token is trusted, whatever the token service says (`expires_in` comes from
/// the network: a huge value must neither overflow nor keep a token for ever).
pub(crate) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) struct TokenResponse {
    pub token: String,
    pub expires_in: Duration,
}

pub(crate) fn parse_token_response(body: &[u8]) -> Result<TokenResponse, String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let token = raw
        .token
        .filter(|t| !t.is_empty())
        .or(raw.access_token.filter(|t| !t.is_empty()))
        .ok_or("neither token nor access_token is set")?;
    if token.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the token contains spaces or control characters".into());
    }
    let secs = match raw.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64().or(n.as_f64().map(|f| f as u64)),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|s| *s > 0)
    .unwrap_or(60);
    Ok(TokenResponse {
        token,
        expires_in: Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_normalised() {
        let s = normalize_scopes(&[
            "repository:a:push,pull".into(),
            "repository:a:pull".into(),
            "repository:b:pull registry:catalog:*".into(),
        ]);
        assert_eq!(
            s,
            vec![
                "registry:catalog:*",
                "repository:a:pull,push",
                "repository:b:pull"
            ]
        );
        assert!(normalize_scopes(&[]).is_empty());
    }

    #[test]
    fn token_responses() {
        let t = parse_token_response(br#"{"access_token":"abc","expires_in":300}"#).unwrap();
        assert_eq!((t.token.as_str(), t.expires_in.as_secs()), ("abc", 300));
        let t = parse_token_response(br#"{"token":"x","access_token":"y"}"#).unwrap();
        assert_eq!((t.token.as_str(), t.expires_in.as_secs()), ("x", 60));
        assert!(parse_token_response(br#"{"token":""}"#).is_err());
        assert!(parse_token_response(b"nope").is_err());
        assert!(parse_token_response(br#"{"token":"a b"}"#).is_err());
        // Lifetimes from the network are clamped to a day, whatever their form.
        for huge in [
            r#"{"token":"t","expires_in":9223372036854775807}"#,
            r#"{"token":"t","expires_in":18446744073709551615}"#,
            r#"{"token":"t","expires_in":1e308}"#,
            r#"{"token":"t","expires_in":"99999999999999999999"}"#,
        ] {
            let t = parse_token_response(huge.as_bytes()).unwrap();
            assert!(t.expires_in <= MAX_TOKEN_LIFETIME, "{huge}");
        }
    }

    #[test]
    fn a_huge_lifetime_neither_panics_nor_lasts_for_ever() {
        let c = TokenCache::default();
        let k = TokenKey::new("r", None, &[]);
        c.insert_response(&k, br#"{"token":"t","expires_in":9223372036854775807}"#)
            .unwrap();
        assert_eq!(c.get(&k).as_deref(), Some("t"));
        let until = lock(&c.tokens)[&k].valid_until;
        assert!(until <= Instant::now() + MAX_TOKEN_LIFETIME);
    }

    #[test]
    fn a_token_for_wider_scopes_serves_narrower_requests() {
        let c = TokenCache::default();
        let push = TokenKey::new("r", Some("s"), &["repository:a:push,pull".into()]);
        c.insert_response(&push, br#"{"token":"pp","expires_in":300}"#)
            .unwrap();
        let pull = TokenKey::new("r", Some("s"), &["repository:a:pull".into()]);
        assert_eq!(c.get(&pull).as_deref(), Some("pp"));
        // Another repository, another action, another realm or service: not covered.
        for other in [
            TokenKey::new("r", Some("s"), &["repository:b:pull".into()]),
            TokenKey::new("r", Some("s"), &["repository:a:delete".into()]),
            TokenKey::new(
                "r",
                Some("s"),
                &["repository:a:pull".into(), "repository:b:pull".into()],
            ),
            TokenKey::new("r2", Some("s"), &["repository:a:pull".into()]),
            TokenKey::new("r", None, &["repository:a:pull".into()]),
        ] {
            assert_eq!(c.get(&other), None, "{other:?}");
        }
        // The exact key wins; among covering tokens the narrowest.
        c.insert_response(&pull, br#"{"token":"p","expires_in":300}"#)
            .unwrap();
        assert_eq!(c.get(&pull).as_deref(), Some("p"));
        let wide = TokenKey::new(
            "r",
            Some("s"),
            &["repository:a:*".into(), "repository:b:pull".into()],
        );
        c.insert_response(&wide, br#"{"token":"w","expires_in":300}"#)
            .unwrap();
        let del = TokenKey::new("r", Some("s"), &["repository:a:delete".into()]);
        assert_eq!(c.get(&del).as_deref(), Some("w"));
        let push_only = TokenKey::new("r", Some("s"), &["repository:a:push".into()]);
        assert_eq!(c.get(&push_only).as_deref(), Some("pp"));
        assert!(scopes_cover(&[], &[]));
        assert!(!scopes_cover(&[], &["repository:a:pull".into()]));
    }

    #[test]
    fn cache_expiry() {
        let c = TokenCache::default();
        let k = TokenKey::new("r", None, &["repository:a:pull".into()]);
        assert!(c.get(&k).is_none());
        c.insert_response(&k, br#"{"token":"t","expires_in":300}"#)
            .unwrap();
        assert_eq!(c.get(&k).as_deref(), Some("t"));
        let k2 = TokenKey::new(
            "r",
            None,
            &["repository:a:pull".into(), "repository:a:pull".into()],
        );
        assert_eq!(c.get(&k2).as_deref(), Some("t"));
        c.invalidate_all_for("r");
        assert!(c.get(&k).is_none());
        let m = c.fetch_mutex(&k);
        drop(lock(&m));
    }
}
