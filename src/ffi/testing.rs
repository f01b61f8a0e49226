//! The in-memory test registry (`ocireg::testing::Registry`), so that the C, Python, Ruby and Go
//! test suites can start their own registry. Present when the library is built with the
//! `test-server` feature (the default).

use std::ffi::{CString, c_char};
use std::ptr;

use super::error::{Failure, boundary, guard, ocireg_error, ocireg_status};
use super::strings::{
    arg_bytes, arg_mut, arg_opt_str, arg_out, arg_ref, arg_str, out_cstring, write_opt,
    write_opt_cstring, write_out,
};
use crate::digest::Digest;
use crate::testing::{AuthMode, BearerPolicy, Hostile, Registry};

/// `ocireg_test_registry_start` auth mode: no authentication.
pub const OCIREG_TEST_AUTH_NONE: u32 = 0;
/// `ocireg_test_registry_start` auth mode: HTTP Basic, for the given users.
pub const OCIREG_TEST_AUTH_BASIC: u32 = 1;
/// `ocireg_test_registry_start` auth mode: Bearer tokens from the registry's own token endpoint,
/// granting the given users full access.
pub const OCIREG_TEST_AUTH_BEARER: u32 = 2;

/// An in-memory OCI registry listening on `http://127.0.0.1:PORT`, for tests (plain HTTP, no
/// TLS). Everything lives in memory; requests are served by the registry's own threads.
///
/// Thread-safe: functions taking a `const ocireg_test_registry *` may run concurrently.
/// ocireg_test_registry_stop() and ocireg_test_registry_free() must not race with other calls.
#[allow(non_camel_case_types)]
pub struct ocireg_test_registry {
    registry: Option<Registry>,
    url: CString,
    host: CString,
}

impl ocireg_test_registry {
    fn running(&self) -> Result<&Registry, Failure> {
        self.registry
            .as_ref()
            .ok_or_else(|| Failure::invalid("the test registry was stopped"))
    }
}

/// Parses `"alice:secret,bob:pw"`.
fn parse_users(users: &str) -> Result<Vec<(String, String)>, Failure> {
    users
        .split(',')
        .filter(|u| !u.trim().is_empty())
        .map(|u| match u.split_once(':') {
            Some((name, pw)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), pw.to_string()))
            }
            _ => Err(Failure::invalid(
                "argument `users` must look like \"alice:secret,bob:pw\"",
            )),
        })
        .collect()
}

/// Starts a test registry on a free port of 127.0.0.1.
///
/// `auth_mode` is `OCIREG_TEST_AUTH_NONE` (0), `OCIREG_TEST_AUTH_BASIC` (1) or
/// `OCIREG_TEST_AUTH_BEARER` (2, tokens from the registry's own `/token` endpoint). `users` is
/// `"alice:secret,bob:pw"`: required for modes 1 and 2, ignored (may be NULL) for mode 0. On
/// success `*out` receives a running registry; stop and free it with
/// ocireg_test_registry_free().
///
/// # Safety
///
/// `users` must be NULL or a NUL-terminated string; `out` valid for writing a pointer; `err`
/// NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_start(
    auth_mode: u32,
    users: *const c_char,
    out: *mut *mut ocireg_test_registry,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let users = arg_opt_str(users, "users")?;
            arg_out(out, "out")?;
            let auth = match auth_mode {
                OCIREG_TEST_AUTH_NONE => AuthMode::None,
                OCIREG_TEST_AUTH_BASIC | OCIREG_TEST_AUTH_BEARER => {
                    let users = parse_users(users.unwrap_or(""))?;
                    if users.is_empty() {
                        return Err(Failure::invalid(
                            "argument `users` is required for Basic and Bearer authentication",
                        ));
                    }
                    if auth_mode == OCIREG_TEST_AUTH_BASIC {
                        AuthMode::Basic { users }
                    } else {
                        let pairs: Vec<(&str, &str)> = users
                            .iter()
                            .map(|(u, p)| (u.as_str(), p.as_str()))
                            .collect();
                        AuthMode::Bearer(BearerPolicy::full_access(&pairs))
                    }
                }
                other => {
                    return Err(Failure::invalid(format!(
                        "argument `auth_mode`: {other} is not 0 (none), 1 (basic) or 2 (bearer)"
                    )));
                }
            };
            let registry = Registry::builder().auth(auth).start()?;
            let handle = ocireg_test_registry {
                url: out_cstring(&registry.url(), "the registry URL")?,
                host: out_cstring(&registry.host(), "the registry host")?,
                registry: Some(registry),
            };
            write_out(out, Box::into_raw(Box::new(handle)));
            Ok(())
        })
    }
}

