//! Hostile mode: the registry plays one attack of a malicious or broken registry at a time, so
//! that client defects (credential leaks, panics, hangs) can be pinned by tests.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::server::{Body, Reply};
use crate::error::Error;

/// The name the other origin adds to the tag list and catalog pages it serves under
/// [`Hostile::CrossOriginLink`]: a client that lists it followed a `Link` to another origin.
pub const OTHER_ORIGIN_NAME: &str = "from-other-origin";

/// The largest `bytes` of [`Hostile::LargeErrorBody`] (256 MiB).
pub const MAX_ERROR_MESSAGE: usize = 256 << 20;

/// What a blob GET with a `Range` header gets under [`Hostile::CutMidway`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeMode {
    /// `206 Partial Content` with the asked bytes and a correct `Content-Range` (the download
    /// can be resumed).
    Honour,
    /// A full `200` with the whole blob, as a registry that ignores `Range` answers.
    Ignore,
    /// `206` with a `Content-Range` that does not start where asked, and the bytes it names: for
    /// `Range: bytes=N-` the answer covers `bytes M-(len-1)/len` with `M = N / 2` (`M = 1` when
    /// `N` is 0, for blobs of 2 bytes or more). A protocol violation.
    WrongStart,
}

/// An attack the test registry plays on request ([`Registry::set_hostile`]). One at a time;
/// [`Hostile::None`] (the default) turns it off. Everything not named by the scenario is served
/// as usual.
///
/// "The other origin" is the registry's second listener (the object store of
/// [`Registry::redirect_blobs`]): `http://127.0.0.1:<other port>`, same host, another port. It
/// serves `/v2/` paths without authentication (tag lists, the catalog, manifests, blobs) and
/// records every request it gets, with whether an `Authorization` header arrived
/// ([`RecordedRequest::object_store`], [`RecordedRequest::authorized`],
/// [`Registry::object_store_requests`]).
///
/// Each scenario also has a text form (the spec of `ocireg_test_registry_set_hostile` and of the
/// bindings), parsed by [`FromStr`] and written by [`Display`](fmt::Display):
///
/// ```
/// use ocireg::testing::{Hostile, RangeMode};
/// use std::time::Duration;
///
/// let h: Hostile = "slow-drip:2000".parse()?;
/// assert_eq!(h, Hostile::SlowDrip { interval: Duration::from_secs(2) });
/// assert_eq!(h.to_string(), "slow-drip:2000");
/// let cut: Hostile = "cut-midway:ignore-range".parse()?;
/// assert_eq!(cut, Hostile::CutMidway { range: RangeMode::Ignore });
/// assert!("slow-drip".parse::<Hostile>().is_err());
/// # Ok::<(), ocireg::Error>(())
/// ```
///
/// [`Registry::set_hostile`]: super::Registry::set_hostile
/// [`Registry::redirect_blobs`]: super::Registry::redirect_blobs
/// [`Registry::object_store_requests`]: super::Registry::object_store_requests
/// [`RecordedRequest::object_store`]: super::RecordedRequest::object_store
/// [`RecordedRequest::authorized`]: super::RecordedRequest::authorized
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Hostile {
    /// No attack (`"none"`).
    #[default]
    None,
    /// `"cross-origin-link"`: every non-empty tag list and catalog page of the registry answers
    /// its page (all names when no `n` was asked) plus
    /// `Link: <http://127.0.0.1:<other port>/v2/<name>/tags/list?last=<last>&n=<n>>; rel="next"`
    /// (`/v2/_catalog?...` for the catalog): the next page is on another origin. The other
    /// origin answers it with a plausible page, the real names after `last` (at most `n`) plus
    /// [`OTHER_ORIGIN_NAME`], and no `Link`. A client must not send its credentials there.
    CrossOriginLink,
    /// `"cross-port-redirect"`: every authorized GET and HEAD of a tag list, manifest or blob
    /// (not `/v2/`, not the catalog, not the token endpoint) answers
    /// `307` with `Location: http://127.0.0.1:<other port><same path>[?<same query>]`. The other
    /// origin serves the same resource without authentication. A client must not send its
    /// credentials there.
    CrossPortRedirect,
    /// `"huge-expires-in"`: the token endpoint's successful answers say
    /// `"expires_in": 9223372036854775807` (`i64::MAX`); the token itself lives as long as the
    /// policy says. Expiry arithmetic must not overflow.
    HugeExpiresIn,
    /// `"issued-at-future"`: the token endpoint's successful answers say
    /// `"issued_at": "9999-12-31T23:59:59Z"` (normal `expires_in`).
    IssuedAtFuture,
    /// `"issued-at-past"`: the token endpoint's successful answers say
    /// `"issued_at": "0001-01-01T00:00:00Z"` (normal `expires_in`): a token that looks long
    /// expired the moment it arrives.
    IssuedAtPast,
    /// `"slow-drip:<ms>"`: successful GET answers of tag lists, the catalog, manifests, blobs
    /// (at the registry or the other origin) and the token endpoint send their headers with the
    /// correct `Content-Length`, then the body one byte per `interval` (the first byte at once),
    /// then close the connection. `/v2/` itself, errors and HEAD are not slowed. The registry
    /// gives up within ~20 ms of the client hanging up or the registry stopping.
    SlowDrip {
        /// The pause between two bytes.
        interval: Duration,
    },
    /// `"endless-body"` / `"endless-body:chunked"`: blob GETs (at the registry or the other
    /// origin, `Range` ignored) answer `200` with no `Content-Length`, `Connection: close` and a
    /// body that never ends: the blob's bytes over and over (zeros for an empty blob),
    /// close-delimited, or in `Transfer-Encoding: chunked` chunks of 64 KiB that never reach
    /// the last chunk. Nothing is buffered; the registry stops writing within ~100 ms of the
    /// client hanging up or the registry stopping. HEAD is answered as usual.
    EndlessBody {
        /// Chunked transfer coding instead of a close-delimited body.
        chunked: bool,
    },
    /// `"cut-midway"`, `"cut-midway:ignore-range"`, `"cut-midway:bad-range"`: blob GETs (at the
    /// registry or the other origin) WITHOUT a `Range` header send the headers with the full
    /// `Content-Length`, half the body, and close the connection, every time. GETs WITH a
    /// `Range` header get what `range` says, whole. `Accept-Ranges: bytes` is always sent.
    CutMidway {
        /// How a `Range` request is answered.
        range: RangeMode,
    },
    /// `"no-challenge-401"` / `"no-challenge-401:everywhere"`: the `401` answers to requests
    /// lacking valid credentials carry no `WWW-Authenticate` header, on every path but `/v2/`
    /// (which keeps the normal challenge of the [`AuthMode`](super::AuthMode), as behind some
    /// proxies), or everywhere including `/v2/` with `everywhere`. Needs an auth mode other than
    /// `None` (an open registry answers no 401).
    NoChallenge401 {
        /// `/v2/` loses its challenge too.
        everywhere: bool,
    },
    /// `"query-only-link"`: tag list and catalog pages that have a next page answer
    /// `Link: <?last=<last>&n=<n>>; rel="next"`, a query-only relative reference (RFC 3986
    /// §5.3: it resolves to the current path with the new query). Such follow-ups are served
    /// as usual.
    QueryOnlyLink,
    /// `"changing-cursor"`: every tag list and catalog page ignores `last` and answers the same
    /// first page (`n` names, all when no `n` was asked) plus
    /// `Link: </v2/<name>/tags/list?last=c<counter>&n=<n>>; rel="next"` (`/v2/_catalog?...`
    /// for the catalog; `&n=` only when `n` was asked) with a cursor that never repeats: the
    /// walk never ends unless the client notices that no new names come.
    ChangingCursor,
    /// `"large-error-body:<bytes>"`: every error answer (status 400 and above, e.g. a manifest
    /// `404`, a `401`, a token endpoint error) that has an `errors` array gets a `message` of
    /// exactly `bytes` bytes (ASCII) in each entry. At most [`MAX_ERROR_MESSAGE`].
    LargeErrorBody {
        /// The length of each message.
        bytes: usize,
    },
    /// `"malformed-error-entry"` / `"malformed-error-entry:string"`: every error answer with
    /// an `errors` array gets a malformed entry after its first entry, `{"code":5}` (or the bare
    /// string `"not an error object"` with `string`), followed by a good entry
    /// `{"code":"UNKNOWN","message":"the entry after a malformed one","detail":null}`.
    MalformedErrorEntry {
        /// The malformed entry is a bare JSON string instead of `{"code":5}`.
        string: bool,
    },
}

