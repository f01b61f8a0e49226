//! Client options (`ocireg_options`) and the client handle (`ocireg_client`).

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::PathBuf;
use std::time::Duration;

use super::callbacks::{CRetry, UserData, ocireg_retry_fn};
use super::error::{
    Failure, boundary, free_box, guard, new_default, ocireg_error, ocireg_status, with_mut,
};
use super::strings::{
    arg_bytes, arg_nonempty_str, arg_out, arg_ref, arg_str, borrow_cstr, out_cstring, read_or,
    write_box,
};
use crate::auth::Credentials;
use crate::client::{Client, ClientBuilder};
use crate::transport::{LowSpeedLimit, RetryPolicy};

/// `ocireg_options_set_timeout_ms` kind: time to establish a connection (default 30 s).
pub const OCIREG_TIMEOUT_CONNECT: u32 = 0;
/// `ocireg_options_set_timeout_ms` kind: from sending a request to the response headers
/// (default 60 s).
pub const OCIREG_TIMEOUT_RESPONSE: u32 = 1;
/// `ocireg_options_set_timeout_ms` kind: longest wait for any single read of a response body
/// (default 60 s).
pub const OCIREG_TIMEOUT_READ: u32 = 2;
/// `ocireg_options_set_timeout_ms` kind: longest wait for any single write of a request body
/// (default 60 s).
pub const OCIREG_TIMEOUT_WRITE: u32 = 3;
/// `ocireg_options_set_timeout_ms` kind: overall deadline of each request (default none).
pub const OCIREG_TIMEOUT_OVERALL: u32 = 4;

/// Settings for ocireg_client_new() (and ocireg_login()): credentials, timeouts, TLS, proxy,
/// retries. Every setting has a safe default. Create with ocireg_options_new(), free with
/// ocireg_options_free(); the options may be freed right after the client is built.
///
/// Setters mutate: do not use one `ocireg_options *` from two threads at once. A
/// `const ocireg_options *` may be shared.
#[allow(non_camel_case_types)]
#[derive(Clone, Default)]
pub struct ocireg_options {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) docker_config: Option<PathBuf>,
    user_agent: Option<String>,
    /// Per `OCIREG_TIMEOUT_*` kind: `None` keeps the default, `Some(None)` means no limit.
    timeouts: [Option<Option<Duration>>; 5],
    ca_certs: Vec<Vec<u8>>,
    client_cert: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) insecure: bool,
    proxy: Option<String>,
    proxy_from_env: bool,
    max_retries: Option<u32>,
    /// `None` keeps the default, `Some(None)` turns the low-speed limit off.
    low_speed: Option<Option<LowSpeedLimit>>,
    /// `(initial, multiplier, max interval, max elapsed, jitter)`.
    backoff: Option<(Duration, f64, Duration, Option<Duration>, f64)>,
    pub(crate) retry_notify: Option<CRetry>,
    /// The cancel handle clients built from these options (and ocireg_login()) are bound to.
    pub(crate) cancel: Option<crate::transport::Cancel>,
}

impl ocireg_options {
    /// A client builder for `registry` with these options applied.
    pub(crate) fn builder(&self, registry: &str) -> ClientBuilder {
        let mut b = Client::builder(registry);
        if let Some(c) = &self.credentials {
            b = b.credentials(c.clone());
        }
        if let Some(p) = &self.docker_config {
            b = b.docker_config(p.clone());
        }
        if let Some(ua) = &self.user_agent {
            b = b.user_agent(ua.clone());
        }
        for (kind, t) in self.timeouts.iter().enumerate() {
            if let Some(t) = *t {
                b = match kind as u32 {
                    OCIREG_TIMEOUT_CONNECT => b.connect_timeout(t),
                    OCIREG_TIMEOUT_RESPONSE => b.response_timeout(t),
                    OCIREG_TIMEOUT_READ => b.read_timeout(t),
                    OCIREG_TIMEOUT_WRITE => b.write_timeout(t),
                    _ => b.overall_timeout(t),
                };
            }
        }
        for pem in &self.ca_certs {
            b = b.ca_cert_pem(pem.clone());
        }
        if let Some((cert, key)) = &self.client_cert {
            b = b.client_cert_pem(cert.clone(), key.clone());
        }
        b = b.insecure(self.insecure);
        if let Some(p) = &self.proxy {
            b = b.proxy(p.clone());
        }
        b = b.proxy_from_env(self.proxy_from_env);
        if let Some(limit) = self.low_speed {
            b = b.low_speed_limit(limit);
        }
        let mut policy = RetryPolicy::default();
        if let Some(n) = self.max_retries {
            policy.max_retries = n;
        }
        if let Some((initial, multiplier, max, elapsed, jitter)) = self.backoff {
            policy.initial_backoff = initial;
            policy.multiplier = multiplier;
            policy.max_backoff = max;
            policy.max_elapsed = elapsed;
            policy.jitter = jitter;
        }
        b = b.retry_policy(policy);
        if let Some(r) = self.retry_notify {
            b = b.on_retry_callback(r.client_callback());
        }
        if let Some(c) = &self.cancel {
            b = b.cancel(c);
        }
        b
    }
}

