//! The HTTP plumbing of the test registry.
//!
//! Requests are parsed by `tiny_http`, whose worker threads pull from `Server::recv`. tiny_http
//! cannot close a connection on demand, which [`Registry::drop_next`](super::Registry::drop_next)
//! needs ("half the body, then close"), so each public listener is a thin TCP relay in front of
//! the tiny_http listener: the relay knows both sockets of every connection (keyed by the address
//! tiny_http sees as the peer), so a handler can write the start of an answer straight to the
//! client and cut the connection. The same raw path serves the hostile deliveries that
//! tiny_http cannot make: a body dripped one byte at a time, and a body that never ends.

use std::collections::HashMap;
use std::io::{self, Cursor, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::util::{self, lock};

/// The largest request body the registry reads or discards (4 GiB). Above, the request is
/// refused and its connection closed.
pub(crate) const MAX_BODY: u64 = 4 << 30;

/// Bodies left unread beyond this are never handed back to tiny_http, whose clean-up would
/// allocate a buffer of the remaining size.
const SAFE_UNREAD: u64 = 64 << 10;

/// The read buffer of body streaming.
pub(crate) const READ_BUF: usize = 256 << 10;

/// The size of each write of an endless body.
const ENDLESS_CHUNK: usize = 64 << 10;

/// How long a raw write may block before the writer checks whether to give up.
const RAW_WRITE_TIMEOUT: Duration = Duration::from_millis(100);

/// How an answer goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Whole, with `Content-Length`.
    Normal,
    /// The headers with the full `Content-Length`, half the body, then the connection is
    /// closed.
    Truncate,
    /// The headers with the full `Content-Length`, then the body one byte per interval (the
    /// first at once), then the connection is closed.
    Drip(Duration),
    /// The headers without `Content-Length`, then the body over and over until the client
    /// hangs up or the server stops: close-delimited, or chunked without a last chunk.
    Endless { chunked: bool },
}

/// The body of an answer.
pub(crate) enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// `data[start..end]`, shared with the store (no copy).
    Slice {
        data: Arc<Vec<u8>>,
        start: usize,
        end: usize,
    },
}

/// An answer: status, headers, body.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

impl Reply {
    pub(crate) fn new(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header.
    pub(crate) fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A JSON answer.
    pub(crate) fn json(status: u16, v: &serde_json::Value) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: Body::Bytes(v.to_string().into_bytes()),
        }
    }

    /// A spec error answer with a `null` detail.
    pub(crate) fn error(status: u16, code: &str, message: &str) -> Self {
        Self::error_detail(status, code, message, serde_json::Value::Null)
    }

    /// A spec error answer.
    pub(crate) fn error_detail(
        status: u16,
        code: &str,
        message: &str,
        detail: serde_json::Value,
    ) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: Body::Bytes(util::error_body(code, message, detail)),
        }
    }

    /// The first value of a header (case-insensitive).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn body_bytes(&self) -> &[u8] {
        match &self.body {
            Body::Empty => &[],
            Body::Bytes(b) => b,
            Body::Slice { data, start, end } => &data[*start..*end],
        }
    }
}

/// Reads a shared slice without copying it first.
struct SliceReader {
    data: Arc<Vec<u8>>,
    pos: usize,
    end: usize,
}

impl Read for SliceReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A request being handled: the tiny_http request plus what was read of its body.
pub(crate) struct Incoming {
    req: tiny_http::Request,
    pub method: String,
    /// The raw path, without the query.
    pub path: String,
    /// The raw query (without `?`), possibly empty.
    pub query: String,
    content_length: Option<u64>,
    chunked: bool,
    read: u64,
    eof: bool,
}

