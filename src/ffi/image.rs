//! Images to push: read from an OCI image layout, or built from a config and layers.

use std::ffi::{CString, c_char, c_int};
use std::ptr;

use super::error::{
    Failure, boundary, free_box, new_default, ocireg_error, ocireg_status, with_mut,
};
use super::strings::{
    arg_bytes, arg_opt_str, arg_out, arg_ref, arg_str, borrow_cstr, out_cstring, write_box,
};
use crate::image::{Image, ImageBuilder, ManifestFormat};

/// An image (or an index with its child images) ready to push: its manifest bytes, and where
/// each blob comes from. Immutable: a `const ocireg_image *` may be shared across threads. Free
/// with ocireg_image_free().
#[allow(non_camel_case_types)]
pub struct ocireg_image {
    pub(crate) image: Image,
    digest: CString,
    media_type: CString,
}

impl ocireg_image {
    pub(crate) fn new(image: Image) -> Result<Self, Failure> {
        Ok(ocireg_image {
            digest: out_cstring(&image.digest().to_string(), "the image digest")?,
            media_type: out_cstring(image.media_type(), "the image media type")?,
            image,
        })
    }
}

/// Reads an image from the OCI image layout in directory `dir`: the manifest tagged `tag` (its
/// `org.opencontainers.image.ref.name`, a full reference ending in `:tag`, or a digest), or the
/// only one when `tag` is NULL. Blobs stay on disk and are streamed when pushed. On success
/// `*out` receives an image to free with ocireg_image_free().
///
/// # Safety
///
/// `dir` must be a NUL-terminated string; `tag` NULL or a NUL-terminated string; `out` valid
/// for writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_from_layout(
    dir: *const c_char,
    tag: *const c_char,
    out: *mut *mut ocireg_image,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let dir = arg_str(dir, "dir")?;
            let tag = arg_opt_str(tag, "tag")?;
            arg_out(out, "out")?;
            let image = ocireg_image::new(Image::from_layout(dir, tag)?)?;
            write_box(out, image);
            Ok(())
        })
    }
}

/// The image's manifest digest (`"sha256:…"`). Borrowed from the image (valid until
/// ocireg_image_free()); NULL when `image` is NULL.
///
/// # Safety
///
/// `image` must be NULL or a live image.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_digest(image: *const ocireg_image) -> *const c_char {
    // SAFETY: the caller guarantees `image` is NULL or live.
    unsafe { borrow_cstr(image, |i| &i.digest) }
}

/// The image's manifest media type. Borrowed from the image (valid until ocireg_image_free());
/// NULL when `image` is NULL.
///
/// # Safety
///
/// `image` must be NULL or a live image.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_media_type(image: *const ocireg_image) -> *const c_char {
    // SAFETY: the caller guarantees `image` is NULL or live.
    unsafe { borrow_cstr(image, |i| &i.media_type) }
}

/// The image's manifest bytes, exactly as they will be pushed; `*out_len` (optional) receives
/// their length. Borrowed from the image (valid until ocireg_image_free()); NULL (and length 0)
/// when `image` is NULL.
///
/// # Safety
///
/// `image` must be NULL or a live image; `out_len` NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_manifest(
    image: *const ocireg_image,
    out_len: *mut usize,
) -> *const u8 {
    // SAFETY: the caller guarantees `image` is NULL or live, and `out_len` NULL or writable.
    unsafe {
        let (p, n) = image.as_ref().map_or((ptr::null(), 0), |i| {
            let b = &i.image.manifest().bytes;
            (b.as_ptr(), b.len())
        });
        if !out_len.is_null() {
            *out_len = n;
        }
        p
    }
}

/// Frees an image. NULL is a no-op.
///
/// # Safety
///
/// `image` must be NULL or an image from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_free(image: *mut ocireg_image) {
    // SAFETY: the caller guarantees `image` came from Box::into_raw and is freed once.
    unsafe { free_box(image) }
}

/// Builds an image from a config blob and layers (files or bytes) with their media types.
/// Create with ocireg_image_builder_new(), finish with ocireg_image_builder_build(), free with
/// ocireg_image_builder_free(). Setters mutate: do not share one builder between threads.
#[allow(non_camel_case_types)]
#[derive(Default)]
pub struct ocireg_image_builder {
    builder: ImageBuilder,
}

/// Creates an empty image builder (OCI image manifest format). On success `*out` receives a
/// builder to free with ocireg_image_builder_free().
///
/// # Safety
///
/// `out` must be valid for writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_new(
    out: *mut *mut ocireg_image_builder,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe { new_default(out, err) }
}

