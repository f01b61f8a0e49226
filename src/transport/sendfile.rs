//! A blob `PUT` from a file on plain http, sent from the page cache straight to the socket with
//! `sendfile(2)`: the bytes are neither read into ocireg's memory nor copied back out (ureq
//! copies every body through its own buffer, and std's `io::copy` will not `sendfile` into a
//! socket). A 256 MiB push spent about 0.08 s of system time in those two copies; crane, whose
//! Go runtime does the same `sendfile`, about 0.035 s. A file changed while it is sent can
//! reach the socket changed: the registry then refuses the blob (its digest is checked), it is
//! never stored under the wrong digest.
//!
//! Only where nothing else needs to see the bytes: Linux (64-bit), plain `http://`, no proxy,
//! no call bound to a cancel handle (its agent is the one a cancellation shuts down), a body of
//! at least [`MIN_LEN`]. The request goes on a connection of its own (`Connection: close`);
//! everything else about it (authentication, 401 answers, error mapping, the request log,
//! progress and cancellation between steps) is the ordinary path's.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use ureq::Body;
use ureq::http::{Response, Uri};

use super::Transport;

/// The smallest body sent this way: below it, a pooled keep-alive connection (no new TCP
/// handshake) is worth more than the copies saved.
pub(crate) const MIN_LEN: u64 = 16 * 1024 * 1024;

/// Bytes handed to one `sendfile` loop between two progress reports and cancellation checks.
const STEP: u64 = 8 * 1024 * 1024;

/// The most of a response head, and of a response body, read.
const HEAD_LIMIT: usize = 64 * 1024;
const BODY_LIMIT: u64 = 1024 * 1024;

