//! Status codes, the error object, and the panic boundary every exported function goes through.

use std::any::Any;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use super::strings::{arg_mut, arg_out, borrow_cstr, read_or, write_box};
use crate::error::{Error, ErrorInfo};

/// The result of every fallible function: `OCIREG_OK` (0) or what went wrong.
///
/// The numbers are stable and never reused. Details (message, HTTP status, registry error code,
/// Retry-After) are in the `ocireg_error` object returned through the `err` out-parameter.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ocireg_status {
    /// Success.
    OCIREG_OK = 0,
    /// A required pointer was NULL, a string was not UTF-8, or an argument or document was
    /// malformed (`ocireg::Error::InvalidInput`).
    OCIREG_INVALID_ARGUMENT = 1,
    /// An image reference, repository name, tag or digest is malformed.
    OCIREG_INVALID_REFERENCE = 2,
    /// The registry rejected the credentials, or demands credentials that were not given (401).
    OCIREG_AUTHENTICATION = 3,
    /// The credentials do not grant this operation (403, `DENIED`, insufficient scope).
    OCIREG_AUTHORIZATION = 4,
    /// The repository, tag, manifest or blob does not exist (404).
    OCIREG_NOT_FOUND = 5,
    /// TLS failed: untrusted certificate, wrong host name, handshake failure, bad PEM.
    OCIREG_TLS = 6,
    /// The registry could not be reached, or the connection broke.
    OCIREG_NETWORK = 7,
    /// A configured timeout expired.
    OCIREG_TIMEOUT = 8,
    /// HTTP 429 that persisted through the retry policy; see ocireg_error_retry_after_secs().
    OCIREG_RATE_LIMITED = 9,
    /// Any other error answer from the registry; see ocireg_error_http_status() and
    /// ocireg_error_registry_code().
    OCIREG_REGISTRY = 10,
    /// Content did not hash to the digest it should have.
    OCIREG_DIGEST_MISMATCH = 11,
    /// The registry does not implement the API this operation needs (e.g. no catalog).
    OCIREG_UNSUPPORTED = 12,
    /// A credential store, helper program or docker config file failed.
    OCIREG_CREDENTIALS = 13,
    /// A local file operation failed.
    OCIREG_IO = 14,
    /// The caller cancelled the operation (a callback asked to stop).
    OCIREG_CANCELLED = 15,
    /// A push verification ran, and its report says the push is not correct.
    OCIREG_VERIFY_FAILED = 16,
    /// The registry answered something a registry must not (a cross-origin `Link` or redirect,
    /// a wrong `Range` answer, an oversized body): not the caller's fault.
    OCIREG_PROTOCOL = 17,
    /// A Rust panic was caught at the boundary (a bug in ocireg; the message says where).
    OCIREG_PANIC = 99,
}

/// Details of a failure: status, message, HTTP status, registry error code, Retry-After.
///
/// Returned through the `ocireg_error **err` out-parameter of every fallible function; free it
/// with ocireg_error_free(). Immutable: a `const ocireg_error *` may be read from any thread.
#[allow(non_camel_case_types)]
pub struct ocireg_error {
    status: ocireg_status,
    message: CString,
    http_status: u16,
    registry_code: Option<CString>,
    retry_after_secs: i64,
    /// Every `errors[]` entry: code, message, detail as JSON text.
    entries: Vec<(CString, CString, Option<CString>)>,
    body: Option<CString>,
}

/// The internal failure every boundary closure returns; turned into an `ocireg_error` at the
/// boundary.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: ocireg_status,
    pub(crate) message: String,
    pub(crate) http_status: u16,
    pub(crate) registry_code: Option<String>,
    pub(crate) retry_after_secs: i64,
    pub(crate) entries: Vec<ErrorInfo>,
    pub(crate) body: Option<String>,
}

