//! Manifests and descriptors: media types, typed views over the raw bytes, and the manifest
//! endpoints (GET / HEAD / PUT / DELETE).
//!
//! A manifest is always kept as the bytes the registry sent (or the caller gave): its digest is
//! the hash of those bytes, so it is never re-serialized.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::{Repository, TagOrDigest};
use crate::transport::{Method, ReqBody, Request};

/// The largest manifest ocireg reads or writes (what registries accept).
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// Media type names.
pub mod media_types {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// OCI gzip-compressed layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI uncompressed layer.
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI zstd-compressed layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// Docker gzip-compressed layer.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// The OCI empty descriptor's media type (artifacts with no config).
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

    /// The `Accept` header of every manifest request: all four manifest and index types
    /// (distribution 2.8 hides OCI content from clients that do not list the OCI types).
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
         application/vnd.oci.image.index.v1+json, \
         application/vnd.docker.distribution.manifest.v2+json, \
         application/vnd.docker.distribution.manifest.list.v2+json";

    /// True for the two index types (OCI index, Docker manifest list).
    pub fn is_index(media_type: &str) -> bool {
        media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
    }

    /// True for the two image manifest types.
    pub fn is_image_manifest(media_type: &str) -> bool {
        media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
    }
}

/// A platform, as in an index entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    /// CPU architecture, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// OS version (Windows).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::str::FromStr for Platform {
    type Err = Error;

    /// Parses `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`.
    ///
    /// ```
    /// let p: ocireg::Platform = "linux/amd64".parse()?;
    /// assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "amd64"));
    /// assert!("linux".parse::<ocireg::Platform>().is_err());
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                ..Platform::default()
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
                ..Platform::default()
            }),
            _ => Err(Error::InvalidInput(format!(
                "platform {:?} must be os/arch or os/arch/variant, e.g. linux/arm64/v8",
                crate::digest::shorten(s)
            ))),
        }
    }
}

/// A content descriptor: media type, digest and size of a blob or manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced content.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Alternative download URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type (artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Fields this version does not model (e.g. `data`), kept so that rewriting a descriptor
    /// (an OCI layout's `index.json`) loses nothing.
    #[serde(flatten, default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Descriptor {
    /// A descriptor with just media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            extra: serde_json::Map::new(),
        }
    }
}

/// An image manifest (OCI or Docker schema 2): a config and layers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type (optional in OCI, required in Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type (artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI index or Docker manifest list): manifests per platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type (artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The child manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Fields this version does not model, kept so that rewriting an index loses nothing.
    #[serde(flatten, default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A manifest as the registry holds it: the raw bytes, their media type and digest.
#[derive(Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The exact bytes; their hash is the digest.
    pub bytes: Vec<u8>,
    /// The media type.
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("media_type", &self.media_type)
            .field("digest", &self.digest)
            .field("size", &self.bytes.len())
            .finish()
    }
}

impl Manifest {
    /// Wraps bytes, computing their sha256 digest; the media type comes from the `mediaType`
    /// field when `media_type` is `None`.
    ///
    /// ```
    /// let m = ocireg::Manifest::from_bytes(
    ///     br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec(),
    ///     None,
    /// ).unwrap();
    /// assert!(m.is_index());
    /// assert!(m.index().unwrap().manifests.is_empty());
    /// ```
    pub fn from_bytes(bytes: Vec<u8>, media_type: Option<&str>) -> Result<Manifest> {
        let media_type = match media_type {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => detect_media_type(&bytes)?,
        };
        let digest = Digest::sha256_of(&bytes);
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// True for an OCI index or a Docker manifest list.
    pub fn is_index(&self) -> bool {
        media_types::is_index(&self.media_type)
    }

    /// The typed view of an image manifest.
    pub fn image(&self) -> Result<ImageManifest> {
        if self.is_index() {
            return Err(Error::InvalidInput(format!(
                "manifest {} is an index ({}), not an image manifest",
                self.digest, self.media_type
            )));
        }
        serde_json::from_slice(&self.bytes).map_err(|e| {
            Error::InvalidInput(format!(
                "manifest {} is not a valid image manifest: {e}",
                self.digest
            ))
        })
    }

    /// The typed view of an index.
    pub fn index(&self) -> Result<ImageIndex> {
        if !self.is_index() {
            return Err(Error::InvalidInput(format!(
                "manifest {} is an image manifest ({}), not an index",
                self.digest, self.media_type
            )));
        }
        serde_json::from_slice(&self.bytes).map_err(|e| {
            Error::InvalidInput(format!(
                "manifest {} is not a valid index: {e}",
                self.digest
            ))
        })
    }

    /// A descriptor of this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

/// The media type of manifest bytes: the `mediaType` field, else guessed from the shape.
pub(crate) fn detect_media_type(bytes: &[u8]) -> Result<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let p: Probe = serde_json::from_slice(bytes)
        .map_err(|e| Error::InvalidInput(format!("manifest is not a JSON object: {e}")))?;
    Ok(match (p.media_type, p.manifests, p.config) {
        (Some(m), _, _) if !m.is_empty() => m,
        (_, Some(_), _) => media_types::OCI_INDEX.to_string(),
        (_, _, Some(_)) => media_types::OCI_MANIFEST.to_string(),
        _ => {
            return Err(Error::InvalidInput(
                "manifest has no mediaType, config or manifests: cannot tell its type".into(),
            ));
        }
    })
}

impl Client {
    /// Fetches a manifest by tag, digest, or `tag@digest`, and verifies it: by digest, the
    /// bytes must hash to it; by tag, to `Docker-Content-Digest` when the registry sends one; by
    /// `tag@digest`, the tag is requested and the digest verified. A mismatch is
    /// [`Error::DigestMismatch`]. Manifests over 4 MiB are refused.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest> {
        let repository = &Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        let t = self.transport();
        let what = format!("manifest {repository}:{}", r.url_part());
        let req = Request::new(
            Method::Get,
            format!("/v2/{repository}/manifests/{}", r.url_part()),
            format!("GET {what}"),
        )
        .repo(repository, "pull")
        .header("accept", media_types::MANIFEST_ACCEPT);
        let (resp, bytes) = t.fetch(req, &[200], MAX_MANIFEST_SIZE)?;
        let header_digest = header_digest(&resp);
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
        let expected = match (r.digest(), header_digest) {
            (Some(d), _) => Some(d.clone()),
            (None, Some(h)) => Some(h),
            (None, None) => None,
        };
        let digest = match &expected {
            Some(d) => {
                d.verify(&bytes, &format!("{what} on {}", self.registry()))?;
                if d.algorithm() == crate::digest::Algorithm::Sha256 {
                    d.clone()
                } else {
                    Digest::sha256_of(&bytes)
                }
            }
            None => Digest::sha256_of(&bytes),
        };
        let media_type = match content_type {
            Some(ct) if ct.starts_with("application/vnd.") => ct,
            _ => detect_media_type(&bytes)?,
        };
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// The digest a tag (or digest) resolves to, by `HEAD` (no body transferred). Falls back to
    /// a verified GET when the registry sends no `Docker-Content-Digest`.
    pub fn manifest_digest(&self, repository: &str, reference: &str) -> Result<Digest> {
        let repository = &Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        let req = Request::new(
            Method::Head,
            format!("/v2/{repository}/manifests/{}", r.url_part()),
            format!("HEAD manifest {repository}:{}", r.url_part()),
        )
        .repo(repository, "pull")
        .header("accept", media_types::MANIFEST_ACCEPT);
        let resp = self.transport().send_expect(req, &[200])?;
        match header_digest(&resp) {
            Some(d) => {
                crate::transport::drain(resp);
                if let Some(want) = r.digest()
                    && want != &d
                {
                    return Err(Error::DigestMismatch {
                        what: format!("manifest {repository}:{}", r.url_part()),
                        expected: want.to_string(),
                        actual: d.to_string(),
                    });
                }
                Ok(d)
            }
            None => {
                crate::transport::drain(resp);
                Ok(self.manifest(repository, reference)?.digest)
            }
        }
    }

