//! With [`ClientBuilder::sendfile`](crate::ClientBuilder::sendfile), a file's bytes go from
//! the page cache to the socket with `sendfile(2)`, inside ureq's own request: ureq writes the
//! request line and headers, frames the body, reads the answer, pools the connection; only the
//! syscall that moves a file body's bytes changes. That saves the `read` copy of every byte
//! pushed from a file (half the client's CPU for a large push).
//!
//! How the pieces meet:
//!
//! - [`AgentRecipe::agent`] builds, when the client asks for it, ureq agents whose plain-http
//!   connections (no TLS, no proxy: the only ones where the bytes on the socket are the body's
//!   own) are made by a connector of ours, as a TCP transport that can `sendfile` (ureq's own
//!   TCP transport is not public to wrap). Every other connection is ureq's default
//!   connector's.
//! - The transport of a request is not visible to the body reader, so they meet through a
//!   per-thread [`State`](imp::State) (ureq runs a request's I/O on the calling thread). The
//!   exchange opens a [`Scope`] around `send`; a sendfile-capable transport records its socket
//!   there when it writes the request head; a [`FileRange`] body read inside the scope then
//!   does not copy the bytes but records a [`Pending`](imp::Pending) range (the output buffer
//!   keeps whatever it held), and the same transport, asked to send exactly that many bytes,
//!   sends the range instead.
//! - A transport never writes a buffer it was not meant to: a pending range is consumed only by
//!   the transport whose socket it names, and only for exactly its length; anything else is an
//!   error, never a send. Outside a scope, and on other systems, a [`FileRange`] reads.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use ureq::Agent;

/// How a client's ureq agents are built: its settings, and whether file bodies may go out with
/// `sendfile` ([`ClientBuilder::sendfile`](crate::ClientBuilder::sendfile)).
#[derive(Clone, Debug)]
pub(crate) struct AgentRecipe {
    pub config: ureq::config::Config,
    pub sendfile: bool,
}

impl AgentRecipe {
    /// A new agent: ureq's default connector, with [`imp::Connector`] making the plain-http
    /// connections when `sendfile` is asked for and available.
    pub(crate) fn agent(&self) -> Agent {
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        if self.sendfile {
            return Agent::with_parts(
                self.config.clone(),
                imp::Connector::default(),
                ureq::unversioned::resolver::DefaultResolver::default(),
            );
        }
        self.config.clone().into()
    }
}

/// A byte range of a file, as an upload body: read with `pread`, or, inside a [`Scope`] whose
/// request goes over a sendfile-capable connection, handed to that connection uncopied.
pub(crate) struct FileRange {
    file: File,
    offset: u64,
    remaining: u64,
}

impl FileRange {
    /// `len` bytes of `file` from `offset`.
    pub(crate) fn new(file: File, offset: u64, len: u64) -> Self {
        FileRange {
            file,
            offset,
            remaining: len,
        }
    }
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if max == 0 {
            return Ok(0);
        }
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        let lent = imp::lend(&self.file, self.offset, max);
        #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
        let lent = false;
        let n = if lent {
            max
        } else {
            self.file.read_at(&mut buf[..max], self.offset)?
        };
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl fmt::Debug for FileRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileRange")
            .field("offset", &self.offset)
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// Marks one request's `send`: while it lives, a [`FileRange`] body may be sent with
/// `sendfile`. Scopes nest (a progress callback may make requests of its own): each starts
/// clean and puts back the state it found when dropped, so nothing leaks from one request into
/// another, whether it succeeded, failed or unwound.
pub(crate) struct Scope {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    saved: imp::State,
}

impl Scope {
    pub(crate) fn new() -> Self {
        Scope {
            #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
            saved: imp::enter(),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        imp::leave(self.saved);
    }
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod imp {
    use std::cell::Cell;
    use std::fmt;
    use std::fs::File;
    use std::io::{self, Read, Write};
    use std::net::TcpStream;
    use std::os::fd::{AsRawFd, RawFd};
    use std::sync::Arc;
    use std::time::Duration;

    use ureq::unversioned::transport::{
        Buffers, ConnectionDetails, DefaultConnector, LazyBuffers, NextTimeout, ShutdownHandle,
        Transport,
    };
    use ureq::{Error, Timeout};

    /// A file range lent to the transport of socket `socket`, to be sent instead of the
    /// `len` bytes of the output buffer the body reader did not fill.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) struct Pending {
        socket: RawFd,
        file: RawFd,
        offset: u64,
        len: usize,
    }

    /// This thread's request in progress.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(super) struct State {
        /// Inside a [`Scope`](super::Scope).
        active: bool,
        /// The sendfile-capable socket this request's head went out on.
        socket: Option<RawFd>,
        pending: Option<Pending>,
    }

