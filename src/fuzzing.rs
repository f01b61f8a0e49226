//! Entry points for the cargo-fuzz targets in `fuzz/`. **Not API.**
//!
//! Compiled only with the `fuzzing` feature, hidden from the documentation, and free to change
//! or disappear in any release: nothing outside `fuzz/` may use it.
//!
//! There is one function per fuzzed parser. Each takes the fuzzer's bytes, calls the crate's own
//! parser, and asserts cheap invariants where there are some (a value printed and parsed again is
//! the same value, an error message is bounded and never shows a secret, and so on). A failed
//! assertion is a panic, which the fuzzer reports as a crash. The targets in `fuzz/fuzz_targets/`
//! call only these functions. When the parsers move or become private, only this file changes.
//!
//! Inputs that hold several strings separate them with `\n` (text parsers), `0xFF` (the helper
//! output) or NUL (the C ABI, whose strings cannot contain NUL). `fuzz/README.md` describes each
//! target's input layout.
//!
//! Some functions write scratch files (the credential helper scripts and their output, a config
//! file for [`docker_config_update`]). They go in `$OCIREG_FUZZ_SCRATCH` when it is set (as
//! `fuzz/run.sh` does), else in the system's temporary directory, in a folder named after the
//! process.
#![cfg(feature = "fuzzing")]
#![doc(hidden)]

use std::ffi::{CStr, CString, c_char, c_int};
use std::fmt::Debug;
use std::path::PathBuf;
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::auth::{Credentials, challenge};
use crate::client::Client;
use crate::credentials::docker_config::{
    self, DockerConfig, KeyRules, decode_auth, encode_auth, registry_key,
};
use crate::credentials::{ConfigOptions, helper};
use crate::digest::Digest;
use crate::error::Error;
use crate::ffi::error::{ocireg_error, ocireg_status};
use crate::headers;
use crate::image::{ImageBuilder, ManifestFormat};
use crate::manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, Platform, media_types};
use crate::reference::{Reference, Repository, Tag, TagOrDigest, api_host};

/// The repository-name check, as `Repository::parse` does it.
fn validate_repository(s: &str) -> crate::Result<()> {
    Repository::parse(s).map(|_| ())
}

/// The tag check, as `Tag::parse` does it.
fn validate_tag(s: &str) -> crate::Result<()> {
    Tag::parse(s).map(|_| ())
}

/// `os/arch[/variant]`, as `Platform`'s `FromStr` reads it.
fn parse_platform(s: &str) -> crate::Result<Platform> {
    s.parse()
}

/// The longest error message any parser may produce, whatever the input's length.
const MAX_MESSAGE: usize = 4096;

/// The fuzzer's bytes as text (invalid UTF-8 becomes U+FFFD, so every input reaches the parser).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An error's `Display` and `Debug` are bounded, whatever the input.
fn bounded(e: &Error) {
    let shown = e.to_string();
    assert!(
        shown.len() <= MAX_MESSAGE,
        "error message of {} bytes: {}...",
        shown.len(),
        shown.chars().take(200).collect::<String>()
    );
    let debug = format!("{e:?}");
    assert!(
        debug.len() <= 2 * MAX_MESSAGE,
        "Debug of {} bytes",
        debug.len()
    );
}

/// `v` serialised and parsed again is `v`.
fn serde_round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) {
    let bytes = serde_json::to_vec(v).expect("a parsed value serialises");
    let back: T = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{v:?} serialised as {} does not parse back: {e}",
            String::from_utf8_lossy(&bytes)
        )
    });
    same_json(&back, v, "serde round trip");
}

/// `a == b`, except that floats in kept JSON (`extra` members) may differ by a few units in the
/// last place: serde_json without its `float_roundtrip` feature does not read every float it
/// writes back exactly (a known weakness, see fuzz/README.md), and that is not what these
/// targets look for.
fn same_json<T: Serialize + PartialEq + Debug>(a: &T, b: &T, what: &str) {
    if a == b {
        return;
    }
    let (x, y) = (
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap(),
    );
    assert!(json_close(&x, &y), "{what}:\n{a:?}\n{b:?}");
}

fn json_close(x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Number(m), Value::Number(n)) if m.is_f64() || n.is_f64() => {
            let (m, n) = (m.as_f64().unwrap(), n.as_f64().unwrap());
            (m - n).abs() <= 1e-15 * m.abs().max(n.abs())
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| json_close(x, y)))
        }
        _ => x == y,
    }
}

/// Where scratch files go: `$OCIREG_FUZZ_SCRATCH/<name>-<pid>`, else the temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("OCIREG_FUZZ_SCRATCH")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("ocireg-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

// ---------------------------------------------------------------------------------------------
// References, digests, platforms
// ---------------------------------------------------------------------------------------------

/// Image references (`Reference: FromStr`, `Reference::new`), `TagOrDigest::parse`, and the
/// repository and tag validators. The whole input is one reference; its lines are also given to
/// `Reference::new` as registry, repository, tag and digest.
pub fn reference(data: &[u8]) {
    let s = text(data);
    match s.parse::<Reference>() {
        Ok(r) => check_reference(&r, &s),
        Err(e) => {
            assert!(matches!(e, Error::InvalidReference(_)), "{s:?}: {e:?}");
            bounded(&e);
        }
    }
    match TagOrDigest::parse(&s) {
        Ok(t) => {
            // A tag, a digest and `tag@digest` have one spelling each: Display gives the input.
            assert_eq!(t.to_string(), s);
            assert_eq!(TagOrDigest::parse(&t.to_string()).unwrap(), t);
            if let TagOrDigest::Tag(tag) | TagOrDigest::TagAndDigest(tag, _) = &t {
                validate_tag(tag).expect("the tag of a TagOrDigest is valid");
            }
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidReference(_)), "{s:?}: {e:?}");
            bounded(&e);
        }
    }
    match validate_repository(&s) {
        Ok(()) => assert!(
            s.len() <= 255
                && !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'-' | b'/'))
                && !s.starts_with('/')
                && !s.ends_with('/')
                && !s.contains("//"),
            "validate_repository accepted {s:?}"
        ),
        Err(e) => bounded(&e),
    }
    match validate_tag(&s) {
        Ok(()) => assert!(
            s.len() <= 128
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                && !s.starts_with(['.', '-']),
            "validate_tag accepted {s:?}"
        ),
        Err(e) => bounded(&e),
    }
    let _ = api_host(&s);

    let mut lines = s.splitn(4, '\n');
    if let (Some(registry), Some(repository)) = (lines.next(), lines.next()) {
        let tag = lines.next().filter(|t| !t.is_empty());
        let digest = lines.next().and_then(|d| d.parse::<Digest>().ok());
        match Reference::new(registry, repository, tag, digest) {
            Ok(r) => check_reference(&r, &s),
            Err(e) => {
                assert!(matches!(e, Error::InvalidReference(_)), "{s:?}: {e:?}");
                bounded(&e);
            }
        }
    }
}

