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

impl Platform {
    /// The platform images for this machine are built for: `linux` on every OS but Windows
    /// (macOS and the BSDs run containers in a Linux VM), `windows` on Windows, with this CPU's
    /// architecture in the OCI spelling (`amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`,
    /// `riscv64`, …) and no variant (so that an index entry of any variant matches).
    ///
    /// ```
    /// let p = ocireg::Platform::current();
    /// assert!(p.os == "linux" || p.os == "windows");
    /// assert!(!p.architecture.is_empty() && p.variant.is_none());
    /// ```
    pub fn current() -> Platform {
        let os = if cfg!(windows) { "windows" } else { "linux" };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            ..Platform::default()
        }
    }
}

impl std::fmt::Display for Platform {
    /// `os/arch` or `os/arch/variant` (what [`Platform::from_str`](std::str::FromStr) reads).
    ///
    /// ```
    /// let p: ocireg::Platform = "linux/arm64/v8".parse()?;
    /// assert_eq!(p.to_string(), "linux/arm64/v8");
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.variant {
            Some(v) => write!(f, "{}/{}/{v}", self.os, self.architecture),
            None => write!(f, "{}/{}", self.os, self.architecture),
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

impl ImageManifest {
    /// The size of the image: the config blob plus every layer, in bytes (what a full pull
    /// downloads, manifest aside).
    ///
    /// ```
    /// let m = ocireg::Manifest::from_bytes(br#"{"schemaVersion":2,
    ///   "mediaType":"application/vnd.oci.image.manifest.v1+json",
    ///   "config":{"mediaType":"application/vnd.oci.image.config.v1+json",
    ///     "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
    ///   "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",
    ///     "digest":"sha256:4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a","size":100}]}"#
    ///     .to_vec(), None)?;
    /// let image = m.image()?;
    /// assert_eq!(image.image_size(), 102);
    /// assert_eq!(image.layers_size(), 100);
    /// assert_eq!(m.image_size()?, 102);
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    pub fn image_size(&self) -> u64 {
        self.config.size.saturating_add(self.layers_size())
    }

    /// The sum of the layer sizes alone, config excluded: what docker_registry2's
    /// `manifest_sum` returns.
    pub fn layers_size(&self) -> u64 {
        self.layers
            .iter()
            .fold(0u64, |sum, l| sum.saturating_add(l.size))
    }
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

/// How [`Client::delete_tag_with`] deletes a tag.
///
/// ```
/// let like_rmtag = ocireg::DeleteTagOptions { tag_first: false, ..Default::default() };
/// assert!(ocireg::DeleteTagOptions::default().tag_first);
/// # let _ = like_rmtag;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTagOptions {
    /// Try `DELETE /v2/<name>/manifests/<tag>` first (OCI distribution 1.1: the registry removes
    /// only that tag), and delete the manifest by digest when the registry refuses that form.
    /// `false`: always delete the manifest by digest, taking every tag on it, as
    /// docker_registry2's `rmtag` does. Default `true`.
    pub tag_first: bool,
    /// Before deleting, list the other tags that point at the same manifest (the tag list and a
    /// `HEAD` per tag, as [`Client::tags_with_digests`]), to report them in
    /// [`DeletedTag::other_tags`]. Default `false`: that walk costs a request per tag.
    pub list_other_tags: bool,
    /// Parallel `HEAD`s of that walk (default [`DEFAULT_THREADS`](crate::DEFAULT_THREADS)).
    pub threads: usize,
}

impl Default for DeleteTagOptions {
    fn default() -> Self {
        DeleteTagOptions {
            tag_first: true,
            list_other_tags: false,
            threads: crate::transfer::DEFAULT_THREADS,
        }
    }
}

/// What [`Client::delete_tag`] removed.
///
/// Read [`DeletedTag::manifest_deleted`]: when the manifest itself was deleted, **every tag
/// that pointed at it is gone too** (registries keep no tag without its manifest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedTag {
    /// The repository.
    pub repository: String,
    /// The tag asked for.
    pub tag: String,
    /// The digest of the manifest the tag pointed at.
    pub digest: Digest,
    /// `true`: the manifest is deleted, and with it every tag that pointed at it (the tag
    /// asked for and all of [`DeletedTag::other_tags`]). `false`: the registry removed only
    /// this tag (OCI 1.1 `DELETE` by tag); the manifest and its other tags remain.
    pub manifest_deleted: bool,
    /// The other tags that pointed at the same manifest before the delete, when
    /// [`DeleteTagOptions::list_other_tags`] asked for them (`None` otherwise).
    pub other_tags: Option<Vec<String>>,
}

impl DeletedTag {
    /// The tags known to be gone: this one, and the listed other tags when the manifest
    /// was deleted.
    ///
    /// ```
    /// # let d = ocireg::Digest::sha256_of(b"m");
    /// let gone = ocireg::DeletedTag {
    ///     repository: "team/app".into(),
    ///     tag: "v1".into(),
    ///     digest: d,
    ///     manifest_deleted: true,
    ///     other_tags: Some(vec!["latest".into()]),
    /// };
    /// assert_eq!(gone.removed_tags(), ["v1", "latest"]);
    /// ```
    pub fn removed_tags(&self) -> Vec<String> {
        let mut out = vec![self.tag.clone()];
        if self.manifest_deleted
            && let Some(others) = &self.other_tags
        {
            out.extend(others.iter().cloned());
        }
        out
    }
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

