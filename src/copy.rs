//! Copying images between repositories and registries: [`Client::copy`], [`Client::copy_to`],
//! and [`Client::retag`].
//!
//! A copy reads the source manifest (and, for an index, every child manifest), then brings
//! every blob over, in parallel, each skipped when the destination has it (one request); then it
//! puts the child manifests by digest and the top manifest last, under the destination
//! reference. Manifests are copied as the bytes the source holds, so every digest stays the
//! same, and a failed copy never leaves a destination manifest pointing at a missing blob.
//!
//! * **Within one registry** (the destination client is the source client or a clone of it),
//!   blobs are mounted across repositories (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`)
//!   and never transferred; under Bearer auth every request of the copy asks for the source's
//!   `pull` and the destination's `pull,push`, so one token serves the whole copy.
//! * **Between registries**, each blob is streamed: the download from the source is the body
//!   of the upload to the destination, through a small bounded buffer (at most 896 KiB per
//!   blob in flight), never a temporary file. The download is hashed on the way, and its last
//!   bytes are handed to the upload only once the digest matched: a corrupt source blob fails
//!   the upload instead of landing in the destination.
//!
//! ```no_run
//! # fn main() -> ocireg::Result<()> {
//! use ocireg::{Client, CopyOptions};
//!
//! let src = Client::new("registry-a.example.com")?;
//! let dst = Client::new("registry-b.example.com")?;
//! let copied = src.copy_to("team/app", "v1", &dst, "mirror/app", "v1", &CopyOptions::default())?;
//! println!("{} ({} blobs streamed)", copied.digest, copied.stats.blobs_uploaded);
//! assert!(dst.verify("mirror/app", &copied).is_verified());
//!
//! // Within one registry: mounts, no blob bytes move.
//! src.copy("team/app", "v1", "team/app-stable", "v1", &CopyOptions::default())?;
//! # Ok(()) }
//! ```

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

use crate::blob::{BlobSource, BlobStatus, UploadOptions, Uploader, Watch, with_prepared};
use crate::client::Client;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, Manifest, Platform, media_types, with_scopes};
use crate::pull::pick_platform;
use crate::push::{PushStats, Pushed};
use crate::reference::{Repository, Tag, TagOrDigest};
use crate::transfer::{DEFAULT_THREADS, Progress, ProgressEvent, ProgressFn, run_parallel};
use crate::transport::{Method, Request, drain};

/// How deep indexes may nest.
const MAX_DEPTH: usize = 8;

/// Chunks queued between a blob's download and its upload (each at most the download buffer,
/// 128 KiB). With the chunk the download holds back, the one it is sending and the one the
/// upload is reading, a blob in flight holds at most `PIPE_SLOTS + 3` chunks: 896 KiB.
const PIPE_SLOTS: usize = 4;

/// How [`Client::copy`] and [`Client::copy_to`] copy.
///
/// ```
/// let o = ocireg::CopyOptions::default()
///     .threads(8)
///     .platform("linux/arm64".parse().unwrap());
/// assert_eq!(o.threads, 8);
/// assert_eq!(o.platform.unwrap().architecture, "arm64");
/// ```
#[derive(Clone)]
pub struct CopyOptions {
    /// Blobs copied in parallel (default [`DEFAULT_THREADS`]; at least 1).
    pub threads: usize,
    /// How each blob is uploaded to the destination (monolithic by default; `chunked` for
    /// registries or proxies with a body size limit).
    pub upload: UploadOptions,
    /// Copy only the image for this platform from an index: the destination reference then
    /// names that image's manifest, not an index. `None` (default): an index is copied with
    /// every child. Ignored when the source is a plain manifest.
    pub platform: Option<Platform>,
    /// The progress callback, told of each blob: [`ProgressEvent::Uploading`] as bytes go up,
    /// then [`ProgressEvent::Existed`], [`ProgressEvent::Mounted`] or
    /// [`ProgressEvent::Uploaded`]. Returning `false` cancels the copy.
    pub progress: Option<ProgressFn>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            threads: DEFAULT_THREADS,
            upload: UploadOptions::default(),
            platform: None,
            progress: None,
        }
    }
}

