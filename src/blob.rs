//! Blobs: existence checks, uploads (monolithic or chunked), cross-repository mounts and
//! deletion.
//!
//! Every upload streams its bytes from their source (a file, a byte slice, or a reader with a
//! known length): memory stays bounded whatever the size of the blob. The default upload is
//! `POST /v2/<repo>/blobs/uploads/` then one `PUT <Location>&digest=…` carrying the whole blob
//! with an explicit `Content-Length`; [`UploadOptions::chunked`] switches to `PATCH` chunks and an
//! empty closing `PUT`, the next offset always taken from the registry's `Range` header.
//!
//! ```no_run
//! # fn main() -> ocireg::Result<()> {
//! use ocireg::{BlobSource, Client, Credentials};
//!
//! let client = Client::builder("http://127.0.0.1:5000")
//!     .credentials(Credentials::Anonymous)
//!     .build()?;
//! let pushed = client.push_blob("team/app", BlobSource::file("layer.tar.gz"))?;
//! println!("{} ({} bytes): {:?}", pushed.digest, pushed.size, pushed.status);
//! assert_eq!(client.blob_exists("team/app", &pushed.digest.to_string())?, Some(pushed.size));
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use ureq::Body;
use ureq::http::Response;

use crate::client::Client;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::manifest::{header_digest, with_scopes};
use crate::reference::Repository;
use crate::transport::{Method, ReqBody, Request, Tx, content_length, drain, percent_encode};

/// The default chunk size of a chunked upload (4 MiB: GHCR refuses larger PATCH bodies).
pub const DEFAULT_CHUNK_SIZE: u64 = 4 * 1024 * 1024;

/// Read buffer for hashing files.
const HASH_BUFFER: usize = 256 * 1024;

/// Where the bytes of a blob come from.
///
/// A file is hashed first when its digest is not given (read twice, streaming: never into
/// memory). A reader can be read only once: give its digest when you know it (the upload can
/// then be skipped when the blob exists); without one, ocireg hashes the bytes while it
/// uploads them (`POST`, one streamed `PATCH`, then the closing `PUT ?digest=`).
///
/// ```
/// use ocireg::BlobSource;
/// let a = BlobSource::bytes(&b"{}"[..]);
/// let b = BlobSource::bytes(vec![1u8, 2, 3]);
/// let c = BlobSource::file("/tmp/layer.tar.gz");
/// let d = BlobSource::reader(std::io::Read::take(std::io::repeat(0), 10), 10, None);
/// assert_eq!(a.len().unwrap(), 2);
/// assert_eq!(d.len().unwrap(), 10);
/// # let _ = (b, c);
/// ```
pub enum BlobSource<'a> {
    /// A file, streamed from disk (reopened if the request must be replayed).
    File {
        /// The file.
        path: PathBuf,
        /// Its digest, if known (it is then not hashed; the registry checks it).
        digest: Option<Digest>,
    },
    /// Bytes in memory.
    Bytes(Cow<'a, [u8]>),
    /// A reader that yields exactly `len` bytes. A reader yielding more or fewer bytes is an
    /// error, never a corrupted upload.
    Reader {
        /// The bytes.
        reader: Box<dyn Read + 'a>,
        /// How many bytes it yields.
        len: u64,
        /// Their digest, if known.
        digest: Option<Digest>,
    },
}

impl fmt::Debug for BlobSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobSource::File { path, digest } => f
                .debug_struct("File")
                .field("path", path)
                .field("digest", digest)
                .finish(),
            BlobSource::Bytes(b) => f.debug_struct("Bytes").field("len", &b.len()).finish(),
            BlobSource::Reader { len, digest, .. } => f
                .debug_struct("Reader")
                .field("len", len)
                .field("digest", digest)
                .finish_non_exhaustive(),
        }
    }
}

impl<'a> BlobSource<'a> {
    /// A file whose digest ocireg computes (streaming) before uploading.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        BlobSource::File {
            path: path.into(),
            digest: None,
        }
    }

    /// A file whose digest is known (it is not hashed again; the registry verifies it).
    pub fn file_with_digest(path: impl Into<PathBuf>, digest: Digest) -> Self {
        BlobSource::File {
            path: path.into(),
            digest: Some(digest),
        }
    }

    /// Bytes in memory, borrowed (`&[u8]`) or owned (`Vec<u8>`).
    pub fn bytes(bytes: impl Into<Cow<'a, [u8]>>) -> Self {
        BlobSource::Bytes(bytes.into())
    }

    /// A reader that yields exactly `len` bytes, with their digest if known.
    pub fn reader(reader: impl Read + 'a, len: u64, digest: Option<Digest>) -> Self {
        BlobSource::Reader {
            reader: Box::new(reader),
            len,
            digest,
        }
    }

    /// The size of the blob (a file's size is read from its metadata).
    pub fn len(&self) -> Result<u64> {
        match self {
            BlobSource::File { path, .. } => file_size(path),
            BlobSource::Bytes(b) => Ok(b.len() as u64),
            BlobSource::Reader { len, .. } => Ok(*len),
        }
    }

    /// True for an empty blob.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// The largest blob whose existence a push asks about with its upload's `POST` alone (a mount
