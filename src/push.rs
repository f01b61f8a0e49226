//! Pushing whole images: [`Client::push_image`].
//!
//! Blobs go up first, in parallel on [`PushOptions::threads`] threads (the config alongside the
//! layers, the largest first), each skipped when present (a small blob is asked about by its
//! upload's own `POST`, a large one with a `HEAD` alongside it); then, for an index, every child
//! manifest by digest; the tag is written last, only once every blob and child it references is
//! confirmed. A failed or cancelled push never leaves a manifest pointing at a missing blob.
//!
//! ```no_run
//! # fn main() -> ocireg::Result<()> {
//! use ocireg::{Client, Credentials, Image, PushOptions};
//!
//! let client = Client::builder("http://127.0.0.1:5000")
//!     .credentials(Credentials::Anonymous)
//!     .build()?;
//! let image = Image::from_layout("./layout", None)?;
//! let options = PushOptions::default().threads(8).progress(|p| {
//!     eprintln!("{} {}/{} ({:?})", p.digest, p.done, p.total, p.event);
//!     true // false cancels the push
//! });
//! let pushed = client.push_image("team/app", "v1", &image, &options)?;
//! println!("{} {} ({} requests)", pushed.digest, pushed.media_type, pushed.stats.requests);
//! let report = client.verify("team/app", &pushed);
//! assert!(report.is_verified(), "{report}");
//! # Ok(()) }
//! ```

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::blob::{BlobStatus, Data, Prepared, UploadOptions, Uploader, Watch};
use crate::client::Client;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::{BlobData, Image, ImageBlob};
use crate::manifest::{Descriptor, Platform, media_types};
use crate::reference::{Repository, Tag, TagOrDigest};
use crate::transfer::{DEFAULT_THREADS, Progress, ProgressEvent, ProgressFn, run_parallel};
use crate::transport::{Method, Request, drain};

/// How [`Client::push_image`] pushes.
///
/// ```
/// let o = ocireg::PushOptions::default().threads(2).chunked(16 << 20);
/// assert_eq!(o.threads, 2);
/// assert!(o.upload.chunked);
/// ```
#[derive(Clone)]
pub struct PushOptions {
    /// Parallel blob uploads (default [`DEFAULT_THREADS`]; at least 1).
    pub threads: usize,
    /// How each blob is uploaded (monolithic by default).
    pub upload: UploadOptions,
    /// Try a cross-repository mount from this repository (same registry) before uploading a
    /// missing blob.
    pub mount_from: Option<Repository>,
    /// The progress callback.
    pub progress: Option<ProgressFn>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            threads: DEFAULT_THREADS,
            upload: UploadOptions::default(),
            mount_from: None,
            progress: None,
        }
    }
}

impl fmt::Debug for PushOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushOptions")
            .field("threads", &self.threads)
            .field("upload", &self.upload)
            .field("mount_from", &self.mount_from)
            .field("progress", &self.progress.as_ref().map(|_| "Fn"))
            .finish()
    }
}

impl PushOptions {
    /// Sets the number of parallel uploads.
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

    /// Tries to mount missing blobs from `repository` first.
    ///
    /// ```
    /// let o = ocireg::PushOptions::default().mount_from("team/base".parse()?);
    /// assert_eq!(o.mount_from.unwrap().as_str(), "team/base");
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    pub fn mount_from(mut self, repository: Repository) -> Self {
        self.mount_from = Some(repository);
        self
    }

    /// Sets the progress callback (`false` cancels).
    pub fn progress(mut self, f: impl Fn(&Progress) -> bool + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}

/// Counts of what a push did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Blobs uploaded.
    pub blobs_uploaded: usize,
    /// Blobs skipped because the repository had them.
    pub blobs_existing: usize,
    /// Blobs mounted from another repository.
    pub blobs_mounted: usize,
    /// Bytes uploaded (blobs only).
    pub bytes_uploaded: u64,
    /// Manifests `PUT` (the tagged one and new children).
    pub manifests_put: usize,
    /// Child manifests skipped because the repository had them.
    pub manifests_existing: usize,
    /// HTTP requests the client sent during the push (token requests included; other uses of
    /// the same client at the same time are counted too).
    pub requests: u64,
}

/// What [`Client::push_image`] pushed: enough to verify it later ([`Client::verify`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Pushed {
    /// The repository.
    pub repository: String,
    /// The tag, when pushed by tag.
    pub tag: Option<String>,
    /// The manifest (or index) digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The platform of a child of an index.
    pub platform: Option<Platform>,
    /// The config descriptor (`None` for an index).
    pub config: Option<Descriptor>,
    /// The layer descriptors (empty for an index).
    pub layers: Vec<Descriptor>,
    /// The child manifests of an index.
    pub children: Vec<Pushed>,
    /// Counts (on the top-level value only; zero on children).
    pub stats: PushStats,
}