    thread_local! {
        static STATE: Cell<State> = const { Cell::new(State { active: false, socket: None, pending: None }) };
    }

    pub(super) fn enter() -> State {
        STATE.replace(State {
            active: true,
            socket: None,
            pending: None,
        })
    }

    pub(super) fn leave(saved: State) {
        STATE.set(saved);
    }

    /// Lends `len` bytes of `file` at `offset` to this request's transport, if it can take
    /// them; `false` means the caller must read them itself.
    pub(super) fn lend(file: &File, offset: u64, len: usize) -> bool {
        let st = STATE.get();
        match (st.active, st.socket, st.pending) {
            (true, Some(socket), None) if i64::try_from(offset + len as u64).is_ok() => {
                STATE.set(State {
                    pending: Some(Pending {
                        socket,
                        file: file.as_raw_fd(),
                        offset,
                        len,
                    }),
                    ..st
                });
                true
            }
            _ => false,
        }
    }

    /// Makes plain-http connections (no TLS, no proxy) as [`SendfileTransport`]s; every other
    /// connection is ureq's default connector's.
    #[derive(Debug, Default)]
    pub(super) struct Connector {
        default: DefaultConnector,
    }

    impl ureq::unversioned::transport::Connector<()> for Connector {
        type Out = Box<dyn Transport>;

        fn connect(
            &self,
            details: &ConnectionDetails,
            chained: Option<()>,
        ) -> Result<Option<Self::Out>, Error> {
            if details.needs_tls() || details.config.proxy().is_some() {
                return self.default.connect(details, chained);
            }
            let stream = connect(details)?;
            if details.config.no_delay() {
                stream.set_nodelay(true)?;
            }
            let socket = Arc::new(stream);
            // Agent::shutdown (a cancelled call) shuts the socket down from another thread.
            (details.register_shutdown)(
                Arc::downgrade(&socket) as std::sync::Weak<dyn ShutdownHandle>
            )?;
            Ok(Some(Box::new(SendfileTransport {
                buffers: LazyBuffers::new(
                    details.config.input_buffer_size(),
                    details.config.output_buffer_size(),
                ),
                socket,
                write_timeout: None,
                read_timeout: None,
            })))
        }
    }