/// The registry's URL, `"http://127.0.0.1:PORT"` (pass it to ocireg_client_new()). Borrowed from
/// the registry (valid until ocireg_test_registry_free()); NULL when `reg` is NULL.
///
/// # Safety
///
/// `reg` must be NULL or a live test registry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_url(
    reg: *const ocireg_test_registry,
) -> *const c_char {
    // SAFETY: the caller guarantees `reg` is NULL or live.
    unsafe { reg.as_ref() }.map_or(ptr::null(), |r| r.url.as_ptr())
}

/// The registry's `"127.0.0.1:PORT"`, the registry part of image references. Borrowed from the
/// registry (valid until ocireg_test_registry_free()); NULL when `reg` is NULL.
///
/// # Safety
///
/// `reg` must be NULL or a live test registry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_host(
    reg: *const ocireg_test_registry,
) -> *const c_char {
    // SAFETY: the caller guarantees `reg` is NULL or live.
    unsafe { reg.as_ref() }.map_or(ptr::null(), |r| r.host.as_ptr())
}

/// How many requests the registry answered so far (token endpoint included); 0 when `reg` is
/// NULL or stopped.
///
/// # Safety
///
/// `reg` must be NULL or a live test registry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_request_count(
    reg: *const ocireg_test_registry,
) -> u64 {
    // SAFETY: the caller guarantees `reg` is NULL or live.
    let Some(r) = (unsafe { reg.as_ref() }) else {
        return 0;
    };
    guard(0, || {
        r.registry.as_ref().map_or(0, |r| r.request_count() as u64)
    })
}

/// Stores a blob in `repository` directly (no HTTP). On success `*out_digest` (optional: NULL
/// if not wanted) receives its `sha256:` digest (free with ocireg_string_free()).
///
/// # Safety
///
/// `reg` must be a live test registry; `repository` a NUL-terminated string; `data` valid for
/// reading `len` bytes; `out_digest` NULL or valid for writing a pointer; `err` NULL or valid
/// for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_add_blob(
    reg: *const ocireg_test_registry,
    repository: *const c_char,
    data: *const u8,
    len: usize,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            let repo = arg_str(repository, "repository")?;
            let bytes = arg_bytes(data, len, "data")?;
            crate::Repository::parse(repo)?;
            let d = r.add_blob(repo, bytes);
            write_opt_cstring(out_digest, out_cstring(&d.to_string(), "the digest")?);
            Ok(())
        })
    }
}

/// Stores a manifest directly (no HTTP), tagged `tag` unless `tag` is NULL. It is checked like a
/// push: valid names, JSON, a `mediaType` (if any) equal to `media_type`, every referenced blob
/// already present. On success `*out_digest` (optional) receives its digest (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `reg` must be a live test registry; `repository` and `media_type` NUL-terminated strings;
/// `tag` NULL or a NUL-terminated string; `data` valid for reading `len` bytes; `out_digest`
/// NULL or valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_add_manifest(
    reg: *const ocireg_test_registry,
    repository: *const c_char,
    tag: *const c_char,
    media_type: *const c_char,
    data: *const u8,
    len: usize,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            let repo = arg_str(repository, "repository")?;
            let tag = arg_opt_str(tag, "tag")?;
            let media_type = arg_str(media_type, "media_type")?;
            let bytes = arg_bytes(data, len, "data")?;
            let d = r.add_manifest(repo, tag, media_type, bytes)?;
            write_opt_cstring(out_digest, out_cstring(&d.to_string(), "the digest")?);
            Ok(())
        })
    }
}