    /// The size of the image this manifest describes: config plus layers
    /// ([`ImageManifest::image_size`]).
    ///
    /// An index has no size of its own (each child is a different image, for another
    /// platform): it is [`Error::InvalidInput`]. Choose the child first, e.g. with
    /// [`Client::platform_descriptor`], and fetch it.
    pub fn image_size(&self) -> Result<u64> {
        if self.is_index() {
            return Err(Error::InvalidInput(format!(
                "manifest {} is an index ({}): an index has no image size; pick one platform's \
                 manifest first",
                self.digest, self.media_type
            )));
        }
        Ok(self.image()?.image_size())
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
        self.get_manifest(repository, &r, &[])
    }

    /// [`Client::manifest`] with names already checked, asking for `extra` token scopes too
    /// (a copy asks for the source's and the destination's in every request: one token).
    pub(crate) fn get_manifest(
        &self,
        repository: &str,
        r: &TagOrDigest,
        extra: &[String],
    ) -> Result<Manifest> {
        let t = self.transport();
        let what = format!("manifest {repository}:{}", r.url_part());
        let req = Request::new(
            Method::Get,
            format!("/v2/{repository}/manifests/{}", r.url_part()),
            format!("GET {what}"),
        )
        .repo(repository, "pull")
        .header("accept", media_types::MANIFEST_ACCEPT);
        let req = with_scopes(req, extra);
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
        self.resolve_digest(repository, &r, &[])
    }

    /// [`Client::manifest_digest`] with names already checked and `extra` token scopes.
    pub(crate) fn resolve_digest(
        &self,
        repository: &str,
        r: &TagOrDigest,
        extra: &[String],
    ) -> Result<Digest> {
        let req = Request::new(
            Method::Head,
            format!("/v2/{repository}/manifests/{}", r.url_part()),
            format!("HEAD manifest {repository}:{}", r.url_part()),
        )
        .repo(repository, "pull")
        .header("accept", media_types::MANIFEST_ACCEPT);
        let resp = self
            .transport()
            .send_expect(with_scopes(req, extra), &[200])?;
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
                Ok(self.get_manifest(repository, r, extra)?.digest)
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
        self.put_manifest_as(repository, &r, media_type, bytes, &[])
    }

