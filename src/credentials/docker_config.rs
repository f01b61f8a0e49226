//! The docker `config.json` (and the containers `auth.json`, which has the same `auths` shape):
//! loading, looking up a registry the way docker does, and the locked, atomic
//! read-modify-write [`update`].
//!
//! # Key matching
//!
//! A registry is named by [`registry_key`]: `host[:port]`, lower-cased, except Docker Hub
//! (`docker.io`, `index.docker.io`, `registry-1.docker.io`), whose key is
//! `https://index.docker.io/v1/`. A key in the file matches a registry when it is exactly that key,
//! or when, stripped of an `http://` or `https://` scheme and of any path, it names the same host
//! (so `https://host:5000/v2/` matches `host:5000`, and `index.docker.io` matches Docker Hub). An
//! exact key wins over a looser one.
//!
//! # Writing
//!
//! [`update`] is the only way ocireg writes a config file. It takes an exclusive lock
//! ([`std::fs::File::lock`]) on `<file>.lock` beside the file, re-reads the file under the lock,
//! lets the caller change the parsed object, and — only if something changed — writes a
//! temporary file in the same directory (mode 0600 for a new file, the existing file's mode and
//! owner otherwise), syncs it, renames it over the original and syncs the directory. A symbolic
//! link is followed, so the link stays a link and its target is updated.
//!
//! Nothing we do not own is lost: every key and value the caller did not change is written back.
//! The file is re-serialised by serde_json, tab-indented like docker's own output, so key order
//! and white space may change (they carry no data). Before writing, [`update`] checks that the
//! original text survives that round trip; a file that does not — one that does not parse, has a
//! duplicate key, or has a number that would not be written back exactly (an integer beyond 64
//! bits, a decimal with more digits than a double holds) — is refused with
//! [`Error::Credentials`] and left untouched.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::auth::Credentials;
use crate::digest::shorten;
use crate::error::{Error, Result};

/// The `auths` key docker uses for Docker Hub.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The fields of an `auths` entry that hold a secret (or the user name that goes with one).
pub(crate) const SECRET_FIELDS: [&str; 5] = [
    "auth",
    "username",
    "password",
    "identitytoken",
    "registrytoken",
];

/// `host[:port]` of a registry or of a config key, lower-cased, with any scheme, user info and
/// path removed; Docker Hub's names all become `docker.io`. `None` when nothing is left.
pub(crate) fn host_of(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = strip_scheme(s).unwrap_or(s);
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    if host.is_empty() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => host,
    })
}

/// `s` without a leading `http://` or `https://` (any case), or `None` if it has neither.
fn strip_scheme(s: &str) -> Option<&str> {
    for scheme in ["https://", "http://"] {
        if s.len() >= scheme.len()
            && s.is_char_boundary(scheme.len())
            && s[..scheme.len()].eq_ignore_ascii_case(scheme)
        {
            return Some(&s[scheme.len()..]);
        }
    }
    None
}

/// The key docker uses for `registry` in `auths`, `credHelpers` and credential helpers:
/// `https://index.docker.io/v1/` for Docker Hub, `host[:port]` for everything else.
///
/// `registry` may carry a scheme and a path (`https://host:5000/v2/`); both are dropped.
pub fn registry_key(registry: &str) -> Result<String> {
    match host_of(registry) {
        Some(h) if h == "docker.io" => Ok(DOCKER_HUB_KEY.to_string()),
        Some(h) if valid_host(&h) => Ok(h),
        _ => Err(Error::InvalidInput(format!(
            "registry {:?} is not a host name",
            shorten(registry.trim())
        ))),
    }
}

fn valid_host(h: &str) -> bool {
    h.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

/// Which keys of a config object may name a registry.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRules {
    /// Docker's: any key whose host (scheme and path stripped) is the registry.
    Docker,
    /// containers-auth.json's: a key with a path and no scheme is repository-scoped
    /// (`quay.io/team`) and does not name the whole registry.
    Containers,
}

/// The keys of `map` that match `registry`, best first (the exact key, then the others in
/// the map's order).
pub(crate) fn matching_keys<'a>(
    map: &'a Map<String, Value>,
    registry: &str,
    rules: KeyRules,
) -> Vec<&'a str> {
    let Some(host) = host_of(registry) else {
        return Vec::new();
    };
    let exact = if host == "docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.clone()
    };
    let mut out: Vec<&str> = Vec::new();
    if let Some((k, _)) = map.get_key_value(&exact) {
        out.push(k);
    }
    for k in map.keys() {
        if k == &exact {
            continue;
        }
        let scoped = strip_scheme(k).is_none() && k.trim().trim_end_matches('/').contains('/');
        if rules == KeyRules::Containers && scoped {
            continue;
        }
        if host_of(k).as_deref() == Some(host.as_str()) {
            out.push(k);
        }
    }
    out
}