/// Stores an image directly (no HTTP): the config blob, the layer blobs and an OCI image
/// manifest referencing them, tagged `tag`. `layers[i]` / `layer_lens[i]` for `i < n_layers`
/// are the layer contents (both arrays may be NULL when `n_layers` is 0). On success
/// `*out_digest` (optional) receives the manifest digest (free with ocireg_string_free()).
///
/// # Safety
///
/// `reg` must be a live test registry; `repository` and `tag` NUL-terminated strings; `config`
/// valid for reading `config_len` bytes; `layers` and `layer_lens` valid for reading `n_layers`
/// elements, each `layers[i]` valid for reading `layer_lens[i]` bytes; `out_digest` NULL or
/// valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_add_image(
    reg: *const ocireg_test_registry,
    repository: *const c_char,
    tag: *const c_char,
    config: *const u8,
    config_len: usize,
    layers: *const *const u8,
    layer_lens: *const usize,
    n_layers: usize,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            let repo = arg_str(repository, "repository")?;
            let tag = arg_str(tag, "tag")?;
            let config = arg_bytes(config, config_len, "config")?;
            let (ptrs, lens) = if n_layers == 0 {
                (&[][..], &[][..])
            } else {
                if layers.is_null() {
                    return Err(Failure::null("layers"));
                }
                if layer_lens.is_null() {
                    return Err(Failure::null("layer_lens"));
                }
                (
                    std::slice::from_raw_parts(layers, n_layers),
                    std::slice::from_raw_parts(layer_lens, n_layers),
                )
            };
            let layer_slices = ptrs
                .iter()
                .zip(lens)
                .enumerate()
                .map(|(i, (&p, &l))| arg_bytes(p, l, &format!("layers[{i}]")))
                .collect::<Result<Vec<&[u8]>, _>>()?;
            let d = r.add_image(repo, tag, config, &layer_slices)?;
            write_opt_cstring(out_digest, out_cstring(&d.to_string(), "the digest")?);
            Ok(())
        })
    }
}

/// Removes a blob from a repository (e.g. to make a later verification fail). On success
/// `*out_found` (optional) receives 1 when the blob was there, else 0.
///
/// # Safety
///
/// `reg` must be a live test registry; `repository` and `digest` NUL-terminated strings;
/// `out_found` NULL or valid for writing an int; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_delete_blob(
    reg: *const ocireg_test_registry,
    repository: *const c_char,
    digest: *const c_char,
    out_found: *mut std::ffi::c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            let repo = arg_str(repository, "repository")?;
            let digest: Digest = arg_str(digest, "digest")?.parse()?;
            let found = r.delete_blob(repo, &digest);
            write_opt(out_found, std::ffi::c_int::from(found));
            Ok(())
        })
    }
}

/// Makes the next `n` registry requests (any path but the token endpoint) fail with HTTP
/// `status` and a spec error body (`TOOMANYREQUESTS` for 429, `UNAVAILABLE` for 503, ...), with
/// `Retry-After: retry_after_secs` when `retry_after_secs >= 0`. Replaces pending failures;
/// `n = 0` cancels them. `status` must be 400 to 599.
///
/// # Safety
///
/// `reg` must be a live test registry; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_fail_next(
    reg: *const ocireg_test_registry,
    n: u32,
    status: u16,
    retry_after_secs: i64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            if !(400..=599).contains(&status) {
                return Err(Failure::invalid(format!(
                    "argument `status`: {status} is not an HTTP error status (400 to 599)"
                )));
            }
            let retry_after =
                if retry_after_secs < 0 {
                    None
                } else {
                    Some(u32::try_from(retry_after_secs).map_err(|_| {
                        Failure::invalid("argument `retry_after_secs` is too large")
                    })?)
                };
            r.fail_next(n as usize, status, retry_after);
            Ok(())
        })
    }
}

