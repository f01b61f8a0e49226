//! Registry operations beyond push and pull: copy, retag, delete by tag, a platform's
//! descriptor, tags with their digests, image sizes, and layers pulled to a directory. Results
//! that are more than a value come back as JSON (the shapes are in each function's doc).

use std::ffi::{CString, c_char, c_void};

use serde_json::{Value, json};

use super::callbacks::{UserData, ocireg_progress_fn, with_progress};
use super::client::{arg_client_repo, notifying, ocireg_client};
use super::error::{Failure, boundary, ocireg_error, ocireg_status};
use super::push::ocireg_pushed;
use super::strings::{
    arg_bytes, arg_nonempty_str, arg_opt_str, arg_out, arg_ref, arg_str, out_cstring, write_box,
    write_opt, write_opt_cstring,
};
use crate::copy::CopyOptions;
use crate::manifest::{DeleteTagOptions, DeletedTag, Descriptor, Manifest};
use crate::pull::{PullOptions, PulledLayers};

/// A JSON document as an owned C string for an out-parameter.
fn json_out(v: &Value, what: &str) -> Result<CString, Failure> {
    out_cstring(&v.to_string(), what)
}

/// The platform argument: NULL or `os/arch[/variant]`.
///
/// # Safety
///
/// `p` must be NULL or NUL-terminated.
unsafe fn arg_platform(p: *const c_char) -> Result<Option<crate::Platform>, Failure> {
    // SAFETY: forwarded.
    match unsafe { arg_opt_str(p, "platform") }? {
        Some(s) => Ok(Some(s.parse()?)),
        None => Ok(None),
    }
}

/// Copies the image `repository:reference` (a manifest, or an index with all its children) to
/// `to_repository:to_reference` (a tag, or the image's digest): on the same registry when `to`
/// is NULL (blobs are mounted across repositories: no byte travels), else to `to`'s registry
/// (each blob streamed from this registry to that one, with bounded memory and no temporary
/// file). Blobs go in parallel (`threads`, 0: the default of 4), blobs already there are
/// skipped, manifests go last, every byte is unchanged (the digests are the same). `platform`
/// (NULL: all) copies one platform of an index. `progress` as in ocireg_push_image(). On success
/// `*out` receives what was pushed to the destination (verify it with ocireg_verify() through a
/// client of the destination); free it with ocireg_pushed_free().
///
/// # Safety
///
/// `client` live, `to` NULL or live; the strings NUL-terminated (`platform` may be NULL);
/// `progress` NULL or valid with `userdata`; `out` valid for writing; `err` NULL or writable.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_copy(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    to: *const ocireg_client,
    to_repository: *const c_char,
    to_reference: *const c_char,
    threads: u32,
    platform: *const c_char,
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
            let to_repo = arg_str(to_repository, "to_repository")?;
            let to_ref = arg_str(to_reference, "to_reference")?;
            let platform = arg_platform(platform)?;
            arg_out(out, "out")?;
            if threads > 64 {
                return Err(Failure::invalid(format!(
                    "argument `threads`: {threads} is more than 64"
                )));
            }
            let dest = to.as_ref().map(|t| t.client.clone());
            let src = &handle.client;
            let pushed = with_progress(progress, UserData(userdata), handle.retry, |p, hook| {
                let mut options = CopyOptions {
                    progress: p,
                    platform,
                    ..CopyOptions::default()
                };
                if threads > 0 {
                    options.threads = threads as usize;
                }
                let src = notifying(src, hook.clone());
                match &dest {
                    Some(d) => {
                        let d = notifying(d, hook);
                        src.copy_to(repo, reference, &d, to_repo, to_ref, &options)
                    }
                    None => src.copy(repo, reference, to_repo, to_ref, &options),
                }
            })?;
            write_box(out, ocireg_pushed::new(pushed)?);
            Ok(())
        })
    }
}