/// from its own repository): 1 MiB. Up to this size, sending a blob again to a registry that
/// does not mount costs less than a `HEAD` request per new blob. A larger blob is `HEAD`ed at
/// the same time as that `POST` (one round trip either way), so that such a registry is never
/// sent a large blob it holds.
pub const ASK_BY_MOUNT_MAX: u64 = 1 << 20;

/// How blobs are uploaded.
///
/// ```
/// let chunked = ocireg::UploadOptions { chunked: true, chunk_size: 4 << 20, ..Default::default() };
/// assert!(ocireg::UploadOptions::default().skip_existing);
/// # let _ = chunked;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadOptions {
    /// Upload in `PATCH` chunks instead of one `PUT` (for registries or proxies with a body
    /// size limit). Default `false`.
    pub chunked: bool,
    /// The chunk size of a chunked upload (default [`DEFAULT_CHUNK_SIZE`]); raised to the
    /// registry's `OCI-Chunk-Min-Length` when it asks for more.
    pub chunk_size: u64,
    /// Skip the upload when the blob is already in the repository (default `true`; needs the
    /// digest up front). A blob of at most [`ASK_BY_MOUNT_MAX`] bytes is asked about with the
    /// upload's own `POST` (a mount from its own repository: `201` means it is there, `202`
    /// opens the upload session), a larger one with a `HEAD` sent at the same time as that
    /// `POST`.
    pub skip_existing: bool,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            chunked: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            skip_existing: true,
        }
    }
}

/// What happened to a blob during a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlobStatus {
    /// It was already in the repository: nothing was uploaded.
    Existed,
    /// It was mounted from another repository of the same registry.
    Mounted,
    /// It was uploaded.
    Uploaded,
}

/// The result of [`Client::push_blob`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedBlob {
    /// The digest of the blob.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it was uploaded, mounted, or already there.
    pub status: BlobStatus,
}

/// The result of [`Client::mount_blob`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountOutcome {
    /// The registry mounted the blob from the source repository (201).
    Mounted,
    /// The registry could not mount it (202) and the fallback source was uploaded into the
    /// session it opened.
    Uploaded(PushedBlob),
    /// The registry could not mount it and no fallback source was given: the upload session
    /// it opened was cancelled, nothing was stored.
    NotMounted,
}

