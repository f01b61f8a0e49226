//! URLs: request paths and `Location`/`Link` values resolved against the registry (RFC 3986 by
//! the `url` crate), the same-origin rule that decides where credentials may go (RFC 6454:
//! scheme, host and port), and percent-encoding.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

use super::Transport;
#[cfg(test)]
use crate::error::Error;
use crate::error::Result;

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Transport {
    /// Absolute URL for one of our request paths (`/v2/…`, relative to the base, which may carry
    /// a path prefix) or an absolute URL (a `Location` already resolved).
    pub(crate) fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    /// Resolves a `Location` or `Link` value the registry sent in answer to `request` (one of our
    /// paths or an absolute URL), as RFC 3986 §5 says: `?q` keeps the request's path, `x` is
    /// relative to its directory, `/p` to its origin, `//h/p` keeps its scheme.
    ///
    /// One exception: registries behind a path prefix (`https://h/prefix`) send absolute paths
    /// that already hold the prefix; an absolute path without it gets it.
    ///
    /// A value that is not a URL, or names a scheme other than http or https, is
    /// [`Error::Protocol`].
    pub(crate) fn resolve_location(&self, request: &str, location: &str) -> Result<String> {
        let location = location.trim();
        let request = self.url(request);
        if location.starts_with('/') && !location.starts_with("//") {
            let prefix = self.base_prefix();
            if !prefix.is_empty() && !location.starts_with(prefix) {
                return Ok(format!("{}{}", self.base, location));
            }
        }
        self.resolve_redirect(&request, location)
    }

    /// Resolves a redirect's `Location` against the URL that answered it (RFC 3986 §5). A value
    /// that is not a URL, or names a scheme other than http or https, is [`Error::Protocol`].
    pub(crate) fn resolve_redirect(&self, url: &str, location: &str) -> Result<String> {
        let bad = |why: &str| {
            self.protocol(format!(
                "the registry sent a {why} Location or Link {:?}",
                shorten_url(location.trim())
            ))
        };
        match join(url, location) {
            Ok(resolved) => Ok(resolved),
            Err(why) => Err(bad(why)),
        }
    }

    /// Resolves the `rel="next"` `Link` of a page fetched from `request`, and refuses one on
    /// another origin: following it would send the caller's credentials (and trust the answer
    /// of) a host the caller never named.
    pub(crate) fn resolve_next_link(&self, request: &str, link: &str) -> Result<String> {
        let next = self.resolve_location(request, link)?;
        if !self.same_origin(&next) {
            return Err(self.protocol(format!(
                "the next page is on another origin ({}); not followed",
                origin_of(&next)
            )));
        }
        Ok(next)
    }

    /// Whether `url` is on the registry's origin: same scheme, host and port (RFC 6454; a
    /// default port written out is the same port).
    pub(crate) fn same_origin(&self, url: &str) -> bool {
        same_origin(&self.base, url)
    }

    /// The path prefix of the base URL (`/prefix` of `https://h/prefix`), or "".
    fn base_prefix(&self) -> &str {
        &self.base[origin_of(&self.base).len()..]
    }
}

/// `location` resolved against the absolute URL `base` (RFC 3986 §5), when the result is an
/// http or https URL; otherwise why not ("malformed" or "non-http").
pub(crate) fn join(base: &str, location: &str) -> std::result::Result<String, &'static str> {
    let base = Url::parse(base).map_err(|_| "malformed")?;
    let resolved = base.join(location.trim()).map_err(|_| "malformed")?;
    match resolved.scheme() {
        "http" | "https" => Ok(resolved.into()),
        _ => Err("non-http"),
    }
}

