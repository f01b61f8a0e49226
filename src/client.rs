//! [`Client`] and its [`ClientBuilder`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::auth::Credentials;
use crate::credentials::{self, ConfigOptions, Source};
use crate::error::{Error, Result};
use crate::transport::{
    Call, Cancel, LowSpeedLimit, Method, Request, RequestCallback, RequestEvent, RetryCallback,
    RetryEvent, RetryPolicy, Transport, TransportConfig, Tx,
};

/// A registry client: one registry, one connection pool, one token cache.
///
/// `Client` is `Send + Sync` and cheap to clone (clones share the pool and the tokens), so one
/// client can serve many threads at once.
///
/// ```no_run
/// # fn main() -> ocireg::Result<()> {
/// let client = ocireg::Client::builder("registry.example.com")
///     .credentials(ocireg::Credentials::basic("alice", "s3cret"))
///     .build()?;
/// client.ping()?;
/// for tag in client.tags("team/app")? {
///     println!("{tag}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// Set on a client bound to a cancel handle or a deadline ([`Client::with_cancel`]).
    call: Option<Arc<Call>>,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) source: Source,
}

const _: () = {
    fn assert_send_sync<T: Send + Sync>() {}
    let _ = assert_send_sync::<Client>;
};

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry())
            .field("base_url", &self.base_url())
            .field("credentials", self.inner.transport.credentials())
            .finish()
    }
}

impl Client {
    /// Starts configuring a client for `registry`: `host`, `host:port`, `http://host:port`,
    /// `https://host/base/path`, or `https://user:password@host` (the userinfo becomes Basic
    /// credentials). `docker.io` and `index.docker.io` mean Docker Hub
    /// (`registry-1.docker.io`). Without a scheme, https is used, or plain http with
    /// [`ClientBuilder::insecure`].
    pub fn builder(registry: &str) -> ClientBuilder {
        ClientBuilder::new(registry)
    }

    /// `Client::builder(registry).build()`: credentials come from the resolution chain.
    pub fn new(registry: &str) -> Result<Client> {
        ClientBuilder::new(registry).build()
    }

    /// The registry as `host[:port]`, the name used in messages and credential stores.
    pub fn registry(&self) -> &str {
        self.inner.transport.registry()
    }

    /// The base URL requests go to, e.g. `https://registry-1.docker.io` or
    /// `https://host/dockerproxy`.
    pub fn base_url(&self) -> &str {
        self.inner.transport.base()
    }

    /// Where the client's credentials came from (explicit, a helper, a config file, anonymous).
    pub fn credential_source(&self) -> &Source {
        &self.inner.source
    }

    /// HTTP requests this client (and its clones) sent so far, token requests included.
    pub fn request_count(&self) -> u64 {
        self.inner.transport.request_count()
    }