/// Creates options with every setting at its default: credentials from the resolution chain
/// (docker config, credential helpers), https, system CA roots, no proxy, 3 retries.
///
/// On success `*out` receives options to free with ocireg_options_free().
///
/// # Safety
///
/// `out` must be valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_new(
    out: *mut *mut ocireg_options,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: `err` is forwarded; `out` is checked and written only on success.
    unsafe { new_default(out, err) }
}

/// Frees options. NULL is a no-op.
///
/// # Safety
///
/// `opts` must be NULL or options from ocireg_options_new(), freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_free(opts: *mut ocireg_options) {
    // SAFETY: the caller guarantees `opts` came from ocireg_options_new and is freed once.
    unsafe { free_box(opts) }
}

/// Runs a setter on `opts` inside the boundary.
///
/// # Safety
///
/// `opts` NULL or live and unaliased; `err` NULL or writable.
pub(crate) unsafe fn set(
    opts: *mut ocireg_options,
    err: *mut *mut ocireg_error,
    f: impl FnOnce(&mut ocireg_options) -> Result<(), Failure>,
) -> ocireg_status {
    // SAFETY: forwarded from the exported function's contract.
    unsafe { with_mut(opts, "opts", err, f) }
}

/// The body of the credential setters: the explicit credentials `make` reads from its
/// arguments replace any others.
///
/// # Safety
///
/// As [`set`], and whatever `make` reads.
unsafe fn set_credentials(
    opts: *mut ocireg_options,
    err: *mut *mut ocireg_error,
    make: impl FnOnce() -> Result<Credentials, Failure>,
) -> ocireg_status {
    // SAFETY: forwarded from the exported function's contract.
    unsafe {
        set(opts, err, |o| {
            o.credentials = Some(make()?);
            Ok(())
        })
    }
}

/// Uses HTTP Basic credentials (user name and password, or a personal access token as the
/// password), for Basic registries and for Bearer token services. The resolution chain is then
/// skipped.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `username` and
/// `password` NUL-terminated strings (or NULL, which is an error); `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_username_password(
    opts: *mut ocireg_options,
    username: *const c_char,
    password: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set_credentials(opts, err, || {
            let u = arg_str(username, "username")?;
            let p = arg_str(password, "password")?;
            Ok(Credentials::basic(u, p))
        })
    }
}

/// Uses an OAuth2 refresh ("identity") token, exchanged at the registry's token service (docker's
/// `identitytoken`). The resolution chain is then skipped.
///
/// # Safety
///
/// As ocireg_options_set_username_password().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_identity_token(
    opts: *mut ocireg_options,
    token: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set_credentials(opts, err, || {
            Ok(Credentials::IdentityToken(
                arg_str(token, "token")?.to_string(),
            ))
        })
    }
}

/// Sends a ready bearer token as is (docker's `registrytoken`). The resolution chain is then
/// skipped.
///
/// # Safety
///
/// As ocireg_options_set_username_password().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_bearer_token(
    opts: *mut ocireg_options,
    token: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set_credentials(opts, err, || {
            Ok(Credentials::BearerToken(
                arg_str(token, "token")?.to_string(),
            ))
        })
    }
}

/// Uses no credentials at all (anonymous; Bearer registries still hand out anonymous tokens for
/// public content). The resolution chain is then skipped.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_anonymous(
    opts: *mut ocireg_options,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe { set_credentials(opts, err, || Ok(Credentials::Anonymous)) }
}

/// Reads credentials from this docker `config.json` instead of the default one
/// (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`) when none are set explicitly.
/// ocireg_login() and ocireg_logout() also write to it.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `path` a
/// NUL-terminated string; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_docker_config(
    opts: *mut ocireg_options,
    path: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            let p = arg_nonempty_str(path, "path")?;
            o.docker_config = Some(PathBuf::from(p));
            Ok(())
        })
    }
}