impl fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyOptions")
            .field("threads", &self.threads)
            .field("upload", &self.upload)
            .field("platform", &self.platform)
            .field("progress", &self.progress.as_ref().map(|_| "Fn"))
            .finish()
    }
}

impl CopyOptions {
    /// Sets the number of blobs copied in parallel.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Uploads blobs in `PATCH` chunks of `chunk_size` bytes.
    pub fn chunked(mut self, chunk_size: u64) -> Self {
        self.upload.chunked = true;
        self.upload.chunk_size = chunk_size;
        self
    }

    /// Copies only this platform's image from an index.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Sets the progress callback (`false` cancels).
    pub fn progress(mut self, f: impl Fn(&Progress) -> bool + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}

/// A source manifest with its children.
struct Node {
    manifest: Manifest,
    /// How the parent index lists it (its platform); the manifest's own descriptor at the top.
    entry: Descriptor,
    config: Option<Descriptor>,
    layers: Vec<Descriptor>,
    children: Vec<Node>,
}

/// Everything a copy needs to know about its two ends.
struct Ends<'a> {
    src: &'a Client,
    src_repo: &'a str,
    dst: &'a Client,
    dst_repo: &'a str,
    /// Same client: mount from `src_repo`.
    mount: bool,
    /// Token scopes the source's requests ask for besides their own.
    src_extra: Vec<String>,
    /// Token scopes the destination's requests ask for besides their own.
    dst_extra: Vec<String>,
}

impl Client {
    /// Copies an image (a manifest, or an index with all its children) from
    /// `repository:reference` to `to_repository:to_reference` in this registry, mounting every
    /// blob the destination lacks from the source repository: no blob bytes are transferred.
    ///
    /// `reference` is a tag, a digest or `tag@digest`; `to_reference` a tag, or the source's
    /// digest to copy untagged. Returns what is now at the destination, for
    /// [`Client::verify`]; its [`Pushed::stats`] count mounted and existing blobs and the
    /// requests sent.
    ///
    /// Requests for an image of n blobs none of which the destination has: the manifest `GET`,
    /// then per blob `HEAD` (404) and `POST ?mount=&from=` (201), then the manifest `PUT`; an
    /// index adds a `GET` per child, and a `HEAD` (and `PUT` when missing) per child at the
    /// destination. Blobs the destination has cost one `HEAD` each. Under Bearer auth every
    /// request asks for `repository:<repository>:pull` and `repository:<to_repository>:pull,push`:
    /// one token fetch for the whole copy. A registry that does not mount (202) gets the blob
    /// streamed from the source repository into the session it opened.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let copied = client.copy("team/app", "v1", "team/app-stable", "v1", &Default::default())?;
    /// assert_eq!(copied.stats.bytes_uploaded, 0);
    /// assert!(client.verify("team/app-stable", &copied).is_verified());
    /// # Ok(()) }
    /// ```
    pub fn copy(
        &self,
        repository: &str,
        reference: &str,
        to_repository: &str,
        to_reference: &str,
        options: &CopyOptions,
    ) -> Result<Pushed> {
        self.copy_to(
            repository,
            reference,
            self,
            to_repository,
            to_reference,
            options,
        )
    }

