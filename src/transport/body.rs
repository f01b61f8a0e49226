//! Response bodies: read whole (with a limit) or drained so the connection can be reused.

use std::io::{self, Read};

use ureq::Body;
use ureq::http::Response;

use super::Transport;
use crate::error::Result;

impl Transport {
    /// Reads a whole (small) body with a limit.
    pub(crate) fn read_body(
        &self,
        resp: &mut Response<Body>,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        resp.body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.map_ureq(e, what))
    }
}

/// Reads and discards what is left of a body so the connection goes back to the pool.
pub(crate) fn drain(mut resp: Response<Body>) {
    let mut r = resp.body_mut().as_reader();
    let _ = io::copy(&mut (&mut r).take(1024 * 1024), &mut io::sink());
}