impl Failure {
    /// A failure with only a status and a message.
    pub(crate) fn new(status: ocireg_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            http_status: 0,
            registry_code: None,
            retry_after_secs: -1,
            entries: Vec::new(),
            body: None,
        }
    }

    /// `OCIREG_INVALID_ARGUMENT` with a message.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(ocireg_status::OCIREG_INVALID_ARGUMENT, message)
    }

    /// `OCIREG_INVALID_ARGUMENT`: `name` must not be NULL.
    pub(crate) fn null(name: &str) -> Self {
        Failure::invalid(format!("argument `{name}` is NULL"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        use ocireg_status::*;
        let status = match &e {
            Error::Authentication { .. } => OCIREG_AUTHENTICATION,
            Error::Authorization { .. } => OCIREG_AUTHORIZATION,
            Error::NotFound { .. } => OCIREG_NOT_FOUND,
            Error::Tls { .. } => OCIREG_TLS,
            Error::Network { .. } => OCIREG_NETWORK,
            Error::Timeout { .. } => OCIREG_TIMEOUT,
            Error::RateLimited { .. } => OCIREG_RATE_LIMITED,
            Error::Registry { .. } => OCIREG_REGISTRY,
            Error::DigestMismatch { .. } => OCIREG_DIGEST_MISMATCH,
            Error::InvalidReference(_) => OCIREG_INVALID_REFERENCE,
            Error::InvalidInput(_) => OCIREG_INVALID_ARGUMENT,
            Error::Unsupported { .. } => OCIREG_UNSUPPORTED,
            Error::Credentials(_) => OCIREG_CREDENTIALS,
            Error::Io { .. } => OCIREG_IO,
            Error::Cancelled(_) => OCIREG_CANCELLED,
            Error::Protocol { .. } => OCIREG_PROTOCOL,
            // `Error` is non_exhaustive: a variant added later is still reported, as a
            // registry-side failure, until it gets its own code.
            #[allow(unreachable_patterns)]
            _ => OCIREG_REGISTRY,
        };
        let retry_after_secs = match e.retry_after() {
            Some(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            None => -1,
        };
        Failure {
            status,
            message: e.to_string(),
            http_status: e.http_status().unwrap_or(0),
            registry_code: e.registry_code().map(str::to_string),
            retry_after_secs,
            entries: e.registry_errors().to_vec(),
            body: e.body().map(str::to_string),
        }
    }
}

/// A C string from text that may hold NUL bytes (they are shown as `\0`).
pub(crate) fn lossy_cstring(s: &str) -> CString {
    match CString::new(s) {
        Ok(c) => c,
        Err(_) => CString::new(s.replace('\0', "\\0")).unwrap_or_default(),
    }
}

impl Failure {
    fn into_error(self) -> ocireg_error {
        ocireg_error {
            status: self.status,
            message: lossy_cstring(&self.message),
            http_status: self.http_status,
            registry_code: self.registry_code.as_deref().map(lossy_cstring),
            retry_after_secs: self.retry_after_secs,
            entries: self
                .entries
                .iter()
                .map(|e| {
                    (
                        lossy_cstring(&e.code),
                        lossy_cstring(&e.message),
                        e.detail.as_ref().map(|d| lossy_cstring(&d.to_string())),
                    )
                })
                .collect(),
            body: self.body.as_deref().map(lossy_cstring),
        }
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic: (no message)".to_string()
    }
}

/// The boundary of every fallible exported function: clears `*err`, runs `f` catching any panic,
/// and turns a failure into a status plus (when `err` is not NULL) an owned error object.
///
/// `f` must write its out-parameters only once everything that can fail has succeeded.
///
/// # Safety
///
/// `err` must be NULL or valid for writing one pointer.
pub(crate) unsafe fn boundary<F>(err: *mut *mut ocireg_error, f: F) -> ocireg_status
where
    F: FnOnce() -> Result<(), Failure>,
{
    if !err.is_null() {
        // SAFETY: the caller guarantees `err` is valid for writes when not NULL.
        unsafe { *err = ptr::null_mut() };
    }
    let _caller = CallerThread::enter();
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return ocireg_status::OCIREG_OK,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::new(ocireg_status::OCIREG_PANIC, panic_message(&*payload)),
    };
    let status = failure.status;
    if !err.is_null() {
        // Building the error object cannot panic in practice; guard it anyway so that nothing
        // unwinds into C.
        if let Ok(obj) = catch_unwind(AssertUnwindSafe(|| Box::new(failure.into_error()))) {
            // SAFETY: as above.
            unsafe { *err = Box::into_raw(obj) };
        }
    }
    status
}

thread_local! {
    /// How many exported calls are running on this thread (a C caller's thread when > 0).
    static C_CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks this thread as a C caller's while an exported call runs on it.
struct CallerThread;

impl CallerThread {
    fn enter() -> CallerThread {
        C_CALLS.with(|c| c.set(c.get().saturating_add(1)));
        CallerThread
    }
}

impl Drop for CallerThread {
    fn drop(&mut self) {
        C_CALLS.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// Whether this thread is running an exported call for a C caller (so a C callback may be
/// called here).
pub(crate) fn on_caller_thread() -> bool {
    C_CALLS.with(|c| c.get() > 0)
}

/// The boundary of infallible functions (accessors, frees): runs `f` and returns `fallback` if
/// it panics.
pub(crate) fn guard<T, F: FnOnce() -> T>(fallback: T, f: F) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The body of every setter: borrows the handle `p` (argument `name`) mutably and runs `f` on it
/// inside the boundary.
///
/// # Safety
///
/// `p` must be NULL or point to a live `T` not used elsewhere during the call; `err` NULL or
/// valid for writing one pointer.
pub(crate) unsafe fn with_mut<T>(
    p: *mut T,
    name: &str,
    err: *mut *mut ocireg_error,
    f: impl FnOnce(&mut T) -> Result<(), Failure>,
) -> ocireg_status {
    // SAFETY: forwarded from the caller.
    unsafe { boundary(err, || f(arg_mut(p, name)?)) }
}

/// The body of every `_new` that takes no settings: a handle with every setting at its default
/// into the required `*out`.
///
/// # Safety
///
/// `out` must be NULL or valid for writing one pointer; `err` NULL or valid for writing one
/// pointer.
pub(crate) unsafe fn new_default<T: Default>(
    out: *mut *mut T,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from the caller; `out` is checked and written only on success.
    unsafe {
        boundary(err, || {
            arg_out(out, "out")?;
            write_box(out, T::default());
            Ok(())
        })
    }
}

/// The body of every `_free`: drops a handle this library handed out with `Box::into_raw`.
/// NULL is a no-op.
///
/// # Safety
///
/// `p` must be NULL or a `T` handle from this library, freed at most once.
pub(crate) unsafe fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: the caller guarantees `p` came from Box::into_raw and is freed once.
        guard((), || drop(unsafe { Box::from_raw(p) }));
    }
}

/// The status of an error object, or `OCIREG_INVALID_ARGUMENT` when `err` is NULL.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_status(err: *const ocireg_error) -> ocireg_status {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { read_or(err, ocireg_status::OCIREG_INVALID_ARGUMENT, |e| e.status) }
}

/// The error message (UTF-8, NUL-terminated). It says what failed, for which registry and
/// repository, and why; it never contains a password or token.
///
/// The pointer is borrowed from `err` and stays valid until ocireg_error_free(err). Returns NULL
/// when `err` is NULL.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_message(err: *const ocireg_error) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { borrow_cstr(err, |e| &e.message) }
}