    /// Copies an image (a manifest, or an index with all its children) from
    /// `repository:reference` on this client's registry to `to_repository:to_reference`
    /// through the client `to`, usually of another registry.
    ///
    /// When `to` is this client or a clone of it, this is [`Client::copy`] (mounts).
    /// Otherwise every blob the destination lacks is streamed: its download from this
    /// registry is the body of its upload to the other (bounded memory, no temporary file),
    /// verified on the way; blobs in parallel on [`CopyOptions::threads`] threads, the largest
    /// first; child manifests by digest, then the top manifest last under `to_reference`,
    /// all as the same bytes (same digests). Blobs the destination already has are skipped
    /// after one round trip (the `POST` that would open the upload, asking for a mount from
    /// the destination repository itself; with a `HEAD` alongside for a large blob). Foreign
    /// layers (descriptors with `urls`) are not copied.
    ///
    /// Requests per blob to copy: source `GET`; destination `POST`, `PUT` (the streamed body),
    /// the `POST` asking for a mount from the destination repository itself, and for a blob
    /// over [`crate::ASK_BY_MOUNT_MAX`] bytes a `HEAD` (404) sent alongside it. Per
    /// manifest: a source `GET`, a destination `HEAD` for children, a `PUT`. A blob whose transfer fails with a transient error (network, 5xx, 429) is
    /// copied again from the start, as the destination client's retry policy allows.
    /// [`Pushed::stats`] counts the requests of both clients.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// use ocireg::{Client, CopyOptions};
    /// let src = Client::new("registry-a.example.com")?;
    /// let dst = Client::new("registry-b.example.com")?;
    /// let options = CopyOptions::default().threads(8).progress(|p| {
    ///     eprintln!("{} {}/{} {:?}", p.digest, p.done, p.total, p.event);
    ///     true
    /// });
    /// let copied = src.copy_to("team/app", "v1", &dst, "team/app", "v1", &options)?;
    /// println!("{}: {} bytes streamed", copied.reference(), copied.stats.bytes_uploaded);
    /// # Ok(()) }
    /// ```
    pub fn copy_to(
        &self,
        repository: &str,
        reference: &str,
        to: &Client,
        to_repository: &str,
        to_reference: &str,
        options: &CopyOptions,
    ) -> Result<Pushed> {
        let src_repo = Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        let dst_repo = Repository::parse(to_repository)?;
        let to_r = TagOrDigest::parse(to_reference)?;
        let mount = Arc::ptr_eq(&self.inner, &to.inner);
        let (src_extra, dst_extra) = if mount {
            (
                vec![format!("repository:{dst_repo}:pull,push")],
                vec![format!("repository:{src_repo}:pull")],
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let ends = Ends {
            src: self,
            src_repo: &src_repo,
            dst: to,
            dst_repo: &dst_repo,
            mount,
            src_extra,
            dst_extra,
        };
        let before = (self.request_count(), to.request_count());
        let mut stats = PushStats::default();

        // 1. The source: the manifest, its children, or the one platform asked for.
        let top = self.get_manifest(&src_repo, &r, &ends.src_extra)?;
        let root = match &options.platform {
            Some(want) if top.is_index() => ends.choose_platform(top, want)?,
            _ => {
                let entry = top.descriptor();
                ends.fetch_tree(top, entry, 0)?
            }
        };
        if let Some(d) = to_r.digest()
            && d != &root.manifest.digest
        {
            return Err(Error::DigestMismatch {
                what: format!("copy of {src_repo}:{r} to {dst_repo}:{to_r}"),
                expected: d.to_string(),
                actual: root.manifest.digest.to_string(),
            });
        }

        // 2. Every blob, each digest once, largest first.
        let mut seen = BTreeSet::new();
        let mut blobs = Vec::new();
        collect_blobs(&root, &mut seen, &mut blobs);
        blobs.sort_by_key(|d| Reverse(d.size));
        let abort = AtomicBool::new(false);
        let statuses = run_parallel(&blobs, options.threads, &abort, |d| {
            ends.copy_blob(d, options, &abort)
        })?;
        for (d, s) in blobs.iter().zip(&statuses) {
            match s {
                BlobStatus::Existed => stats.blobs_existing += 1,
                BlobStatus::Mounted => stats.blobs_mounted += 1,
                BlobStatus::Uploaded => {
                    stats.blobs_uploaded += 1;
                    stats.bytes_uploaded += d.size;
                }
            }
        }

        // 3. Child manifests by digest, deepest first, each level in parallel.
        let mut levels: Vec<Vec<&Node>> = Vec::new();
        collect_levels(&root, 0, &mut levels);
        let mut done = BTreeSet::new();
        for level in levels.iter().rev() {
            let todo: Vec<&Node> = level
                .iter()
                .copied()
                .filter(|n| done.insert(n.manifest.digest.clone()))
                .collect();
            let put = run_parallel(&todo, options.threads, &abort, |n| ends.put_child(n))?;
            for was_put in put {
                if was_put {
                    stats.manifests_put += 1;
                } else {
                    stats.manifests_existing += 1;
                }
            }
        }

        // 4. The manifest itself, under the destination reference.
        let put_ref = match &to_r {
            TagOrDigest::Digest(d) => TagOrDigest::Digest(d.clone()),
            TagOrDigest::Tag(t) | TagOrDigest::TagAndDigest(t, _) => TagOrDigest::Tag(t.clone()),
        };
        let digest = to.put_manifest_as(
            &dst_repo,
            &put_ref,
            &root.manifest.media_type,
            &root.manifest.bytes,
            &ends.dst_extra,
        )?;
        stats.manifests_put += 1;
        if digest != root.manifest.digest {
            return Err(Error::DigestMismatch {
                what: format!("manifest copied to {dst_repo}:{to_r}"),
                expected: root.manifest.digest.to_string(),
                actual: digest.to_string(),
            });
        }
        stats.requests = self.request_count().saturating_sub(before.0);
        if !mount {
            stats.requests += to.request_count().saturating_sub(before.1);
        }
        let mut pushed = to_pushed(&root, &dst_repo, to_r.tag().map(|t| t.to_string()));
        pushed.stats = stats;
        Ok(pushed)
    }

    /// Gives an existing manifest another tag: `repository:reference` is also
    /// `to_repository:to_tag` afterwards.
    ///
    /// In the same repository the manifest is fetched and put back under `to_tag` as the same
    /// bytes with the same media type (two requests: `GET`, `PUT`; under Bearer auth one
    /// token for both). Into another repository it is a [`Client::copy`] (blobs mounted,
    /// child manifests copied).
    ///
    /// Returns the manifest now tagged `to_tag`, for [`Client::verify`]. In the same
    /// repository the children of an index are listed by descriptor only (their blobs were not
    /// looked at, so [`Pushed::children`] have no config or layers).
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let tagged = client.retag("team/app", "v1.2.3", "team/app", "stable")?;
    /// println!("stable is now {}", tagged.digest);
    /// # Ok(()) }
    /// ```
    pub fn retag(
        &self,
        repository: &str,
        reference: &str,
        to_repository: &str,
        to_tag: &str,
    ) -> Result<Pushed> {
        let repo = Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        let to_repo = Repository::parse(to_repository)?;
        let to_tag = Tag::parse(to_tag)?;
        if repo != to_repo {
            return self.copy(
                repository,
                reference,
                to_repository,
                to_tag.as_str(),
                &CopyOptions::default(),
            );
        }
        let before = self.request_count();
        let both = [format!("repository:{repo}:pull,push")];
        let m = self.get_manifest(&repo, &r, &both)?;
        let digest = self.put_manifest_as(
            &repo,
            &TagOrDigest::Tag(to_tag.clone()),
            &m.media_type,
            &m.bytes,
            &[],
        )?;
        if digest != m.digest {
            return Err(Error::DigestMismatch {
                what: format!("manifest retagged {repo}:{to_tag}"),
                expected: m.digest.to_string(),
                actual: digest.to_string(),
            });
        }
        let mut pushed = Pushed {
            repository: repo.to_string(),
            tag: Some(to_tag.to_string()),
            digest: m.digest.clone(),
            media_type: m.media_type.clone(),
            size: m.bytes.len() as u64,
            platform: None,
            config: None,
            layers: Vec::new(),
            children: Vec::new(),
            stats: PushStats {
                manifests_put: 1,
                ..PushStats::default()
            },
        };
        if m.is_index() {
            pushed.children = m
                .index()?
                .manifests
                .into_iter()
                .map(|d| Pushed {
                    repository: repo.to_string(),
                    tag: None,
                    digest: d.digest,
                    media_type: d.media_type,
                    size: d.size,
                    platform: d.platform,
                    config: None,
                    layers: Vec::new(),
                    children: Vec::new(),
                    stats: PushStats::default(),
                })
                .collect();
        } else if media_types::is_image_manifest(&m.media_type) {
            let image = m.image()?;
            pushed.config = Some(image.config);
            pushed.layers = image.layers;
        }
        pushed.stats.requests = self.request_count().saturating_sub(before);
        Ok(pushed)
    }
}

impl Ends<'_> {
    /// The source manifest's children, recursively, checked against their descriptors.
    fn fetch_tree(&self, manifest: Manifest, entry: Descriptor, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(self.src.transport().protocol(format!(
                "{}: indexes nest more than {MAX_DEPTH} deep",
                self.src_repo
            )));
        }
        if manifest.is_index() {
            let index = manifest.index()?;
            let mut children = Vec::with_capacity(index.manifests.len());
            for child in &index.manifests {
                let m = self.fetch_child(child)?;
                children.push(self.fetch_tree(m, child.clone(), depth + 1)?);
            }
            return Ok(Node {
                manifest,
                entry,
                config: None,
                layers: Vec::new(),
                children,
            });
        }
        let m = manifest.image().map_err(|e| {
            Error::InvalidInput(format!(
                "manifest {} of {} ({}) cannot be copied: {e}",
                manifest.digest, self.src_repo, manifest.media_type
            ))
        })?;
        Ok(Node {
            manifest,
            entry,
            config: Some(m.config),
            layers: m.layers,
            children: Vec::new(),
        })
    }

