//! Authentication of the test registry: none, HTTP Basic, or Bearer tokens from a token endpoint
//! on the same listener (the Docker token protocol, GET and OAuth2 POST forms).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;

use super::server::Reply;
use super::util::{self, lock, query_get};

/// The `service` of the Bearer challenge and token endpoint.
pub(crate) const SERVICE: &str = "ocireg-test";
/// The realm of the Basic challenge.
pub(crate) const BASIC_REALM: &str = "ocireg-test";

/// How the test registry authenticates its clients.
///
/// ```
/// use ocireg::testing::{AuthMode, BearerPolicy};
/// let basic = AuthMode::Basic { users: vec![("alice".into(), "s3cret".into())] };
/// let bearer = AuthMode::Bearer(BearerPolicy::full_access(&[("alice", "s3cret")]));
/// // Debug output never shows a password.
/// assert!(!format!("{basic:?}{bearer:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default)]
pub enum AuthMode {
    /// Everything is open (the default).
    #[default]
    None,
    /// Every `/v2/` request needs HTTP Basic credentials of one of these `(user, password)`
    /// pairs; otherwise `401` with `WWW-Authenticate: Basic realm="ocireg-test"`.
    Basic {
        /// The accepted `(user, password)` pairs.
        users: Vec<(String, String)>,
    },
    /// Every `/v2/` request needs a Bearer token from the registry's token endpoint
    /// (`GET /token?service=ocireg-test&scope=...`, or the OAuth2 `POST /token` form), which
    /// grants access following the policy.
    Bearer(BearerPolicy),
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::None => f.write_str("None"),
            AuthMode::Basic { users } => f
                .debug_struct("Basic")
                .field("users", &UserNames(users))
                .finish(),
            AuthMode::Bearer(p) => f.debug_tuple("Bearer").field(p).finish(),
        }
    }
}

/// Shows user names, never passwords.
struct UserNames<'a>(&'a [(String, String)]);

impl fmt::Debug for UserNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(u, _)| format!("{u}:<redacted>")))
            .finish()
    }
}

/// Who may get which access from the token endpoint of a Bearer registry.
///
/// A token carries the access that was both requested (its `scope`) and granted by some
/// [`Grant`] for the caller. The registry then demands, like distribution: `pull` for GET and
/// HEAD, `pull` and `push` for POST, PUT and PATCH, `delete` for DELETE, `pull` on the source
/// repository of a cross-repository mount, `registry:catalog:*` for `/v2/_catalog`, and any valid
/// token for `/v2/`.
///
/// ```
/// use ocireg::testing::BearerPolicy;
/// let p = BearerPolicy::full_access(&[("ci", "pw")]).with_anonymous_pull("public");
/// assert_eq!(p.grants.len(), 2);
/// assert_eq!(p.token_ttl.as_secs(), 300);
/// ```
#[derive(Clone)]
pub struct BearerPolicy {
    /// The `(user, password)` pairs the token endpoint accepts.
    pub users: Vec<(String, String)>,
    /// What each user (or anonymous callers) may do.
    pub grants: Vec<Grant>,
    /// How long a token is valid (default 300 s).
    pub token_ttl: Duration,
}

impl Default for BearerPolicy {
    /// No users, no grants, 300 s tokens.
    fn default() -> Self {
        BearerPolicy {
            users: Vec::new(),
            grants: Vec::new(),
            token_ttl: Duration::from_secs(300),
        }
    }
}

impl fmt::Debug for BearerPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerPolicy")
            .field("users", &UserNames(&self.users))
            .field("grants", &self.grants)
            .field("token_ttl", &self.token_ttl)
            .finish()
    }
}

impl BearerPolicy {
    /// These users may do everything, including listing the catalog; anonymous callers get
    /// tokens that grant nothing.
    pub fn full_access(users: &[(&str, &str)]) -> Self {
        BearerPolicy {
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            grants: users
                .iter()
                .map(|(u, _)| Grant {
                    user: Some(u.to_string()),
                    repository_prefix: String::new(),
                    actions: vec!["*".to_string()],
                    catalog: true,
                })
                .collect(),
            token_ttl: Duration::from_secs(300),
        }
    }