impl Incoming {
    fn new(req: tiny_http::Request) -> Self {
        let method = req.method().as_str().to_ascii_uppercase();
        let (path, query) = match req.url().split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (req.url().to_string(), String::new()),
        };
        let chunked = req
            .headers()
            .iter()
            .any(|h| h.field.equiv("Transfer-Encoding"));
        let content_length = if chunked {
            None
        } else {
            req.body_length().map(|l| l as u64)
        };
        let eof = !chunked && content_length.unwrap_or(0) == 0;
        Incoming {
            req,
            method,
            path,
            query,
            content_length,
            chunked,
            read: 0,
            eof,
        }
    }

    /// The first value of a request header (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.req
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The declared body length (`None` for chunked bodies).
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Reads the body (sends `100 Continue` first when the client asked for it).
    pub(crate) fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        match self.req.as_reader().read(buf) {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.eof = true;
                Err(e)
            }
        }
    }

    /// Reads the whole body, up to `limit` bytes (`Err(true)` when longer, `Err(false)` when the
    /// body was cut short or broke).
    pub(crate) fn read_all(&mut self, limit: usize) -> Result<Vec<u8>, bool> {
        if self.content_length.is_some_and(|l| l > limit as u64) {
            return Err(true);
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match self.read_body(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if out.len() + n > limit {
                        return Err(true);
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                Err(_) => return Err(false),
            }
        }
        if self.content_length.is_some_and(|l| l != out.len() as u64) {
            return Err(false);
        }
        Ok(out)
    }

    /// Bytes of the declared body not read yet (1 for an unfinished chunked body).
    fn unread(&self) -> u64 {
        if self.eof {
            return self
                .content_length
                .map_or(0, |l| l.saturating_sub(self.read));
        }
        match self.content_length {
            Some(l) => l.saturating_sub(self.read),
            None => u64::from(self.chunked),
        }
    }

    /// Reads and discards the rest of the body (so the connection can serve the next request),
    /// unless it is absurdly long.
    fn drain(&mut self) {
        if self.eof || self.unread() > MAX_BODY {
            return;
        }
        let mut buf = vec![0u8; 64 << 10];
        while !self.eof {
            if self.read > MAX_BODY || self.read_body(&mut buf).is_err() {
                break;
            }
        }
    }
}

/// The relay's view of one client connection.
struct Conn {
    client: Arc<TcpStream>,
    upstream: Arc<TcpStream>,
    /// Set when the client stopped sending (hung up, or the connection broke).
    client_gone: Arc<AtomicBool>,
}

/// The sockets of a connection a handler writes to directly.
struct RawConn {
    client: Arc<TcpStream>,
    upstream: Arc<TcpStream>,
    client_gone: Arc<AtomicBool>,
}

/// The TCP relay in front of tiny_http.
pub(crate) struct Relay {
    /// Keyed by the relay's local address toward tiny_http (what tiny_http reports as the peer).
    conns: Mutex<HashMap<SocketAddr, Conn>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stopping: AtomicBool,
}

impl Relay {
    fn client_of(&self, peer: Option<&SocketAddr>) -> Option<RawConn> {
        let conns = lock(&self.conns);
        let c = conns.get(peer?)?;
        Some(RawConn {
            client: c.client.clone(),
            upstream: c.upstream.clone(),
            client_gone: c.client_gone.clone(),
        })
    }

    fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) -> bool {
        match thread::Builder::new().name(name.into()).spawn(f) {
            Ok(h) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(h);
                true
            }
            Err(_) => false,
        }
    }
}

/// What a plain HTTP server answers to a TLS handshake, so that clients probing HTTPS first
/// (Go's containers/image, Docker) fail at once and fall back to HTTP, as with Go's server.
const TLS_REFUSAL: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTPS request to a plain HTTP server.\n";