/// Whether two URLs have the same origin (scheme, host, port). Unparseable URLs never match.
pub(crate) fn same_origin(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin().is_tuple() && a.origin() == b.origin(),
        _ => false,
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

/// A URL for messages: no query string (it may hold presigned secrets), at most 200 characters.
pub(crate) fn shorten_url(url: &str) -> String {
    crate::digest::shorten(&crate::redact::userinfo(&format!(
        "{}{}",
        origin_of(url),
        path_of(url)
    )))
}

/// `application/x-www-form-urlencoded` encoding, for token requests' query and body.
pub(crate) fn form_encode(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a path segment or a
/// query value.
pub(crate) fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Decodes `%XX` escapes (malformed escapes are kept as they are; invalid UTF-8 is replaced).
pub(crate) fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
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
        assert_eq!(percent_decode("team%2Fapp%zz%4"), "team/app%zz%4");
        assert_eq!(
            form_encode(&[("a", "1 2".into()), ("b", "x&y=z".into())]),
            "a=1+2&b=x%26y%3Dz"
        );
        assert_eq!(
            shorten_url("http://alice:pw@h/v2/x?sig=s"),
            "http://alice:<redacted>@h/v2/x"
        );
    }

    #[test]
    fn origins() {
        for (a, b, same) in [
            ("https://h", "https://h/v2/x?y", true),
            ("https://h", "https://h:443/v2/", true),
            ("http://h:80/p", "http://h/q", true),
            ("https://H.example", "https://h.EXAMPLE/x", true),
            ("http://127.0.0.1:5000", "http://127.0.0.1:5001/v2/", false),
            ("https://h", "http://h", false),
            ("https://h", "https://h.evil", false),
            ("https://h", "https://evil/h", false),
            ("https://h", "not a url", false),
        ] {
            assert_eq!(same_origin(a, b), same, "{a} ~ {b}");
        }
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let t = test_transport("https://h:5000/prefix", false);
        assert_eq!(t.url("/v2/x"), "https://h:5000/prefix/v2/x");
        let r = |req: &str, loc: &str| t.resolve_location(req, loc).unwrap();
        // Absolute paths without the prefix get it; with it, they are kept.
        assert_eq!(
            r("/v2/x/blobs/uploads/", "/v2/x?_state=a"),
            "https://h:5000/prefix/v2/x?_state=a"
        );
        assert_eq!(r("/v2/x", "/prefix/v2/x"), "https://h:5000/prefix/v2/x");
        assert_eq!(r("/v2/x", "http://other/v2/y"), "http://other/v2/y");
        // RFC 3986 §5.3: a query-only reference keeps the request's path.
        assert_eq!(
            r("/v2/team/app/tags/list?n=2", "?last=b&n=2"),
            "https://h:5000/prefix/v2/team/app/tags/list?last=b&n=2"
        );
        assert_eq!(
            r("/v2/x/blobs/uploads/", "u1?n=2"),
            "https://h:5000/prefix/v2/x/blobs/uploads/u1?n=2"
        );
        assert_eq!(
            r("/v2/x/tags/list?n=1", "list?n=2&last=a"),
            "https://h:5000/prefix/v2/x/tags/list?n=2&last=a"
        );
        assert_eq!(r("/v2/a/b/c", "../d"), "https://h:5000/prefix/v2/a/d");
        assert_eq!(
            r("/v2/x", "//cdn.example/blob?sig=1"),
            "https://cdn.example/blob?sig=1"
        );
        assert_eq!(r("/v2/x", "  ?a=1  "), "https://h:5000/prefix/v2/x?a=1");
        for bad in [
            "ftp://x/y",
            "javascript:alert(1)",
            "http://[::1",
            "https://",
        ] {
            let e = t.resolve_location("/v2/x", bad).unwrap_err();
            assert!(matches!(e, Error::Protocol { .. }), "{bad}: {e:?}");
        }
        let t = test_transport("http://127.0.0.1:5000", true);
        assert_eq!(
            t.resolve_location("/v2/r/blobs/uploads/", "/v2/r/blobs/uploads/u?_state=s")
                .unwrap(),
            "http://127.0.0.1:5000/v2/r/blobs/uploads/u?_state=s"
        );
    }

    #[test]
    fn next_links_stay_on_the_origin() {
        let t = test_transport("http://127.0.0.1:5000", true);
        assert_eq!(
            t.resolve_next_link("/v2/_catalog?n=1", "/v2/_catalog?last=a&n=1")
                .unwrap(),
            "http://127.0.0.1:5000/v2/_catalog?last=a&n=1"
        );
        for other in [
            "http://127.0.0.1:5001/v2/_catalog?last=a",
            "https://127.0.0.1:5000/v2/_catalog?last=a",
            "http://localhost:5000/v2/_catalog?last=a",
            "//evil.example/v2/_catalog",
        ] {
            let e = t.resolve_next_link("/v2/_catalog", other).unwrap_err();
            assert!(matches!(e, Error::Protocol { .. }), "{other}: {e:?}");
            assert!(e.to_string().contains("another origin"), "{e}");
        }
    }
}
