//! Callbacks: the C function pointer types, and the adapters that guarantee every callback runs
//! synchronously on the calling thread.
//!
//! Push and pull transfer blobs on worker threads, and the Rust progress callback is called from
//! them. A C caller (and Ruby Fiddle, Python ctypes, Go) must only ever be called back on its own
//! thread, so when a progress callback is given the operation runs on a helper thread while the
//! calling thread receives the progress events through a channel and invokes the C callback
//! itself. The worker that reported an event waits for the callback's answer, so a cancel always
//! takes effect; the call returns only once the operation has finished.

use std::ffi::{CString, c_char, c_int, c_void};
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use super::error::{lossy_cstring, on_caller_thread};
use crate::error::Result;
use crate::transfer::{Progress, ProgressEvent, ProgressFn};
use crate::transport::{RetryCallback, RetryEvent};

/// Progress event: bytes are going up (`done` grows).
pub const OCIREG_PROGRESS_UPLOADING: u32 = 0;
/// Progress event: the blob was already in the repository (`done == total`).
pub const OCIREG_PROGRESS_EXISTED: u32 = 1;
/// Progress event: the blob was mounted from another repository (`done == total`).
pub const OCIREG_PROGRESS_MOUNTED: u32 = 2;
/// Progress event: the upload of the blob completed (`done == total`).
pub const OCIREG_PROGRESS_UPLOADED: u32 = 3;
/// Progress event: bytes are coming down (`done` grows).
pub const OCIREG_PROGRESS_DOWNLOADING: u32 = 4;
/// Progress event: the blob was already in the destination with the right digest.
pub const OCIREG_PROGRESS_REUSED: u32 = 5;
/// Progress event: the download of the blob completed and was verified.
pub const OCIREG_PROGRESS_DOWNLOADED: u32 = 6;

/// A progress callback of push and pull: `digest` is the blob (`"sha256:…"`, valid during the
/// call only), `done` / `total` bytes, `event` one of the `OCIREG_PROGRESS_*` values. Return 0 to
/// go on, non-zero to cancel the operation (which then fails with `OCIREG_CANCELLED`).
///
/// Always invoked on the thread that called the operation, before the operation returns.
#[allow(non_camel_case_types)]
pub type ocireg_progress_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        digest: *const c_char,
        done: u64,
        total: u64,
        event: u32,
    ) -> c_int,
>;

/// A write callback of ocireg_blob_pull(): receives the next `len` bytes of the blob at `buf`
/// (valid during the call only). Return 0 to go on, non-zero to abort the download (which then
/// fails with `OCIREG_CANCELLED`). Invoked on the calling thread.
#[allow(non_camel_case_types)]
pub type ocireg_write_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, buf: *const u8, len: usize) -> c_int>;

/// A read callback of ocireg_blob_push_stream(): writes up to `cap` bytes to `buf` and returns
/// how many (0 at the end of the data), or a negative number to abort the upload (which then
/// fails with `OCIREG_CANCELLED`). Invoked on the calling thread.
#[allow(non_camel_case_types)]
pub type ocireg_read_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, buf: *mut u8, cap: usize) -> isize>;

/// A retry callback (the Go seed's `RetryNotify`): told of each retry before ocireg sleeps —
/// `method` and `path` of the request (valid during the call only; the path has no query),
/// `attempt` (1 for the first retry), `status` (the HTTP status that caused it, 0 for a
/// connection error or timeout), `reason` (the error text) and `delay_ms` (how long ocireg
/// waits). Set with ocireg_options_set_retry_notify().
///
/// Always invoked on the thread that called the operation, before the operation returns.
#[allow(non_camel_case_types)]
pub type ocireg_retry_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        method: *const c_char,
        path: *const c_char,
        attempt: u32,
        status: u16,
        reason: *const c_char,
        delay_ms: u64,
    ),
>;

/// A C retry callback and its userdata, as a client keeps them.
#[derive(Clone, Copy)]
pub(crate) struct CRetry {
    pub(crate) cb: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        *const c_char,
        u32,
        u16,
        *const c_char,
        u64,
    ),
    pub(crate) userdata: UserData,
}

