//! Parsers for the other response headers a registry client reads: `Link` (pagination),
//! `Retry-After`, the upload `Range`, and URL resolution for `Location` and `Link` values.
//!
//! All of them take untrusted header text, never panic, and answer `None` (or a best-effort
//! string) for garbage.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The URL of the `rel="next"` entry of a `Link` header value, as written (it may be relative;
/// see [`resolve_url`]).
///
/// Handles several comma-separated links, `rel` values with several tokens
/// (`rel="next last"`), unquoted `rel`, other parameters, whitespace and any case. An empty
/// URL (`<>`) is ignored, as following it would fetch the same page forever.
///
/// ```
/// use ocireg::headers::link_next;
/// assert_eq!(link_next(r#"</v2/_catalog?last=a&n=2>; rel="next""#).as_deref(), Some("/v2/_catalog?last=a&n=2"));
/// assert_eq!(link_next(r#"<https://x/1>; rel="prev", <https://x/3>; REL=Next"#).as_deref(), Some("https://x/3"));
/// assert_eq!(link_next(r#"</v2/_catalog>; rel="prev""#), None);
/// ```
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
/// `now`. A date in the past gives `Duration::ZERO`; garbage gives `None`.
///
/// HTTP-dates are read in all three forms of RFC 9110: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850 (`Sunday, 06-Nov-94 08:49:37
/// GMT`, a two-digit year more than 50 years ahead of `now` meaning the previous century) and
/// asctime (`Sun Nov  6 08:49:37 1994`) forms. Names are matched case-insensitively and `UTC` is
/// accepted for `GMT`. Delay-seconds beyond `u64::MAX` saturate: callers should cap the wait.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use ocireg::headers::retry_after;
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), Some(Duration::from_secs(60)));
/// assert_eq!(retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
/// assert_eq!(retry_after("soon", now), None);
/// ```
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let epoch_secs = parse_http_date(v, now)?;
    if epoch_secs < 0 {
        return Some(Duration::ZERO);
    }
    let when = UNIX_EPOCH.checked_add(Duration::from_secs(epoch_secs.unsigned_abs()))?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const LONG_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// An HTTP-date in any of its three forms, as seconds since the Unix epoch.
fn parse_http_date(v: &str, now: SystemTime) -> Option<i64> {
    if let Some((day_name, rest)) = v.split_once(',') {
        let day_name = day_name.to_ascii_lowercase();
        let mut parts = rest.split_ascii_whitespace();
        if DAYS.contains(&day_name.as_str()) {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            let day = number(parts.next()?, 1, 2)?;
            let month = month(parts.next()?)?;
            let year = number(parts.next()?, 4, 4)?;
            let time = parts.next()?;
            gmt(parts.next()?)?;
            if parts.next().is_some() {
                return None;
            }
            return to_epoch(year, month, day, time);
        }
        if LONG_DAYS.contains(&day_name.as_str()) {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let mut date = parts.next()?.split('-');
            let day = number(date.next()?, 1, 2)?;
            let month = month(date.next()?)?;
            let yy = number(date.next()?, 2, 2)?;
            if date.next().is_some() {
                return None;
            }
            let time = parts.next()?;
            gmt(parts.next()?)?;
            if parts.next().is_some() {
                return None;
            }
            return to_epoch(two_digit_year(yy, now), month, day, time);
        }
        return None;
    }
    // asctime: Sun Nov  6 08:49:37 1994
    let mut parts = v.split_ascii_whitespace();
    let day_name = parts.next()?.to_ascii_lowercase();
    if !DAYS.contains(&day_name.as_str()) {
        return None;
    }
    let month = month(parts.next()?)?;
    let day = number(parts.next()?, 1, 2)?;
    let time = parts.next()?;
    let year = number(parts.next()?, 4, 4)?;
    if parts.next().is_some() {
        return None;
    }
    to_epoch(year, month, day, time)
}

/// A number of `min..=max` ASCII digits.
fn number(s: &str, min: usize, max: usize) -> Option<i64> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// 1-12 from a month name.
fn month(s: &str) -> Option<i64> {
    let s = s.to_ascii_lowercase();
    let i = MONTHS.iter().position(|m| *m == s)?;
    i64::try_from(i + 1).ok()
}

fn gmt(s: &str) -> Option<()> {
    (s.eq_ignore_ascii_case("GMT") || s.eq_ignore_ascii_case("UTC")).then_some(())
}