/// The HTTP status behind the error (401, 403, 404, 429, 5xx …), or 0 when there is none (or
/// `err` is NULL).
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_http_status(err: *const ocireg_error) -> u16 {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { read_or(err, 0, |e| e.http_status) }
}

/// The first OCI error code the registry sent (e.g. `"MANIFEST_UNKNOWN"`, `"NAME_UNKNOWN"`,
/// `"DENIED"`), or NULL when it sent none (or `err` is NULL).
///
/// The pointer is borrowed from `err` and stays valid until ocireg_error_free(err).
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_registry_code(err: *const ocireg_error) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    match unsafe { err.as_ref() }.and_then(|e| e.registry_code.as_ref()) {
        Some(c) => c.as_ptr(),
        None => ptr::null(),
    }
}

/// For `OCIREG_RATE_LIMITED` and `OCIREG_REGISTRY` (a 503): how many seconds the registry asked
/// to wait (`Retry-After`), or -1 when it did not say (or for any other error, or when `err` is
/// NULL).
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_retry_after_secs(err: *const ocireg_error) -> i64 {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { read_or(err, -1, |e| e.retry_after_secs) }
}

/// How many entries the registry's `{"errors": [...]}` answer had (0 when none, or `err` is
/// NULL). Each is read with ocireg_error_registry_error_code(), `_message()` and `_detail()`.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_registry_error_count(err: *const ocireg_error) -> usize {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { read_or(err, 0, |e| e.entries.len()) }
}

/// The code of entry `i` of the registry's `errors[]` (e.g. `"MANIFEST_UNKNOWN"`; `""` when the
/// entry had none), or NULL when `i` is out of range. Borrowed from `err`.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_registry_error_code(
    err: *const ocireg_error,
    i: usize,
) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { entry_field(err, i, |e| Some(&e.0)) }
}

/// The message of entry `i` of the registry's `errors[]` (`""` when it had none), or NULL when
/// `i` is out of range. Borrowed from `err`.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_registry_error_message(
    err: *const ocireg_error,
    i: usize,
) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { entry_field(err, i, |e| Some(&e.1)) }
}

/// The detail of entry `i` of the registry's `errors[]` as JSON text (e.g.
/// `{"name":"team/app"}`), or NULL when the entry had none (or `null`) or `i` is out of range.
/// Borrowed from `err`.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_registry_error_detail(
    err: *const ocireg_error,
    i: usize,
) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    unsafe { entry_field(err, i, |e| e.2.as_ref()) }
}

