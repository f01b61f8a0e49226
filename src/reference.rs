//! Image references (`[registry/]repository[:tag][@digest]`) by the OCI distribution grammar,
//! with docker's defaults.
//!
//! * The first `/`-separated component is the registry when it contains `.` or `:` or is
//!   `localhost` (and something follows it); otherwise the registry is [`DEFAULT_REGISTRY`].
//! * On Docker Hub a one-component repository gets `library/` (`alpine` is
//!   `docker.io/library/alpine`), and `index.docker.io` is spelled `docker.io`.
//! * Without a tag or a digest, the tag is `latest`.
//!
//! ```
//! use ocireg::Reference;
//! let r: Reference = "alpine".parse().unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
//! assert_eq!((r.registry(), r.repository(), r.tag()), ("docker.io", "library/alpine", Some("latest")));
//!
//! let r: Reference = "localhost:5000/team/app:v1".parse().unwrap();
//! assert_eq!((r.registry(), r.repository(), r.reference()), ("localhost:5000", "team/app", "v1".to_string()));
//!
//! let err = "Alpine".parse::<Reference>().unwrap_err();
//! assert!(err.to_string().contains("uppercase"));
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::digest::{Digest, shorten};
use crate::error::{Error, Result};

/// The registry of references that name none: Docker Hub.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// The other spelling of Docker Hub that references normalize to [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";

/// The host that serves the Docker Hub registry API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// The tag of references that give neither a tag nor a digest.
const DEFAULT_TAG: &str = "latest";

/// The longest repository name accepted (the distribution's limit).
const REPOSITORY_MAX_LEN: usize = 255;

/// The longest tag accepted.
const TAG_MAX_LEN: usize = 128;

/// The longest host name (RFC 1035), and the longest label in one.
const HOST_MAX_LEN: usize = 253;
const LABEL_MAX_LEN: usize = 63;

/// A validated, normalized image reference: registry, repository, and a tag and/or a digest.
///
/// Built by parsing (`"alpine:3.20".parse()`) or with [`Reference::new`]; both apply the same
/// normalization, so `Display` and `FromStr` round-trip:
///
/// ```
/// use ocireg::Reference;
/// let r: Reference = "ghcr.io/user/image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
///     .parse()
///     .unwrap();
/// assert_eq!(r.tag(), None);
/// assert!(r.reference().starts_with("sha256:"));
/// assert_eq!(r.to_string().parse::<Reference>().unwrap(), r);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Builds a reference from its parts, validating and normalizing them as parsing does:
    /// the registry is lowercased and `index.docker.io` becomes `docker.io`, a one-component
    /// repository on Docker Hub gets `library/`, and with neither tag nor digest the tag is
    /// `latest`.
    ///
    /// The registry must be one that parsing recognizes as a registry (it contains `.` or `:`,
    /// or is `localhost`), so that the reference prints as something that parses back to it.
    ///
    /// ```
    /// use ocireg::Reference;
    /// let r = Reference::new("docker.io", "alpine", None, None).unwrap();
    /// assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
    /// assert!(Reference::new("127.0.0.1:5000", "Team/App", Some("v1"), None).is_err());
    /// assert!(Reference::new("myhost", "app", None, None).is_err());
    /// ```
    pub fn new(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<Digest>,
    ) -> Result<Reference> {
        if !looks_like_registry(registry) {
            return Err(Error::InvalidReference(format!(
                "registry {:?} must contain '.' or ':' or be \"localhost\" (otherwise it reads \
                 as part of a Docker Hub repository); add the port, e.g. \"{}:443\"",
                shorten(registry),
                shorten(registry),
            )));
        }
        build(registry, repository, tag, digest).map_err(Error::InvalidReference)
    }

    /// The registry, `host[:port]`: e.g. `docker.io`, `127.0.0.1:5000`, `[::1]:5000`, `ghcr.io`.
    ///
    /// Docker Hub is `docker.io`; the client connects to `registry-1.docker.io` for it.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository, e.g. `library/alpine` or `team/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if there is one (`latest` when the reference gave neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference pinned one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What goes in a `/manifests/<reference>` URL: the digest if there is one, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            // Unreachable by construction (no digest means a tag), but never panic.
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
}

impl FromStr for Reference {
    type Err = Error;

    /// Parses `[registry/]repository[:tag][@digest]`.
    fn from_str(s: &str) -> Result<Reference> {
        parse_reference(s).map_err(|why| Error::InvalidReference(in_context(s, why)))
    }
}