/// A parsed docker `config.json` (or containers `auth.json`).
///
/// `Debug` shows the path and the top-level keys, never a credential.
#[derive(Clone)]
pub struct DockerConfig {
    path: PathBuf,
    map: Map<String, Value>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("keys", &self.map.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DockerConfig {
    /// Reads and parses the file at `path`. `Ok(None)` when it does not exist; an unreadable
    /// or malformed file is [`Error::Credentials`] naming the file (and, for bad JSON, the line
    /// and column). An empty file is an empty configuration, as in docker.
    ///
    /// ```
    /// use ocireg::credentials::DockerConfig;
    /// let dir = std::env::temp_dir().join(format!("ocireg-doc-load-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("config.json");
    /// assert!(DockerConfig::load(&path)?.is_none());
    /// std::fs::write(&path, "{\"auths\": {\n  \"a\": 1,\n}}").unwrap();
    /// let err = DockerConfig::load(&path).unwrap_err().to_string();
    /// assert!(err.contains("config.json") && err.contains("line 3"), "{err}");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Option<DockerConfig>> {
        let path = path.as_ref();
        match read_file(path)? {
            None => Ok(None),
            Some(bytes) => DockerConfig::parse(path, &bytes).map(Some),
        }
    }

    /// Parses file contents; `path` is only used in messages and [`DockerConfig::path`].
    pub fn parse(path: impl AsRef<Path>, bytes: &[u8]) -> Result<DockerConfig> {
        let path = path.as_ref();
        Ok(DockerConfig {
            path: path.to_path_buf(),
            map: parse_object(path, bytes)?,
        })
    }

    /// The file this configuration came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole top-level object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// `credsStore`: the helper used for every registry without a `credHelpers` entry.
    /// An empty string counts as unset, as in docker.
    pub fn creds_store(&self) -> Result<Option<&str>> {
        match self.map.get("credsStore") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim())),
            Some(_) => Err(self.error("\"credsStore\" is not a string")),
        }
    }

    /// `credHelpers[registry]` (matched like the `auths` keys): the helper for this registry.
    pub fn cred_helper(&self, registry: &str) -> Result<Option<&str>> {
        let Some(helpers) = self.object("credHelpers")? else {
            return Ok(None);
        };
        for key in matching_keys(helpers, registry, KeyRules::Docker) {
            match &helpers[key] {
                Value::Null => {}
                Value::String(s) if s.trim().is_empty() => {}
                Value::String(s) => return Ok(Some(s.trim())),
                _ => {
                    return Err(self.error(&format!(
                        "credHelpers entry {:?} is not a string",
                        shorten(key)
                    )));
                }
            }
        }
        Ok(None)
    }

    /// The helper that holds the credentials of `registry`: `credHelpers[registry]`, else
    /// `credsStore`, else `None` (the credentials live in `auths`).
    ///
    /// ```
    /// use ocireg::credentials::DockerConfig;
    /// let cfg = DockerConfig::parse(
    ///     "config.json",
    ///     br#"{"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}}"#,
    /// )?;
    /// assert_eq!(cfg.helper_for("gcr.io")?, Some("gcloud"));
    /// assert_eq!(cfg.helper_for("quay.io")?, Some("desktop"));
    /// # Ok::<(), ocireg::Error>(())
    /// ```
    pub fn helper_for(&self, registry: &str) -> Result<Option<&str>> {
        match self.cred_helper(registry)? {
            Some(h) => Ok(Some(h)),
            None => self.creds_store(),
        }
    }

    /// The key of the `auths` entry for `registry`, if there is one (exact key first).
    pub fn auth_key(&self, registry: &str) -> Result<Option<String>> {
        Ok(self
            .auth_keys(registry, KeyRules::Docker)?
            .into_iter()
            .next())
    }

    pub(crate) fn auth_keys(&self, registry: &str, rules: KeyRules) -> Result<Vec<String>> {
        Ok(match self.object("auths")? {
            None => Vec::new(),
            Some(auths) => matching_keys(auths, registry, rules)
                .into_iter()
                .map(str::to_string)
                .collect(),
        })
    }

    /// The credentials stored in `auths` for `registry`, matched the docker way.
    ///
    /// `registrytoken` gives [`Credentials::BearerToken`], else `identitytoken` gives
    /// [`Credentials::IdentityToken`], else `auth` (base64 of `user:password`, padding optional)
    /// or `username` and `password` give [`Credentials::Basic`]. An entry with none of these
    /// (such as the empty entry docker leaves next to a `credsStore`) is `None`, and the next
    /// matching key is tried.
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>> {
        self.credentials_with(registry, KeyRules::Docker)
    }

    pub(crate) fn credentials_with(
        &self,
        registry: &str,
        rules: KeyRules,
    ) -> Result<Option<Credentials>> {
        let Some(auths) = self.object("auths")? else {
            return Ok(None);
        };
        for key in matching_keys(auths, registry, rules) {
            if let Some(c) = entry_credentials(&auths[key])
                .map_err(|why| self.error(&format!("auths entry {:?}: {why}", shorten(key))))?
            {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// `map[name]` as an object; `null` or absent is `None`, anything else an error.
    fn object(&self, name: &str) -> Result<Option<&Map<String, Value>>> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(self.error(&format!("{name:?} is not a JSON object"))),
        }
    }

    fn error(&self, why: &str) -> Error {
        Error::Credentials(format!("{}: {why}", self.path.display()))
    }
}