    /// Uploads a manifest as is, with `Content-Type: media_type`, under a tag or its digest.
    /// The digest is computed locally and checked against the registry's
    /// `Docker-Content-Digest`. Returns the digest.
    ///
    /// Push every blob (and child manifest) the manifest references first; registries refuse
    /// manifests that point at missing content.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let repository = &Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        if media_type.trim().is_empty() || media_type.contains(['\r', '\n']) {
            return Err(Error::InvalidInput(format!(
                "manifest media type {media_type:?} is empty or malformed"
            )));
        }
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(Error::InvalidInput(format!(
                "manifest of {} bytes is larger than the {MAX_MANIFEST_SIZE} bytes registries accept",
                bytes.len()
            )));
        }
        if let Ok(declared) = detect_media_type(bytes) {
            if has_media_type_field(bytes) && declared != media_type {
                return Err(Error::InvalidInput(format!(
                    "manifest declares mediaType {declared:?} but is pushed as {media_type:?}"
                )));
            }
        } else {
            return Err(Error::InvalidInput(
                "the manifest is not a JSON object".to_string(),
            ));
        }
        let digest = Digest::sha256_of(bytes);
        if let Some(d) = r.digest() {
            d.verify(bytes, "manifest pushed by digest")?;
        }
        let url_ref = match &r {
            TagOrDigest::Digest(d) => d.to_string(),
            TagOrDigest::Tag(t) | TagOrDigest::TagAndDigest(t, _) => t.to_string(),
        };
        let what = format!("PUT manifest {repository}:{url_ref}");
        let req = Request::new(
            Method::Put,
            format!("/v2/{repository}/manifests/{url_ref}"),
            what.clone(),
        )
        .repo(repository, "pull,push")
        .header("content-type", media_type)
        .body(ReqBody::Bytes(bytes));
        let resp = self.transport().send_expect(req, &[200, 201, 202, 204])?;
        let theirs = header_digest(&resp);
        crate::transport::drain(resp);
        if let Some(theirs) = theirs
            && theirs.algorithm() == digest.algorithm()
            && theirs != digest
        {
            return Err(Error::DigestMismatch {
                what: format!("{what} (registry's Docker-Content-Digest)"),
                expected: digest.to_string(),
                actual: theirs.to_string(),
            });
        }
        Ok(digest)
    }

    /// Deletes a manifest by digest (registries remove every tag pointing at it).
    pub fn delete_manifest(&self, repository: &str, digest: &str) -> Result<()> {
        let repository = &Repository::parse(repository)?;
        let d: Digest = digest.parse()?;
        let req = Request::new(
            Method::Delete,
            format!("/v2/{repository}/manifests/{d}"),
            format!("DELETE manifest {repository}@{d}"),
        )
        .repo(repository, "delete");
        let resp = self.transport().send_expect(req, &[200, 202, 204])?;
        crate::transport::drain(resp);
        Ok(())
    }
}

fn has_media_type_field(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes)
        .map(|p| p.media_type.is_some())
        .unwrap_or(false)
}

/// The `Docker-Content-Digest` header, if present and valid.
pub(crate) fn header_digest(resp: &ureq::http::Response<ureq::Body>) -> Option<Digest> {
    resp.headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}
