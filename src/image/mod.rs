//! Images to push: an [`Image`] is a manifest (or an index and its child images) together with
//! where each of its blobs can be read from. It comes from an OCI image layout
//! ([`Image::from_layout`]) or is built from parts with [`ImageBuilder`]; blobs stay on disk (or
//! in the caller's memory) until [`Client::push_image`](crate::Client::push_image) streams them.
//!
//! ```no_run
//! # fn main() -> ocireg::Result<()> {
//! use ocireg::{ImageBuilder, media_types};
//!
//! let image = ImageBuilder::new()
//!     .config(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec())
//!     .layer_file("layer.tar.gz", media_types::OCI_LAYER_GZIP)
//!     .annotation("org.opencontainers.image.source", "https://example.com/app")
//!     .build()?;
//! println!("manifest {} with {} layer(s)", image.digest(), image.layers().len());
//! # Ok(()) }
//! ```

pub(crate) mod layout;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::blob::{file_size, hash_file};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, ImageManifest, Manifest, media_types};

/// Where the bytes of one blob of an [`Image`] are.
#[derive(Clone)]
pub(crate) enum BlobData {
    /// A file (a layout's `blobs/<alg>/<hex>`, or a layer file given to the builder).
    File(PathBuf),
    /// Bytes in memory (shared, so cloning an image is cheap).
    Bytes(Arc<[u8]>),
    /// Not available locally: a foreign layer (with `urls`) missing from a layout; it is not
    /// pushed.
    Unavailable,
}

impl fmt::Debug for BlobData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobData::File(p) => f.debug_tuple("File").field(p).finish(),
            BlobData::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            BlobData::Unavailable => f.write_str("Unavailable"),
        }
    }
}

/// One blob of an image (the config or a layer) and where to read it from.
#[derive(Clone, Debug)]
pub(crate) struct ImageBlob {
    pub descriptor: Descriptor,
    pub data: BlobData,
}

/// An image ready to push: its manifest bytes (pushed exactly as they are), its config and
/// layers, or, for an index, its child images.
///
/// Build one with [`ImageBuilder`], or read one from an OCI image layout with
/// [`Image::from_layout`] / [`OciLayout::image`](crate::OciLayout::image).
#[derive(Clone, Debug)]
pub struct Image {
    pub(crate) manifest: Manifest,
    pub(crate) config: Option<Descriptor>,
    pub(crate) layers: Vec<Descriptor>,
    pub(crate) blobs: Vec<ImageBlob>,
    pub(crate) children: Vec<Image>,
    /// The descriptor a parent index (or a layout's `index.json`) has for this manifest.
    pub(crate) entry: Descriptor,
    /// The layout's `org.opencontainers.image.ref.name`, if any.
    pub(crate) ref_name: Option<String>,
}

impl Image {
    /// The manifest (or index) bytes, media type and digest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The digest of the manifest.
    pub fn digest(&self) -> &Digest {
        &self.manifest.digest
    }

    /// The media type of the manifest.
    pub fn media_type(&self) -> &str {
        &self.manifest.media_type
    }

    /// True for an index (OCI image index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        self.manifest.is_index()
    }

    /// The config descriptor (`None` for an index).
    pub fn config(&self) -> Option<&Descriptor> {
        self.config.as_ref()
    }

    /// The layer descriptors, base first (empty for an index).
    pub fn layers(&self) -> &[Descriptor] {
        &self.layers
    }

    /// The child images of an index, in index order (empty for an image manifest).
    pub fn children(&self) -> &[Image] {
        &self.children
    }

    /// The descriptor of this manifest as its parent index lists it (with its platform), or as
    /// a layout's `index.json` lists it.
    pub fn descriptor(&self) -> &Descriptor {
        &self.entry
    }

    /// The tag the image had in its layout (`org.opencontainers.image.ref.name`), if any.
    pub fn ref_name(&self) -> Option<&str> {
        self.ref_name.as_deref()
    }

    /// Every blob (config and layers) of the image and its children, each digest once.
    pub fn blob_descriptors(&self) -> Vec<&Descriptor> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        self.visit_blobs(&mut |b| {
            if seen.insert(&b.descriptor.digest) {
                out.push(&b.descriptor);
            }
        });
        out
    }

    /// The total size of the distinct blobs, in bytes.
    pub fn total_blob_size(&self) -> u64 {
        self.blob_descriptors().iter().map(|d| d.size).sum()
    }

    pub(crate) fn visit_blobs<'s>(&'s self, f: &mut dyn FnMut(&'s ImageBlob)) {
        for b in &self.blobs {
            f(b);
        }
        for c in &self.children {
            c.visit_blobs(f);
        }
    }

    /// An image manifest whose blobs are given; checks that every referenced blob is there.
    pub(crate) fn from_manifest(
        manifest: Manifest,
        entry: Descriptor,
        blob_source: &mut dyn FnMut(&Descriptor) -> Result<BlobData>,
    ) -> Result<Image> {
        let m: ImageManifest = manifest.image()?;
        let mut blobs = Vec::with_capacity(m.layers.len() + 1);
        for d in std::iter::once(&m.config).chain(m.layers.iter()) {
            if blobs
                .iter()
                .any(|b: &ImageBlob| b.descriptor.digest == d.digest)
            {
                continue;
            }
            blobs.push(ImageBlob {
                descriptor: d.clone(),
                data: blob_source(d)?,
            });
        }
        Ok(Image {
            manifest,
            config: Some(m.config),
            layers: m.layers,
            blobs,
            children: Vec::new(),
            entry,
            ref_name: None,
        })
    }
}