impl fmt::Display for Reference {
    /// The full normalized form, `registry/repository[:tag][@digest]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Prefixes an error about a part of `input` with the (shortened) input, unless the message
/// already shows all of it (the part was the whole input).
fn in_context(input: &str, why: String) -> String {
    let shown = format!("{:?}", shorten(input));
    if why.contains(&shown) {
        why
    } else {
        format!("{shown}: {why}")
    }
}

/// Whether the first path component of a name is a registry (docker's rule), given that
/// something follows it.
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first.eq_ignore_ascii_case("localhost")
}

/// The grammar, with errors as reasons (the caller adds the input).
fn parse_reference(s: &str) -> Result<Reference, String> {
    if s.is_empty() {
        return Err("the reference is empty".into());
    }
    let (name_and_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    // The tag follows the last ':' unless a '/' comes after it (then the ':' is a port's).
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(i) if !name_and_tag[i + 1..].contains('/') => {
            (&name_and_tag[..i], Some(&name_and_tag[i + 1..]))
        }
        _ => (name_and_tag, None),
    };
    if name.is_empty() {
        return Err(
            "there is no repository name (expected [registry/]repository[:tag][@digest])".into(),
        );
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => (first, rest),
        _ => (DEFAULT_REGISTRY, name),
    };
    let digest = match digest {
        None => None,
        Some(d) => Some(d.parse::<Digest>().map_err(|e| match e {
            Error::InvalidReference(m) => m,
            other => other.to_string(),
        })?),
    };
    build(registry, repository, tag, digest)
}

/// Validates and normalizes the parts (shared by parsing and [`Reference::new`]).
fn build(
    registry: &str,
    repository: &str,
    tag: Option<&str>,
    digest: Option<Digest>,
) -> Result<Reference, String> {
    check_registry(registry)?;
    let mut registry = registry.to_ascii_lowercase();
    if registry == LEGACY_DEFAULT_REGISTRY {
        registry = DEFAULT_REGISTRY.to_string();
    }
    check_repository(repository)?;
    let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
        let prefixed = format!("library/{repository}");
        check_repository(&prefixed)?;
        prefixed
    } else {
        repository.to_string()
    };
    if let Some(t) = tag {
        check_tag(t)?;
    }
    let tag = match (tag, &digest) {
        (Some(t), _) => Some(t.to_string()),
        (None, None) => Some(DEFAULT_TAG.to_string()),
        (None, Some(_)) => None,
    };
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
    })
}

/// A repository name, checked: path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by
/// `/`, at most 255 characters in all. Parsed once where a name enters the library (every call
/// taking `repository: &str` parses it first), so nothing past the edge sees a bad one.
///
/// ```
/// use ocireg::Repository;
/// let r: Repository = "team/my_app__v2/x--y.z".parse()?;
/// assert_eq!(r.as_str(), "team/my_app__v2/x--y.z");
/// assert!(Repository::parse("Team/App").unwrap_err().to_string().contains("uppercase"));
/// assert!(Repository::parse("a//b").is_err());
/// # Ok::<(), ocireg::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository(String);