/// The credentials of one `auths` entry. Errors never quote a value.
pub(crate) fn entry_credentials(entry: &Value) -> std::result::Result<Option<Credentials>, String> {
    let obj = match entry {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err("not a JSON object".into()),
    };
    let field = |name: &str| -> std::result::Result<Option<&str>, String> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("field {name:?} is not a string")),
        }
    };
    if let Some(t) = field("registrytoken")? {
        return Ok(Some(Credentials::BearerToken(t.to_string())));
    }
    if let Some(t) = field("identitytoken")? {
        return Ok(Some(Credentials::IdentityToken(t.to_string())));
    }
    if let Some(a) = field("auth")? {
        let (user, pass) = decode_auth(a)?;
        return Ok(Some(Credentials::basic(user, pass)));
    }
    match (field("username")?, field("password")?) {
        (Some(u), p) => Ok(Some(Credentials::basic(u, p.unwrap_or("")))),
        (None, Some(_)) => Err("has a password but no username".into()),
        (None, None) => Ok(None),
    }
}

/// Decodes an `auth` value: base64 (padding optional, surrounding white space ignored) of
/// `user:password`. The error never contains the value.
pub(crate) fn decode_auth(a: &str) -> std::result::Result<(String, String), String> {
    let bytes = base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(a.trim())
        .map_err(|_| "field \"auth\" is not valid base64".to_string())?;
    let s = String::from_utf8(bytes).map_err(|_| "field \"auth\" is not UTF-8 text".to_string())?;
    match s.split_once(':') {
        Some((u, p)) if !u.is_empty() => Ok((u.to_string(), p.to_string())),
        _ => Err("field \"auth\" is not base64 of user:password".into()),
    }
}

/// The `auth` value for `user:password`.
pub(crate) fn encode_auth(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}

/// Reads a file; `None` if it does not exist. Errors name the file.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Credentials(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Parses a config file's bytes into its top-level object. Empty (or all white space) is `{}`.
fn parse_object(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::Credentials(format!(
            "{}: not a JSON object",
            path.display()
        ))),
        Err(e) => {
            // Syntax and end-of-file messages never quote the input; data errors could, so
            // those get a fixed text.
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    let s = e.to_string();
                    match s.rfind(" at line ") {
                        Some(i) => s[..i].to_string(),
                        None => s,
                    }
                }
                _ => "invalid value".to_string(),
            };
            Err(Error::Credentials(format!(
                "{}: invalid JSON at line {} column {}: {what}",
                path.display(),
                e.line(),
                e.column()
            )))
        }
    }
}

/// Follows symbolic links (up to 40) so that a linked config file is updated in place and the
/// link itself survives.
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p).map_err(|e| {
                    Error::Credentials(format!("cannot read link {}: {e}", p.display()))
                })?;
                p = if target.is_absolute() {
                    target
                } else {
                    p.parent().unwrap_or(Path::new("")).join(target)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::Credentials(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Opens (creating it 0600 if needed) and exclusively locks `path`. The lock is released when
/// the returned file is dropped. The lock file is never removed: removing it would let two
/// writers lock two different files.
fn lock_file(path: &Path) -> Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path).map_err(|e| {
        Error::Credentials(format!("cannot open lock file {}: {e}", path.display()))
    })?;
    file.lock()
        .map_err(|e| Error::Credentials(format!("cannot lock {}: {e}", path.display())))?;
    Ok(file)
}

/// Locked, atomic read-modify-write of the config file at `path`.
///
/// Takes an exclusive lock on `<file>.lock` in the file's directory (created 0600; missing
/// directories are created 0700), reads and parses the file (a missing or empty file is `{}`; a
/// malformed one is an error and is left alone), calls `f` with the top-level object, and, if
/// `f` succeeded and changed anything, writes the result through a temporary file in the same
/// directory, `sync_all`, a rename over the original and a sync of the directory. A new file
/// gets mode 0600; an existing one keeps its mode (and owner, where permitted). Every member `f`
/// did not change is written back with its value; key order and white space follow serde_json
/// (sorted keys, tab indentation). If `f` fails, or the original text holds something the
/// rewrite would not reproduce exactly (a duplicate key, an integer beyond 64 bits, a decimal
/// with more digits than a double), nothing is written and the error is returned.
pub fn update<T>(
    path: impl AsRef<Path>,
    f: impl FnOnce(&mut Map<String, Value>) -> Result<T>,
) -> Result<T> {
    let target = resolve_links(path.as_ref())?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = target
        .file_name()
        .ok_or_else(|| Error::Credentials(format!("{}: not a file path", target.display())))?
        .to_os_string();
    create_dir_0700(&dir)?;

    let mut lock_name = file_name.clone();
    lock_name.push(".lock");
    let _lock = lock_file(&dir.join(lock_name))?;

    let original = read_file(&target)?;
    let orig_map = match &original {
        Some(bytes) => parse_object(&target, bytes)?,
        None => Map::new(),
    };
    let mut map = orig_map.clone();
    let result = f(&mut map)?;
    if map == orig_map {
        return Ok(result);
    }
    if let Some(bytes) = &original {
        check_round_trip(&target, bytes)?;
    }
    let text = render(&map)
        .map_err(|e| Error::Credentials(format!("{}: cannot serialise: {e}", target.display())))?;
    let meta = match &original {
        Some(_) => Some(fs::metadata(&target).map_err(|e| {
            Error::Credentials(format!("cannot read the mode of {}: {e}", target.display()))
        })?),
        None => None,
    };
    write_atomic(&dir, &file_name, &target, &text, meta.as_ref())?;
    Ok(result)
}