/// Sets the `User-Agent` header (default `ocireg/<version>`).
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `user_agent` a
/// NUL-terminated string; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_user_agent(
    opts: *mut ocireg_options,
    user_agent: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            let ua = arg_str(user_agent, "user_agent")?;
            if ua.contains(['\r', '\n']) {
                return Err(Failure::invalid(
                    "argument `user_agent` contains a line break",
                ));
            }
            o.user_agent = Some(ua.to_string());
            Ok(())
        })
    }
}

/// Sets one timeout, in milliseconds; 0 means no limit. `kind` is one of `OCIREG_TIMEOUT_CONNECT`,
/// `OCIREG_TIMEOUT_RESPONSE`, `OCIREG_TIMEOUT_READ`, `OCIREG_TIMEOUT_WRITE`,
/// `OCIREG_TIMEOUT_OVERALL`; any other value is `OCIREG_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_timeout_ms(
    opts: *mut ocireg_options,
    kind: u32,
    ms: u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            let slot = o.timeouts.get_mut(kind as usize).ok_or_else(|| {
                Failure::invalid(format!(
                    "argument `kind`: {kind} is not an OCIREG_TIMEOUT_* value (0 to 4)"
                ))
            })?;
            *slot = Some((ms > 0).then(|| Duration::from_millis(ms)));
            Ok(())
        })
    }
}

/// Trusts an extra CA certificate (PEM; may hold several), in addition to the system's roots.
/// May be called several times. A PEM without any certificate fails in ocireg_client_new()
/// with `OCIREG_TLS`.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `pem` valid for
/// reading `pem_len` bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_ca_cert_pem(
    opts: *mut ocireg_options,
    pem: *const u8,
    pem_len: usize,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            let pem = arg_bytes(pem, pem_len, "pem")?;
            if pem.is_empty() {
                return Err(Failure::invalid("argument `pem` is empty"));
            }
            o.ca_certs.push(pem.to_vec());
            Ok(())
        })
    }
}

/// Presents a client certificate chain and its private key (both PEM), for mutual TLS.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `cert_pem` and
/// `key_pem` valid for reading their lengths; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_client_cert_pem(
    opts: *mut ocireg_options,
    cert_pem: *const u8,
    cert_pem_len: usize,
    key_pem: *const u8,
    key_pem_len: usize,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            let cert = arg_bytes(cert_pem, cert_pem_len, "cert_pem")?;
            let key = arg_bytes(key_pem, key_pem_len, "key_pem")?;
            if cert.is_empty() || key.is_empty() {
                return Err(Failure::invalid(
                    "arguments `cert_pem` and `key_pem` must not be empty",
                ));
            }
            o.client_cert = Some((cert.to_vec(), key.to_vec()));
            Ok(())
        })
    }
}

/// Non-zero: plain http for a registry given without a scheme, and no TLS certificate
/// verification. Only when asked: credentials may then travel unencrypted. (A registry given as
/// `http://host:port` uses plain http regardless.)
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_insecure(
    opts: *mut ocireg_options,
    insecure: c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            o.insecure = insecure != 0;
            Ok(())
        })
    }
}

/// Sends every request through this proxy (`http://host:port`, `socks5://host:port`). A
/// malformed URL fails in ocireg_client_new(). Without this call, no proxy is used (environment
/// variables are ignored unless ocireg_options_set_proxy_from_env() says otherwise).
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `proxy_url` a
/// NUL-terminated string; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_proxy(
    opts: *mut ocireg_options,
    proxy_url: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            let p = arg_nonempty_str(proxy_url, "proxy_url")?;
            o.proxy = Some(p.to_string());
            Ok(())
        })
    }
}

/// Non-zero: honour `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` when no explicit
/// proxy is set (off by default, so a stray variable never redirects a client).
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_proxy_from_env(
    opts: *mut ocireg_options,
    on: c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            o.proxy_from_env = on != 0;
            Ok(())
        })
    }
}

/// How many times an idempotent request is retried after a connection error, a timeout, 429 or
/// 5xx, with exponential backoff and `Retry-After` (default 3; 0 disables retrying).
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_max_retries(
    opts: *mut ocireg_options,
    max_retries: u32,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            o.max_retries = Some(max_retries);
            Ok(())
        })
    }
}