    /// Connects to the first of the resolved addresses that answers, within the connect
    /// timeout: each address gets half of what is left, the last all of it (as ureq does, so
    /// that an address that never answers cannot use up the time of the next).
    fn connect(details: &ConnectionDetails) -> Result<TcpStream, Error> {
        let started = std::time::Instant::now();
        let budget = details.timeout.not_zero().map(|d| *d);
        let mut last: Option<Error> = None;
        let count = details.addrs.len();
        for (i, addr) in details.addrs.iter().enumerate() {
            let attempt = match budget {
                Some(total) => {
                    let left = total.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(Error::Timeout(Timeout::Connect));
                    }
                    let share = if i + 1 == count { left } else { left / 2 };
                    TcpStream::connect_timeout(addr, share.max(Duration::from_millis(10)))
                }
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(s) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    last = Some(Error::Timeout(Timeout::Connect))
                }
                Err(e) if addr_specific(&e) => last = Some(Error::Io(e)),
                Err(e) => return Err(Error::Io(e)),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::Io(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "Connection refused",
            ))
        }))
    }

    /// A failure that concerns only the address tried: the next one may still work.
    fn addr_specific(e: &io::Error) -> bool {
        matches!(
            e.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::NetworkDown
                | io::ErrorKind::AddrNotAvailable
        )
    }

    /// A TCP transport as ureq's, which sends a lent file range with `sendfile`.
    pub(super) struct SendfileTransport {
        buffers: LazyBuffers,
        /// Shared (weakly) with the agent, to be shut down from another thread.
        socket: Arc<TcpStream>,
        /// The timeouts last set on the socket, so that each is set only when it changes.
        write_timeout: Option<Duration>,
        read_timeout: Option<Duration>,
    }

    impl fmt::Debug for SendfileTransport {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendfileTransport")
                .field("peer", &self.socket.peer_addr().ok())
                .finish()
        }
    }

    impl Transport for SendfileTransport {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }

        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            let timeout = timeout.for_write();
            arm(timeout, &mut self.write_timeout, |t| {
                self.socket.set_write_timeout(t)
            })?;
            let fd = self.socket.as_raw_fd();
            let mut st = STATE.get();
            let lent = match st.pending {
                Some(p) if p.socket == fd => {
                    st.pending = None;
                    Some(p)
                }
                _ => None,
            };
            if st.active {
                st.socket = Some(fd);
            }
            STATE.set(st);
            let sent = match lent {
                Some(p) if p.len == amount => send_file(&self.socket, p),
                Some(p) => Err(io::Error::other(format!(
                    "internal: asked to send {amount} bytes for a lent file range of {}",
                    p.len
                ))),
                None => (&*self.socket).write_all(&self.buffers.output()[..amount]),
            };
            sent.map_err(|e| io_error(e, timeout))
        }

        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            let timeout = timeout.for_read();
            arm(timeout, &mut self.read_timeout, |t| {
                self.socket.set_read_timeout(t)
            })?;
            let input = self.buffers.input_append_buf();
            let n = loop {
                match (&*self.socket).read(input) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r.map_err(|e| io_error(e, timeout))?,
                }
            };
            self.buffers.input_appended(n);
            Ok(n > 0)
        }

        /// Whether an idle pooled connection is still usable: nothing to read (not even the
        /// end) without blocking.
        fn is_open(&mut self) -> bool {
            let mut one = [0u8; 1];
            if self.socket.set_nonblocking(true).is_err() {
                return false;
            }
            let idle = matches!((&*self.socket).read(&mut one), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
            self.socket.set_nonblocking(false).is_ok() && idle
        }
    }

    /// Fails at once when `timeout` has run out; otherwise has `set` put it on the socket,
    /// unless `last` says the socket has it already.
    fn arm(
        timeout: NextTimeout,
        last: &mut Option<Duration>,
        set: impl FnOnce(Option<Duration>) -> io::Result<()>,
    ) -> Result<(), Error> {
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        let wanted = timeout.not_zero().map(|d| *d);
        if wanted != *last {
            set(wanted)?;
            *last = wanted;
        }
        Ok(())
    }

    /// ureq's error for a failed socket read or write: a timeout names the timeout that ran out.
    fn io_error(e: io::Error, timeout: NextTimeout) -> Error {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout(timeout.reason),
            _ => Error::Io(e),
        }
    }

    unsafe extern "C" {
        // glibc's sendfile(2); std links libc but does not wrap this call, and the libc crate
        // is not among ocireg's dependencies. 64-bit Linux only: there `off_t` is `i64`.
        fn sendfile(out_fd: i32, in_fd: i32, offset: *mut i64, count: usize) -> isize;
    }

    /// Bytes sent with `sendfile`, for the tests to see that it was used.
    #[cfg(test)]
    pub(super) static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    /// Sends the whole range `p` to `socket`, from the page cache.
    fn send_file(socket: &TcpStream, p: Pending) -> io::Result<()> {
        let mut offset = i64::try_from(p.offset).map_err(io::Error::other)?;
        let mut left = p.len;
        while left > 0 {
            // SAFETY: both descriptors are open for the duration of the call (the socket is
            // borrowed; the file is the body reader's, which ureq holds while it sends the
            // body), and `offset` is a valid, exclusive pointer to an i64.
            let n = unsafe { sendfile(socket.as_raw_fd(), p.file, &mut offset, left) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file ended {left} bytes short of the announced length (was it \
                         truncated during the upload?)"
                    ),
                ));
            }
            left -= n as usize;
            #[cfg(test)]
            SENT.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn lending_needs_a_scope_and_a_socket_and_scopes_nest() {
            let f = File::open("Cargo.toml").unwrap();
            assert!(!lend(&f, 0, 10), "outside a scope nothing is lent");
            let outer = super::super::Scope::new();
            assert!(
                !lend(&f, 0, 10),
                "no sendfile-capable socket has sent a head"
            );
            STATE.set(State {
                socket: Some(1000),
                ..STATE.get()
            });
            assert!(lend(&f, 0, 10));
            assert!(!lend(&f, 10, 10), "one range at a time");
            let lent = STATE.get();
            {
                let _inner = super::super::Scope::new();
                assert_eq!(
                    STATE.get(),
                    State {
                        active: true,
                        socket: None,
                        pending: None
                    }
                );
            }
            assert_eq!(STATE.get(), lent, "an inner scope puts back what it found");
            drop(outer);
            assert_eq!(STATE.get(), State::default());
        }
    }
}

