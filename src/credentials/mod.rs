//! Credentials from where docker, podman and skopeo keep them: the docker `config.json`
//! (`auths`, `credsStore`, `credHelpers`), the `docker-credential-*` helper programs and the
//! containers `auth.json`; the resolution chain [`resolve`]. [`login`](crate::login) and
//! [`logout`](crate::logout) store and remove credentials through it.
//!
//! # The resolution chain
//!
//! [`resolve`] answers with the first of:
//!
//! 1. the explicit credentials, if given;
//! 2. the helper named by `credHelpers[registry]`, else by `credsStore` (a helper answering "not
//!    found" passes on to the next step; a missing, failing or hanging helper is an error);
//! 3. the `auths` entry for the registry in the docker config file;
//! 4. the `auths` entry in the containers `auth.json` (`$REGISTRY_AUTH_FILE`, else
//!    `$XDG_RUNTIME_DIR/containers/auth.json`), unless [`ConfigOptions::containers_auth`] is off;
//! 5. anonymous.
//!
//! The [`Resolved::source`] says which one answered.
//!
//! ```
//! use ocireg::credentials::{resolve, ConfigOptions, Source};
//! use ocireg::Credentials;
//!
//! let dir = std::env::temp_dir().join(format!("ocireg-doc-resolve-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("config.json");
//! std::fs::write(&path, r#"{"auths": {"https://registry.example.com/v2/": {"auth": "YWxpY2U6czNjcmV0"}}}"#)
//!     .unwrap();
//! let options = ConfigOptions { containers_auth: false, ..ConfigOptions::with_config_path(&path) };
//!
//! let r = resolve("registry.example.com", None, &options)?;
//! assert_eq!(r.credentials, Credentials::basic("alice", "s3cret"));
//! assert_eq!(r.source, Source::ConfigFile(path.clone()));
//!
//! let r = resolve("other.example.com", None, &options)?;
//! assert_eq!(r.source, Source::Anonymous);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), ocireg::Error>(())
//! ```
//!
//! # Nothing lost
//!
//! Every write is a read-modify-write under an exclusive lock, through a temporary file that is
//! synced and renamed over the original. Keys ocireg does not
//! own are written back unchanged; a file that is corrupt, unreadable, or would not survive the
//! rewrite exactly is left untouched and reported as [`Error::Credentials`](crate::Error).

pub(crate) mod docker_config;
pub(crate) mod helper;
mod resolve;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Credentials;
use crate::error::{Error, Result};

pub use docker_config::DockerConfig;
pub use resolve::resolve;

/// Where to look for stored credentials, and how long a helper may take.
///
/// ```
/// use ocireg::credentials::ConfigOptions;
/// let o = ConfigOptions::with_config_path("/tmp/ocireg-example/config.json");
/// assert_eq!(o.resolved_config_path()?, std::path::PathBuf::from("/tmp/ocireg-example/config.json"));
/// assert_eq!(o.helper_timeout, std::time::Duration::from_secs(30));
/// assert!(o.containers_auth);
/// # Ok::<(), ocireg::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConfigOptions {
    /// The docker config file. `None`: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`. A path that does not exist yet is where [`login`](crate::login) creates the
    /// file.
    pub config_path: Option<PathBuf>,
    /// How long a credential helper may run before it is killed (default 30 s).
    pub helper_timeout: Duration,
    /// Whether [`resolve`] also reads the containers `auth.json` (podman, skopeo) after the
    /// docker file (default true).
    pub containers_auth: bool,
    /// Directories searched for `docker-credential-<name>` before `PATH`.
    pub helper_dirs: Vec<PathBuf>,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        ConfigOptions {
            config_path: None,
            helper_timeout: Duration::from_secs(30),
            containers_auth: true,
            helper_dirs: Vec::new(),
        }
    }
}

impl ConfigOptions {
    /// The defaults, with an explicit docker config file.
    pub fn with_config_path(path: impl Into<PathBuf>) -> Self {
        ConfigOptions {
            config_path: Some(path.into()),
            ..ConfigOptions::default()
        }
    }

    /// The docker config file in effect: the explicit path, else `$DOCKER_CONFIG/config.json`,
    /// else `config.json` in `.docker` of the home directory. It need not exist. An error
    /// ([`Error::Credentials`]) only when none of these is known.
    pub fn resolved_config_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.config_path {
            return Ok(p.clone());
        }
        if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(d).join("config.json"));
        }
        match std::env::home_dir().filter(|h| !h.as_os_str().is_empty()) {
            Some(h) => Ok(h.join(".docker").join("config.json")),
            None => Err(Error::Credentials(
                "cannot locate the docker config file: neither DOCKER_CONFIG nor a home \
                 directory is set"
                    .into(),
            )),
        }
    }

    /// The containers `auth.json` in effect, if any: `$REGISTRY_AUTH_FILE`, else
    /// `$XDG_RUNTIME_DIR/containers/auth.json`. `None` when [`ConfigOptions::containers_auth`]
    /// is off or neither variable is set.
    pub fn containers_auth_path(&self) -> Option<PathBuf> {
        if !self.containers_auth {
            return None;
        }
        if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty()) {
            return Some(PathBuf::from(f));
        }
        std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map(|d| PathBuf::from(d).join("containers").join("auth.json"))
    }
}

