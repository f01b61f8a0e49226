//! Manifests: get, digest, put, delete.

use std::ffi::c_char;

use super::client::{arg_client_repo, ocireg_client};
use super::error::{boundary, ocireg_error, ocireg_status};
use super::strings::{
    arg_bytes, arg_opt_str, arg_out, arg_str, bytes_into_raw, out_cstring, write_cstring,
    write_opt_cstring, write_out,
};
use crate::manifest::Manifest;

/// Fetches a manifest by tag, digest (`sha256:…`) or `tag@digest`, and verifies it against the
/// digest asked for, else against the registry's `Docker-Content-Digest` (a mismatch is
/// `OCIREG_DIGEST_MISMATCH`). Manifests over 4 MiB are refused.
///
/// On success: `*out_bytes` / `*out_len` receive the exact manifest bytes (free with
/// ocireg_bytes_free(bytes, len)); `*out_media_type` and `*out_digest` (both optional: pass NULL
/// if not wanted) receive the media type and the `sha256:` digest (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `reference` NUL-terminated strings;
/// `out_bytes` and `out_len` valid for writing; `out_media_type` and `out_digest` NULL or valid
/// for writing a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_manifest_get(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    out_bytes: *mut *mut u8,
    out_len: *mut usize,
    out_media_type: *mut *mut c_char,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let reference = arg_str(reference, "reference")?;
            arg_out(out_bytes, "out_bytes")?;
            arg_out(out_len, "out_len")?;
            let m = c.manifest(repo, reference)?;
            let media_type = out_cstring(&m.media_type, "the manifest media type")?;
            let digest = out_cstring(&m.digest.to_string(), "the manifest digest")?;
            let (ptr, len) = bytes_into_raw(m.bytes);
            write_out(out_bytes, ptr);
            write_out(out_len, len);
            write_opt_cstring(out_media_type, media_type);
            write_opt_cstring(out_digest, digest);
            Ok(())
        })
    }
}

/// The digest a tag (or digest) resolves to, by `HEAD` (no body transferred; falls back to a
/// verified GET when the registry sends no `Docker-Content-Digest`). On success `*out_digest`
/// receives `"sha256:…"` (free with ocireg_string_free()).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `reference` NUL-terminated strings;
/// `out_digest` valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_manifest_digest(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let reference = arg_str(reference, "reference")?;
            arg_out(out_digest, "out_digest")?;
            let d = c.manifest_digest(repo, reference)?;
            write_cstring(out_digest, &d.to_string(), "the digest")
        })
    }
}

/// Uploads a manifest as is under `reference` (a tag, or its digest). `media_type` may be NULL:
/// it is then read from the manifest's `mediaType` field (or guessed from its shape). Push every
/// blob the manifest references first; registries refuse manifests that point at missing
/// content. On success `*out_digest` (optional: NULL if not wanted) receives the manifest's
/// digest (free with ocireg_string_free()).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `reference` NUL-terminated strings;
/// `media_type` NULL or a NUL-terminated string; `data` valid for reading `len` bytes;
/// `out_digest` NULL or valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_manifest_put(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    media_type: *const c_char,
    data: *const u8,
    len: usize,
    out_digest: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let reference = arg_str(reference, "reference")?;
            let media_type = arg_opt_str(media_type, "media_type")?;
            let bytes = arg_bytes(data, len, "data")?;
            let media_type = match media_type {
                Some(m) => m.to_string(),
                None => Manifest::from_bytes(bytes.to_vec(), None)?.media_type,
            };
            let d = c.put_manifest(repo, reference, &media_type, bytes)?;
            let digest = out_cstring(&d.to_string(), "the digest")?;
            write_opt_cstring(out_digest, digest);
            Ok(())
        })
    }
}

/// Deletes a manifest by digest (registries remove every tag pointing at it). A registry that
/// forbids deletion answers with an error (typically `OCIREG_REGISTRY`, HTTP status 405).
///
/// # Safety
///
/// `client` must be a live client; `repository` and `digest` NUL-terminated strings; `err`
/// NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_manifest_delete(
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
            c.delete_manifest(repo, digest)?;
            Ok(())
        })
    }
}
