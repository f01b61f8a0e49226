//! An in-memory OCI distribution registry for tests (feature `test-server`, on by default).
//!
//! [`Registry::start`] listens on a free port of `127.0.0.1` and serves the OCI distribution API
//! from memory: pulls (manifests, blobs with `Range`, tag lists, the catalog), pushes (monolithic,
//! chunked and cross-repository-mount blob uploads, manifest PUT with reference checks) and
//! deletes. It can demand HTTP Basic or Bearer (token) authentication ([`AuthMode`]), and
//! misbehave on request: fail the next requests ([`Registry::fail_next`]), cut blob downloads
//! ([`Registry::drop_next`]), answer slowly ([`Registry::set_delay`]) or redirect blob downloads
//! to a second, unauthenticated listener ([`Registry::redirect_blobs`]). It can also play one
//! attack of a hostile registry at a time ([`Registry::set_hostile`], [`Hostile`]): links and
//! redirects to another origin, absurd token lifetimes, bodies that drip, never end or break
//! off, challenges missing from 401s, odd pagination, huge or malformed error bodies. Every
//! request is recorded ([`Registry::requests`]), without any secret.
//!
//! It is a test double: everything lives in memory, requests are served by a small pool of
//! threads, and no TLS is spoken (clients must allow plain HTTP for `127.0.0.1`).

mod auth;
mod faults;
mod fixtures;
mod handlers;
mod hostile;
mod server;
mod store;
mod util;

use std::fmt;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use auth::{AuthMode, BearerPolicy, Grant};
pub use fixtures::{gzip, tar, tar_gz};
pub use hostile::{Hostile, MAX_ERROR_MESSAGE, OTHER_ORIGIN_NAME, RangeMode};

use crate::digest::Digest;
use crate::error::{Error, Result};
use handlers::Shared;
use server::Frontend;
use store::{Manifest, check_manifest};
use util::{lock, valid_name, valid_tag};

/// Worker threads of the registry listener.
const REGISTRY_WORKERS: usize = 16;
/// Worker threads of the object store listener.
const OBJECT_STORE_WORKERS: usize = 4;

/// The media type of the manifests [`Registry::add_image`] builds.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// One request the registry (or its object store) answered.
///
/// Never holds a secret: `authorized` only says whether an `Authorization` header was sent, and
/// query parameters that look like secrets (`password`, `token`, ...) are replaced by
/// `REDACTED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, `PUT`, ...
    pub method: String,
    /// The path as sent, without the query, e.g. `/v2/team/app/manifests/v1`.
    pub path: String,
    /// The raw query without `?` (empty when there was none).
    pub query: String,
    /// The status answered.
    pub status: u16,
    /// Whether the request carried an `Authorization` header (its value is never stored).
    pub authorized: bool,
    /// Whether the object store served it: the second listener, target of
    /// [`Registry::redirect_blobs`] and the other origin of the [`Hostile`] scenarios.
    pub object_store: bool,
}

/// An in-memory OCI registry on `127.0.0.1`, for tests. `Send + Sync`; stops its threads when
/// dropped.
///
/// ```
/// use ocireg::testing::{AuthMode, Registry};
///
/// let reg = Registry::start()?;
/// let digest = reg.add_image("team/app", "v1", b"{}", &[b"layer one"])?;
/// assert!(reg.url().starts_with("http://127.0.0.1:"));
///
/// // Any HTTP client can talk to it.
/// let agent: ureq::Agent = ureq::Agent::config_builder()
///     .proxy(None)
///     .http_status_as_error(false)
///     .build()
///     .into();
/// let resp = agent
///     .head(&format!("{}/v2/team/app/manifests/v1", reg.url()))
///     .call()?;
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.headers()["Docker-Content-Digest"], digest.to_string().as_str());
///
/// // Misbehave once: the next request gets 503.
/// reg.fail_next(1, 503, Some(1));
/// let resp = agent.get(&format!("{}/v2/", reg.url())).call()?;
/// assert_eq!(resp.status(), 503);
/// assert_eq!(reg.requests().len(), 2);
///
/// // With authentication.
/// let basic = Registry::builder()
///     .auth(AuthMode::Basic { users: vec![("alice".into(), "pw".into())] })
///     .start()?;
/// let resp = agent.get(&format!("{}/v2/", basic.url())).call()?;
/// assert_eq!(resp.status(), 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Registry {
    shared: Arc<Shared>,
    registry: Option<Frontend>,
    object_store: Option<Frontend>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url())
            .field("object_store_port", &self.shared.object_port)
            .finish()
    }
}

