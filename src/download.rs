//! Blob downloads as a stream: [`BlobReader`], verified as it streams, never longer than its
//! size, resumed with `Range` after a broken connection. Pulls are built on it.

use std::fmt;
use std::io::{self, Read};

use ureq::BodyReader;

use crate::client::Client;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::headers;
use crate::manifest::with_scopes;
use crate::reference::Repository;
use crate::transport::{Guarded, Method, Request, Retrier, content_length};

/// A blob being downloaded, read as a stream ([`Client::blob_reader`]): `impl Read`.
///
/// - The bytes are hashed as they pass: the read that reaches the end fails with
///   [`Error::DigestMismatch`] when they do not hash to the digest, so a caller that reads to
///   the end never takes unverified content for good.
/// - No more than the blob's size is ever read (the size comes from the answer's
///   `Content-Length`, or a `HEAD`): a longer body is [`Error::Protocol`].
/// - A connection broken mid-way is resumed with `Range: bytes=N-`, as the retry policy allows
///   (a registry that ignores `Range` is read again from the start, the bytes already given
///   skipped).
///
/// Read errors are `io::Error`s wrapping the [`Error`]: [`BlobReader::error_of`] gets it back.
///
/// ```no_run
/// # fn main() -> ocireg::Result<()> {
/// let client = ocireg::Client::new("registry.example.com")?;
/// let digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// let mut blob = client.blob_reader("team/app", digest)?;
/// println!("{} bytes", blob.size());
/// let n = std::io::copy(&mut blob, &mut std::io::sink()).map_err(ocireg::BlobReader::error_of)?;
/// assert_eq!(n, blob.size());
/// # Ok(()) }
/// ```
pub struct BlobReader {
    client: Client,
    repository: Repository,
    digest: Digest,
    size: u64,
    /// Whether `size` is the caller's (a descriptor's) rather than the registry's word.
    size_expected: bool,
    body: Option<Guarded<BodyReader<'static>>>,
    /// Bytes of the current body still to drop (a registry that answered a Range with 200).
    skip: u64,
    /// Bytes given to the caller so far.
    pos: u64,
    hasher: Option<Hasher>,
    retries: Retrier,
    /// Token scopes asked for besides `pull` on the repository (a copy's destination).
    extra: Vec<String>,
    deadline: Option<std::time::Instant>,
    done: bool,
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("repository", &self.repository.as_str())
            .field("digest", &self.digest)
            .field("size", &self.size)
            .field("read", &self.pos)
            .finish()
    }
}

impl Client {
    /// Opens a blob for reading as a stream; see [`BlobReader`]. The `GET` is sent now (so a
    /// missing blob is [`Error::NotFound`] here), the body comes as it is read.
    pub fn blob_reader(&self, repository: &str, digest: &str) -> Result<BlobReader> {
        let repository = Repository::parse(repository)?;
        let digest: Digest = digest.parse()?;
        BlobReader::open(self, repository, digest, None)
    }
}

impl BlobReader {
    /// Opens `digest` of `repository`, of `expected_size` bytes when the caller knows it (a
    /// descriptor): the answer must agree.
    pub(crate) fn open(
        client: &Client,
        repository: Repository,
        digest: Digest,
        expected_size: Option<u64>,
    ) -> Result<BlobReader> {
        Self::open_scoped(client, repository, digest, expected_size, &[])
    }

    /// [`BlobReader::open`], asking for `extra` token scopes too.
    pub(crate) fn open_scoped(
        client: &Client,
        repository: Repository,
        digest: Digest,
        expected_size: Option<u64>,
        extra: &[String],
    ) -> Result<BlobReader> {
        let t = client.transport();
        let path = format!("/v2/{repository}/blobs/{digest}");
        let deadline = t.deadline_from_now();
        let mut r = BlobReader {
            client: client.clone(),
            hasher: Some(Hasher::new(digest.algorithm())),
            retries: t.retrier("GET", &t.url(&path), deadline),
            extra: extra.to_vec(),
            repository,
            digest,
            size: expected_size.unwrap_or(0),
            size_expected: expected_size.is_some(),
            body: None,
            skip: 0,
            pos: 0,
            deadline,
            done: false,
        };
        r.request()?;
        Ok(r)
    }