/// The manifest format [`ImageBuilder`] writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManifestFormat {
    /// An OCI image manifest (`application/vnd.oci.image.manifest.v1+json`). The default.
    #[default]
    Oci,
    /// A Docker image manifest, schema 2
    /// (`application/vnd.docker.distribution.manifest.v2+json`): OCI config and layer media
    /// types are mapped to their Docker equivalents.
    DockerV2,
}

#[derive(Clone, Debug)]
enum LayerSpec {
    File {
        path: PathBuf,
        media_type: String,
        digest: Option<Digest>,
    },
    Bytes {
        bytes: Arc<[u8]>,
        media_type: String,
    },
}

/// Builds an [`Image`] from a config and layers (files or bytes) and their media types.
///
/// Layer files are hashed by [`ImageBuilder::build`] (streaming, never loaded into memory)
/// unless their digest is given; the manifest is serialized once and pushed byte for byte.
///
/// ```
/// use ocireg::{ImageBuilder, ManifestFormat, media_types};
/// let image = ImageBuilder::new()
///     .config(br#"{"architecture":"amd64","os":"linux"}"#.to_vec())
///     .layer_bytes(b"not really a tarball".to_vec(), media_types::OCI_LAYER_GZIP)
///     .build()
///     .unwrap();
/// assert_eq!(image.media_type(), media_types::OCI_MANIFEST);
/// assert_eq!(image.layers()[0].size, 20);
///
/// let docker = ImageBuilder::new()
///     .config(b"{}".to_vec())
///     .layer_bytes(b"x".to_vec(), media_types::OCI_LAYER_GZIP)
///     .format(ManifestFormat::DockerV2)
///     .build()
///     .unwrap();
/// assert_eq!(docker.media_type(), media_types::DOCKER_MANIFEST);
/// assert_eq!(docker.layers()[0].media_type, media_types::DOCKER_LAYER_GZIP);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ImageBuilder {
    config: Option<(Arc<[u8]>, Option<String>)>,
    layers: Vec<LayerSpec>,
    annotations: BTreeMap<String, String>,
    format: ManifestFormat,
    artifact_type: Option<String>,
}

/// Docker schema 2 has no plain-tar OCI type name; this is its own.
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

impl ImageBuilder {
    /// An empty builder (OCI format).
    pub fn new() -> Self {
        Self::default()
    }

    /// The config blob (JSON bytes); its media type is the OCI (or Docker) image config type.
    pub fn config(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.config = Some((Arc::from(bytes.into()), None));
        self
    }

    /// The config blob with an explicit media type (e.g. an artifact's config type).
    pub fn config_with_media_type(
        mut self,
        bytes: impl Into<Vec<u8>>,
        media_type: impl Into<String>,
    ) -> Self {
        self.config = Some((Arc::from(bytes.into()), Some(media_type.into())));
        self
    }

    /// Adds a layer read from a file; it is hashed by [`ImageBuilder::build`].
    pub fn layer_file(mut self, path: impl Into<PathBuf>, media_type: impl Into<String>) -> Self {
        self.layers.push(LayerSpec::File {
            path: path.into(),
            media_type: media_type.into(),
            digest: None,
        });
        self
    }

    /// Adds a layer read from a file whose digest is known (not hashed again; the registry
    /// verifies it on upload).
    pub fn layer_file_with_digest(
        mut self,
        path: impl Into<PathBuf>,
        media_type: impl Into<String>,
        digest: Digest,
    ) -> Self {
        self.layers.push(LayerSpec::File {
            path: path.into(),
            media_type: media_type.into(),
            digest: Some(digest),
        });
        self
    }

    /// Adds a layer held in memory.
    pub fn layer_bytes(mut self, bytes: impl Into<Vec<u8>>, media_type: impl Into<String>) -> Self {
        self.layers.push(LayerSpec::Bytes {
            bytes: Arc::from(bytes.into()),
            media_type: media_type.into(),
        });
        self
    }