/// Which step of the resolution chain supplied the credentials.
///
/// ```
/// use ocireg::credentials::Source;
/// assert_eq!(Source::Helper("pass".into()).to_string(), "credential helper docker-credential-pass");
/// assert_eq!(Source::ConfigFile("/x/config.json".into()).to_string(), "config file /x/config.json");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Given by the caller (explicit anonymous access is [`Source::Anonymous`]).
    Explicit,
    /// The credential helper `docker-credential-<name>` (the name is stored).
    Helper(String),
    /// An `auths` entry of this file (a docker `config.json` or a containers `auth.json`).
    ConfigFile(PathBuf),
    /// No credentials: the caller asked for anonymous access, or nothing was found.
    Anonymous,
}

impl Source {
    /// The source of credentials the caller gave: anonymous access reports as such, so that
    /// "where do my credentials come from" never answers "explicit" for none at all.
    pub(crate) fn of_explicit(c: &Credentials) -> Source {
        match c {
            Credentials::Anonymous => Source::Anonymous,
            _ => Source::Explicit,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Explicit => f.write_str("explicit"),
            Source::Helper(name) => write!(f, "credential helper {}", helper::program_name(name)),
            Source::ConfigFile(path) => write!(f, "config file {}", path.display()),
            Source::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// The answer of [`resolve`]. `Debug` never shows a secret.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The credentials to present.
    pub credentials: crate::Credentials,
    /// Where they came from.
    pub source: Source,
}

/// A `docker-credential-<name>` program, spoken to with docker's credential-helper protocol
/// (`get`, `store`, `erase`, `list`, JSON on stdin and stdout). It is looked for in
/// [`ConfigOptions::helper_dirs`], then `PATH`, and killed after
/// [`ConfigOptions::helper_timeout`]. Its errors never show the secret.
///
/// ```
/// # #[cfg(unix)] {
/// use ocireg::credentials::{ConfigOptions, CredentialHelper};
/// use std::os::unix::fs::PermissionsExt;
///
/// let dir = std::env::temp_dir().join(format!("ocireg-doc-helper-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let script = dir.join("docker-credential-docfake");
/// std::fs::write(&script, "#!/bin/sh\ncase \"$1\" in\n\
///     get) cat >/dev/null; echo '{\"ServerURL\":\"h\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}';;\n\
///     *) echo 'credentials not found in native keychain'; exit 1;;\nesac\n").unwrap();
/// std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
/// let options = ConfigOptions { helper_dirs: vec![dir.clone()], ..Default::default() };
///
/// let helper = CredentialHelper::new("docfake", &options);
/// let c = helper.get("registry.example.com")?;
/// assert_eq!(c, Some(ocireg::Credentials::basic("alice", "s3cret")));
/// assert!(!helper.erase("registry.example.com")?); // not found
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # }
/// # Ok::<(), ocireg::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CredentialHelper {
    name: String,
    options: ConfigOptions,
}

impl CredentialHelper {
    /// The helper `docker-credential-<name>` (as named in `credsStore` or `credHelpers`).
    pub fn new(name: impl Into<String>, options: &ConfigOptions) -> Self {
        CredentialHelper {
            name: name.into(),
            options: options.clone(),
        }
    }

    /// The program's name, `docker-credential-<name>`.
    pub fn program(&self) -> String {
        helper::program_name(&self.name)
    }

    /// The credentials stored for `server_url`; `None` when the helper has none. A user name
    /// of `<token>` gives [`Credentials::IdentityToken`].
    pub fn get(&self, server_url: &str) -> Result<Option<Credentials>> {
        helper::get(&self.name, server_url, &self.options)
    }

    /// Stores `username` and `secret` for `server_url` (a user name of `<token>` stores an
    /// identity token).
    pub fn store(&self, server_url: &str, username: &str, secret: &str) -> Result<()> {
        helper::store(&self.name, server_url, username, secret, &self.options)
    }

    /// Erases the credentials of `server_url`; `false` when the helper had none.
    pub fn erase(&self, server_url: &str) -> Result<bool> {
        helper::erase(&self.name, server_url, &self.options)
    }

    /// Every server URL the helper knows, with its user name.
    pub fn list(&self) -> Result<BTreeMap<String, String>> {
        helper::list(&self.name, &self.options)
    }
}
