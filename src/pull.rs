//! Pulling: blobs streamed and verified ([`Client::pull_blob`], [`Client::pull_blob_to_path`]),
//! and whole images into an OCI image layout ([`Client::pull_image`]), the inverse of
//! [`Client::push_image`].
//!
//! Every blob is hashed as it streams and checked against its digest and size; a file is
//! written under a temporary name in its target directory and renamed only once verified, so
//! nothing partial or unverified is ever left at the final path.
//!
//! ```no_run
//! # fn main() -> ocireg::Result<()> {
//! use ocireg::{Client, PullOptions};
//!
//! let client = Client::new("registry.example.com")?;
//! let pulled = client.pull_image("team/app", "v1", "./layout", &PullOptions::default())?;
//! println!("{} -> {}", pulled.digest, pulled.path.display());
//! // skopeo copy oci:./layout:v1 … reads it back.
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::client::Client;
use crate::digest::{Digest, HashingWriter};
use crate::download::BlobReader;
use crate::error::{Error, Result};
use crate::image::layout::{self, OciLayout};
use crate::manifest::{Descriptor, ImageIndex, Manifest, Platform, media_types};
use crate::push::Pushed;
use crate::reference::{Repository, TagOrDigest};
use crate::transfer::{DEFAULT_THREADS, Progress, ProgressEvent, ProgressFn, run_parallel};

/// Read/write buffer of blob downloads.
const COPY_BUFFER: usize = 128 * 1024;

/// How deep indexes may nest.
const MAX_DEPTH: usize = 8;

/// The largest image config [`Client::platform_descriptor`] reads.
const MAX_CONFIG_SIZE: u64 = 8 * 1024 * 1024;

/// How [`Client::pull_image`] pulls.
///
/// ```
/// let o = ocireg::PullOptions::default()
///     .platform("linux/arm64/v8".parse().unwrap());
/// assert_eq!(o.platform.unwrap().variant.as_deref(), Some("v8"));
/// ```
#[derive(Clone)]
pub struct PullOptions {
    /// Pull only the child of an index for this platform (OS and architecture; variant and
    /// OS version when given). `None`: an index is pulled with all its children.
    pub platform: Option<Platform>,
    /// Parallel blob downloads (default [`DEFAULT_THREADS`]).
    pub threads: usize,
    /// The progress callback (`false` cancels).
    pub progress: Option<ProgressFn>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            threads: DEFAULT_THREADS,
            progress: None,
        }
    }
}

impl fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullOptions")
            .field("platform", &self.platform)
            .field("threads", &self.threads)
            .field("progress", &self.progress.as_ref().map(|_| "Fn"))
            .finish()
    }
}

impl PullOptions {
    /// Pull only this platform's image from an index.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Sets the number of parallel downloads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets the progress callback (`false` cancels).
    pub fn progress(mut self, f: impl Fn(&Progress) -> bool + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }
}

/// Whether `have` (an index entry's or a config's platform) is what `want` asks for: same OS
/// and architecture, and the same variant and OS version when `want` names them.
pub(crate) fn platform_matches(want: &Platform, have: &Platform) -> bool {
    want.os == have.os
        && want.architecture == have.architecture
        && (want.variant.is_none() || want.variant == have.variant)
        && (want.os_version.is_none() || want.os_version == have.os_version)
}

/// The first entry of `index` for `want`, or [`Error::NotFound`] naming the platforms the
/// index has.
pub(crate) fn pick_platform<'i>(
    client: &Client,
    repository: &str,
    index: &'i ImageIndex,
    index_digest: &Digest,
    want: &Platform,
) -> Result<&'i Descriptor> {
    let chosen = index.manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| platform_matches(want, p))
    });
    chosen.ok_or_else(|| {
        let have: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
            .collect();
        Error::NotFound {
            registry: client.registry().to_string(),
            what: format!(
                "platform {want} in index {repository}@{index_digest} (it has: {})",
                if have.is_empty() {
                    "no platforms".to_string()
                } else {
                    have.join(", ")
                }
            ),
            errors: Vec::new(),
            body: None,
        }
    })
}