/// RFC 9110: a two-digit year more than 50 years in the future is the most recent past year
/// with the same last two digits.
fn two_digit_year(yy: i64, now: SystemTime) -> i64 {
    let now_secs = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let (this_year, _, _) = civil_from_days(now_secs.div_euclid(86_400));
    let mut year = this_year - this_year.rem_euclid(100) + yy;
    if year > this_year + 50 {
        year -= 100;
    }
    year
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds since the epoch of a validated date and an `HH:MM:SS` time; `None` beyond `i64`
/// (an RFC 850 year read near the end of `SystemTime`).
fn to_epoch(year: i64, month: i64, day: i64, time: &str) -> Option<i64> {
    let mut hms = time.split(':');
    let hour = number(hms.next()?, 2, 2)?;
    let minute = number(hms.next()?, 2, 2)?;
    let second = number(hms.next()?, 2, 2)?;
    if hms.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    days.checked_mul(86_400)?
        .checked_add(hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a count of days since 1970-01-01 (Hinnant's inverse).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses an upload `Range` header, `"0-1234"` (also `"bytes=0-1234"`): the `(first, last)`
/// byte positions as written. `None` for garbage or `last < first`.
///
/// The registry holds `last + 1` bytes, except that `"0-0"` is ambiguous: the distribution
/// registry sends `0-0` both for an empty upload and for one holding a single byte (it writes
/// `0-(size-1)` clamped at 0). A client resuming an upload should treat `0-0` as "nothing
/// received yet" unless it knows it sent exactly one byte.
///
/// ```
/// use ocireg::headers::upload_range;
/// assert_eq!(upload_range("0-1234"), Some((0, 1234)));
/// assert_eq!(upload_range("bytes=0-1234"), Some((0, 1234)));
/// assert_eq!(upload_range("0-0"), Some((0, 0)));
/// assert_eq!(upload_range("1234"), None);
/// ```
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

/// A non-empty run of ASCII digits that fits in a u64 (no sign, no spaces).
fn digits_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Resolves a `Location` or `Link` URL against a base URL such as `http://127.0.0.1:5000` or
/// `https://r.example/v2/team/app/blobs/uploads/`.
///
/// * URLs with a scheme (`http://...`, `https://...`, or any other `scheme:`) are returned as
///   is (the caller decides whether it follows other schemes);
/// * `//host/path` gets the base's scheme;
/// * `/path?q` gets the base's scheme and authority;
/// * `?q` replaces the base's query, `#f` its fragment, and an empty location is the base;
/// * a relative path is resolved against the base path's directory.
///
/// `.` and `..` segments are removed (RFC 3986 section 5.2.4), never climbing above the root.
///
/// ```
/// use ocireg::headers::resolve_url;
/// let base = "http://127.0.0.1:5000";
/// assert_eq!(resolve_url(base, "/v2/x/blobs/uploads/u1?_state=s"), "http://127.0.0.1:5000/v2/x/blobs/uploads/u1?_state=s");
/// assert_eq!(resolve_url(base, "https://cdn.example/blob"), "https://cdn.example/blob");
/// assert_eq!(resolve_url("https://r.example/v2/x/blobs/uploads/", "u1?n=2"), "https://r.example/v2/x/blobs/uploads/u1?n=2");
/// assert_eq!(resolve_url("https://r.example/a/b", "//other.example/c"), "https://other.example/c");
/// ```
pub fn resolve_url(base: &str, location: &str) -> String {
    let location = location.trim();
    if has_scheme(location) {
        return location.to_string();
    }
    let b = split_url(base.trim());
    let scheme_prefix = match b.scheme {
        Some(s) => format!("{s}:"),
        None => String::new(),
    };
    if location.starts_with("//") {
        return format!("{scheme_prefix}{location}");
    }
    let origin = match b.authority {
        Some(a) => format!("{scheme_prefix}//{a}"),
        None => scheme_prefix,
    };
    let l = split_reference(location);
    let (path, query) = if l.path.is_empty() {
        (b.path.to_string(), l.query.or(b.query))
    } else if l.path.starts_with('/') {
        (remove_dot_segments(l.path), l.query)
    } else {
        let merged = if b.authority.is_some() && b.path.is_empty() {
            format!("/{}", l.path)
        } else {
            let dir = match b.path.rfind('/') {
                Some(i) => &b.path[..=i],
                None => "",
            };
            format!("{dir}{}", l.path)
        };
        (remove_dot_segments(&merged), l.query)
    };
    let mut out = origin;
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = l.fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Whether a URI reference starts with `scheme:` (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" /
/// "-" / "." ) ":"), i.e. is absolute.
fn has_scheme(s: &str) -> bool {
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s[..colon];
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The parts of a base URL.
struct UrlParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn split_url(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = match url.find(':') {
        Some(i) if has_scheme(url) => (Some(&url[..i]), &url[i + 1..]),
        _ => (None, url),
    };
    let (authority, rest) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            (Some(&r[..end]), &r[end..])
        }
        None => (None, rest),
    };
    let r = split_reference(rest);
    UrlParts {
        scheme,
        authority,
        path: r.path,
        query: r.query,
    }
}

/// A relative reference split into path, query and fragment.
struct RefParts<'a> {
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn split_reference(s: &str) -> RefParts<'_> {
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (s, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    RefParts {
        path,
        query,
        fragment,
    }
}

/// RFC 3986 section 5.2.4, on a path without query or fragment.
fn remove_dot_segments(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    // A trailing "." or ".." names a directory: keep the trailing slash.
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                if out.last().is_some_and(|s| !s.is_empty()) || out.len() > 1 {
                    out.pop();
                }
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut joined = out.join("/");
    if absolute && !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    if trailing_slash && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("Wed, 31 Dec 1969 23:59:59 GMT", Some(0)),
            ("Mon, 01 Jan 0001 00:00:00 GMT", Some(0)),
            ("sun, 06 nov 1994 08:50:37 gmt", Some(60)),
            ("Sun, 6 Nov 1994 08:50:37 GMT", Some(60)),
            ("Sun, 06 Nov 1994 08:50:37 UTC", Some(60)),
            ("Sunday, 06-Nov-94 08:50:37 GMT", Some(60)),
            ("Sun Nov  6 08:50:37 1994", Some(60)),
            ("Sun Nov 6 08:50:37 1994", Some(60)),
            ("Sun Nov 06 08:50:37 1994", Some(60)),
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
        for &(value, expected) in cases {
            assert_eq!(
                retry_after(value, now),
                expected.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }

    #[test]
    fn http_dates_against_known_epochs() {
        let zero = UNIX_EPOCH;
        let cases: &[(&str, u64)] = &[
            ("Thu, 01 Jan 1970 00:00:01 GMT", 1),
            ("Sun, 06 Nov 1994 08:49:37 GMT", T1994),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600),
            ("Wed, 01 Mar 2000 00:00:00 GMT", 951_868_800),
            ("Sat, 31 Dec 2016 23:59:60 GMT", 1_483_228_800),
            ("Tue, 19 Jan 2038 03:14:08 GMT", 2_147_483_648),
            ("Fri, 31 Dec 9999 23:59:59 GMT", 253_402_300_799),
            ("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800),
            ("Sun Feb 29 00:00:00 2032", 1_961_625_600),
        ];
        for &(value, secs) in cases {
            assert_eq!(
                retry_after(value, zero),
                Some(Duration::from_secs(secs)),
                "{value}"
            );
        }
        for days in [-1_000_000i64, -719_468, -1, 0, 1, 365, 10_957, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}: {y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        // Every day from 1900 to 2100 round-trips and follows the previous one.
        let mut prev = days_from_civil(1899, 12, 31);
        for y in 1900..=2100 {
            for m in 1..=12 {
                for d in 1..=days_in_month(y, m) {
                    let n = days_from_civil(y, m, d);
                    assert_eq!(n, prev + 1, "{y}-{m}-{d}");
                    assert_eq!(civil_from_days(n), (y, m, d));
                    prev = n;
                }
            }
        }
    }

    #[test]
    fn rfc850_two_digit_years() {
        // now = 2026-01-01: "26" is 2026, "76" is 2076 (50 years ahead), "77" is 1977.
        let now = at(1_767_225_600);
        assert_eq!(civil_from_days(1_767_225_600 / 86_400), (2026, 1, 1));
        assert_eq!(two_digit_year(26, now), 2026);
        assert_eq!(two_digit_year(76, now), 2076);
        assert_eq!(two_digit_year(77, now), 1977);
        assert_eq!(two_digit_year(0, now), 2000);
        assert_eq!(
            retry_after("Thursday, 01-Jan-26 00:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Saturday, 01-Jan-77 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // A clock before 1970 does not break anything.
        let before = UNIX_EPOCH - Duration::from_secs(86_400 * 400);
        assert_eq!(two_digit_year(70, before), 1970);
        assert_eq!(
            retry_after("Thursday, 01-Jan-70 00:00:10 GMT", before),
            Some(Duration::from_secs(86_400 * 400 + 10))
        );
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

    #[test]
    fn resolve_url_table() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "http://127.0.0.1:5000",
                "/v2/x/blobs/uploads/u?s=1",
                "http://127.0.0.1:5000/v2/x/blobs/uploads/u?s=1",
            ),
            (
                "http://127.0.0.1:5000/",
                "/v2/",
                "http://127.0.0.1:5000/v2/",
            ),
            ("http://h:1/a/b?q=1#f", "https://other/x", "https://other/x"),
            ("http://h:1/a/b", "HTTPS://Other/x", "HTTPS://Other/x"),
            ("http://h:1/a/b", "ftp://x/y", "ftp://x/y"),
            (
                "https://h/a/b",
                "//cdn.example/blob?sig=1",
                "https://cdn.example/blob?sig=1",
            ),
            ("http://h/a/b", "//cdn.example", "http://cdn.example"),
            (
                "https://h:8443/prefix/v2/",
                "/v2/_catalog?n=1",
                "https://h:8443/v2/_catalog?n=1",
            ),
            (
                "https://h/v2/x/blobs/uploads/",
                "u1?n=2",
                "https://h/v2/x/blobs/uploads/u1?n=2",
            ),
            (
                "https://h/v2/x/blobs/uploads/abc",
                "def",
                "https://h/v2/x/blobs/uploads/def",
            ),
            (
                "https://h/v2/x/tags/list?n=1",
                "list?n=2&last=a",
                "https://h/v2/x/tags/list?n=2&last=a",
            ),
            ("https://h", "v2/x", "https://h/v2/x"),
            ("https://h?q", "x", "https://h/x"),
            ("https://h/a/b/c", "../d", "https://h/a/d"),
            ("https://h/a/b/c", "./d", "https://h/a/b/d"),
            ("https://h/a/b/c", "../../../../d", "https://h/d"),
            ("https://h/a/b/c", "/x/../y/./z", "https://h/y/z"),
            ("https://h/a/b/c", "..", "https://h/a/"),
            ("https://h/a/b/c", ".", "https://h/a/b/"),
            ("https://h/a/b?q=1", "?q=2", "https://h/a/b?q=2"),
            ("https://h/a/b?q=1", "#frag", "https://h/a/b?q=1#frag"),
            ("https://h/a/b?q=1#old", "", "https://h/a/b?q=1"),
            ("https://h/a/b", "  /trimmed  ", "https://h/trimmed"),
            ("https://h/a", "c:d", "c:d"),
            ("https://h/a", "./c:d", "https://h/c:d"),
            ("https://h/a", "/p:q", "https://h/p:q"),
            ("https://[::1]:5000/v2/", "x", "https://[::1]:5000/v2/x"),
            ("https://h/é/", "ü", "https://h/é/ü"),
            // Garbage bases: best effort, no panic.
            ("", "/x", "/x"),
            ("", "x", "x"),
            ("h:5000", "/x", "h:/x"),
            ("not a url", "x", "x"),
            ("/just/a/path", "x", "/just/a/x"),
            ("http://", "/x", "http:///x"),
        ];
        for &(base, location, expected) in cases {
            assert_eq!(
                resolve_url(base, location),
                expected,
                "{base:?} + {location:?}"
            );
        }
    }

    #[test]
    fn dot_segments() {
        for (input, expected) in [
            ("/a/b/c/./../../g", "/a/g"),
            ("mid/content=5/../6", "mid/6"),
            ("/../a", "/a"),
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/", "/"),
            ("", ""),
            ("a/../..", "/"),
            ("//a/../b", "//b"),
        ] {
            assert_eq!(remove_dot_segments(input), expected, "{input}");
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
            let (a, b) = s.split_at(
                s.char_indices()
                    .nth(s.chars().count() / 2)
                    .map_or(0, |(i, _)| i),
            );
            let _ = resolve_url(a, b);
            let _ = resolve_url(&s, &s);
            let _ = resolve_url("http://h/a/b", &s);
        }
    }
}