/// Configures a [`Registry`] before it starts.
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    auth: AuthMode,
    port: u16,
}

impl RegistryBuilder {
    /// The authentication the registry demands (default: none).
    pub fn auth(mut self, auth: AuthMode) -> Self {
        self.auth = auth;
        self
    }

    /// The port on `127.0.0.1` (default 0: a free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Binds the listeners and starts serving.
    ///
    /// Fails with [`Error::Io`] when the port cannot be bound, or [`Error::Network`] when the
    /// server cannot start.
    pub fn start(self) -> Result<Registry> {
        let at = format!("127.0.0.1:{}", self.port);
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .map_err(|e| Error::io(format!("cannot listen on {at}"), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io(format!("cannot listen on {at}"), e))?
            .port();
        let (object_listeners, object_port) = bind_object_store()?;
        let shared = Arc::new(Shared::new(
            auth::AuthState::new(self.auth),
            port,
            object_port,
        ));
        let network = |e: std::io::Error| Error::Network {
            registry: format!("127.0.0.1:{port}"),
            message: format!("cannot start the test registry: {e}"),
        };
        let s = shared.clone();
        let registry = Frontend::start(
            vec![listener],
            REGISTRY_WORKERS,
            Arc::new(move |inc, relay| handlers::registry(&s, inc, relay)),
        )
        .map_err(network)?;
        let s = shared.clone();
        let object_store = Frontend::start(
            object_listeners,
            OBJECT_STORE_WORKERS,
            Arc::new(move |inc, relay| handlers::object_store(&s, inc, relay)),
        )
        .map_err(network)?;
        Ok(Registry {
            shared,
            registry: Some(registry),
            object_store: Some(object_store),
        })
    }
}

/// Listeners of the object store: `127.0.0.1:P` and, where IPv6 works, `[::1]:P`, so that
/// `http://localhost:P` reaches it whatever `localhost` resolves to first.
fn bind_object_store() -> Result<(Vec<TcpListener>, u16)> {
    let err = |e| Error::io("cannot listen on 127.0.0.1 for the object store", e);
    for _ in 0..20 {
        let v4 = TcpListener::bind("127.0.0.1:0").map_err(err)?;
        let port = v4.local_addr().map_err(err)?.port();
        match TcpListener::bind(("::1", port)) {
            Ok(v6) => return Ok((vec![v4, v6], port)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(_) => return Ok((vec![v4], port)),
        }
    }
    let v4 = TcpListener::bind("127.0.0.1:0").map_err(err)?;
    let port = v4.local_addr().map_err(err)?.port();
    Ok((vec![v4], port))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'a str,
    digest: String,
    size: usize,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

impl Registry {
    /// Starts a registry without authentication on a free port of `127.0.0.1`.
    pub fn start() -> Result<Registry> {
        Self::builder().start()
    }

    /// A builder, to choose authentication or a fixed port.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `http://127.0.0.1:PORT2`, the object store: the second listener, target of
    /// [`Registry::redirect_blobs`] (which names it `localhost`) and the other origin of
    /// [`Hostile::CrossOriginLink`] and [`Hostile::CrossPortRedirect`]. Same host, another port.
    pub fn object_store_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.object_port)
    }

    /// Stores a blob in a repository and returns its sha256 digest. The name is not checked: a
    /// blob under an invalid name is unreachable.
    pub fn add_blob(&self, repository: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::sha256_of(bytes);
        lock(&self.shared.store)
            .repo_mut(repository)
            .blobs
            .insert(digest.clone(), Arc::new(bytes.to_vec()));
        digest
    }

    /// Stores a manifest (tagged when `tag` is given) and returns its sha256 digest.
    ///
    /// Checked like a push: valid name and tag, JSON, a `mediaType` (if any) equal to
    /// `media_type`, and every referenced blob and child manifest already in the repository
    /// ([`Error::InvalidReference`] or [`Error::InvalidInput`] otherwise).
    pub fn add_manifest(
        &self,
        repository: &str,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        check_name_and_tag(repository, tag)?;
        let mut store = lock(&self.shared.store);
        let media_type = check_manifest(store.repos.get(repository), Some(media_type), bytes)
            .map_err(|e| {
                Error::InvalidInput(format!("manifest for {repository}: {}", e.message))
            })?;
        let digest = Digest::sha256_of(bytes);
        let repo = store.repo_mut(repository);
        repo.manifests.insert(
            digest.clone(),
            Manifest {
                bytes: Arc::new(bytes.to_vec()),
                media_type,
            },
        );
        if let Some(t) = tag {
            repo.tags.insert(t.to_string(), digest.clone());
        }
        Ok(digest)
    }

    /// Stores an image: the config blob, the layer blobs and an OCI image manifest referencing
    /// them (config `application/vnd.oci.image.config.v1+json`, layers
    /// `application/vnd.oci.image.layer.v1.tar+gzip`), tagged `tag`. Returns the manifest digest.
    pub fn add_image(
        &self,
        repository: &str,
        tag: &str,
        config: &[u8],
        layers: &[&[u8]],
    ) -> Result<Digest> {
        check_name_and_tag(repository, Some(tag))?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            config: Descriptor {
                media_type: OCI_CONFIG,
                digest: self.add_blob(repository, config).to_string(),
                size: config.len(),
            },
            layers: layers
                .iter()
                .map(|l| Descriptor {
                    media_type: OCI_LAYER_GZIP,
                    digest: self.add_blob(repository, l).to_string(),
                    size: l.len(),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| Error::InvalidInput(format!("cannot build the manifest: {e}")))?;
        self.add_manifest(repository, Some(tag), OCI_MANIFEST, &bytes)
    }

    /// Removes a blob from a repository (e.g. to make a later verification fail). True when it
    /// was there.
    pub fn delete_blob(&self, repository: &str, digest: &Digest) -> bool {
        let mut store = lock(&self.shared.store);
        let found = store
            .repos
            .get_mut(repository)
            .is_some_and(|r| r.blobs.remove(digest).is_some());
        store.prune(repository);
        found
    }

    /// Every request answered so far (registry, token endpoint and object store), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// The requests the object store (the second listener: the target of
    /// [`Registry::redirect_blobs`], the other origin of [`Hostile::CrossOriginLink`] and
    /// [`Hostile::CrossPortRedirect`]) answered so far, oldest first. A client that leaked its
    /// credentials there shows up with [`RecordedRequest::authorized`] set.
    pub fn object_store_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.object_store)
            .cloned()
            .collect()
    }