/// Counts of what a pull did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullStats {
    /// Blobs downloaded.
    pub blobs_downloaded: usize,
    /// Blobs already in the layout with the right digest.
    pub blobs_reused: usize,
    /// Bytes downloaded (blobs only).
    pub bytes_downloaded: u64,
    /// HTTP requests the client sent during the pull.
    pub requests: u64,
}

/// What [`Client::pull_image`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Pulled {
    /// The repository.
    pub repository: String,
    /// The tag the manifest was pulled by, if any (its `org.opencontainers.image.ref.name` in
    /// the layout).
    pub tag: Option<String>,
    /// The digest of the manifest written to `index.json`.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// Its platform (a child of an index).
    pub platform: Option<Platform>,
    /// The config (`None` for an index).
    pub config: Option<Descriptor>,
    /// The layers (empty for an index).
    pub layers: Vec<Descriptor>,
    /// The children of an index.
    pub children: Vec<Pulled>,
    /// When one platform was chosen from an index: that index (not written to the layout).
    pub from_index: Option<Descriptor>,
    /// The layout directory.
    pub path: PathBuf,
    /// Counts (on the top-level value only).
    pub stats: PullStats,
}

impl Pulled {
    /// What was pulled, as a [`Pushed`] value for [`Client::verify`]. When one platform was
    /// chosen from an index the tag is left out (the tag names the index).
    pub fn to_pushed(&self) -> Pushed {
        Pushed {
            repository: self.repository.clone(),
            tag: if self.from_index.is_some() {
                None
            } else {
                self.tag.clone()
            },
            digest: self.digest.clone(),
            media_type: self.media_type.clone(),
            size: self.size,
            platform: self.platform.clone(),
            config: self.config.clone(),
            layers: self.layers.clone(),
            children: self.children.iter().map(Pulled::to_pushed).collect(),
            stats: Default::default(),
        }
    }
}

/// One layer written by [`Client::pull_layers`].
#[derive(Clone, Debug, PartialEq)]
pub struct LayerFile {
    /// The layer's descriptor, as in the manifest.
    pub descriptor: Descriptor,
    /// Where it is: `<dir>/<algorithm>-<hex>` (e.g. `sha256-4bf5…`).
    pub path: PathBuf,
    /// `false` when the file was already there with the right digest (not downloaded again).
    pub downloaded: bool,
}

/// What [`Client::pull_layers`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct PulledLayers {
    /// The repository.
    pub repository: String,
    /// The digest of the image manifest whose layers these are.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its platform, when it was chosen from an index.
    pub platform: Option<Platform>,
    /// The index it was chosen from, if any.
    pub from_index: Option<Descriptor>,
    /// The config descriptor (not downloaded).
    pub config: Descriptor,
    /// The layers, in manifest order (base first).
    pub layers: Vec<LayerFile>,
    /// Counts.
    pub stats: PullStats,
}

/// The file name [`Client::pull_layers`] gives a blob: `<algorithm>-<hex>`, valid on every
/// file system (a digest's `:` is not allowed on Windows).
///
/// ```
/// let d = ocireg::Digest::sha256_of(b"layer");
/// let name = ocireg::layer_file_name(&d);
/// assert_eq!(name, format!("sha256-{}", d.hex()));
/// ```
pub fn layer_file_name(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm().as_str(), digest.hex())
}

/// A manifest fetched during a pull, with its children.
struct Node {
    manifest: Manifest,
    entry: Descriptor,
    config: Option<Descriptor>,
    layers: Vec<Descriptor>,
    children: Vec<Node>,
}

