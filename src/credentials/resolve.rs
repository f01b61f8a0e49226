//! The resolution chain: explicit > helper > docker `auths` > containers `auth.json` >
//! anonymous.

use super::docker_config::{DockerConfig, KeyRules, registry_key};
use super::{ConfigOptions, Resolved, Source, helper};
use crate::auth::Credentials;
use crate::error::Result;

/// The credentials to use for `registry` (`host`, `host:port`, `docker.io`, or a URL such as
/// `http://127.0.0.1:5000` or `https://host/path`), and where they came from.
///
/// The chain: `explicit` if given; the helper of `credHelpers[registry]`, else of `credsStore`
/// (asked for the host and port, or `https://index.docker.io/v1/` for Docker Hub); the `auths`
/// entry of the docker config file ([`ConfigOptions::resolved_config_path`]); the `auths` entry of the containers `auth.json`
/// ([`ConfigOptions::containers_auth_path`]); else anonymous. A helper that has nothing passes
/// on to the next step.
///
/// Errors ([`Error::Credentials`](crate::Error::Credentials)): a config file that exists but is
/// unreadable or malformed (naming the file, line and column), a helper that is missing, fails or
/// times out. A registry that is not a host name is
/// [`Error::InvalidInput`](crate::Error::InvalidInput). No error holds a secret.
pub fn resolve(
    registry: &str,
    explicit: Option<&Credentials>,
    options: &ConfigOptions,
) -> Result<Resolved> {
    if let Some(c) = explicit {
        return Ok(Resolved {
            credentials: c.clone(),
            source: Source::of_explicit(c),
        });
    }
    let key = registry_key(registry)?;
    // No config path at all (no DOCKER_CONFIG, no home directory) just means no docker file.
    if let Ok(path) = options.resolved_config_path()
        && let Some(cfg) = DockerConfig::load(&path)?
    {
        if let Some(name) = cfg.helper_for(&key)?
            && let Some(credentials) = helper::get(name, &key, options)?
        {
            return Ok(Resolved {
                credentials,
                source: Source::Helper(name.to_string()),
            });
        }
        if let Some(credentials) = cfg.credentials(&key)? {
            return Ok(Resolved {
                credentials,
                source: Source::ConfigFile(path),
            });
        }
    }
    if let Some(path) = options.containers_auth_path()
        && let Some(cfg) = DockerConfig::load(&path)?
        && let Some(credentials) = cfg.credentials_with(&key, KeyRules::Containers)?
    {
        return Ok(Resolved {
            credentials,
            source: Source::ConfigFile(path),
        });
    }
    Ok(Resolved {
        credentials: Credentials::Anonymous,
        source: Source::Anonymous,
    })
}