impl Repository {
    /// Checks `name` ([`Error::InvalidReference`] saying what is wrong).
    pub fn parse(name: &str) -> Result<Repository> {
        check_repository(name).map_err(Error::InvalidReference)?;
        Ok(Repository(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tag, checked: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
///
/// ```
/// use ocireg::Tag;
/// assert_eq!(Tag::parse("v1.2.3-rc_1")?.as_str(), "v1.2.3-rc_1");
/// assert!(Tag::parse("-bad").is_err());
/// assert!(Tag::parse(&"a".repeat(129)).is_err());
/// # Ok::<(), ocireg::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Checks `tag` ([`Error::InvalidReference`] saying what is wrong).
    pub fn parse(tag: &str) -> Result<Tag> {
        check_tag(tag).map_err(Error::InvalidReference)?;
        Ok(Tag(tag.to_string()))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! name_traits {
    ($t:ident) => {
        impl std::str::FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<$t> {
                $t::parse(s)
            }
        }
        impl std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
    };
}
name_traits!(Repository);
name_traits!(Tag);

/// `'x'`, or `'\0'` / `'\u{202e}'` for characters better not printed raw.
fn show_char(c: char) -> String {
    format!("{c:?}")
}

fn check_repository(name: &str) -> Result<(), String> {
    let shown = shorten(name);
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }
    // Characters first: after this, the name is ASCII and byte offsets are positions.
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            return Err(format!(
                "repository {shown:?}: uppercase letter {} at position {} is not allowed \
                 (repository names are lowercase)",
                show_char(c),
                i + 1
            ));
        }
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')) {
            return Err(format!(
                "repository {shown:?}: character {} at position {} is not allowed \
                 (only a-z, 0-9, '.', '_', '-' and '/')",
                show_char(c),
                i + 1
            ));
        }
    }
    let bytes = name.as_bytes();
    let mut start = 0;
    for component in name.split('/') {
        let end = start + component.len();
        if component.is_empty() {
            return Err(format!(
                "repository {shown:?}: empty path component at position {} \
                 (components are separated by a single '/', with none at either end)",
                start + 1
            ));
        }
        let comp = &bytes[start..end];
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !comp.first().is_some_and(|&b| alnum(b)) {
            return Err(format!(
                "repository {shown:?}: path component {:?} must start with a lowercase letter \
                 or digit",
                shorten(component)
            ));
        }
        if !comp.last().is_some_and(|&b| alnum(b)) {
            return Err(format!(
                "repository {shown:?}: path component {:?} must end with a lowercase letter \
                 or digit",
                shorten(component)
            ));
        }
        // Every run of separators between letters/digits must be '.', '_', '__' or '-'+.
        let mut i = 0;
        while i < comp.len() {
            if alnum(comp[i]) {
                i += 1;
                continue;
            }
            let run_start = i;
            while i < comp.len() && !alnum(comp[i]) {
                i += 1;
            }
            let run = &component[run_start..i];
            let ok = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
            if !ok {
                return Err(format!(
                    "repository {shown:?}: separator {:?} at position {} is not allowed \
                     (between letters and digits: '.', '_', '__', or one or more '-')",
                    shorten(run),
                    start + run_start + 1
                ));
            }
        }
        start = end + 1;
    }
    if name.len() > REPOSITORY_MAX_LEN {
        return Err(format!(
            "repository {shown:?} is {} characters long; the limit is {REPOSITORY_MAX_LEN}",
            name.len()
        ));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let shown = shorten(tag);
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err("the tag is empty".into()),
        Some(c) if !word(c) => {
            return Err(format!(
                "tag {shown:?} must start with a letter, digit or _ (not {})",
                show_char(c)
            ));
        }
        Some(_) => {}
    }
    for (i, c) in chars.enumerate() {
        if !(word(c) || c == '.' || c == '-') {
            return Err(format!(
                "tag {shown:?}: character {} at position {} is not allowed \
                 (only letters, digits, '_', '.' and '-')",
                show_char(c),
                i + 2
            ));
        }
    }
    if tag.len() > TAG_MAX_LEN {
        return Err(format!(
            "tag {shown:?} is {} characters long; the limit is {TAG_MAX_LEN}",
            tag.len()
        ));
    }
    Ok(())
}

/// Checks `host[:port]`: a host name, an IPv4 address or a bracketed IPv6 address, and an
/// optional port 1-65535.
fn check_registry(registry: &str) -> Result<(), String> {
    let shown = shorten(registry);
    if registry.is_empty() {
        return Err("the registry is empty".into());
    }
    if let Some(c) = registry
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
    {
        return Err(format!(
            "registry {shown:?}: character {} is not allowed in host[:port]",
            show_char(c)
        ));
    }
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err(format!("registry {shown:?}: '[' without a closing ']'"));
        };
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "registry {shown:?}: {:?} is not a valid IPv6 address",
                shorten(inner)
            ));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => {
                    return Err(format!(
                        "registry {shown:?}: only \":port\" may follow the IPv6 address"
                    ));
                }
            },
        };
        (None, port)
    } else {
        match registry.split_once(':') {
            Some((h, p)) => {
                if p.contains(':') {
                    return Err(format!(
                        "registry {shown:?}: more than one ':' (write IPv6 addresses in \
                         brackets, e.g. [::1]:5000)"
                    ));
                }
                (Some(h), Some(p))
            }
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        check_host(host).map_err(|why| format!("registry {shown:?}: {why}"))?;
    }
    if let Some(port) = port {
        check_port(port).map_err(|why| format!("registry {shown:?}: {why}"))?;
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host name is empty".into());
    }
    if host.contains(['[', ']']) {
        return Err("'[' and ']' are only allowed around an IPv6 address".into());
    }
    if host.len() > HOST_MAX_LEN {
        return Err(format!(
            "the host name is {} characters long; the limit is {HOST_MAX_LEN}",
            host.len()
        ));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(
                "the host name has an empty label (leading, trailing or double '.')".into(),
            );
        }
        if label.len() > LABEL_MAX_LEN {
            return Err(format!(
                "host name label {:?} is longer than {LABEL_MAX_LEN} characters",
                shorten(label)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "host name label {:?} must not start or end with '-'",
                shorten(label)
            ));
        }
    }
    // A name whose last label is numeric is an IPv4 address (as URL parsers see it).
    let last_is_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if last_is_numeric && host.parse::<Ipv4Addr>().is_err() {
        return Err(format!("{:?} is not a valid IPv4 address", shorten(host)));
    }
    Ok(())
}

