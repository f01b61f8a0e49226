//! Tags, the catalog, and search over the catalog, with pagination (`Link: <…>; rel="next"` and
//! `n` / `last`).

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

use crate::client::Client;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::headers;
use crate::reference::{Repository, Tag, TagOrDigest};
use crate::transfer::{DEFAULT_THREADS, run_parallel};
use crate::transport::{Method, Request, percent_decode, percent_encode};

/// The catalog page size ocireg asks for (distribution's maximum).
const CATALOG_PAGE: usize = 1000;
/// A guard against registries whose `Link` never ends.
const MAX_PAGES: usize = 100_000;
/// The largest page read (a million tags of 64 characters).
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

/// One page of a paginated listing.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Page {
    /// The names on this page (tags or repositories), in the registry's order.
    pub items: Vec<String>,
    /// The cursor to pass as `last` for the next page, when the registry says there is one.
    pub next: Option<String>,
}

enum Listing<'a> {
    Tags(&'a str),
    Catalog,
}

impl Listing<'_> {
    fn path(&self) -> String {
        match self {
            Listing::Tags(repo) => format!("/v2/{repo}/tags/list"),
            Listing::Catalog => "/v2/_catalog".to_string(),
        }
    }

    fn what(&self) -> String {
        match self {
            Listing::Tags(repo) => format!("tags of {repo}"),
            Listing::Catalog => "the catalog".to_string(),
        }
    }

    fn request<'b>(&self, url: String) -> Request<'b> {
        match self {
            Listing::Tags(repo) => {
                Request::new(Method::Get, url, format!("GET {}", self.what())).repo(repo, "pull")
            }
            Listing::Catalog => {
                Request::new(Method::Get, url, "GET /v2/_catalog").scope("registry:catalog:*")
            }
        }
    }
}

impl Client {
    /// Every tag of `repository`, following all pages.
    ///
    /// An unknown repository is [`Error::NotFound`].
    pub fn tags(&self, repository: &str) -> Result<Vec<String>> {
        let repository = &Repository::parse(repository)?;
        let mut all = Vec::new();
        self.walk(&Listing::Tags(repository), None, &mut |page| {
            all.extend(page);
            Ok(())
        })?;
        Ok(all)
    }