/// Copies one direction of a connection. With `first_from_client`, a TLS handshake as the
/// first byte is refused (false: the connection must be closed).
fn pump(mut from: &TcpStream, mut to: &TcpStream, first_from_client: bool) -> bool {
    let mut buf = vec![0u8; READ_BUF];
    let mut first = first_from_client;
    // Every connection carries one request: `Connection: close` is added to the first request
    // (so tiny_http ends its connection task after answering) and to the first response (so the
    // client does not reuse the connection). tiny_http 0.12's task pool can strand a new
    // connection's task while all its threads serve long-lived keep-alive connections (a lost
    // wake-up under bursts of new connections); short connections keep every task short.
    let mut head: Option<Vec<u8>> = Some(Vec::new());
    loop {
        match from.read(&mut buf) {
            Ok(0) => {
                if let Some(h) = head.take()
                    && !h.is_empty()
                {
                    let _ = to.write_all(&h);
                }
                return true;
            }
            Ok(n) => {
                if first && buf[0] == 0x16 {
                    let _ = from.write_all(TLS_REFUSAL);
                    return false;
                }
                first = false;
                let out: std::borrow::Cow<'_, [u8]> = match head.as_mut() {
                    None => buf[..n].into(),
                    Some(h) => {
                        h.extend_from_slice(&buf[..n]);
                        match h.windows(2).position(|w| w == b"\r\n") {
                            Some(i) => {
                                let mut out = Vec::with_capacity(h.len() + 19);
                                out.extend_from_slice(&h[..i + 2]);
                                out.extend_from_slice(b"Connection: close\r\n");
                                out.extend_from_slice(&h[i + 2..]);
                                head = None;
                                out.into()
                            }
                            // No line end yet: wait for more, unless this is no HTTP at all.
                            None if h.len() < 8192 => continue,
                            None => head.take().unwrap_or_default().into(),
                        }
                    }
                };
                if to.write_all(&out).is_err() {
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// How a handler answers.
pub(crate) type Handler = Arc<dyn Fn(Incoming, &Relay) + Send + Sync>;

/// One HTTP endpoint: public listeners, relay, tiny_http and its workers.
pub(crate) struct Frontend {
    relay: Arc<Relay>,
    server: Arc<tiny_http::Server>,
    acceptors: Vec<(SocketAddr, JoinHandle<()>)>,
    workers: Vec<JoinHandle<()>>,
}

impl Frontend {
    /// Serves `listeners` with `workers` threads running `handler`.
    pub(crate) fn start(
        listeners: Vec<TcpListener>,
        workers: usize,
        handler: Handler,
    ) -> io::Result<Frontend> {
        let internal = TcpListener::bind("127.0.0.1:0")?;
        let internal_addr = internal.local_addr()?;
        let server = tiny_http::Server::from_listener(internal, None)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let mut fe = Frontend {
            relay: Arc::new(Relay {
                conns: Mutex::new(HashMap::new()),
                threads: Mutex::new(Vec::new()),
                stopping: AtomicBool::new(false),
            }),
            server: Arc::new(server),
            acceptors: Vec::new(),
            workers: Vec::new(),
        };
        for i in 0..workers {
            let server = fe.server.clone();
            let relay = fe.relay.clone();
            let handler = handler.clone();
            let h = thread::Builder::new()
                .name(format!("ocireg-test-worker-{i}"))
                .spawn(move || {
                    loop {
                        match server.recv() {
                            Ok(req) => {
                                let inc = Incoming::new(req);
                                // A bug in a handler must not take the worker down; the request
                                // dropped while unwinding answers 500.
                                let _ = catch_unwind(AssertUnwindSafe(|| handler(inc, &relay)));
                            }
                            Err(_) if relay.stopping.load(Ordering::SeqCst) => break,
                            Err(_) => thread::sleep(Duration::from_millis(1)),
                        }
                    }
                });
            match h {
                Ok(h) => fe.workers.push(h),
                Err(e) => {
                    fe.stop();
                    return Err(e);
                }
            }
        }
        for listener in listeners {
            let addr = listener.local_addr()?;
            let relay = fe.relay.clone();
            let h = thread::Builder::new()
                .name("ocireg-test-accept".into())
                .spawn(move || accept_loop(listener, internal_addr, relay));
            match h {
                Ok(h) => fe.acceptors.push((addr, h)),
                Err(e) => {
                    fe.stop();
                    return Err(e);
                }
            }
        }
        Ok(fe)
    }

    /// Stops accepting, cuts every connection and joins every thread. Idempotent.
    pub(crate) fn stop(&mut self) {
        self.relay.stopping.store(true, Ordering::SeqCst);
        for (addr, h) in self.acceptors.drain(..) {
            // Wake the blocking accept; if even that fails, leave the thread rather than hang.
            if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok() {
                let _ = h.join();
            }
        }
        for c in lock(&self.relay.conns).values() {
            let _ = c.client.shutdown(Shutdown::Both);
            let _ = c.upstream.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.relay.threads));
        for t in threads {
            let _ = t.join();
        }
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for Frontend {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, internal: SocketAddr, relay: Arc<Relay>) {
    for stream in listener.incoming() {
        if relay.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = stream else {
            // Out of file descriptors and the like: do not spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(upstream) = TcpStream::connect(internal) else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let Ok(key) = upstream.local_addr() else {
            continue;
        };
        let client = Arc::new(client);
        let upstream = Arc::new(upstream);
        let client_gone = Arc::new(AtomicBool::new(false));
        lock(&relay.conns).insert(
            key,
            Conn {
                client: client.clone(),
                upstream: upstream.clone(),
                client_gone: client_gone.clone(),
            },
        );
        let (c1, u1) = (client.clone(), upstream.clone());
        let up = relay.spawn("ocireg-test-relay", move || {
            let ok = pump(&c1, &u1, true);
            // Every connection carries one request: a client that stops sending has hung up
            // (what a dripping or endless answer watches for).
            client_gone.store(true, Ordering::SeqCst);
            if ok {
                let _ = u1.shutdown(Shutdown::Write);
            } else {
                let _ = c1.shutdown(Shutdown::Both);
                let _ = u1.shutdown(Shutdown::Both);
            }
        });
        let (c2, u2, r2) = (client.clone(), upstream.clone(), relay.clone());
        let down = up
            && relay.spawn("ocireg-test-relay", move || {
                pump(&u2, &c2, false);
                let _ = c2.shutdown(Shutdown::Both);
                let _ = u2.shutdown(Shutdown::Both);
                // The port may already serve a newer connection: remove only our own entry.
                let mut conns = lock(&r2.conns);
                if conns.get(&key).is_some_and(|c| Arc::ptr_eq(&c.client, &c2)) {
                    conns.remove(&key);
                }
            });
        if !down {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            lock(&relay.conns).remove(&key);
        }
    }
}

/// Sends `reply` as `delivery` says (HEAD answers never drip nor go on forever).
pub(crate) fn send(mut inc: Incoming, reply: Reply, relay: &Relay, delivery: Delivery) {
    inc.drain();
    let unread = inc.unread();
    let head_only = inc.method == "HEAD";
    let delivery = match delivery {
        Delivery::Drip(_) | Delivery::Endless { .. } if head_only => Delivery::Normal,
        d => d,
    };
    if delivery != Delivery::Normal || unread > 0 {
        if let Some(conn) = inc.req.remote_addr().and_then(|a| relay.client_of(Some(a))) {
            let client = &conn.client;
            let _ = match delivery {
                Delivery::Normal | Delivery::Truncate => {
                    write_raw(client, &reply, delivery == Delivery::Truncate, head_only)
                }
                Delivery::Drip(interval) => drip(&conn, relay, &reply, interval),
                Delivery::Endless { chunked } => endless(&conn, relay, &reply, chunked),
            };
            let _ = client.shutdown(Shutdown::Both);
            let _ = conn.upstream.shutdown(Shutdown::Both);
            if unread > SAFE_UNREAD {
                // Dropping the request would make tiny_http allocate `unread` bytes to discard
                // them; leaking it costs one parked thread instead.
                std::mem::forget(inc);
            }
            return;
        }
        if unread > SAFE_UNREAD {
            std::mem::forget(inc);
            return;
        }
    }
    let headers: Vec<tiny_http::Header> = reply
        .headers
        .iter()
        .filter_map(|(n, v)| tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()).ok())
        .collect();
    let (reader, len): (Box<dyn Read + Send>, usize) = match reply.body {
        Body::Empty => (Box::new(io::empty()), 0),
        Body::Bytes(b) => {
            let l = b.len();
            (Box::new(Cursor::new(b)), l)
        }
        Body::Slice { data, start, end } => (
            Box::new(SliceReader {
                data,
                pos: start,
                end,
            }),
            end - start,
        ),
    };
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(reply.status),
        headers,
        reader,
        Some(len),
        None,
    )
    // Always `Content-Length`, never chunked: clients check blob sizes.
    .with_chunked_threshold(usize::MAX);
    let _ = inc.req.respond(response);
}

/// The status line and headers of `reply`, its own `Content-Length` and `Transfer-Encoding`
/// replaced by `framing`.
fn raw_head(reply: &Reply, framing: &[(&str, String)]) -> String {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        tiny_http::StatusCode(reply.status).default_reason_phrase()
    );
    for (n, v) in &reply.headers {
        if !n.eq_ignore_ascii_case("Content-Length") && !n.eq_ignore_ascii_case("Transfer-Encoding")
        {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    for (n, v) in framing {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn write_raw(mut to: &TcpStream, reply: &Reply, truncate: bool, head_only: bool) -> io::Result<()> {
    let body = reply.body_bytes();
    let mut framing = vec![("Content-Length", body.len().to_string())];
    if !truncate {
        framing.push(("Connection", "close".into()));
    }
    to.write_all(raw_head(reply, &framing).as_bytes())?;
    if !head_only {
        let n = if truncate { body.len() / 2 } else { body.len() };
        to.write_all(&body[..n])?;
    }
    to.flush()
}

impl RawConn {
    /// True when the answer must be abandoned: the client hung up or the server is stopping.
    fn give_up(&self, relay: &Relay) -> bool {
        self.client_gone.load(Ordering::SeqCst) || relay.stopping.load(Ordering::SeqCst)
    }

    /// Writes all of `buf`, giving up (with an error) as soon as [`give_up`](Self::give_up)
    /// says so, even while the client does not read.
    fn write_watched(&self, relay: &Relay, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            if self.give_up(relay) {
                return Err(io::ErrorKind::ConnectionAborted.into());
            }
            match (&*self.client).write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sleeps `d` in short steps; false when it must give up instead.
    fn wait(&self, relay: &Relay, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.give_up(relay) {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }
}

/// The headers with the full `Content-Length`, then one byte per `interval`.
fn drip(conn: &RawConn, relay: &Relay, reply: &Reply, interval: Duration) -> io::Result<()> {
    conn.client.set_write_timeout(Some(RAW_WRITE_TIMEOUT))?;
    let body = reply.body_bytes();
    let framing = [
        ("Content-Length", body.len().to_string()),
        ("Connection", "close".to_string()),
    ];
    conn.write_watched(relay, raw_head(reply, &framing).as_bytes())?;
    for (i, b) in body.iter().enumerate() {
        if i > 0 && !conn.wait(relay, interval) {
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
        conn.write_watched(relay, std::slice::from_ref(b))?;
    }
    Ok(())
}

/// The headers without `Content-Length`, then the body (zeros when it is empty) over and over,
/// in writes of [`ENDLESS_CHUNK`] bytes, until the client hangs up or the server stops.
fn endless(conn: &RawConn, relay: &Relay, reply: &Reply, chunked: bool) -> io::Result<()> {
    conn.client.set_write_timeout(Some(RAW_WRITE_TIMEOUT))?;
    let mut framing = vec![("Connection", "close".to_string())];
    if chunked {
        framing.push(("Transfer-Encoding", "chunked".into()));
    }
    conn.write_watched(relay, raw_head(reply, &framing).as_bytes())?;
    let body = reply.body_bytes();
    let zero = [0u8];
    let pattern = if body.is_empty() { &zero[..] } else { body };
    let mut bytes = pattern.iter().copied().cycle();
    let mut buf = Vec::with_capacity(ENDLESS_CHUNK + 16);
    loop {
        buf.clear();
        if chunked {
            buf.extend_from_slice(format!("{ENDLESS_CHUNK:x}\r\n").as_bytes());
        }
        buf.extend(bytes.by_ref().take(ENDLESS_CHUNK));
        if chunked {
            buf.extend_from_slice(b"\r\n");
        }
        conn.write_watched(relay, &buf)?;
    }
}