impl Pushed {
    /// The descriptor of the pushed manifest.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::new(self.media_type.clone(), self.digest.clone(), self.size);
        d.platform = self.platform.clone();
        d
    }

    /// The reference `repository:tag@digest` (or `repository@digest`).
    pub fn reference(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}:{t}@{}", self.repository, self.digest),
            None => format!("{}@{}", self.repository, self.digest),
        }
    }

    /// What pushing `image` to `repository` under `tag` gives, without pushing anything: the
    /// expectation [`Client::verify`] checks, e.g. for an image pushed earlier or by another
    /// tool.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// # let client = ocireg::Client::new("registry.example.com")?;
    /// let image = ocireg::Image::from_layout("./layout", Some("v1"))?;
    /// let expected = ocireg::Pushed::from_image(&image, "team/app", Some("v1"))?;
    /// println!("{}", client.verify("team/app", &expected));
    /// # Ok(()) }
    /// ```
    ///
    /// A malformed repository or tag is [`Error::InvalidReference`].
    pub fn from_image(image: &Image, repository: &str, tag: Option<&str>) -> Result<Pushed> {
        let repository = Repository::parse(repository)?;
        let tag = tag.map(Tag::parse).transpose()?;
        Ok(Pushed::expected(image, repository.as_str(), tag.as_deref()))
    }

    /// [`Pushed::from_image`] with names already checked.
    fn expected(image: &Image, repository: &str, tag: Option<&str>) -> Pushed {
        Pushed {
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest: image.digest().clone(),
            media_type: image.media_type().to_string(),
            size: image.manifest().bytes.len() as u64,
            platform: image.descriptor().platform.clone(),
            config: image.config().cloned(),
            layers: image.layers().to_vec(),
            children: image
                .children()
                .iter()
                .map(|c| Pushed::expected(c, repository, None))
                .collect(),
            stats: PushStats::default(),
        }
    }
}

impl Client {
    /// Pushes an image (or an index with all its child images) and tags it: blobs first (in
    /// parallel, skipping those already there), then child manifests by digest, then the
    /// manifest under `reference` (a tag, or a digest to push untagged).
    ///
    /// The manifest is checked first (`HEAD` by tag and by digest, at once, even on a fresh
    /// client that has yet to learn the registry's auth scheme, so that a re-push is two requests
    /// in one round trip): when the tag already names this very manifest, nothing else is sent;
    /// when the manifest is in the repository under another tag (or none), only the manifest
    /// `PUT` follows, since a registry keeps no manifest whose blobs it lacks. Otherwise, for a
    /// new single-manifest image: `POST` and `PUT` per blob of at most
    /// [`crate::ASK_BY_MOUNT_MAX`] bytes (the `POST` is a mount from the repository itself:
    /// `201` when the blob is there already, which ends it), `HEAD` and `POST` at once then
    /// `PUT` per larger blob, and one manifest `PUT`. Every request of a push asks for the `pull,push` scope, so
    /// one token serves the whole push.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// use ocireg::{ImageBuilder, PushOptions, media_types};
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let image = ImageBuilder::new()
    ///     .config(br#"{"architecture":"amd64","os":"linux"}"#.to_vec())
    ///     .layer_file("layer.tar.gz", media_types::OCI_LAYER_GZIP)
    ///     .build()?;
    /// let pushed = client.push_image("team/app", "v1", &image, &PushOptions::default())?;
    /// println!("pushed {}", pushed.reference());
    /// # Ok(()) }
    /// ```
    pub fn push_image(
        &self,
        repository: &str,
        reference: &str,
        image: &Image,
        options: &PushOptions,
    ) -> Result<Pushed> {
        self.push_image_then(repository, reference, image, options, &|| {})
    }

