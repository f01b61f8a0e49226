//! Verifying a push: [`Client::verify`].
//!
//! Like occystrap's `RegistryWriter.verify()`, but as data a caller can act on, and never
//! failing open: every blob (config and layers, of every child of an index) is checked with
//! `HEAD` (present, and the size matches), and the manifest is fetched by its tag (by digest when
//! it was pushed without one) and the digest of the bytes compared with the pushed one (children
//! of an index by digest). Each check is listed in the [`VerifyReport`]:
//!
//! * [`VerifyOutcome::Verified`]: every check passed;
//! * [`VerifyOutcome::Failed`]: a blob is missing or has the wrong size, or a manifest is
//!   missing or has other bytes (the tag moved, the content changed);
//! * [`VerifyOutcome::Inconclusive`]: some check could not be made (network error, timeout,
//!   rate limit, credentials refused or a token that could not be renewed) — never "ok".
//!
//! The checks run in parallel, manifests and blobs together (eight at a time, on the client's
//! pooled connections), and go through the client's transport, which fetches a fresh token when
//! the one from the push has expired, so a verify works long after the push.

use std::fmt;
use std::sync::atomic::AtomicBool;

use crate::client::Client;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{MAX_MANIFEST_SIZE, media_types};
use crate::push::Pushed;
use crate::reference::Repository;
use crate::transfer::run_parallel;

/// Checks in flight at once. They are small requests (a `HEAD` per blob, a manifest `GET`):
/// round trips, not bandwidth, decide how long a verification takes, so it runs twice as many
/// at once as a transfer ([`crate::DEFAULT_THREADS`]), reusing the push's idle connections
/// (the client's pool keeps up to 16 per registry) and opening a few more.
const VERIFY_THREADS: usize = 8;
use crate::transport::{Method, Request};

/// The overall result of a verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerifyOutcome {
    /// Every check passed.
    Verified,
    /// At least one check found missing or different content.
    Failed,
    /// No check failed, but at least one could not be made.
    Inconclusive,
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    /// As pushed.
    Ok,
    /// Missing, or different from what was pushed (the text says how).
    Failed(String),
    /// Could not be checked (the text says why).
    Inconclusive(String),
}

/// What a check looked at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// `HEAD` of the config blob.
    Config,
    /// `HEAD` of a layer blob.
    Layer,
    /// `GET` of the manifest by its tag.
    ManifestByTag(String),
    /// `GET` of a manifest (the pushed one or a child of an index) by digest.
    ManifestByDigest,
}

/// One check of a [`VerifyReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub kind: CheckKind,
    /// The digest expected.
    pub digest: Digest,
    /// The size expected (blobs and manifests).
    pub size: u64,
    /// The result.
    pub status: CheckStatus,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            CheckKind::Config => "config".to_string(),
            CheckKind::Layer => "layer".to_string(),
            CheckKind::ManifestByTag(t) => format!("manifest by tag {t}"),
            CheckKind::ManifestByDigest => "manifest by digest".to_string(),
        };
        match &self.status {
            CheckStatus::Ok => write!(
                f,
                "ok           {what} {} ({} bytes)",
                self.digest, self.size
            ),
            CheckStatus::Failed(m) => write!(f, "FAILED       {what} {}: {m}", self.digest),
            CheckStatus::Inconclusive(m) => {
                write!(f, "INCONCLUSIVE {what} {}: {m}", self.digest)
            }
        }
    }
}

/// The result of [`Client::verify`]: every check, and the outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// The repository checked.
    pub repository: String,
    /// The manifest digest that was expected.
    pub digest: Digest,
    /// The overall outcome.
    pub outcome: VerifyOutcome,
    /// Every check, in order: manifests first, then blobs.
    pub checks: Vec<Check>,
}

impl VerifyReport {
    /// True only when every check passed.
    pub fn is_verified(&self) -> bool {
        self.outcome == VerifyOutcome::Verified
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| matches!(c.status, CheckStatus::Failed(_)))
    }

    /// The checks that could not be made.
    pub fn inconclusive(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| matches!(c.status, CheckStatus::Inconclusive(_)))
    }

    fn new(repository: &str, pushed: &Pushed, checks: Vec<Check>) -> VerifyReport {
        VerifyReport {
            repository: repository.to_string(),
            digest: pushed.digest.clone(),
            outcome: VerifyReport::outcome_of(&checks),
            checks,
        }
    }

    fn outcome_of(checks: &[Check]) -> VerifyOutcome {
        if checks
            .iter()
            .any(|c| matches!(c.status, CheckStatus::Failed(_)))
        {
            VerifyOutcome::Failed
        } else if checks.is_empty()
            || checks
                .iter()
                .any(|c| matches!(c.status, CheckStatus::Inconclusive(_)))
        {
            VerifyOutcome::Inconclusive
        } else {
            VerifyOutcome::Verified
        }
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = self
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Ok)
            .count();
        writeln!(
            f,
            "{:?}: {}@{} ({ok}/{} checks ok)",
            self.outcome,
            self.repository,
            self.digest,
            self.checks.len()
        )?;
        for c in &self.checks {
            writeln!(f, "  {c}")?;
        }
        Ok(())
    }
}