/// The slowest a response body may arrive: a body averaging below `bytes_per_sec` over any
/// `window_ms` is abandoned with `OCIREG_TIMEOUT` (curl's `--speed-limit`/`--speed-time`). It
/// ends a registry that drips bytes too slowly for any per-read timeout to notice. The default is
/// 1024 bytes/s over 30 000 ms; `bytes_per_sec` 0 or `window_ms` 0 turns the limit off.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_low_speed_limit(
    opts: *mut ocireg_options,
    bytes_per_sec: u64,
    window_ms: u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            o.low_speed = Some((bytes_per_sec > 0 && window_ms > 0).then(|| LowSpeedLimit {
                bytes_per_sec,
                window: Duration::from_millis(window_ms),
            }));
            Ok(())
        })
    }
}

/// The backoff between retries (the Go seed's `GetBackOff`): the first wait `initial_ms`, each
/// next one `multiplier` times longer (at least 1), at most `max_interval_ms`, less a random
/// part of up to `jitter` (0 to 1) of it; no retry starts later than `max_elapsed_ms` after the
/// first attempt (0: no such limit; ocireg_options_set_max_retries() bounds the count). The
/// defaults are 200 ms, 2, 10 000 ms, none, 0.5. A registry's `Retry-After` replaces the wait.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_backoff(
    opts: *mut ocireg_options,
    initial_ms: u64,
    multiplier: f64,
    max_interval_ms: u64,
    max_elapsed_ms: u64,
    jitter: f64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            if !multiplier.is_finite() || multiplier < 1.0 {
                return Err(Failure::invalid(format!(
                    "argument `multiplier`: {multiplier} is not a number of at least 1"
                )));
            }
            if !(0.0..=1.0).contains(&jitter) {
                return Err(Failure::invalid(format!(
                    "argument `jitter`: {jitter} is not between 0 and 1"
                )));
            }
            o.backoff = Some((
                Duration::from_millis(initial_ms),
                multiplier,
                Duration::from_millis(max_interval_ms),
                (max_elapsed_ms > 0).then(|| Duration::from_millis(max_elapsed_ms)),
                jitter,
            ));
            Ok(())
        })
    }
}

/// A callback told of each retry (method, path, attempt, status, reason, delay), always on the
/// thread that called the operation; NULL removes it. `userdata` is passed back as is.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `cb` NULL or a
/// function valid, with `userdata`, for as long as a client built from these options lives;
/// `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_retry_notify(
    opts: *mut ocireg_options,
    cb: ocireg_retry_fn,
    userdata: *mut c_void,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set(opts, err, |o| {
            o.retry_notify = cb.map(|cb| CRetry {
                cb,
                userdata: UserData(userdata),
            });
            Ok(())
        })
    }
}

/// A registry client: one registry, one connection pool, one token cache.
///
/// Thread-safe: every operation takes a `const ocireg_client *`, and one client may serve many
/// threads at once. Free with ocireg_client_free() once no call is running on it.
#[allow(non_camel_case_types)]
pub struct ocireg_client {
    pub(crate) client: Client,
    /// The C retry callback, for operations whose retries happen on worker threads.
    pub(crate) retry: Option<CRetry>,
    registry: CString,
    base_url: CString,
    credential_source: CString,
}

impl ocireg_client {
    /// A handle for `client`, a client derived from this one (bound to a cancel handle or a
    /// deadline): the same names and retry callback.
    pub(crate) fn rebound(&self, client: Client) -> ocireg_client {
        ocireg_client {
            client,
            retry: self.retry,
            registry: self.registry.clone(),
            base_url: self.base_url.clone(),
            credential_source: self.credential_source.clone(),
        }
    }
}

/// A readable name of where the client's credentials came from.
fn source_text(client: &Client) -> String {
    client.credential_source().to_string()
}