    /// [`Client::push_image`], calling `blobs_in` once every blob is in the repository (before
    /// any manifest is put): [`Client::push_and_verify`] checks the blobs meanwhile.
    pub(crate) fn push_image_then(
        &self,
        repository: &str,
        reference: &str,
        image: &Image,
        options: &PushOptions,
        blobs_in: &(dyn Fn() + Sync),
    ) -> Result<Pushed> {
        let repository = &Repository::parse(repository)?;
        let r = TagOrDigest::parse(reference)?;
        if let Some(d) = r.digest()
            && d != image.digest()
        {
            return Err(Error::DigestMismatch {
                what: format!("push of {repository}:{reference}"),
                expected: d.to_string(),
                actual: image.digest().to_string(),
            });
        }
        let tag = r.tag().map(|t| t.to_string());
        let requests_before = self.request_count();
        let mut stats = PushStats::default();
        let url_ref = match &tag {
            Some(t) => t.clone(),
            None => image.digest().to_string(),
        };

        // 0. Is it there already? By tag (done) or by digest (only the tag is missing): both
        // asked at once, in one round trip, even by a fresh client that does not know the
        // registry's auth scheme yet (each learns it from its own 401 then, and they share one
        // token). A re-push is two requests and one round trip; blobs are looked at only when
        // the manifest is absent.
        let abort = AtomicBool::new(false);
        let mut probes = vec![image.digest().to_string()];
        if tag.is_some() {
            probes.push(url_ref.clone());
        }
        let found = run_parallel(&probes, 2, &abort, |r| {
            Ok(self.manifest_there(repository, r))
        })?;
        let mut found = found.into_iter();
        let (by_digest, by_tag) = (found.next().flatten(), found.next().flatten());
        let (by_digest, by_tag) = (by_digest.as_ref(), by_tag.as_ref());
        let tagged = match &tag {
            Some(_) => by_tag == Some(image.digest()),
            None => by_digest == Some(image.digest()),
        };
        if tagged || by_digest == Some(image.digest()) {
            self.report_all_existing(image, options)?;
            // The registry holds the manifest, so it holds its blobs.
            blobs_in();
            if tagged {
                stats.manifests_existing += 1;
            } else {
                self.put_manifest(
                    repository,
                    &url_ref,
                    image.media_type(),
                    &image.manifest().bytes,
                )?;
                stats.manifests_put += 1;
            }
            stats.requests = self.request_count().saturating_sub(requests_before);
            let mut pushed = Pushed::expected(image, repository, tag.as_deref());
            pushed.stats = stats;
            return Ok(pushed);
        }

        // 1. Every blob, each digest once, largest first.
        let mut seen = BTreeSet::new();
        let mut blobs: Vec<&ImageBlob> = Vec::new();
        image.visit_blobs(&mut |b| {
            if !matches!(b.data, BlobData::Unavailable) && seen.insert(&b.descriptor.digest) {
                blobs.push(b);
            }
        });
        blobs.sort_by_key(|b| Reverse(b.descriptor.size));
        let statuses = run_parallel(&blobs, options.threads, &abort, |b| {
            self.push_image_blob(repository, b, options, &abort)
        })?;
        for (b, s) in blobs.iter().zip(&statuses) {
            match s {
                BlobStatus::Existed => stats.blobs_existing += 1,
                BlobStatus::Mounted => stats.blobs_mounted += 1,
                BlobStatus::Uploaded => {
                    stats.blobs_uploaded += 1;
                    stats.bytes_uploaded += b.descriptor.size;
                }
            }
        }

        blobs_in();

        // 2. Child manifests by digest, deepest first, each level in parallel.
        let mut levels: Vec<Vec<&Image>> = Vec::new();
        collect_levels(image, 0, &mut levels);
        let mut done = BTreeSet::new();
        for level in levels.iter().rev() {
            let mut todo: Vec<&Image> = Vec::new();
            for c in level {
                if done.insert(c.digest().clone()) {
                    todo.push(c);
                }
            }
            let put = run_parallel(&todo, options.threads, &abort, |c| {
                self.push_child_manifest(repository, c)
            })?;
            for was_put in put {
                if was_put {
                    stats.manifests_put += 1;
                } else {
                    stats.manifests_existing += 1;
                }
            }
        }

        // 3. The manifest itself, under the tag (or its digest).
        let digest = self.put_manifest(
            repository,
            &url_ref,
            image.media_type(),
            &image.manifest().bytes,
        )?;
        stats.manifests_put += 1;
        if &digest != image.digest() {
            return Err(Error::DigestMismatch {
                what: format!("manifest pushed to {repository}:{url_ref}"),
                expected: image.digest().to_string(),
                actual: digest.to_string(),
            });
        }
        stats.requests = self.request_count().saturating_sub(requests_before);
        let mut pushed = Pushed::expected(image, repository, tag.as_deref());
        pushed.stats = stats;
        Ok(pushed)
    }