/// One check to make.
struct Planned {
    kind: CheckKind,
    digest: Digest,
    size: u64,
}

impl Planned {
    fn into_check(self, status: CheckStatus) -> Check {
        Check {
            kind: self.kind,
            digest: self.digest,
            size: self.size,
            status,
        }
    }
}

/// The checks of a verification: the manifests' (by tag, then by digest, children included)
/// and the blobs', each blob once.
fn plan(pushed: &Pushed) -> (Vec<Planned>, Vec<Planned>) {
    let mut manifests_plan = Vec::new();
    let mut manifests = std::collections::BTreeSet::new();
    if let Some(tag) = &pushed.tag {
        manifests_plan.push(Planned {
            kind: CheckKind::ManifestByTag(tag.clone()),
            digest: pushed.digest.clone(),
            size: pushed.size,
        });
        // Checked by tag, it is not fetched again by digest: the tag's bytes hashing to the
        // digest are the same proof (the registry stores manifests by digest).
        manifests.insert(&pushed.digest);
    }
    let mut blobs = std::collections::BTreeSet::new();
    let mut blob_plan = Vec::new();
    plan_manifest(
        pushed,
        &mut manifests_plan,
        &mut blob_plan,
        &mut manifests,
        &mut blobs,
    );
    (manifests_plan, blob_plan)
}

impl Client {
    /// Checks that what [`Client::push_image`] pushed is in `repository`: `HEAD` of every blob
    /// (present, right size), `GET` of the manifest by its tag (by digest when pushed without a
    /// tag; each child of an index by digest), comparing the digest of the bytes with the pushed
    /// one. A tag's bytes that hash to the pushed digest are the stored manifest: the registry
    /// keeps manifests by digest, so fetching it again by digest would prove nothing more.
    ///
    /// Never fails open: a missing blob, a size or manifest mismatch gives
    /// [`VerifyOutcome::Failed`]; a check that could not be made (network, timeout, refused or
    /// unrenewable credentials) gives [`VerifyOutcome::Inconclusive`].
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// # let client = ocireg::Client::new("registry.example.com")?;
    /// # let image = ocireg::Image::from_layout("./layout", None)?;
    /// let pushed = client.push_image("team/app", "v1", &image, &Default::default())?;
    /// let report = client.verify("team/app", &pushed);
    /// match report.outcome {
    ///     ocireg::VerifyOutcome::Verified => println!("verified"),
    ///     ocireg::VerifyOutcome::Failed => eprintln!("BROKEN PUSH:\n{report}"),
    ///     ocireg::VerifyOutcome::Inconclusive => eprintln!("could not verify:\n{report}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn verify(&self, repository: &str, pushed: &Pushed) -> VerifyReport {
        // One wave: the manifest and blob checks are independent, so they share the round trip.
        let (mut checks, blobs) = plan(pushed);
        checks.extend(blobs);
        let checks = self.run_checks(repository, checks);
        VerifyReport::new(repository, pushed, checks)
    }

    /// Runs planned checks in parallel ([`VERIFY_THREADS`] at a time).
    fn run_checks(&self, repository: &str, plan: Vec<Planned>) -> Vec<Check> {
        let statuses = match Repository::parse(repository) {
            Err(e) => Err(e),
            Ok(_) => {
                let never = AtomicBool::new(false);
                run_parallel(&plan, VERIFY_THREADS, &never, |p| {
                    Ok(self.run_check(repository, p))
                })
            }
        };
        match statuses {
            Ok(statuses) => plan
                .into_iter()
                .zip(statuses)
                .map(|(p, status)| p.into_check(status))
                .collect(),
            // A malformed repository (checks themselves never return Err): never "ok".
            Err(e) => plan
                .into_iter()
                .map(|p| p.into_check(CheckStatus::Inconclusive(e.to_string())))
                .collect(),
        }
    }

    /// [`Client::push_image`] followed by [`Client::verify`], overlapped: the blob checks run
    /// while the manifests are being put (every blob is in place by then), on the push's
    /// pooled connections, and only the manifest checks wait for the push to end. The same
    /// requests and the same report as the two calls one after the other, sooner when there
    /// are more blobs than checks in flight at once (eight).
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// let image = ocireg::Image::from_layout("./layout", None)?;
    /// let (pushed, report) =
    ///     client.push_and_verify("team/app", "v1", &image, &ocireg::PushOptions::default())?;
    /// assert!(report.is_verified(), "{report}");
    /// println!("{}", pushed.reference());
    /// # Ok(()) }
    /// ```
    ///
    /// Errors are the push's; a verification never fails the call (see [`VerifyReport`]).
    pub fn push_and_verify(
        &self,
        repository: &str,
        reference: &str,
        image: &crate::Image,
        options: &crate::PushOptions,
    ) -> Result<(Pushed, VerifyReport)> {
        let r = crate::reference::TagOrDigest::parse(reference)?;
        let expected = Pushed::from_image(image, repository, r.tag().map(|t| t.as_ref()))?;
        let (manifest_plan, blob_plan) = plan(&expected);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (pushed, blob_checks) = std::thread::scope(|s| {
            let checker = s.spawn(move || {
                // Told when every blob is in place; a push that fails first drops the sender.
                rx.recv()
                    .ok()
                    .map(|()| self.run_checks(repository, blob_plan))
            });
            let pushed = self.push_image_then(repository, reference, image, options, &|| {
                let _ = tx.send(());
            });
            drop(tx);
            let blob_checks = checker.join().ok().flatten();
            (pushed, blob_checks)
        });
        let pushed = pushed?;
        let mut checks = self.run_checks(repository, manifest_plan);
        match blob_checks {
            Some(b) => checks.extend(b),
            // Unreachable after a successful push (it always says when the blobs are in);
            // check them now rather than report less.
            None => checks.extend(self.run_checks(repository, plan(&expected).1)),
        }
        let report = VerifyReport::new(repository, &pushed, checks);
        Ok((pushed, report))
    }

    fn run_check(&self, repository: &str, p: &Planned) -> CheckStatus {
        match &p.kind {
            CheckKind::Config | CheckKind::Layer => {
                match self.head_blob(repository, &p.digest, "pull") {
                    Ok(Some(Some(len))) if len == p.size => CheckStatus::Ok,
                    Ok(Some(Some(len))) => CheckStatus::Failed(format!(
                        "the registry has {len} bytes, {} were pushed",
                        p.size
                    )),
                    Ok(Some(None)) => CheckStatus::Inconclusive(
                        "present, but the registry sent no Content-Length to compare".into(),
                    ),
                    Ok(None) => CheckStatus::Failed("missing (404)".into()),
                    Err(e) => classify(e),
                }
            }
            CheckKind::ManifestByTag(tag) => self.check_manifest(repository, tag, p),
            CheckKind::ManifestByDigest => {
                self.check_manifest(repository, &p.digest.to_string(), p)
            }
        }
    }

    fn check_manifest(&self, repository: &str, reference: &str, p: &Planned) -> CheckStatus {
        match self.get_manifest_raw(repository, reference) {
            Ok(bytes) => {
                let actual = p.digest.of_same_kind(&bytes);
                if actual == p.digest {
                    CheckStatus::Ok
                } else if matches!(p.kind, CheckKind::ManifestByTag(_)) {
                    CheckStatus::Failed(format!(
                        "the tag now points at {actual} ({} bytes)",
                        bytes.len()
                    ))
                } else {
                    CheckStatus::Failed(format!(
                        "the registry's bytes hash to {actual} ({} bytes)",
                        bytes.len()
                    ))
                }
            }
            Err(e) => classify(e),
        }
    }

    /// The raw bytes of a manifest (not verified here: the caller compares digests).
    fn get_manifest_raw(&self, repository: &str, reference: &str) -> Result<Vec<u8>> {
        let t = self.transport();
        let what = format!("manifest {repository}:{reference}");
        let req = Request::new(
            Method::Get,
            format!("/v2/{repository}/manifests/{reference}"),
            format!("GET {what}"),
        )
        .repo(repository, "pull")
        .header("accept", media_types::MANIFEST_ACCEPT);
        Ok(t.fetch(req, &[200], MAX_MANIFEST_SIZE)?.1)
    }
}