// SAFETY: the callback and its userdata are only ever used on the thread of the C call that
// received them (see `call`): the value merely travels with the client.
unsafe impl Send for CRetry {}
// SAFETY: as above.
unsafe impl Sync for CRetry {}

impl CRetry {
    /// Calls the C callback with `ev`. Only on the C caller's thread.
    fn call(&self, ev: &RetryEvent) {
        let method = lossy_cstring(ev.method);
        let path = lossy_cstring(&ev.path);
        let reason = lossy_cstring(&ev.reason);
        let delay_ms = u64::try_from(ev.delay.as_millis()).unwrap_or(u64::MAX);
        // SAFETY: the caller of ocireg_options_set_retry_notify() promised a valid callback
        // and userdata; we are on the C caller's thread.
        unsafe {
            (self.cb)(
                self.userdata.0,
                method.as_ptr(),
                path.as_ptr(),
                ev.attempt,
                ev.status.unwrap_or(0),
                reason.as_ptr(),
                delay_ms,
            )
        }
    }

    /// The client-level retry callback: calls C when the retry happens on the C caller's
    /// thread (a call without workers); retries on worker threads reach C through the
    /// operation's pump ([`with_progress`]) instead.
    pub(crate) fn client_callback(self) -> RetryCallback {
        Arc::new(move |ev: &RetryEvent| {
            if on_caller_thread() {
                self.call(ev);
            }
        })
    }
}

fn event_code(e: ProgressEvent) -> u32 {
    match e {
        ProgressEvent::Uploading => OCIREG_PROGRESS_UPLOADING,
        ProgressEvent::Existed => OCIREG_PROGRESS_EXISTED,
        ProgressEvent::Mounted => OCIREG_PROGRESS_MOUNTED,
        ProgressEvent::Uploaded => OCIREG_PROGRESS_UPLOADED,
        ProgressEvent::Downloading => OCIREG_PROGRESS_DOWNLOADING,
        ProgressEvent::Reused => OCIREG_PROGRESS_REUSED,
        ProgressEvent::Downloaded => OCIREG_PROGRESS_DOWNLOADED,
    }
}

/// The C caller's opaque pointer. Only ever dereferenced by the caller's own callback, and
/// only on the caller's thread.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

enum Msg<T> {
    /// An event, and where to send the callback's answer (`true`: go on).
    Progress(Progress, SyncSender<bool>),
    /// A retry, and where to say it was told.
    Retry(RetryEvent, SyncSender<()>),
    Done(std::thread::Result<Result<T>>),
}