/// Docker's own layout: tab-indented, with a final newline.
fn render(map: &Map<String, Value>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    map.serialize(&mut ser)?;
    out.push(b'\n');
    Ok(out)
}

/// Refuses a rewrite that would change data the caller did not touch: duplicate keys (the
/// parsed object keeps only the last) and numbers serde_json would not write back as the same
/// decimal value. `bytes` already parsed, so it is valid JSON (or blank).
fn check_round_trip(path: &Path, bytes: &[u8]) -> Result<()> {
    let refuse = |why: String| {
        Error::Credentials(format!(
            "{}: refusing to rewrite the file, it would lose data: {why}; nothing was written",
            path.display()
        ))
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if let Err(e) = serde_json::from_slice::<NoDuplicates>(bytes) {
        return Err(refuse(format!(
            "duplicate key in an object at line {} column {}",
            e.line(),
            e.column()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| refuse("not UTF-8".into()))?;
    if let Some(at) = lossy_number(text) {
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
        return Err(refuse(format!(
            "the number at line {line} column {column} cannot be written back exactly"
        )));
    }
    Ok(())
}

/// Walks any JSON value, failing on an object with a repeated key.
struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> std::result::Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> std::result::Result<NoDuplicates, A::Error> {
        while a.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> std::result::Result<NoDuplicates, A::Error> {
        let mut seen = HashSet::new();
        while let Some(k) = a.next_key::<String>()? {
            if !seen.insert(k) {
                return Err(de::Error::custom("duplicate key"));
            }
            a.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}

/// The byte offset of the first number literal in the (valid JSON) `text` that serde_json would
/// not write back as the same decimal value.
fn lossy_number(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_string = true;
        } else if c == b'-' || c.is_ascii_digit() {
            let start = i;
            while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                i += 1;
            }
            if !number_survives(&text[start..i]) {
                return Some(start);
            }
            continue;
        }
        i += 1;
    }
    None
}

/// True when serde_json writes the literal back as the same decimal number, and reads what it
/// wrote as the same value. (Without serde_json's `float_roundtrip`, which ocireg enables,
/// `-2233720368500577400000` was written `-2.2337203685005774e21` and read back one unit lower;
/// the check stays, so that a config is never rewritten into something else.)
fn number_survives(literal: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(literal) else {
        return false;
    };
    let written = v.to_string();
    if serde_json::from_str::<Value>(&written).ok().as_ref() != Some(&v) {
        return false;
    }
    written == literal || (decimal(literal).is_some() && decimal(literal) == decimal(&written))
}

/// A JSON number as (negative, significant digits, exponent): equal values compare equal.
fn decimal(s: &str) -> Option<(bool, String, i64)> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut exp = exp.checked_sub(i64::try_from(frac.len()).ok()?)?;
    let all = format!("{int}{frac}");
    let digits = all.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some((false, String::new(), 0));
    }
    exp = exp.checked_add(i64::try_from(digits.len() - trimmed.len()).ok()?)?;
    Some((neg, trimmed.to_string(), exp))
}

fn create_dir_0700(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| Error::Credentials(format!("cannot create directory {}: {e}", dir.display())))
}

/// Writes `bytes` to a temporary file in `dir` (0600, named `.<file>.tmp-<pid>-<random>`),
/// syncs it, renames it over `target` and syncs `dir`. The temporary file is removed on any
/// failure (the `tempfile` crate deletes it when dropped); one left behind by a process that was
/// killed is removed by the next write, once that process is gone.
fn write_atomic(
    dir: &Path,
    file_name: &std::ffi::OsStr,
    target: &Path,
    bytes: &[u8],
    existing: Option<&fs::Metadata>,
) -> Result<()> {
    let fail = |what: &str, e: io::Error| {
        Error::Credentials(format!("cannot write {} ({what}): {e}", target.display()))
    };
    let prefix = temp_prefix(file_name);
    remove_stale_temp_files(dir, &prefix);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempfile_in(dir)
        .map_err(|e| fail("create temporary file", e))?;
    let written = (|| -> io::Result<()> {
        tmp.write_all(bytes)?;
        if let Some(meta) = existing {
            keep_mode_and_owner(tmp.as_file(), meta)?;
        }
        tmp.as_file().sync_all()
    })();
    written.map_err(|e| fail("write temporary file", e))?;
    tmp.persist(target).map_err(|e| fail("replace", e.error))?;
    // Make the rename itself durable. Not every platform can open a directory; the data is
    // already safe either way.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `.<file>.tmp-`: the start of the names of `file`'s temporary files.
fn temp_prefix(file_name: &std::ffi::OsStr) -> String {
    format!(".{}.tmp-", file_name.to_string_lossy())
}

/// Removes `<prefix><pid>-…` files of processes that no longer run (killed mid-write: they
/// may hold a credential). On systems without `/proc`, files older than an hour go instead.
fn remove_stale_temp_files(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    let proc_fs = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let stale = if pid == me {
            false
        } else if proc_fs {
            !Path::new("/proc").join(pid.to_string()).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600))
        };
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn keep_mode_and_owner(file: &fs::File, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // The owner first: changing it may clear set-id bits, which the mode then restores. Only
    // root may give a file away, so a refusal is expected and harmless for ordinary users.
    let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
    file.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))
}

