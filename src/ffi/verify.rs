//! Verifying a push: `ocireg_verify` and its report.

use std::ffi::c_char;

use serde_json::{Value, json};

use super::callbacks::{UserData, with_progress};
use super::client::{arg_client_repo, notifying, ocireg_client, retry_of};
use super::error::{Failure, boundary, free_box, ocireg_error, ocireg_status};
use super::push::ocireg_pushed;
use super::strings::{arg_out, arg_ref, read_or, write_box, write_cstring};
use crate::verify::{CheckKind, CheckStatus, VerifyOutcome, VerifyReport};

/// ocireg_verify_report_outcome(): every check passed.
pub const OCIREG_OUTCOME_VERIFIED: u32 = 0;
/// ocireg_verify_report_outcome(): a blob or manifest is missing or different.
pub const OCIREG_OUTCOME_FAILED: u32 = 1;
/// ocireg_verify_report_outcome(): no check failed, but some could not be made (network, timeout,
/// rate limit, credentials refused).
pub const OCIREG_OUTCOME_INCONCLUSIVE: u32 = 2;

/// The report of ocireg_verify(): the outcome and every check. Immutable: a
/// `const ocireg_verify_report *` may be shared across threads. Free with
/// ocireg_verify_report_free().
#[allow(non_camel_case_types)]
pub struct ocireg_verify_report {
    report: VerifyReport,
}

fn outcome_code(o: VerifyOutcome) -> u32 {
    match o {
        VerifyOutcome::Verified => OCIREG_OUTCOME_VERIFIED,
        VerifyOutcome::Failed => OCIREG_OUTCOME_FAILED,
        VerifyOutcome::Inconclusive => OCIREG_OUTCOME_INCONCLUSIVE,
    }
}

fn outcome_name(o: VerifyOutcome) -> &'static str {
    match o {
        VerifyOutcome::Verified => "verified",
        VerifyOutcome::Failed => "failed",
        VerifyOutcome::Inconclusive => "inconclusive",
    }
}

fn report_json(r: &VerifyReport) -> Value {
    let checks: Vec<Value> = r
        .checks
        .iter()
        .map(|c| {
            let (kind, tag) = match &c.kind {
                CheckKind::Config => ("config", None),
                CheckKind::Layer => ("layer", None),
                CheckKind::ManifestByTag(t) => ("manifestByTag", Some(t.as_str())),
                CheckKind::ManifestByDigest => ("manifestByDigest", None),
            };
            let (status, message) = match &c.status {
                CheckStatus::Ok => ("ok", None),
                CheckStatus::Failed(m) => ("failed", Some(m.as_str())),
                CheckStatus::Inconclusive(m) => ("inconclusive", Some(m.as_str())),
            };
            json!({
                "kind": kind,
                "tag": tag,
                "digest": c.digest.to_string(),
                "size": c.size,
                "status": status,
                "message": message,
            })
        })
        .collect();
    json!({
        "repository": r.repository,
        "digest": r.digest.to_string(),
        "outcome": outcome_name(r.outcome),
        "checks": checks,
    })
}

/// Checks that what was pushed is in `repository`: `HEAD` of every blob (present, right size),
/// `GET` of the manifest by its tag (by digest when pushed without one; each child of an index
/// by digest), comparing digests. Never fails open.
///
/// Returns `OCIREG_OK` when every check passed, and `OCIREG_VERIFY_FAILED` when a check failed
/// or could not be made (the error message then lists the failed checks). In both cases, and
/// only in these two, `*out` receives the full report (free with ocireg_verify_report_free()):
/// this is the one function whose output is also written on a failure status, because the
/// report is what explains the failure. Other statuses (bad arguments) write nothing.
///
/// # Safety
///
/// `client` and `pushed` must be live; `repository` a NUL-terminated string; `out` valid for
/// writing a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_verify(
    client: *const ocireg_client,
    repository: *const c_char,
    pushed: *const ocireg_pushed,
    out: *mut *mut ocireg_verify_report,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let p = arg_ref(pushed, "pushed")?;
            arg_out(out, "out")?;
            crate::Repository::parse(repo)?;
            let expected = p.pushed.clone();
            let report = with_progress(
                None,
                UserData(std::ptr::null_mut()),
                retry_of(client),
                |_, hook| Ok(notifying(c, hook).verify(repo, &expected)),
            )?;
            let failure = (!report.is_verified()).then(|| {
                Failure::new(
                    ocireg_status::OCIREG_VERIFY_FAILED,
                    format!("verification of the push {}", report.to_string().trim_end()),
                )
            });
            write_box(out, ocireg_verify_report { report });
            match failure {
                Some(f) => Err(f),
                None => Ok(()),
            }
        })
    }
}

/// The outcome: `OCIREG_OUTCOME_VERIFIED` (0), `OCIREG_OUTCOME_FAILED` (1) or
/// `OCIREG_OUTCOME_INCONCLUSIVE` (2). `OCIREG_OUTCOME_FAILED` when `report` is NULL.
///
/// # Safety
///
/// `report` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_verify_report_outcome(report: *const ocireg_verify_report) -> u32 {
    // SAFETY: the caller guarantees `report` is NULL or live.
    unsafe {
        read_or(report, OCIREG_OUTCOME_FAILED, |r| {
            outcome_code(r.report.outcome)
        })
    }
}

/// The report as JSON: `repository`, `digest`, `outcome` (`"verified"`, `"failed"`,
/// `"inconclusive"`), and `checks`, each with `kind` (`"config"`, `"layer"`, `"manifestByTag"`,
/// `"manifestByDigest"`), `tag` (or null), `digest`, `size`, `status` (`"ok"`, `"failed"`,
/// `"inconclusive"`) and `message` (or null). On success `*out_json` receives it (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `report` must be live; `out_json` valid for writing a pointer; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_verify_report_to_json(
    report: *const ocireg_verify_report,
    out_json: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(report, "report")?;
            arg_out(out_json, "out_json")?;
            write_cstring(out_json, &report_json(&r.report).to_string(), "the JSON")
        })
    }
}

/// The report as text for people: one line for the outcome, then one line per check. On success
/// `*out_text` receives it (free with ocireg_string_free()).
///
/// # Safety
///
/// `report` must be live; `out_text` valid for writing a pointer; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_verify_report_to_text(
    report: *const ocireg_verify_report,
    out_text: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let r = arg_ref(report, "report")?;
            arg_out(out_text, "out_text")?;
            write_cstring(out_text, &r.report.to_string(), "the report")
        })
    }
}

/// Frees a verification report. NULL is a no-op.
///
/// # Safety
///
/// `report` must be NULL or a report from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_verify_report_free(report: *mut ocireg_verify_report) {
    // SAFETY: the caller guarantees `report` came from Box::into_raw and is freed once.
    unsafe { free_box(report) }
}
