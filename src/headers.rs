//! Parsers for the other response headers a registry client reads: `Link` (pagination),
//! `Retry-After`, the upload `Range` and a download's `Content-Range`.
//!
//! All of them take untrusted header text, never panic, and answer `None` (or a best-effort
//! string) for garbage.

use std::time::{Duration, SystemTime};

/// The URL of the `rel="next"` entry of a `Link` header value, as written (it may be relative
/// to the page's URL).
///
/// Handles several comma-separated links, `rel` values with several tokens
/// (`rel="next last"`), unquoted `rel`, other parameters, whitespace and any case. An empty
/// URL (`<>`) is ignored, as following it would fetch the same page forever.
pub fn link_next(value: &str) -> Option<String> {
    let s = value.as_bytes();
    let mut pos = 0;
    while pos < s.len() {
        while pos < s.len() && (is_ows(s[pos]) || s[pos] == b',') {
            pos += 1;
        }
        if pos >= s.len() {
            break;
        }
        if s[pos] != b'<' {
            pos = skip_link_junk(s, pos);
            continue;
        }
        let close = value[pos + 1..].find('>')?;
        let url = value[pos + 1..pos + 1 + close].trim();
        pos += close + 2;
        let mut is_next = false;
        // Parameters: *( OWS ";" OWS name [ OWS "=" OWS ( token / quoted-string ) ] )
        loop {
            while pos < s.len() && is_ows(s[pos]) {
                pos += 1;
            }
            if pos >= s.len() || s[pos] == b',' {
                break;
            }
            if s[pos] != b';' {
                pos = skip_link_junk(s, pos);
                break;
            }
            pos += 1;
            while pos < s.len() && is_ows(s[pos]) {
                pos += 1;
            }
            let name_start = pos;
            while pos < s.len() && is_tchar(s[pos]) && s[pos] != b'*' {
                pos += 1;
            }
            let name = &value[name_start..pos];
            while pos < s.len() && is_ows(s[pos]) {
                pos += 1;
            }
            if pos >= s.len() || s[pos] != b'=' {
                continue;
            }
            pos += 1;
            while pos < s.len() && is_ows(s[pos]) {
                pos += 1;
            }
            let param_value = if pos < s.len() && s[pos] == b'"' {
                let (v, next) = quoted_string(value, pos);
                pos = next;
                v
            } else {
                let start = pos;
                while pos < s.len() && !matches!(s[pos], b';' | b',') && !is_ows(s[pos]) {
                    pos += 1;
                }
                value[start..pos].to_string()
            };
            if name.eq_ignore_ascii_case("rel")
                && param_value
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            {
                is_next = true;
            }
        }
        if is_next && !url.is_empty() {
            return Some(url.to_string());
        }
    }
    None
}

/// Skips a malformed piece of a Link header: to the next comma outside quotes and `<...>`.
fn skip_link_junk(s: &[u8], mut pos: usize) -> usize {
    while pos < s.len() {
        match s[pos] {
            b',' => return pos,
            b'"' => {
                pos += 1;
                while pos < s.len() && s[pos] != b'"' {
                    if s[pos] == b'\\' {
                        pos += 1;
                    }
                    pos += 1;
                }
                pos += 1;
            }
            b'<' => {
                while pos < s.len() && s[pos] != b'>' {
                    pos += 1;
                }
                pos += 1;
            }
            _ => pos += 1,
        }
    }
    pos
}