impl Client {
    /// Streams a blob into `writer`, hashing it on the way; the size (`Content-Length`) and the
    /// digest are verified at the end ([`Error::DigestMismatch`]). Returns the number of bytes.
    ///
    /// The writer has received the bytes even when verification fails: use
    /// [`Client::pull_blob_to_path`] to never keep unverified content.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let mut out = Vec::new();
    /// let digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    /// let n = client.pull_blob("team/app", digest, &mut out)?;
    /// assert_eq!(n as usize, out.len());
    /// # Ok(()) }
    /// ```
    pub fn pull_blob<W: Write + ?Sized>(
        &self,
        repository: &str,
        digest: &str,
        writer: &mut W,
    ) -> Result<u64> {
        let repository = &Repository::parse(repository)?;
        let d: Digest = digest.parse()?;
        let mut w = writer;
        self.fetch_blob(repository, &d, None, &mut w, &|_| true)
    }

    /// Downloads a blob to `path`: written to a temporary file in the same directory and
    /// renamed into place only once size and digest are verified; on any error nothing is left
    /// behind (an existing file at `path` is untouched). Returns the number of bytes.
    pub fn pull_blob_to_path(
        &self,
        repository: &str,
        digest: &str,
        path: impl AsRef<Path>,
    ) -> Result<u64> {
        let repository = &Repository::parse(repository)?;
        let d: Digest = digest.parse()?;
        self.fetch_blob_to_path(repository, &d, None, path.as_ref(), &|_| true)
    }

    fn fetch_blob_to_path(
        &self,
        repository: &str,
        digest: &Digest,
        expected_size: Option<u64>,
        path: &Path,
        progress: &dyn Fn(u64) -> bool,
    ) -> Result<u64> {
        let mut tmp = layout::WriteBehind::new(layout::temp_next_to(path)?);
        let n = self.fetch_blob(repository, digest, expected_size, &mut tmp, progress)?;
        layout::persist(tmp.finish()?, path)?;
        Ok(n)
    }

    /// GET a blob into `w` through a [`BlobReader`]: hashed, verified, never longer than its
    /// size, resumed after a broken connection. Returns the number of bytes.
    pub(crate) fn fetch_blob(
        &self,
        repository: &str,
        digest: &Digest,
        expected_size: Option<u64>,
        w: &mut dyn Write,
        progress: &dyn Fn(u64) -> bool,
    ) -> Result<u64> {
        self.fetch_blob_scoped(repository, digest, expected_size, w, progress, &[])
    }