impl Client {
    /// Whether a blob is in a repository (`HEAD /v2/<repo>/blobs/<digest>`): `Some(size)` if it
    /// is, `None` on 404.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let d = ocireg::Digest::sha256_of(b"{}");
    /// match client.blob_exists("team/app", &d.to_string())? {
    ///     Some(size) => println!("present, {size} bytes"),
    ///     None => println!("missing"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn blob_exists(&self, repository: &str, digest: &str) -> Result<Option<u64>> {
        let repository = &Repository::parse(repository)?;
        let d: Digest = digest.parse()?;
        Ok(self
            .head_blob(repository, &d, "pull")?
            .map(|len| len.unwrap_or(0)))
    }

    /// `HEAD` of a blob with the given scope actions: `None` when missing, `Some(None)` when
    /// present without a `Content-Length`.
    pub(crate) fn head_blob(
        &self,
        repository: &str,
        digest: &Digest,
        actions: &str,
    ) -> Result<Option<Option<u64>>> {
        self.head_blob_scoped(repository, digest, actions, &[])
    }

    /// [`Client::head_blob`] asking for `extra` token scopes too.
    pub(crate) fn head_blob_scoped(
        &self,
        repository: &str,
        digest: &Digest,
        actions: &str,
        extra: &[String],
    ) -> Result<Option<Option<u64>>> {
        let t = self.transport();
        let req = Request::new(
            Method::Head,
            format!("/v2/{repository}/blobs/{digest}"),
            format!("HEAD blob {repository}@{digest}"),
        )
        .repo(repository, actions);
        let resp = t.send_expect(with_scopes(req, extra), &[200, 404])?;
        let status = resp.status().as_u16();
        let len = content_length(&resp);
        drain(resp);
        Ok(if status == 200 { Some(len) } else { None })
    }

    /// Uploads a blob unless the repository already has it, with the default
    /// [`UploadOptions`] (monolithic `POST` + `PUT`).
    ///
    /// Requests: `HEAD` (skip if present), `POST`, `PUT` — three per new blob. A file without a
    /// digest is hashed first; a reader without a digest is hashed while it is uploaded.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let config = br#"{"architecture":"amd64","os":"linux"}"#;
    /// let pushed = client.push_blob("team/app", ocireg::BlobSource::bytes(&config[..]))?;
    /// assert_eq!(pushed.digest, ocireg::Digest::sha256_of(config));
    /// # Ok(()) }
    /// ```
    pub fn push_blob(&self, repository: &str, source: BlobSource<'_>) -> Result<PushedBlob> {
        self.push_blob_with(repository, source, &UploadOptions::default())
    }

    /// [`Client::push_blob`] with explicit [`UploadOptions`] (chunked uploads, no existence
    /// check).
    pub fn push_blob_with(
        &self,
        repository: &str,
        source: BlobSource<'_>,
        options: &UploadOptions,
    ) -> Result<PushedBlob> {
        let repository = &Repository::parse(repository)?;
        let up = Uploader::new(self, repository, options);
        with_prepared(source, None, |p| up.push(p, None))
    }

    /// Mounts a blob from another repository of the same registry
    /// (`POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from>`).
    ///
    /// When the registry cannot mount it (202: the source repository lacks it, or the registry
    /// does not mount), the `fallback` source, if given, is uploaded into the session the
    /// registry opened; without a fallback the session is cancelled and the answer is
    /// [`MountOutcome::NotMounted`]. The fallback must hash to `digest`.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// use ocireg::{BlobSource, MountOutcome};
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    /// match client.mount_blob("team/app", "team/base", digest, Some(BlobSource::file("l.tgz")))? {
    ///     MountOutcome::Mounted => println!("mounted"),
    ///     MountOutcome::Uploaded(b) => println!("uploaded {} bytes", b.size),
    ///     MountOutcome::NotMounted => unreachable!("a fallback was given"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn mount_blob(
        &self,
        repository: &str,
        from: &str,
        digest: &str,
        fallback: Option<BlobSource<'_>>,
    ) -> Result<MountOutcome> {
        let repository = &Repository::parse(repository)?;
        let from = &Repository::parse(from)?;
        let d: Digest = digest.parse()?;
        let options = UploadOptions {
            skip_existing: false,
            ..UploadOptions::default()
        };
        let up = Uploader::new(self, repository, &options);
        match fallback {
            None => up.mount_only(&d, from),
            Some(source) => {
                let pushed = with_prepared(source, Some(&d), |p| up.push(p, Some(from)))?;
                Ok(match pushed.status {
                    BlobStatus::Mounted => MountOutcome::Mounted,
                    _ => MountOutcome::Uploaded(pushed),
                })
            }
        }
    }

    /// Deletes a blob from a repository (`DELETE /v2/<repo>/blobs/<digest>`). Registries only
    /// unlink it from this repository; other repositories keep it.
    pub fn delete_blob(&self, repository: &str, digest: &str) -> Result<()> {
        let repository = &Repository::parse(repository)?;
        let d: Digest = digest.parse()?;
        let req = Request::new(
            Method::Delete,
            format!("/v2/{repository}/blobs/{d}"),
            format!("DELETE blob {repository}@{d}"),
        )
        .repo(repository, "delete");
        let resp = self.transport().send_expect(req, &[200, 202, 204])?;
        drain(resp);
        Ok(())
    }
}

/// Size of a file, with the path in the error.
pub(crate) fn file_size(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| Error::io(format!("reading the size of {}", path.display()), e))
}

/// sha256 of a file, streaming with a fixed buffer: `(digest, size)`.
pub(crate) fn hash_file(path: &Path) -> Result<(Digest, u64)> {
    let mut f =
        File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; HASH_BUFFER];
    let mut n = 0u64;
    loop {
        let k = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h.finish(), n))
}

fn header_str<'r>(resp: &'r Response<Body>, name: &str) -> Option<&'r str> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Appends `name=value` (value percent-encoded) to a URL that may already carry a query.
pub(crate) fn append_query(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let sep = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    format!("{base}{sep}{name}={}{fragment}", percent_encode(value))
}