    /// The transport, as the calls of this client see it (with its cancel handle and deadline).
    pub(crate) fn transport(&self) -> Tx<'_> {
        Tx::new(&self.inner.transport, self.call.as_ref())
    }

    /// This client, bound to `cancel`: every call made through the returned client returns
    /// [`Error::Cancelled`] promptly once `cancel` is triggered (from any thread), even while
    /// the registry is silent mid-answer, leaving nothing half-written (no partial file, no tag
    /// pointing at a missing blob). The returned client shares this one's credentials and
    /// tokens, but has connections no other client uses meanwhile (so that cancelling ends only
    /// them; they are lent from a small stock this client keeps, so one bound call after another
    /// reuses the same keep-alive connections); it may be
    /// used for several calls, and is cancelled for good once triggered.
    ///
    /// ```
    /// let client = ocireg::Client::builder("http://127.0.0.1:1").build()?;
    /// let cancel = ocireg::Cancel::new();
    /// cancel.trigger();
    /// let e = client.with_cancel(&cancel).tags("team/app").unwrap_err();
    /// assert!(matches!(e, ocireg::Error::Cancelled(_)));
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    pub fn with_cancel(&self, cancel: &Cancel) -> Client {
        let deadline = self.call.as_ref().and_then(|c| c.deadline);
        self.bound(Some(cancel.clone()), deadline)
    }

    /// This client, with a deadline `timeout` from now for everything done through the returned
    /// client: each call (all its requests, retries, backoff and bodies together) fails with
    /// [`Error::Timeout`] once it passes. Unlike [`ClientBuilder::overall_timeout`] (per
    /// request), this bounds a whole operation, such as a pull of many blobs.
    ///
    /// ```
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let tags = client.with_timeout(std::time::Duration::from_secs(5)).tags("team/app");
    /// # let _ = tags;
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.with_deadline(deadline),
            None => self.clone(),
        }
    }

    /// This client, with a deadline for everything done through the returned client (see
    /// [`Client::with_timeout`]); the earlier deadline wins when one is already set.
    pub fn with_deadline(&self, deadline: Instant) -> Client {
        let current = self.call.as_ref();
        let deadline = crate::transport::earliest(current.and_then(|c| c.deadline), Some(deadline));
        let cancel = current.and_then(|c| c.cancel.clone());
        self.bound(cancel, deadline)
    }

    /// This client, with `f` told of the retries of calls made through it instead of the
    /// client's own retry callback.
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) fn with_retry_notify(&self, f: RetryCallback) -> Client {
        let (cancel, deadline, agent) = match &self.call {
            Some(c) => (c.cancel.clone(), c.deadline, c.agent.clone()),
            None => (None, None, None),
        };
        Client {
            inner: self.inner.clone(),
            call: Some(Arc::new(Call {
                cancel,
                deadline,
                agent,
                on_retry: Some(f),
            })),
        }
    }

    fn bound(&self, cancel: Option<Cancel>, deadline: Option<Instant>) -> Client {
        // A client already bound to the same handle keeps its agent.
        let same_cancel = match (&self.call, &cancel) {
            (Some(c), Some(new)) => c.cancel.as_ref().is_some_and(|old| old.same(new)),
            _ => false,
        };
        let call = match &self.call {
            Some(c) if same_cancel => Call {
                cancel,
                deadline,
                agent: c.agent.clone(),
                on_retry: c.on_retry.clone(),
            },
            _ => {
                let mut call = self.inner.transport.call(cancel, deadline);
                call.on_retry = self.call.as_ref().and_then(|c| c.on_retry.clone());
                call
            }
        };
        Client {
            inner: self.inner.clone(),
            call: Some(Arc::new(call)),
        }
    }

    /// Checks that the registry speaks the API v2 and accepts the credentials: `GET /v2/`,
    /// through the whole Basic or Bearer challenge.
    ///
    /// Rejected credentials are [`Error::Authentication`]; an unreachable registry is
    /// [`Error::Network`] (or [`Error::Tls`], [`Error::Timeout`]).
    pub fn ping(&self) -> Result<()> {
        let t = self.transport();
        let resp = t.send_expect(Request::new(Method::Get, "/v2/", "GET /v2/"), &[200])?;
        crate::transport::drain(resp);
        Ok(())
    }
}

