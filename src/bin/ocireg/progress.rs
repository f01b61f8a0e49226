//! Progress bars for push, pull and copy: one bar per blob (bytes, rate, ETA) and a total, on
//! stderr, only when stderr is a terminal and neither `--json` nor `--quiet` was given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ocireg::{Progress, ProgressEvent};

/// The bars of one transfer.
pub struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    /// The total's length is known up front (push) or grows as blobs appear (pull, copy).
    fixed_total: bool,
    blobs: Mutex<HashMap<String, ProgressBar>>,
}

fn blob_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:30} [{bar:30.cyan/blue}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta}",
    )
    .expect("a valid template")
    .progress_chars("=> ")
}

fn total_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:30} [{bar:30.green/white}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta} ({elapsed})",
    )
    .expect("a valid template")
    .progress_chars("=> ")
}

impl Bars {
    /// Bars for a transfer whose total size is `total` when known.
    pub fn new(label: &str, total: Option<u64>) -> Arc<Bars> {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let bar = multi.add(ProgressBar::new(total.unwrap_or(0)));
        bar.set_style(total_style());
        bar.set_message(format!("total ({label})"));
        bar.enable_steady_tick(Duration::from_millis(200));
        Arc::new(Bars {
            multi,
            total: bar,
            fixed_total: total.is_some(),
            blobs: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one progress report of the library.
    pub fn update(&self, p: &Progress) {
        let mut blobs = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
        let key = p.digest.to_string();
        let short = key[..key.len().min(19)].to_string();
        let bar = blobs.entry(key).or_insert_with(|| {
            if !self.fixed_total {
                self.total.inc_length(p.total);
            }
            let b = self
                .multi
                .insert_before(&self.total, ProgressBar::new(p.total));
            b.set_style(blob_style());
            b.set_message(short.clone());
            b
        });
        let before = bar.position();
        if p.done > before {
            bar.set_position(p.done);
            self.total.inc(p.done - before);
        }
        let done = match p.event {
            ProgressEvent::Existed => Some("exists"),
            ProgressEvent::Mounted => Some("mounted"),
            ProgressEvent::Reused => Some("reused"),
            ProgressEvent::Uploaded => Some("uploaded"),
            ProgressEvent::Downloaded => Some("downloaded"),
            ProgressEvent::Uploading | ProgressEvent::Downloading => None,
        };
        if let Some(word) = done {
            if p.total > bar.position() {
                self.total.inc(p.total - bar.position());
            }
            bar.set_length(p.total);
            bar.set_position(p.total);
            bar.finish_with_message(format!("{short} {word}"));
        }
    }

    /// The library's progress callback feeding these bars (never cancels).
    pub fn callback(self: &Arc<Self>) -> impl Fn(&Progress) -> bool + Send + Sync + 'static {
        let me = Arc::clone(self);
        move |p| {
            me.update(p);
            true
        }
    }

    /// Prints a line above the bars (telemetry while they are drawn).
    pub fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    /// Ends the total bar, leaving the final state on the terminal.
    pub fn finish(&self) {
        self.total.finish();
    }
}
