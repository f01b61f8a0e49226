//! URLs: request paths and `Location`/`Link` values resolved against the registry, origins,
//! and percent-encoding.

use super::Transport;
use crate::headers;

impl Transport {
    /// Absolute URL for a request path or a `Location`/`Link` value.
    pub(crate) fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else if path_or_url.starts_with("/v2/") || path_or_url == "/v2/" {
            // A path from the registry (Location, Link) is relative to the host, but our own
            // paths are relative to the base (which may carry a path prefix).
            format!("{}{}", self.base, path_or_url)
        } else {
            headers::resolve_url(&self.base, path_or_url)
        }
    }

    /// Resolves a `Location` or `Link` header value sent by the registry.
    pub(crate) fn resolve_location(&self, location: &str) -> String {
        let origin = origin_of(&self.base);
        if location.starts_with('/') && !location.starts_with("//") {
            // Registries behind a path prefix send Locations that already contain it.
            let prefix = &self.base[origin.len()..];
            if !prefix.is_empty() && !location.starts_with(prefix) {
                return format!("{}{}", self.base, location);
            }
        }
        headers::resolve_url(origin, location)
    }
}

/// `scheme://authority` of a URL.
pub(crate) fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The path of a URL, without the query string (which may hold presigned secrets).
pub(crate) fn path_of(url: &str) -> &str {
    let origin = origin_of(url);
    let rest = &url[origin.len()..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

pub(super) fn shorten_url(url: &str) -> String {
    crate::digest::shorten(&format!("{}{}", origin_of(url), path_of(url)))
}

/// `application/x-www-form-urlencoded` / query encoding.
pub(crate) fn form_encode(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (malformed escapes are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::test_transport;

    #[test]
    fn url_helpers() {
        assert_eq!(origin_of("https://h:5000/v2/x?y"), "https://h:5000");
        assert_eq!(origin_of("http://h"), "http://h");
        assert_eq!(
            path_of("https://h/v2/a/blobs/x?sig=secret"),
            "/v2/a/blobs/x"
        );
        assert_eq!(
            percent_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            form_encode(&[("a", "1 2".into()), ("b", "x&y".into())]),
            "a=1%202&b=x%26y"
        );
    }

    #[test]
    fn locations_resolve_against_the_registry() {
        let t = test_transport("https://h:5000/prefix", false);
        assert_eq!(t.url("/v2/x"), "https://h:5000/prefix/v2/x");
        assert_eq!(
            t.resolve_location("/v2/x?_state=a"),
            "https://h:5000/prefix/v2/x?_state=a"
        );
        assert_eq!(
            t.resolve_location("/prefix/v2/x"),
            "https://h:5000/prefix/v2/x"
        );
        assert_eq!(t.resolve_location("http://other/v2/y"), "http://other/v2/y");
        let t = test_transport("http://127.0.0.1:5000", true);
        assert_eq!(
            t.resolve_location("/v2/r/blobs/uploads/u?_state=s"),
            "http://127.0.0.1:5000/v2/r/blobs/uploads/u?_state=s"
        );
    }
}