    /// A child manifest of the source by digest, checked against its descriptor's size.
    fn fetch_child(&self, d: &Descriptor) -> Result<Manifest> {
        let m = self.src.get_manifest(
            self.src_repo,
            &TagOrDigest::Digest(d.digest.clone()),
            &self.src_extra,
        )?;
        if m.bytes.len() as u64 != d.size {
            return Err(Error::DigestMismatch {
                what: format!("manifest {}@{} (size)", self.src_repo, d.digest),
                expected: format!("{} bytes", d.size),
                actual: format!("{} bytes", m.bytes.len()),
            });
        }
        Ok(m)
    }

    /// The image of `want` in an index (following nested indexes).
    fn choose_platform(&self, mut index: Manifest, want: &Platform) -> Result<Node> {
        for depth in 0..=MAX_DEPTH {
            let parsed = index.index()?;
            let chosen = pick_platform(self.src, self.src_repo, &parsed, &index.digest, want)?;
            let m = self.fetch_child(chosen)?;
            if !m.is_index() {
                return self.fetch_tree(m, chosen.clone(), depth + 1);
            }
            index = m;
        }
        Err(self.src.transport().protocol(format!(
            "{}: indexes nest more than {MAX_DEPTH} deep",
            self.src_repo
        )))
    }

    /// Brings one blob to the destination: skipped when there, mounted within one registry,
    /// else streamed from the source. A transient failure starts the blob over, as the
    /// destination's retry policy allows.
    fn copy_blob(
        &self,
        d: &Descriptor,
        options: &CopyOptions,
        abort: &AtomicBool,
    ) -> Result<BlobStatus> {
        let path = format!("/v2/{}/blobs/{}", self.dst_repo, d.digest);
        let url = self.dst.transport().url(&path);
        let mut retries = self.dst.transport().retrier("PUT", &url, None);
        loop {
            if abort.load(Ordering::Relaxed) {
                return Err(Error::Cancelled(format!("copy of blob {}", d.digest)));
            }
            match self.copy_blob_once(d, options, abort) {
                Err(e) if e.is_transient() && !abort.load(Ordering::Relaxed) => {
                    let t = self.dst.transport();
                    let Some(delay) = retries.plan(&t, None) else {
                        return Err(e);
                    };
                    retries.wait(&t, delay, e.http_status(), e.to_string());
                }
                r => return r,
            }
        }
    }

