//! # ocireg
//!
//! A synchronous, blocking client for OCI / Docker registries (the OCI distribution API v2).
//!
//! (Crate documentation is completed below the module list.)
#![warn(missing_docs)]

pub mod auth;
pub mod credentials;
pub mod digest;
pub mod error;
pub mod headers;
pub mod reference;
#[cfg(feature = "test-server")]
pub mod testing;

pub use auth::Credentials;
pub use digest::Digest;
pub use error::{Error, ErrorInfo, Result};
// pub use reference::Reference; (enabled when reference.rs lands)