fn check_port(port: &str) -> Result<(), String> {
    if port.is_empty() {
        return Err("the port after ':' is empty".into());
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port {:?} is not a number", shorten(port)));
    }
    if port.len() > 1 && port.starts_with('0') {
        return Err(format!(
            "port {:?} must not have leading zeros",
            shorten(port)
        ));
    }
    match port.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(()),
        _ => Err(format!("port {:?} is not in 1-65535", shorten(port))),
    }
}

/// The reference argument of an API call: a tag, a digest, or a tag to request and a digest
/// to verify the answer against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TagOrDigest {
    /// A tag, e.g. `v1`.
    Tag(Tag),
    /// A digest, e.g. `sha256:<64 hex>`.
    Digest(Digest),
    /// A tag to request by, and the digest the answer must have.
    TagAndDigest(Tag, Digest),
}

impl TagOrDigest {
    /// Parses the reference argument of an API call: `"v1"`, `"sha256:<hex>"`, or
    /// `"v1@sha256:<hex>"`.
    ///
    /// Anything with `@` is a tag and a digest; otherwise anything with `:` is a digest (a tag
    /// cannot contain `:`); otherwise a tag.
    pub fn parse(s: &str) -> Result<TagOrDigest> {
        let with_input = |e: Error| match e {
            Error::InvalidReference(m) => Error::InvalidReference(in_context(s, m)),
            other => other,
        };
        if let Some((tag, digest)) = s.split_once('@') {
            let tag = Tag::parse(tag).map_err(with_input)?;
            let digest = digest.parse::<Digest>().map_err(with_input)?;
            Ok(TagOrDigest::TagAndDigest(tag, digest))
        } else if s.contains(':') {
            Ok(TagOrDigest::Digest(
                s.parse::<Digest>().map_err(with_input)?,
            ))
        } else {
            Ok(TagOrDigest::Tag(Tag::parse(s).map_err(with_input)?))
        }
    }

    /// The string for the URL path (the tag for `TagAndDigest`: request by tag, verify by
    /// digest).
    pub fn url_part(&self) -> String {
        match self {
            TagOrDigest::Tag(t) | TagOrDigest::TagAndDigest(t, _) => t.to_string(),
            TagOrDigest::Digest(d) => d.to_string(),
        }
    }

    /// The tag, if there is one.
    pub(crate) fn tag(&self) -> Option<&Tag> {
        match self {
            TagOrDigest::Tag(t) | TagOrDigest::TagAndDigest(t, _) => Some(t),
            TagOrDigest::Digest(_) => None,
        }
    }

    /// The digest to verify against, if any.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            TagOrDigest::Tag(_) => None,
            TagOrDigest::Digest(d) | TagOrDigest::TagAndDigest(_, d) => Some(d),
        }
    }
}

impl fmt::Display for TagOrDigest {
    /// The form [`TagOrDigest::parse`] reads: `v1`, `sha256:<hex>` or `v1@sha256:<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagOrDigest::Tag(t) => f.write_str(t),
            TagOrDigest::Digest(d) => write!(f, "{d}"),
            TagOrDigest::TagAndDigest(t, d) => write!(f, "{t}@{d}"),
        }
    }
}

