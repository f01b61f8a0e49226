//! Blobs: exists, push (bytes, file, stream), mount, delete, pull (callback, file, bytes).

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};

use super::callbacks::{CReader, CWriter, ocireg_read_fn, ocireg_write_fn};
use super::client::{arg_client_repo, ocireg_client};
use super::error::{Failure, boundary, ocireg_error, ocireg_status};
use super::strings::{
    arg_bytes, arg_nonempty_str, arg_opt_str, arg_out, arg_str, bytes_into_raw, out_cstring,
    write_opt, write_opt_cstring, write_out,
};
use crate::blob::{BlobSource, MountOutcome};
use crate::digest::Digest;

/// Turns an error into `OCIREG_CANCELLED` when a callback asked to stop.
fn cancelled_if(aborted: bool, e: crate::Error, what: &str) -> Failure {
    if aborted {
        Failure::new(
            ocireg_status::OCIREG_CANCELLED,
            format!("{what} was cancelled by the callback ({e})"),
        )
    } else {
        e.into()
    }
}

/// Whether a blob is in a repository (`HEAD`). On success `*out_exists` receives 1 (present) or
/// 0 (absent: not an error), and `*out_size` (optional) its size in bytes (0 when absent or
/// unknown).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `digest` NUL-terminated strings;
/// `out_exists` valid for writing an int; `out_size` NULL or valid for writing; `err` NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_exists(
    client: *const ocireg_client,
    repository: *const c_char,
    digest: *const c_char,
    out_exists: *mut c_int,
    out_size: *mut u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let digest = arg_str(digest, "digest")?;
            arg_out(out_exists, "out_exists")?;
            let size = c.blob_exists(repo, digest)?;
            write_out(out_exists, c_int::from(size.is_some()));
            write_opt(out_size, size.unwrap_or(0));
            Ok(())
        })
    }
}

/// Uploads `len` bytes as a blob unless the repository already has it (`POST` + `PUT`; up to
/// 1 MiB the `POST` asks whether it is there, larger blobs get a `HEAD` alongside it). On success `*out_digest` (optional) receives its `sha256:` digest (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `client` must be a live client; `repository` a NUL-terminated string; `data` valid for
/// reading `len` bytes (NULL allowed when `len` is 0); `out_digest` NULL or valid for writing a
/// pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_push_bytes(
    client: *const ocireg_client,
    repository: *const c_char,
    data: *const u8,
    len: usize,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let bytes = arg_bytes(data, len, "data")?;
            let pushed = c.push_blob(repo, BlobSource::bytes(bytes))?;
            let d = out_cstring(&pushed.digest.to_string(), "the digest")?;
            write_opt_cstring(out_digest, d);
            Ok(())
        })
    }
}

/// Uploads a file as a blob unless the repository already has it; the file is hashed first and
/// then streamed (never loaded into memory). On success `*out_digest` (optional) receives its
/// digest (free with ocireg_string_free()).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `path` NUL-terminated strings;
/// `out_digest` NULL or valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_push_file(
    client: *const ocireg_client,
    repository: *const c_char,
    path: *const c_char,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let path = arg_str(path, "path")?;
            let pushed = c.push_blob(repo, BlobSource::file(path))?;
            let d = out_cstring(&pushed.digest.to_string(), "the digest")?;
            write_opt_cstring(out_digest, d);
            Ok(())
        })
    }
}

/// Uploads a blob of exactly `len` bytes produced by `read` (called repeatedly on this thread
/// until it returns 0). `digest` (optional: NULL if unknown) is the blob's digest: when given,
/// the upload is skipped if the repository has the blob; when not, the bytes are hashed while
/// they are uploaded. A reader that yields more or fewer than `len` bytes is an error, never a
/// corrupted blob; a negative return of `read` cancels (`OCIREG_CANCELLED`). On success
/// `*out_digest` (optional) receives the digest (free with ocireg_string_free()).
///
/// # Safety
///
/// `client` must be a live client; `repository` a NUL-terminated string; `read` a valid
/// callback that may be called with `userdata`; `digest` NULL or a NUL-terminated string;
/// `out_digest` NULL or valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_push_stream(
    client: *const ocireg_client,
    repository: *const c_char,
    read: ocireg_read_fn,
    userdata: *mut c_void,
    len: u64,
    digest: *const c_char,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let read = read.ok_or_else(|| Failure::null("read"))?;
            let digest: Option<Digest> = match arg_opt_str(digest, "digest")? {
                Some(d) => Some(d.parse()?),
                None => None,
            };
            let aborted = Cell::new(false);
            let reader = CReader {
                cb: read,
                userdata,
                aborted: &aborted,
            };
            let pushed = c
                .push_blob(repo, BlobSource::reader(reader, len, digest))
                .map_err(|e| cancelled_if(aborted.get(), e, "the upload"))?;
            let d = out_cstring(&pushed.digest.to_string(), "the digest")?;
            write_opt_cstring(out_digest, d);
            Ok(())
        })
    }
}