    fn copy_blob_once(
        &self,
        d: &Descriptor,
        options: &CopyOptions,
        abort: &AtomicBool,
    ) -> Result<BlobStatus> {
        let report = |done: u64, event: ProgressEvent| -> bool {
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
        let on_progress = |done: u64| report(done, ProgressEvent::Uploading);
        let watch = Watch {
            on_progress: options
                .progress
                .as_ref()
                .map(|_| &on_progress as &dyn Fn(u64) -> bool),
            abort: Some(abort),
        };
        let up = Uploader::new(self.dst, self.dst_repo, &options.upload)
            .with_watch(watch)
            .with_scopes(&self.dst_extra);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        let result = std::thread::scope(|scope| {
            let stream = BlobStream::new(scope, self, d, &failure);
            let source = BlobSource::reader(stream, d.size, Some(d.digest.clone()));
            with_prepared(source, Some(&d.digest), |p| {
                up.push(p, self.mount.then_some(self.src_repo))
            })
        });
        let source_error = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
        let pushed = match (result, source_error) {
            // The download failed: that is the cause, whatever the upload made of it.
            (_, Some(e)) => return Err(e),
            (Err(e), None) => return Err(e),
            (Ok(p), None) => p,
        };
        if pushed.digest != d.digest {
            return Err(Error::DigestMismatch {
                what: format!("blob copied to {}", self.dst_repo),
                expected: d.digest.to_string(),
                actual: pushed.digest.to_string(),
            });
        }
        let event = match pushed.status {
            BlobStatus::Existed => ProgressEvent::Existed,
            BlobStatus::Mounted => ProgressEvent::Mounted,
            BlobStatus::Uploaded => ProgressEvent::Uploaded,
        };
        if !report(d.size, event) {
            return Err(Error::Cancelled(format!(
                "copy to {} (after blob {})",
                self.dst_repo, d.digest
            )));
        }
        Ok(pushed.status)
    }

    /// `HEAD` a child manifest at the destination by digest; `PUT` it when missing. True when
    /// it was put.
    fn put_child(&self, n: &Node) -> Result<bool> {
        let digest = &n.manifest.digest;
        let repo = self.dst_repo;
        let req = Request::new(
            Method::Head,
            format!("/v2/{repo}/manifests/{digest}"),
            format!("HEAD manifest {repo}@{digest}"),
        )
        .repo(repo, "pull,push")
        .header("accept", media_types::MANIFEST_ACCEPT);
        let resp = self
            .dst
            .transport()
            .send_expect(with_scopes(req, &self.dst_extra), &[200, 404])?;
        let present = resp.status().as_u16() == 200;
        drain(resp);
        if present {
            return Ok(false);
        }
        let d = self.dst.put_manifest_as(
            repo,
            &TagOrDigest::Digest(digest.clone()),
            &n.manifest.media_type,
            &n.manifest.bytes,
            &self.dst_extra,
        )?;
        if &d != digest {
            return Err(Error::DigestMismatch {
                what: format!("child manifest copied to {repo}"),
                expected: digest.to_string(),
                actual: d.to_string(),
            });
        }
        Ok(true)
    }
}

fn collect_blobs<'n>(n: &'n Node, seen: &mut BTreeSet<&'n Digest>, out: &mut Vec<&'n Descriptor>) {
    for d in n.config.iter().chain(n.layers.iter()) {
        // Foreign layers (with urls) are not in the registry.
        if d.urls.as_ref().is_some_and(|u| !u.is_empty()) {
            continue;
        }
        if seen.insert(&d.digest) {
            out.push(d);
        }
    }
    for c in &n.children {
        collect_blobs(c, seen, out);
    }
}