    /// Adds a manifest annotation (OCI format only).
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Sets the manifest's `artifactType` (OCI format only).
    pub fn artifact_type(mut self, media_type: impl Into<String>) -> Self {
        self.artifact_type = Some(media_type.into());
        self
    }

    /// The manifest format (default [`ManifestFormat::Oci`]).
    pub fn format(mut self, format: ManifestFormat) -> Self {
        self.format = format;
        self
    }

    /// Shorthand for `.format(ManifestFormat::DockerV2)`.
    pub fn docker_schema2(self) -> Self {
        self.format(ManifestFormat::DockerV2)
    }

    /// Hashes the layer files that need it and serializes the manifest.
    pub fn build(self) -> Result<Image> {
        let docker = self.format == ManifestFormat::DockerV2;
        let (config_bytes, config_type) = self.config.ok_or_else(|| {
            Error::InvalidInput(
                "ImageBuilder: an image needs a config (ImageBuilder::config)".into(),
            )
        })?;
        let config_type = match (config_type, docker) {
            (Some(t), false) => t,
            (Some(t), true) => docker_media_type(&t)?,
            (None, false) => media_types::OCI_CONFIG.to_string(),
            (None, true) => media_types::DOCKER_CONFIG.to_string(),
        };
        if docker && (!self.annotations.is_empty() || self.artifact_type.is_some()) {
            return Err(Error::InvalidInput(
                "ImageBuilder: Docker schema 2 manifests have no annotations or artifactType; \
                 use the OCI format"
                    .into(),
            ));
        }
        let config = Descriptor::new(
            config_type,
            Digest::sha256_of(&config_bytes),
            config_bytes.len() as u64,
        );
        let mut blobs = vec![ImageBlob {
            descriptor: config.clone(),
            data: BlobData::Bytes(config_bytes),
        }];
        let mut layers = Vec::with_capacity(self.layers.len());
        for spec in self.layers {
            let (descriptor, data) = match spec {
                LayerSpec::File {
                    path,
                    media_type,
                    digest,
                } => {
                    check_media_type(&media_type)?;
                    let (digest, size) = match digest {
                        Some(d) => (d, file_size(&path)?),
                        None => hash_file(&path)?,
                    };
                    let mt = if docker {
                        docker_media_type(&media_type)?
                    } else {
                        media_type
                    };
                    (Descriptor::new(mt, digest, size), BlobData::File(path))
                }
                LayerSpec::Bytes { bytes, media_type } => {
                    check_media_type(&media_type)?;
                    let mt = if docker {
                        docker_media_type(&media_type)?
                    } else {
                        media_type
                    };
                    (
                        Descriptor::new(mt, Digest::sha256_of(&bytes), bytes.len() as u64),
                        BlobData::Bytes(bytes),
                    )
                }
            };
            if !blobs
                .iter()
                .any(|b| b.descriptor.digest == descriptor.digest)
            {
                blobs.push(ImageBlob {
                    descriptor: descriptor.clone(),
                    data,
                });
            }
            layers.push(descriptor);
        }
        let media_type = if docker {
            media_types::DOCKER_MANIFEST
        } else {
            media_types::OCI_MANIFEST
        };
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(media_type.to_string()),
            artifact_type: self.artifact_type,
            config: config.clone(),
            layers: layers.clone(),
            subject: None,
            annotations: if self.annotations.is_empty() {
                None
            } else {
                Some(self.annotations)
            },
        };
        let bytes = serde_json::to_vec(&m).map_err(|e| {
            Error::InvalidInput(format!("ImageBuilder: serializing the manifest: {e}"))
        })?;
        let manifest = Manifest::from_bytes(bytes, Some(media_type))?;
        let entry = manifest.descriptor();
        Ok(Image {
            manifest,
            config: Some(config),
            layers,
            blobs,
            children: Vec::new(),
            entry,
            ref_name: None,
        })
    }
}

fn check_media_type(mt: &str) -> Result<()> {
    if mt.trim().is_empty() || mt.contains(['\r', '\n', '"']) {
        return Err(Error::InvalidInput(format!(
            "ImageBuilder: media type {mt:?} is empty or malformed"
        )));
    }
    Ok(())
}

/// Maps an OCI config or layer media type to its Docker schema 2 equivalent.
fn docker_media_type(mt: &str) -> Result<String> {
    Ok(match mt {
        media_types::OCI_CONFIG => media_types::DOCKER_CONFIG.to_string(),
        media_types::OCI_LAYER_GZIP => media_types::DOCKER_LAYER_GZIP.to_string(),
        media_types::OCI_LAYER_TAR => DOCKER_LAYER_TAR.to_string(),
        media_types::OCI_LAYER_ZSTD => {
            return Err(Error::InvalidInput(
                "ImageBuilder: Docker schema 2 has no zstd layer type; use the OCI format".into(),
            ));
        }
        other => other.to_string(),
    })
}