    /// The digest `reference` names in `repository`, by `HEAD` (with the push's scope, so the
    /// push's token serves it); `None` when it is not there, or the answer says nothing useful
    /// (the push then goes the long way).
    fn manifest_there(&self, repository: &str, reference: &str) -> Option<Digest> {
        let req = Request::new(
            Method::Head,
            format!("/v2/{repository}/manifests/{reference}"),
            format!("HEAD manifest {repository}:{reference}"),
        )
        .repo(repository, "pull,push")
        .header("accept", media_types::MANIFEST_ACCEPT)
        .race_discovery();
        let resp = self.transport().send_expect(req, &[200, 404]).ok()?;
        let found = (resp.status().as_u16() == 200)
            .then(|| crate::manifest::header_digest(&resp))
            .flatten();
        drain(resp);
        found
    }

    /// Tells the progress callback that every blob of `image` was there already.
    fn report_all_existing(&self, image: &Image, options: &PushOptions) -> Result<()> {
        let Some(progress) = &options.progress else {
            return Ok(());
        };
        let mut stop = false;
        image.visit_blobs(&mut |b| {
            let d = &b.descriptor;
            stop |= !progress(&Progress {
                digest: d.digest.clone(),
                done: d.size,
                total: d.size,
                event: ProgressEvent::Existed,
            });
        });
        if stop {
            return Err(Error::Cancelled(
                "push stopped by the progress callback".into(),
            ));
        }
        Ok(())
    }

    fn push_image_blob(
        &self,
        repository: &str,
        blob: &ImageBlob,
        options: &PushOptions,
        abort: &AtomicBool,
    ) -> Result<BlobStatus> {
        let d = &blob.descriptor;
        if abort.load(Ordering::Relaxed) {
            return Err(Error::Cancelled(format!("upload of blob {}", d.digest)));
        }
        let data = match &blob.data {
            BlobData::File(p) => Data::File(p),
            BlobData::Bytes(b) => Data::Bytes(b),
            BlobData::Unavailable => return Ok(BlobStatus::Existed),
        };
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
        let up = Uploader::new(self, repository, &options.upload).with_watch(watch);
        let pushed = up.push(
            Prepared {
                data,
                size: d.size,
                digest: Some(&d.digest),
            },
            options.mount_from.as_deref(),
        )?;
        if pushed.digest != d.digest {
            return Err(Error::DigestMismatch {
                what: format!("blob pushed to {repository}"),
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
                "push to {repository} (after blob {})",
                d.digest
            )));
        }
        Ok(pushed.status)
    }

    /// `HEAD` a child manifest by digest; `PUT` it when missing. True when it was put.
    fn push_child_manifest(&self, repository: &str, child: &Image) -> Result<bool> {
        let digest = child.digest();
        let req = Request::new(
            Method::Head,
            format!("/v2/{repository}/manifests/{digest}"),
            format!("HEAD manifest {repository}@{digest}"),
        )
        .repo(repository, "pull,push")
        .header("accept", media_types::MANIFEST_ACCEPT);
        let resp = self.transport().send_expect(req, &[200, 404])?;
        let present = resp.status().as_u16() == 200;
        drain(resp);
        if present {
            return Ok(false);
        }
        let d = self.put_manifest(
            repository,
            &digest.to_string(),
            child.media_type(),
            &child.manifest().bytes,
        )?;
        if &d != digest {
            return Err(Error::DigestMismatch {
                what: format!("child manifest pushed to {repository}"),
                expected: digest.to_string(),
                actual: d.to_string(),
            });
        }
        Ok(true)
    }
}

/// Child manifests by depth: `levels[0]` are the children of `image`, `levels[1]` theirs…
fn collect_levels<'i>(image: &'i Image, depth: usize, levels: &mut Vec<Vec<&'i Image>>) {
    for c in image.children() {
        if levels.len() <= depth {
            levels.push(Vec::new());
        }
        levels[depth].push(c);
        collect_levels(c, depth + 1, levels);
    }
}

/// Round trips of a push, pinned against the in-memory registry's request log.
#[cfg(all(test, feature = "test-server"))]
mod request_counts {
    use crate::testing::{AuthMode, BearerPolicy, RecordedRequest, Registry};
    use crate::{Client, Credentials, Image, ImageBuilder, PushOptions, media_types};

    const LAYERS: usize = 20;

