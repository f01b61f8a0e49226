//! [`login`] and [`logout`]: above both the client (which checks the credentials against the
//! registry) and the credential store (which keeps them).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::auth::Credentials;
use crate::credentials::docker_config::{self, DockerConfig, KeyRules, registry_key};
use crate::credentials::{ConfigOptions, helper};
use crate::error::{Error, Result};

/// Options of [`login`].
#[derive(Clone, Debug, Default)]
pub struct LoginOptions {
    /// Where to store the credentials (and which helpers to use).
    pub config: ConfigOptions,
    /// A client builder to verify the credentials with (TLS roots, `insecure`, timeouts, retry
    /// policy); its credentials are replaced by the ones being checked. `None`:
    /// `Client::builder(registry)`.
    pub client: Option<crate::ClientBuilder>,
}

/// Where [`login`] stored the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginStored {
    /// In the credential helper `docker-credential-<name>`.
    Helper(String),
    /// In the `auths` section of this docker config file.
    ConfigFile(PathBuf),
}

impl fmt::Display for LoginStored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginStored::Helper(name) => {
                write!(f, "credential helper {}", helper::program_name(name))
            }
            LoginStored::ConfigFile(path) => write!(f, "config file {}", path.display()),
        }
    }
}

/// What [`logout`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logout {
    /// Stored credentials were removed.
    LoggedOut,
    /// There were no stored credentials for the registry (not an error: logout is idempotent).
    NotLoggedIn,
}

/// Checks `username` and `password` against `registry`, then stores them.
///
/// 1. The config file ([`ConfigOptions::resolved_config_path`]) is read first: a corrupt or
///    unreadable one is [`Error::Credentials`] before anything else happens, and is never
///    written. So is a configured helper that cannot be found.
/// 2. `GET /v2/` through the whole Basic or Bearer challenge, with a client built from
///    [`LoginOptions::client`] (or `Client::builder(registry)`). Refused credentials are
///    [`Error::Authentication`] ("authentication rejected"); an unreachable registry
///    [`Error::Network`] (or [`Error::Tls`], [`Error::Timeout`]). Nothing is stored then.
/// 3. The credentials go to the helper of `credHelpers[registry]`, else of `credsStore`
///    (`store`; the server URL is the host and port, or `https://index.docker.io/v1/` for
///    Docker Hub); any plain-text credentials left in the file's entry for that key are then
///    removed. Without a helper: `auths[key].auth` =
///    base64(`username:password`), replacing that entry's other credential fields and keeping
///    everything else in the file, through a locked read-modify-write.
///
/// `registry` is what a user types: `host`, `host:port`, `docker.io`, or a URL such as
/// `http://127.0.0.1:5000`. An empty user name, one containing `:`, or an empty password is
/// [`Error::InvalidInput`].
///
/// ```no_run
/// use ocireg::{login, LoginOptions, LoginStored};
/// let stored = login("registry.example.com", "alice", "s3cret", &LoginOptions::default())?;
/// println!("Login succeeded, credentials stored in the {stored}.");
/// # Ok::<(), ocireg::Error>(())
/// ```
pub fn login(
    registry: &str,
    username: &str,
    password: &str,
    options: &LoginOptions,
) -> Result<LoginStored> {
    let key = registry_key(registry)?;
    if username.is_empty() {
        return Err(Error::InvalidInput("login needs a user name".into()));
    }
    if username.contains(':') {
        return Err(Error::InvalidInput(
            "a user name may not contain ':' (docker stores user:password)".into(),
        ));
    }
    if password.is_empty() {
        return Err(Error::InvalidInput("login needs a password".into()));
    }
    let path = options.config.resolved_config_path()?;
    let helper_name = match DockerConfig::load(&path)? {
        Some(cfg) => cfg.helper_for(&key)?.map(str::to_string),
        None => None,
    };
    if let Some(h) = &helper_name {
        helper::find(h, &options.config)?;
    }

    let builder = options
        .client
        .clone()
        .unwrap_or_else(|| crate::Client::builder(registry));
    builder
        .credentials(Credentials::basic(username, password))
        .build()?
        .ping()?;

    match helper_name {
        Some(h) => {
            helper::store(&h, &key, username, password, &options.config)?;
            if has_plain_secrets(&path, &key)? {
                docker_config::update(&path, |map| {
                    docker_config::strip_secrets(map, &key);
                    Ok(())
                })?;
            }
            Ok(LoginStored::Helper(h))
        }
        None => {
            docker_config::update(&path, |map| {
                docker_config::set_auth(&path, map, &key, username, password)
            })?;
            Ok(LoginStored::ConfigFile(path))
        }
    }
}

/// True when the file's exact `auths[key]` entry holds a credential field.
fn has_plain_secrets(path: &Path, key: &str) -> Result<bool> {
    Ok(DockerConfig::load(path)?.is_some_and(|cfg| {
        cfg.as_map()
            .get("auths")
            .and_then(|a| a.get(key))
            .is_some_and(docker_config::holds_credentials)
    }))
}

/// Removes the stored credentials of `registry`: the helper's (`credHelpers[registry]`, else
/// `credsStore`; `erase` is only called when the helper has something) and every `auths` entry
/// of the docker config file that names the registry (`host:5000`, `https://host:5000/v2/`, …).
///
/// Idempotent: [`Logout::NotLoggedIn`] when nothing was stored, and a missing config file is
/// never created. The containers `auth.json` is not touched (it belongs to podman and skopeo).
///
/// ```
/// use ocireg::credentials::ConfigOptions;
/// use ocireg::{logout, Logout};
/// let dir = std::env::temp_dir().join(format!("ocireg-doc-logout-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("config.json");
/// std::fs::write(&path, r#"{"auths": {"host:5000": {"auth": "dTpw"}}, "proxies": {}}"#).unwrap();
/// let options = ConfigOptions::with_config_path(&path);
/// assert_eq!(logout("host:5000", &options)?, Logout::LoggedOut);
/// assert_eq!(logout("host:5000", &options)?, Logout::NotLoggedIn);
/// assert!(std::fs::read_to_string(&path).unwrap().contains("proxies"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), ocireg::Error>(())
/// ```
pub fn logout(registry: &str, options: &ConfigOptions) -> Result<Logout> {
    let key = registry_key(registry)?;
    let path = options.resolved_config_path()?;
    let Some(cfg) = DockerConfig::load(&path)? else {
        return Ok(Logout::NotLoggedIn);
    };
    let mut logged_out = false;
    if let Some(h) = cfg.helper_for(&key)?
        && helper::get(h, &key, options)?.is_some()
    {
        logged_out |= helper::erase(h, &key, options)?;
    }
    if !cfg.auth_keys(&key, KeyRules::Docker)?.is_empty() {
        logged_out |=
            docker_config::update(&path, |map| Ok(docker_config::remove_registry(map, &key)))?;
    }
    Ok(if logged_out {
        Logout::LoggedOut
    } else {
        Logout::NotLoggedIn
    })
}