    /// Also lets anyone (anonymous or not) pull the repositories under `prefix` (`""` = all; see
    /// [`Grant::repository_prefix`]).
    pub fn with_anonymous_pull(mut self, prefix: &str) -> Self {
        self.grants.push(Grant {
            user: None,
            repository_prefix: prefix.to_string(),
            actions: vec!["pull".to_string()],
            catalog: false,
        });
        self
    }
}

/// One rule of a [`BearerPolicy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The user it applies to; `None` applies to every caller, anonymous ones included.
    pub user: Option<String>,
    /// The repositories it covers: `""` = all; otherwise the repository equal to it or below it
    /// (`"team"` and `"team/"` both cover `team` and `team/app`, not `teams`).
    pub repository_prefix: String,
    /// The actions granted on those repositories: `"pull"`, `"push"`, `"delete"`, or `"*"` for
    /// all of them.
    pub actions: Vec<String>,
    /// Whether it grants `registry:catalog:*` (listing `/v2/_catalog`).
    pub catalog: bool,
}

impl Grant {
    fn applies_to(&self, user: Option<&str>) -> bool {
        self.user.is_none() || self.user.as_deref() == user
    }

    fn covers(&self, name: &str) -> bool {
        let p = self.repository_prefix.as_str();
        if p.is_empty() || p == "/" {
            return true;
        }
        if p.ends_with('/') {
            return name.starts_with(p) || name == &p[..p.len() - 1];
        }
        name == p || (name.starts_with(p) && name.as_bytes().get(p.len()) == Some(&b'/'))
    }

    fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a == "*" || a == action)
    }
}

/// An access entry: `repository:team/app:pull,push` or `registry:catalog:*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resource {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Resource {
    pub(crate) fn repository(name: &str, actions: &[&str]) -> Self {
        Resource {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    pub(crate) fn catalog() -> Self {
        Resource {
            kind: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }
    }

    fn scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }

    /// Parses one scope entry, `type:name:actions`.
    fn parse(s: &str) -> Option<Self> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Resource {
            kind: kind.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        })
    }
}

/// What a request needs: `required` must all be granted; `optional` is only requested in the
/// challenge (the source of a mount). Both empty: any authenticated caller (`/v2/`).
#[derive(Debug, Default)]
pub(crate) struct Need {
    pub required: Vec<Resource>,
    pub optional: Vec<Resource>,
}

/// What the caller of an authorized request may do.
#[derive(Debug)]
pub(crate) struct Authz {
    /// `None`: everything (no auth, or Basic).
    access: Option<Vec<Resource>>,
}

impl Authz {
    pub(crate) fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        match &self.access {
            None => true,
            Some(list) => list.iter().any(|r| {
                r.kind == kind
                    && r.name == name
                    && r.actions.iter().any(|a| a == action || a == "*")
            }),
        }
    }
}

struct IssuedToken {
    access: Vec<Resource>,
    expires: Instant,
}

/// The authentication state of one registry: its mode and the tokens it issued.
pub(crate) struct AuthState {
    mode: AuthMode,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    /// Refresh token -> user.
    refresh: Mutex<HashMap<String, String>>,
}

fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    let (scheme, rest) = authorization?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, rest) = authorization?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

fn unauthorized_body(need: &Need, message: &str) -> serde_json::Value {
    let detail: Vec<serde_json::Value> = need
        .required
        .iter()
        .flat_map(|r| {
            r.actions
                .iter()
                .map(move |a| serde_json::json!({ "Type": r.kind, "Name": r.name, "Action": a }))
        })
        .collect();
    serde_json::json!({
        "errors": [{ "code": "UNAUTHORIZED", "message": message, "detail": detail }]
    })
}

impl AuthState {
    pub(crate) fn new(mode: AuthMode) -> Self {
        AuthState {
            mode,
            tokens: Mutex::new(HashMap::new()),
            refresh: Mutex::new(HashMap::new()),
        }
    }