fn check_reference(r: &Reference, input: &str) {
    let shown = r.to_string();
    let again: Reference = shown
        .parse()
        .unwrap_or_else(|e| panic!("{input:?} gave {shown:?}, which does not parse: {e}"));
    assert_eq!(&again, r, "{input:?} gave {shown:?}");
    assert_eq!(again.to_string(), shown);
    assert!(r.tag().is_some() || r.digest().is_some());
    assert_eq!(r.registry(), r.registry().to_ascii_lowercase());
    validate_repository(r.repository()).expect("the repository of a reference is valid");
    if let Some(t) = r.tag() {
        validate_tag(t).expect("the tag of a reference is valid");
    }
    let rebuilt = Reference::new(r.registry(), r.repository(), r.tag(), r.digest().cloned())
        .unwrap_or_else(|e| panic!("the parts of {shown:?} do not make a reference: {e}"));
    assert_eq!(&rebuilt, r);
    let part = r.reference();
    let t = TagOrDigest::parse(&part)
        .unwrap_or_else(|e| panic!("the reference part {part:?} of {shown:?}: {e}"));
    assert_eq!(t.url_part(), part);
    let _ = api_host(r.registry());
}

/// `Digest: FromStr`, its `Display`, `Debug` and serde forms, and hashing.
pub fn digest(data: &[u8]) {
    let s = text(data);
    match s.parse::<Digest>() {
        Ok(d) => {
            // A digest has one spelling: Display gives the input back.
            assert_eq!(d.to_string(), s);
            assert_eq!(format!("{d:?}"), format!("Digest({s})"));
            assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
            assert!(matches!(d.hex().len(), 64 | 128));
            serde_round_trip(&d);
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidReference(_)), "{s:?}: {e:?}");
            bounded(&e);
        }
    }
    // The serde form on the raw bytes: a JSON document (escapes, numbers, objects...).
    if let Ok(d) = serde_json::from_slice::<Digest>(data) {
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    }
    let h = Digest::sha256_of(data);
    assert_eq!(h.to_string().parse::<Digest>().unwrap(), h);
    assert!(h.verify(data, "fuzz input").is_ok());
}

/// `Platform::from_str` (`os/arch[/variant]`).
pub fn platform(data: &[u8]) {
    let s = text(data);
    match parse_platform(&s) {
        Ok(p) => {
            let shown = match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            };
            assert_eq!(shown, s, "a platform has one spelling");
            assert_eq!(parse_platform(&shown).unwrap(), p);
            serde_round_trip(&p);
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidInput(_)), "{s:?}: {e:?}");
            bounded(&e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------

/// `Manifest::from_bytes` and its typed views (`ImageManifest`, `ImageIndex`), and descriptors
/// and platforms parsed alone. The first byte picks the media type given to `from_bytes` (none,
/// empty, one of the four manifest types, a config type); the rest is the document.
pub fn manifest(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let media_type = match pick % 8 {
        0 => None,
        1 => Some(""),
        2 => Some(media_types::OCI_MANIFEST),
        3 => Some(media_types::OCI_INDEX),
        4 => Some(media_types::DOCKER_MANIFEST),
        5 => Some(media_types::DOCKER_MANIFEST_LIST),
        6 => Some(media_types::OCI_CONFIG),
        _ => Some(media_types::OCI_EMPTY),
    };
    match Manifest::from_bytes(body.to_vec(), media_type) {
        Ok(m) => {
            assert_eq!(m.digest, Digest::sha256_of(body));
            assert!(!m.media_type.is_empty());
            if let Some(t) = media_type.filter(|t| !t.is_empty()) {
                assert_eq!(m.media_type, t);
            }
            let d = m.descriptor();
            assert_eq!((d.size, &d.digest), (body.len() as u64, &m.digest));
            assert!(format!("{m:?}").len() < 1024 + m.media_type.len());
            if m.is_index() {
                assert!(m.image().is_err());
                match m.index() {
                    Ok(index) => check_index(&index),
                    Err(e) => bounded_manifest_error(&e, body),
                }
            } else {
                assert!(m.index().is_err());
                match m.image() {
                    Ok(image) => check_image(&image),
                    Err(e) => bounded_manifest_error(&e, body),
                }
            }
        }
        Err(e) => bounded_manifest_error(&e, body),
    }
    // The pieces alone, as an OCI layout's index.json and pull's platform matching see them.
    if let Ok(d) = serde_json::from_slice::<Descriptor>(body) {
        serde_round_trip(&d);
    }
    if let Ok(p) = serde_json::from_slice::<Platform>(body) {
        serde_round_trip(&p);
    }
    if let Ok(i) = serde_json::from_slice::<ImageIndex>(body) {
        check_index(&i);
    }
    if let Ok(i) = serde_json::from_slice::<ImageManifest>(body) {
        check_image(&i);
    }
}

fn bounded_manifest_error(e: &Error, body: &[u8]) {
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    // serde_json quotes at most a short piece of the input.
    let shown = e.to_string();
    assert!(
        shown.len() <= MAX_MESSAGE + body.len().min(MAX_MESSAGE),
        "message of {} bytes",
        shown.len()
    );
}

fn check_image(m: &ImageManifest) {
    serde_round_trip(m);
    // What ocireg writes for it is a manifest ocireg reads back as the same image.
    let bytes = serde_json::to_vec(m).unwrap();
    let again = Manifest::from_bytes(bytes, Some(media_types::OCI_MANIFEST))
        .and_then(|m| m.image())
        .expect("a serialised image manifest is an image manifest");
    same_json(&again, m, "image manifest written and read");
}

fn check_index(i: &ImageIndex) {
    serde_round_trip(i);
    let bytes = serde_json::to_vec(i).unwrap();
    let again = Manifest::from_bytes(bytes, Some(media_types::OCI_INDEX))
        .and_then(|m| m.index())
        .expect("a serialised index is an index");
    same_json(&again, i, "index written and read");
}

// ---------------------------------------------------------------------------------------------
// Docker config.json
// ---------------------------------------------------------------------------------------------

/// A marker the seeds put in passwords, tokens and `auth` values: it must never show in a message
/// or a `Debug` unless it is also in a key or a user name (which messages may quote).
const SECRET_MARK: &str = "s3cr3t";

/// `DockerConfig::parse` and every lookup (`credsStore`, `credHelpers`, `auths` with docker's and
/// containers' key rules, `registry_key`, the `auth` decoder). The first line is a registry to
/// look up; the rest is the file. Every key of `auths` and `credHelpers` is looked up too.
pub fn docker_config(data: &[u8]) {
    let (registry, file) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (text(&data[..i]), &data[i + 1..]),
        None => (String::new(), data),
    };
    check_registry_key(&registry);

    let cfg = match DockerConfig::parse("config.json", file) {
        Ok(c) => c,
        Err(e) => {
            assert!(matches!(e, Error::Credentials(_)), "{e:?}");
            let shown = e.to_string();
            assert!(
                !shown.contains(SECRET_MARK),
                "a parse error quotes the file: {shown}"
            );
            bounded(&e);
            return;
        }
    };
    let map = cfg.as_map();
    let key_has_mark = |section: &str| match map.get(section) {
        Some(Value::Object(m)) => m.keys().any(|k| k.contains(SECRET_MARK)),
        _ => false,
    };
    let debug = format!("{cfg:?}");
    assert!(
        map.keys().any(|k| k.contains(SECRET_MARK)) || !debug.contains(SECRET_MARK),
        "Debug shows a secret: {debug}"
    );
    // Messages quote the keys of auths and credHelpers (never a value): the mark may show only
    // through one of those, or through the registry looked up.
    let may_quote_mark =
        key_has_mark("auths") || key_has_mark("credHelpers") || registry.contains(SECRET_MARK);

    let mut registries = vec![registry.clone(), "docker.io".to_string(), "ghcr.io".into()];
    for section in ["auths", "credHelpers"] {
        if let Some(Value::Object(m)) = map.get(section) {
            registries.extend(m.keys().take(8).cloned());
        }
    }
    let check_err = |e: &Error| {
        bounded(e);
        if !may_quote_mark {
            assert!(!e.to_string().contains(SECRET_MARK), "{e}");
        }
    };
    if let Err(e) = cfg.creds_store() {
        check_err(&e);
    }
    for r in &registries {
        if let Err(e) = cfg.cred_helper(r) {
            check_err(&e);
        }
        if let Err(e) = cfg.helper_for(r) {
            check_err(&e);
        }
        let key = match cfg.auth_key(r) {
            Ok(k) => k,
            Err(e) => {
                check_err(&e);
                None
            }
        };
        if let Some(k) = &key {
            assert!(
                matches!(map.get("auths"), Some(Value::Object(a)) if a.contains_key(k)),
                "auth_key({r:?}) = {k:?} is not a key of auths"
            );
        }
        for rules in [KeyRules::Docker, KeyRules::Containers] {
            match cfg.credentials_with(r, rules) {
                Ok(Some(c)) => {
                    assert!(key.is_some(), "credentials for {r:?} without an auths key");
                    let shown = format!("{c:?}");
                    let user_has_mark = c.username().is_some_and(|u| u.contains(SECRET_MARK));
                    assert!(user_has_mark || !shown.contains(SECRET_MARK), "{shown}");
                }
                Ok(None) => {}
                Err(e) => check_err(&e),
            }
            if let Err(e) = cfg.auth_keys(r, rules) {
                check_err(&e);
            }
        }
    }
    // The `auth` decoder on every string of every auths entry.
    if let Some(Value::Object(auths)) = map.get("auths") {
        for entry in auths.values().take(8) {
            if let Value::Object(fields) = entry {
                for v in fields.values().filter_map(Value::as_str) {
                    match decode_auth(v) {
                        Ok((u, p)) => {
                            assert!(!u.is_empty());
                            assert_eq!(decode_auth(&encode_auth(&u, &p)).unwrap(), (u, p));
                        }
                        // Fixed texts: the value is never quoted.
                        Err(why) => assert!(why.starts_with("field \"auth\" is not"), "{why}"),
                    }
                }
            }
        }
    }
}

