//! The C ABI: `extern "C"` functions over the Rust API, described by `include/ocireg.h`.
//!
//! One file per area, mirroring the Rust modules:
//! [`error`](crate::ffi::error) (status codes, error objects, the panic boundary),
//! [`strings`](crate::ffi::strings) (strings, byte buffers, string lists),
//! [`client`](crate::ffi::client) (options and the client),
//! [`catalog`](crate::ffi::catalog) (ping, tags, catalog, search),
//! [`manifest`](crate::ffi::manifest),
//! [`callbacks`](crate::ffi::callbacks) (callback types; callbacks run on the calling thread),
//! [`blob`](crate::ffi::blob),
//! [`image`](crate::ffi::image) (images from a layout, or built),
//! [`push`](crate::ffi::push), [`verify`](crate::ffi::verify), [`pull`](crate::ffi::pull),
//! [`credentials`](crate::ffi::credentials) (login, logout),
//! and `testing` (the in-memory test registry, feature `test-server`).
//!
//! The conventions every function follows are written once, at the top of the header (see
//! `cbindgen.toml`): a `ocireg_status` return value; details through an optional
//! `ocireg_error **err` out-parameter (never thread-local state, because Go moves goroutines
//! between OS threads); outputs written only on success; one `_free` per allocation, accepting
//! NULL; UTF-8 NUL-terminated strings; NULL and invalid UTF-8 reported as
//! `OCIREG_INVALID_ARGUMENT`; callbacks only on the calling thread; no panic crossing the
//! boundary.
//!
//! Every exported function is a plain `#[unsafe(no_mangle)] pub unsafe extern "C" fn` (cbindgen
//! does not expand macros) whose body runs inside the `boundary` helper of
//! [`error`](crate::ffi::error).

use std::ffi::c_char;

// The order of the modules is the order of the header: basics first, then operations.

// Status codes, error objects, the panic boundary.
pub mod error;
// Strings, byte buffers, string lists.
pub mod strings;
// Options and the client.
pub mod client;
// Ping, tags, catalog, search.
pub mod catalog;
// Manifests.
pub mod manifest;
// Callback types and the machinery that keeps callbacks on the calling thread.
pub mod callbacks;
// Blobs.
pub mod blob;
// Cancellation, bound clients, blobs read as a stream.
pub mod call;
// Images to push (from a layout, or built).
pub mod image;
// Pushing images, and push results.
pub mod push;
// Verifying a push.
pub mod verify;
// Pulling images.
pub mod pull;
// Copy, retag, delete by tag, platform descriptors, tags with digests, sizes, layers.
pub mod ops;
// Login and logout.
pub mod credentials;
// The in-memory test registry (feature `test-server`).
#[cfg(feature = "test-server")]
pub mod testing;

#[cfg(test)]
mod tests;

/// The version of the C ABI this header describes. It changes whenever a function's signature
/// or meaning changes incompatibly; bindings compare it with ocireg_abi_version() at load time.
pub const OCIREG_ABI_VERSION: u32 = 2;

/// The ABI version of the loaded library; equal to `OCIREG_ABI_VERSION` of the header it was
/// built with.
///
/// # Safety
///
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_abi_version() -> u32 {
    OCIREG_ABI_VERSION
}

/// The library's version, e.g. `"0.1.0"`: a static NUL-terminated string; never free it.
///
/// # Safety
///
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