fn plan_manifest<'p>(
    p: &'p Pushed,
    plan: &mut Vec<Planned>,
    blob_plan: &mut Vec<Planned>,
    manifests: &mut std::collections::BTreeSet<&'p Digest>,
    blobs: &mut std::collections::BTreeSet<&'p Digest>,
) {
    if manifests.insert(&p.digest) {
        plan.push(Planned {
            kind: CheckKind::ManifestByDigest,
            digest: p.digest.clone(),
            size: p.size,
        });
    }
    if let Some(c) = &p.config
        && blobs.insert(&c.digest)
    {
        blob_plan.push(Planned {
            kind: CheckKind::Config,
            digest: c.digest.clone(),
            size: c.size,
        });
    }
    for l in &p.layers {
        // Foreign layers (with urls) are not in the registry.
        if l.urls.as_ref().is_some_and(|u| !u.is_empty()) {
            continue;
        }
        if blobs.insert(&l.digest) {
            blob_plan.push(Planned {
                kind: CheckKind::Layer,
                digest: l.digest.clone(),
                size: l.size,
            });
        }
    }
    for c in &p.children {
        plan_manifest(c, plan, blob_plan, manifests, blobs);
    }
}

/// What an error means for a check: content problems fail it, everything else makes it
/// inconclusive.
fn classify(e: Error) -> CheckStatus {
    match e {
        Error::NotFound { .. } => CheckStatus::Failed(format!("missing: {e}")),
        Error::DigestMismatch { .. } => CheckStatus::Failed(e.to_string()),
        other => CheckStatus::Inconclusive(other.to_string()),
    }
}