    /// Checks a registry request. `Err` is the 401 answer to send.
    pub(crate) fn check(
        &self,
        authorization: Option<&str>,
        need: &Need,
        realm: &str,
    ) -> Result<Authz, Reply> {
        match &self.mode {
            AuthMode::None => Ok(Authz { access: None }),
            AuthMode::Basic { users } => match basic_credentials(authorization) {
                Some((u, p)) if users.iter().any(|(uu, pp)| *uu == u && *pp == p) => {
                    Ok(Authz { access: None })
                }
                _ => Err(
                    Reply::json(401, &unauthorized_body(need, "authentication required"))
                        .with("WWW-Authenticate", format!("Basic realm=\"{BASIC_REALM}\"")),
                ),
            },
            AuthMode::Bearer(_) => {
                let challenge = |error: Option<&str>, message: &str| {
                    let scope: Vec<String> = need
                        .required
                        .iter()
                        .chain(&need.optional)
                        .map(Resource::scope)
                        .collect();
                    let mut h = format!("Bearer realm=\"{realm}\",service=\"{SERVICE}\"");
                    if !scope.is_empty() {
                        h.push_str(&format!(",scope=\"{}\"", scope.join(" ")));
                    }
                    if let Some(e) = error {
                        h.push_str(&format!(",error=\"{e}\""));
                    }
                    Reply::json(401, &unauthorized_body(need, message)).with("WWW-Authenticate", h)
                };
                let Some(token) = bearer_token(authorization) else {
                    return Err(challenge(None, "authentication required"));
                };
                let access = {
                    let mut tokens = lock(&self.tokens);
                    match tokens.get(token) {
                        Some(t) if t.expires > Instant::now() => Some(t.access.clone()),
                        Some(_) => {
                            tokens.remove(token);
                            None
                        }
                        None => None,
                    }
                };
                let Some(access) = access else {
                    return Err(challenge(
                        Some("invalid_token"),
                        "the token is unknown or expired",
                    ));
                };
                let authz = Authz {
                    access: Some(access),
                };
                let ok = need
                    .required
                    .iter()
                    .all(|r| r.actions.iter().all(|a| authz.allows(&r.kind, &r.name, a)));
                if ok {
                    Ok(authz)
                } else {
                    Err(challenge(
                        Some("insufficient_scope"),
                        "the token does not grant this access",
                    ))
                }
            }
        }
    }

    fn policy(&self) -> Option<&BearerPolicy> {
        match &self.mode {
            AuthMode::Bearer(p) => Some(p),
            _ => None,
        }
    }

