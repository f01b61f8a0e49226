//! Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`), streaming hashers and verifying
//! readers and writers.
//!
//! ```
//! use ocireg::Digest;
//! let d = Digest::sha256_of(b"hello");
//! assert_eq!(d.to_string(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
//! assert_eq!("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".parse::<Digest>().unwrap(), d);
//! assert!("sha256:abc".parse::<Digest>().is_err());
//! ```

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use sha2::Digest as _;

use crate::error::Error;

/// A digest algorithm ocireg can compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, 64 lowercase hex characters. The default everywhere.
    Sha256,
    /// SHA-512, 128 lowercase hex characters.
    Sha512,
}

impl Algorithm {
    /// `"sha256"` or `"sha512"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated content digest, `algorithm:encoded`.
///
/// Only `sha256` and `sha512` are accepted, with exactly 64 or 128 lowercase hex characters, so a
/// `Digest` is always safe to use in a URL or as a file name (`blobs/sha256/<hex>`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finish()
    }

    /// The digest of `bytes` with this digest's algorithm.
    pub fn of_same_kind(&self, bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(self.algorithm);
        h.update(bytes);
        h.finish()
    }

    /// Checks that `bytes` hash to this digest; `what` names the content in the error.
    pub fn verify(&self, bytes: &[u8], what: &str) -> Result<(), Error> {
        let actual = self.of_same_kind(bytes);
        if &actual == self {
            Ok(())
        } else {
            Err(Error::DigestMismatch {
                what: what.to_string(),
                expected: self.to_string(),
                actual: actual.to_string(),
            })
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded (hex) part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let shown = shorten(s);
        let (alg, hex) = s.split_once(':').ok_or_else(|| {
            Error::InvalidReference(format!(
                "digest {shown:?} must be algorithm:hex, e.g. sha256:<64 hex>"
            ))
        })?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => {
                return Err(Error::InvalidReference(format!(
                    "digest {shown:?}: unsupported algorithm {:?} (sha256 or sha512)",
                    shorten(alg)
                )));
            }
        };
        if hex.len() != algorithm.hex_len() {
            return Err(Error::InvalidReference(format!(
                "digest {shown:?}: a {} digest has {} hex characters, not {}",
                algorithm.as_str(),
                algorithm.hex_len(),
                hex.len()
            )));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Error::InvalidReference(format!(
                "digest {shown:?}: the encoded part must be lowercase hex"
            )));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Shortens untrusted input for an error message (never more than 80 characters), with the
/// password of any `user:password@` userinfo redacted first.
pub(crate) fn shorten(s: &str) -> String {
    let s = crate::redact::userinfo(s);
    if s.chars().count() <= 80 {
        s
    } else {
        let mut t: String = s.chars().take(77).collect();
        t.push_str("...");
        t
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// An incremental hasher for one [`Algorithm`].
///
/// ```
/// use ocireg::{Algorithm, Hasher};
/// let mut h = Hasher::new(Algorithm::Sha256);
/// h.update(b"hel");
/// h.update(b"lo");
/// assert_eq!(h.finish(), ocireg::Digest::sha256_of(b"hello"));
/// ```
#[derive(Clone)]
pub struct Hasher(HasherInner);

#[derive(Clone)]
enum HasherInner {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A new hasher.
    pub fn new(algorithm: Algorithm) -> Self {
        Hasher(match algorithm {
            Algorithm::Sha256 => HasherInner::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => HasherInner::Sha512(sha2::Sha512::new()),
        })
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            HasherInner::Sha256(h) => h.update(bytes),
            HasherInner::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self.0 {
            HasherInner::Sha256(h) => (Algorithm::Sha256, hex_encode(&h.finalize())),
            HasherInner::Sha512(h) => (Algorithm::Sha512, hex_encode(&h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(algorithm),
            count: 0,
        }
    }

    /// The digest of what was written, how many bytes, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (self.hasher.finish(), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(good.parse::<Digest>().unwrap().to_string(), good);
        let good512 = format!("sha512:{}", "0".repeat(128));
        assert!(good512.parse::<Digest>().is_ok());
        for bad in [
            "",
            ":",
            "sha256:",
            "sha256",
            "md5:abc",
            "sha256:ABCDEF0000000000000000000000000000000000000000000000000000000000",
            "sha256:../../../../etc/passwd000000000000000000000000000000000000000",
            "sha512:aaaa",
            "sha256:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "sha256:éééééééééééééééééééééééééééééééé",
        ] {
            let e = bad.parse::<Digest>().unwrap_err();
            assert!(matches!(e, Error::InvalidReference(_)), "{bad}: {e}");
        }
        let long = "x".repeat(10_000);
        let msg = long.parse::<Digest>().unwrap_err().to_string();
        assert!(msg.len() < 300, "error message is bounded: {}", msg.len());
    }

    #[test]
    fn streaming_matches_oneshot() {
        let data = vec![7u8; 100_000];
        let mut w = HashingWriter::new(Vec::new(), Algorithm::Sha256);
        w.write_all(&data).unwrap();
        let (d, n, _) = w.finish();
        assert_eq!(n, 100_000);
        assert_eq!(d, Digest::sha256_of(&data));
        let mut w = HashingWriter::new(Vec::new(), Algorithm::Sha512);
        w.write_all(&data).unwrap();
        let (d512, n, out) = w.finish();
        assert_eq!((n, out.len()), (100_000, 100_000));
        assert_eq!(d512.hex().len(), 128);
        assert!(d512.verify(&data, "x").is_ok());
        assert!(matches!(
            d.verify(b"other", "blob"),
            Err(Error::DigestMismatch { .. })
        ));
    }
}