fn check_registry_key(registry: &str) {
    match registry_key(registry) {
        Ok(k) => {
            assert!(!k.is_empty());
            assert_eq!(
                registry_key(&k).ok().as_deref(),
                Some(k.as_str()),
                "registry_key({registry:?}) = {k:?} is not a fixed point"
            );
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
            bounded(&e);
        }
    }
}

/// `docker_config::update` (login's and logout's locked read-modify-write) on a scratch copy of
/// the input: sets `auths["fuzz.example:5000"]`, then removes every entry for that registry.
/// Nothing the edit did not touch may change, and a refused or failed update leaves the file
/// exactly as it was.
pub fn docker_config_update(data: &[u8]) {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| scratch_dir("update"));
    let path = dir.join("config.json");
    std::fs::write(&path, data).expect("write the scratch config");
    const KEY: &str = "fuzz.example:5000";

    let before = DockerConfig::parse(&path, data).map(|c| c.as_map().clone());
    let result = docker_config::update(&path, |map| {
        docker_config::set_auth(&path, map, KEY, "fuzz-user", "fuzz-password")
    });
    let after_bytes = std::fs::read(&path).expect("read the scratch config");
    let Ok(()) = result else {
        assert_eq!(after_bytes, data, "a failed update changed the file");
        return;
    };
    let before = before.expect("update succeeded on a file that does not parse");
    let after = DockerConfig::parse(&path, &after_bytes).expect("update wrote a file that parses");
    assert_eq!(
        after.credentials(KEY).unwrap(),
        Some(Credentials::basic("fuzz-user", "fuzz-password"))
    );
    same_except_auths(&before, after.as_map(), Some(KEY));

    // Logout's edit on the result.
    let removed = docker_config::update(&path, |map| Ok(docker_config::remove_registry(map, KEY)));
    let final_bytes = std::fs::read(&path).unwrap();
    match removed {
        Ok(had) => {
            assert!(had, "the entry just written held credentials");
            let last = DockerConfig::parse(&path, &final_bytes).expect("parses");
            assert_eq!(last.auth_key(KEY).unwrap(), None);
            same_except_auths(after.as_map(), last.as_map(), None);
        }
        // The rewritten file always survives its own round trip.
        Err(e) => panic!("logout's edit refused a file ocireg wrote: {e}"),
    }
}

