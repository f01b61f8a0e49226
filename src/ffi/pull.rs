//! Pulling whole images into an OCI image layout.

use std::ffi::{CString, c_char, c_void};

use serde_json::{Value, json};

use super::callbacks::{UserData, ocireg_progress_fn, with_progress};
use super::client::{arg_client_repo, notifying, ocireg_client, retry_of};
use super::error::{Failure, boundary, free_box, ocireg_error, ocireg_status};
use super::push::ocireg_pushed;
use super::strings::{
    arg_nonempty_str, arg_opt_str, arg_out, arg_ref, arg_str, borrow_cstr, out_cstring, read_or,
    write_box, write_cstring,
};
use crate::pull::{PullOptions, Pulled};

/// What a pull fetched: the manifest digest, media type and size, its descriptors, the layout
/// path, and counts. Immutable: a `const ocireg_pulled *` may be shared across threads. Free
/// with ocireg_pulled_free().
#[allow(non_camel_case_types)]
pub struct ocireg_pulled {
    pulled: Pulled,
    digest: CString,
    media_type: CString,
    path: CString,
}

impl ocireg_pulled {
    fn new(pulled: Pulled) -> Result<Self, Failure> {
        Ok(ocireg_pulled {
            digest: out_cstring(&pulled.digest.to_string(), "the digest")?,
            media_type: out_cstring(&pulled.media_type, "the media type")?,
            path: out_cstring(&pulled.path.to_string_lossy(), "the layout path")?,
            pulled,
        })
    }
}

fn pulled_json(p: &Pulled) -> Value {
    json!({
        "repository": p.repository,
        "tag": p.tag,
        "digest": p.digest.to_string(),
        "mediaType": p.media_type,
        "size": p.size,
        "platform": p.platform,
        "config": p.config,
        "layers": p.layers,
        "children": p.children.iter().map(pulled_json).collect::<Vec<_>>(),
        "fromIndex": p.from_index,
        "path": p.path.to_string_lossy(),
        "stats": {
            "blobsDownloaded": p.stats.blobs_downloaded,
            "blobsReused": p.stats.blobs_reused,
            "bytesDownloaded": p.stats.bytes_downloaded,
            "requests": p.stats.requests,
        },
    })
}

/// Pulls an image (or an index with all its children, or one platform's image from an index)
/// from `repository` at `reference` (tag, digest or `tag@digest`) into the OCI image layout
/// directory `dir` (created if needed; other entries of an existing layout are kept). Every blob
/// is verified and written under a temporary name before being renamed into place; blobs
/// already in the layout with the right digest are not downloaded again.
///
/// `platform` (optional, NULL: everything) is `"os/arch[/variant]"`, e.g. `"linux/arm64/v8"`.
/// `threads` is the number of parallel downloads (0: the default, 4; at most 64). `progress` may
/// be NULL; when given it is called on this thread, before this function returns; returning
/// non-zero cancels (`OCIREG_CANCELLED`). On success `*out` (optional: NULL if not wanted)
/// receives what was pulled (free with ocireg_pulled_free()).
///
/// # Safety
///
/// `client` must be live; `repository`, `reference` and `dir` NUL-terminated strings;
/// `platform` NULL or a NUL-terminated string; `progress` NULL or a valid callback for
/// `userdata`; `out` NULL or valid for writing a pointer; `err` NULL or valid for writing a
/// pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pull_image(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    dir: *const c_char,
    platform: *const c_char,
    threads: u32,
    progress: ocireg_progress_fn,
    userdata: *mut c_void,
    out: *mut *mut ocireg_pulled,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let reference = arg_str(reference, "reference")?;
            let dir = arg_nonempty_str(dir, "dir")?;
            let platform = match arg_opt_str(platform, "platform")? {
                Some(p) => Some(p.parse::<crate::Platform>()?),
                None => None,
            };
            if threads > 64 {
                return Err(Failure::invalid(format!(
                    "argument `threads`: {threads} is more than 64"
                )));
            }
            let mut base = PullOptions::default();
            if threads > 0 {
                base.threads = threads as usize;
            }
            base.platform = platform;
            let retry = retry_of(client);
            let pulled = with_progress(progress, UserData(userdata), retry, move |p, hook| {
                let options = PullOptions {
                    progress: p,
                    ..base
                };
                notifying(c, hook).pull_image(repo, reference, dir, &options)
            })?;
            if !out.is_null() {
                write_box(out, ocireg_pulled::new(pulled)?);
            }
            Ok(())
        })
    }
}