    /// Answers `GET /token?...` and `POST /token` (form).
    pub(crate) fn token_endpoint(
        &self,
        method: &str,
        query: &[(String, String)],
        authorization: Option<&str>,
        form_body: &[u8],
    ) -> Reply {
        let Some(policy) = self.policy() else {
            return Reply::error(404, "UNSUPPORTED", "this registry has no token endpoint");
        };
        let bad = |msg: &str| Reply::error(400, "UNSUPPORTED", msg);
        let denied = |msg: &str| Reply::error(401, "UNAUTHORIZED", msg);
        let params: Vec<(String, String)>;
        let (user, scopes_raw, offline, refresh_in) = match method {
            "GET" => {
                let user = match authorization {
                    None => None,
                    Some(_) => match basic_credentials(authorization) {
                        Some((u, p))
                            if policy.users.iter().any(|(uu, pp)| *uu == u && *pp == p) =>
                        {
                            Some(u)
                        }
                        Some(_) => return denied("invalid username or password"),
                        // A Bearer header (or anything else) on the token endpoint: anonymous.
                        None => None,
                    },
                };
                params = query.to_vec();
                let offline = query_get(&params, "offline_token") == Some("true");
                (user, scopes_of(&params), offline, None)
            }
            "POST" => {
                let Ok(text) = std::str::from_utf8(form_body) else {
                    return bad("the form body is not UTF-8");
                };
                params = util::parse_query(text.trim());
                let offline = query_get(&params, "access_type") == Some("offline");
                match query_get(&params, "grant_type") {
                    Some("password") => {
                        let (Some(u), Some(p)) = (
                            query_get(&params, "username"),
                            query_get(&params, "password"),
                        ) else {
                            return bad("grant_type=password needs username and password");
                        };
                        if !policy.users.iter().any(|(uu, pp)| uu == u && pp == p) {
                            return denied("invalid username or password");
                        }
                        (Some(u.to_string()), scopes_of(&params), offline, None)
                    }
                    Some("refresh_token") => {
                        let Some(r) = query_get(&params, "refresh_token") else {
                            return bad("grant_type=refresh_token needs refresh_token");
                        };
                        let Some(u) = lock(&self.refresh).get(r).cloned() else {
                            return denied("unknown refresh token");
                        };
                        (Some(u), scopes_of(&params), offline, Some(r.to_string()))
                    }
                    _ => return bad("unsupported grant_type (password or refresh_token)"),
                }
            }
            _ => {
                return Reply::error(405, "UNSUPPORTED", "the token endpoint takes GET or POST")
                    .with("Allow", "GET, POST");
            }
        };
        match query_get(&params, "service") {
            Some(SERVICE) => {}
            Some(_) => return bad("unknown service (expected \"ocireg-test\")"),
            None => return bad("the service parameter is missing"),
        }
        let mut requested = Vec::new();
        for s in scopes_raw {
            match Resource::parse(&s) {
                Some(r) => requested.push(r),
                None => return bad("invalid scope (expected type:name:actions)"),
            }
        }
        let access = grant(policy, user.as_deref(), &requested);
        let token = util::random_hex(4);
        let ttl = policy.token_ttl;
        {
            let mut tokens = lock(&self.tokens);
            if tokens.len() > 10_000 {
                let now = Instant::now();
                tokens.retain(|_, t| t.expires > now);
            }
            tokens.insert(
                token.clone(),
                IssuedToken {
                    access: access.clone(),
                    expires: Instant::now() + ttl,
                },
            );
        }
        let mut body = serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": ttl.as_secs(),
            "issued_at": util::rfc3339(SystemTime::now()),
        });
        if offline && let Some(u) = &user {
            let r = refresh_in.unwrap_or_else(|| {
                let r = util::random_hex(4);
                lock(&self.refresh).insert(r.clone(), u.clone());
                r
            });
            body["refresh_token"] = serde_json::Value::String(r);
        }
        if !access.is_empty() {
            body["scope"] = serde_json::Value::String(
                access
                    .iter()
                    .map(Resource::scope)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        Reply::json(200, &body)
    }
}

/// All requested scopes: `scope` may repeat and each may hold several, space-separated.
fn scopes_of(params: &[(String, String)]) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split_whitespace().map(String::from))
        .collect()
}