    /// Every tag of `repository` with the digest of the manifest it points at, in the
    /// registry's tag order: the tag list (every page), then a `HEAD` per tag, in parallel on
    /// [`DEFAULT_THREADS`] threads (docker_registry2's `tags(repo, …, with_hashes = true)`).
    ///
    /// A tag deleted between the listing and its `HEAD`, and a listed name that is not a valid
    /// tag, are left out. An unknown repository is [`Error::NotFound`].
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// for (tag, digest) in client.tags_with_digests("team/app")? {
    ///     println!("{tag} {digest}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn tags_with_digests(&self, repository: &str) -> Result<Vec<(String, Digest)>> {
        let repository = &Repository::parse(repository)?;
        self.tag_digests(repository, DEFAULT_THREADS, &[])
    }

    /// [`Client::tags_with_digests`] with the name already checked, `threads` parallel `HEAD`s
    /// and `extra` token scopes on them.
    pub(crate) fn tag_digests(
        &self,
        repository: &str,
        threads: usize,
        extra: &[String],
    ) -> Result<Vec<(String, Digest)>> {
        let mut tags = Vec::new();
        self.walk(&Listing::Tags(repository), None, &mut |page| {
            tags.extend(page);
            Ok(())
        })?;
        let never = AtomicBool::new(false);
        let digests = run_parallel(&tags, threads, &never, |tag| {
            // A listed name that is not a valid tag cannot be asked for: left out.
            let Ok(t) = Tag::parse(tag) else {
                return Ok(None);
            };
            let r = TagOrDigest::Tag(t);
            match self.resolve_digest(repository, &r, extra) {
                Ok(d) => Ok(Some(d)),
                Err(Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(tags
            .into_iter()
            .zip(digests)
            .filter_map(|(t, d)| d.map(|d| (t, d)))
            .collect())
    }

    /// One page of tags: at most `n` (the registry may ignore it), after `last`.
    pub fn tags_page(
        &self,
        repository: &str,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<Page> {
        let repository = &Repository::parse(repository)?;
        self.page(&Listing::Tags(repository), n, last)
    }

    /// Every repository in the registry's catalog (`/v2/_catalog`), following all pages.
    ///
    /// A registry without a catalog (Docker Hub, many cloud registries) is
    /// [`Error::Unsupported`].
    pub fn catalog(&self) -> Result<Vec<String>> {
        let mut all = Vec::new();
        self.walk_catalog(&mut |page| {
            all.extend(page);
            Ok(())
        })?;
        Ok(all)
    }

    /// One page of the catalog: at most `n` repositories, after `last`.
    pub fn catalog_page(&self, n: Option<usize>, last: Option<&str>) -> Result<Page> {
        self.page(&Listing::Catalog, n, last)
            .map_err(|e| self.catalog_unsupported(e))
    }

    /// The repositories whose name contains `pattern` (a plain, case-sensitive substring),
    /// found by walking every page of the catalog; an empty pattern lists everything.
    ///
    /// ```no_run
    /// # fn main() -> ocireg::Result<()> {
    /// let client = ocireg::Client::new("registry.example.com")?;
    /// for repo in client.search("team/")? {
    ///     println!("{repo}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn search(&self, pattern: &str) -> Result<Vec<String>> {
        let mut found = Vec::new();
        self.walk_catalog(&mut |page| {
            found.extend(page.into_iter().filter(|r| r.contains(pattern)));
            Ok(())
        })?;
        Ok(found)
    }

    fn catalog_unsupported(&self, e: Error) -> Error {
        match e {
            Error::NotFound { .. } => Error::Unsupported {
                registry: self.registry().to_string(),
                what: "the catalog API (/v2/_catalog)".to_string(),
            },
            Error::Registry { status, .. } if status == 405 || status == 501 => {
                Error::Unsupported {
                    registry: self.registry().to_string(),
                    what: "the catalog API (/v2/_catalog)".to_string(),
                }
            }
            e => e,
        }
    }

    fn walk_catalog(&self, f: &mut dyn FnMut(Vec<String>) -> Result<()>) -> Result<()> {
        let mut n = CATALOG_PAGE;
        loop {
            let mut first_empty = false;
            let r = self.walk(&Listing::Catalog, Some(n), &mut |page| {
                first_empty = page.is_empty();
                f(page)
            });
            match r {
                // Distribution answered a too-large `n` both with 400 PAGINATION_NUMBER_INVALID
                // and with an empty 200: try smaller pages before believing either.
                Err(Error::Registry {
                    status: 400,
                    ref errors,
                    ..
                }) if n > 10 && errors.iter().any(|e| e.code == "PAGINATION_NUMBER_INVALID") => {
                    n /= 10;
                }
                Ok(pages) if pages == 1 && first_empty && n > 100 => n = 100,
                Ok(_) => return Ok(()),
                Err(e) => return Err(self.catalog_unsupported(e)),
            }
        }
    }

    /// Walks every page, feeding each to `f`; returns how many pages there were.
    fn walk(
        &self,
        listing: &Listing<'_>,
        n: Option<usize>,
        f: &mut dyn FnMut(Vec<String>) -> Result<()>,
    ) -> Result<usize> {
        let mut url = match n {
            Some(n) => format!("{}?n={n}", listing.path()),
            None => listing.path(),
        };
        let mut seen = HashSet::new();
        let mut names = HashSet::new();
        let mut pages = 0;
        loop {
            pages += 1;
            let (items, next_link) = self.fetch_page(listing, url.clone())?;
            // A name a page repeats is not passed on again.
            let fresh: Vec<String> = items
                .into_iter()
                .filter(|name| names.insert(name.clone()))
                .collect();
            let nothing_new = fresh.is_empty();
            f(fresh)?;
            match next_link {
                // Distribution sends a Link even when the next page is empty. Stop on a page
                // that brings no new name (empty, or the same names again behind an ever-new
                // cursor), on a repeated cursor, and after MAX_PAGES.
                Some(next) if !nothing_new && pages < MAX_PAGES => {
                    let next = self.transport().resolve_next_link(&url, &next)?;
                    if !seen.insert(next.clone()) {
                        return Ok(pages);
                    }
                    url = next;
                }
                _ => return Ok(pages),
            }
        }
    }

    fn page(&self, listing: &Listing<'_>, n: Option<usize>, last: Option<&str>) -> Result<Page> {
        let mut query = Vec::new();
        if let Some(n) = n {
            query.push(format!("n={n}"));
        }
        if let Some(last) = last {
            query.push(format!("last={}", percent_encode(last)));
        }
        let mut url = listing.path();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let (items, link) = self.fetch_page(listing, url)?;
        let next = match link {
            Some(l) if !items.is_empty() => {
                query_param(&l, "last").or_else(|| items.last().cloned())
            }
            _ => None,
        };
        Ok(Page { items, next })
    }

    fn fetch_page(
        &self,
        listing: &Listing<'_>,
        url: String,
    ) -> Result<(Vec<String>, Option<String>)> {
        let t = self.transport();
        let (resp, body) = t.fetch(listing.request(url), &[200], MAX_PAGE_BYTES)?;
        let link = resp
            .headers()
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(headers::link_next);
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default)]
            tags: Option<Vec<String>>,
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let parsed: Body = serde_json::from_slice(&body).map_err(|e| {
            t.protocol(format!(
                "GET {}: the answer is not the expected JSON ({e})",
                listing.what()
            ))
        })?;
        let items = match listing {
            Listing::Tags(_) => parsed.tags,
            Listing::Catalog => parsed.repositories,
        }
        .unwrap_or_default();
        Ok((items, link))
    }
}

/// The percent-decoded value of a query parameter in a URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    let q = q.split('#').next().unwrap_or("");
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(&v.replace('+', " ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_from_link() {
        assert_eq!(
            query_param("/v2/_catalog?last=team%2Fapp&n=2", "last").as_deref(),
            Some("team/app")
        );
        assert_eq!(query_param("/v2/_catalog?n=2", "last"), None);
        assert_eq!(query_param("/v2/x", "last"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
