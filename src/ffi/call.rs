//! Cancellation handles, clients bound to one (or to a deadline), and blobs read as a stream.

use std::ffi::c_char;
use std::io::Read;
use std::time::Duration;

use super::client::{arg_client, ocireg_client, ocireg_options};
use super::error::{Failure, boundary, free_box, guard, ocireg_error, ocireg_status};
use super::strings::{arg_mut, arg_out, arg_ref, arg_str, read_or, write_box};
use crate::download::BlobReader;
use crate::transport::Cancel;

/// A cancellation handle: ocireg_cancel_trigger() — from any thread — makes every call made
/// through a client bound to it (ocireg_client_bind()) return `OCIREG_CANCELLED` promptly, even
/// while the registry is silent mid-answer, with nothing half-written.
///
/// Thread-safe: a `const ocireg_cancel *` may be used from any thread. Free with
/// ocireg_cancel_free() once no call uses it.
#[allow(non_camel_case_types)]
pub struct ocireg_cancel {
    cancel: Cancel,
}

/// Creates a cancellation handle, not yet triggered, into `*out` (free with
/// ocireg_cancel_free()).
///
/// # Safety
///
/// `out` must be valid for writing one pointer; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_cancel_new(
    out: *mut *mut ocireg_cancel,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            arg_out(out, "out")?;
            write_box(
                out,
                ocireg_cancel {
                    cancel: Cancel::new(),
                },
            );
            Ok(())
        })
    }
}

/// Cancels every call made through a client bound to `cancel`, now and later. Callable from any
/// thread, any number of times; NULL is a no-op.
///
/// # Safety
///
/// `cancel` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_cancel_trigger(cancel: *const ocireg_cancel) {
    // SAFETY: the caller guarantees `cancel` is NULL or live.
    guard((), || unsafe {
        read_or(cancel, (), |c| c.cancel.trigger())
    })
}

/// 1 when `cancel` was triggered, 0 when not (or NULL).
///
/// # Safety
///
/// `cancel` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_cancel_is_triggered(cancel: *const ocireg_cancel) -> i32 {
    // SAFETY: the caller guarantees `cancel` is NULL or live.
    guard(0, || unsafe {
        read_or(cancel, 0, |c| i32::from(c.cancel.is_triggered()))
    })
}

/// Frees a cancellation handle. NULL is a no-op. Clients bound to it stay usable (and stay
/// cancelled if it was triggered).
///
/// # Safety
///
/// `cancel` must be NULL or a handle from ocireg_cancel_new(), freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_cancel_free(cancel: *mut ocireg_cancel) {
    // SAFETY: forwarded.
    unsafe { free_box(cancel) }
}

/// A client for the calls of one operation: `client`'s registry, credentials and tokens, bound
/// to `cancel` (may be NULL) and/or a deadline `timeout_ms` from now (0: none) that covers every
/// request, retry, backoff and body of the calls made through it (`OCIREG_TIMEOUT` when it
/// passes). A client bound to a cancel handle has connections of its own, so cancelling ends
/// only its calls. Free `*out` with ocireg_client_free(); it may outlive `client`.
///
/// # Safety
///
/// `client` must be live, `cancel` NULL or live (it may be freed before `*out`), `out` valid for
/// writing one pointer, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_client_bind(
    client: *const ocireg_client,
    cancel: *const ocireg_cancel,
    timeout_ms: u64,
    out: *mut *mut ocireg_client,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let handle = arg_ref(client, "client")?;
            arg_out(out, "out")?;
            let mut bound = handle.client.clone();
            if let Some(c) = cancel.as_ref() {
                bound = bound.with_cancel(&c.cancel);
            }
            if timeout_ms > 0 {
                bound = bound.with_timeout(Duration::from_millis(timeout_ms));
            }
            write_box(out, handle.rebound(bound));
            Ok(())
        })
    }
}

/// Binds every client built from `opts` — and the credential check of ocireg_login() made with
/// them — to `cancel` (NULL: to none, the default): ocireg_cancel_trigger() makes their calls
/// return `OCIREG_CANCELLED` promptly, as for a client from ocireg_client_bind(). The options
/// keep a reference to the handle's state: `cancel` may be freed before them.
///
/// # Safety
///
/// `opts` must be live options not used by another thread during the call; `cancel` NULL or a
/// live handle; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_options_set_cancel(
    opts: *mut ocireg_options,
    cancel: *const ocireg_cancel,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        super::client::set(opts, err, |o| {
            o.cancel = cancel.as_ref().map(|c| c.cancel.clone());
            Ok(())
        })
    }
}

/// A blob being read as a stream: see ocireg_blob_reader_open(). Not thread-safe: one thread at
/// a time.
#[allow(non_camel_case_types)]
pub struct ocireg_blob_reader {
    reader: BlobReader,
}

/// Opens the blob `digest` of `repository` for reading as a stream (free with
/// ocireg_blob_reader_free()). The GET is sent now: a missing blob is `OCIREG_NOT_FOUND` here.
/// The bytes are verified as they stream: the read that reaches the end fails with
/// `OCIREG_DIGEST_MISMATCH` when they do not hash to `digest`; a body longer than announced is
/// `OCIREG_PROTOCOL`; a broken connection is resumed with `Range`. `cancel` (may be NULL) cancels
/// the open and every read.
///
/// # Safety
///
/// `client` must be live; `repository` and `digest` NUL-terminated; `cancel` NULL or live for
/// as long as the reader; `out` valid for writing one pointer; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_reader_open(
    client: *const ocireg_client,
    repository: *const c_char,
    digest: *const c_char,
    cancel: *const ocireg_cancel,
    out: *mut *mut ocireg_blob_reader,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let c = arg_client(client)?;
            let repository = arg_str(repository, "repository")?;
            let digest = arg_str(digest, "digest")?;
            arg_out(out, "out")?;
            let c = match cancel.as_ref() {
                Some(x) => c.with_cancel(&x.cancel),
                None => c.clone(),
            };
            let reader = c.blob_reader(repository, digest)?;
            write_box(out, ocireg_blob_reader { reader });
            Ok(())
        })
    }
}

/// Reads up to `len` bytes into `buf`, and the count into `*n`: 0 at the end of the blob (after
/// its digest was verified). On failure nothing is written to `*n`.
///
/// # Safety
///
/// `reader` must be live and not used by another thread during the call; `buf` valid for
/// writing `len` bytes (NULL only when `len` is 0); `n` valid for writing; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_reader_read(
    reader: *mut ocireg_blob_reader,
    buf: *mut u8,
    len: usize,
    n: *mut usize,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_mut(reader, "reader")?;
            arg_out(n, "n")?;
            if buf.is_null() && len > 0 {
                return Err(Failure::null("buf"));
            }
            let got = if len == 0 {
                0
            } else {
                let slice = std::slice::from_raw_parts_mut(buf, len);
                r.reader.read(slice).map_err(BlobReader::error_of)?
            };
            n.write(got);
            Ok(())
        })
    }
}

/// The size of the blob in bytes (0 when `reader` is NULL).
///
/// # Safety
///
/// `reader` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_reader_size(reader: *const ocireg_blob_reader) -> u64 {
    // SAFETY: the caller guarantees `reader` is NULL or live.
    guard(0, || unsafe { read_or(reader, 0, |r| r.reader.size()) })
}

/// Frees a blob reader (closing its connection). NULL is a no-op.
///
/// # Safety
///
/// `reader` must be NULL or a reader from ocireg_blob_reader_open(), freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_reader_free(reader: *mut ocireg_blob_reader) {
    // SAFETY: forwarded.
    unsafe { free_box(reader) }
}