/// Child manifests by depth: `levels[0]` are the children of `n`, `levels[1]` theirs…
fn collect_levels<'n>(n: &'n Node, depth: usize, levels: &mut Vec<Vec<&'n Node>>) {
    for c in &n.children {
        if levels.len() <= depth {
            levels.push(Vec::new());
        }
        levels[depth].push(c);
        collect_levels(c, depth + 1, levels);
    }
}

fn to_pushed(n: &Node, repository: &str, tag: Option<String>) -> Pushed {
    Pushed {
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
            .map(|c| to_pushed(c, repository, None))
            .collect(),
        stats: PushStats::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// The pipe: a blob's download feeding its upload.

/// What the download thread hands the upload.
enum Msg {
    /// The next bytes.
    Data(Vec<u8>),
    /// Everything was sent and the digest matched.
    Done,
    /// The download failed (the error is in the failure slot).
    Failed,
}

/// Bytes held between the two ends of a pipe, and the most ever held.
#[derive(Default)]
struct Gauge {
    held: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    fn add(&self, n: usize) {
        let now = self.held.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn sub(&self, n: usize) {
        self.held.fetch_sub(n as u64, Ordering::Relaxed);
    }

    #[cfg_attr(not(test), allow(dead_code))]
    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// The download end: queues what it is given, always keeping the latest chunk back until the
/// download is verified ([`PipeWriter::finish`]), so that the upload cannot complete with
/// unverified bytes.
struct PipeWriter<'g> {
    tx: SyncSender<Msg>,
    held: Option<Vec<u8>>,
    /// The upload end went away (the upload failed or stopped): not the download's fault.
    consumer_gone: bool,
    gauge: &'g Gauge,
}

impl PipeWriter<'_> {
    fn send(&mut self, msg: Msg) -> io::Result<()> {
        let len = match &msg {
            Msg::Data(v) => v.len(),
            _ => 0,
        };
        if self.tx.send(msg).is_err() {
            self.consumer_gone = true;
            self.gauge.sub(len);
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the upload stopped reading",
            ));
        }
        Ok(())
    }

    /// Ends the stream: the held chunk and `Done` after a verified download, `Failed`
    /// otherwise.
    fn finish(&mut self, verified: bool) {
        let held = self.held.take();
        if verified {
            if let Some(h) = held
                && self.send(Msg::Data(h)).is_err()
            {
                return;
            }
            let _ = self.send(Msg::Done);
        } else {
            if let Some(h) = held {
                self.gauge.sub(h.len());
            }
            let _ = self.send(Msg::Failed);
        }
    }
}