/// The unescaped content of the quoted string whose opening quote is at `start`, and the
/// position after it (the end of the input if it is not terminated).
fn quoted_string(value: &str, start: usize) -> (String, usize) {
    let s = value.as_bytes();
    let mut out = Vec::new();
    let mut pos = start + 1;
    while pos < s.len() {
        match s[pos] {
            b'"' => return (String::from_utf8_lossy(&out).into_owned(), pos + 1),
            b'\\' if pos + 1 < s.len() => {
                out.push(s[pos + 1]);
                pos += 2;
            }
            b => {
                out.push(b);
                pos += 1;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), s.len())
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// How long a `Retry-After` value asks to wait: delay-seconds, or an HTTP-date relative to
/// `now` (any of RFC 9110's three forms, read by the `httpdate` crate). A date in the past gives
/// `Duration::ZERO`; garbage gives `None`. Delay-seconds beyond `u64::MAX` saturate: callers
/// cap the wait.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an upload `Range` header, `"0-1234"` (also `"bytes=0-1234"`): the `(first, last)`
/// byte positions as written. `None` for garbage or `last < first`.
///
/// The registry holds `last + 1` bytes, except that `"0-0"` is ambiguous: the distribution
/// registry sends `0-0` both for an empty upload and for one holding a single byte (it writes
/// `0-(size-1)` clamped at 0). A client resuming an upload should treat `0-0` as "nothing
/// received yet" unless it knows it sent exactly one byte.
pub fn upload_range(value: &str) -> Option<(u64, u64)> {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    let v = match v.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("bytes=") => v.get(6..)?,
        _ => v,
    };
    let (first, last) = v.split_once('-')?;
    let first = digits_u64(first)?;
    let last = digits_u64(last)?;
    (first <= last).then_some((first, last))
}

/// Parses a `Content-Range` of a 206 answer, `bytes START-END/TOTAL` or `bytes START-END/*`,
/// into `(start, end, total)`. `None` for anything else, or when `START > END`, or
/// `END >= TOTAL`.
pub fn content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    let v = match v.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("bytes ") => v.get(6..)?.trim_start(),
        _ => return None,
    };
    let (range, total) = v.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last) = (digits_u64(first)?, digits_u64(last)?);
    let total = match total {
        "*" => None,
        t => Some(digits_u64(t)?),
    };
    let fits = total.is_none_or(|t| last < t);
    (first <= last && fits).then_some((first, last, total))
}

