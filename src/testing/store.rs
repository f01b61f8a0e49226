//! The in-memory content of the test registry: repositories with blobs, manifests and tags, and
//! blob upload sessions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::digest::{Algorithm, Digest, Hasher};

/// A stored manifest: its raw bytes and media type.
#[derive(Clone)]
pub(crate) struct Manifest {
    pub bytes: Arc<Vec<u8>>,
    pub media_type: String,
}

/// One repository.
#[derive(Default)]
pub(crate) struct Repo {
    pub blobs: HashMap<Digest, Arc<Vec<u8>>>,
    pub manifests: HashMap<Digest, Manifest>,
    pub tags: BTreeMap<String, Digest>,
}

impl Repo {
    pub(crate) fn is_empty(&self) -> bool {
        self.blobs.is_empty() && self.manifests.is_empty() && self.tags.is_empty()
    }

    /// The manifest a tag or digest reference names.
    pub(crate) fn manifest(&self, reference: &Reference) -> Option<(Digest, Manifest)> {
        let digest = match reference {
            Reference::Digest(d) => d,
            Reference::Tag(t) => self.tags.get(t)?,
        };
        self.manifests
            .get(digest)
            .map(|m| (digest.clone(), m.clone()))
    }

    /// Removes a manifest and every tag pointing at it.
    pub(crate) fn delete_manifest(&mut self, digest: &Digest) -> bool {
        let found = self.manifests.remove(digest).is_some();
        self.tags.retain(|_, d| d != digest);
        found
    }
}

/// A tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    Tag(String),
    Digest(Digest),
}

/// An upload in progress.
pub(crate) struct Session {
    pub data: Vec<u8>,
    /// sha256 of `data`, kept up to date while streaming.
    pub hasher: Hasher,
}

/// A point to roll an upload back to when a chunk fails.
pub(crate) struct Checkpoint {
    len: usize,
    hasher: Hasher,
}

impl Session {
    pub(crate) fn new() -> Self {
        Session {
            data: Vec::new(),
            hasher: Hasher::new(Algorithm::Sha256),
        }
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            len: self.data.len(),
            hasher: self.hasher.clone(),
        }
    }

    /// Forgets everything received since the checkpoint.
    pub(crate) fn restore(&mut self, cp: Checkpoint) {
        self.data.truncate(cp.len);
        self.data.shrink_to_fit();
        self.hasher = cp.hasher;
    }

    /// The digest of everything received, with `like`'s algorithm.
    pub(crate) fn digest_like(&self, like: &Digest) -> Digest {
        match like.algorithm() {
            Algorithm::Sha256 => self.hasher.clone().finish(),
            Algorithm::Sha512 => like.of_same_kind(&self.data),
        }
    }

    /// The `Range` header value: `0-<last>` (`0-0` when empty, like distribution).
    pub(crate) fn range(&self) -> String {
        format!("0-{}", self.data.len().saturating_sub(1))
    }
}

/// A registered upload session. Lock order: a session before the store, never the reverse.
#[derive(Clone)]
pub(crate) struct SessionEntry {
    pub repo: String,
    pub session: Arc<Mutex<Session>>,
}

/// Everything the registry stores.
#[derive(Default)]
pub(crate) struct Store {
    pub repos: BTreeMap<String, Repo>,
    pub sessions: HashMap<String, SessionEntry>,
}

impl Store {
    pub(crate) fn repo_mut(&mut self, name: &str) -> &mut Repo {
        self.repos.entry(name.to_string()).or_default()
    }

    pub(crate) fn blob(&self, repo: &str, digest: &Digest) -> Option<Arc<Vec<u8>>> {
        self.repos.get(repo)?.blobs.get(digest).cloned()
    }

    /// Drops a repository that became empty.
    pub(crate) fn prune(&mut self, name: &str) {
        if self.repos.get(name).is_some_and(Repo::is_empty) {
            self.repos.remove(name);
        }
    }