#[cfg(not(unix))]
fn keep_mode_and_owner(file: &fs::File, meta: &fs::Metadata) -> io::Result<()> {
    file.set_permissions(meta.permissions())
}

/// `map["auths"]` as an object, created when absent or `null`.
fn auths_mut<'a>(
    path: &Path,
    map: &'a mut Map<String, Value>,
) -> Result<&'a mut Map<String, Value>> {
    let auths = map
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if auths.is_null() {
        *auths = Value::Object(Map::new());
    }
    auths.as_object_mut().ok_or_else(|| {
        Error::Credentials(format!(
            "{}: \"auths\" is not a JSON object; nothing was written",
            path.display()
        ))
    })
}

/// Login's edit: `auths[key].auth = base64(user:password)`, the entry's other credential fields
/// removed, every other field of the entry (such as `email`) kept.
pub(crate) fn set_auth(
    path: &Path,
    map: &mut Map<String, Value>,
    key: &str,
    username: &str,
    password: &str,
) -> Result<()> {
    let auths = auths_mut(path, map)?;
    let entry = auths
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(e) = entry {
        for f in SECRET_FIELDS {
            e.remove(f);
        }
        e.insert(
            "auth".into(),
            Value::String(encode_auth(username, password)),
        );
    }
    Ok(())
}

/// After a helper stored the credentials: drops any plain-text credential fields left in the
/// exact `auths[key]` entry (an empty entry stays, as docker leaves one).
pub(crate) fn strip_secrets(map: &mut Map<String, Value>, key: &str) {
    if let Some(Value::Object(auths)) = map.get_mut("auths")
        && let Some(Value::Object(e)) = auths.get_mut(key)
    {
        for f in SECRET_FIELDS {
            e.remove(f);
        }
    }
}

/// Logout's edit: removes every `auths` entry that names `registry`. True when one of them held
/// a credential.
pub(crate) fn remove_registry(map: &mut Map<String, Value>, registry: &str) -> bool {
    let Some(Value::Object(auths)) = map.get_mut("auths") else {
        return false;
    };
    let keys: Vec<String> = matching_keys(auths, registry, KeyRules::Docker)
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut had_credentials = false;
    for k in keys {
        if let Some(v) = auths.remove(&k) {
            had_credentials |= holds_credentials(&v);
        }
    }
    had_credentials
}