/// A non-empty run of ASCII digits that fits in a u64 (no sign, no spaces).
fn digits_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// Found by fuzz/fuzz_targets/headers.rs: with `now` near the end of `SystemTime`, an RFC 850
    /// two-digit year lands past `i64::MAX` seconds and `to_epoch` overflowed (a panic with
    /// overflow checks, a wrong date without). Any `now` must be safe.
    #[test]
    fn retry_after_at_the_end_of_time() {
        let end = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64);
        for v in [
            "Sunday, 06-Nov-97 08:49:37 GMT",
            "Sunday, 06-Nov-99 23:59:60 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "120",
        ] {
            let _ = retry_after(v, end);
            let _ = retry_after(v, UNIX_EPOCH - Duration::from_secs(1 << 40));
        }
        assert_eq!(retry_after("Sunday, 06-Nov-97 08:49:37 GMT", end), None);
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", end),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn link_next_table() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"</v2/_catalog?last=a&n=2>; rel="next""#,
                Some("/v2/_catalog?last=a&n=2"),
            ),
            (
                r#"</v2/team/app/tags/list?n=100&last=v9>; rel="next""#,
                Some("/v2/team/app/tags/list?n=100&last=v9"),
            ),
            ("</a>; rel=next", Some("/a")),
            ("</a>;rel=next", Some("/a")),
            ("</a> ; REL = \"NEXT\"", Some("/a")),
            (r#"</a>; rel="next last""#, Some("/a")),
            (r#"</a>; rel="last  next""#, Some("/a")),
            (r#"</a>; rel="prev""#, None),
            (r#"</a>; rel="nextpage""#, None),
            (r#"</p>; rel="prev", </n>; rel="next""#, Some("/n")),
            (r#"</n>; rel="next", </p>; rel="prev""#, Some("/n")),
            (
                r#"</a>; title="x, rel=next"; rel="prev", </b>; rel=next"#,
                Some("/b"),
            ),
            (
                r#"</a>; type="text/html"; rel="next"; title="a;b""#,
                Some("/a"),
            ),
            (r#"</a,b>; rel="next""#, Some("/a,b")),
            (
                r#"<https://r.example/v2/_catalog?n=1&last=x>; rel="next""#,
                Some("https://r.example/v2/_catalog?n=1&last=x"),
            ),
            (r#"< /spaced >; rel="next""#, Some("/spaced")),
            (r#"<>; rel="next""#, None),
            (r#"<>; rel="next", </real>; rel="next""#, Some("/real")),
            (r#"</a>; rel"#, None),
            (r#"</a>; rel="#, None),
            (r#"</a>; rel="next"#, Some("/a")),
            (r#"</a; rel="next""#, None),
            (r#"/a; rel="next""#, None),
            (r#"junk, </b>; rel=next"#, Some("/b")),
            (r#"</a> junk; rel=next, </b>; rel=next"#, Some("/b")),
            ("", None),
            (",,,", None),
            ("<", None),
            (">", None),
            (";;;", None),
            ("</é>; rel=next", Some("/é")),
            ("</a>; rel=\"ne\\xt\"", Some("/a")),
            ("</a>; rel*=UTF-8''next", None),
            ("</a>\t;\trel=next\t", Some("/a")),
        ];
        for &(value, expected) in cases {
            assert_eq!(link_next(value).as_deref(), expected, "{value:?}");
        }
        let _ = link_next(&",".repeat(100_000));
        let _ = link_next(&"<".repeat(100_000));
        let _ = link_next(&"</a>;".repeat(100_000));
        let _ = link_next(&"\"".repeat(100_000));
        let many = format!("{}</z>; rel=next", r#"</a>; rel="prev", "#.repeat(10_000));
        assert_eq!(link_next(&many).as_deref(), Some("/z"));
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// Sun, 06 Nov 1994 08:49:37 GMT.
    const T1994: u64 = 784_111_777;

    #[test]
    fn retry_after_table() {
        let now = at(T1994);
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("120", Some(120)),
            (" 120 ", Some(120)),
            ("007", Some(7)),
            ("18446744073709551615", Some(u64::MAX)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(0)),
            ("Sun, 06 Nov 1994 08:49:38 GMT", Some(1)),
            ("Sun, 06 Nov 1994 09:49:37 GMT", Some(3600)),
            ("Mon, 07 Nov 1994 08:49:37 GMT", Some(86_400)),
            ("Sun, 06 Nov 1994 08:49:36 GMT", Some(0)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Sunday, 06-Nov-94 08:50:37 GMT", Some(60)),
            ("Sun Nov  6 08:50:37 1994", Some(60)),
            ("Sun Nov 06 08:50:37 1994", Some(60)),
            // Not HTTP-dates as RFC 9110 writes them (before 1970, lower case, a one-digit day,
            // UTC, an unpadded asctime day): the registry's wait is unknown, backoff applies.
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
            ("Mon, 01 Jan 0001 00:00:00 GMT", None),
            ("sun, 06 nov 1994 08:50:37 gmt", None),
            ("Sun, 6 Nov 1994 08:50:37 GMT", None),
            ("Sun, 06 Nov 1994 08:50:37 UTC", None),
            ("Sun Nov 6 08:50:37 1994", None),
            // Garbage.
            ("", None),
            ("  ", None),
            ("-1", None),
            ("+5", None),
            ("1.5", None),
            ("1e3", None),
            ("12 seconds", None),
            ("soon", None),
            ("Sun, 06 Nov 1994 08:49:37", None),
            ("Sun, 06 Nov 1994 08:49:37 PST", None),
            ("Sun, 06 Nov 1994 08:49 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Sun, 06 Nov 1994 08:60:00 GMT", None),
            ("Sun, 06 Nov 1994 08:49:61 GMT", None),
            ("Sun, 06 Nov 1994 8:49:37 GMT", None),
            ("Sun, 31 Nov 1994 08:49:37 GMT", None),
            ("Sun, 00 Nov 1994 08:49:37 GMT", None),
            ("Sun, 29 Feb 1995 08:49:37 GMT", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 94 08:49:37 GMT", None),
            ("Sun, 06 Nov 19940 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT extra", None),
            ("Xyz, 06 Nov 1994 08:49:37 GMT", None),
            ("Sunday, 06-Nov-1994 08:49:37 GMT", None),
            ("Sunday, 06-Nov-94-1 08:49:37 GMT", None),
            ("Sun Nov  6 08:49:37", None),
            ("Sun Nov  6 08:49:37 1994 GMT", None),
            ("Sun Nov  6 08:49:37 94", None),
            (",", None),
            ("Sun,", None),
            ("Sun, ", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT\u{0}", None),
            ("Sun, 06 Nóv 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 ०८:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37:00 GMT", None),
            ("Sun, +6 Nov 1994 08:49:37 GMT", None),
        ];
        let mut bad = Vec::new();
        for &(value, expected) in cases {
            if retry_after(value, now) != expected.map(Duration::from_secs) {
                bad.push(format!("{value:?} -> {:?}", retry_after(value, now)));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn upload_range_table() {
        let cases: &[(&str, Option<(u64, u64)>)] = &[
            ("0-0", Some((0, 0))),
            ("0-1234", Some((0, 1234))),
            ("bytes=0-1234", Some((0, 1234))),
            ("BYTES=0-1", Some((0, 1))),
            (" 0-99 ", Some((0, 99))),
            ("5-10", Some((5, 10))),
            ("0-18446744073709551615", Some((0, u64::MAX))),
            ("0-18446744073709551616", None),
            ("10-5", None),
            ("", None),
            ("-", None),
            ("0-", None),
            ("-5", None),
            ("0--1", None),
            ("0-+1", None),
            ("+0-1", None),
            ("0 - 1", None),
            ("0-1-2", None),
            ("bytes=", None),
            ("bytes", None),
            ("bytes 0-1", None),
            ("0-1/2", None),
            ("a-b", None),
            ("0x0-0x1", None),
            ("٠-١", None),
            ("é", None),
            ("bytés=0-1", None),
        ];
        for &(value, expected) in cases {
            assert_eq!(upload_range(value), expected, "{value:?}");
        }
    }

    use crate::test_util::XorShift;

    #[test]
    fn random_inputs_never_panic() {
        const PIECES: &[&str] = &[
            "<",
            ">",
            ";",
            ",",
            "\"",
            "\\",
            "rel",
            "=",
            "next",
            " ",
            "/",
            "?",
            "#",
            ":",
            "//",
            "..",
            ".",
            "http",
            "Sun",
            "Nov",
            "GMT",
            "1994",
            "06",
            "08:49:37",
            "-",
            "bytes=",
            "0",
            "9",
            "é",
            "\u{0}",
            "Sunday",
            "99999999999999999999",
        ];
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let now = SystemTime::now();
        for _ in 0..5000 {
            let mut bytes = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.below(5) == 0 {
                    bytes.push(rng.next() as u8);
                } else {
                    bytes.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
                }
            }
            let s = String::from_utf8_lossy(&bytes);
            let _ = link_next(&s);
            let _ = retry_after(&s, now);
            let _ = retry_after(&s, UNIX_EPOCH);
            let _ = upload_range(&s);
            let _ = content_range(&s);
        }
    }

    #[test]
    fn doc_example_1() -> std::result::Result<(), Box<dyn std::error::Error>> {
        assert_eq!(
            link_next(r#"</v2/_catalog?last=a&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=a&n=2")
        );
        assert_eq!(
            link_next(r#"<https://x/1>; rel="prev", <https://x/3>; REL=Next"#).as_deref(),
            Some("https://x/3")
        );
        assert_eq!(link_next(r#"</v2/_catalog>; rel="prev""#), None);
        Ok(())
    }

    #[test]
    fn doc_example_2() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        Ok(())
    }

    #[test]
    fn doc_example_3() -> std::result::Result<(), Box<dyn std::error::Error>> {
        assert_eq!(upload_range("0-1234"), Some((0, 1234)));
        assert_eq!(upload_range("bytes=0-1234"), Some((0, 1234)));
        assert_eq!(upload_range("0-0"), Some((0, 0)));
        assert_eq!(upload_range("1234"), None);
        Ok(())
    }

    #[test]
    fn doc_example_4() -> std::result::Result<(), Box<dyn std::error::Error>> {
        assert_eq!(
            content_range("bytes 100-199/200"),
            Some((100, 199, Some(200)))
        );
        assert_eq!(content_range("bytes 0-9/*"), Some((0, 9, None)));
        assert_eq!(content_range("bytes 5-4/10"), None);
        assert_eq!(content_range("bytes */200"), None);
        Ok(())
    }
}