/// Runs a builder setter inside the boundary.
///
/// # Safety
///
/// `b` NULL or live and unaliased; `err` NULL or writable.
unsafe fn edit(
    b: *mut ocireg_image_builder,
    err: *mut *mut ocireg_error,
    f: impl FnOnce(ImageBuilder) -> Result<ImageBuilder, Failure>,
) -> ocireg_status {
    // SAFETY: forwarded from the exported function's contract.
    unsafe {
        with_mut(b, "builder", err, |b| {
            let current = std::mem::take(&mut b.builder);
            // On failure the builder keeps its previous state.
            let keep = current.clone();
            match f(current) {
                Ok(next) => {
                    b.builder = next;
                    Ok(())
                }
                Err(e) => {
                    b.builder = keep;
                    Err(e)
                }
            }
        })
    }
}

/// Sets the config blob (JSON bytes). `media_type` may be NULL: the OCI image config type (or
/// Docker's, with ocireg_image_builder_set_docker_schema2()). Required before building.
///
/// # Safety
///
/// `builder` must be a live builder not used by another thread during the call; `data` valid
/// for reading `len` bytes; `media_type` NULL or a NUL-terminated string; `err` NULL or valid
/// for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_set_config(
    builder: *mut ocireg_image_builder,
    data: *const u8,
    len: usize,
    media_type: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        edit(builder, err, |b| {
            let bytes = arg_bytes(data, len, "data")?.to_vec();
            Ok(match arg_opt_str(media_type, "media_type")? {
                Some(m) => b.config_with_media_type(bytes, m),
                None => b.config(bytes),
            })
        })
    }
}

/// Adds a layer held in memory (the bytes are copied), e.g. with media type
/// `"application/vnd.oci.image.layer.v1.tar+gzip"`.
///
/// # Safety
///
/// `builder` must be a live builder not used by another thread during the call; `data` valid
/// for reading `len` bytes; `media_type` a NUL-terminated string; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_add_layer_bytes(
    builder: *mut ocireg_image_builder,
    data: *const u8,
    len: usize,
    media_type: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        edit(builder, err, |b| {
            let bytes = arg_bytes(data, len, "data")?.to_vec();
            let m = arg_str(media_type, "media_type")?;
            Ok(b.layer_bytes(bytes, m))
        })
    }
}

/// Adds a layer read from the file `path`; it is hashed by ocireg_image_builder_build() and
/// streamed when pushed (never loaded into memory).
///
/// # Safety
///
/// `builder` must be a live builder not used by another thread during the call; `path` and
/// `media_type` NUL-terminated strings; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_add_layer_file(
    builder: *mut ocireg_image_builder,
    path: *const c_char,
    media_type: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        edit(builder, err, |b| {
            let p = arg_str(path, "path")?;
            let m = arg_str(media_type, "media_type")?;
            if p.is_empty() {
                return Err(Failure::invalid("argument `path` is empty"));
            }
            Ok(b.layer_file(p, m))
        })
    }
}

/// Adds a manifest annotation (OCI format only).
///
/// # Safety
///
/// `builder` must be a live builder not used by another thread during the call; `key` and
/// `value` NUL-terminated strings; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_add_annotation(
    builder: *mut ocireg_image_builder,
    key: *const c_char,
    value: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        edit(builder, err, |b| {
            let k = arg_str(key, "key")?;
            let v = arg_str(value, "value")?;
            Ok(b.annotation(k, v))
        })
    }
}

/// Sets the manifest's `artifactType` (OCI format only).
///
/// # Safety
///
/// `builder` must be a live builder not used by another thread during the call; `media_type` a
/// NUL-terminated string; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_set_artifact_type(
    builder: *mut ocireg_image_builder,
    media_type: *const c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        edit(builder, err, |b| {
            let m = arg_str(media_type, "media_type")?;
            Ok(b.artifact_type(m))
        })
    }
}

/// Non-zero: write a Docker image manifest, schema 2, mapping OCI config and layer media types to
/// their Docker equivalents; zero: an OCI image manifest (the default).
///
/// # Safety
///
/// `builder` must be a live builder not used by another thread during the call; `err` NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_set_docker_schema2(
    builder: *mut ocireg_image_builder,
    on: c_int,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        edit(builder, err, |b| {
            Ok(b.format(if on != 0 {
                ManifestFormat::DockerV2
            } else {
                ManifestFormat::Oci
            }))
        })
    }
}

/// Builds the image: hashes the layer files that need it and serializes the manifest. The
/// builder is left as it was (it can build again, or be changed and build another image). On
/// success `*out` receives an image to free with ocireg_image_free().
///
/// # Safety
///
/// `builder` must be a live builder; `out` valid for writing a pointer; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_build(
    builder: *const ocireg_image_builder,
    out: *mut *mut ocireg_image,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let b = arg_ref(builder, "builder")?;
            arg_out(out, "out")?;
            let image = ocireg_image::new(b.builder.clone().build()?)?;
            write_box(out, image);
            Ok(())
        })
    }
}

/// Frees an image builder. NULL is a no-op.
///
/// # Safety
///
/// `builder` must be NULL or a builder from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_image_builder_free(builder: *mut ocireg_image_builder) {
    // SAFETY: the caller guarantees `builder` came from Box::into_raw and is freed once.
    unsafe { free_box(builder) }
}