/// The body of the registry's error answer as it came (at most 64 KiB, invalid UTF-8 replaced),
/// or NULL when there was none. Borrowed from `err`.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_body(err: *const ocireg_error) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live error object.
    match unsafe { err.as_ref() }.and_then(|e| e.body.as_ref()) {
        Some(b) => b.as_ptr(),
        None => ptr::null(),
    }
}

/// A field of entry `i` of an error object's `errors[]`, or NULL.
///
/// # Safety
///
/// `err` must be NULL or live.
unsafe fn entry_field(
    err: *const ocireg_error,
    i: usize,
    field: impl FnOnce(&(CString, CString, Option<CString>)) -> Option<&CString>,
) -> *const c_char {
    // SAFETY: forwarded.
    let entry = unsafe { err.as_ref() }.and_then(|e| e.entries.get(i));
    entry.and_then(field).map_or(ptr::null(), |c| c.as_ptr())
}

/// Frees an error object. NULL is a no-op.
///
/// # Safety
///
/// `err` must be NULL or an error object from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_error_free(err: *mut ocireg_error) {
    // SAFETY: the caller guarantees `err` came from Box::into_raw in `boundary` and is freed once.
    unsafe { free_box(err) }
}

/// A static, NUL-terminated name of a status code (`"OCIREG_NOT_FOUND"`), or
/// `"OCIREG_UNKNOWN_STATUS"` for a number that is not a status. Never NULL; never free it.
///
/// Takes the code as a plain integer so that any value is safe to pass.
///
/// # Safety
///
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_status_name(status: u32) -> *const c_char {
    use ocireg_status::*;
    let name: &'static [u8] = match status_from_u32(status) {
        Some(OCIREG_OK) => b"OCIREG_OK\0",
        Some(OCIREG_INVALID_ARGUMENT) => b"OCIREG_INVALID_ARGUMENT\0",
        Some(OCIREG_INVALID_REFERENCE) => b"OCIREG_INVALID_REFERENCE\0",
        Some(OCIREG_AUTHENTICATION) => b"OCIREG_AUTHENTICATION\0",
        Some(OCIREG_AUTHORIZATION) => b"OCIREG_AUTHORIZATION\0",
        Some(OCIREG_NOT_FOUND) => b"OCIREG_NOT_FOUND\0",
        Some(OCIREG_TLS) => b"OCIREG_TLS\0",
        Some(OCIREG_NETWORK) => b"OCIREG_NETWORK\0",
        Some(OCIREG_TIMEOUT) => b"OCIREG_TIMEOUT\0",
        Some(OCIREG_RATE_LIMITED) => b"OCIREG_RATE_LIMITED\0",
        Some(OCIREG_REGISTRY) => b"OCIREG_REGISTRY\0",
        Some(OCIREG_DIGEST_MISMATCH) => b"OCIREG_DIGEST_MISMATCH\0",
        Some(OCIREG_UNSUPPORTED) => b"OCIREG_UNSUPPORTED\0",
        Some(OCIREG_CREDENTIALS) => b"OCIREG_CREDENTIALS\0",
        Some(OCIREG_IO) => b"OCIREG_IO\0",
        Some(OCIREG_CANCELLED) => b"OCIREG_CANCELLED\0",
        Some(OCIREG_VERIFY_FAILED) => b"OCIREG_VERIFY_FAILED\0",
        Some(OCIREG_PROTOCOL) => b"OCIREG_PROTOCOL\0",
        Some(OCIREG_PANIC) => b"OCIREG_PANIC\0",
        None => b"OCIREG_UNKNOWN_STATUS\0",
    };
    name.as_ptr().cast()
}

/// The status with this number, if there is one (never transmute: an out-of-range value would be
/// undefined behaviour).
pub(crate) fn status_from_u32(n: u32) -> Option<ocireg_status> {
    use ocireg_status::*;
    Some(match n {
        0 => OCIREG_OK,
        1 => OCIREG_INVALID_ARGUMENT,
        2 => OCIREG_INVALID_REFERENCE,
        3 => OCIREG_AUTHENTICATION,
        4 => OCIREG_AUTHORIZATION,
        5 => OCIREG_NOT_FOUND,
        6 => OCIREG_TLS,
        7 => OCIREG_NETWORK,
        8 => OCIREG_TIMEOUT,
        9 => OCIREG_RATE_LIMITED,
        10 => OCIREG_REGISTRY,
        11 => OCIREG_DIGEST_MISMATCH,
        12 => OCIREG_UNSUPPORTED,
        13 => OCIREG_CREDENTIALS,
        14 => OCIREG_IO,
        15 => OCIREG_CANCELLED,
        16 => OCIREG_VERIFY_FAILED,
        17 => OCIREG_PROTOCOL,
        99 => OCIREG_PANIC,
        _ => return None,
    })
}