/// Configures a [`Client`]. Every option has a safe default.
///
/// ```
/// use std::time::Duration;
/// let builder = ocireg::Client::builder("http://127.0.0.1:5000")
///     .user_agent("my-tool/1.0")
///     .connect_timeout(Duration::from_secs(5))
///     .credentials(ocireg::Credentials::Anonymous);
/// let client = builder.build().unwrap();
/// assert_eq!(client.registry(), "127.0.0.1:5000");
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    registry: String,
    credentials: Option<Credentials>,
    config: ConfigOptions,
    user_agent: String,
    connect_timeout: Option<Duration>,
    response_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    overall_timeout: Option<Duration>,
    low_speed: Option<LowSpeedLimit>,
    ca_certs: Vec<Vec<u8>>,
    client_cert: Option<(Vec<u8>, Vec<u8>)>,
    insecure: bool,
    sendfile: bool,
    proxy: Option<String>,
    proxy_from_env: bool,
    retry: RetryPolicy,
    on_retry: Option<RetryCallback>,
    on_request: Option<RequestCallback>,
    cancel: Option<Cancel>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("registry", &crate::redact::userinfo(&self.registry))
            .field("credentials", &self.credentials)
            .field("insecure", &self.insecure)
            .field("sendfile", &self.sendfile)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Same as [`Client::builder`].
    pub fn new(registry: &str) -> Self {
        ClientBuilder {
            registry: registry.trim().to_string(),
            credentials: None,
            config: ConfigOptions::default(),
            user_agent: concat!("ocireg/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Some(Duration::from_secs(30)),
            response_timeout: Some(Duration::from_secs(60)),
            read_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(60)),
            overall_timeout: None,
            low_speed: Some(LowSpeedLimit::default()),
            ca_certs: Vec::new(),
            client_cert: None,
            insecure: false,
            sendfile: false,
            proxy: None,
            proxy_from_env: false,
            retry: RetryPolicy::default(),
            on_retry: None,
            on_request: None,
            cancel: None,
        }
    }

    /// Explicit credentials; the resolution chain (helpers, config files) is then skipped.
    /// `Credentials::Anonymous` means anonymous.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Where the resolution chain looks for credentials when none are given explicitly
    /// (docker `config.json` path, helper timeout).
    pub fn config_options(mut self, options: ConfigOptions) -> Self {
        self.config = options;
        self
    }

    /// A docker `config.json` to read credentials from instead of the default one.
    pub fn docker_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.config_path = Some(path.into());
        self
    }

    /// The `User-Agent` header (default `ocireg/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Time to establish a connection (default 30 s; `None`: no limit).
    pub fn connect_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = d.into();
        self
    }

    /// Time from sending a request to the response headers (default 60 s), and for a small
    /// answer (a manifest, a tag list, a token, an error) also the longest its body may take.
    pub fn response_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.response_timeout = d.into();
        self
    }

    /// Longest wait for any single read of a response (default 60 s), so a stalled registry can
    /// never hang a caller, whatever the size of the download.
    pub fn read_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.read_timeout = d.into();
        self
    }

    /// Longest wait for any single write of a request body (default 60 s).
    pub fn write_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.write_timeout = d.into();
        self
    }

    /// The longest any one request may take, its retries, backoff, redirects, authentication
    /// and body included (default none: a multi-GB blob takes long; the low-speed limit and
    /// the other timeouts still end a stalled transfer).
    pub fn overall_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.overall_timeout = d.into();
        self
    }

    /// The slowest a response body may arrive before it is abandoned with [`Error::Timeout`]
    /// (default [`LowSpeedLimit::default`]: 1 KiB/s over 30 s; `None` turns it off). It ends
    /// a registry that drips bytes too slowly for any per-read timeout to notice.
    pub fn low_speed_limit(mut self, limit: impl Into<Option<LowSpeedLimit>>) -> Self {
        self.low_speed = limit.into();
        self
    }

    /// Trusts an extra CA certificate (PEM, may hold several), in addition to the system's roots.
    pub fn ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certs.push(pem.into());
        self
    }

    /// A client certificate chain and its private key (PEM), for mutual TLS.
    pub fn client_cert_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_cert = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Plain http for a registry given without a scheme, and no TLS certificate verification.
    /// Only when asked: credentials may then travel unencrypted.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Sends file blobs over plain-http connections with `sendfile(2)` (64-bit Linux): the
    /// bytes go from the page cache to the socket, and the client's CPU for a large push drops
    /// by about two thirds (256 MiB: 113 ms → 40 ms). Off by default, because the copy the
    /// client saves is then done by the receiver: a registry on the same machine (loopback)
    /// spends more than the client saves, and a local 256 MiB push took 1.04 s instead of
    /// 889 ms (README, Performance). Worth turning on for a remote plain-http registry. No
    /// effect over https, through a proxy, on other systems, or for bytes and readers.
    ///
    /// ```
    /// let client = ocireg::Client::builder("http://registry.lan:5000").sendfile(true).build()?;
    /// # let _ = client;
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    pub fn sendfile(mut self, on: bool) -> Self {
        self.sendfile = on;
        self
    }

    /// Sends every request through this proxy (`http://host:port`, `socks5://…`).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Honours `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` (off by default, so a stray
    /// variable never redirects a client).
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.proxy_from_env = on;
        self
    }

    /// The retry policy for idempotent requests.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// A callback told of each retry (the Go seed's `RetryNotify`): which request, the status
    /// or error that caused it, and how long ocireg waits before the next attempt.
    pub fn on_retry(mut self, f: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(f));
        self
    }

    /// [`ClientBuilder::on_retry`] with a shared callback.
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) fn on_retry_callback(mut self, f: RetryCallback) -> Self {
        self.on_retry = Some(f);
        self
    }

    /// Binds the client to `cancel` from the start, as [`Client::with_cancel`] does: every call
    /// made through it (and through [`login`](crate::login) when this builder is
    /// [`LoginOptions::client`](crate::LoginOptions::client)) returns [`Error::Cancelled`]
    /// promptly once `cancel` is triggered, from any thread.
    ///
    /// ```
    /// let cancel = ocireg::Cancel::new();
    /// let client = ocireg::Client::builder("http://127.0.0.1:1").cancel(&cancel).build()?;
    /// cancel.trigger();
    /// assert!(matches!(client.tags("team/app"), Err(ocireg::Error::Cancelled(_))));
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    pub fn cancel(mut self, cancel: &Cancel) -> Self {
        self.cancel = Some(cancel.clone());
        self
    }

    /// A callback told of every HTTP request: method, URL without the query string, status,
    /// whether auth was sent, time to the response headers. A debug log that never shows a
    /// secret.
    ///
    /// ```
    /// let client = ocireg::Client::builder("http://127.0.0.1:5000")
    ///     .on_request(|ev| eprintln!("{} {} -> {:?}", ev.method, ev.url, ev.status))
    ///     .build();
    /// # let _ = client;
    /// ```
    pub fn on_request(mut self, f: impl Fn(&RequestEvent) + Send + Sync + 'static) -> Self {
        self.on_request = Some(Arc::new(f));
        self
    }

    /// The registry as given to the builder, without any userinfo.
    pub fn registry(&self) -> String {
        crate::redact::userinfo(&self.registry)
    }

    /// Builds the client: parses the registry, resolves credentials, sets up TLS and the pool.
    pub fn build(self) -> Result<Client> {
        let parsed = parse_registry(&self.registry, self.insecure)?;
        let (credentials, source) = match (&self.credentials, &parsed.userinfo) {
            (Some(c), _) | (None, Some(c)) => (c.clone(), Source::of_explicit(c)),
            (None, None) => {
                let r = credentials::resolve(&parsed.name, None, &self.config)?;
                (r.credentials, r.source)
            }
        };
        let tls = self.tls_config(&parsed.name)?;
        let proxy = match (&self.proxy, self.proxy_from_env) {
            (Some(p), _) => Some(ureq::Proxy::new(p).map_err(|e| {
                Error::InvalidInput(format!("proxy {:?}: {e}", crate::redact::userinfo(p)))
            })?),
            (None, true) => ureq::Proxy::try_from_env(),
            (None, false) => None,
        };
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(self.user_agent.as_str())
            .accept_encoding("")
            .timeout_connect(self.connect_timeout)
            .timeout_recv_response(self.response_timeout)
            .timeout_per_read(self.read_timeout)
            .timeout_per_write(self.write_timeout)
            // The transport follows redirects itself, so that credentials stay on the
            // registry's origin (ureq's SameHost ignores the port), and bounds each request.
            .max_redirects(0)
            .max_idle_connections(32)
            .max_idle_connections_per_host(16)
            .proxy(proxy)
            .tls_config(tls)
            .build();
        let transport = Transport::new(TransportConfig {
            agent_config: config,
            sendfile: self.sendfile,
            base: parsed.base,
            registry: parsed.name,
            credentials,
            plain_http_allowed: parsed.plain_http || self.insecure,
            retry: self.retry,
            on_retry: self.on_retry,
            on_request: self.on_request,
            overall_timeout: self.overall_timeout,
            small_body_timeout: self.response_timeout,
            low_speed: self.low_speed,
            user_agent: self.user_agent.clone(),
        });
        let client = Client {
            inner: Arc::new(Inner { transport, source }),
            call: None,
        };
        Ok(match &self.cancel {
            Some(cancel) => client.with_cancel(cancel),
            None => client,
        })
    }

    fn tls_config(&self, registry: &str) -> Result<TlsConfig> {
        let tls_err = |m: String| Error::Tls {
            registry: registry.to_string(),
            message: m,
        };
        let mut b = TlsConfig::builder().disable_verification(self.insecure);
        if self.ca_certs.is_empty() {
            // The system's store, so that a private CA the machine trusts works as it does for
            // curl and docker (ureq's platform verifier, which reads it at the first TLS
            // connection: a client that only speaks plain http never pays for it); the
            // compiled-in WebPKI roots only where the system has no store.
            if system_has_a_store() {
                b = b.root_certs(RootCerts::PlatformVerifier);
            }
        } else {
            // ureq's RootCerts::Specific replaces the roots, so add ours to the system's.
            let mut roots: Vec<Certificate<'static>> = system_roots().as_ref().clone();
            for pem in &self.ca_certs {
                let before = roots.len();
                for item in ureq::tls::parse_pem(pem) {
                    match item {
                        Ok(PemItem::Certificate(c)) => roots.push(c),
                        Ok(_) => {}
                        Err(e) => {
                            return Err(tls_err(format!("extra CA certificate: bad PEM: {e}")));
                        }
                    }
                }
                if roots.len() == before {
                    return Err(tls_err(
                        "extra CA certificate: no certificate in the PEM data".into(),
                    ));
                }
            }
            b = b.root_certs(RootCerts::Specific(Arc::new(roots)));
        }
        if let Some((cert, key)) = &self.client_cert {
            let mut chain = Vec::new();
            for item in ureq::tls::parse_pem(cert) {
                match item {
                    Ok(PemItem::Certificate(c)) => chain.push(c),
                    Ok(_) => {}
                    Err(e) => return Err(tls_err(format!("client certificate: bad PEM: {e}"))),
                }
            }
            if chain.is_empty() {
                return Err(tls_err(
                    "client certificate: no certificate in the PEM data".into(),
                ));
            }
            let key = PrivateKey::from_pem(key)
                .map_err(|e| tls_err(format!("client key: bad PEM: {e}")))?;
            b = b.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        Ok(b.build())
    }
}

