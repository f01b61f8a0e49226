//! # ocireg
//!
//! A synchronous, blocking client for OCI / Docker registries (the OCI distribution API v2),
//! with one core and four faces: this Rust API, a C ABI (`include/ocireg.h`), bindings for
//! Python, Ruby and Go over that ABI, and the `ocireg` command line tool.
//!
//! * **Auth**: anonymous, Basic, and the Bearer token challenge, with tokens cached per scope and
//!   sent up front once the registry's scheme is known.
//! * **Credentials**: docker `config.json` (`auths`, `credsStore`, `credHelpers`), the
//!   `docker-credential-*` helper protocol, the resolution chain, [`login`] and [`logout`].
//! * **Listing**: [`Client::tags`], [`Client::catalog`], [`Client::search`] over every page.
//! * **Manifests**: [`Client::manifest`] (digest-verified), [`Client::put_manifest`],
//!   [`Client::delete_tag`], [`Client::platform_descriptor`], [`Client::tags_with_digests`].
//! * **Images**: [`Client::push_image`] (streamed, bounded memory, whole OCI layouts),
//!   [`Client::verify`], [`Client::pull_image`] and [`Client::pull_layers`] (digest-verified),
//!   [`Client::copy`] / [`Client::copy_to`] (within a registry by mount, across registries
//!   streamed), [`Client::retag`].
//! * **Blobs**: [`Client::blob_reader`] (a verified, resuming stream), [`Client::push_blob`],
//!   [`Client::mount_blob`].
//! * **Control**: [`Client::with_cancel`] ([`Cancel`], from any thread) and
//!   [`Client::with_timeout`] bound whole calls; [`RetryPolicy`] and
//!   [`ClientBuilder::on_retry`]; [`LowSpeedLimit`]; [`ClientBuilder::on_request`] logs every
//!   exchange with its secrets redacted.
//! * **Against hostile registries**: credentials never leave the registry's origin; answers are
//!   bounded; errors never show a secret (see the README).
//! * **Testing**: `testing::Registry`, an in-memory registry (feature `test-server`).
//!
//! ```no_run
//! # fn main() -> ocireg::Result<()> {
//! use ocireg::{Client, Credentials};
//!
//! let client = Client::builder("registry.example.com")
//!     .credentials(Credentials::basic("alice", "s3cret"))
//!     .build()?;
//! let tags = client.tags("team/app")?;
//! let manifest = client.manifest("team/app", &tags[0])?;
//! println!("{} is {} ({} bytes)", tags[0], manifest.digest, manifest.bytes.len());
//! # Ok(()) }
//! ```
//!
//! Every call blocks the calling thread; a [`Client`] is `Send + Sync` and cheap to clone, and
//! one client serves many threads at once over one connection pool.
#![warn(missing_docs)]

mod auth;
mod blob;
mod catalog;
mod client;
mod copy;
pub mod credentials;
mod digest;
mod download;
mod error;
/// The C ABI (`extern "C"` functions described by `include/ocireg.h`), with the `capi`
/// feature. Hidden from these docs: C callers read the header, Rust callers the Rust API.
#[cfg(feature = "capi")]
#[doc(hidden)]
pub mod ffi;
pub mod fuzzing;
mod headers;
mod image;
mod login;
mod manifest;
mod pull;
mod push;
mod redact;
mod reference;
#[cfg(test)]
mod test_util;
#[cfg(feature = "test-server")]
pub mod testing;
mod transfer;
mod transport;
mod verify;

pub use auth::Credentials;
pub use blob::{
    ASK_BY_MOUNT_MAX, BlobSource, BlobStatus, DEFAULT_CHUNK_SIZE, MountOutcome, PushedBlob,
    UploadOptions,
};
pub use catalog::Page;
pub use client::{Client, ClientBuilder};
pub use copy::CopyOptions;
pub use digest::{Algorithm, Digest, Hasher};
pub use download::BlobReader;
pub use error::{Error, ErrorInfo, Result};
pub use image::layout::OciLayout;
pub use image::{Image, ImageBuilder, ManifestFormat};
pub use login::{LoginOptions, LoginStored, Logout, login, logout};
pub use manifest::{
    DeleteTagOptions, DeletedTag, Descriptor, ImageIndex, ImageManifest, Manifest, Platform,
    media_types,
};
pub use pull::{LayerFile, PullOptions, PullStats, Pulled, PulledLayers, layer_file_name};
pub use push::{PushOptions, PushStats, Pushed};
pub use reference::{Reference, Repository, Tag};
pub use transfer::{DEFAULT_THREADS, Progress, ProgressEvent, ProgressFn};
pub use transport::{
    Cancel, LowSpeedLimit, RequestCallback, RequestEvent, RetryCallback, RetryEvent, RetryPolicy,
};
pub use verify::{Check, CheckKind, CheckStatus, VerifyOutcome, VerifyReport};
