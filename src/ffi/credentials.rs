//! Login and logout: storing credentials where docker keeps them.

use std::ffi::{c_char, c_int};
use std::path::PathBuf;

use super::client::ocireg_options;
use super::error::{boundary, ocireg_error, ocireg_status};
use super::strings::{arg_opt_str, arg_str, out_cstring, write_opt, write_opt_cstring};
use crate::credentials::ConfigOptions;
use crate::login::{LoginOptions, Logout, login, logout};

/// The docker config options: the explicit path, else the options' docker config, else the
/// default (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`).
fn config_options(path: Option<&str>, opts: Option<&ocireg_options>) -> ConfigOptions {
    let explicit = path
        .map(PathBuf::from)
        .or_else(|| opts.and_then(|o| o.docker_config.clone()));
    match explicit {
        Some(p) => ConfigOptions::with_config_path(p),
        None => ConfigOptions::default(),
    }
}

/// Checks `username` / `password` against `registry` (`GET /v2/` through the whole Basic or
/// Bearer challenge), then stores them: in the credential helper the docker config names for
/// the registry (`credHelpers`, else `credsStore`), else base64 in the config's `auths`, keeping
/// everything else in the file. Nothing is stored when the registry refuses them
/// (`OCIREG_AUTHENTICATION`) or cannot be reached.
///
/// `registry` is what a user types: `host`, `host:port`, `docker.io`, or a URL such as
/// `http://127.0.0.1:5000`. `docker_config` (optional) is the config file to use, else the one of
/// `opts`, else the default (`$DOCKER_CONFIG/config.json`, `~/.docker/config.json`). `opts`
/// (optional) supplies TLS, `insecure`, timeouts and retries for the check; its credentials are
/// ignored. On success `*out_stored` (optional) receives where the credentials went, e.g.
/// `"config file /home/me/.docker/config.json"` or `"credential helper docker-credential-pass"`
/// (free with ocireg_string_free()).
///
/// # Safety
///
/// `registry`, `username` and `password` must be NUL-terminated strings; `docker_config` NULL or
/// a NUL-terminated string; `opts` NULL or live options; `out_stored` NULL or valid for writing
/// a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_login(
    registry: *const c_char,
    username: *const c_char,
    password: *const c_char,
    docker_config: *const c_char,
    opts: *const ocireg_options,
    out_stored: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let registry = arg_str(registry, "registry")?;
            let username = arg_str(username, "username")?;
            let password = arg_str(password, "password")?;
            let path = arg_opt_str(docker_config, "docker_config")?;
            let opts = opts.as_ref();
            let options = LoginOptions {
                config: config_options(path, opts),
                client: Some(match opts {
                    Some(o) => o.builder(registry),
                    None => crate::Client::builder(registry),
                }),
            };
            let stored = login(registry, username, password, &options)?;
            let text = out_cstring(&stored.to_string(), "where the credentials went")?;
            write_opt_cstring(out_stored, text);
            Ok(())
        })
    }
}

/// Removes the stored credentials of `registry`: the credential helper's and every `auths`
/// entry of the docker config that names the registry. Idempotent: logging out when not logged
/// in succeeds, and a missing config file is never created. `docker_config` (optional) is the
/// config file, else the default. On success `*out_logged_out` (optional) receives 1 when
/// something was removed, 0 when nothing was stored.
///
/// # Safety
///
/// `registry` must be a NUL-terminated string; `docker_config` NULL or a NUL-terminated string;
/// `out_logged_out` NULL or valid for writing an int; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_logout(
    registry: *const c_char,
    docker_config: *const c_char,
    out_logged_out: *mut c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let registry = arg_str(registry, "registry")?;
            let path = arg_opt_str(docker_config, "docker_config")?;
            let r = logout(registry, &config_options(path, None))?;
            write_opt(out_logged_out, c_int::from(r == Logout::LoggedOut));
            Ok(())
        })
    }
}