    /// The blob's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The blob's digest.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The [`Error`] inside an `io::Error` this reader returned (any other `io::Error` becomes
    /// [`Error::Io`]).
    pub fn error_of(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>())
            && let Some(inner) = e.into_inner()
            && let Ok(error) = inner.downcast::<Error>()
        {
            return *error;
        }
        Error::io("reading a blob", io::Error::other("the read failed"))
    }

    fn what(&self) -> String {
        format!("GET blob {}@{}", self.repository, self.digest)
    }

    /// Sends the GET (with `Range` past what was given), and checks where its body starts.
    fn request(&mut self) -> Result<()> {
        let t = self.client.transport();
        let what = self.what();
        let mut req = Request::new(
            Method::Get,
            format!("/v2/{}/blobs/{}", self.repository, self.digest),
            what.clone(),
        )
        .repo(&self.repository, "pull")
        .large_body();
        req = with_scopes(req, &self.extra);
        req.deadline = self.deadline;
        let resuming = self.pos > 0;
        if resuming {
            req = req.header("range", format!("bytes={}-", self.pos));
        }
        let resp = t.send_expect(req, if resuming { &[200, 206] } else { &[200] })?;
        if resp.status().as_u16() == 206 {
            let range = resp
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok());
            match range.and_then(headers::content_range) {
                Some((start, _, _)) if start == self.pos => self.skip = 0,
                _ => {
                    return Err(t.protocol(format!(
                        "{what}: asked for bytes {}-, got Content-Range {:?}",
                        self.pos,
                        crate::digest::shorten(range.unwrap_or("(none)"))
                    )));
                }
            }
        } else {
            // A whole answer: what was already given is dropped.
            self.skip = self.pos;
        }
        if !resuming {
            let declared = content_length(&resp);
            match (declared, self.size_expected) {
                (Some(c), true) if c != self.size => {
                    return Err(Error::DigestMismatch {
                        what: format!("blob {}@{} (size)", self.repository, self.digest),
                        expected: format!("{} bytes", self.size),
                        actual: format!("{c} bytes (Content-Length)"),
                    });
                }
                (Some(c), false) => self.size = c,
                (None, false) => {
                    let head = self
                        .client
                        .head_blob_scoped(&self.repository, &self.digest, "pull", &self.extra)?
                        .flatten();
                    self.size = head.ok_or_else(|| {
                        t.protocol(format!(
                            "{what}: neither the answer nor a HEAD says how large the blob is"
                        ))
                    })?;
                }
                _ => {}
            }
        }
        self.body = Some(t.body_reader(resp));
        Ok(())
    }

    /// Reads from the current body, resuming after a broken connection; `Ok(0)` at its end.
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            if self.body.is_none() {
                self.request()?;
            }
            let t = self.client.transport();
            let Some(body) = self.body.as_mut() else {
                continue;
            };
            let error = match body.read(buf) {
                Ok(0) if self.pos < self.size => {
                    t.body_error(&self.what(), self.pos, io::ErrorKind::UnexpectedEof.into())
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => t.body_error(&self.what(), self.pos, e),
            };
            // A broken connection resumes where it broke; a tripped limit does not.
            self.body = None;
            let delay = match &error {
                Error::Network { .. } => self.retries.plan(&t, None),
                _ => None,
            };
            let Some(delay) = delay else {
                return Err(error);
            };
            self.retries.wait(&t, delay, None, error.to_string());
        }
    }

    fn read_verified(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            // One byte more than the blob's rest, to notice a longer body.
            let room = (self.size - self.pos)
                .saturating_add(1)
                .min(buf.len() as u64) as usize;
            let n = self.read_body(&mut buf[..room])?;
            let mut chunk = 0..n;
            if self.skip > 0 {
                let k = self.skip.min(n as u64) as usize;
                self.skip -= k as u64;
                chunk.start = k;
            }
            let got = (chunk.end - chunk.start) as u64;
            if got == 0 && n > 0 {
                continue; // all skipped
            }
            if self.pos + got > self.size {
                let what = format!("blob {}@{}", self.repository, self.digest);
                return Err(if self.size_expected {
                    Error::DigestMismatch {
                        what: format!("{what} (size)"),
                        expected: format!("{} bytes", self.size),
                        actual: format!("more than {} bytes", self.size),
                    }
                } else {
                    self.client.transport().protocol(format!(
                        "GET {what}: the body is longer than the {} bytes announced",
                        self.size
                    ))
                });
            }
            if chunk.start > 0 {
                buf.copy_within(chunk.clone(), 0);
            }
            if let Some(h) = self.hasher.as_mut() {
                h.update(&buf[..got as usize]);
            }
            self.pos += got;
            if got == 0 || self.pos == self.size {
                self.finish()?;
            }
            return Ok(got as usize);
        }
    }

    /// At the end: the digest must match.
    fn finish(&mut self) -> Result<()> {
        self.done = true;
        self.body = None;
        let Some(h) = self.hasher.take() else {
            return Ok(());
        };
        let actual = h.finish();
        if actual != self.digest {
            return Err(Error::DigestMismatch {
                what: format!(
                    "blob {}@{} on {}",
                    self.repository,
                    self.digest,
                    self.client.registry()
                ),
                expected: self.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_verified(buf).map_err(io::Error::other)
    }
}