    /// [`Client::put_manifest`] with names already checked and `extra` token scopes.
    pub(crate) fn put_manifest_as(
        &self,
        repository: &str,
        r: &TagOrDigest,
        media_type: &str,
        bytes: &[u8],
        extra: &[String],
    ) -> Result<Digest> {
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
        let url_ref = match r {
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
        let resp = self
            .transport()
            .send_expect(with_scopes(req, extra), &[200, 201, 202, 204])?;
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
    ///
    /// A registry with deletes disabled (distribution's 405 `UNSUPPORTED`) is
    /// [`Error::Unsupported`]; an unknown manifest is [`Error::NotFound`].
    pub fn delete_manifest(&self, repository: &str, digest: &str) -> Result<()> {
        let repository = &Repository::parse(repository)?;
        let d: Digest = digest.parse()?;
        self.delete_manifest_ref(repository, &d.to_string(), &[])
            .map_err(|e| self.deletes_unsupported(e))
    }

    /// Deletes a tag: resolves its digest with a `HEAD`, then `DELETE`s by tag, falling back to
    /// deleting the manifest by digest when the registry refuses the tag form (the default
    /// [`DeleteTagOptions`]).
    ///
    /// **Deleting by digest deletes the manifest, and every tag that points at it goes with
    /// it**: that is what registries do (and what docker_registry2's `rmtag` does). The result
    /// says which happened ([`DeletedTag::manifest_deleted`]); see [`Client::delete_tag_with`]
    /// to always delete by digest or to list the other tags first.
    ///
    /// Requests: `HEAD manifests/<tag>`, `DELETE manifests/<tag>`, then either `HEAD
    /// manifests/<digest>` (the tag form was accepted: is the manifest still there?) or, when
    /// the tag form was refused, `DELETE manifests/<digest>`. The tag form counts as refused on
    /// 400 (distribution 2.x: `DIGEST_INVALID`), 405, 501 (the OCI spec lets a registry answer
    /// 400 or 405 when it does not delete tags), and 404 (the `HEAD` just found the tag, so a
    /// 404 means the registry does not know manifests by tag in a `DELETE`).
    ///
    /// A registry with deletes disabled (distribution's 405 `UNSUPPORTED` without
    /// `storage.delete.enabled`) is [`Error::Unsupported`]; an unknown tag is
    /// [`Error::NotFound`]. Under Bearer auth every request asks for `pull` and `delete`, so one
    /// token serves them all.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let gone = client.delete_tag("team/app", "v1")?;
    /// if gone.manifest_deleted {
    ///     println!("deleted manifest {}: every tag on it is gone", gone.digest);
    /// } else {
    ///     println!("removed tag v1; manifest {} stays", gone.digest);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn delete_tag(&self, repository: &str, tag: &str) -> Result<DeletedTag> {
        self.delete_tag_with(repository, tag, &DeleteTagOptions::default())
    }

    /// [`Client::delete_tag`] with explicit [`DeleteTagOptions`]: always by digest
    /// (`tag_first: false`: `HEAD`, then `DELETE manifests/<digest>`), and/or with the other
    /// tags on the manifest listed first.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// use ocireg::DeleteTagOptions;
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let options = DeleteTagOptions { tag_first: false, list_other_tags: true, ..Default::default() };
    /// let gone = client.delete_tag_with("team/app", "v1", &options)?;
    /// println!("gone: {:?}", gone.removed_tags());
    /// # Ok(()) }
    /// ```
    pub fn delete_tag_with(
        &self,
        repository: &str,
        tag: &str,
        options: &DeleteTagOptions,
    ) -> Result<DeletedTag> {
        let repository = &Repository::parse(repository)?;
        let tag = crate::reference::Tag::parse(tag)?;
        let delete_scope = [format!("repository:{repository}:delete")];
        let pull_scope = [format!("repository:{repository}:pull")];
        let digest =
            self.resolve_digest(repository, &TagOrDigest::Tag(tag.clone()), &delete_scope)?;
        let other_tags = if options.list_other_tags {
            let all = self.tag_digests(repository, options.threads, &delete_scope)?;
            Some(
                all.into_iter()
                    .filter(|(t, d)| d == &digest && t.as_str() != tag.as_str())
                    .map(|(t, _)| t)
                    .collect(),
            )
        } else {
            None
        };
        let by_digest = || -> Result<bool> {
            self.delete_manifest_ref(repository, &digest.to_string(), &pull_scope)
                .map_err(|e| self.deletes_unsupported(e))?;
            Ok(true)
        };
        let manifest_deleted = if options.tag_first {
            match self.delete_manifest_ref(repository, tag.as_str(), &pull_scope) {
                Ok(()) => {
                    // Only the tag, by the spec; but some registries take the manifest along.
                    let r = TagOrDigest::Digest(digest.clone());
                    match self.resolve_digest(repository, &r, &delete_scope) {
                        Ok(_) => false,
                        Err(Error::NotFound { .. }) => true,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) if tag_form_refused(&e) => by_digest()?,
                Err(e) => return Err(self.deletes_unsupported(e)),
            }
        } else {
            by_digest()?
        };
        Ok(DeletedTag {
            repository: repository.to_string(),
            tag: tag.to_string(),
            digest,
            manifest_deleted,
            other_tags,
        })
    }

    /// `DELETE /v2/<repo>/manifests/<reference>` (a digest, or a tag where the registry takes
    /// one), with `extra` token scopes. Errors are the transport's, unmapped.
    fn delete_manifest_ref(
        &self,
        repository: &str,
        reference: &str,
        extra: &[String],
    ) -> Result<()> {
        let sep = if reference.contains(':') { "@" } else { ":" };
        let req = Request::new(
            Method::Delete,
            format!("/v2/{repository}/manifests/{reference}"),
            format!("DELETE manifest {repository}{sep}{reference}"),
        )
        .repo(repository, "delete");
        let resp = self
            .transport()
            .send_expect(with_scopes(req, extra), &[200, 202, 204])?;
        crate::transport::drain(resp);
        Ok(())
    }

    /// 405 to a manifest `DELETE` means the registry has deletes disabled (distribution answers
    /// 405 `UNSUPPORTED` unless `storage.delete.enabled`): [`Error::Unsupported`].
    fn deletes_unsupported(&self, e: Error) -> Error {
        match e {
            Error::Registry {
                status: 405,
                operation,
                errors,
                ..
            } => Error::Unsupported {
                registry: self.registry().to_string(),
                what: format!(
                    "deleting manifests ({operation} answered 405{}: deletes are disabled there)",
                    crate::error::InfoList(&errors)
                ),
            },
            e => e,
        }
    }
}

/// Whether a registry's answer to `DELETE manifests/<tag>` means "not by tag": 400 (distribution
/// 2.x parses the tag as a digest: `DIGEST_INVALID`), 404 (the tag was just found by `HEAD`),
/// 405 and 501.
fn tag_form_refused(e: &Error) -> bool {
    match e {
        Error::NotFound { .. } => true,
        Error::Registry { status, .. } => matches!(status, 400 | 405 | 501),
        _ => false,
    }
}

/// Adds `extra` token scopes to a request.
pub(crate) fn with_scopes<'a>(mut req: Request<'a>, extra: &[String]) -> Request<'a> {
    for s in extra {
        req = req.scope(s.clone());
    }
    req
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