/// Stops serving and joins the registry's threads; afterwards clients get `OCIREG_NETWORK`
/// (connection refused) and the registry's own functions `OCIREG_INVALID_ARGUMENT`, while
/// ocireg_test_registry_url() stays readable. Stopping twice is fine.
///
/// # Safety
///
/// `reg` must be a live test registry not used by another thread during the call; `err` NULL
/// or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_stop(
    reg: *mut ocireg_test_registry,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            if let Some(r) = arg_mut(reg, "reg")?.registry.take() {
                r.stop();
            }
            Ok(())
        })
    }
}

/// Stops the registry (if still running) and frees it. NULL is a no-op.
///
/// # Safety
///
/// `reg` must be NULL or a test registry from ocireg_test_registry_start(), freed at most once,
/// with no call still running on it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_free(reg: *mut ocireg_test_registry) {
    if !reg.is_null() {
        // SAFETY: the caller guarantees `reg` came from ocireg_test_registry_start, freed once.
        guard((), || drop(unsafe { Box::from_raw(reg) }));
    }
}

/// Delays every answer of the registry (token endpoint included) by `ms` milliseconds; 0 turns
/// it off. For timeout tests.
///
/// # Safety
///
/// `reg` must be a live test registry; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_set_delay_ms(
    reg: *const ocireg_test_registry,
    ms: u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            r.set_delay(std::time::Duration::from_millis(ms));
            Ok(())
        })
    }
}

/// The next `n` blob downloads send their headers with the full `Content-Length`, then half the
/// body, then close the connection. For tests of broken downloads.
///
/// # Safety
///
/// `reg` must be a live test registry; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_drop_next(
    reg: *const ocireg_test_registry,
    n: u32,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            arg_ref(reg, "reg")?.running()?.drop_next(n as usize);
            Ok(())
        })
    }
}

/// Non-zero: blob downloads answer `307` to a second, unauthenticated listener on
/// `http://localhost:PORT2` (like a CDN); zero: off (the default).
///
/// # Safety
///
/// `reg` must be a live test registry; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_redirect_blobs(
    reg: *const ocireg_test_registry,
    on: std::ffi::c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            arg_ref(reg, "reg")?.running()?.redirect_blobs(on != 0);
            Ok(())
        })
    }
}