/// Gives the manifest `repository:reference` the tag `to_tag` in `to_repository` (the same
/// repository: the manifest's bytes are fetched and put under the new tag; another one: a copy
/// within the registry). On success `*out` (may be NULL) receives what was tagged.
///
/// # Safety
///
/// `client` live; the strings NUL-terminated; `out` NULL or valid for writing; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_retag(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    to_repository: *const c_char,
    to_tag: *const c_char,
    out: *mut *mut ocireg_pushed,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let reference = arg_str(reference, "reference")?;
            let to_repo = arg_str(to_repository, "to_repository")?;
            let to_tag = arg_str(to_tag, "to_tag")?;
            let pushed = c.retag(repo, reference, to_repo, to_tag)?;
            if !out.is_null() {
                write_box(out, ocireg_pushed::new(pushed)?);
            }
            Ok(())
        })
    }
}

fn deleted_json(d: &DeletedTag) -> Value {
    json!({
        "repository": d.repository,
        "tag": d.tag,
        "digest": d.digest.to_string(),
        "manifestDeleted": d.manifest_deleted,
        "otherTags": d.other_tags,
        "removedTags": d.removed_tags(),
    })
}

/// Deletes the tag `tag` of `repository`. The registry is asked to delete the tag alone first
/// (OCI 1.1) unless `tag_first` is 0; a registry that refuses that form (distribution 2.8) gets
/// its manifest deleted by digest — and **every tag on that manifest goes with it**, which is
/// what the registry does and what docker_registry2's `rmtag` does. `list_other_tags` non-zero
/// finds those other tags first (one HEAD per tag of the repository). A registry with deletes
/// disabled is `OCIREG_UNSUPPORTED`.
///
/// On success `*out_json` (may be NULL) receives `{"repository", "tag", "digest",
/// "manifestDeleted": bool, "otherTags": [..] | null, "removedTags": [..]}` (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `client` live; the strings NUL-terminated; `out_json` NULL or valid for writing; `err` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_delete_tag(
    client: *const ocireg_client,
    repository: *const c_char,
    tag: *const c_char,
    tag_first: i32,
    list_other_tags: i32,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let tag = arg_str(tag, "tag")?;
            let options = DeleteTagOptions {
                tag_first: tag_first != 0,
                list_other_tags: list_other_tags != 0,
                ..DeleteTagOptions::default()
            };
            let deleted = c.delete_tag_with(repo, tag, &options)?;
            let text = json_out(&deleted_json(&deleted), "the result")?;
            write_opt_cstring(out_json, text);
            Ok(())
        })
    }
}

fn descriptor_json(d: &Descriptor) -> Value {
    serde_json::to_value(d).unwrap_or(Value::Null)
}

/// The descriptor (OCI JSON: `mediaType`, `digest`, `size`, `platform`) of the image for
/// `platform` (`os/arch[/variant]`) that `repository:reference` names: the matching child of an
/// index, or the manifest itself when its config's platform matches; `OCIREG_NOT_FOUND` naming
/// the platforms there are otherwise. docker_registry2's `digest(repo, tag, arch, os, variant)`.
/// `*out_json` is freed with ocireg_string_free().
///
/// # Safety
///
/// `client` live; the strings NUL-terminated; `out_json` valid for writing; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_platform_descriptor(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    platform: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let reference = arg_str(reference, "reference")?;
            let want: crate::Platform = arg_str(platform, "platform")?.parse()?;
            arg_out(out_json, "out_json")?;
            let d = c.platform_descriptor(repo, reference, &want)?;
            write_opt_cstring(out_json, json_out(&descriptor_json(&d), "the descriptor")?);
            Ok(())
        })
    }
}

/// Every tag of `repository` with the digest it points at (one HEAD per tag, in parallel):
/// `*out_json` receives `[{"tag": "v1", "digest": "sha256:…"}, …]` in the registry's tag order
/// (free with ocireg_string_free()). docker_registry2's `tags(repo, …, with_hashes = true)`.
///
/// # Safety
///
/// `client` live; `repository` NUL-terminated; `out_json` valid for writing; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_tags_with_digests(
    client: *const ocireg_client,
    repository: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            arg_out(out_json, "out_json")?;
            let tags = c.tags_with_digests(repo)?;
            let v: Vec<Value> = tags
                .iter()
                .map(|(t, d)| json!({"tag": t, "digest": d.to_string()}))
                .collect();
            write_opt_cstring(out_json, json_out(&Value::Array(v), "the tags")?);
            Ok(())
        })
    }
}