    /// [`Client::fetch_blob`] asking for `extra` token scopes too.
    pub(crate) fn fetch_blob_scoped(
        &self,
        repository: &str,
        digest: &Digest,
        expected_size: Option<u64>,
        w: &mut dyn Write,
        progress: &dyn Fn(u64) -> bool,
        extra: &[String],
    ) -> Result<u64> {
        let what = format!("blob {repository}@{digest}");
        let repository = Repository::parse(repository)?;
        let mut reader =
            BlobReader::open_scoped(self, repository, digest.clone(), expected_size, extra)?;
        let mut buf = vec![0u8; COPY_BUFFER];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(BlobReader::error_of)?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n])
                .map_err(|e| Error::io(format!("writing {what}"), e))?;
            total += n as u64;
            if !progress(total) {
                return Err(Error::Cancelled(format!("download of {what}")));
            }
        }
        w.flush()
            .map_err(|e| Error::io(format!("writing {what}"), e))?;
        Ok(total)
    }

    /// Pulls an image (or an index with all its children, or one platform's image) into an OCI
    /// image layout at `dir` (created if needed; an existing layout keeps its other entries):
    /// blobs under `blobs/<alg>/<hex>`, verified, and an `index.json` entry for the manifest,
    /// annotated with the tag. The inverse of [`Client::push_image`]: pushing the layout back
    /// gives the same digests.
    ///
    /// Blobs already in the layout with the right digest are not downloaded again.
    pub fn pull_image(
        &self,
        repository: &str,
        reference: &str,
        dir: impl AsRef<Path>,
        options: &PullOptions,
    ) -> Result<Pulled> {
        let repository = &Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        let tag = r.tag().map(|t| t.to_string());
        let requests_before = self.request_count();
        let top = self.manifest(repository, reference)?;
        let top_entry = top.descriptor();
        let mut from_index = None;
        let root = match &options.platform {
            Some(want) if top.is_index() => {
                let (node, index_entry) = self.choose_platform(repository, top, want, 0)?;
                from_index = Some(index_entry);
                node
            }
            _ => self.fetch_tree(repository, top, top_entry, 0)?,
        };

        let mut layout = OciLayout::create(dir.as_ref())?;
        // Blobs, each digest once, largest first.
        let mut seen = BTreeSet::new();
        let mut blobs: Vec<&Descriptor> = Vec::new();
        collect_blobs(&root, &mut seen, &mut blobs);
        blobs.sort_by_key(|d| std::cmp::Reverse(d.size));
        for alg in blobs
            .iter()
            .map(|d| d.digest.algorithm())
            .collect::<BTreeSet<_>>()
        {
            let p = layout.root().join("blobs").join(alg.as_str());
            fs::create_dir_all(&p)
                .map_err(|e| Error::io(format!("creating {}", p.display()), e))?;
        }
        let abort = AtomicBool::new(false);
        let layout_ref = &layout;
        let results = run_parallel(&blobs, options.threads, &abort, |d| {
            self.pull_layout_blob(repository, layout_ref, d, options, &abort)
        })?;
        let mut stats = PullStats::default();
        for (d, downloaded) in blobs.iter().zip(results) {
            if downloaded {
                stats.blobs_downloaded += 1;
                stats.bytes_downloaded += d.size;
            } else {
                stats.blobs_reused += 1;
            }
        }
        // Manifests (children first), then the index.json entry.
        write_manifests(&layout, &root)?;
        let mut entry = root.entry.clone();
        if let Some(a) = entry.annotations.as_mut() {
            a.remove(layout::REF_NAME_ANNOTATION);
            if a.is_empty() {
                entry.annotations = None;
            }
        }
        layout.set_ref(entry, tag.as_deref());
        layout.save()?;
        stats.requests = self.request_count().saturating_sub(requests_before);
        let mut pulled = to_pulled(&root, repository, tag, layout.root());
        pulled.from_index = from_index;
        pulled.stats = stats;
        Ok(pulled)
    }

    /// The descriptor of the manifest for `platform` that `reference` names (docker_registry2's
    /// `digest(repo, tag, arch, os, variant)`):
    ///
    /// * for an index (or Docker manifest list), the first child whose platform matches: same
    ///   OS and architecture, and the same variant and OS version when `platform` names them
    ///   (`linux/arm64` matches `linux/arm64/v8`; `linux/arm64/v8` does not match an entry with
    ///   no variant); nested indexes are followed. The descriptor is the index entry's, with
    ///   its platform. Requests: one manifest `GET` (one more per nested index).
    /// * for a plain image manifest, its own descriptor when its config's `os` and
    ///   `architecture` (and `variant`, `os.version` when asked) match: the config blob is
    ///   read (one more `GET`). The descriptor carries the config's platform.
    ///
    /// No match is [`Error::NotFound`], whose message names the platforms that exist
    /// (`platform linux/s390x in index team/app@sha256:… (it has: linux/amd64, linux/arm64/v8)`).
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let d = client.platform_descriptor("team/app", "v1", &"linux/arm64".parse()?)?;
    /// println!("{} {} ({} bytes)", d.digest, d.media_type, d.size);
    /// # Ok(()) }
    /// ```
    pub fn platform_descriptor(
        &self,
        repository: &str,
        reference: &str,
        platform: &Platform,
    ) -> Result<Descriptor> {
        let repository = &Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        let mut m = self.get_manifest(repository, &r, &[])?;
        for _ in 0..=MAX_DEPTH {
            if m.is_index() {
                let index = m.index()?;
                let chosen = pick_platform(self, repository, &index, &m.digest, platform)?;
                if !media_types::is_index(&chosen.media_type) {
                    return Ok(chosen.clone());
                }
                m = self.fetch_child(repository, chosen)?;
                continue;
            }
            let image = m.image()?;
            let have = self.config_platform(repository, &image.config)?;
            return match have {
                Some(have) if platform_matches(platform, &have) => {
                    let mut d = m.descriptor();
                    d.platform = Some(have);
                    Ok(d)
                }
                have => Err(Error::NotFound {
                    registry: self.registry().to_string(),
                    what: format!(
                        "platform {platform} in manifest {repository}@{} (it has: {})",
                        m.digest,
                        have.map_or_else(|| "no platform".to_string(), |p| p.to_string())
                    ),
                    errors: Vec::new(),
                    body: None,
                }),
            };
        }
        Err(self.transport().protocol(format!(
            "{repository}: indexes nest more than {MAX_DEPTH} deep"
        )))
    }

    /// The platform an image config declares (`os`, `architecture`, `variant`, `os.version`),
    /// `None` for a config that is not an image config or declares none.
    fn config_platform(&self, repository: &str, config: &Descriptor) -> Result<Option<Platform>> {
        if config.media_type != media_types::OCI_CONFIG
            && config.media_type != media_types::DOCKER_CONFIG
        {
            return Ok(None);
        }
        if config.size > MAX_CONFIG_SIZE {
            return Err(Error::InvalidInput(format!(
                "the config {} of {repository} is {} bytes, more than the {MAX_CONFIG_SIZE} \
                 bytes ocireg reads",
                config.digest, config.size
            )));
        }
        let mut bytes = Vec::new();
        self.fetch_blob(
            repository,
            &config.digest,
            Some(config.size),
            &mut bytes,
            &|_| true,
        )?;
        Ok(serde_json::from_slice::<Platform>(&bytes)
            .ok()
            .filter(|p| !p.os.is_empty() && !p.architecture.is_empty()))
    }

    /// Downloads the layers of an image into `dir` as docker_registry2's `pull(repo, tag, dir)`
    /// does: one file per layer blob, named by its digest ([`layer_file_name`]:
    /// `<dir>/sha256-<hex>`), each verified (written to a temporary file and renamed only once
    /// its size and digest match), in parallel on [`PullOptions::threads`] threads. The config
    /// and the manifest are not written (use [`Client::pull_image`] for a whole OCI layout).
    ///
    /// A file already at its path with the right digest is kept (not downloaded again). For an
    /// index, the image of [`PullOptions::platform`] is chosen, by default
    /// [`Platform::current`]; for a plain manifest the platform option is not checked.
    ///
    /// Requests: the manifest `GET` (and the chosen child's, for an index), then one blob `GET`
    /// per layer to download.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let pulled = client.pull_layers("team/app", "v1", "./layers", &Default::default())?;
    /// for l in &pulled.layers {
    ///     println!("{} -> {}", l.descriptor.digest, l.path.display());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn pull_layers(
        &self,
        repository: &str,
        reference: &str,
        dir: impl AsRef<Path>,
        options: &PullOptions,
    ) -> Result<PulledLayers> {
        let repository = &Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        let dir = dir.as_ref();
        let requests_before = self.request_count();
        let top = self.get_manifest(repository, &r, &[])?;
        let (node, from_index) = if top.is_index() {
            let want = options.platform.clone().unwrap_or_else(Platform::current);
            let (node, index) = self.choose_platform(repository, top, &want, 0)?;
            (node, Some(index))
        } else {
            let entry = top.descriptor();
            (self.fetch_tree(repository, top, entry, 0)?, None)
        };
        let config = node.config.clone().ok_or_else(|| {
            Error::InvalidInput(format!(
                "manifest {repository}@{} has no config",
                node.manifest.digest
            ))
        })?;
        fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        // Each digest once (a manifest may list a layer twice).
        let mut seen = BTreeSet::new();
        let unique: Vec<&Descriptor> = node
            .layers
            .iter()
            .filter(|d| seen.insert(&d.digest))
            .collect();
        let abort = AtomicBool::new(false);
        let downloaded = run_parallel(&unique, options.threads, &abort, |d| {
            self.pull_layer_file(repository, dir, d, options, &abort)
        })?;
        let mut stats = PullStats::default();
        for (d, was) in unique.iter().zip(&downloaded) {
            if *was {
                stats.blobs_downloaded += 1;
                stats.bytes_downloaded += d.size;
            } else {
                stats.blobs_reused += 1;
            }
        }
        let layers = node
            .layers
            .iter()
            .map(|d| {
                let i = unique.iter().position(|u| u.digest == d.digest);
                LayerFile {
                    descriptor: d.clone(),
                    path: dir.join(layer_file_name(&d.digest)),
                    downloaded: i.is_some_and(|i| downloaded[i]),
                }
            })
            .collect();
        stats.requests = self.request_count().saturating_sub(requests_before);
        Ok(PulledLayers {
            repository: repository.to_string(),
            digest: node.manifest.digest.clone(),
            media_type: node.manifest.media_type.clone(),
            platform: if from_index.is_some() {
                node.entry.platform.clone()
            } else {
                None
            },
            from_index,
            config,
            layers,
            stats,
        })
    }

    /// Downloads one layer to `<dir>/<algorithm>-<hex>` unless it is there with the right
    /// digest; true when downloaded.
    fn pull_layer_file(
        &self,
        repository: &str,
        dir: &Path,
        d: &Descriptor,
        options: &PullOptions,
        abort: &AtomicBool,
    ) -> Result<bool> {
        if abort.load(Ordering::Relaxed) {
            return Err(Error::Cancelled(format!("download of blob {}", d.digest)));
        }
        let report = |done: u64, event: ProgressEvent| -> bool {
            if abort.load(Ordering::Relaxed) {
                return false;
            }
            match &options.progress {
                Some(cb) => cb(&Progress {
                    digest: d.digest.clone(),
                    done,
                    total: d.size,
                    event,
                }),
                None => true,
            }
        };
        let path = dir.join(layer_file_name(&d.digest));
        if file_has_digest(&path, &d.digest) {
            if !report(d.size, ProgressEvent::Reused) {
                return Err(Error::Cancelled(format!("pull from {repository}")));
            }
            return Ok(false);
        }
        self.fetch_blob_to_path(repository, &d.digest, Some(d.size), &path, &|done| {
            report(done, ProgressEvent::Downloading)
        })?;
        if !report(d.size, ProgressEvent::Downloaded) {
            return Err(Error::Cancelled(format!("pull from {repository}")));
        }
        Ok(true)
    }

    /// Downloads one blob into the layout unless it is there with the right digest; true when
    /// downloaded.
    fn pull_layout_blob(
        &self,
        repository: &str,
        layout: &OciLayout,
        d: &Descriptor,
        options: &PullOptions,
        abort: &AtomicBool,
    ) -> Result<bool> {
        if abort.load(Ordering::Relaxed) {
            return Err(Error::Cancelled(format!("download of blob {}", d.digest)));
        }
        let report = |done: u64, event: ProgressEvent| -> bool {
            if abort.load(Ordering::Relaxed) {
                return false;
            }
            match &options.progress {
                Some(cb) => cb(&Progress {
                    digest: d.digest.clone(),
                    done,
                    total: d.size,
                    event,
                }),
                None => true,
            }
        };
        let path = layout.blob_path(&d.digest);
        if layout.has_blob(d) && file_has_digest(&path, &d.digest) {
            if !report(d.size, ProgressEvent::Reused) {
                return Err(Error::Cancelled(format!("pull from {repository}")));
            }
            return Ok(false);
        }
        self.fetch_blob_to_path(repository, &d.digest, Some(d.size), &path, &|done| {
            report(done, ProgressEvent::Downloading)
        })?;
        if !report(d.size, ProgressEvent::Downloaded) {
            return Err(Error::Cancelled(format!("pull from {repository}")));
        }
        Ok(true)
    }

    /// Fetches the children of an index (recursively) and reads image manifests.
    fn fetch_tree(
        &self,
        repository: &str,
        manifest: Manifest,
        entry: Descriptor,
        depth: usize,
    ) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(self.transport().protocol(format!(
                "{repository}: indexes nest more than {MAX_DEPTH} deep"
            )));
        }
        if manifest.is_index() {
            let index = manifest.index()?;
            let mut children = Vec::with_capacity(index.manifests.len());
            for child in &index.manifests {
                let m = self.fetch_child(repository, child)?;
                children.push(self.fetch_tree(repository, m, child.clone(), depth + 1)?);
            }
            return Ok(Node {
                manifest,
                entry,
                config: None,
                layers: Vec::new(),
                children,
            });
        }
        if !media_types::is_image_manifest(&manifest.media_type) {
            return Err(Error::InvalidInput(format!(
                "manifest {} of {repository} has media type {:?}, which ocireg cannot pull",
                manifest.digest,
                crate::digest::shorten(&manifest.media_type)
            )));
        }
        let m = manifest.image()?;
        Ok(Node {
            manifest,
            entry,
            config: Some(m.config),
            layers: m.layers,
            children: Vec::new(),
        })
    }

    /// A child manifest by digest, checked against its descriptor's size.
    fn fetch_child(&self, repository: &str, d: &Descriptor) -> Result<Manifest> {
        let m = self.manifest(repository, &d.digest.to_string())?;
        if m.bytes.len() as u64 != d.size {
            return Err(Error::DigestMismatch {
                what: format!("manifest {repository}@{} (size)", d.digest),
                expected: format!("{} bytes", d.size),
                actual: format!("{} bytes", m.bytes.len()),
            });
        }
        Ok(m)
    }

    /// Picks the child of an index for `want`; returns its tree and the index's descriptor.
    fn choose_platform(
        &self,
        repository: &str,
        index_manifest: Manifest,
        want: &Platform,
        depth: usize,
    ) -> Result<(Node, Descriptor)> {
        if depth > MAX_DEPTH {
            return Err(self.transport().protocol(format!(
                "{repository}: indexes nest more than {MAX_DEPTH} deep"
            )));
        }
        let index = index_manifest.index()?;
        let chosen = pick_platform(self, repository, &index, &index_manifest.digest, want)?;
        let m = self.fetch_child(repository, chosen)?;
        if m.is_index() {
            let (node, _) = self.choose_platform(repository, m, want, depth + 1)?;
            return Ok((node, index_manifest.descriptor()));
        }
        let node = self.fetch_tree(repository, m, chosen.clone(), depth + 1)?;
        Ok((node, index_manifest.descriptor()))
    }
}