/// Parses an upload `Range` header (`0-1234`, or `bytes=0-1234`): the offset of the next byte
/// the registry expects. `0-0` is ambiguous (nothing, or one byte): it means one byte only when
/// `sent_up_to` (what we have sent in all) is at least 1.
pub(crate) fn next_offset_from_range(range: &str, sent_up_to: u64) -> Option<u64> {
    let (start, end) = crate::headers::upload_range(range)?;
    if start != 0 {
        return None;
    }
    if end == 0 {
        return Some(sent_up_to.min(1));
    }
    end.checked_add(1)
}

// ---------------------------------------------------------------------------------------------
// Prepared sources: what the uploader reads from.

/// A reader that can be read once, shared by the openers of successive requests: it may only
/// be opened at the offset it has reached.
pub(crate) struct ReaderState<'r> {
    reader: Box<dyn Read + 'r>,
    pos: u64,
    len: u64,
    hasher: Option<Hasher>,
}

/// Opens a range of a one-shot reader; implemented by `RefCell<ReaderState>`.
pub(crate) trait OneShot {
    fn open_at<'s>(&'s self, offset: u64, len: u64) -> io::Result<Box<dyn Read + 's>>;
    /// Checks that the reader is exhausted, and returns the digest of everything read (when
    /// hashing).
    fn finish(&self) -> io::Result<Option<Digest>>;
}

impl OneShot for RefCell<ReaderState<'_>> {
    fn open_at<'s>(&'s self, offset: u64, len: u64) -> io::Result<Box<dyn Read + 's>> {
        let pos = self.borrow().pos;
        if pos != offset {
            return Err(io::Error::other(format!(
                "the upload must restart at byte {offset}, but the source is a reader already \
                 read up to byte {pos} (a reader can be read only once; use a file or bytes)"
            )));
        }
        Ok(Box::new(SharedTake {
            cell: self,
            remaining: len,
        }))
    }

    fn finish(&self) -> io::Result<Option<Digest>> {
        let mut st = self.borrow_mut();
        let mut one = [0u8; 1];
        loop {
            match st.reader.read(&mut one) {
                Ok(0) => break,
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the reader yields more than the announced {} bytes", st.len),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if st.pos != st.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the reader ended after {} of the announced {} bytes",
                    st.pos, st.len
                ),
            ));
        }
        Ok(st.hasher.take().map(Hasher::finish))
    }
}

struct SharedTake<'s, 'r> {
    cell: &'s RefCell<ReaderState<'r>>,
    remaining: u64,
}

impl Read for SharedTake<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let mut st = self.cell.borrow_mut();
        let n = st.reader.read(&mut buf[..max])?;
        if let Some(h) = st.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        st.pos += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The bytes of a blob, ready to be opened at any offset (files and slices) or read once.
#[derive(Clone, Copy)]
pub(crate) enum Data<'s> {
    File(&'s Path),
    Bytes(&'s [u8]),
    Reader(&'s dyn OneShot),
}

impl<'s> Data<'s> {
    /// Opens `len` bytes from `offset`.
    fn open_at(self, offset: u64, len: u64) -> io::Result<Box<dyn Read + 's>> {
        match self {
            Data::File(path) => {
                let f = File::open(path)?;
                Ok(Box::new(crate::transport::FileRange::new(f, offset, len)))
            }
            Data::Bytes(b) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
                let end = usize::try_from(offset.saturating_add(len))
                    .unwrap_or(usize::MAX)
                    .min(b.len());
                Ok(Box::new(&b[start..end]))
            }
            Data::Reader(r) => r.open_at(offset, len),
        }
    }

    fn can_rewind(self) -> bool {
        !matches!(self, Data::Reader(_))
    }
}

/// A blob ready for upload: its data, size and (unless a reader is hashed on the fly) digest.
#[derive(Clone, Copy)]
pub(crate) struct Prepared<'s> {
    pub data: Data<'s>,
    pub size: u64,
    pub digest: Option<&'s Digest>,
}