/// Makes the registry play one attack of a hostile registry, from the next request on, until
/// another scenario replaces it; `"none"` turns it off. `scenario` is one of (see
/// `ocireg::testing::Hostile` for exactly what each sends):
///
/// - `"none"`;
/// - `"cross-origin-link"`: tag list and catalog pages link their next page on the second
///   listener, `http://127.0.0.1:PORT2/v2/...` (another origin), which answers it without
///   authentication and with the extra name `"from-other-origin"`;
/// - `"cross-port-redirect"`: authorized GET/HEAD of tag lists, manifests and blobs answer `307`
///   to the same path on `http://127.0.0.1:PORT2`, which serves them without authentication;
/// - `"huge-expires-in"`, `"issued-at-future"`, `"issued-at-past"`: token answers with
///   `"expires_in": 9223372036854775807`, `"issued_at": "9999-12-31T23:59:59Z"` or
///   `"0001-01-01T00:00:00Z"`;
/// - `"slow-drip:<ms>"`: successful GET bodies (tag lists, catalog, manifests, blobs, tokens)
///   come one byte every `<ms>` milliseconds, with a correct `Content-Length`;
/// - `"endless-body"`, `"endless-body:chunked"`: blob GETs answer `200` without
///   `Content-Length` and a body that never ends (close-delimited or chunked);
/// - `"cut-midway"`, `"cut-midway:ignore-range"`, `"cut-midway:bad-range"`: blob GETs without
///   `Range` are cut after half the body; with `Range` they get a correct `206`, a full `200`,
///   or a `206` whose `Content-Range` starts elsewhere than asked;
/// - `"no-challenge-401"`, `"no-challenge-401:everywhere"`: `401`s without `WWW-Authenticate`
///   on every path but `/v2/`, or everywhere;
/// - `"query-only-link"`: pagination `Link: <?last=X&n=N>; rel="next"`;
/// - `"changing-cursor"`: every page the same names and a `Link` with a never-repeating cursor;
/// - `"large-error-body:<bytes>"`: every error answer's `errors[].message` is `<bytes>` long
///   (at most 268435456);
/// - `"malformed-error-entry"`, `"malformed-error-entry:string"`: every error answer's `errors`
///   array gets a malformed entry (`{"code":5}` or a bare string) between two good ones.
///
/// The second listener's requests show in ocireg_test_registry_requests_json() with
/// `"objectStore": true` and whether they carried an `Authorization` header. An unknown or
/// malformed spec fails with `OCIREG_INVALID_ARGUMENT`, naming it, and changes nothing.
///
/// # Safety
///
/// `reg` must be a live test registry; `scenario` a NUL-terminated string; `err` NULL or valid
/// for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_set_hostile(
    reg: *const ocireg_test_registry,
    scenario: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            let spec = arg_str(scenario, "scenario")?;
            let hostile: Hostile = spec.parse().map_err(|e| {
                Failure::invalid(match e {
                    crate::Error::InvalidInput(m) => format!("argument `scenario`: {m}"),
                    other => format!("argument `scenario`: {other}"),
                })
            })?;
            r.set_hostile(hostile);
            Ok(())
        })
    }
}

/// Every request the registry answered so far, oldest first, as a JSON array of objects with
/// `method`, `path`, `query`, `status`, `authorized` (whether an `Authorization` header was
/// sent; its value is never recorded) and `objectStore` (true for the second listener: the
/// target of ocireg_test_registry_redirect_blobs() and the other origin of the hostile
/// scenarios). On success `*out_json` receives it (free with ocireg_string_free()).
///
/// # Safety
///
/// `reg` must be a live test registry; `out_json` valid for writing a pointer; `err` NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_requests_json(
    reg: *const ocireg_test_registry,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(reg, "reg")?.running()?;
            arg_out(out_json, "out_json")?;
            let list: Vec<serde_json::Value> = r
                .requests()
                .into_iter()
                .map(|q| {
                    serde_json::json!({
                        "method": q.method,
                        "path": q.path,
                        "query": q.query,
                        "status": q.status,
                        "authorized": q.authorized,
                        "objectStore": q.object_store,
                    })
                })
                .collect();
            let text = serde_json::Value::Array(list).to_string();
            write_out(out_json, out_cstring(&text, "the JSON")?.into_raw());
            Ok(())
        })
    }
}

/// Forgets the recorded requests (ocireg_test_registry_request_count() starts again from 0).
///
/// # Safety
///
/// `reg` must be a live test registry; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_registry_clear_requests(
    reg: *const ocireg_test_registry,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            arg_ref(reg, "reg")?.running()?.clear_requests();
            Ok(())
        })
    }
}