/// The pulled manifest's digest. Borrowed from `pulled` (valid until ocireg_pulled_free());
/// NULL when `pulled` is NULL.
///
/// # Safety
///
/// `pulled` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pulled_digest(pulled: *const ocireg_pulled) -> *const c_char {
    // SAFETY: the caller guarantees `pulled` is NULL or live.
    unsafe { borrow_cstr(pulled, |p| &p.digest) }
}

/// The pulled manifest's media type. Borrowed from `pulled` (valid until ocireg_pulled_free());
/// NULL when `pulled` is NULL.
///
/// # Safety
///
/// `pulled` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pulled_media_type(pulled: *const ocireg_pulled) -> *const c_char {
    // SAFETY: the caller guarantees `pulled` is NULL or live.
    unsafe { borrow_cstr(pulled, |p| &p.media_type) }
}

/// The layout directory the image was written to. Borrowed from `pulled` (valid until
/// ocireg_pulled_free()); NULL when `pulled` is NULL.
///
/// # Safety
///
/// `pulled` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pulled_path(pulled: *const ocireg_pulled) -> *const c_char {
    // SAFETY: the caller guarantees `pulled` is NULL or live.
    unsafe { borrow_cstr(pulled, |p| &p.path) }
}

/// The pulled manifest's size in bytes (0 when `pulled` is NULL).
///
/// # Safety
///
/// `pulled` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pulled_size(pulled: *const ocireg_pulled) -> u64 {
    // SAFETY: the caller guarantees `pulled` is NULL or live.
    unsafe { read_or(pulled, 0, |p| p.pulled.size) }
}

/// Everything about the pull as JSON: `repository`, `tag`, `digest`, `mediaType`, `size`,
/// `platform`, `config`, `layers`, `children`, `fromIndex` (the index entry when one platform
/// was chosen, else null), `path`, and `stats` (`blobsDownloaded`, `blobsReused`,
/// `bytesDownloaded`, `requests`). On success `*out_json` receives it (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `pulled` must be live; `out_json` valid for writing a pointer; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pulled_to_json(
    pulled: *const ocireg_pulled,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let p = arg_ref(pulled, "pulled")?;
            arg_out(out_json, "out_json")?;
            write_cstring(out_json, &pulled_json(&p.pulled).to_string(), "the JSON")
        })
    }
}

/// What was pulled, as a push result to check with ocireg_verify() (e.g. that the registry
/// still holds exactly this). On success `*out` receives it (free with ocireg_pushed_free()).
///
/// # Safety
///
/// `pulled` must be live; `out` valid for writing a pointer; `err` NULL or valid for writing a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pulled_to_pushed(
    pulled: *const ocireg_pulled,
    out: *mut *mut ocireg_pushed,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let p = arg_ref(pulled, "pulled")?;
            arg_out(out, "out")?;
            let pushed = ocireg_pushed::new(p.pulled.to_pushed())?;
            write_box(out, pushed);
            Ok(())
        })
    }
}

/// Frees a pull result. NULL is a no-op.
///
/// # Safety
///
/// `pulled` must be NULL or a pull result from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pulled_free(pulled: *mut ocireg_pulled) {
    // SAFETY: the caller guarantees `pulled` came from Box::into_raw and is freed once.
    unsafe { free_box(pulled) }
}