    /// How many requests were answered so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// The next `n` requests to the registry listener (any path but the token endpoint) are
    /// answered `status` with a spec error body (`TOOMANYREQUESTS` for 429, `UNAVAILABLE` for
    /// 503, `UNKNOWN` for other 5xx, ...) and, when given, `Retry-After: <seconds>`. Replaces
    /// any pending failures; `n = 0` cancels them.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<u32>) {
        self.shared.faults.fail_next(n, status, retry_after);
    }

    /// The next `n` blob downloads (GET, at the registry or at the object store) send the
    /// headers with the full `Content-Length`, then half the body, then close the connection.
    pub fn drop_next(&self, n: usize) {
        self.shared.faults.drop_next(n);
    }

    /// Delays every answer (registry, token endpoint, object store) by `d`; zero turns it off.
    pub fn set_delay(&self, d: Duration) {
        self.shared.faults.set_delay(d);
    }

    /// When on, blob GETs answer `307` to a second listener, `http://localhost:PORT2/...` (a
    /// different host string than `127.0.0.1`, like a CDN or object store), which serves the blob
    /// without authentication and records whether an `Authorization` header arrived
    /// ([`RecordedRequest::object_store`], [`RecordedRequest::authorized`]).
    pub fn redirect_blobs(&self, on: bool) {
        self.shared.faults.set_redirect(on);
    }

    /// Plays `h`, one attack of a hostile registry (see [`Hostile`] for what each sends), from
    /// the next request on; [`Hostile::None`] turns it off. Replaces the scenario being played.
    /// Answers being sent keep the scenario they started with (a dripping or endless answer
    /// goes on until the client hangs up or the registry stops).
    ///
    /// ```
    /// use ocireg::testing::{Hostile, Registry};
    ///
    /// let reg = Registry::start()?;
    /// reg.add_image("team/app", "v1", b"{}", &[])?;
    /// reg.set_hostile("changing-cursor".parse()?);
    /// let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    /// let resp = agent
    ///     .get(&format!("{}/v2/team/app/tags/list?n=1", reg.url()))
    ///     .call()?;
    /// assert!(resp.headers()["Link"].to_str()?.contains("last=c1"));
    /// reg.set_hostile(Hostile::None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_hostile(&self, h: Hostile) {
        self.shared.faults.set_hostile(h);
    }

    /// The scenario being played ([`Hostile::None`] unless [`Registry::set_hostile`] said
    /// otherwise).
    pub fn hostile(&self) -> Hostile {
        self.shared.faults.hostile()
    }

    /// Stops serving and joins the threads (as dropping does).
    pub fn stop(self) {
        drop(self);
    }
}

