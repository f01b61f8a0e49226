//! Pushing whole images, and what a push returns (`ocireg_pushed`).

use std::ffi::{CString, c_char, c_int, c_void};

use serde_json::{Value, json};

use super::callbacks::{UserData, ocireg_progress_fn, with_progress};
use super::client::{notifying, ocireg_client};
use super::error::{
    Failure, boundary, free_box, new_default, ocireg_error, ocireg_status, with_mut,
};
use super::image::ocireg_image;
use super::strings::{
    arg_opt_str, arg_out, arg_ref, arg_str, borrow_cstr, out_cstring, read_or, write_box,
    write_cstring,
};
use crate::image::Image;
use crate::image::layout::OciLayout;
use crate::push::{PushOptions, PushStats, Pushed};

/// What a push did: the manifest digest, media type and size, every blob descriptor, and
/// counts; pass it to ocireg_verify(). Immutable: a `const ocireg_pushed *` may be shared across
/// threads. Free with ocireg_pushed_free().
#[allow(non_camel_case_types)]
pub struct ocireg_pushed {
    pub(crate) pushed: Pushed,
    digest: CString,
    media_type: CString,
    reference: CString,
}

impl ocireg_pushed {
    pub(crate) fn new(pushed: Pushed) -> Result<Self, Failure> {
        Ok(ocireg_pushed {
            digest: out_cstring(&pushed.digest.to_string(), "the digest")?,
            media_type: out_cstring(&pushed.media_type, "the media type")?,
            reference: out_cstring(&pushed.reference(), "the reference")?,
            pushed,
        })
    }
}

fn stats_json(s: &PushStats) -> Value {
    json!({
        "blobsUploaded": s.blobs_uploaded,
        "blobsExisting": s.blobs_existing,
        "blobsMounted": s.blobs_mounted,
        "bytesUploaded": s.bytes_uploaded,
        "manifestsPut": s.manifests_put,
        "manifestsExisting": s.manifests_existing,
        "requests": s.requests,
    })
}

/// The JSON form of a [`Pushed`] (camelCase keys, OCI descriptors as in manifests).
pub(crate) fn pushed_json(p: &Pushed) -> Value {
    json!({
        "repository": p.repository,
        "tag": p.tag,
        "reference": p.reference(),
        "digest": p.digest.to_string(),
        "mediaType": p.media_type,
        "size": p.size,
        "platform": p.platform,
        "config": p.config,
        "layers": p.layers,
        "children": p.children.iter().map(pushed_json).collect::<Vec<_>>(),
        "stats": stats_json(&p.stats),
    })
}

/// How ocireg_push_image() and ocireg_push_layout() push: parallelism, chunked uploads,
/// cross-repository mounts, existence checks. Every setting has a default. Create with
/// ocireg_push_options_new(), free with ocireg_push_options_free(). Setters mutate: do not share
/// one between threads while changing it.
#[allow(non_camel_case_types)]
#[derive(Clone, Default)]
pub struct ocireg_push_options {
    options: PushOptions,
}

/// Creates push options with the defaults: 8 parallel uploads, monolithic uploads, blobs
/// already in the repository skipped, no mounts. On success `*out` receives options to free with
/// ocireg_push_options_free().
///
/// # Safety
///
/// `out` must be valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_options_new(
    out: *mut *mut ocireg_push_options,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe { new_default(out, err) }
}

/// Parallel blob uploads (1 to 64; default 8).
///
/// # Safety
///
/// `opts` must be live push options not used by another thread during the call; `err` NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_options_set_threads(
    opts: *mut ocireg_push_options,
    threads: u32,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        with_mut(opts, "opts", err, |o| {
            if !(1..=64).contains(&threads) {
                return Err(Failure::invalid(format!(
                    "argument `threads`: {threads} is not between 1 and 64"
                )));
            }
            o.options.threads = threads as usize;
            Ok(())
        })
    }
}

/// `chunk_size > 0`: upload blobs in `PATCH` chunks of that many bytes (for registries or
/// proxies with a body size limit); 0: one monolithic `PUT` per blob (the default).
///
/// # Safety
///
/// `opts` must be live push options not used by another thread during the call; `err` NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_options_set_chunked(
    opts: *mut ocireg_push_options,
    chunk_size: u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        with_mut(opts, "opts", err, |o| {
            if chunk_size == 0 {
                o.options.upload.chunked = false;
            } else {
                o.options = std::mem::take(&mut o.options).chunked(chunk_size);
            }
            Ok(())
        })
    }
}