/// The part of `requested` the policy grants to `user`.
fn grant(policy: &BearerPolicy, user: Option<&str>, requested: &[Resource]) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    for r in requested {
        let granted: Vec<String> = r
            .actions
            .iter()
            .filter(|a| {
                policy.grants.iter().any(|g| {
                    g.applies_to(user)
                        && match r.kind.as_str() {
                            "repository" => g.covers(&r.name) && g.allows(a),
                            "registry" => r.name == "catalog" && g.catalog,
                            _ => false,
                        }
                })
            })
            .cloned()
            .collect();
        if granted.is_empty() {
            continue;
        }
        match out
            .iter_mut()
            .find(|o| o.kind == r.kind && o.name == r.name)
        {
            Some(o) => {
                for a in granted {
                    if !o.actions.contains(&a) {
                        o.actions.push(a);
                    }
                }
            }
            None => out.push(Resource {
                kind: r.kind.clone(),
                name: r.name.clone(),
                actions: granted,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let g = |p: &str| Grant {
            user: None,
            repository_prefix: p.into(),
            actions: vec!["pull".into()],
            catalog: false,
        };
        assert!(g("").covers("anything/x"));
        assert!(g("team").covers("team"));
        assert!(g("team").covers("team/app"));
        assert!(!g("team").covers("teams"));
        assert!(g("team/").covers("team/app"));
        assert!(g("team/").covers("team"));
        assert!(!g("team/").covers("teams/app"));
    }

    #[test]
    fn scopes_and_grants() {
        let r = Resource::parse("repository:a/b:pull,push").unwrap();
        assert_eq!(r, Resource::repository("a/b", &["pull", "push"]));
        assert_eq!(
            Resource::parse("registry:catalog:*").unwrap(),
            Resource::catalog()
        );
        assert!(Resource::parse("nonsense").is_none());
        assert!(Resource::parse("repository::pull").is_none());

        let policy = BearerPolicy::full_access(&[("alice", "pw")]).with_anonymous_pull("public");
        let req = vec![
            Resource::repository("public/x", &["pull", "push"]),
            Resource::repository("private", &["pull"]),
            Resource::catalog(),
        ];
        let anon = grant(&policy, None, &req);
        assert_eq!(anon, vec![Resource::repository("public/x", &["pull"])]);
        let alice = grant(&policy, Some("alice"), &req);
        assert_eq!(alice.len(), 3);
        assert_eq!(alice[0].actions, vec!["pull", "push"]);
        let mallory = grant(&policy, Some("mallory"), &req);
        assert_eq!(mallory, anon);
    }

    #[test]
    fn header_parsing() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:p:q")
        );
        assert_eq!(
            basic_credentials(Some(&h)),
            Some(("u".into(), "p:q".into()))
        );
        assert_eq!(basic_credentials(Some("Basic !!!")), None);
        assert_eq!(basic_credentials(Some("Bearer x")), None);
        assert_eq!(bearer_token(Some("bearer abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(None), None);
    }

    #[test]
    fn token_lifecycle() {
        let mut policy = BearerPolicy::full_access(&[("alice", "pw")]);
        policy.token_ttl = Duration::from_millis(200);
        let st = AuthState::new(AuthMode::Bearer(policy));
        let q = util::parse_query("service=ocireg-test&scope=repository:a:pull,push");
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pw")
        );
        let reply = st.token_endpoint("GET", &q, Some(&auth), b"");
        assert_eq!(reply.status, 200);
        let v: serde_json::Value = serde_json::from_slice(reply.body_bytes()).unwrap();
        let tok = v["token"].as_str().unwrap().to_string();
        assert_eq!(v["access_token"], v["token"]);
        let need = Need {
            required: vec![Resource::repository("a", &["pull"])],
            optional: vec![],
        };
        let bearer = format!("Bearer {tok}");
        assert!(st.check(Some(&bearer), &need, "r").is_ok());
        let need_delete = Need {
            required: vec![Resource::repository("a", &["delete"])],
            optional: vec![],
        };
        let e = st.check(Some(&bearer), &need_delete, "r").unwrap_err();
        assert!(
            e.header("WWW-Authenticate")
                .unwrap()
                .contains("insufficient_scope")
        );
        std::thread::sleep(Duration::from_millis(250));
        let e = st.check(Some(&bearer), &need, "r").unwrap_err();
        assert!(
            e.header("WWW-Authenticate")
                .unwrap()
                .contains("invalid_token")
        );

        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:nope")
        );
        assert_eq!(st.token_endpoint("GET", &q, Some(&wrong), b"").status, 401);
        let no_service = util::parse_query("scope=repository:a:pull");
        assert_eq!(st.token_endpoint("GET", &no_service, None, b"").status, 400);

        let form = b"grant_type=password&username=alice&password=pw&service=ocireg-test&access_type=offline&scope=repository%3Aa%3Apull";
        let reply = st.token_endpoint("POST", &[], None, form);
        assert_eq!(reply.status, 200);
        let v: serde_json::Value = serde_json::from_slice(reply.body_bytes()).unwrap();
        let refresh = v["refresh_token"].as_str().unwrap().to_string();
        let form2 = format!(
            "grant_type=refresh_token&refresh_token={refresh}&service=ocireg-test&scope=repository:a:push"
        );
        let reply = st.token_endpoint("POST", &[], None, form2.as_bytes());
        assert_eq!(reply.status, 200);
        let bad = st.token_endpoint(
            "POST",
            &[],
            None,
            b"grant_type=refresh_token&refresh_token=x&service=ocireg-test",
        );
        assert_eq!(bad.status, 401);
        assert_eq!(
            st.token_endpoint("POST", &[], None, b"grant_type=magic")
                .status,
            400
        );
    }
}