fn check_name_and_tag(repository: &str, tag: Option<&str>) -> Result<()> {
    if !valid_name(repository) {
        return Err(Error::InvalidReference(format!(
            "invalid repository name {:?}",
            crate::digest::shorten(repository)
        )));
    }
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return Err(Error::InvalidReference(format!(
            "invalid tag {:?}",
            crate::digest::shorten(t)
        )));
    }
    Ok(())
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(mut fe) = self.registry.take() {
            fe.stop();
        }
        if let Some(mut fe) = self.object_store.take() {
            fe.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn registry_is_send_and_sync() {
        assert_send_sync::<Registry>();
    }

    #[test]
    fn programmatic_content() {
        let reg = Registry::start().unwrap();
        let d = reg.add_image("a/b", "v1", b"{}", &[b"l1", b"l2"]).unwrap();
        let store = lock(&reg.shared.store);
        let repo = store.repos.get("a/b").unwrap();
        assert_eq!(repo.tags.get("v1"), Some(&d));
        assert_eq!(repo.blobs.len(), 3);
        let m: serde_json::Value = serde_json::from_slice(&repo.manifests[&d].bytes).unwrap();
        assert_eq!(m["mediaType"], OCI_MANIFEST);
        assert_eq!(m["layers"][1]["size"], 2);
        drop(store);
        assert!(matches!(
            reg.add_image("Bad", "v1", b"{}", &[]),
            Err(Error::InvalidReference(_))
        ));
        assert!(matches!(
            reg.add_manifest("a/b", Some("-x"), OCI_MANIFEST, b"{}"),
            Err(Error::InvalidReference(_))
        ));
        let missing = format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","config":{{"digest":"{}","size":1}}}}"#,
            Digest::sha256_of(b"nope")
        );
        assert!(matches!(
            reg.add_manifest("a/b", None, OCI_MANIFEST, missing.as_bytes()),
            Err(Error::InvalidInput(_))
        ));
        let blob = reg.add_blob("a/b", b"x");
        assert!(reg.delete_blob("a/b", &blob));
        assert!(!reg.delete_blob("a/b", &blob));
        reg.stop();
    }

    #[test]
    fn port_in_use_is_an_io_error() {
        let reg = Registry::start().unwrap();
        let e = Registry::builder().port(reg.port()).start().unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
    }
}