/// What [`Transport::put_file_direct`] sends.
pub(super) struct FilePut<'a> {
    pub uri: &'a Uri,
    pub headers: &'a [(&'static str, String)],
    pub authorization: Option<&'a str>,
    pub path: &'a Path,
    pub len: u64,
    pub watch: &'a dyn Fn(u64) -> bool,
    /// What is left of the request's deadline.
    pub left: Option<Duration>,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl Transport {
    /// Whether a `PUT` of a file body to `url` may take the direct path.
    pub(super) fn direct_put_allowed(&self, url: &str, len: u64, bound_call: bool) -> bool {
        sys::AVAILABLE
            && len >= MIN_LEN
            && !bound_call
            && url.starts_with("http://")
            && self.agent_config.proxy().is_none()
    }

    /// Sends `put` on a new connection and reads the answer (its body whole, up to 1 MiB).
    pub(super) fn put_file_direct(&self, put: FilePut<'_>) -> Result<Response<Body>, ureq::Error> {
        self.direct_puts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let deadline = put.left.and_then(|l| started.checked_add(l));
        let remaining = || -> io::Result<Option<Duration>> {
            match deadline {
                None => Ok(None),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) if !l.is_zero() => Ok(Some(l)),
                    _ => Err(timed_out("the upload did not finish in time")),
                },
            }
        };
        let cap = |t: Option<Duration>, left: Option<Duration>| match (t, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let host = put
            .uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host in the URL"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = put.uri.port_u16().unwrap_or(80);
        let timeouts = self.agent_config.timeouts();
        let mut last = None;
        let mut stream = None;
        for addr in (host, port).to_socket_addrs()? {
            let t = cap(timeouts.connect, remaining()?).unwrap_or(Duration::from_secs(30));
            match TcpStream::connect_timeout(&addr, t) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut stream = match stream {
            Some(s) => s,
            None => {
                return Err(last
                    .unwrap_or_else(|| io::Error::other("the host name resolved to nothing"))
                    .into());
            }
        };
        stream.set_nodelay(true)?;
        stream.set_write_timeout(cap(self.agent_config.timeout_per_write(), remaining()?))?;

        let mut head = format!(
            "PUT {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\n",
            put.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
            put.uri.authority().map(|a| a.as_str()).unwrap_or(host),
            self.user_agent
        );
        for (k, v) in put.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(a) = put.authorization {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            put.len
        ));
        let sent = (|| -> io::Result<()> {
            stream.write_all(head.as_bytes())?;
            let file = File::open(put.path)?;
            let mut done = 0u64;
            while done < put.len {
                let step = STEP.min(put.len - done);
                stream
                    .set_write_timeout(cap(self.agent_config.timeout_per_write(), remaining()?))?;
                let n = sys::sendfile(&stream, &file, done, step)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the source ended after {done} of the announced {} bytes",
                            put.len
                        ),
                    ));
                }
                done += n;
                if !(put.watch)(done) {
                    return Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "upload cancelled",
                    ));
                }
            }
            stream.flush()
        })();
        // A registry may answer (an error) and close before taking the whole body: read its
        // answer whenever there is one.
        let read_timeout = cap(
            timeouts
                .recv_response
                .or(self.agent_config.timeout_per_read()),
            remaining().unwrap_or(Some(Duration::from_millis(1))),
        );
        stream.set_read_timeout(read_timeout.or(Some(Duration::from_secs(300))))?;
        match sent {
            Ok(()) => read_response(stream).map_err(Into::into),
            // The registry stopped reading: it may have said why.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                ) =>
            {
                read_response(stream).map_err(|_| e.into())
            }
            // Ours (a short source, a cancellation, the deadline): the connection is dropped.
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod sys {
    use std::fs::File;
    use std::io;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;

    pub(super) const AVAILABLE: bool = true;

    unsafe extern "C" {
        // ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count); off_t is 64
        // bits on every 64-bit Linux libc.
        #[link_name = "sendfile"]
        fn c_sendfile(out_fd: i32, in_fd: i32, offset: *mut i64, count: usize) -> isize;
    }

    /// Sends up to `count` bytes of `file` from `offset`; the bytes sent (0 at the end of the
    /// file). A send timeout (`SO_SNDTIMEO`) is `TimedOut`.
    pub(super) fn sendfile(
        out: &TcpStream,
        file: &File,
        offset: u64,
        count: u64,
    ) -> io::Result<u64> {
        let mut off = i64::try_from(offset).map_err(io::Error::other)?;
        let count = usize::try_from(count).unwrap_or(usize::MAX).min(1 << 30);
        loop {
            // SAFETY: both descriptors are open for the duration of the call (borrowed), and
            // `off` is a valid, exclusive pointer to an i64 for its duration.
            let n = unsafe { c_sendfile(out.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
            if n >= 0 {
                return Ok(n as u64);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the registry stopped taking the upload",
                    ));
                }
                _ => return Err(e),
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
mod sys {
    pub(super) const AVAILABLE: bool = false;

    pub(super) fn sendfile(
        _: &std::net::TcpStream,
        _: &std::fs::File,
        _: u64,
        _: u64,
    ) -> std::io::Result<u64> {
        Err(std::io::Error::other("sendfile is not available here"))
    }
}

/// Reads an HTTP/1.1 answer: status line, headers, and a body delimited by `Content-Length`,
/// chunked, or the end of the connection (at most [`BODY_LIMIT`] bytes of it).
fn read_response(stream: TcpStream) -> io::Result<Response<Body>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    let mut head_bytes = 0usize;
    let mut read_line = |r: &mut BufReader<TcpStream>, line: &mut String| -> io::Result<()> {
        line.clear();
        let n = r.take((HEAD_LIMIT - head_bytes) as u64).read_line(line)?;
        head_bytes += n;
        if n == 0 || !line.ends_with('\n') {
            return Err(bad(
                "the registry closed the connection in the answer's head",
            ));
        }
        Ok(())
    };
    // Skip interim 1xx answers.
    let status = loop {
        read_line(&mut r, &mut line)?;
        let mut parts = line.split_whitespace();
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(bad("the answer is not HTTP/1.x"));
        }
        let code: u16 = parts
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad("malformed status line"))?;
        if (100..200).contains(&code) {
            loop {
                read_line(&mut r, &mut line)?;
                if line.trim().is_empty() {
                    break;
                }
            }
            continue;
        }
        break code;
    };
    let mut builder = Response::builder().status(status);
    let mut content_length = None;
    let mut chunked = false;
    loop {
        read_line(&mut r, &mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').ok_or_else(|| bad("malformed header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse::<u64>().ok();
        }
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            read_line(&mut r, &mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("malformed chunk size"))?;
            if size == 0 || body.len() as u64 + size > BODY_LIMIT {
                break;
            }
            (&mut r).take(size).read_to_end(&mut body)?;
            read_line(&mut r, &mut line)?;
        }
    } else {
        let limit = content_length.unwrap_or(BODY_LIMIT).min(BODY_LIMIT);
        (&mut r).take(limit).read_to_end(&mut body)?;
    }
    builder
        .body(Body::builder().data(body))
        .map_err(|e| bad(&format!("the answer's head: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn answer(raw: &'static [u8]) -> io::Result<Response<Body>> {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(raw).unwrap();
        });
        let r = read_response(TcpStream::connect(addr).unwrap());
        t.join().unwrap();
        r
    }

    #[test]
    fn answers_are_read() {
        let mut r = answer(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nDocker-Content-Digest: sha256:ab\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        assert_eq!(r.headers()["docker-content-digest"], "sha256:ab");
        assert_eq!(r.body_mut().read_to_string().unwrap(), "{}");
        let mut r = answer(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.body_mut().read_to_string().unwrap(), "abcde");
        let mut r = answer(b"HTTP/1.0 500 Oops\r\n\r\nuntil the end").unwrap();
        assert_eq!(r.body_mut().read_to_string().unwrap(), "until the end");
        assert!(answer(b"SSH-2.0 hello\r\n\r\n").is_err());
        assert!(answer(b"HTTP/1.1 201 Created\r\nno colon\r\n\r\n").is_err());
        assert!(answer(b"HTTP/1.1 201").is_err());
    }
}