/// Tries to mount missing blobs from `repository` (same registry) before uploading them; NULL
/// turns it off.
///
/// # Safety
///
/// `opts` must be live push options not used by another thread during the call; `repository`
/// NULL or a NUL-terminated string; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_options_set_mount_from(
    opts: *mut ocireg_push_options,
    repository: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        with_mut(opts, "opts", err, |o| {
            let repo = arg_opt_str(repository, "repository")?;
            o.options.mount_from = repo.map(crate::Repository::parse).transpose()?;
            Ok(())
        })
    }
}

/// Non-zero (the default): skip the upload of each blob the repository has (asked by the
/// upload's own `POST`, a mount from the repository itself, with a `HEAD` alongside for a blob
/// over 1 MiB); zero: always upload.
///
/// # Safety
///
/// `opts` must be live push options not used by another thread during the call; `err` NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_options_set_skip_existing(
    opts: *mut ocireg_push_options,
    on: c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        with_mut(opts, "opts", err, |o| {
            o.options.upload.skip_existing = on != 0;
            Ok(())
        })
    }
}

/// Frees push options. NULL is a no-op.
///
/// # Safety
///
/// `opts` must be NULL or push options from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_options_free(opts: *mut ocireg_push_options) {
    // SAFETY: the caller guarantees `opts` came from Box::into_raw and is freed once.
    unsafe { free_box(opts) }
}

/// Pushes `image` (read through `opts`, which may be NULL for the defaults) to `repository`
/// under `reference` (a tag, or the image's digest to push untagged), reporting progress.
fn push(
    handle: &ocireg_client,
    repository: &str,
    reference: &str,
    image: &Image,
    opts: Option<&ocireg_push_options>,
    progress: ocireg_progress_fn,
    userdata: *mut c_void,
) -> Result<ocireg_pushed, Failure> {
    let base = opts.map(|o| o.options.clone()).unwrap_or_default();
    let client = &handle.client;
    let pushed = with_progress(
        progress,
        UserData(userdata),
        handle.retry,
        move |p, hook| {
            let options = PushOptions {
                progress: p,
                ..base
            };
            notifying(client, hook).push_image(repository, reference, image, &options)
        },
    )?;
    ocireg_pushed::new(pushed)
}

/// Pushes an image (or an index with all its child images) and tags it: blobs first (in
/// parallel, skipping those already there), then child manifests by digest, then the manifest
/// under `reference` (a tag, or the image's digest to push untagged). A failed or cancelled push
/// never leaves a tag pointing at missing content.
///
/// `opts` may be NULL (defaults). `progress` may be NULL; when given it is called on this
/// thread, before this function returns, with `userdata` first; returning non-zero cancels
/// (`OCIREG_CANCELLED`). On success `*out` receives what was pushed (free with
/// ocireg_pushed_free()).
///
/// # Safety
///
/// `client` and `image` must be live; `repository` and `reference` NUL-terminated strings;
/// `opts` NULL or live push options; `progress` NULL or a valid callback for `userdata`; `out`
/// valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_image(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    image: *const ocireg_image,
    opts: *const ocireg_push_options,
    progress: ocireg_progress_fn,
    userdata: *mut c_void,
    out: *mut *mut ocireg_pushed,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let handle = arg_ref(client, "client")?;
            let repo = arg_str(repository, "repository")?;
            let reference = arg_str(reference, "reference")?;
            let image = arg_ref(image, "image")?;
            arg_out(out, "out")?;
            let pushed = push(
                handle,
                repo,
                reference,
                &image.image,
                opts.as_ref(),
                progress,
                userdata,
            )?;
            write_box(out, pushed);
            Ok(())
        })
    }
}

/// Pushes the image of the OCI image layout in directory `layout_dir` to `repository` under
/// `tag`: the layout's manifest tagged `tag` if it has one, else its only manifest. `opts` and
/// `progress` as in ocireg_push_image() (either may be NULL). On success `*out` receives what
/// was pushed (free with ocireg_pushed_free()).
///
/// # Safety
///
/// `client` must be live; `repository`, `tag` and `layout_dir` NUL-terminated strings; `opts`
/// NULL or live push options; `progress` NULL or a valid callback for `userdata`; `out` valid
/// for writing a pointer; `err` NULL or valid for writing a pointer.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_push_layout(
    client: *const ocireg_client,
    repository: *const c_char,
    tag: *const c_char,
    layout_dir: *const c_char,
    opts: *const ocireg_push_options,
    progress: ocireg_progress_fn,
    userdata: *mut c_void,
    out: *mut *mut ocireg_pushed,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let handle = arg_ref(client, "client")?;
            let repo = arg_str(repository, "repository")?;
            let tag = arg_str(tag, "tag")?;
            let dir = arg_str(layout_dir, "layout_dir")?;
            arg_out(out, "out")?;
            let layout = OciLayout::open(dir)?;
            let image = match layout.image(Some(tag)) {
                Ok(i) => i,
                Err(_) => layout.image(None)?,
            };
            let pushed = push(handle, repo, tag, &image, opts.as_ref(), progress, userdata)?;
            write_box(out, pushed);
            Ok(())
        })
    }
}