/// The spec forms, for error messages.
const SPECS: &str = "none, cross-origin-link, cross-port-redirect, huge-expires-in, \
                     issued-at-future, issued-at-past, slow-drip:<ms>, endless-body, \
                     endless-body:chunked, cut-midway, cut-midway:ignore-range, \
                     cut-midway:bad-range, no-challenge-401, no-challenge-401:everywhere, \
                     query-only-link, changing-cursor, large-error-body:<bytes>, \
                     malformed-error-entry, malformed-error-entry:string";

impl FromStr for Hostile {
    type Err = Error;

    /// Parses a spec such as `"slow-drip:2000"` (see each variant). Fails with
    /// [`Error::InvalidInput`] naming the spec and listing the known forms.
    fn from_str(spec: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::InvalidInput(format!(
                "hostile scenario {:?}: {why} (known: {SPECS})",
                crate::digest::shorten(spec)
            ))
        };
        let s = spec.trim();
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let no_arg = |h: Hostile| match arg {
            None => Ok(h),
            Some(_) => Err(bad("takes no argument")),
        };
        let number = |what: &str| -> Result<u64, Error> {
            let a = arg.ok_or_else(|| bad(&format!("needs {what}")))?;
            a.parse::<u64>()
                .map_err(|_| bad(&format!("{what} must be a non-negative integer")))
        };
        match name {
            "none" => no_arg(Hostile::None),
            "cross-origin-link" => no_arg(Hostile::CrossOriginLink),
            "cross-port-redirect" => no_arg(Hostile::CrossPortRedirect),
            "huge-expires-in" => no_arg(Hostile::HugeExpiresIn),
            "issued-at-future" => no_arg(Hostile::IssuedAtFuture),
            "issued-at-past" => no_arg(Hostile::IssuedAtPast),
            "query-only-link" => no_arg(Hostile::QueryOnlyLink),
            "changing-cursor" => no_arg(Hostile::ChangingCursor),
            "slow-drip" => Ok(Hostile::SlowDrip {
                interval: Duration::from_millis(number("an interval in milliseconds")?),
            }),
            "endless-body" => match arg {
                None => Ok(Hostile::EndlessBody { chunked: false }),
                Some("chunked") => Ok(Hostile::EndlessBody { chunked: true }),
                Some(_) => Err(bad("the only option is `chunked`")),
            },
            "cut-midway" => {
                let range = match arg {
                    None => RangeMode::Honour,
                    Some("ignore-range") => RangeMode::Ignore,
                    Some("bad-range") => RangeMode::WrongStart,
                    Some(_) => return Err(bad("the options are `ignore-range` and `bad-range`")),
                };
                Ok(Hostile::CutMidway { range })
            }
            "no-challenge-401" => match arg {
                None => Ok(Hostile::NoChallenge401 { everywhere: false }),
                Some("everywhere") => Ok(Hostile::NoChallenge401 { everywhere: true }),
                Some(_) => Err(bad("the only option is `everywhere`")),
            },
            "large-error-body" => {
                let n = number("a length in bytes")?;
                match usize::try_from(n) {
                    Ok(bytes) if bytes <= MAX_ERROR_MESSAGE => {
                        Ok(Hostile::LargeErrorBody { bytes })
                    }
                    _ => Err(bad(&format!("at most {MAX_ERROR_MESSAGE} bytes"))),
                }
            }
            "malformed-error-entry" => match arg {
                None => Ok(Hostile::MalformedErrorEntry { string: false }),
                Some("string") => Ok(Hostile::MalformedErrorEntry { string: true }),
                Some(_) => Err(bad("the only option is `string`")),
            },
            _ => Err(bad("unknown scenario")),
        }
    }
}