/// The sizes of an image manifest (`bytes`, `len`; its media type read from it, or given as
/// `media_type`, which may be NULL): `*out_image_size` config + layers, `*out_layers_size` the
/// layers only (docker_registry2's `manifest_sum`). Either out-parameter may be NULL. An index
/// has no image size: `OCIREG_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `bytes` valid for `len` bytes; `media_type` NULL or NUL-terminated; the outs NULL or valid;
/// `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_manifest_sizes(
    bytes: *const u8,
    len: usize,
    media_type: *const c_char,
    out_image_size: *mut u64,
    out_layers_size: *mut u64,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let bytes = arg_bytes(bytes, len, "bytes")?;
            let media_type = arg_opt_str(media_type, "media_type")?;
            let m = Manifest::from_bytes(bytes.to_vec(), media_type)?;
            let image = m.image_size()?;
            let layers = m.image()?.layers_size();
            write_opt(out_image_size, image);
            write_opt(out_layers_size, layers);
            Ok(())
        })
    }
}

fn layers_json(p: &PulledLayers) -> Value {
    json!({
        "repository": p.repository,
        "digest": p.digest.to_string(),
        "mediaType": p.media_type,
        "platform": p.platform,
        "config": descriptor_json(&p.config),
        "layers": p.layers.iter().map(|l| json!({
            "digest": l.descriptor.digest.to_string(),
            "size": l.descriptor.size,
            "mediaType": l.descriptor.media_type,
            "path": l.path.to_string_lossy(),
            "downloaded": l.downloaded,
        })).collect::<Vec<_>>(),
        "stats": {
            "blobsDownloaded": p.stats.blobs_downloaded,
            "blobsReused": p.stats.blobs_reused,
            "bytesDownloaded": p.stats.bytes_downloaded,
            "requests": p.stats.requests,
        },
    })
}

/// Downloads the layers of the image `repository:reference` into directory `dir` (created if
/// needed), each a file named `<algorithm>-<hex>` of its digest, verified before it is renamed
/// into place; a file already there with the right digest is kept. For an index, `platform`
/// picks the image (NULL: this machine's). docker_registry2's `pull(repo, tag, dir)`.
/// `threads` (0: 8) and `progress` as in ocireg_pull_image(). On success `*out_json` (may be
/// NULL) receives `{"repository", "digest", "mediaType", "platform", "config", "layers":
/// [{"digest", "size", "mediaType", "path", "downloaded"}], "stats"}` (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `client` live; the strings NUL-terminated (`platform` may be NULL); `progress` NULL or valid
/// with `userdata`; `out_json` NULL or valid for writing; `err` NULL or writable.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_pull_layers(
    client: *const ocireg_client,
    repository: *const c_char,
    reference: *const c_char,
    dir: *const c_char,
    platform: *const c_char,
    threads: u32,
    progress: ocireg_progress_fn,
    userdata: *mut c_void,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let handle = arg_ref(client, "client")?;
            let repo = arg_str(repository, "repository")?;
            let reference = arg_str(reference, "reference")?;
            let dir = arg_nonempty_str(dir, "dir")?;
            let platform = arg_platform(platform)?;
            if threads > 64 {
                return Err(Failure::invalid(format!(
                    "argument `threads`: {threads} is more than 64"
                )));
            }
            let c = &handle.client;
            let layers = with_progress(progress, UserData(userdata), handle.retry, |p, hook| {
                let mut options = PullOptions {
                    progress: p,
                    platform,
                    ..PullOptions::default()
                };
                if threads > 0 {
                    options.threads = threads as usize;
                }
                notifying(c, hook).pull_layers(repo, reference, dir, &options)
            })?;
            let text = json_out(&layers_json(&layers), "the result")?;
            write_opt_cstring(out_json, text);
            Ok(())
        })
    }
}