/// Maps a registry name to the host to connect to: `docker.io` and `index.docker.io` (in any
/// case) become `registry-1.docker.io`; everything else is returned unchanged.
pub(crate) fn api_host(registry: &str) -> &str {
    if registry.eq_ignore_ascii_case(DEFAULT_REGISTRY)
        || registry.eq_ignore_ascii_case(LEGACY_DEFAULT_REGISTRY)
    {
        DOCKER_HUB_API_HOST
    } else {
        registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn sha() -> String {
        format!("sha256:{HEX}")
    }

    fn parse(s: &str) -> Result<Reference> {
        s.parse()
    }

    /// (input, registry, repository, tag, has digest)
    fn good_cases() -> Vec<(String, &'static str, String, Option<&'static str>, bool)> {
        let s = sha();
        let long_repo = format!("{}/{}", "a".repeat(127), "b".repeat(127)); // 255
        let long_tag: &'static str = "t".repeat(128).leak();
        vec![
            (
                "alpine".into(),
                "docker.io",
                "library/alpine".into(),
                Some("latest"),
                false,
            ),
            (
                "alpine:3.20".into(),
                "docker.io",
                "library/alpine".into(),
                Some("3.20"),
                false,
            ),
            (
                "library/alpine".into(),
                "docker.io",
                "library/alpine".into(),
                Some("latest"),
                false,
            ),
            (
                "docker.io/alpine".into(),
                "docker.io",
                "library/alpine".into(),
                Some("latest"),
                false,
            ),
            (
                "index.docker.io/alpine:edge".into(),
                "docker.io",
                "library/alpine".into(),
                Some("edge"),
                false,
            ),
            (
                "Docker.IO/user/app".into(),
                "docker.io",
                "user/app".into(),
                Some("latest"),
                false,
            ),
            (
                "user/app".into(),
                "docker.io",
                "user/app".into(),
                Some("latest"),
                false,
            ),
            (
                "a/b/c/d".into(),
                "docker.io",
                "a/b/c/d".into(),
                Some("latest"),
                false,
            ),
            (
                "ghcr.io/user/image".into(),
                "ghcr.io",
                "user/image".into(),
                Some("latest"),
                false,
            ),
            (
                "ghcr.io/image".into(),
                "ghcr.io",
                "image".into(),
                Some("latest"),
                false,
            ),
            (
                "127.0.0.1:5000/x".into(),
                "127.0.0.1:5000",
                "x".into(),
                Some("latest"),
                false,
            ),
            (
                "host:5000/repo".into(),
                "host:5000",
                "repo".into(),
                Some("latest"),
                false,
            ),
            (
                "repo:5000".into(),
                "docker.io",
                "library/repo".into(),
                Some("5000"),
                false,
            ),
            (
                "localhost/x".into(),
                "localhost",
                "x".into(),
                Some("latest"),
                false,
            ),
            (
                "LOCALHOST/x".into(),
                "localhost",
                "x".into(),
                Some("latest"),
                false,
            ),
            (
                "localhost".into(),
                "docker.io",
                "library/localhost".into(),
                Some("latest"),
                false,
            ),
            (
                "localhost:5000".into(),
                "docker.io",
                "library/localhost".into(),
                Some("5000"),
                false,
            ),
            (
                format!("localhost:5000/x:y@{s}"),
                "localhost:5000",
                "x".into(),
                Some("y"),
                true,
            ),
            (
                format!("alpine@{s}"),
                "docker.io",
                "library/alpine".into(),
                None,
                true,
            ),
            (
                format!("alpine:3@{s}"),
                "docker.io",
                "library/alpine".into(),
                Some("3"),
                true,
            ),
            (
                "[::1]:5000/x".into(),
                "[::1]:5000",
                "x".into(),
                Some("latest"),
                false,
            ),
            ("[::1]/x:v".into(), "[::1]", "x".into(), Some("v"), false),
            (
                "[2001:DB8::1]:443/a/b".into(),
                "[2001:db8::1]:443",
                "a/b".into(),
                Some("latest"),
                false,
            ),
            (
                "a__b".into(),
                "docker.io",
                "library/a__b".into(),
                Some("latest"),
                false,
            ),
            (
                "a--b".into(),
                "docker.io",
                "library/a--b".into(),
                Some("latest"),
                false,
            ),
            (
                "a---b_c-d/e.0".into(),
                "docker.io",
                "a---b_c-d/e.0".into(),
                Some("latest"),
                false,
            ),
            (
                "example.com".into(),
                "docker.io",
                "library/example.com".into(),
                Some("latest"),
                false,
            ),
            (
                "my-registry.example.com:65535/team/app:_x".into(),
                "my-registry.example.com:65535",
                "team/app".into(),
                Some("_x"),
                false,
            ),
            (
                "r.io/x:UPPER.case-OK_1".into(),
                "r.io",
                "x".into(),
                Some("UPPER.case-OK_1"),
                false,
            ),
            (
                format!("r.io/{long_repo}"),
                "r.io",
                long_repo.clone(),
                Some("latest"),
                false,
            ),
            (
                format!("r.io/x:{long_tag}"),
                "r.io",
                "x".into(),
                Some(long_tag),
                false,
            ),
            (
                "0/1".into(),
                "docker.io",
                "0/1".into(),
                Some("latest"),
                false,
            ),
            (
                format!("ghcr.io/a/b@sha512:{}", "f".repeat(128)),
                "ghcr.io",
                "a/b".into(),
                None,
                true,
            ),
        ]
    }

    #[test]
    fn good_references() {
        for (input, registry, repository, tag, has_digest) in good_cases() {
            let r = parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry(), registry, "{input}");
            assert_eq!(r.repository(), repository, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.digest().is_some(), has_digest, "{input}");
            let expected_ref = match (r.digest(), tag) {
                (Some(d), _) => d.to_string(),
                (None, Some(t)) => t.to_string(),
                (None, None) => unreachable!(),
            };
            assert_eq!(r.reference(), expected_ref, "{input}");
        }
    }

    #[test]
    fn display_round_trips() {
        for (input, ..) in good_cases() {
            let r = parse(&input).unwrap();
            let shown = r.to_string();
            let again = parse(&shown).unwrap_or_else(|e| panic!("{input} -> {shown}: {e}"));
            assert_eq!(again, r, "{input} -> {shown}");
            assert_eq!(again.to_string(), shown);
            let rebuilt =
                Reference::new(r.registry(), r.repository(), r.tag(), r.digest().cloned()).unwrap();
            assert_eq!(rebuilt, r, "{input}");
        }
        assert_eq!(
            parse("alpine").unwrap().to_string(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            parse(&format!("alpine@{}", sha())).unwrap().to_string(),
            format!("docker.io/library/alpine@{}", sha())
        );
    }

    /// (input, words the error must contain)
    fn bad_cases() -> Vec<(String, Vec<&'static str>)> {
        let s = sha();
        vec![
            ("".into(), vec!["empty"]),
            (":".into(), vec!["no repository"]),
            ("@".into(), vec!["no repository"]),
            (":@".into(), vec!["no repository"]),
            ("alpine:".into(), vec!["tag", "empty"]),
            ("alpine@".into(), vec!["digest"]),
            ("a//b".into(), vec!["empty path component", "position 3"]),
            ("a/".into(), vec!["empty path component", "position 3"]),
            ("/a".into(), vec!["empty path component", "position 1"]),
            ("r.io/".into(), vec!["repository name is empty"]),
            ("r.io//a".into(), vec!["empty path component"]),
            ("a..b".into(), vec!["separator", "\"..\"", "position 2"]),
            ("a___b".into(), vec!["separator", "\"___\""]),
            ("a._b".into(), vec!["separator"]),
            ("a-.b".into(), vec!["separator"]),
            ("-a".into(), vec!["must start"]),
            ("_a".into(), vec!["must start"]),
            ("a-".into(), vec!["must end"]),
            ("a/b.".into(), vec!["must end"]),
            ("Alpine".into(), vec!["uppercase", "'A'", "position 1"]),
            ("library/aLpine".into(), vec!["uppercase", "'L'"]),
            ("ghcr.io/User/image".into(), vec!["uppercase"]),
            (
                format!("r.io/{}", "a".repeat(256)),
                vec!["256 characters", "255"],
            ),
            (
                format!("{}/{}", "a".repeat(128), "b".repeat(127)),
                vec!["256 characters"],
            ),
            // library/ + 248 = 256.
            ("a".repeat(248), vec!["256 characters"]),
            (
                format!("alpine:{}", "t".repeat(129)),
                vec!["tag", "129 characters", "128"],
            ),
            ("alpine:.x".into(), vec!["tag", "must start"]),
            ("alpine:-x".into(), vec!["tag", "must start"]),
            (
                "alpine:x/y".into(),
                vec!["registry", "port \"x\"", "not a number"],
            ),
            ("alpine:a+b".into(), vec!["tag", "'+'", "position 2"]),
            ("repo:tag@sha256:short".into(), vec!["digest", "64"]),
            ("repo@sha256:".into(), vec!["digest", "64"]),
            (format!("repo@{}", &s[..s.len() - 1]), vec!["digest"]),
            (format!("repo@{s}0"), vec!["digest"]),
            (format!("repo@{}", s.to_uppercase()), vec!["digest"]),
            (format!("repo@md5:{HEX}"), vec!["algorithm"]),
            (format!("repo@{s}@{s}"), vec!["digest"]),
            ("repo@tag".into(), vec!["digest"]),
            ("ålpine".into(), vec!["'å'", "position 1"]),
            ("alp\u{0}ine".into(), vec!["'\\0'", "position 4"]),
            ("alpine:\u{0}".into(), vec!["tag"]),
            ("alpine\u{202e}".into(), vec!["not allowed"]),
            ("r.io/日本".into(), vec!["not allowed"]),
            ("日本.io/x".into(), vec!["registry", "not allowed"]),
            (" alpine".into(), vec!["' '", "position 1"]),
            ("alpine ".into(), vec!["' '"]),
            ("alpine: latest".into(), vec!["tag"]),
            ("a b/c".into(), vec!["' '"]),
            ("r.io:/x".into(), vec!["port", "empty"]),
            ("r.io:0/x".into(), vec!["1-65535"]),
            ("r.io:65536/x".into(), vec!["1-65535"]),
            ("r.io:99999999999999999999/x".into(), vec!["1-65535"]),
            ("r.io:05000/x".into(), vec!["leading zeros"]),
            ("r.io:50a/x".into(), vec!["not a number"]),
            ("r.io:+5/x".into(), vec!["'+'"]),
            ("a:b:c/x".into(), vec!["more than one ':'"]),
            (".io/x".into(), vec!["empty label"]),
            ("r..io/x".into(), vec!["empty label"]),
            ("r.io./x".into(), vec!["empty label"]),
            ("-r.io/x".into(), vec!["'-'"]),
            ("r-.io/x".into(), vec!["'-'"]),
            ("r_x.io/x".into(), vec!["registry", "'_'"]),
            ("999.1.1.1/x".into(), vec!["IPv4"]),
            ("1.2.3/x".into(), vec!["IPv4"]),
            ("127.0.0.01:5000/x".into(), vec!["IPv4"]),
            (format!("{}.io/x", "l".repeat(64)), vec!["longer than 63"]),
            (
                format!("{}io/x", "abcdefghi.".repeat(26)),
                vec!["limit is 253"],
            ),
            ("[::1/x".into(), vec!["registry"]),
            ("[::1]x/y".into(), vec!["only \":port\""]),
            ("[::g]:5000/x".into(), vec!["IPv6"]),
            ("[]:5000/x".into(), vec!["IPv6"]),
            ("[1.2.3.4]/x".into(), vec!["IPv6"]),
            ("[::1]:/x".into(), vec!["port"]),
            ("::1/x".into(), vec!["registry"]),
            ("a]b.io/x".into(), vec!["'['"]),
            ("r.io/x@sha256:../../etc".into(), vec!["digest"]),
            ("\u{0}".into(), vec!["'\\0'"]),
            ("r.io/../x".into(), vec!["must start"]),
            ("r.io/./x".into(), vec!["must start"]),
        ]
    }

    #[test]
    fn bad_references() {
        for (input, words) in bad_cases() {
            let err = match parse(&input) {
                Ok(r) => panic!("{input:?} parsed as {r}"),
                Err(e) => e,
            };
            assert!(
                matches!(err, Error::InvalidReference(_)),
                "{input:?}: {err:?}"
            );
            let msg = err.to_string();
            for w in words {
                assert!(msg.contains(w), "{input:?}: {msg:?} lacks {w:?}");
            }
            assert!(
                msg.len() < 600,
                "{input:?}: message is unbounded: {}",
                msg.len()
            );
            assert!(!msg.contains('\u{0}'), "raw NUL in {msg:?}");
        }
    }

    #[test]
    fn very_long_inputs_give_bounded_errors() {
        let s = sha();
        for input in [
            "a".repeat(100_000),
            format!("r.io/{}", "a/".repeat(50_000)),
            format!("alpine:{}", "t".repeat(100_000)),
            format!("alpine@sha256:{}", "a".repeat(100_000)),
            format!("{}.io/x", "a.".repeat(50_000)),
            format!("r.io/x:{}@{s}", "é".repeat(50_000)),
            "A".repeat(100_000),
            "/".repeat(100_000),
            ":".repeat(100_000),
            "@".repeat(100_000),
        ] {
            let msg = parse(&input).unwrap_err().to_string();
            assert!(msg.len() < 600, "{}: {msg}", msg.len());
        }
    }

    #[test]
    fn new_validates_and_normalizes() {
        let d: Digest = sha().parse().unwrap();
        let r = Reference::new("docker.io", "alpine", None, None).unwrap();
        assert_eq!(r, parse("alpine").unwrap());
        let r = Reference::new("index.docker.io", "library/alpine", Some("3"), None).unwrap();
        assert_eq!(r.to_string(), "docker.io/library/alpine:3");
        let r = Reference::new("GHCR.io", "a/b", None, Some(d.clone())).unwrap();
        assert_eq!(
            (r.registry(), r.tag(), r.digest()),
            ("ghcr.io", None, Some(&d))
        );
        assert_eq!(r.reference(), d.to_string());
        let r = Reference::new("localhost", "x", Some("v1"), Some(d.clone())).unwrap();
        assert_eq!(r.reference(), d.to_string());
        assert_eq!(r.to_string().parse::<Reference>().unwrap(), r);
        for (reg, repo, tag) in [
            ("", "x", None),
            ("myhost", "x", None),
            ("r.io", "X", None),
            ("r.io", "", None),
            ("r.io", "x", Some("")),
            ("r.io", "x", Some("a:b")),
            ("r.io:0", "x", None),
            ("r.io/x", "y", None),
            ("r.io", "x/", None),
        ] {
            let e = Reference::new(reg, repo, tag, None).unwrap_err();
            assert!(matches!(e, Error::InvalidReference(_)), "{reg} {repo}: {e}");
        }
    }

    #[test]
    fn validators() {
        for good in ["a", "a/b", "a__b", "a--b", "a.b_c-d", "0", "a0/1b"] {
            Repository::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "", "A", "a//b", "a/", "/a", "a..b", "a___b", "-a", "a-", "a b", "a\0",
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Repository::parse(&"a".repeat(255)).is_ok());
        assert!(Repository::parse(&"a".repeat(256)).is_err());
        for good in ["a", "_", "0", "A.b-C_d", "latest", "v1.2.3"] {
            Tag::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        assert!(Tag::parse(&"a".repeat(128)).is_ok());
        for bad in ["", ".x", "-x", "a:b", "a@b", "a/b", "a b", "é", "a\u{0}"] {
            assert!(Tag::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Tag::parse(&"a".repeat(129)).is_err());
        let msg = Tag::parse("-bad").unwrap_err().to_string();
        assert!(msg.contains("-bad") && msg.contains("must start with a letter, digit or _"));
    }

    #[test]
    fn tag_or_digest() {
        let d: Digest = sha().parse().unwrap();
        assert_eq!(
            TagOrDigest::parse("v1").unwrap(),
            TagOrDigest::Tag(Tag("v1".into()))
        );
        assert_eq!(
            TagOrDigest::parse(&sha()).unwrap(),
            TagOrDigest::Digest(d.clone())
        );
        let both = TagOrDigest::parse(&format!("v1@{}", sha())).unwrap();
        assert_eq!(both, TagOrDigest::TagAndDigest(Tag("v1".into()), d.clone()));
        assert_eq!(both.url_part(), "v1");
        assert_eq!(both.digest(), Some(&d));
        assert_eq!(TagOrDigest::Digest(d.clone()).url_part(), sha());
        assert_eq!(TagOrDigest::Tag(Tag("x".into())).digest(), None);
        for t in [
            TagOrDigest::Tag(Tag("v1".into())),
            TagOrDigest::Digest(d.clone()),
            TagOrDigest::TagAndDigest(Tag("v1".into()), d.clone()),
        ] {
            assert_eq!(TagOrDigest::parse(&t.to_string()).unwrap(), t);
        }
        for bad in [
            "".to_string(),
            ":".into(),
            "@".into(),
            format!("@{}", sha()),
            "v1@".into(),
            "v1@sha256:abc".into(),
            "sha256:abc".into(),
            "-v1".into(),
            "v 1".into(),
            "a".repeat(129),
            format!("v1@{}@x", sha()),
            "x".repeat(100_000),
        ] {
            let e = TagOrDigest::parse(&bad).unwrap_err();
            assert!(matches!(e, Error::InvalidReference(_)), "{bad}: {e}");
            assert!(e.to_string().len() < 600);
        }
    }

    #[test]
    fn api_hosts() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("index.docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("Docker.IO"), "registry-1.docker.io");
        assert_eq!(api_host("registry-1.docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(api_host("ghcr.io"), "ghcr.io");
        assert_eq!(api_host(""), "");
    }

    /// A xorshift64 generator: deterministic, no dependencies.
    use crate::test_util::XorShift;

    #[test]
    fn random_inputs_never_panic_and_successes_round_trip() {
        const PIECES: &[&str] = &[
            "a",
            "b",
            "z",
            "0",
            "9",
            "A",
            "/",
            ":",
            "@",
            ".",
            "-",
            "_",
            "__",
            "[",
            "]",
            "::1",
            "localhost",
            "docker.io",
            "index.docker.io",
            "sha256:",
            HEX,
            "5000",
            "65536",
            " ",
            "\u{0}",
            "é",
            "\u{202e}",
            "latest",
            "r.io",
            "--",
        ];
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut ok = 0;
        for round in 0..5000 {
            let mut bytes = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.below(4) == 0 {
                    bytes.push(rng.next() as u8);
                } else {
                    bytes.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
                }
            }
            let s = String::from_utf8_lossy(&bytes);
            if let Ok(r) = parse(&s) {
                ok += 1;
                let again = parse(&r.to_string())
                    .unwrap_or_else(|e| panic!("round {round}: {s:?} -> {r}: {e}"));
                assert_eq!(again, r, "round {round}: {s:?}");
            }
            let _ = TagOrDigest::parse(&s);
            let _ = Repository::parse(&s);
            let _ = Tag::parse(&s);
            let _ = api_host(&s);
            let _ = Reference::new(&s, "x", None, None);
        }
        assert!(
            ok > 50,
            "the generator should produce some valid references: {ok}"
        );
    }
}