impl fmt::Display for Hostile {
    /// The spec [`FromStr`] parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hostile::None => f.write_str("none"),
            Hostile::CrossOriginLink => f.write_str("cross-origin-link"),
            Hostile::CrossPortRedirect => f.write_str("cross-port-redirect"),
            Hostile::HugeExpiresIn => f.write_str("huge-expires-in"),
            Hostile::IssuedAtFuture => f.write_str("issued-at-future"),
            Hostile::IssuedAtPast => f.write_str("issued-at-past"),
            Hostile::SlowDrip { interval } => write!(f, "slow-drip:{}", interval.as_millis()),
            Hostile::EndlessBody { chunked: false } => f.write_str("endless-body"),
            Hostile::EndlessBody { chunked: true } => f.write_str("endless-body:chunked"),
            Hostile::CutMidway { range } => f.write_str(match range {
                RangeMode::Honour => "cut-midway",
                RangeMode::Ignore => "cut-midway:ignore-range",
                RangeMode::WrongStart => "cut-midway:bad-range",
            }),
            Hostile::NoChallenge401 { everywhere: false } => f.write_str("no-challenge-401"),
            Hostile::NoChallenge401 { everywhere: true } => {
                f.write_str("no-challenge-401:everywhere")
            }
            Hostile::QueryOnlyLink => f.write_str("query-only-link"),
            Hostile::ChangingCursor => f.write_str("changing-cursor"),
            Hostile::LargeErrorBody { bytes } => write!(f, "large-error-body:{bytes}"),
            Hostile::MalformedErrorEntry { string: false } => f.write_str("malformed-error-entry"),
            Hostile::MalformedErrorEntry { string: true } => {
                f.write_str("malformed-error-entry:string")
            }
        }
    }
}