/// Panics inside the library on purpose, with `message` (NULL: `"test panic"`), so that a
/// binding can check that a panic comes back as `OCIREG_PANIC` (99) with the message
/// `"panic: <message>"`, and that the process goes on. Rust's panic hook prints the panic to
/// stderr. Always returns `OCIREG_PANIC` (or `OCIREG_INVALID_ARGUMENT` for a non-UTF-8 message).
///
/// # Safety
///
/// `message` must be NULL or a NUL-terminated string; `err` NULL or valid for writing a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_test_panic(
    message: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let m = arg_opt_str(message, "message")?.unwrap_or("test panic");
            panic!("{m}");
        })
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};

    use super::*;
    use crate::ffi::error::{ocireg_error_free, ocireg_error_message, ocireg_error_status};

    /// Calls `f` with an error out-parameter; returns the status and the error's message.
    fn run(f: impl FnOnce(*mut *mut ocireg_error) -> ocireg_status) -> (ocireg_status, String) {
        let mut err: *mut ocireg_error = ptr::null_mut();
        let st = f(&mut err);
        if err.is_null() {
            return (st, String::new());
        }
        // SAFETY: `err` came from the library and is freed once.
        unsafe {
            assert_eq!(ocireg_error_status(err), st);
            let m = CStr::from_ptr(ocireg_error_message(err))
                .to_string_lossy()
                .into_owned();
            ocireg_error_free(err);
            (st, m)
        }
    }

    #[test]
    fn set_hostile_parses_the_spec_and_names_a_bad_one() {
        use ocireg_status::*;
        let mut reg: *mut ocireg_test_registry = ptr::null_mut();
        // SAFETY: valid out-pointers; the registry is freed at the end.
        unsafe {
            let (st, _) = run(|e| ocireg_test_registry_start(0, ptr::null(), &mut reg, e));
            assert_eq!(st, OCIREG_OK);
            let spec = |s: &str| CString::new(s).unwrap();
            let r = &*reg;
            let set = |s: &CString| run(|e| ocireg_test_registry_set_hostile(reg, s.as_ptr(), e));

            assert_eq!(set(&spec("slow-drip:2000")), (OCIREG_OK, String::new()));
            assert_eq!(
                r.running().unwrap().hostile(),
                Hostile::SlowDrip {
                    interval: std::time::Duration::from_secs(2)
                }
            );
            let (st, m) = set(&spec("slow-drip:later"));
            assert_eq!(st, OCIREG_INVALID_ARGUMENT);
            assert!(m.contains("argument `scenario`"), "{m}");
            assert!(m.contains("\"slow-drip:later\""), "{m}");
            assert!(m.contains("cross-origin-link"), "{m}");
            // A bad spec changes nothing.
            assert!(matches!(
                r.running().unwrap().hostile(),
                Hostile::SlowDrip { .. }
            ));
            assert_eq!(set(&spec("none")), (OCIREG_OK, String::new()));
            assert_eq!(r.running().unwrap().hostile(), Hostile::None);

            let (st, m) = run(|e| ocireg_test_registry_set_hostile(reg, ptr::null(), e));
            assert_eq!(st, OCIREG_INVALID_ARGUMENT);
            assert!(m.contains("scenario"), "{m}");
            let none = spec("none");
            let (st, _) = run(|e| ocireg_test_registry_set_hostile(ptr::null(), none.as_ptr(), e));
            assert_eq!(st, OCIREG_INVALID_ARGUMENT);
            let bad_utf8 = CString::from_vec_unchecked(vec![0xff, b'x']);
            let (st, _) = run(|e| ocireg_test_registry_set_hostile(reg, bad_utf8.as_ptr(), e));
            assert_eq!(st, OCIREG_INVALID_ARGUMENT);
            // NULL err is allowed.
            assert_eq!(
                ocireg_test_registry_set_hostile(reg, none.as_ptr(), ptr::null_mut()),
                OCIREG_OK
            );

            let (st, _) = run(|e| ocireg_test_registry_stop(reg, e));
            assert_eq!(st, OCIREG_OK);
            let (st, m) = set(&none);
            assert_eq!(st, OCIREG_INVALID_ARGUMENT);
            assert!(m.contains("stopped"), "{m}");
            ocireg_test_registry_free(reg);
        }
    }
}