fn collect_blobs<'n>(n: &'n Node, seen: &mut BTreeSet<&'n Digest>, out: &mut Vec<&'n Descriptor>) {
    for d in n.config.iter().chain(n.layers.iter()) {
        if seen.insert(&d.digest) {
            out.push(d);
        }
    }
    for c in &n.children {
        collect_blobs(c, seen, out);
    }
}

fn write_manifests(layout: &OciLayout, n: &Node) -> Result<()> {
    for c in &n.children {
        write_manifests(layout, c)?;
    }
    let path = layout.blob_path(&n.manifest.digest);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    layout::write_atomic(&path, &n.manifest.bytes)
}

fn to_pulled(n: &Node, repository: &str, tag: Option<String>, path: &Path) -> Pulled {
    Pulled {
        repository: repository.to_string(),
        tag,
        digest: n.manifest.digest.clone(),
        media_type: n.manifest.media_type.clone(),
        size: n.manifest.bytes.len() as u64,
        platform: n.entry.platform.clone(),
        config: n.config.clone(),
        layers: n.layers.clone(),
        children: n
            .children
            .iter()
            .map(|c| to_pulled(c, repository, None, path))
            .collect(),
        from_index: None,
        path: path.to_path_buf(),
        stats: PullStats::default(),
    }
}

/// True when the file hashes to `digest` (streaming).
fn file_has_digest(path: &Path, digest: &Digest) -> bool {
    let Ok(f) = fs::File::open(path) else {
        return false;
    };
    let mut hw = HashingWriter::new(io::sink(), digest.algorithm());
    let mut r = io::BufReader::with_capacity(COPY_BUFFER, f);
    if io::copy(&mut r, &mut hw).is_err() {
        return false;
    }
    let (actual, _, _) = hw.finish();
    &actual == digest
}