/// True when an `auths` entry has any non-empty credential field.
pub(crate) fn holds_credentials(entry: &Value) -> bool {
    match entry {
        Value::Object(o) => SECRET_FIELDS.iter().any(|f| match o.get(*f) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn keys() {
        for hub in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
            "Docker.IO",
        ] {
            assert_eq!(registry_key(hub).unwrap(), DOCKER_HUB_KEY, "{hub}");
        }
        assert_eq!(registry_key("host:5000").unwrap(), "host:5000");
        assert_eq!(registry_key("https://host:5000/v2/").unwrap(), "host:5000");
        assert_eq!(registry_key("HTTP://Host").unwrap(), "host");
        assert_eq!(registry_key("https://u:pw@host").unwrap(), "host");
        let e = registry_key("https://alice:secretpw@").unwrap_err();
        assert!(!e.to_string().contains("secretpw"), "{e}");
        assert!(registry_key("ho st").is_err());
        assert!(registry_key("   ").is_err());
    }

    /// Found by fuzz/fuzz_targets/client_registry.rs: `registry_key` quoted its whole input, and
    /// lookups a whole key, however long; messages show at most 80 characters of input.
    #[test]
    fn messages_are_bounded() {
        let long = format!("h st{}", "\u{fffd}".repeat(5000));
        let e = registry_key(&long).unwrap_err().to_string();
        assert!(e.len() < 600, "{} bytes", e.len());
        let host = format!("{}.io", "a".repeat(5000));
        let json = format!(r#"{{"auths": {{"{host}": 5}}, "credHelpers": {{"{host}": 5}}}}"#);
        let cfg = DockerConfig::parse("config.json", json.as_bytes()).unwrap();
        let e = cfg.credentials(&host).unwrap_err().to_string();
        assert!(e.len() < 600, "{} bytes", e.len());
        let e = cfg.cred_helper(&host).unwrap_err().to_string();
        assert!(e.len() < 600, "{} bytes", e.len());
    }

    /// Found by fuzz/fuzz_targets/client_registry.rs: a `://` after the userinfo was taken for
    /// the end of a scheme, and the password was shown.
    #[test]
    fn userinfo_before_a_scheme_is_redacted() {
        for input in ["alice:secretpw@ht!tps://host", "u:secretpw@tt!rs://h//x"] {
            let e = registry_key(input).unwrap_err();
            assert!(!e.to_string().contains("secretpw"), "{e}");
        }
        let e = registry_key("ht\u{e9}tps://u:secretpw@o st/x").unwrap_err();
        assert!(!e.to_string().contains("secretpw"), "{e}");
    }

    #[test]
    fn matching_order_and_rules() {
        let m = map(json!({
            "http://host:5000": 1, "host:5000": 2, "https://host:5000/v2/": 3,
            "host:5000/team": 4, "other:5000": 5, "host": 6,
            "https://index.docker.io/v1/": 7, "docker.io": 8, "index.docker.io": 9,
            "registry-1.docker.io": 10,
        }));
        let keys = matching_keys(&m, "host:5000", KeyRules::Docker);
        assert_eq!(keys[0], "host:5000");
        assert_eq!(keys.len(), 4);
        let keys = matching_keys(&m, "https://host:5000", KeyRules::Containers);
        assert_eq!(
            keys,
            ["host:5000", "http://host:5000", "https://host:5000/v2/"]
        );
        let keys = matching_keys(&m, "docker.io", KeyRules::Docker);
        assert_eq!(keys[0], DOCKER_HUB_KEY);
        assert_eq!(keys.len(), 4);
        assert!(matching_keys(&m, "nothere", KeyRules::Docker).is_empty());
    }

    #[test]
    fn entries() {
        let c = |v: Value| entry_credentials(&v);
        // padded, unpadded, with white space
        assert_eq!(
            c(json!({"auth": "YTpi"})).unwrap(),
            Some(Credentials::basic("a", "b"))
        );
        assert_eq!(
            c(json!({"auth": "YTpiYw=="})).unwrap(),
            Some(Credentials::basic("a", "bc"))
        );
        assert_eq!(
            c(json!({"auth": "YTpiYw"})).unwrap(),
            Some(Credentials::basic("a", "bc"))
        );
        assert_eq!(
            c(json!({"auth": " YTpiYw==\n"})).unwrap(),
            Some(Credentials::basic("a", "bc"))
        );
        // a password containing ':'
        let a = encode_auth("u", "p:q:r");
        assert_eq!(
            c(json!({ "auth": a })).unwrap(),
            Some(Credentials::basic("u", "p:q:r"))
        );
        assert_eq!(
            c(json!({"username": "u", "password": "p"})).unwrap(),
            Some(Credentials::basic("u", "p"))
        );
        assert_eq!(
            c(json!({"auth": "YTpi", "identitytoken": "tok"})).unwrap(),
            Some(Credentials::IdentityToken("tok".into()))
        );
        assert_eq!(
            c(json!({"registrytoken": "rt", "identitytoken": "tok"})).unwrap(),
            Some(Credentials::BearerToken("rt".into()))
        );
        assert_eq!(c(json!({})).unwrap(), None);
        assert_eq!(c(json!({"auth": "", "email": "x@y"})).unwrap(), None);
        assert_eq!(c(Value::Null).unwrap(), None);
        for bad in [
            json!({"auth": "!!!notbase64secret"}),
            json!({"auth": "bm9jb2xvbg=="}),
            json!({"auth": 5}),
            json!({"password": "pw"}),
            json!("str"),
        ] {
            let e = c(bad).unwrap_err();
            assert!(!e.contains("secret") && !e.contains("bm9j"), "{e}");
        }
    }

    #[test]
    fn parse_errors_have_line_and_column_and_no_content() {
        let p = Path::new("/x/config.json");
        let e = parse_object(
            p,
            b"{\n \"auths\": {\"h\": {\"auth\": \"c2VjcmV0OnB3\"}}\n ]",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/x/config.json") && e.contains("line 3"), "{e}");
        assert!(!e.contains("c2VjcmV0"), "{e}");
        assert!(parse_object(p, b"[1]").is_err());
        assert!(parse_object(p, b"\xff\xfe").is_err());
        assert!(parse_object(p, b"").unwrap().is_empty());
        assert!(parse_object(p, b" \n").unwrap().is_empty());
        let deep = "[".repeat(100_000);
        assert!(parse_object(p, deep.as_bytes()).is_err());
    }

    #[test]
    fn config_accessors() {
        let cfg = DockerConfig::parse(
            "c.json",
            br#"{"credsStore": "desktop", "credHelpers": {"https://gcr.io": "gcloud", "x": ""},
                 "auths": {"h": {}, "http://h": {"auth": "YTpi"}}}"#,
        )
        .unwrap();
        assert_eq!(cfg.creds_store().unwrap(), Some("desktop"));
        assert_eq!(cfg.cred_helper("gcr.io").unwrap(), Some("gcloud"));
        assert_eq!(cfg.cred_helper("x").unwrap(), None);
        assert_eq!(cfg.cred_helper("y").unwrap(), None);
        // the empty exact entry gives nothing, the looser key answers
        assert_eq!(
            cfg.credentials("h").unwrap(),
            Some(Credentials::basic("a", "b"))
        );
        assert_eq!(cfg.auth_key("h").unwrap().as_deref(), Some("h"));
        assert!(!format!("{cfg:?}").contains("YTpi"));

        let bad = DockerConfig::parse("c.json", br#"{"auths": [], "credsStore": 1}"#).unwrap();
        assert!(bad.credentials("h").is_err());
        assert!(bad.creds_store().is_err());
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ocireg-unit-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_check() {
        let p = Path::new("c.json");
        for ok in [
            "{}",
            " \n",
            r#"{"a": [1, -2, 0, -0, 1.5, 1e3, 1E+2, 0.1, 2.5e-7, 18446744073709551615, -9223372036854775808]}"#,
            r#"{"s": "123456789012345678901234567890 1e400 \" \\", "t": true, "n": null}"#,
            r#"{"a": {"x": 1}, "b": {"x": 2}}"#,
        ] {
            check_round_trip(p, ok.as_bytes()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": {"auths": {"h": {}, "h": {}}}}"#,
            r#"{"big": 123456789012345678901234567890}"#,
            r#"{"f": 0.10000000000000000000001}"#,
            r#"{"f": -18446744073709551616}"#,
        ] {
            let e = check_round_trip(p, bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("c.json") && e.contains("line 1"), "{e}");
        }
        assert_eq!(decimal("1.50e1"), decimal("15"));
        assert_eq!(decimal("-0.0"), decimal("0"));
        assert_ne!(decimal("1e2"), decimal("1e3"));
    }

    /// Found by fuzz/fuzz_targets/docker_config_update.rs: a number whose rewrite serde_json
    /// read back as another value passed the check, so login rewrote it, and the next rewrite
    /// (logout) changed it or refused the file ocireg had just written. With `float_roundtrip`
    /// such numbers read back exactly: two rewrites in a row keep the value.
    #[test]
    fn numbers_read_back_as_written_across_rewrites() {
        let p = Path::new("c.json");
        for good in [
            r#"{"yn": -2233720368500577400000}"#,
            r#"{"x": -2.2337203685005774e+21}"#,
        ] {
            check_round_trip(p, good.as_bytes()).unwrap();
        }
        let d = temp_dir("float-read-back");
        let path = d.join("config.json");
        fs::write(&path, r#"{"yn": -2233720368500577400000}"#).unwrap();
        update(&path, |m| set_auth(&path, m, "h:5000", "u", "p")).unwrap();
        let once = fs::read_to_string(&path).unwrap();
        update(&path, |m| Ok(remove_registry(m, "h:5000"))).unwrap();
        update(&path, |m| set_auth(&path, m, "h:5000", "u", "p")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), once);
        let v: Value = serde_json::from_str(&once).unwrap();
        assert_eq!(v["yn"].as_f64(), Some(-2233720368500577400000.0));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn update_keeps_everything_else_and_is_atomic() {
        let d = temp_dir("update");
        let path = d.join("config.json");
        let original = r#"{"zeta": {"nested": [1, 2, {"x": null}]}, "auths": {"a": {"auth": "YTpi", "email": "e"}},
            "HttpHeaders": {"X-Meta": "v"}, "n": 1.5, "unicode": "h\u00e9 \ud83d\ude00"}"#;
        fs::write(&path, original).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        }
        let before: Value = serde_json::from_str(original).unwrap();
        update(&path, |m| set_auth(&path, m, "b:5000", "u", "p")).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n\t\""), "{text}");
        let mut after: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            after["auths"]["b:5000"],
            json!({"auth": encode_auth("u", "p")})
        );
        after["auths"].as_object_mut().unwrap().remove("b:5000");
        assert_eq!(after, before);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        // no temporary file left behind; the lock file stays
        let names: Vec<String> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"config.json.lock".to_string()));

        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn unchanged_and_refused_files_are_not_written() {
        let d = temp_dir("untouched");
        let path = d.join("config.json");
        let cases: [&[u8]; 5] = [
            b"{\"auths\": {\"a\": {\"auth\": \"YTpi\"}}, \"x\": 1}",
            b"{\"auths\": {\"h\": 1,}}",
            b"{\"a\": 1, \"a\": 2}",
            b"{\"n\": 123456789012345678901234567890}",
            b"{\"auths\": [\"not an object\"]}",
        ];
        for (i, bytes) in cases.iter().enumerate() {
            fs::write(&path, bytes).unwrap();
            let r = update(&path, |m| {
                if i == 0 {
                    // an edit that changes nothing
                    m.insert("x".into(), json!(1));
                    Ok(())
                } else {
                    set_auth(&path, m, "new:1", "u", "p")
                }
            });
            assert_eq!(r.is_ok(), i == 0, "case {i}: {r:?}");
            assert_eq!(fs::read(&path).unwrap(), *bytes, "case {i}");
        }
        // the caller's own error: nothing written
        fs::write(&path, cases[0]).unwrap();
        let r: Result<()> = update(&path, |m| {
            m.clear();
            Err(Error::Credentials("stop".into()))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&path).unwrap(), cases[0]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn new_file_modes_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let d = temp_dir("modes");
        let path = d.join("sub").join("deeper").join("config.json");
        update(&path, |m| set_auth(&path, m, "h", "u", "p")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&d.join("sub")), 0o700);

        let link = d.join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        update(&link, |m| set_auth(&link, m, "h2", "u", "p")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let cfg = DockerConfig::load(&path).unwrap().unwrap();
        assert!(
            cfg.credentials("h").unwrap().is_some() && cfg.credentials("h2").unwrap().is_some()
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn threads_do_not_lose_updates() {
        let d = temp_dir("threads");
        let path = d.join("config.json");
        fs::write(&path, r#"{"proxies": {"default": {}}}"#).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = &path;
                s.spawn(move || {
                    for i in 0..15 {
                        let key = format!("t{t}-{i}.example");
                        update(path, |m| set_auth(path, m, &key, "u", "p")).unwrap();
                    }
                });
            }
        });
        let cfg = DockerConfig::load(&path).unwrap().unwrap();
        assert_eq!(cfg.as_map()["auths"].as_object().unwrap().len(), 120);
        assert_eq!(cfg.as_map()["proxies"], json!({"default": {}}));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn edits() {
        let p = Path::new("c.json");
        let mut m = map(json!({"auths": {"h": {"username": "old", "password": "pw",
            "identitytoken": "t", "email": "e@x"}}}));
        set_auth(p, &mut m, "h", "u", "p").unwrap();
        assert_eq!(
            m["auths"]["h"],
            json!({"auth": encode_auth("u", "p"), "email": "e@x"})
        );
        let mut m = map(json!({"auths": null}));
        set_auth(p, &mut m, "h", "u", "p").unwrap();
        assert!(m["auths"]["h"]["auth"].is_string());
        let mut m = map(json!({"auths": "x"}));
        let e = set_auth(p, &mut m, "h", "u", "p").unwrap_err().to_string();
        assert!(e.contains("c.json"), "{e}");

        let mut m = map(
            json!({"auths": {"h:1": {"auth": "YTpi"}, "https://h:1/v2/": {},
            "http://h:1": {"auth": "YTpi"}, "h:2": {"auth": "YTpi"}}}),
        );
        assert!(remove_registry(&mut m, "h:1"));
        assert_eq!(m["auths"], json!({"h:2": {"auth": "YTpi"}}));
        assert!(!remove_registry(&mut m, "h:1"));
        let mut m = map(json!({"auths": {"h:1": {}}}));
        assert!(!remove_registry(&mut m, "h:1"));
        assert_eq!(m["auths"], json!({}));

        let mut m = map(json!({"auths": {"h": {"auth": "YTpi", "email": "e"}}}));
        strip_secrets(&mut m, "h");
        assert_eq!(m["auths"]["h"], json!({"email": "e"}));
    }

    #[test]
    fn doc_example_1() -> std::result::Result<(), Box<dyn std::error::Error>> {
        use crate::Credentials;

        assert_eq!(registry_key("docker.io")?, "https://index.docker.io/v1/");
        assert_eq!(registry_key("https://Host:5000/v2/")?, "host:5000");

        let json = br#"{"auths": {"https://host:5000/v2/": {"auth": "YWxpY2U6czNjcmV0"}}}"#;
        let cfg = DockerConfig::parse("config.json", json)?;
        assert_eq!(
            cfg.credentials("host:5000")?,
            Some(Credentials::basic("alice", "s3cret"))
        );
        assert_eq!(cfg.credentials("other:5000")?, None);
        Ok(())
    }

    #[test]
    fn doc_example_2() -> std::result::Result<(), Box<dyn std::error::Error>> {
        assert_eq!(
            registry_key("registry-1.docker.io")?,
            "https://index.docker.io/v1/"
        );
        assert_eq!(registry_key("http://localhost:5000/")?, "localhost:5000");
        assert!(registry_key("").is_err());
        Ok(())
    }

    #[test]
    fn doc_example_3() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("ocireg-doc-update-{}", std::process::id()));
        let path = dir.join("config.json");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            &path,
            r#"{"proxies": {"default": {"httpProxy": "http://p:3128"}}, "auths": {}}"#,
        )
        .unwrap();
        update(&path, |cfg| {
            cfg["auths"]["host:5000"] = serde_json::json!({"auth": "dTpw"});
            Ok(())
        })?;
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["proxies"]["default"]["httpProxy"], "http://p:3128");
        assert_eq!(v["auths"]["host:5000"]["auth"], "dTpw");
        std::fs::remove_dir_all(&dir).unwrap();
        Ok(())
    }
}