#[cfg(all(test, target_os = "linux", target_pointer_width = "64"))]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::Ordering;
    use std::sync::{Mutex, MutexGuard};

    use super::*;

    /// `imp::SENT` is one counter for the whole test binary: the tests that read it take turns.
    fn serial() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A one-request HTTP server: reads a request with a `Content-Length` body, answers 201
    /// (or, if the body ends early, nothing), and returns the body bytes it received.
    fn one_request_server() -> (String, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/upload", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = Vec::new();
            r.take(len as u64).read_to_end(&mut body).unwrap();
            if body.len() == len {
                (&stream)
                    .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
                    .unwrap();
            }
            body
        });
        (url, server)
    }

    fn put_range(
        sendfile: bool,
        url: &str,
        file: File,
        offset: u64,
        len: u64,
    ) -> Result<u16, ureq::Error> {
        let agent = AgentRecipe {
            config: Agent::config_builder().build(),
            sendfile,
        }
        .agent();
        let mut body = FileRange::new(file, offset, len);
        let _scope = Scope::new();
        agent
            .put(url)
            .header("content-length", len.to_string())
            .send(ureq::SendBody::from_reader(&mut body))
            .map(|r| r.status().as_u16())
    }

    fn data_file(tag: &str, len: usize) -> (std::path::PathBuf, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        let path =
            std::env::temp_dir().join(format!("ocireg-zerocopy-{tag}-{}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        (path, data)
    }

    #[test]
    fn a_file_range_goes_out_with_sendfile_byte_for_byte() {
        let _serial = serial();
        let (path, data) = data_file("range", 700_000);
        let (url, server) = one_request_server();
        let before = imp::SENT.load(Ordering::Relaxed);
        let status = put_range(true, &url, File::open(&path).unwrap(), 1234, 600_000).unwrap();
        assert_eq!(status, 201);
        assert_eq!(server.join().unwrap(), &data[1234..601_234]);
        assert_eq!(
            imp::SENT.load(Ordering::Relaxed) - before,
            600_000,
            "every byte by sendfile"
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn without_sendfile_the_range_is_read_and_written() {
        let _serial = serial();
        let (path, data) = data_file("plain", 300_000);
        let (url, server) = one_request_server();
        let before = imp::SENT.load(Ordering::Relaxed);
        let status = put_range(false, &url, File::open(&path).unwrap(), 0, 300_000).unwrap();
        assert_eq!(status, 201);
        assert_eq!(server.join().unwrap(), data);
        assert_eq!(imp::SENT.load(Ordering::Relaxed), before);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_file_shorter_than_announced_is_an_error_and_nothing_else_is_sent() {
        let _serial = serial();
        let (path, data) = data_file("short", 200_000);
        let (url, server) = one_request_server();
        let e = put_range(true, &url, File::open(&path).unwrap(), 0, 250_000).unwrap_err();
        assert!(e.to_string().contains("the file ended"), "{e}");
        // The registry saw the file's bytes and then the connection close: never buffer bytes.
        drop(e);
        assert_eq!(server.join().unwrap(), data);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn outside_a_scope_a_file_range_reads() {
        let (path, data) = data_file("read", 10_000);
        let mut r = FileRange::new(File::open(&path).unwrap(), 100, 5_000);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, &data[100..5_100]);
        std::fs::remove_file(path).unwrap();
    }
}