/// `issued_at` of [`Hostile::IssuedAtFuture`].
const FAR_FUTURE: &str = "9999-12-31T23:59:59Z";
/// `issued_at` of [`Hostile::IssuedAtPast`].
const FAR_PAST: &str = "0001-01-01T00:00:00Z";

/// The JSON body of a reply, when it is a JSON object.
fn json_body(reply: &Reply) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(reply.body_bytes()) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn set_json_body(reply: &mut Reply, body: serde_json::Map<String, serde_json::Value>) {
    reply.body = Body::Bytes(serde_json::Value::Object(body).to_string().into_bytes());
}

/// Rewrites a successful token endpoint answer for the token scenarios.
pub(crate) fn token_reply(h: &Hostile, mut reply: Reply) -> Reply {
    let field: (&str, serde_json::Value) = match h {
        Hostile::HugeExpiresIn => ("expires_in", i64::MAX.into()),
        Hostile::IssuedAtFuture => ("issued_at", FAR_FUTURE.into()),
        Hostile::IssuedAtPast => ("issued_at", FAR_PAST.into()),
        _ => return reply,
    };
    if reply.status != 200 {
        return reply;
    }
    if let Some(mut body) = json_body(&reply) {
        body.insert(field.0.to_string(), field.1);
        set_json_body(&mut reply, body);
    }
    reply
}

/// Exactly `n` bytes of readable ASCII.
fn long_message(n: usize) -> String {
    const UNIT: &str = "large error message from a hostile registry; ";
    UNIT.chars().cycle().take(n).collect()
}