/// Runs `op` with a progress callback that reports to `cb`, and a retry callback that reports to
/// `retry`, both on the calling thread.
///
/// Without either, `op(None, None)` simply runs here. With one, `op` runs on a scoped helper
/// thread; each progress event (and each retry) is handed to this thread, the C callback is
/// called here, and the worker that reported the event waits for the answer before it goes on. So the answer is exact: the progress call
/// whose callback returned non-zero answers `false` (and so does every later one, without calling
/// `cb` again), which makes the operation stop with `Error::Cancelled` — it can never finish
/// behind the caller's back with events still queued. A panic in `op` is resumed on this thread
/// (and caught by the boundary).
pub(crate) fn with_progress<T, F>(
    cb: ocireg_progress_fn,
    userdata: UserData,
    retry: Option<CRetry>,
    op: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Option<ProgressFn>, Option<RetryCallback>) -> Result<T> + Send,
{
    if cb.is_none() && retry.is_none() {
        return op(None, None);
    }
    let cancelled = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel::<Msg<T>>(256);
    std::thread::scope(|s| {
        let worker = {
            let tx = tx.clone();
            let cancelled = Arc::clone(&cancelled);
            s.spawn(move || {
                let retry_tx = tx.clone();
                let retry_hook: Option<RetryCallback> = retry.map(|_| {
                    let f: RetryCallback = Arc::new(move |ev: &RetryEvent| {
                        let (told_tx, told_rx) = sync_channel(1);
                        if retry_tx.send(Msg::Retry(ev.clone(), told_tx)).is_ok() {
                            let _ = told_rx.recv();
                        }
                    });
                    f
                });
                let progress_tx = tx.clone();
                let progress: ProgressFn = Arc::new(move |p: &Progress| {
                    if cancelled.load(Ordering::SeqCst) {
                        return false;
                    }
                    // The receiver only goes away after `Done`, so neither channel can fail while
                    // the operation runs; if one ever did, stopping is the safe answer.
                    let (answer_tx, answer_rx) = sync_channel(1);
                    if progress_tx
                        .send(Msg::Progress(p.clone(), answer_tx))
                        .is_err()
                    {
                        return false;
                    }
                    answer_rx.recv().unwrap_or(false)
                });
                let progress = cb.map(|_| progress);
                let result = catch_unwind(AssertUnwindSafe(|| op(progress, retry_hook)));
                let _ = tx.send(Msg::Done(result));
            })
        };
        drop(tx);
        let mut outcome = None;
        for msg in rx.iter() {
            match msg {
                Msg::Retry(ev, told) => {
                    if let Some(r) = &retry {
                        r.call(&ev);
                    }
                    let _ = told.send(());
                }
                Msg::Progress(p, answer) => {
                    let Some(cb) = cb else {
                        let _ = answer.send(true);
                        continue;
                    };
                    if cancelled.load(Ordering::SeqCst) {
                        let _ = answer.send(false);
                        continue;
                    }
                    let digest = CString::new(p.digest.to_string()).unwrap_or_default();
                    // SAFETY: the caller of the exported function promised a valid callback
                    // and userdata; we are on the caller's thread.
                    let rc = unsafe {
                        cb(
                            userdata.0,
                            digest.as_ptr(),
                            p.done,
                            p.total,
                            event_code(p.event),
                        )
                    };
                    if rc != 0 {
                        cancelled.store(true, Ordering::SeqCst);
                    }
                    let _ = answer.send(rc == 0);
                }
                Msg::Done(r) => {
                    outcome = Some(r);
                    break;
                }
            }
        }
        let joined = worker.join();
        match (outcome, joined) {
            (Some(Ok(r)), _) => r,
            (Some(Err(payload)), _) | (None, Err(payload)) => resume_unwind(payload),
            (None, Ok(())) => Err(crate::Error::Cancelled(
                "the operation ended without a result".into(),
            )),
        }
    })
}

/// A `Write` over a C write callback; remembers whether the callback asked to stop.
pub(crate) struct CWriter {
    pub(crate) cb: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> c_int,
    pub(crate) userdata: *mut c_void,
    pub(crate) aborted: bool,
}

impl Write for CWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: the caller of the exported function promised a valid callback and userdata;
        // `buf` is valid for `buf.len()` bytes during the call.
        let rc = unsafe { (self.cb)(self.userdata, buf.as_ptr(), buf.len()) };
        if rc != 0 {
            self.aborted = true;
            return Err(io::Error::other(format!(
                "the write callback returned {rc} (abort)"
            )));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `Read` over a C read callback; remembers whether the callback asked to stop. Shared with
/// the upload through a reference, so the flag can be read afterwards.
pub(crate) struct CReader<'f> {
    pub(crate) cb: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> isize,
    pub(crate) userdata: *mut c_void,
    pub(crate) aborted: &'f std::cell::Cell<bool>,
}

impl Read for CReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: the caller of the exported function promised a valid callback and userdata;
        // `buf` is valid for writing `buf.len()` bytes during the call.
        let n = unsafe { (self.cb)(self.userdata, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            self.aborted.set(true);
            return Err(io::Error::other(format!(
                "the read callback returned {n} (abort)"
            )));
        }
        let n = n as usize;
        if n > buf.len() {
            self.aborted.set(true);
            return Err(io::Error::other(format!(
                "the read callback claimed {n} bytes for a buffer of {}",
                buf.len()
            )));
        }
        Ok(n)
    }
}