    fn image(seed: u8) -> Image {
        let mut b = ImageBuilder::new().config(format!(r#"{{"seed":{seed}}}"#).into_bytes());
        for i in 0..LAYERS {
            b = b.layer_bytes(vec![seed, i as u8, 7], media_types::OCI_LAYER_GZIP);
        }
        b.build().unwrap()
    }

    fn client(reg: &Registry) -> Client {
        Client::builder(&reg.url())
            .credentials(Credentials::basic("alice", "pw"))
            .build()
            .unwrap()
    }

    fn count(log: &[RecordedRequest], f: impl Fn(&RecordedRequest) -> bool) -> usize {
        log.iter().filter(|r| f(r)).count()
    }

    /// POST (a mount from the repository itself, asking whether the blob is there) + PUT per
    /// small blob, two manifest HEADs, the manifest PUT.
    const PUSH: usize = 2 * (LAYERS + 1) + 2 + 1;
    /// GET by tag, HEAD per blob.
    const VERIFY: usize = 1 + LAYERS + 1;

    #[test]
    fn basic_push_and_verify_learn_the_scheme_once() {
        let reg = Registry::builder()
            .auth(AuthMode::Basic {
                users: vec![("alice".into(), "pw".into())],
            })
            .start()
            .unwrap();
        let c = client(&reg);
        let pushed = c
            .push_image("team/app", "v1", &image(1), &PushOptions::default())
            .unwrap();
        let report = c.verify("team/app", &pushed);
        assert!(report.is_verified(), "{report}");
        let log = reg.requests();
        // The two manifest probes go out at once, before the client knows the scheme: each
        // may get a 401 that teaches it (the second only if sent before the first's answer);
        // every later request carries Basic.
        let discovery = count(&log, |r| r.status == 401);
        assert!((1..=2).contains(&discovery), "{log:#?}");
        assert!(
            log.iter()
                .filter(|r| r.status == 401)
                .all(|r| r.method == "HEAD" && r.path.contains("/manifests/")),
            "{log:#?}"
        );
        assert_eq!(count(&log, |r| r.status != 401 && !r.authorized), 0);
        assert_eq!(log.len(), discovery + PUSH + VERIFY, "{log:#?}");
        assert_eq!(pushed.stats.requests as usize, discovery + PUSH);
    }

    /// Push and verify overlapped: the same requests and the same report as one call after
    /// the other, for a new image and for a re-push.
    #[test]
    fn push_and_verify_overlapped() {
        let reg = Registry::builder()
            .auth(AuthMode::Basic {
                users: vec![("alice".into(), "pw".into())],
            })
            .start()
            .unwrap();
        let c = client(&reg);
        let img = image(3);
        let (pushed, report) = c
            .push_and_verify("team/app", "v1", &img, &PushOptions::default())
            .unwrap();
        assert!(report.is_verified(), "{report}");
        let discovery = count(&reg.requests(), |r| r.status == 401);
        assert!((1..=2).contains(&discovery));
        assert_eq!(reg.requests().len(), discovery + PUSH + VERIFY);
        let separate = c.verify("team/app", &pushed);
        assert_eq!(report, separate);
        assert_eq!(report.checks.len(), VERIFY);
        // A re-push: two manifest HEADs, then the checks.
        reg.clear_requests();
        let (again, report) = c
            .push_and_verify("team/app", "v1", &img, &PushOptions::default())
            .unwrap();
        assert_eq!(again.stats.manifests_existing, 1);
        assert!(report.is_verified(), "{report}");
        assert_eq!(reg.requests().len(), 2 + VERIFY);
        // A failed push is the push's error, not a report.
        let e = c
            .push_and_verify("Team/App", "v1", &img, &PushOptions::default())
            .unwrap_err();
        assert!(matches!(e, crate::Error::InvalidReference(_)), "{e}");
    }

    #[test]
    fn bearer_push_and_verify_use_one_token() {
        let reg = Registry::builder()
            .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
                "alice", "pw",
            )])))
            .start()
            .unwrap();
        let c = client(&reg);
        let pushed = c
            .push_image("team/app", "v1", &image(2), &PushOptions::default())
            .unwrap();
        let report = c.verify("team/app", &pushed);
        assert!(report.is_verified(), "{report}");
        // Pulling what was pushed needs no token of its own either.
        c.manifest("team/app", "v1").unwrap();
        let log = reg.requests();
        let tokens = count(&log, |r| r.path == "/token");
        // One or two 401s (the two manifest probes, sent at once by a client that does not
        // know the scheme yet), one token for the push's pull,push scope, fetched once for both
        // and reused by the verification and the pull (pull is covered by pull,push).
        assert_eq!(tokens, 1, "{log:#?}");
        let discovery = count(&log, |r| r.status == 401);
        assert!((1..=2).contains(&discovery), "{log:#?}");
        assert_eq!(log.len(), discovery + 1 + PUSH + VERIFY + 1, "{log:#?}");
    }
}
