//! Misbehaviour on request: injected failures, broken downloads, delays, redirects, and the
//! hostile scenario being played.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::hostile::Hostile;
use super::server::Reply;
use super::util::lock;

#[derive(Default)]
struct State {
    fail_remaining: usize,
    fail_status: u16,
    retry_after: Option<u32>,
    drop_remaining: usize,
    delay: Duration,
    redirect: bool,
    hostile: Hostile,
}

/// The fault settings of one registry.
#[derive(Default)]
pub(crate) struct Faults {
    state: Mutex<State>,
    /// The cursors of [`Hostile::ChangingCursor`], never repeated within a registry.
    cursor: AtomicU64,
}

impl Faults {
    pub(crate) fn fail_next(&self, n: usize, status: u16, retry_after: Option<u32>) {
        let mut s = lock(&self.state);
        s.fail_remaining = n;
        s.fail_status = status;
        s.retry_after = retry_after;
    }

    /// The injected failure for this request, if one is pending.
    pub(crate) fn take_fail(&self) -> Option<Reply> {
        let mut s = lock(&self.state);
        if s.fail_remaining == 0 {
            return None;
        }
        s.fail_remaining -= 1;
        Some(failure_reply(s.fail_status, s.retry_after))
    }

    pub(crate) fn drop_next(&self, n: usize) {
        lock(&self.state).drop_remaining = n;
    }

    /// True when this blob download must be cut.
    pub(crate) fn take_drop(&self) -> bool {
        let mut s = lock(&self.state);
        if s.drop_remaining == 0 {
            return false;
        }
        s.drop_remaining -= 1;
        true
    }

    pub(crate) fn set_delay(&self, d: Duration) {
        lock(&self.state).delay = d;
    }

    pub(crate) fn delay(&self) -> Duration {
        lock(&self.state).delay
    }

    pub(crate) fn set_redirect(&self, on: bool) {
        lock(&self.state).redirect = on;
    }

    pub(crate) fn redirect(&self) -> bool {
        lock(&self.state).redirect
    }

    pub(crate) fn set_hostile(&self, h: Hostile) {
        lock(&self.state).hostile = h;
    }

    pub(crate) fn hostile(&self) -> Hostile {
        lock(&self.state).hostile.clone()
    }

    /// A cursor never handed out before by this registry.
    pub(crate) fn next_cursor(&self) -> u64 {
        self.cursor.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The spec error answer for an injected status.
fn failure_reply(status: u16, retry_after: Option<u32>) -> Reply {
    let code = match status {
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        404 => "NAME_UNKNOWN",
        405 => "UNSUPPORTED",
        429 => "TOOMANYREQUESTS",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    let mut r = Reply::error(status, code, "injected failure (Registry::fail_next)");
    if let Some(s) = retry_after {
        r = r.with("Retry-After", s.to_string());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters() {
        let f = Faults::default();
        assert!(f.take_fail().is_none());
        f.fail_next(2, 429, Some(3));
        let r = f.take_fail().unwrap();
        assert_eq!(r.status, 429);
        assert_eq!(r.header("Retry-After"), Some("3"));
        assert!(String::from_utf8_lossy(r.body_bytes()).contains("TOOMANYREQUESTS"));
        assert!(f.take_fail().is_some());
        assert!(f.take_fail().is_none());
        f.drop_next(1);
        assert!(f.take_drop());
        assert!(!f.take_drop());
        f.set_redirect(true);
        assert!(f.redirect());
        f.set_delay(Duration::from_millis(5));
        assert_eq!(f.delay(), Duration::from_millis(5));
        assert_eq!(f.hostile(), Hostile::None);
        f.set_hostile(Hostile::ChangingCursor);
        assert_eq!(f.hostile(), Hostile::ChangingCursor);
        assert_ne!(f.next_cursor(), f.next_cursor());
    }
}