/// Whether the system has a CA store for the platform verifier to read: on Linux and the BSDs,
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` or a known bundle file or non-empty certificate directory
/// (`openssl-probe`, a few `stat` calls); elsewhere the OS's own verifier always has one.
fn system_has_a_store() -> bool {
    #[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
    {
        let found = openssl_probe::probe();
        found.cert_file.is_some()
            || found
                .cert_dir
                .iter()
                .any(|d| std::fs::read_dir(d).is_ok_and(|mut entries| entries.next().is_some()))
    }
    #[cfg(not(all(unix, not(target_vendor = "apple"), not(target_os = "android"))))]
    {
        true
    }
}

/// The system's trusted CA certificates, for a client given extra CA certificates (read once per
/// process by `rustls-native-certs`, which knows every platform's store and honours
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`); empty when the system has none.
fn system_roots() -> &'static Arc<Vec<Certificate<'static>>> {
    static ROOTS: std::sync::OnceLock<Arc<Vec<Certificate<'static>>>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        Arc::new(
            rustls_native_certs::load_native_certs()
                .certs
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect(),
        )
    })
}

#[derive(Debug)]
pub(crate) struct ParsedRegistry {
    /// `host[:port]`.
    pub name: String,
    /// `scheme://host[:port][/path]`.
    pub base: String,
    pub plain_http: bool,
    pub userinfo: Option<Credentials>,
}