/// What pushing `image` to `repository` under `tag` (NULL: untagged) gives, without pushing
/// anything: the expectation ocireg_verify() checks, e.g. for an image pushed earlier or by
/// another tool. On success `*out` receives it (free with ocireg_pushed_free()).
///
/// # Safety
///
/// `image` must be live; `repository` a NUL-terminated string; `tag` NULL or a NUL-terminated
/// string; `out` valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pushed_from_image(
    image: *const ocireg_image,
    repository: *const c_char,
    tag: *const c_char,
    out: *mut *mut ocireg_pushed,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let image = arg_ref(image, "image")?;
            let repo = arg_str(repository, "repository")?;
            let tag = arg_opt_str(tag, "tag")?;
            arg_out(out, "out")?;
            let pushed = ocireg_pushed::new(Pushed::from_image(&image.image, repo, tag)?)?;
            write_box(out, pushed);
            Ok(())
        })
    }
}

/// The pushed manifest's digest (`"sha256:…"`). Borrowed from `pushed` (valid until
/// ocireg_pushed_free()); NULL when `pushed` is NULL.
///
/// # Safety
///
/// `pushed` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pushed_digest(pushed: *const ocireg_pushed) -> *const c_char {
    // SAFETY: the caller guarantees `pushed` is NULL or live.
    unsafe { borrow_cstr(pushed, |p| &p.digest) }
}

/// The pushed manifest's media type. Borrowed from `pushed` (valid until ocireg_pushed_free());
/// NULL when `pushed` is NULL.
///
/// # Safety
///
/// `pushed` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pushed_media_type(pushed: *const ocireg_pushed) -> *const c_char {
    // SAFETY: the caller guarantees `pushed` is NULL or live.
    unsafe { borrow_cstr(pushed, |p| &p.media_type) }
}

/// The reference `repository:tag@digest` (or `repository@digest`). Borrowed from `pushed`
/// (valid until ocireg_pushed_free()); NULL when `pushed` is NULL.
///
/// # Safety
///
/// `pushed` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pushed_reference(pushed: *const ocireg_pushed) -> *const c_char {
    // SAFETY: the caller guarantees `pushed` is NULL or live.
    unsafe { borrow_cstr(pushed, |p| &p.reference) }
}

/// The pushed manifest's size in bytes (0 when `pushed` is NULL).
///
/// # Safety
///
/// `pushed` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pushed_size(pushed: *const ocireg_pushed) -> u64 {
    // SAFETY: the caller guarantees `pushed` is NULL or live.
    unsafe { read_or(pushed, 0, |p| p.pushed.size) }
}

/// Everything about the push as JSON: `repository`, `tag` (or null), `reference`, `digest`,
/// `mediaType`, `size`, `platform`, `config` and `layers` (OCI descriptors), `children` (the same
/// shape, for an index), and `stats` (`blobsUploaded`, `blobsExisting`, `blobsMounted`,
/// `bytesUploaded`, `manifestsPut`, `manifestsExisting`, `requests`). On success `*out_json`
/// receives it (free with ocireg_string_free()).
///
/// # Safety
///
/// `pushed` must be live; `out_json` valid for writing a pointer; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pushed_to_json(
    pushed: *const ocireg_pushed,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let p = arg_ref(pushed, "pushed")?;
            arg_out(out_json, "out_json")?;
            write_cstring(out_json, &pushed_json(&p.pushed).to_string(), "the JSON")
        })
    }
}

/// Frees a push result. NULL is a no-op.
///
/// # Safety
///
/// `pushed` must be NULL or a push result from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pushed_free(pushed: *mut ocireg_pushed) {
    // SAFETY: the caller guarantees `pushed` came from Box::into_raw and is freed once.
    unsafe { free_box(pushed) }
}