/// Turns a [`BlobSource`] into a [`Prepared`] blob (hashing a file or bytes without a digest)
/// and runs `f` on it. `expected` is a digest the source must have (a mount's digest).
pub(crate) fn with_prepared<T>(
    source: BlobSource<'_>,
    expected: Option<&Digest>,
    f: impl FnOnce(Prepared<'_>) -> Result<T>,
) -> Result<T> {
    let check = |d: &Digest| -> Result<()> {
        match expected {
            Some(e) if e != d => Err(Error::DigestMismatch {
                what: "the blob source".into(),
                expected: e.to_string(),
                actual: d.to_string(),
            }),
            _ => Ok(()),
        }
    };
    match source {
        BlobSource::File { path, digest } => {
            let (digest, size) = match digest.or_else(|| expected.cloned()) {
                Some(d) => (d, file_size(&path)?),
                None => hash_file(&path)?,
            };
            check(&digest)?;
            f(Prepared {
                data: Data::File(&path),
                size,
                digest: Some(&digest),
            })
        }
        BlobSource::Bytes(b) => {
            let digest = match expected {
                Some(e) => {
                    e.verify(&b, "the blob source")?;
                    e.clone()
                }
                None => Digest::sha256_of(&b),
            };
            f(Prepared {
                data: Data::Bytes(&b),
                size: b.len() as u64,
                digest: Some(&digest),
            })
        }
        BlobSource::Reader {
            reader,
            len,
            digest,
        } => {
            let digest = digest.or_else(|| expected.cloned());
            if let Some(d) = &digest {
                check(d)?;
            }
            let state = RefCell::new(ReaderState {
                reader,
                pos: 0,
                len,
                hasher: if digest.is_none() {
                    Some(Hasher::new(Algorithm::Sha256))
                } else {
                    None
                },
            });
            f(Prepared {
                data: Data::Reader(&state),
                size: len,
                digest: digest.as_ref(),
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The uploader.

/// Progress reporting and cancellation for one upload.
#[derive(Default)]
pub(crate) struct Watch<'w> {
    /// Told the bytes done so far; `false` cancels.
    pub on_progress: Option<&'w dyn Fn(u64) -> bool>,
    /// Set by another thread to stop this upload (another blob failed).
    pub abort: Option<&'w AtomicBool>,
}

/// Wraps an upload body: counts, reports progress, and stops on cancellation.
struct Watched<'x> {
    inner: Box<dyn Read + 'x>,
    done: u64,
    watch: &'x Watch<'x>,
    stopped: &'x Cell<bool>,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let stop = |w: &Self| {
            w.stopped.set(true);
            Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "upload cancelled",
            ))
        };
        if self.watch.abort.is_some_and(|a| a.load(Ordering::Relaxed)) {
            return stop(self);
        }
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if n > 0
            && let Some(cb) = self.watch.on_progress
            && !cb(self.done)
        {
            return stop(self);
        }
        Ok(n)
    }
}

/// One repository's blob uploads.
pub(crate) struct Uploader<'c> {
    client: &'c Client,
    repo: &'c str,
    options: &'c UploadOptions,
    watch: Watch<'c>,
    /// Token scopes every request asks for besides this repository's `pull,push` (a copy's
    /// source repository: one token for the whole copy).
    extra: &'c [String],
}

/// An open upload session.
struct Session {
    location: String,
    min_chunk: Option<u64>,
}

enum Started {
    /// 201: the registry already completed it (a mount).
    Done,
    Session(Session),
}

impl<'c> Uploader<'c> {
    pub(crate) fn new(client: &'c Client, repo: &'c str, options: &'c UploadOptions) -> Self {
        Uploader {
            client,
            repo,
            options,
            watch: Watch::default(),
            extra: &[],
        }
    }

    /// Asks for these token scopes too in every request.
    pub(crate) fn with_scopes(mut self, extra: &'c [String]) -> Self {
        self.extra = extra;
        self
    }

    pub(crate) fn with_watch(mut self, watch: Watch<'c>) -> Self {
        self.watch = watch;
        self
    }