/// Builds a client for `registry`: `host`, `host:port`, `http://host:port`,
/// `https://host/base/path`, or `https://user:password@host` (the userinfo becomes Basic
/// credentials). `docker.io` means Docker Hub. Without a scheme https is used (plain http with
/// ocireg_options_set_insecure()).
///
/// `opts` may be NULL (all defaults) and may be freed right after this call. Credentials are
/// resolved now (explicit ones from `opts`, else docker config and credential helpers); no
/// request is sent. On success `*out` receives a client to free with ocireg_client_free().
///
/// # Safety
///
/// `registry` must be a NUL-terminated string; `opts` NULL or live options; `out` valid for
/// writing a pointer; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_client_new(
    registry: *const c_char,
    opts: *const ocireg_options,
    out: *mut *mut ocireg_client,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let registry = arg_str(registry, "registry")?;
            arg_out(out, "out")?;
            let builder = match opts.as_ref() {
                Some(o) => o.builder(registry),
                None => Client::builder(registry),
            };
            let client = builder.build()?;
            let handle = ocireg_client {
                retry: opts.as_ref().and_then(|o| o.retry_notify),
                registry: out_cstring(client.registry(), "the registry name")?,
                base_url: out_cstring(client.base_url(), "the base URL")?,
                credential_source: out_cstring(&source_text(&client), "the credential source")?,
                client,
            };
            write_box(out, handle);
            Ok(())
        })
    }
}

/// Frees a client (and closes its pooled connections). NULL is a no-op.
///
/// # Safety
///
/// `client` must be NULL or a client from ocireg_client_new(), freed at most once, with no call
/// still running on it in another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_client_free(client: *mut ocireg_client) {
    // SAFETY: the caller guarantees `client` came from ocireg_client_new, freed once.
    unsafe { free_box(client) }
}

/// The registry as `host[:port]` (e.g. `"127.0.0.1:5000"`, `"docker.io"`), the name used in
/// messages and credential stores. Borrowed from the client (valid until ocireg_client_free());
/// NULL when `client` is NULL.
///
/// # Safety
///
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_client_registry(client: *const ocireg_client) -> *const c_char {
    // SAFETY: the caller guarantees `client` is NULL or live.
    unsafe { borrow_cstr(client, |c| &c.registry) }
}

/// The base URL requests go to (e.g. `"https://registry-1.docker.io"`). Borrowed from the client
/// (valid until ocireg_client_free()); NULL when `client` is NULL.
///
/// # Safety
///
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_client_base_url(client: *const ocireg_client) -> *const c_char {
    // SAFETY: the caller guarantees `client` is NULL or live.
    unsafe { borrow_cstr(client, |c| &c.base_url) }
}

/// Where the client's credentials came from, as text: `"explicit"`, `"anonymous"`,
/// `"config file /path/config.json"` or `"credential helper docker-credential-NAME"`. Borrowed from the client (valid until ocireg_client_free()); NULL
/// when `client` is NULL. Never contains a secret.
///
/// # Safety
///
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_client_credential_source(
    client: *const ocireg_client,
) -> *const c_char {
    // SAFETY: the caller guarantees `client` is NULL or live.
    unsafe { borrow_cstr(client, |c| &c.credential_source) }
}

/// HTTP requests this client sent so far, token requests and retries included (0 when `client`
/// is NULL).
///
/// # Safety
///
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_client_request_count(client: *const ocireg_client) -> u64 {
    // SAFETY: the caller guarantees `client` is NULL or live.
    unsafe { read_or(client, 0, |c| guard(0, || c.client.request_count())) }
}

/// Borrows the client argument of an operation.
///
/// # Safety
///
/// `client` must be NULL or a live client for `'a`.
pub(crate) unsafe fn arg_client<'a>(client: *const ocireg_client) -> Result<&'a Client, Failure> {
    // SAFETY: forwarded.
    unsafe { arg_ref(client, "client") }.map(|c| &c.client)
}

/// The C retry callback of a client handle (for operations with worker threads).
///
/// # Safety
///
/// `client` must be NULL or live.
pub(crate) unsafe fn retry_of(client: *const ocireg_client) -> Option<CRetry> {
    // SAFETY: forwarded.
    unsafe { client.as_ref() }.and_then(|c| c.retry)
}

/// `client`, with `hook` told of the retries of calls made through it, when there is one.
pub(crate) fn notifying(client: &Client, hook: Option<crate::transport::RetryCallback>) -> Client {
    match hook {
        Some(h) => client.with_retry_notify(h),
        None => client.clone(),
    }
}

/// Borrows the client and reads the repository argument of an operation on one repository.
///
/// # Safety
///
/// `client` must be NULL or a live client for `'a`; `repository` NULL or a NUL-terminated
/// string that outlives `'a`.
pub(crate) unsafe fn arg_client_repo<'a>(
    client: *const ocireg_client,
    repository: *const c_char,
) -> Result<(&'a Client, &'a str), Failure> {
    // SAFETY: forwarded.
    unsafe { Ok((arg_client(client)?, arg_str(repository, "repository")?)) }
}