impl Write for PipeWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.gauge.add(buf.len());
        if let Some(previous) = self.held.replace(buf.to_vec()) {
            self.send(Msg::Data(previous))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The upload end: a reader that starts the blob's download (on a scoped thread) at its first
/// read, so that a blob the destination has, or mounts, is never downloaded.
struct BlobStream<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    ends: &'env Ends<'env>,
    descriptor: &'env Descriptor,
    failure: &'env Mutex<Option<Error>>,
    gauge: Arc<Gauge>,
    rx: Option<Receiver<Msg>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<'scope, 'env> BlobStream<'scope, 'env> {
    fn new(
        scope: &'scope Scope<'scope, 'env>,
        ends: &'env Ends<'env>,
        descriptor: &'env Descriptor,
        failure: &'env Mutex<Option<Error>>,
    ) -> Self {
        BlobStream {
            scope,
            ends,
            descriptor,
            failure,
            gauge: Arc::new(Gauge::default()),
            rx: None,
            current: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    fn start(&mut self) -> &Receiver<Msg> {
        let (tx, rx) = sync_channel(PIPE_SLOTS);
        let (ends, d, failure) = (self.ends, self.descriptor, self.failure);
        let gauge = Arc::clone(&self.gauge);
        self.scope.spawn(move || {
            let mut w = PipeWriter {
                tx,
                held: None,
                consumer_gone: false,
                gauge: &gauge,
            };
            let r = ends.src.fetch_blob_scoped(
                ends.src_repo,
                &d.digest,
                Some(d.size),
                &mut w,
                &|_| true,
                &ends.src_extra,
            );
            match r {
                Ok(_) => w.finish(true),
                Err(e) => {
                    if !w.consumer_gone {
                        *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    }
                    w.finish(false);
                }
            }
        });
        self.rx.insert(rx)
    }
}

impl Read for BlobStream<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.current.len() {
                let n = buf.len().min(self.current.len() - self.pos);
                buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
                self.pos += n;
                if self.pos == self.current.len() {
                    self.gauge.sub(self.current.len());
                }
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            let rx = match &self.rx {
                Some(rx) => rx,
                None => self.start(),
            };
            match rx.recv() {
                Ok(Msg::Data(v)) => {
                    self.current = v;
                    self.pos = 0;
                }
                Ok(Msg::Done) => {
                    self.done = true;
                    return Ok(0);
                }
                Ok(Msg::Failed) | Err(_) => {
                    return Err(io::Error::other(format!(
                        "the download of blob {} from {} failed",
                        self.descriptor.digest,
                        self.ends.src.registry()
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_holds_back_the_last_chunk_and_stays_bounded() {
        let gauge = Gauge::default();
        let (tx, rx) = sync_channel(PIPE_SLOTS);
        let chunk = vec![7u8; 128 * 1024];
        let total = 512usize; // 64 MiB through the pipe
        let received = std::thread::scope(|s| {
            let gauge = &gauge;
            let chunk = &chunk;
            s.spawn(move || {
                let mut w = PipeWriter {
                    tx,
                    held: None,
                    consumer_gone: false,
                    gauge,
                };
                for _ in 0..total {
                    w.write_all(chunk).unwrap();
                }
                w.finish(true);
            });
            let mut n = 0usize;
            let mut saw_done = false;
            while let Ok(msg) = rx.recv() {
                match msg {
                    Msg::Data(v) => {
                        n += v.len();
                        gauge.sub(v.len());
                    }
                    Msg::Done => saw_done = true,
                    Msg::Failed => panic!("failed"),
                }
            }
            assert!(saw_done);
            n
        });
        assert_eq!(received, total * chunk.len());
        // The queued slots, one chunk blocked in send, the held one, the one the reader has in
        // hand: never more, however fast or slow either end is.
        assert!(
            gauge.peak() <= ((PIPE_SLOTS + 3) * chunk.len()) as u64,
            "peak {} bytes",
            gauge.peak()
        );
    }

    #[test]
    fn a_failed_download_never_releases_its_last_chunk() {
        let gauge = Gauge::default();
        let (tx, rx) = sync_channel(PIPE_SLOTS);
        let mut w = PipeWriter {
            tx,
            held: None,
            consumer_gone: false,
            gauge: &gauge,
        };
        w.write_all(b"first").unwrap();
        w.write_all(b"last").unwrap();
        w.finish(false);
        drop(w);
        let got: Vec<Msg> = rx.iter().collect();
        assert!(matches!(&got[0], Msg::Data(v) if v == b"first"));
        assert!(matches!(got[1], Msg::Failed));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_gone_upload_stops_the_download() {
        let gauge = Gauge::default();
        let (tx, rx) = sync_channel(PIPE_SLOTS);
        drop(rx);
        let mut w = PipeWriter {
            tx,
            held: None,
            consumer_gone: false,
            gauge: &gauge,
        };
        w.write_all(b"a").unwrap(); // held back
        assert!(w.write_all(b"b").is_err());
        assert!(w.consumer_gone);
    }
}