    fn t(&self) -> Tx<'c> {
        self.client.transport()
    }

    fn aborted(&self) -> bool {
        self.watch.abort.is_some_and(|a| a.load(Ordering::Relaxed))
    }

    fn cancelled(&self, digest: Option<&Digest>) -> Error {
        Error::Cancelled(match digest {
            Some(d) => format!("upload of blob {d} to {}", self.repo),
            None => format!("upload of a blob to {}", self.repo),
        })
    }

    /// Skips the blob when it is there (when the digest is known and `skip_existing`), else
    /// uploads it (mounting first when `mount_from` is given).
    ///
    /// The upload's `POST` itself asks whether the blob is there, as a mount from its own
    /// repository: `201` when it is, `202` (the session to upload into) when it is not. A
    /// small blob (at most [`ASK_BY_MOUNT_MAX`] bytes) is asked about so alone: one request
    /// whether it is there or not, where `HEAD` then `POST` is two for every new blob; a
    /// registry that does not mount answers `202` and gets the small blob again. A larger blob
    /// is `HEAD`ed at the same time, on a second connection, so that a registry that does not
    /// mount never gets a large blob it holds (its session is deleted), and a new blob still
    /// costs one round trip before its upload. A registry that refuses the query parameters
    /// (`400`, `405`, `501`) gets `HEAD` then a plain `POST`.
    pub(crate) fn push(&self, p: Prepared<'_>, mount_from: Option<&str>) -> Result<PushedBlob> {
        let existed = |d: &Digest| PushedBlob {
            digest: d.clone(),
            size: p.size,
            status: BlobStatus::Existed,
        };
        // `HEAD`: is the blob there, of this size?
        let there = |d: &Digest| -> Result<bool> {
            let found = self
                .client
                .head_blob_scoped(self.repo, d, "pull,push", self.extra)?;
            Ok(found.is_some_and(|len| len.is_none_or(|l| l == p.size)))
        };
        if let (Some(d), true, None) = (p.digest, self.options.skip_existing, mount_from) {
            if self.aborted() {
                return Err(self.cancelled(p.digest));
            }
            let (asked, headed) = if p.size <= ASK_BY_MOUNT_MAX {
                (self.start(Some((d, self.repo))), None)
            } else {
                std::thread::scope(|s| {
                    let headed = s.spawn(|| there(d));
                    let asked = self.start(Some((d, self.repo)));
                    let headed = headed
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (asked, Some(headed))
                })
            };
            match (asked, headed) {
                (Ok(Started::Done), _) => return Ok(existed(d)),
                (Ok(Started::Session(s)), None | Some(Ok(false))) => return self.fill(s, p),
                (Ok(Started::Session(s)), Some(headed)) => {
                    // There (a registry that does not mount), or HEAD failed: no upload.
                    self.cancel_session(&s.location);
                    return headed.map(|_| existed(d));
                }
                (
                    Err(Error::Registry {
                        status: 400 | 405 | 501,
                        ..
                    }),
                    Some(headed),
                ) => {
                    return if headed? {
                        Ok(existed(d))
                    } else {
                        self.upload(p, None)
                    };
                }
                (
                    Err(Error::Registry {
                        status: 400 | 405 | 501,
                        ..
                    }),
                    None,
                ) => {}
                (Err(e), _) => return Err(e),
            }
        }
        if let (Some(d), true) = (p.digest, self.options.skip_existing)
            && there(d)?
        {
            return Ok(existed(d));
        }
        self.upload(p, mount_from)
    }

    /// `POST ?mount=&from=` without a fallback: cancel the session on 202.
    fn mount_only(&self, digest: &Digest, from: &str) -> Result<MountOutcome> {
        match self.start(Some((digest, from)))? {
            Started::Done => Ok(MountOutcome::Mounted),
            Started::Session(s) => {
                self.cancel_session(&s.location);
                Ok(MountOutcome::NotMounted)
            }
        }
    }

    /// Uploads a blob (no existence check).
    pub(crate) fn upload(&self, p: Prepared<'_>, mount_from: Option<&str>) -> Result<PushedBlob> {
        if self.aborted() {
            return Err(self.cancelled(p.digest));
        }
        let mount = match (mount_from, p.digest) {
            (Some(from), Some(d)) => Some((d, from)),
            _ => None,
        };
        let session = match self.start(mount)? {
            Started::Done => {
                // Only a mount completes at POST time.
                let digest = p.digest.cloned().ok_or_else(|| {
                    self.t()
                        .protocol("the registry completed an upload at POST time, unasked")
                })?;
                return Ok(PushedBlob {
                    digest,
                    size: p.size,
                    status: if mount.is_some() {
                        BlobStatus::Mounted
                    } else {
                        BlobStatus::Existed
                    },
                });
            }
            Started::Session(s) => s,
        };
        self.fill(session, p)
    }

    /// Uploads into an open session; cancels the session when that fails.
    fn fill(&self, session: Session, p: Prepared<'_>) -> Result<PushedBlob> {
        let location = session.location.clone();
        let result = self.upload_into(session, p);
        if let Err(e) = &result {
            // Leave no dangling session behind (best effort; not when the registry is gone).
            if !matches!(e, Error::Network { .. } | Error::Timeout { .. }) {
                self.cancel_session(&location);
            }
        }
        result
    }

    fn upload_into(&self, session: Session, p: Prepared<'_>) -> Result<PushedBlob> {
        let monolithic = !self.options.chunked && p.digest.is_some();
        let (location, digest) = if monolithic {
            (session.location, p.digest.cloned())
        } else {
            let chunk = if self.options.chunked {
                self.options
                    .chunk_size
                    .max(session.min_chunk.unwrap_or(0))
                    .max(1)
            } else {
                // A reader without a digest: one streamed PATCH, hashed on the way.
                p.size.max(1)
            };
            let location = self.patch_all(session.location, p, chunk)?;
            let digest = match p.digest {
                Some(d) => Some(d.clone()),
                None => match p.data {
                    Data::Reader(r) => r
                        .finish()
                        .map_err(|e| Error::InvalidInput(format!("blob upload: {e}")))?,
                    _ => None,
                },
            };
            (location, digest)
        };
        let digest = digest.ok_or_else(|| {
            Error::InvalidInput("blob upload: no digest for the closing PUT".into())
        })?;
        let url = append_query(&location, "digest", &digest.to_string());
        let what = format!("PUT blob {}@{digest}", self.repo);
        let stopped = Cell::new(false);
        let req = with_scopes(
            Request::new(Method::Put, url, what.clone()).repo(self.repo, "pull,push"),
            self.extra,
        );
        let resp = if monolithic {
            let mut opener = || -> io::Result<Box<dyn Read + '_>> {
                let inner = p.data.open_at(0, p.size)?;
                Ok(Box::new(Watched {
                    inner,
                    done: 0,
                    watch: &self.watch,
                    stopped: &stopped,
                }))
            };
            let req =
                req.header("content-type", "application/octet-stream")
                    .body(ReqBody::Stream {
                        open: &mut opener,
                        len: p.size,
                    });
            let r = self.t().send(req);
            if stopped.get() {
                if let Ok(resp) = r {
                    drain(resp);
                }
                return Err(self.cancelled(Some(&digest)));
            }
            r?
        } else {
            self.t().send(req)?
        };
        let resp = self.expect(resp, &[200, 201, 204], &what)?;
        let theirs = header_digest(&resp);
        drain(resp);
        if let Data::Reader(r) = p.data
            && monolithic
        {
            r.finish()
                .map_err(|e| Error::InvalidInput(format!("{what}: {e}")))?;
        }
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
        Ok(PushedBlob {
            digest,
            size: p.size,
            status: BlobStatus::Uploaded,
        })
    }

    /// Sends the blob in PATCH chunks; returns the last `Location`.
    fn patch_all(&self, mut location: String, p: Prepared<'_>, chunk: u64) -> Result<String> {
        let mut offset = 0u64;
        while offset < p.size {
            if self.aborted() {
                return Err(self.cancelled(p.digest));
            }
            let n = chunk.min(p.size - offset);
            let end = offset + n;
            let what = format!("PATCH blob upload {} ({offset}-{})", self.repo, end - 1);
            let stopped = Cell::new(false);
            let reported = |done: u64| match self.watch.on_progress {
                Some(cb) => cb(offset + done),
                None => true,
            };
            let inner_watch = Watch {
                on_progress: Some(&reported),
                abort: self.watch.abort,
            };
            let mut opener = || -> io::Result<Box<dyn Read + '_>> {
                let inner = p.data.open_at(offset, n)?;
                Ok(Box::new(Watched {
                    inner,
                    done: 0,
                    watch: &inner_watch,
                    stopped: &stopped,
                }))
            };
            let req = with_scopes(
                Request::new(Method::Patch, location.clone(), what.clone())
                    .repo(self.repo, "pull,push"),
                self.extra,
            )
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{offset}-{}", end - 1))
            .body(ReqBody::Stream {
                open: &mut opener,
                len: n,
            });
            let r = self.t().send(req);
            if stopped.get() {
                if let Ok(resp) = r {
                    drain(resp);
                }
                return Err(self.cancelled(p.digest));
            }
            let resp = self.expect(r?, &[202, 204], &what)?;
            if let Some(loc) = header_str(&resp, "location") {
                location = self.t().resolve_location(&location, loc)?;
            }
            let next = match header_str(&resp, "range") {
                Some(range) => next_offset_from_range(range, end).ok_or_else(|| {
                    self.t().protocol(format!(
                        "{what}: the registry answered a malformed Range {:?}",
                        crate::digest::shorten(range)
                    ))
                })?,
                // No Range: the registry took the whole chunk.
                None => end,
            };
            drain(resp);
            if next > end {
                return Err(self.t().protocol(format!(
                    "{what}: the registry reports {next} bytes received, more than the {end} sent"
                )));
            }
            if next <= offset {
                return Err(self.t().protocol(format!(
                    "{what}: the registry accepted none of the chunk (Range ends at {next})"
                )));
            }
            if next < end && !p.data.can_rewind() {
                return Err(Error::InvalidInput(format!(
                    "{what}: the registry kept {next} of {end} bytes, and a reader cannot be \
                     rewound to resend the rest"
                )));
            }
            offset = next;
        }
        Ok(location)
    }

    /// `POST /v2/<repo>/blobs/uploads/` (with `mount`/`from` when mounting).
    fn start(&self, mount: Option<(&Digest, &str)>) -> Result<Started> {
        let (url, what) = match mount {
            Some((d, from)) => (
                format!(
                    "/v2/{}/blobs/uploads/?mount={}&from={}",
                    self.repo,
                    percent_encode(&d.to_string()),
                    percent_encode(from)
                ),
                format!("POST blob mount {}@{d} from {from}", self.repo),
            ),
            None => (
                format!("/v2/{}/blobs/uploads/", self.repo),
                format!("POST blob upload {}", self.repo),
            ),
        };
        let mut req = with_scopes(
            Request::new(Method::Post, url.clone(), what.clone()).repo(self.repo, "pull,push"),
            self.extra,
        );
        let from_scope = mount
            .filter(|(_, from)| *from != self.repo)
            .map(|(_, from)| format!("repository:{from}:pull"));
        if let Some(scope) = from_scope.filter(|s| !self.extra.contains(s)) {
            req = req.scope(scope);
        }
        let resp = self.t().send(req)?;
        let resp = self.expect(resp, &[201, 202], &what)?;
        let status = resp.status().as_u16();
        let location = header_str(&resp, "location")
            .map(|l| self.t().resolve_location(&url, l))
            .transpose()?;
        let min_chunk = header_str(&resp, "oci-chunk-min-length").and_then(|v| v.parse().ok());
        drain(resp);
        if status == 201 {
            return Ok(Started::Done);
        }
        let location = location.ok_or_else(|| {
            self.t()
                .protocol(format!("{what}: 202 Accepted without a Location header"))
        })?;
        Ok(Started::Session(Session {
            location,
            min_chunk,
        }))
    }

    /// Best-effort `DELETE` of an upload session.
    fn cancel_session(&self, location: &str) {
        let req = with_scopes(
            Request::new(
                Method::Delete,
                location.to_string(),
                format!("DELETE blob upload {}", self.repo),
            )
            .repo(self.repo, "pull,push"),
            self.extra,
        );
        if let Ok(resp) = self.t().send(req) {
            drain(resp);
        }
    }

    fn expect(&self, resp: Response<Body>, ok: &[u16], what: &str) -> Result<Response<Body>> {
        if ok.contains(&resp.status().as_u16()) {
            Ok(resp)
        } else {
            Err(self.t().error_from(resp, what, Some(self.repo)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_appending() {
        assert_eq!(
            append_query("/v2/a/blobs/uploads/u", "digest", "sha256:ab"),
            "/v2/a/blobs/uploads/u?digest=sha256%3Aab"
        );
        assert_eq!(
            append_query(
                "http://h/v2/a/blobs/uploads/u?_state=x%3D",
                "digest",
                "sha256:ab"
            ),
            "http://h/v2/a/blobs/uploads/u?_state=x%3D&digest=sha256%3Aab"
        );
        assert_eq!(append_query("/u?", "digest", "d"), "/u?digest=d");
    }

    #[test]
    fn ranges() {
        assert_eq!(next_offset_from_range("0-0", 0), Some(0));
        assert_eq!(next_offset_from_range("0-0", 1), Some(1));
        assert_eq!(next_offset_from_range("0-0", 5), Some(1));
        assert_eq!(next_offset_from_range("0-1023", 1024), Some(1024));
        assert_eq!(next_offset_from_range("bytes=0-9", 10), Some(10));
        assert_eq!(next_offset_from_range("5-9", 10), None);
        assert_eq!(next_offset_from_range("junk", 10), None);
    }

    #[test]
    fn one_shot_reader() {
        let data = b"hello world".to_vec();
        let st = RefCell::new(ReaderState {
            reader: Box::new(&data[..]),
            pos: 0,
            len: 11,
            hasher: Some(Hasher::new(Algorithm::Sha256)),
        });
        let r: &dyn OneShot = &st;
        let mut out = Vec::new();
        r.open_at(0, 5).unwrap().read_to_end(&mut out).unwrap();
        assert!(r.open_at(0, 5).is_err(), "a reader cannot be reopened");
        r.open_at(5, 6).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(r.finish().unwrap(), Some(Digest::sha256_of(&data)));
    }
}