    /// Repository names that hold at least one manifest, sorted.
    pub(crate) fn catalog(&self) -> Vec<&str> {
        self.repos
            .iter()
            .filter(|(_, r)| !r.manifests.is_empty())
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// Why a manifest was refused.
#[derive(Debug)]
pub(crate) struct ManifestError {
    pub code: &'static str,
    pub message: String,
    pub detail: serde_json::Value,
}

fn invalid(message: impl Into<String>) -> ManifestError {
    ManifestError {
        code: "MANIFEST_INVALID",
        message: message.into(),
        detail: serde_json::Value::Null,
    }
}

/// Checks a manifest about to be stored in `repo`: JSON object, a media type that agrees with
/// the body's `mediaType`, and every referenced blob (`config`, `layers`, `blobs`) and child
/// manifest (`manifests`) present. Returns the media type to store.
pub(crate) fn check_manifest(
    repo: Option<&Repo>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<String, ManifestError> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the manifest is not valid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("the manifest is not a JSON object"))?;
    let body_type = match obj.get("mediaType") {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("mediaType must be a string")),
    };
    let content_type = content_type
        .map(super::util::media_type_essence)
        .filter(|c| !c.is_empty());
    let media_type = match (body_type, content_type) {
        (Some(b), Some(c)) if super::util::media_type_essence(b) == c => b.to_string(),
        (Some(b), Some(c)) => {
            return Err(invalid(format!(
                "Content-Type {c:?} does not match the manifest's mediaType {b:?}"
            )));
        }
        (Some(b), None) => {
            return Err(invalid(format!(
                "Content-Type is missing (the manifest's mediaType is {b:?})"
            )));
        }
        (None, Some(c)) => c,
        (None, None) => {
            return Err(invalid(
                "the manifest has no mediaType and no Content-Type was given",
            ));
        }
    };
    if !media_type.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(invalid("the media type must be printable ASCII"));
    }

    let empty = Repo::default();
    let repo = repo.unwrap_or(&empty);
    let descriptor =
        |d: &serde_json::Value, what: &str| -> Result<(Digest, Option<u64>), ManifestError> {
            let digest = d
                .get("digest")
                .and_then(|x| x.as_str())
                .ok_or_else(|| invalid(format!("a {what} descriptor has no digest")))?;
            let digest: Digest = digest
                .parse()
                .map_err(|e| invalid(format!("a {what} descriptor has an invalid digest: {e}")))?;
            let size = match d.get("size") {
                None => None,
                Some(s) => Some(s.as_u64().ok_or_else(|| {
                    invalid(format!(
                        "the {what} descriptor of {digest} has an invalid size"
                    ))
                })?),
            };
            Ok((digest, size))
        };
    let blob_unknown = |digest: &Digest, what: &str| ManifestError {
        code: "MANIFEST_BLOB_UNKNOWN",
        message: format!("{what} {digest} is not in the repository"),
        detail: serde_json::json!({ "digest": digest.to_string() }),
    };
    let check_blob = |d: &serde_json::Value, what: &str| -> Result<(), ManifestError> {
        // Foreign (non-distributable) layers with URLs live elsewhere.
        if d.get("urls")
            .and_then(|u| u.as_array())
            .is_some_and(|u| !u.is_empty())
        {
            return Ok(());
        }
        let (digest, size) = descriptor(d, what)?;
        let blob = repo
            .blobs
            .get(&digest)
            .ok_or_else(|| blob_unknown(&digest, what))?;
        if let Some(size) = size
            && size != blob.len() as u64
        {
            return Err(invalid(format!(
                "the {what} descriptor of {digest} says {size} bytes, the blob has {}",
                blob.len()
            )));
        }
        Ok(())
    };
    let list = |key: &str| -> Result<&[serde_json::Value], ManifestError> {
        match obj.get(key) {
            None => Ok(&[]),
            Some(serde_json::Value::Array(a)) => Ok(a),
            Some(_) => Err(invalid(format!("{key} must be an array"))),
        }
    };
    if let Some(config) = obj.get("config") {
        check_blob(config, "config")?;
    }
    for l in list("layers")? {
        check_blob(l, "layer")?;
    }
    for b in list("blobs")? {
        check_blob(b, "blob")?;
    }
    for m in list("manifests")? {
        let (digest, size) = descriptor(m, "manifest")?;
        let child = repo
            .manifests
            .get(&digest)
            .ok_or_else(|| blob_unknown(&digest, "manifest"))?;
        if let Some(size) = size
            && size != child.bytes.len() as u64
        {
            return Err(invalid(format!(
                "the manifest descriptor of {digest} says {size} bytes, the manifest has {}",
                child.bytes.len()
            )));
        }
    }
    Ok(media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

    #[test]
    fn manifest_checks() {
        let mut repo = Repo::default();
        let blob = b"config".to_vec();
        let d = Digest::sha256_of(&blob);
        repo.blobs.insert(d.clone(), Arc::new(blob));
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI}","config":{{"mediaType":"x","digest":"{d}","size":6}},"layers":[]}}"#
        );
        assert_eq!(
            check_manifest(Some(&repo), Some(OCI), m.as_bytes()).unwrap(),
            OCI
        );
        // Parameters and case of the Content-Type do not matter.
        assert!(
            check_manifest(
                Some(&repo),
                Some("Application/vnd.oci.image.manifest.v1+json; x=y"),
                m.as_bytes()
            )
            .is_ok()
        );
        let e = check_manifest(Some(&repo), Some("application/json"), m.as_bytes()).unwrap_err();
        assert_eq!(e.code, "MANIFEST_INVALID");
        let e = check_manifest(Some(&repo), None, m.as_bytes()).unwrap_err();
        assert_eq!(e.code, "MANIFEST_INVALID");
        let e = check_manifest(None, Some(OCI), m.as_bytes()).unwrap_err();
        assert_eq!(e.code, "MANIFEST_BLOB_UNKNOWN");
        let wrong_size = m.replace("\"size\":6", "\"size\":7");
        let e = check_manifest(Some(&repo), Some(OCI), wrong_size.as_bytes()).unwrap_err();
        assert_eq!(e.code, "MANIFEST_INVALID");
        for bad in [
            "",
            "[]",
            "{\"mediaType\":1}",
            "{\"layers\":{}}",
            "{\"config\":{\"digest\":\"sha256:x\"}}",
        ] {
            let e = check_manifest(Some(&repo), Some(OCI), bad.as_bytes()).unwrap_err();
            assert_eq!(e.code, "MANIFEST_INVALID", "{bad}");
        }
        // No mediaType in the body: the Content-Type is the stored type.
        assert_eq!(
            check_manifest(
                Some(&repo),
                Some("application/vnd.docker.distribution.manifest.v2+json"),
                b"{}"
            )
            .unwrap(),
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        let index = format!(
            r#"{{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"digest":"{d}","size":1}}]}}"#
        );
        let e = check_manifest(
            Some(&repo),
            Some("application/vnd.oci.image.index.v1+json"),
            index.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.code, "MANIFEST_BLOB_UNKNOWN");
        let foreign = format!(
            r#"{{"mediaType":"{OCI}","layers":[{{"digest":"{}","urls":["http://x"]}}]}}"#,
            Digest::sha256_of(b"nope")
        );
        assert!(check_manifest(Some(&repo), Some(OCI), foreign.as_bytes()).is_ok());
    }

    #[test]
    fn sessions() {
        let mut s = Session::new();
        assert_eq!(s.range(), "0-0");
        s.data.extend_from_slice(b"hello");
        s.hasher.update(b"hello");
        assert_eq!(s.range(), "0-4");
        let d = Digest::sha256_of(b"hello");
        assert_eq!(s.digest_like(&d), d);
        let d512 = format!("sha512:{}", "0".repeat(128))
            .parse::<Digest>()
            .unwrap();
        assert_eq!(s.digest_like(&d512), d512.of_same_kind(b"hello"));
        let cp = s.checkpoint();
        s.data.extend_from_slice(b" world");
        s.hasher.update(b" world");
        s.restore(cp);
        assert_eq!(s.digest_like(&d), d);
    }
}