/// Parses the registry argument of [`Client::builder`].
pub(crate) fn parse_registry(input: &str, insecure: bool) -> Result<ParsedRegistry> {
    let bad = |why: &str| {
        Error::InvalidInput(format!(
            "registry {:?}: {why}",
            crate::digest::shorten(&crate::redact::userinfo(input))
        ))
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let lower = s.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with("https://") {
        ("https", &s[8..])
    } else if lower.starts_with("http://") {
        ("http", &s[7..])
    } else if s.contains("://") {
        return Err(bad("only http:// and https:// are supported"));
    } else {
        (if insecure { "http" } else { "https" }, s)
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if path.contains(['?', '#']) || path.contains("//") {
        return Err(bad(
            "the base path may not hold a query, fragment or empty segment",
        ));
    }
    let path = path.strip_suffix("/v2").unwrap_or(path);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if hostport.is_empty() {
        return Err(bad("no host"));
    }
    if !hostport
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
    {
        return Err(bad(
            "the host may only hold letters, digits, '.', '-', ':' and [IPv6]",
        ));
    }
    if let Some((h, port)) = split_port(hostport) {
        if h.is_empty() {
            return Err(bad("no host"));
        }
        if let Some(p) = port {
            match p.parse::<u16>() {
                Ok(n) if n > 0 => {}
                _ => return Err(bad("the port must be a number from 1 to 65535")),
            }
        }
    } else {
        return Err(bad("malformed host"));
    }
    let hostport = hostport.to_ascii_lowercase();
    let name = if hostport == "index.docker.io" || hostport == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        hostport.clone()
    };
    let connect_host = crate::reference::api_host(&name).to_string();
    let creds = match userinfo {
        None => None,
        Some(u) => {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            Some(Credentials::basic(
                crate::transport::percent_decode(user),
                crate::transport::percent_decode(pass),
            ))
        }
    };
    Ok(ParsedRegistry {
        base: format!("{scheme}://{connect_host}{path}"),
        name,
        plain_http: scheme == "http",
        userinfo: creds,
    })
}

/// Splits `host[:port]` / `[v6]:port`; `None` if malformed.
fn split_port(hp: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        return match after {
            "" => Some((&hp[..end + 2], None)),
            _ => Some((&hp[..end + 2], Some(after.strip_prefix(':')?))),
        };
    }
    if hp.contains(['[', ']']) {
        return None;
    }
    match hp.split_once(':') {
        Some((h, p)) if !p.contains(':') => Some((h, Some(p))),
        Some(_) => None,
        None => Some((hp, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_forms() {
        let p = parse_registry("registry.example.com", false).unwrap();
        assert_eq!(
            (p.name.as_str(), p.base.as_str()),
            ("registry.example.com", "https://registry.example.com")
        );
        let p = parse_registry("localhost:5000", true).unwrap();
        assert_eq!(p.base, "http://localhost:5000");
        let p = parse_registry("http://127.0.0.1:5000/", false).unwrap();
        assert_eq!(
            (p.name.as_str(), p.base.as_str(), p.plain_http),
            ("127.0.0.1:5000", "http://127.0.0.1:5000", true)
        );
        let p = parse_registry("https://host/dockerproxy", false).unwrap();
        assert_eq!(p.base, "https://host/dockerproxy");
        let p = parse_registry("docker.io", false).unwrap();
        assert_eq!(
            (p.name.as_str(), p.base.as_str()),
            ("docker.io", "https://registry-1.docker.io")
        );
        let p = parse_registry("https://index.docker.io/v1/", false);
        assert!(p.is_ok());
        let p = parse_registry("https://al%40ice:p%3Ass@host:443", false).unwrap();
        assert_eq!(p.userinfo, Some(Credentials::basic("al@ice", "p:ss")));
        assert_eq!(p.name, "host:443");
        let p = parse_registry("[::1]:5000", true).unwrap();
        assert_eq!(p.base, "http://[::1]:5000");
        for bad in [
            "",
            "ftp://x",
            "host:0",
            "host:99999",
            "host:abc",
            "ho st",
            "https://",
            "https://u:p@",
            "a:b:c",
            "h/x?y",
        ] {
            let e = parse_registry(bad, false)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(!e.to_string().contains("p:ss"));
        }
        let e = parse_registry("https://alice:topsecret@ho st", false).unwrap_err();
        assert!(!e.to_string().contains("topsecret"), "{e}");
    }

    /// Found by fuzz/fuzz_targets/client_registry.rs: a `://` after the userinfo was taken for
    /// the end of a scheme, and the password was shown.
    #[test]
    fn userinfo_before_a_scheme_is_redacted() {
        for input in [
            "alice:topsecret@https://host",
            "alice:topsecret@tt!rs://h//x",
            "u:topsecret@host://x",
            "https\u{fffd}\u{fffd}://u:topsecret@o st/x",
            "ht tps://u:topsecret@host",
        ] {
            let e = parse_registry(input, false).unwrap_err();
            assert!(!e.to_string().contains("topsecret"), "{e}");
            assert!(!crate::redact::userinfo(input).contains("topsecret"));
            let b = ClientBuilder::new(input).credentials(Credentials::Anonymous);
            assert!(!format!("{b:?}").contains("topsecret"));
            assert!(!b.registry().contains("topsecret"));
        }
    }
}