/// Mounts a blob from another repository `from` of the same registry (no upload). On success
/// `*out_mounted` (optional) receives 1 when the registry mounted it, 0 when it could not (the
/// source lacks it, or the registry does not mount; nothing is stored then; not an error).
///
/// # Safety
///
/// `client` must be a live client; `repository`, `from` and `digest` NUL-terminated strings;
/// `out_mounted` NULL or valid for writing an int; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_mount(
    client: *const ocireg_client,
    repository: *const c_char,
    from: *const c_char,
    digest: *const c_char,
    out_mounted: *mut c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let from = arg_str(from, "from")?;
            let digest = arg_str(digest, "digest")?;
            let mounted = matches!(
                c.mount_blob(repo, from, digest, None)?,
                MountOutcome::Mounted
            );
            write_opt(out_mounted, c_int::from(mounted));
            Ok(())
        })
    }
}

/// Deletes a blob from a repository (`DELETE`; other repositories keep it). Registries that
/// forbid deletion answer with an error (typically `OCIREG_REGISTRY`, HTTP status 405).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `digest` NUL-terminated strings; `err`
/// NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_delete(
    client: *const ocireg_client,
    repository: *const c_char,
    digest: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let digest = arg_str(digest, "digest")?;
            c.delete_blob(repo, digest)?;
            Ok(())
        })
    }
}

/// Streams a blob to `write` (called on this thread with successive chunks), hashing it on the
/// way; the size and the digest are verified at the end (`OCIREG_DIGEST_MISMATCH`). Note that
/// `write` has then already received the bytes: use ocireg_blob_pull_to_path() to never keep
/// unverified content. A non-zero return of `write` aborts (`OCIREG_CANCELLED`). On success
/// `*out_size` (optional) receives the number of bytes.
///
/// # Safety
///
/// `client` must be a live client; `repository` and `digest` NUL-terminated strings; `write` a
/// valid callback that may be called with `userdata`; `out_size` NULL or valid for writing;
/// `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_pull(
    client: *const ocireg_client,
    repository: *const c_char,
    digest: *const c_char,
    write: ocireg_write_fn,
    userdata: *mut c_void,
    out_size: *mut u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let digest = arg_str(digest, "digest")?;
            let write = write.ok_or_else(|| Failure::null("write"))?;
            let mut w = CWriter {
                cb: write,
                userdata,
                aborted: false,
            };
            let n = c
                .pull_blob(repo, digest, &mut w)
                .map_err(|e| cancelled_if(w.aborted, e, "the download"))?;
            write_opt(out_size, n);
            Ok(())
        })
    }
}

/// Downloads a blob to the file `path`: written to a temporary file in the same directory and
/// renamed into place only once size and digest are verified; on any error nothing is left
/// behind and an existing file at `path` is untouched. On success `*out_size` (optional)
/// receives the number of bytes.
///
/// # Safety
///
/// `client` must be a live client; `repository`, `digest` and `path` NUL-terminated strings;
/// `out_size` NULL or valid for writing; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_pull_to_path(
    client: *const ocireg_client,
    repository: *const c_char,
    digest: *const c_char,
    path: *const c_char,
    out_size: *mut u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let digest = arg_str(digest, "digest")?;
            let path = arg_nonempty_str(path, "path")?;
            let n = c.pull_blob_to_path(repo, digest, path)?;
            write_opt(out_size, n);
            Ok(())
        })
    }
}

/// Downloads a blob into memory and verifies it (for small blobs such as image configs: the
/// whole blob is held in memory). On success `*out_bytes` / `*out_len` receive the bytes (free
/// with ocireg_bytes_free(bytes, len); an empty blob is NULL / 0).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `digest` NUL-terminated strings;
/// `out_bytes` and `out_len` valid for writing; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_blob_pull_bytes(
    client: *const ocireg_client,
    repository: *const c_char,
    digest: *const c_char,
    out_bytes: *mut *mut u8,
    out_len: *mut usize,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let digest = arg_str(digest, "digest")?;
            arg_out(out_bytes, "out_bytes")?;
            arg_out(out_len, "out_len")?;
            let mut buf = Vec::new();
            c.pull_blob(repo, digest, &mut buf)?;
            let (p, n) = bytes_into_raw(buf);
            write_out(out_bytes, p);
            write_out(out_len, n);
            Ok(())
        })
    }
}