/// Every top-level member but `auths` is unchanged, and so is every `auths` entry that does not
/// name `fuzz.example:5000` (when `kept` is given, it is the only key allowed to differ).
fn same_except_auths(before: &Map<String, Value>, after: &Map<String, Value>, kept: Option<&str>) {
    for (k, v) in before {
        if k == "auths" {
            continue;
        }
        assert_eq!(after.get(k), Some(v), "member {k:?} changed");
    }
    for k in after.keys() {
        assert!(
            k == "auths" || before.contains_key(k),
            "member {k:?} appeared"
        );
    }
    let (Some(Value::Object(a)), Some(Value::Object(b))) =
        (before.get("auths"), after.get("auths"))
    else {
        return;
    };
    for (k, v) in a {
        if kept == Some(k.as_str()) {
            continue;
        }
        match b.get(k) {
            Some(w) => assert_eq!(w, v, "auths entry {k:?} changed"),
            // Only entries naming the registry may go (logout).
            None => assert!(
                kept.is_none()
                    && docker_config::host_of(k) == docker_config::host_of("fuzz.example:5000"),
                "auths entry {k:?} disappeared"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Credential helpers
// ---------------------------------------------------------------------------------------------

struct HelperRig {
    dir: PathBuf,
    out: PathBuf,
    err: PathBuf,
}

/// The helper programs: shell scripts that swallow stdin, print the prepared stdout and stderr,
/// and exit 0, 1, 42 or by SIGKILL.
const HELPERS: [(&str, &str); 4] = [
    ("fuzzok", "exit 0"),
    ("fuzzfail", "exit 1"),
    ("fuzzcode", "exit 42"),
    ("fuzzkill", "kill -9 $$"),
];

fn helper_rig() -> &'static HelperRig {
    static RIG: OnceLock<HelperRig> = OnceLock::new();
    RIG.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch_dir("helper");
        let out = dir.join("stdout");
        let err = dir.join("stderr");
        for (name, last) in HELPERS {
            let script = format!(
                "#!/bin/sh\ncat >/dev/null\ncat '{}'\ncat '{}' >&2\n{last}\n",
                out.display(),
                err.display()
            );
            let path = dir.join(helper::program_name(name));
            std::fs::write(&path, script).expect("write a helper script");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        HelperRig { dir, out, err }
    })
}

/// The credential helper protocol's output parsing, through real helper runs (`helper::get`,
/// `store`, `erase`, `list` of a script that prints the input): the answer of `get` and `list`,
/// the "not found" rule, and the error text (cleaned, bounded, the secret of `store` cut out).
///
/// The first byte picks the action (`% 4`: get, store, erase, list) and the exit (`/ 4 % 4`: 0,
/// 1, 42, killed); the rest is `stdout 0xFF stderr 0xFF secret`. The secret is what `store` sends,
/// and is also looked up as a helper name.
///
/// Slow (a process per run): the parser it reaches is small.
pub fn credential_helper(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0xFF);
    let stdout = parts.next().unwrap_or_default();
    let stderr = parts.next().unwrap_or_default();
    let secret = text(parts.next().unwrap_or_default());
    let rig = helper_rig();
    std::fs::write(&rig.out, stdout).unwrap();
    std::fs::write(&rig.err, stderr).unwrap();
    let (name, _) = HELPERS[usize::from(pick / 4) % 4];
    let exit_zero = name == "fuzzok";
    let options = ConfigOptions {
        config_path: Some(rig.dir.join("no-config.json")),
        helper_timeout: Duration::from_secs(20),
        containers_auth: false,
        helper_dirs: vec![rig.dir.clone()],
    };
    let out_text = String::from_utf8_lossy(stdout);
    let err_text = String::from_utf8_lossy(stderr);
    let not_found = out_text.contains(helper::NOT_FOUND)
        || (out_text.trim().is_empty() && err_text.contains(helper::NOT_FOUND));
    const SERVER: &str = "registry.example.com";

    match pick % 4 {
        0 => match helper::get(name, SERVER, &options) {
            Ok(c) => {
                assert!(
                    exit_zero || (not_found && c.is_none()),
                    "get on a failure: {c:?}"
                );
                match c {
                    Some(Credentials::IdentityToken(t)) => assert!(!t.is_empty()),
                    Some(Credentials::Basic { username, password }) => assert!(
                        username != helper::TOKEN_USERNAME
                            && !(username.is_empty() && password.is_empty())
                    ),
                    Some(other) => panic!("get gave {other:?}"),
                    None => {}
                }
            }
            Err(e) if exit_zero => {
                // The answer holds the secret: its parse error is a fixed text.
                assert_eq!(
                    credentials_message(&e),
                    format!(
                        "credential helper docker-credential-{name} get failed: answered \
                         something that is not a {{\"Username\",\"Secret\"}} JSON object"
                    )
                );
            }
            Err(e) => check_helper_failure(&e, name, "get", None, not_found),
        },
        1 => match helper::store(name, SERVER, "alice", &secret, &options) {
            Ok(()) => assert!(exit_zero),
            Err(e) => {
                assert!(!exit_zero, "{e}");
                check_helper_failure(&e, name, "store", Some(&secret), not_found);
            }
        },
        2 => match helper::erase(name, SERVER, &options) {
            Ok(erased) => assert_eq!(
                erased, exit_zero,
                "erase: exit 0 is erased, not found is not"
            ),
            Err(e) => {
                assert!(!exit_zero, "{e}");
                check_helper_failure(&e, name, "erase", None, not_found);
            }
        },
        _ => match helper::list(name, &options) {
            Ok(map) => assert!(exit_zero || (not_found && map.is_empty())),
            Err(e) if exit_zero => assert_eq!(
                credentials_message(&e),
                format!(
                    "credential helper docker-credential-{name} list failed: answered something \
                     that is not a JSON object of strings"
                )
            ),
            Err(e) => check_helper_failure(&e, name, "list", None, not_found),
        },
    }

    // The helper name rules of `find`.
    match helper::find(&secret, &options) {
        Ok(p) => {
            assert!(
                !secret.is_empty()
                    && !secret.starts_with('.')
                    && !secret.contains(['/', '\\'])
                    && !secret.chars().any(char::is_control),
                "find accepted {secret:?}"
            );
            assert_eq!(
                p.file_name().and_then(|n| n.to_str()),
                Some(helper::program_name(&secret).as_str())
            );
        }
        Err(e) => bounded(&e),
    }
}

/// The message of an `Error::Credentials`.
fn credentials_message(e: &Error) -> &str {
    match e {
        Error::Credentials(m) => m,
        other => panic!("not Error::Credentials: {other:?}"),
    }
}

/// The error of a helper that failed: `credential helper docker-credential-NAME ACTION failed:
/// TEXT (exit status N)`, TEXT cleaned of control characters, at most 300 characters, and without
/// the secret (for `store`).
fn check_helper_failure(e: &Error, name: &str, action: &str, secret: Option<&str>, nf: bool) {
    assert!(
        !nf || action == "store",
        "a not-found answer is an error: {e}"
    );
    let Error::Credentials(msg) = e else {
        panic!("helper failure is not Error::Credentials: {e:?}");
    };
    let prefix = format!("credential helper docker-credential-{name} {action} failed: ");
    let body = msg
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected helper message {msg:?}"));
    assert!(
        !body.chars().any(char::is_control),
        "control character in {msg:?}"
    );
    assert!(
        body.chars().count() <= 300 + 40,
        "message of {} chars",
        body.chars().count()
    );
    let status = if name == "fuzzkill" {
        "killed by a signal".to_string()
    } else {
        format!("exit status {}", if name == "fuzzcode" { 42 } else { 1 })
    };
    if nf {
        // store: "not found" is an error too, with the protocol's text.
        assert_eq!(body, helper::NOT_FOUND);
        return;
    }
    // TEXT (STATUS), or STATUS alone when the helper printed nothing.
    let text = match body.strip_suffix(&format!(" ({status})")) {
        Some(t) => t,
        None => {
            assert_eq!(body, status, "{msg:?}");
            ""
        }
    };
    // The secret never shows, even when the helper prints it with white space around. (Skipped
    // for secrets the cleaning itself could produce: with spaces, control characters, pieces of
    // "<redacted>" or the "…" of a cut.)
    if let Some(s) = secret {
        let s = s.trim();
        let checkable = s.chars().count() >= 4
            && !s.contains(['<', '>', ' ', '\u{2026}'])
            && !s.chars().any(char::is_control)
            && !"<redacted>".contains(s);
        if checkable {
            assert!(!text.contains(s), "the secret {s:?} shows in {msg:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

/// The `WWW-Authenticate` parser (`challenge::parse`, `parse_all` and the accessors). Each line of
/// the input is one header value.
pub fn www_authenticate(data: &[u8]) {
    let s = text(data);
    let values: Vec<&str> = s.split('\n').collect();
    let all = challenge::parse_all(values.iter().copied());
    let one_by_one: Vec<_> = values.iter().flat_map(|v| challenge::parse(v)).collect();
    assert_eq!(
        all, one_by_one,
        "parse_all is parse of each value, in order"
    );
    assert!(all.len() <= s.len());
    let lower_token = |t: &str| {
        !t.is_empty()
            && t.bytes().all(|b| {
                (b.is_ascii_alphanumeric() && !b.is_ascii_uppercase())
                    || b"!#$%&'*+-.^_`|~".contains(&b)
            })
    };
    for c in &all {
        assert!(lower_token(&c.scheme), "scheme {:?}", c.scheme);
        for (name, _) in &c.params {
            assert!(lower_token(name), "parameter name {name:?}");
        }
        if let Some(t) = &c.token68 {
            assert!(!t.is_empty() && !t.contains([' ', ',']), "token68 {t:?}");
        }
        let scopes = c.scopes();
        for (i, sc) in scopes.iter().enumerate() {
            assert!(!sc.is_empty() && !sc.contains(char::is_whitespace));
            assert!(!scopes[..i].contains(sc), "duplicate scope {sc:?}");
        }
        assert_eq!(c.param("REALM"), c.realm());
        let _ = (c.service(), c.scope(), c.error());
    }
}

/// The other response headers: `Link` (`link_next`), `Retry-After` (`retry_after`, at several
/// `now`s from before the epoch to the end of time), the upload `Range` (`upload_range`), and
/// `resolve_url`. The whole input is the header value; its first line and the rest are also a
/// base URL and a location.
pub fn headers(data: &[u8]) {
    let s = text(data);

    if let Some(next) = headers::link_next(&s) {
        assert!(
            !next.is_empty() && next.trim() == next,
            "link_next gave {next:?}"
        );
        assert!(
            s.contains(next.as_str()),
            "link_next gave {next:?}, not in the header"
        );
        assert!(!next.contains('>'));
        for base in BASES {
            check_resolved(base, &next);
        }
    }

    let nows = [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(784_111_777), // Sun, 06 Nov 1994 08:49:37 GMT
        UNIX_EPOCH + Duration::from_secs(4_102_444_800), // 2100-01-01
        UNIX_EPOCH.checked_sub(Duration::from_secs(1)).unwrap(),
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(1 << 40))
            .unwrap(),
        UNIX_EPOCH + Duration::from_secs(i64::MAX as u64),
    ];
    let v = s.trim_matches([' ', '\t']);
    for now in nows {
        let got = headers::retry_after(&s, now);
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            let want = Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX));
            assert_eq!(got, Some(want), "delay-seconds {v:?}");
        } else if let Some(d) = got {
            // A date: `now + d` is the date (or `now` for a date in the past).
            assert!(now.checked_add(d).is_some(), "{s:?} at {now:?} gave {d:?}");
        }
    }

    if let Some((first, last)) = headers::upload_range(&s) {
        assert!(first <= last);
        assert_eq!(
            headers::upload_range(&format!("{first}-{last}")),
            Some((first, last))
        );
        assert_eq!(
            headers::upload_range(&format!("bytes={first}-{last}")),
            Some((first, last))
        );
    }

    for base in BASES {
        check_resolved(base, &s);
    }
    let (base, location) = s.split_once('\n').unwrap_or((&s, ""));
    let _ = crate::transport::join(base, location);
    let _ = crate::transport::join(location, base);
}

/// Base URLs as the transport has them.
const BASES: [&str; 4] = [
    "https://registry.example.com",
    "http://127.0.0.1:5000",
    "https://r.example/v2/team/app/blobs/uploads/",
    "https://[::1]:5000/proxy/v2/x/tags/list?n=10#frag",
];

/// A location resolved against a base is an http(s) URL that resolves to itself, and it is on
/// the base's origin exactly when `same_origin` says so.
fn check_resolved(base: &str, location: &str) {
    let Ok(resolved) = crate::transport::join(base, location) else {
        return;
    };
    assert!(resolved.starts_with("http://") || resolved.starts_with("https://"));
    assert_eq!(
        crate::transport::join(base, &resolved).as_deref(),
        Ok(resolved.as_str()),
        "{location:?} against {base:?}"
    );
    let same = crate::transport::same_origin(base, &resolved);
    let loc = location.trim();
    if same && !loc.is_empty() {
        let origin = crate::transport::origin_of(base);
        assert!(
            resolved.starts_with(origin),
            "{loc:?} against {base:?}: {resolved:?} is not on {origin:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The registry string of Client::builder
// ---------------------------------------------------------------------------------------------

/// The registry argument of `Client::builder` (`host`, `host:port`, `http(s)://[user:pw@]host
/// [/path]`) and `registry_key`, building with explicit anonymous credentials (nothing is read
/// or sent). A built client's name and base URL build the same registry again.
///
/// With four lines `prefix`, `user`, `password`, `rest`, the input
/// `{prefix}{user}:{password}@{rest}` is also built with another password of the same length:
/// every text the builder, the client and `registry_key` produce (`Debug`, `Display`, errors)
/// must be the same, so the password shows in none of them.
pub fn client_registry(data: &[u8]) {
    let s = text(data);
    check_registry_string(&s);
    check_registry_key(&s);

    let parts: Vec<&str> = s.splitn(4, '\n').collect();
    let [prefix, user, password, rest] = parts[..] else {
        return;
    };
    // The password is in the userinfo only when no '/' comes before the '@' after the scheme.
    let after_scheme = prefix.split_once("://").map_or(prefix, |(_, r)| r);
    if password.is_empty() || password.contains('/') || user.contains('/') {
        return;
    }
    if after_scheme.contains('/') {
        return;
    }
    let other: String = password
        .chars()
        .map(|c| if c == 'Z' { 'Y' } else { 'Z' })
        .collect();
    let with_password = format!("{prefix}{user}:{password}@{rest}");
    let with_other = format!("{prefix}{user}:{other}@{rest}");
    let a = registry_texts(&with_password);
    let b = registry_texts(&with_other);
    assert_eq!(
        a, b,
        "the password {password:?} of {with_password:?} shows (compare with {other:?})"
    );
}

fn check_registry_string(s: &str) {
    let built = Client::builder(s)
        .credentials(Credentials::Anonymous)
        .build();
    match built {
        Ok(c) => {
            let name = c.registry();
            assert!(!name.is_empty());
            assert_eq!(name, name.to_ascii_lowercase());
            let base = c.base_url();
            assert!(
                base.starts_with("https://") || base.starts_with("http://"),
                "{base}"
            );
            for again in [name, base] {
                let c2 = Client::builder(again)
                    .credentials(Credentials::Anonymous)
                    .build()
                    .unwrap_or_else(|e| panic!("{s:?} gave {again:?}, which does not build: {e}"));
                assert_eq!(c2.registry(), name, "{s:?} then {again:?}");
            }
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidInput(_)), "{s:?}: {e:?}");
            bounded(&e);
        }
    }
}

/// Every text derived from a registry string: the builder's `Debug` and `registry()`, the built
/// client's `Debug` or the error's `Display` and `Debug` (with anonymous credentials, and with
/// the userinfo's credentials and no config file), and `registry_key`'s answer.
fn registry_texts(s: &str) -> Vec<String> {
    let shown = |r: crate::Result<Client>| match r {
        Ok(c) => format!("{c:?} {} {}", c.registry(), c.base_url()),
        Err(e) => format!("{e} / {e:?}"),
    };
    let anonymous = Client::builder(s).credentials(Credentials::Anonymous);
    let mut out = vec![format!("{anonymous:?}"), anonymous.registry()];
    out.push(shown(anonymous.build()));
    let no_config = ConfigOptions {
        config_path: Some(PathBuf::from("/nonexistent/ocireg-fuzz/config.json")),
        helper_timeout: Duration::from_secs(1),
        containers_auth: false,
        helper_dirs: Vec::new(),
    };
    let from_userinfo = Client::builder(s).config_options(no_config);
    out.push(format!("{from_userinfo:?}"));
    out.push(shown(from_userinfo.build()));
    out.push(match registry_key(s) {
        Ok(k) => k,
        Err(e) => format!("{e} / {e:?}"),
    });
    out
}

// ---------------------------------------------------------------------------------------------
// The C ABI
// ---------------------------------------------------------------------------------------------

/// The C ABI's string inputs that need no network: the option setters, `ocireg_client_new`,
/// `ocireg_logout` and `ocireg_login` (up to where they would write or connect), the image builder
/// and push options, and the argument checks of `ocireg_manifest_get`, `ocireg_tags`,
/// `ocireg_blob_exists` and `ocireg_pull_image` (called only with arguments the Rust validators
/// reject, so they fail before any request). Every status is checked against the Rust API and
/// every error and object returned is freed.
///
/// The first byte holds flags; the rest is NUL-separated strings (missing ones are empty):
/// registry, user, password or token, user agent, proxy, repository, reference or digest,
/// platform, annotation key, annotation value (also the config), media type, CA PEM.
pub fn ffi(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let strings: Vec<CString> = rest
        .split(|&b| b == 0)
        .take(12)
        .map(|p| CString::new(p).expect("no NUL inside a part"))
        .collect();
    let empty = CString::default();
    let arg = |i: usize| strings.get(i).unwrap_or(&empty);
    // SAFETY: every pointer passed below is a live CString, a live object returned by the
    // library (freed once), a local out-parameter, or NULL where the contract allows NULL.
    unsafe { ffi_run(flags, &arg) }
}

/// The text of a C string argument, `None` when it is not UTF-8 (the C ABI's rule).
fn utf8(c: &CString) -> Option<&str> {
    c.to_str().ok()
}

/// Checks a status and its error object against the expected outcome, frees the error, and
/// returns the message.
///
/// # Safety
///
/// `err` must be NULL or an error object from the library.
unsafe fn outcome(
    what: &str,
    status: ocireg_status,
    err: *mut ocireg_error,
    want: Option<ocireg_status>,
) -> Option<String> {
    use crate::ffi::error::*;
    assert_ne!(status, ocireg_status::OCIREG_PANIC, "{what} panicked");
    if let Some(w) = want {
        let msg = if err.is_null() {
            String::new()
        } else {
            // SAFETY: a live error object.
            unsafe { CStr::from_ptr(ocireg_error_message(err)) }
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(status, w, "{what}: {msg}");
    }
    if status == ocireg_status::OCIREG_OK {
        assert!(err.is_null(), "{what}: an error object on success");
        return None;
    }
    assert!(!err.is_null(), "{what}: no error object");
    // SAFETY: a live error object, freed once below.
    unsafe {
        assert_eq!(ocireg_error_status(err), status);
        let msg = ocireg_error_message(err);
        assert!(!msg.is_null());
        let msg = CStr::from_ptr(msg)
            .to_str()
            .unwrap_or_else(|e| panic!("{what}: message is not UTF-8: {e}"))
            .to_string();
        assert!(
            !msg.is_empty() && msg.len() <= MAX_MESSAGE,
            "{what}: {msg:?}"
        );
        let _ = ocireg_error_http_status(err);
        let _ = ocireg_error_registry_code(err);
        let _ = ocireg_error_retry_after_secs(err);
        ocireg_error_free(err);
        Some(msg)
    }
}

/// The status the C ABI reports for a Rust result.
fn status_of<T>(r: &crate::Result<T>) -> ocireg_status {
    match r {
        Ok(_) => ocireg_status::OCIREG_OK,
        Err(e) => crate::ffi::error::Failure::from(clone_error(e)).status,
    }
}

/// The variants the parsers here produce, rebuilt (`Error` is not `Clone`).
fn clone_error(e: &Error) -> Error {
    match e {
        Error::InvalidInput(m) => Error::InvalidInput(m.clone()),
        Error::InvalidReference(m) => Error::InvalidReference(m.clone()),
        Error::Credentials(m) => Error::Credentials(m.clone()),
        Error::Tls { registry, message } => Error::Tls {
            registry: registry.clone(),
            message: message.clone(),
        },
        other => panic!("unexpected error from a parser: {other:?}"),
    }
}

const INVALID_ARGUMENT: ocireg_status = ocireg_status::OCIREG_INVALID_ARGUMENT;
const OK: ocireg_status = ocireg_status::OCIREG_OK;

/// # Safety
///
/// `arg` gives live C strings.
unsafe fn ffi_run<'a>(flags: u8, arg: &dyn Fn(usize) -> &'a CString) {
    use crate::ffi::catalog::ocireg_tags;
    use crate::ffi::client::*;
    use crate::ffi::credentials::{ocireg_login, ocireg_logout};
    use crate::ffi::image::*;
    use crate::ffi::manifest::ocireg_manifest_get;
    use crate::ffi::pull::ocireg_pull_image;
    use crate::ffi::push::*;
    use crate::ffi::strings::{ocireg_bytes_free, ocireg_string_free, ocireg_string_list_free};

    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    let scratch = SCRATCH.get_or_init(|| scratch_dir("ffi"));
    let mut err: *mut ocireg_error = ptr::null_mut();
    let e = &mut err as *mut *mut ocireg_error;

    // SAFETY: see `ffi`.
    unsafe {
        // Options: credentials always explicit, so the resolution chain never reads the
        // machine's docker config or runs its helpers.
        let mut opts: *mut ocireg_options = ptr::null_mut();
        let st = ocireg_options_new(&mut opts, e);
        outcome("options_new", st, err, Some(OK));
        let (user, secret) = (arg(1), arg(2));
        let creds_ok = match flags & 3 {
            0 => ocireg_options_set_anonymous(opts, e),
            1 => ocireg_options_set_username_password(opts, user.as_ptr(), secret.as_ptr(), e),
            2 => ocireg_options_set_identity_token(opts, secret.as_ptr(), e),
            _ => ocireg_options_set_bearer_token(opts, secret.as_ptr(), e),
        };
        let want = match flags & 3 {
            0 => OK,
            1 if utf8(user).is_none() => INVALID_ARGUMENT,
            _ if utf8(secret).is_none() => INVALID_ARGUMENT,
            _ => OK,
        };
        if outcome("credentials", creds_ok, err, Some(want)).is_some() {
            let st = ocireg_options_set_anonymous(opts, e);
            outcome("set_anonymous", st, err, Some(OK));
        }
        // NULL arguments are errors, never crashes.
        let st = ocireg_options_set_username_password(opts, ptr::null(), secret.as_ptr(), e);
        outcome("NULL username", st, err, Some(INVALID_ARGUMENT));
        let st = ocireg_options_set_user_agent(ptr::null_mut(), arg(3).as_ptr(), e);
        outcome("NULL options", st, err, Some(INVALID_ARGUMENT));

        let ua = arg(3);
        let st = ocireg_options_set_user_agent(opts, ua.as_ptr(), e);
        let want = match utf8(ua) {
            Some(u) if !u.contains(['\r', '\n']) => OK,
            _ => INVALID_ARGUMENT,
        };
        outcome("set_user_agent", st, err, Some(want));
        if flags & 4 != 0 {
            let p = arg(4);
            let st = ocireg_options_set_proxy(opts, p.as_ptr(), e);
            let want = match utf8(p) {
                Some(p) if !p.is_empty() => OK,
                _ => INVALID_ARGUMENT,
            };
            outcome("set_proxy", st, err, Some(want));
        }
        let kind = u32::from(flags >> 5);
        let st = ocireg_options_set_timeout_ms(opts, kind, u64::from(flags), e);
        outcome(
            "set_timeout_ms",
            st,
            err,
            Some(if kind <= 4 { OK } else { INVALID_ARGUMENT }),
        );
        let st = ocireg_options_set_insecure(opts, c_int::from(flags & 8 != 0), e);
        outcome("set_insecure", st, err, Some(OK));
        let st = ocireg_options_set_max_retries(opts, 0, e);
        outcome("set_max_retries", st, err, Some(OK));
        if flags & 16 != 0 {
            let pem = arg(11).as_bytes();
            let st = ocireg_options_set_ca_cert_pem(opts, pem.as_ptr(), pem.len(), e);
            let want = if pem.is_empty() { INVALID_ARGUMENT } else { OK };
            outcome("set_ca_cert_pem", st, err, Some(want));
        }

        // The client, against the Rust builder with the same options.
        let registry = arg(0);
        let mut client: *mut ocireg_client = ptr::null_mut();
        let st = ocireg_client_new(registry.as_ptr(), opts, &mut client, e);
        let want = match utf8(registry) {
            None => INVALID_ARGUMENT,
            Some(r) => status_of(&(*opts).builder(r).build()),
        };
        outcome("client_new", st, err, Some(want));
        if st == OK {
            let name = CStr::from_ptr(ocireg_client_registry(client))
                .to_str()
                .unwrap();
            let rust = (*opts).builder(utf8(registry).unwrap()).build().unwrap();
            assert_eq!(name, rust.registry());
            let base = CStr::from_ptr(ocireg_client_base_url(client))
                .to_str()
                .unwrap();
            assert_eq!(base, rust.base_url());
            assert!(!ocireg_client_credential_source(client).is_null());
            assert_eq!(ocireg_client_request_count(client), 0);
            ocireg_client_free(client);
        }

        // Logout and login with a config file that does not exist: nothing is written, no
        // helper runs, and login stops at its empty user name before connecting.
        let config = CString::new(scratch.join("config.json").to_str().unwrap()).unwrap();
        let mut logged_out: c_int = -1;
        let st = ocireg_logout(registry.as_ptr(), config.as_ptr(), &mut logged_out, e);
        let want = match utf8(registry) {
            Some(r) if registry_key(r).is_ok() => OK,
            _ => INVALID_ARGUMENT,
        };
        outcome("logout", st, err, Some(want));
        if st == OK {
            assert_eq!(logged_out, 0);
        }
        let mut stored: *mut c_char = ptr::null_mut();
        let st = ocireg_login(
            registry.as_ptr(),
            c"".as_ptr(),
            secret.as_ptr(),
            config.as_ptr(),
            ptr::null(),
            &mut stored,
            e,
        );
        outcome("login", st, err, Some(INVALID_ARGUMENT));
        assert!(stored.is_null());
        assert!(
            !scratch.join("config.json").exists(),
            "logout or login created the config file"
        );

        // Calls that would connect, made only with arguments the Rust API rejects: they must
        // fail on their arguments (a connection attempt to 127.0.0.1:1 would say NETWORK).
        let mut offline: *mut ocireg_options = ptr::null_mut();
        outcome(
            "options_new",
            ocireg_options_new(&mut offline, e),
            err,
            Some(OK),
        );
        outcome(
            "anon",
            ocireg_options_set_anonymous(offline, e),
            err,
            Some(OK),
        );
        outcome(
            "retries",
            ocireg_options_set_max_retries(offline, 0, e),
            err,
            Some(OK),
        );
        let mut c: *mut ocireg_client = ptr::null_mut();
        let st = ocireg_client_new(c"http://127.0.0.1:1".as_ptr(), offline, &mut c, e);
        outcome("offline client", st, err, Some(OK));
        ocireg_options_free(offline);
        let (repo, reference, platform) = (arg(5), arg(6), arg(7));
        let rust_check = |r: crate::Result<()>| status_of(&r);
        let repo_status = match utf8(repo) {
            None => INVALID_ARGUMENT,
            Some(r) => rust_check(validate_repository(r)),
        };
        let ref_status = match utf8(reference) {
            None => INVALID_ARGUMENT,
            Some(r) => rust_check(TagOrDigest::parse(r).map(|_| ())),
        };
        let digest_status = match utf8(reference) {
            None => INVALID_ARGUMENT,
            Some(r) => rust_check(r.parse::<Digest>().map(|_| ())),
        };
        // The first failing argument decides, in the order the function reads them; a
        // non-UTF-8 string fails when it is read, before any validation.
        let first_failure = |checks: &[(bool, ocireg_status)]| {
            if let Some(&(_, s)) = checks.iter().find(|(not_utf8, _)| *not_utf8) {
                return s;
            }
            checks
                .iter()
                .map(|&(_, s)| s)
                .find(|&s| s != OK)
                .unwrap_or(OK)
        };
        let repo_bad = utf8(repo).is_none();
        let ref_bad = utf8(reference).is_none();
        let want = first_failure(&[(repo_bad, repo_status), (ref_bad, ref_status)]);
        if want != OK {
            let (mut bytes, mut len): (*mut u8, usize) = (ptr::null_mut(), 0);
            let st = ocireg_manifest_get(
                c,
                repo.as_ptr(),
                reference.as_ptr(),
                &mut bytes,
                &mut len,
                ptr::null_mut(),
                ptr::null_mut(),
                e,
            );
            outcome("manifest_get", st, err, Some(want));
            assert!(bytes.is_null());
            ocireg_bytes_free(bytes, len);
        }
        if repo_status != OK {
            let mut list = ptr::null_mut();
            let st = ocireg_tags(c, repo.as_ptr(), &mut list, e);
            outcome("tags", st, err, Some(repo_status));
            assert!(list.is_null());
            ocireg_string_list_free(list);
        }
        let want = first_failure(&[(repo_bad, repo_status), (ref_bad, digest_status)]);
        if want != OK {
            let mut exists: c_int = -1;
            let st = crate::ffi::blob::ocireg_blob_exists(
                c,
                repo.as_ptr(),
                reference.as_ptr(),
                &mut exists,
                ptr::null_mut(),
                e,
            );
            outcome("blob_exists", st, err, Some(want));
        }
        let platform_status = match utf8(platform) {
            None => INVALID_ARGUMENT,
            Some(p) => status_of(&parse_platform(p)),
        };
        if platform_status != OK {
            let dir = CString::new(scratch.join("pull").to_str().unwrap()).unwrap();
            let st = ocireg_pull_image(
                c,
                c"library/alpine".as_ptr(),
                c"latest".as_ptr(),
                dir.as_ptr(),
                platform.as_ptr(),
                0,
                None,
                ptr::null_mut(),
                ptr::null_mut(),
                e,
            );
            outcome("pull_image", st, err, Some(platform_status));
            assert!(
                !scratch.join("pull").exists(),
                "a failed pull created its directory"
            );
        }
        ocireg_client_free(c);

        // Push options.
        let mut push = ptr::null_mut();
        outcome(
            "push_options_new",
            ocireg_push_options_new(&mut push, e),
            err,
            Some(OK),
        );
        let st = ocireg_push_options_set_mount_from(push, repo.as_ptr(), e);
        outcome("set_mount_from", st, err, Some(repo_status));
        let st = ocireg_push_options_set_mount_from(push, ptr::null(), e);
        outcome("set_mount_from NULL", st, err, Some(OK));
        ocireg_push_options_free(push);

        // The image builder, against the Rust builder.
        let (key, value, media_type) = (arg(8), arg(9), arg(10));
        let mut b = ptr::null_mut();
        outcome(
            "builder_new",
            ocireg_image_builder_new(&mut b, e),
            err,
            Some(OK),
        );
        let mut rust = Some(ImageBuilder::new());
        let config = value.as_bytes();
        let mt_arg = if flags & 64 != 0 {
            media_type.as_ptr()
        } else {
            ptr::null()
        };
        let st = ocireg_image_builder_set_config(b, config.as_ptr(), config.len(), mt_arg, e);
        let want = if flags & 64 != 0 && utf8(media_type).is_none() {
            INVALID_ARGUMENT
        } else {
            rust = rust.map(
                |r| match (flags & 64 != 0).then(|| utf8(media_type).unwrap()) {
                    Some(m) => r.config_with_media_type(config.to_vec(), m),
                    None => r.config(config.to_vec()),
                },
            );
            OK
        };
        outcome("set_config", st, err, Some(want));
        let layer = arg(6).as_bytes();
        let st = ocireg_image_builder_add_layer_bytes(
            b,
            layer.as_ptr(),
            layer.len(),
            media_type.as_ptr(),
            e,
        );
        let want = match utf8(media_type) {
            Some(m) => {
                rust = rust.map(|r| r.layer_bytes(layer.to_vec(), m));
                OK
            }
            None => INVALID_ARGUMENT,
        };
        outcome("add_layer_bytes", st, err, Some(want));
        let st = ocireg_image_builder_add_annotation(b, key.as_ptr(), value.as_ptr(), e);
        let want = match (utf8(key), utf8(value)) {
            (Some(k), Some(v)) => {
                rust = rust.map(|r| r.annotation(k, v));
                OK
            }
            _ => INVALID_ARGUMENT,
        };
        outcome("add_annotation", st, err, Some(want));
        if flags & 128 != 0 {
            let st = ocireg_image_builder_set_artifact_type(b, media_type.as_ptr(), e);
            let want = match utf8(media_type) {
                Some(m) => {
                    rust = rust.map(|r| r.artifact_type(m));
                    OK
                }
                None => INVALID_ARGUMENT,
            };
            outcome("set_artifact_type", st, err, Some(want));
        }
        let docker = flags & 2 != 0;
        let st = ocireg_image_builder_set_docker_schema2(b, c_int::from(docker), e);
        outcome("set_docker_schema2", st, err, Some(OK));
        let rust = rust.unwrap().format(if docker {
            ManifestFormat::DockerV2
        } else {
            ManifestFormat::Oci
        });
        let rust_image = rust.build();
        let mut image = ptr::null_mut();
        let st = ocireg_image_builder_build(b, &mut image, e);
        outcome("builder_build", st, err, Some(status_of(&rust_image)));
        if st == OK {
            let rust_image = rust_image.unwrap();
            let mut len = 0usize;
            let p = ocireg_image_manifest(image, &mut len);
            let bytes = std::slice::from_raw_parts(p, len);
            assert_eq!(bytes, &rust_image.manifest().bytes[..]);
            let mt = CStr::from_ptr(ocireg_image_media_type(image))
                .to_str()
                .unwrap();
            let digest = CStr::from_ptr(ocireg_image_digest(image)).to_str().unwrap();
            assert_eq!(digest, Digest::sha256_of(bytes).to_string());
            let m = Manifest::from_bytes(bytes.to_vec(), Some(mt)).unwrap();
            let parsed = m
                .image()
                .expect("a built manifest parses as an image manifest");
            if let (Some(k), Some(v), false) = (utf8(key), utf8(value), docker) {
                let ann = parsed.annotations.unwrap_or_default();
                assert_eq!(ann.get(k).map(String::as_str), Some(v));
            }
            ocireg_image_free(image);
        } else {
            assert!(image.is_null());
        }
        ocireg_image_builder_free(b);
        ocireg_options_free(opts);
        // Owned strings: none was handed out above, but NULL frees are no-ops.
        ocireg_string_free(ptr::null_mut());
    }
}