/// Rewrites an error answer (status 400 and above with an `errors` array) for the error body
/// scenarios.
pub(crate) fn error_reply(h: &Hostile, mut reply: Reply) -> Reply {
    if reply.status < 400
        || !matches!(
            h,
            Hostile::LargeErrorBody { .. } | Hostile::MalformedErrorEntry { .. }
        )
    {
        return reply;
    }
    let Some(mut body) = json_body(&reply) else {
        return reply;
    };
    let Some(serde_json::Value::Array(errors)) = body.get_mut("errors") else {
        return reply;
    };
    match h {
        Hostile::LargeErrorBody { bytes } => {
            let message = serde_json::Value::String(long_message(*bytes));
            for e in errors.iter_mut() {
                if let Some(entry) = e.as_object_mut() {
                    entry.insert("message".into(), message.clone());
                }
            }
        }
        Hostile::MalformedErrorEntry { string } => {
            let malformed = if *string {
                serde_json::json!("not an error object")
            } else {
                serde_json::json!({ "code": 5 })
            };
            errors.insert(errors.len().min(1), malformed);
            errors.push(serde_json::json!({
                "code": "UNKNOWN",
                "message": "the entry after a malformed one",
                "detail": null,
            }));
        }
        _ => {}
    }
    set_json_body(&mut reply, body);
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip() {
        let all = [
            Hostile::None,
            Hostile::CrossOriginLink,
            Hostile::CrossPortRedirect,
            Hostile::HugeExpiresIn,
            Hostile::IssuedAtFuture,
            Hostile::IssuedAtPast,
            Hostile::SlowDrip {
                interval: Duration::from_millis(2000),
            },
            Hostile::EndlessBody { chunked: false },
            Hostile::EndlessBody { chunked: true },
            Hostile::CutMidway {
                range: RangeMode::Honour,
            },
            Hostile::CutMidway {
                range: RangeMode::Ignore,
            },
            Hostile::CutMidway {
                range: RangeMode::WrongStart,
            },
            Hostile::NoChallenge401 { everywhere: false },
            Hostile::NoChallenge401 { everywhere: true },
            Hostile::QueryOnlyLink,
            Hostile::ChangingCursor,
            Hostile::LargeErrorBody { bytes: 65536 },
            Hostile::MalformedErrorEntry { string: false },
            Hostile::MalformedErrorEntry { string: true },
        ];
        for h in all {
            let spec = h.to_string();
            assert!(SPECS.contains(spec.split(':').next().unwrap()), "{spec}");
            assert_eq!(spec.parse::<Hostile>().unwrap(), h, "{spec}");
        }
        assert_eq!(" none ".parse::<Hostile>().unwrap(), Hostile::None);
        assert_eq!(Hostile::default(), Hostile::None);
    }

    #[test]
    fn bad_specs_name_the_spec() {
        for bad in [
            "",
            "nonsense",
            "slow-drip",
            "slow-drip:",
            "slow-drip:-1",
            "slow-drip:fast",
            "none:1",
            "endless-body:forever",
            "cut-midway:sometimes",
            "no-challenge-401:x",
            "large-error-body",
            "large-error-body:268435457",
            "large-error-body:99999999999999999999999",
            "malformed-error-entry:x",
            "Cross-Origin-Link",
        ] {
            let e = bad.parse::<Hostile>().unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{bad}: {e:?}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
            assert!(e.to_string().contains("cross-origin-link"), "{e}");
        }
        assert!(
            format!("large-error-body:{MAX_ERROR_MESSAGE}")
                .parse::<Hostile>()
                .is_ok()
        );
    }

    #[test]
    fn token_answers() {
        let ok = || Reply::json(200, &serde_json::json!({"token": "t", "expires_in": 300}));
        let r = token_reply(&Hostile::HugeExpiresIn, ok());
        assert!(String::from_utf8_lossy(r.body_bytes()).contains("9223372036854775807"));
        let r = token_reply(&Hostile::IssuedAtPast, ok());
        let v: serde_json::Value = serde_json::from_slice(r.body_bytes()).unwrap();
        assert_eq!(v["issued_at"], FAR_PAST);
        assert_eq!(v["expires_in"], 300);
        let r = token_reply(&Hostile::None, ok());
        assert!(!String::from_utf8_lossy(r.body_bytes()).contains("issued_at"));
        let denied = Reply::error(401, "UNAUTHORIZED", "no");
        let r = token_reply(&Hostile::HugeExpiresIn, denied);
        assert!(!String::from_utf8_lossy(r.body_bytes()).contains("expires_in"));
    }

    #[test]
    fn error_answers() {
        let r = error_reply(
            &Hostile::LargeErrorBody { bytes: 1000 },
            Reply::error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
        );
        let v: serde_json::Value = serde_json::from_slice(r.body_bytes()).unwrap();
        assert_eq!(v["errors"][0]["message"].as_str().unwrap().len(), 1000);
        assert_eq!(v["errors"][0]["code"], "MANIFEST_UNKNOWN");
        let r = error_reply(
            &Hostile::MalformedErrorEntry { string: false },
            Reply::error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
        );
        let v: serde_json::Value = serde_json::from_slice(r.body_bytes()).unwrap();
        assert_eq!(v["errors"].as_array().unwrap().len(), 3);
        assert_eq!(v["errors"][1], serde_json::json!({"code": 5}));
        assert_eq!(v["errors"][2]["code"], "UNKNOWN");
        // Successes and non-JSON bodies are left alone.
        let ok = Reply::json(200, &serde_json::json!({"errors": []}));
        let r = error_reply(&Hostile::LargeErrorBody { bytes: 10 }, ok);
        assert_eq!(r.body_bytes(), br#"{"errors":[]}"#);
        let mut plain = Reply::new(500);
        plain.body = Body::Bytes(b"oops".to_vec());
        let r = error_reply(&Hostile::MalformedErrorEntry { string: true }, plain);
        assert_eq!(r.body_bytes(), b"oops");
    }
}
