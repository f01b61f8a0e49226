//! The endpoints of the test registry and of its redirect target (the "object store", also the
//! "other origin" of the hostile scenarios).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::RecordedRequest;
use super::auth::{AuthState, Authz, Need, Resource};
use super::faults::Faults;
use super::hostile::{self, Hostile, OTHER_ORIGIN_NAME, RangeMode};
use super::server::{self, Body, Delivery, Incoming, MAX_BODY, READ_BUF, Relay, Reply};
use super::store::{Manifest, Reference, Session, SessionEntry, Store, check_manifest};
use super::util::{self, lock, parse_query, query_get, valid_name, valid_tag};
use crate::digest::Digest;

/// The largest manifest accepted (4 MiB).
const MAX_MANIFEST: usize = 4 << 20;
/// The largest page of `/v2/_catalog`.
const MAX_PAGE: usize = 1000;

/// State shared by the listeners and the [`Registry`](super::Registry) handle.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub auth: AuthState,
    pub faults: Faults,
    pub log: Mutex<Vec<RecordedRequest>>,
    pub port: u16,
    pub object_port: u16,
    pub stopping: AtomicBool,
}

impl Shared {
    pub(crate) fn new(auth: AuthState, port: u16, object_port: u16) -> Self {
        Shared {
            store: Mutex::new(Store::default()),
            auth,
            faults: Faults::default(),
            log: Mutex::new(Vec::new()),
            port,
            object_port,
            stopping: AtomicBool::new(false),
        }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn record(&self, inc: &Incoming, status: u16, object_store: bool) {
        lock(&self.log).push(RecordedRequest {
            method: inc.method.clone(),
            path: inc.path.clone(),
            query: util::redact_query(&inc.query),
            status,
            authorized: inc.header("Authorization").is_some(),
            object_store,
        });
    }

    /// Waits for the configured delay (cut short when the registry stops).
    fn pause(&self) {
        let d = self.faults.delay();
        if d.is_zero() {
            return;
        }
        let end = Instant::now() + d;
        loop {
            let now = Instant::now();
            if now >= end || self.stopping.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }
}

/// Serves one request of the registry listener.
pub(crate) fn registry(shared: &Shared, mut inc: Incoming, relay: &Relay) {
    let hostile = shared.faults.hostile();
    let (reply, delivery) = route(shared, &mut inc, &hostile);
    let reply = hostile::error_reply(&hostile, reply)
        .with("Docker-Distribution-Api-Version", "registry/2.0");
    let delivery = drip(&hostile, &inc, &reply, delivery);
    shared.record(&inc, reply.status, false);
    shared.pause();
    server::send(inc, reply, relay, delivery);
}

/// Serves one request of the object store (the target of blob redirects, and the other origin
/// of the hostile scenarios): no authentication.
pub(crate) fn object_store(shared: &Shared, inc: Incoming, relay: &Relay) {
    let hostile = shared.faults.hostile();
    let (reply, delivery) = object(shared, &inc, &hostile);
    let reply = hostile::error_reply(&hostile, reply);
    let delivery = drip(&hostile, &inc, &reply, delivery);
    shared.record(&inc, reply.status, true);
    shared.pause();
    server::send(inc, reply, relay, delivery);
}

/// [`Hostile::SlowDrip`] drips successful GET answers with a body, but not `/v2/` itself.
fn drip(h: &Hostile, inc: &Incoming, reply: &Reply, d: Delivery) -> Delivery {
    match h {
        Hostile::SlowDrip { interval }
            if d == Delivery::Normal
                && inc.method == "GET"
                && (200..300).contains(&reply.status)
                && !reply.body_bytes().is_empty()
                && inc.path != "/v2/"
                && inc.path != "/v2" =>
        {
            Delivery::Drip(*interval)
        }
        _ => d,
    }
}

fn object(shared: &Shared, inc: &Incoming, hostile: &Hostile) -> (Reply, Delivery) {
    if inc.path == "/v2" || inc.path.starts_with("/v2/") {
        return other_origin(shared, inc, hostile);
    }
    let found = inc
        .path
        .strip_prefix("/objects/")
        .and_then(|p| util::percent_decode(p, false))
        .and_then(|p| {
            let (name, digest) = p.rsplit_once('/')?;
            let digest: Digest = digest.parse().ok()?;
            let blob = lock(&shared.store).blob(name, &digest)?;
            Some((digest, blob))
        });
    let Some((digest, blob)) = found else {
        return (
            Reply::error(404, "BLOB_UNKNOWN", "no such object"),
            Delivery::Normal,
        );
    };
    match inc.method.as_str() {
        "GET" | "HEAD" => serve_blob(shared, inc, &digest, blob, hostile),
        _ => (method_not_allowed("GET, HEAD"), Delivery::Normal),
    }
}

/// `/v2/` paths at the object store, the other origin of [`Hostile::CrossOriginLink`] and
/// [`Hostile::CrossPortRedirect`]: GET and HEAD of `/v2/`, the catalog, tag lists, manifests
/// and blobs, without authentication.
fn other_origin(shared: &Shared, inc: &Incoming, hostile: &Hostile) -> (Reply, Delivery) {
    let normal = |r: Reply| (r, Delivery::Normal);
    let decoded = match decode_v2_path(&inc.path) {
        Ok(d) => d,
        Err(r) => return normal(r),
    };
    let route = match parse_route(&decoded) {
        Ok(r) => r,
        Err(r) => return normal(r),
    };
    if inc.method != "GET" && inc.method != "HEAD" {
        return normal(method_not_allowed("GET, HEAD"));
    }
    let query = parse_query(&inc.query);
    match route {
        Route::Base => normal(Reply::json(200, &serde_json::json!({}))),
        Route::Catalog => normal(catalog(shared, &query, hostile, Origin::Other)),
        Route::Tags(name) => normal(tags(shared, name, &query, hostile, Origin::Other)),
        Route::Manifest(name, reference) => normal(get_manifest(shared, name, reference)),
        Route::Blob(name, digest) => {
            let digest: Digest = match digest.parse() {
                Ok(d) => d,
                Err(e) => return normal(digest_invalid(&e.to_string())),
            };
            let Some(blob) = lock(&shared.store).blob(name, &digest) else {
                return normal(blob_unknown(&digest));
            };
            serve_blob(shared, inc, &digest, blob, hostile)
        }
        Route::UploadStart(_) | Route::Upload(..) => normal(Reply::error(
            404,
            "UNSUPPORTED",
            "uploads are not served by the other origin",
        )),
    }
}

/// The decoded part of a registry path after `/v2/`.
fn decode_v2_path(path: &str) -> Result<String, Reply> {
    let Some(rest) = path.strip_prefix("/v2") else {
        return Err(Reply::error(404, "UNSUPPORTED", "not a registry path"));
    };
    util::percent_decode(rest.strip_prefix('/').unwrap_or(rest), false)
        .ok_or_else(|| Reply::error(400, "NAME_INVALID", "the path has a malformed %-escape"))
}

/// The route of a decoded registry path, with a valid repository name.
fn parse_route(decoded: &str) -> Result<Route<'_>, Reply> {
    let Some(route) = Route::parse(decoded) else {
        return Err(Reply::error(404, "UNSUPPORTED", "unknown registry path"));
    };
    if let Some(name) = route.name()
        && !valid_name(name)
    {
        return Err(Reply::error_detail(
            400,
            "NAME_INVALID",
            "invalid repository name",
            serde_json::json!({ "name": util::percent_encode(name) }),
        ));
    }
    Ok(route)
}

/// A parsed registry path (after `/v2/`, decoded).
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Base,
    Catalog,
    Tags(&'a str),
    Manifest(&'a str, &'a str),
    Blob(&'a str, &'a str),
    UploadStart(&'a str),
    Upload(&'a str, &'a str),
}

impl<'a> Route<'a> {
    /// Repository names may contain `manifests` or `blobs` components, so the route is found
    /// from the end of the path.
    fn parse(p: &'a str) -> Option<Route<'a>> {
        if p.is_empty() {
            return Some(Route::Base);
        }
        if p == "_catalog" {
            return Some(Route::Catalog);
        }
        if let Some(name) = p.strip_suffix("/tags/list") {
            return Some(Route::Tags(name));
        }
        if let Some(name) = p
            .strip_suffix("/blobs/uploads/")
            .or_else(|| p.strip_suffix("/blobs/uploads"))
        {
            return Some(Route::UploadStart(name));
        }
        let (rest, last) = p.rsplit_once('/')?;
        if let Some(name) = rest.strip_suffix("/blobs/uploads") {
            return Some(Route::Upload(name, last));
        }
        if let Some(name) = rest.strip_suffix("/manifests") {
            return Some(Route::Manifest(name, last));
        }
        if let Some(name) = rest.strip_suffix("/blobs") {
            return Some(Route::Blob(name, last));
        }
        None
    }

    fn name(&self) -> Option<&'a str> {
        match *self {
            Route::Base | Route::Catalog => None,
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _) => Some(n),
        }
    }

    /// The methods the route answers.
    fn allow(&self) -> &'static str {
        match self {
            Route::Base | Route::Catalog | Route::Tags(_) => "GET, HEAD",
            Route::Manifest(..) => "GET, HEAD, PUT, DELETE",
            Route::Blob(..) => "GET, HEAD, DELETE",
            Route::UploadStart(_) => "POST",
            Route::Upload(..) => "GET, PATCH, PUT, DELETE",
        }
    }
}

fn method_not_allowed(allow: &'static str) -> Reply {
    Reply::error(405, "UNSUPPORTED", "method not allowed on this path").with("Allow", allow)
}

fn repo_need(name: &str, actions: &[&str]) -> Need {
    Need {
        required: vec![Resource::repository(name, actions)],
        optional: Vec::new(),
    }
}

fn route(shared: &Shared, inc: &mut Incoming, hostile: &Hostile) -> (Reply, Delivery) {
    if inc.path == "/token" {
        let query = parse_query(&inc.query);
        let body = if inc.method == "POST" {
            match inc.read_all(64 << 10) {
                Ok(b) => b,
                Err(_) => {
                    return (
                        Reply::error(400, "UNSUPPORTED", "the token form is too long or broken"),
                        Delivery::Normal,
                    );
                }
            }
        } else {
            Vec::new()
        };
        let auth = inc.header("Authorization").map(str::to_string);
        let reply = shared
            .auth
            .token_endpoint(&inc.method, &query, auth.as_deref(), &body);
        return (hostile::token_reply(hostile, reply), Delivery::Normal);
    }
    if let Some(reply) = shared.faults.take_fail() {
        return (reply, Delivery::Normal);
    }
    let decoded = match decode_v2_path(&inc.path) {
        Ok(d) => d,
        Err(r) => return (r, Delivery::Normal),
    };
    let route = match parse_route(&decoded) {
        Ok(r) => r,
        Err(r) => return (r, Delivery::Normal),
    };
    let method = inc.method.clone();
    let m = method.as_str();
    if !route.allow().split(", ").any(|a| a == m) {
        return (method_not_allowed(route.allow()), Delivery::Normal);
    }
    let query = parse_query(&inc.query);
    let need = match route {
        Route::Base => Need::default(),
        Route::Catalog => Need {
            required: vec![Resource::catalog()],
            optional: Vec::new(),
        },
        Route::Tags(n) => repo_need(n, &["pull"]),
        Route::Manifest(n, _) | Route::Blob(n, _) => match m {
            "DELETE" => repo_need(n, &["delete"]),
            "PUT" => repo_need(n, &["pull", "push"]),
            _ => repo_need(n, &["pull"]),
        },
        Route::UploadStart(n) => {
            let mut need = repo_need(n, &["pull", "push"]);
            if let (Some(_), Some(from)) = (query_get(&query, "mount"), query_get(&query, "from"))
                && valid_name(from)
            {
                need.optional.push(Resource::repository(from, &["pull"]));
            }
            need
        }
        Route::Upload(n, _) => repo_need(n, &["pull", "push"]),
    };
    let authz = match shared
        .auth
        .check(inc.header("Authorization"), &need, &shared.realm())
    {
        Ok(a) => a,
        Err(mut reply) => {
            if let Hostile::NoChallenge401 { everywhere } = *hostile
                && (everywhere || route != Route::Base)
            {
                reply
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("WWW-Authenticate"));
            }
            return (reply, Delivery::Normal);
        }
    };
    let head = m == "HEAD";
    if *hostile == Hostile::CrossPortRedirect
        && (m == "GET" || head)
        && matches!(
            route,
            Route::Tags(_) | Route::Manifest(..) | Route::Blob(..)
        )
    {
        let mut location = format!("http://127.0.0.1:{}{}", shared.object_port, inc.path);
        if !inc.query.is_empty() {
            location.push('?');
            location.push_str(&inc.query);
        }
        return (Reply::new(307).with("Location", location), Delivery::Normal);
    }
    match route {
        Route::Base => (Reply::json(200, &serde_json::json!({})), Delivery::Normal),
        Route::Catalog => (
            catalog(shared, &query, hostile, Origin::Registry),
            Delivery::Normal,
        ),
        Route::Tags(name) => (
            tags(shared, name, &query, hostile, Origin::Registry),
            Delivery::Normal,
        ),
        Route::Manifest(name, reference) => (
            match m {
                "PUT" => put_manifest(shared, inc, name, reference),
                "DELETE" => delete_manifest(shared, name, reference),
                _ => get_manifest(shared, name, reference),
            },
            Delivery::Normal,
        ),
        Route::Blob(name, digest) => {
            let digest: Digest = match digest.parse() {
                Ok(d) => d,
                Err(e) => return (digest_invalid(&e.to_string()), Delivery::Normal),
            };
            if m == "DELETE" {
                return (delete_blob(shared, name, &digest), Delivery::Normal);
            }
            let Some(blob) = lock(&shared.store).blob(name, &digest) else {
                return (blob_unknown(&digest), Delivery::Normal);
            };
            if !head && shared.faults.redirect() {
                let location = format!(
                    "http://localhost:{}/objects/{name}/{digest}",
                    shared.object_port
                );
                return (Reply::new(307).with("Location", location), Delivery::Normal);
            }
            serve_blob(shared, inc, &digest, blob, hostile)
        }
        Route::UploadStart(name) => (
            start_upload(shared, inc, name, &query, &authz),
            Delivery::Normal,
        ),
        Route::Upload(name, id) => (
            match m {
                "PATCH" => patch_upload(shared, inc, name, id),
                "PUT" => put_upload(shared, inc, name, id, &query),
                "DELETE" => delete_upload(shared, name, id),
                _ => upload_status(shared, name, id),
            },
            Delivery::Normal,
        ),
    }
}

fn digest_invalid(message: &str) -> Reply {
    Reply::error(400, "DIGEST_INVALID", message)
}

fn blob_unknown(digest: &Digest) -> Reply {
    Reply::error_detail(
        404,
        "BLOB_UNKNOWN",
        "blob unknown to registry",
        serde_json::json!({ "digest": digest.to_string() }),
    )
}

fn manifest_unknown(reference: &str) -> Reply {
    Reply::error_detail(
        404,
        "MANIFEST_UNKNOWN",
        "manifest unknown",
        serde_json::json!({ "reference": util::percent_encode(reference) }),
    )
}

/// A tag or a digest; `Err(true)` for a malformed digest, `Err(false)` for a malformed tag.
fn parse_reference(r: &str) -> Result<Reference, (bool, String)> {
    if r.contains(':') {
        r.parse::<Digest>()
            .map(Reference::Digest)
            .map_err(|e| (true, e.to_string()))
    } else if valid_tag(r) {
        Ok(Reference::Tag(r.to_string()))
    } else {
        Err((
            false,
            format!("invalid tag {:?}", crate::digest::shorten(r)),
        ))
    }
}

fn get_manifest(shared: &Shared, name: &str, reference: &str) -> Reply {
    let r = match parse_reference(reference) {
        Ok(r) => r,
        Err((true, msg)) => return digest_invalid(&msg),
        Err((false, _)) => return manifest_unknown(reference),
    };
    let found = lock(&shared.store)
        .repos
        .get(name)
        .and_then(|repo| repo.manifest(&r));
    match found {
        Some((digest, m)) => {
            let end = m.bytes.len();
            Reply {
                status: 200,
                headers: vec![
                    ("Content-Type", m.media_type),
                    ("Docker-Content-Digest", digest.to_string()),
                    ("Etag", format!("\"{digest}\"")),
                ],
                body: Body::Slice {
                    data: m.bytes,
                    start: 0,
                    end,
                },
            }
        }
        None => manifest_unknown(reference),
    }
}

fn put_manifest(shared: &Shared, inc: &mut Incoming, name: &str, reference: &str) -> Reply {
    let r = match parse_reference(reference) {
        Ok(r) => r,
        Err((true, msg)) => return digest_invalid(&msg),
        Err((false, msg)) => return Reply::error(400, "MANIFEST_INVALID", &msg),
    };
    let body = match inc.read_all(MAX_MANIFEST) {
        Ok(b) => b,
        Err(true) => {
            return Reply::error(413, "MANIFEST_INVALID", "the manifest is larger than 4 MiB");
        }
        Err(false) => {
            return Reply::error(
                400,
                "SIZE_INVALID",
                "the body does not match Content-Length",
            );
        }
    };
    let content_type = inc.header("Content-Type").map(str::to_string);
    let mut store = lock(&shared.store);
    let media_type = match check_manifest(store.repos.get(name), content_type.as_deref(), &body) {
        Ok(mt) => mt,
        Err(e) => return Reply::error_detail(400, e.code, &e.message, e.detail),
    };
    let digest = match &r {
        Reference::Digest(d) => {
            let actual = d.of_same_kind(&body);
            if &actual != d {
                return Reply::error_detail(
                    400,
                    "DIGEST_INVALID",
                    "the manifest does not match the digest it was pushed by",
                    serde_json::json!({ "expected": d.to_string(), "actual": actual.to_string() }),
                );
            }
            d.clone()
        }
        Reference::Tag(_) => Digest::sha256_of(&body),
    };
    let repo = store.repo_mut(name);
    repo.manifests.insert(
        digest.clone(),
        Manifest {
            bytes: Arc::new(body),
            media_type,
        },
    );
    if let Reference::Tag(t) = r {
        repo.tags.insert(t, digest.clone());
    }
    Reply::new(201)
        .with("Location", format!("/v2/{name}/manifests/{digest}"))
        .with("Docker-Content-Digest", digest.to_string())
}

fn delete_manifest(shared: &Shared, name: &str, reference: &str) -> Reply {
    let r = match parse_reference(reference) {
        Ok(r) => r,
        Err((true, msg)) => return digest_invalid(&msg),
        Err((false, _)) => return manifest_unknown(reference),
    };
    let mut store = lock(&shared.store);
    let Some(repo) = store.repos.get_mut(name) else {
        return manifest_unknown(reference);
    };
    let found = match &r {
        Reference::Digest(d) => repo.delete_manifest(d),
        Reference::Tag(t) => repo.tags.remove(t).is_some(),
    };
    store.prune(name);
    if found {
        Reply::new(202)
    } else {
        manifest_unknown(reference)
    }
}

fn delete_blob(shared: &Shared, name: &str, digest: &Digest) -> Reply {
    let mut store = lock(&shared.store);
    let found = store
        .repos
        .get_mut(name)
        .is_some_and(|r| r.blobs.remove(digest).is_some());
    store.prune(name);
    if found {
        Reply::new(202).with("Docker-Content-Digest", digest.to_string())
    } else {
        blob_unknown(digest)
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a length: `Some(Ok((first, last)))`,
/// `Some(Err(()))` when unsatisfiable, `None` when the header is to be ignored (not bytes, or
/// several ranges).
fn parse_range(h: &str, len: usize) -> Option<Result<(usize, usize), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let len = len as u64;
    let parse = |s: &str| s.parse::<u64>().ok();
    let (first, last) = if a.is_empty() {
        let n = parse(b)?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let first = parse(a)?;
        let last = if b.is_empty() { u64::MAX } else { parse(b)? };
        if first > last || first >= len {
            return Some(Err(()));
        }
        (first, last.min(len - 1))
    };
    Some(Ok((first as usize, last as usize)))
}

/// Serves blob content (GET with optional Range, or HEAD), cut by
/// [`Registry::drop_next`](super::Registry::drop_next) or delivered as the hostile scenario
/// ([`Hostile::EndlessBody`], [`Hostile::CutMidway`]) says.
fn serve_blob(
    shared: &Shared,
    inc: &Incoming,
    digest: &Digest,
    blob: Arc<Vec<u8>>,
    hostile: &Hostile,
) -> (Reply, Delivery) {
    let len = blob.len();
    let mut reply = Reply::new(200)
        .with("Content-Type", "application/octet-stream")
        .with("Docker-Content-Digest", digest.to_string())
        .with("Accept-Ranges", "bytes")
        .with("Etag", format!("\"{digest}\""));
    let get = inc.method == "GET";
    let whole = |mut reply: Reply, blob: Arc<Vec<u8>>| {
        reply.body = Body::Slice {
            data: blob,
            start: 0,
            end: len,
        };
        reply
    };
    match (get, hostile, inc.header("Range")) {
        (true, Hostile::EndlessBody { chunked }, _) => {
            return (whole(reply, blob), Delivery::Endless { chunked: *chunked });
        }
        (true, Hostile::CutMidway { .. }, None) => {
            return (whole(reply, blob), Delivery::Truncate);
        }
        (
            true,
            Hostile::CutMidway {
                range: RangeMode::Ignore,
            },
            Some(_),
        ) => return (whole(reply, blob), Delivery::Normal),
        (
            true,
            Hostile::CutMidway {
                range: RangeMode::WrongStart,
            },
            Some(h),
        ) => {
            if let Some(Ok((first, _))) = parse_range(h, len) {
                // `first < len`, so `len >= 1`.
                let wrong = if first > 0 { first / 2 } else { 1.min(len - 1) };
                reply.status = 206;
                reply = reply.with("Content-Range", format!("bytes {wrong}-{}/{len}", len - 1));
                reply.body = Body::Slice {
                    data: blob,
                    start: wrong,
                    end: len,
                };
                return (reply, Delivery::Normal);
            }
            // An unsatisfiable or ignored Range: answered as usual below.
        }
        _ => {}
    }
    let (start, end) = match inc.header("Range").and_then(|h| parse_range(h, len)) {
        None => (0, len),
        Some(Ok((first, last))) => {
            reply.status = 206;
            reply = reply.with("Content-Range", format!("bytes {first}-{last}/{len}"));
            (first, last + 1)
        }
        Some(Err(())) => {
            return (
                Reply::error(416, "BLOB_UNKNOWN", "the range is not satisfiable")
                    .with("Content-Range", format!("bytes */{len}")),
                Delivery::Normal,
            );
        }
    };
    reply.body = Body::Slice {
        data: blob,
        start,
        end,
    };
    if get && shared.faults.take_drop() {
        (reply, Delivery::Truncate)
    } else {
        (reply, Delivery::Normal)
    }
}

fn page_size(query: &[(String, String)]) -> Result<Option<usize>, Reply> {
    match query_get(query, "n") {
        None | Some("") => Ok(None),
        Some(n) => n.parse::<usize>().map(Some).map_err(|_| {
            Reply::error(
                400,
                "PAGINATION_NUMBER_INVALID",
                "n must be a non-negative integer",
            )
        }),
    }
}

/// One page of a sorted list after `last`, and whether more remain.
fn paginate<'a>(items: &[&'a str], last: Option<&str>, n: Option<usize>) -> (Vec<&'a str>, bool) {
    let after: Vec<&str> = items
        .iter()
        .copied()
        .filter(|i| last.is_none_or(|l| *i > l))
        .collect();
    match n {
        Some(n) if after.len() > n => (after[..n].to_vec(), n > 0),
        _ => (after, false),
    }
}

fn tags(
    shared: &Shared,
    name: &str,
    query: &[(String, String)],
    hostile: &Hostile,
    origin: Origin,
) -> Reply {
    let n = match page_size(query) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let last = query_get(query, "last");
    let store = lock(&shared.store);
    let Some(repo) = store.repos.get(name).filter(|r| !r.is_empty()) else {
        return Reply::error_detail(
            404,
            "NAME_UNKNOWN",
            "repository name not known to registry",
            serde_json::json!({ "name": name }),
        );
    };
    let all: Vec<&str> = repo.tags.keys().map(String::as_str).collect();
    let path = format!("/v2/{name}/tags/list");
    let (page, link) = list_page(shared, &all, last, n, &path, hostile, origin);
    let mut reply = Reply::json(200, &serde_json::json!({ "name": name, "tags": page }));
    if let Some(link) = link {
        reply = reply.with("Link", link);
    }
    reply
}

/// Which listener serves a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The registry itself.
    Registry,
    /// The object store, the other origin of the hostile scenarios.
    Other,
}

/// One page of a sorted list (tags or repositories at `path`) after `last`, and its `Link`
/// header, as the hostile scenario says.
fn list_page(
    shared: &Shared,
    all: &[&str],
    last: Option<&str>,
    n: Option<usize>,
    path: &str,
    hostile: &Hostile,
    origin: Origin,
) -> (Vec<String>, Option<String>) {
    let next = |last: &str, n: Option<usize>| {
        let mut q = format!("last={}", util::percent_encode(last));
        if let Some(n) = n {
            q.push_str(&format!("&n={n}"));
        }
        q
    };
    let owned = |page: Vec<&str>| page.into_iter().map(String::from).collect::<Vec<_>>();
    match (hostile, origin) {
        (Hostile::CrossOriginLink, Origin::Registry) => {
            let (page, _) = paginate(all, last, n);
            let link = page.last().map(|l| {
                format!(
                    "<http://127.0.0.1:{}{path}?{}>; rel=\"next\"",
                    shared.object_port,
                    next(l, Some(n.unwrap_or(page.len())))
                )
            });
            (owned(page), link)
        }
        (Hostile::CrossOriginLink, Origin::Other) => {
            let mut page = owned(paginate(all, last, n).0);
            page.push(OTHER_ORIGIN_NAME.to_string());
            (page, None)
        }
        (Hostile::ChangingCursor, Origin::Registry) => {
            let (page, _) = paginate(all, None, n);
            let cursor = format!("c{}", shared.faults.next_cursor());
            let link = format!("<{path}?{}>; rel=\"next\"", next(&cursor, n));
            (owned(page), Some(link))
        }
        _ => {
            let (page, more) = paginate(all, last, n);
            let link = match (more, page.last(), n) {
                (true, Some(l), Some(n)) => {
                    let q = next(l, Some(n));
                    Some(
                        if *hostile == Hostile::QueryOnlyLink && origin == Origin::Registry {
                            format!("<?{q}>; rel=\"next\"")
                        } else {
                            format!("<{path}?{q}>; rel=\"next\"")
                        },
                    )
                }
                _ => None,
            };
            (owned(page), link)
        }
    }
}

fn catalog(
    shared: &Shared,
    query: &[(String, String)],
    hostile: &Hostile,
    origin: Origin,
) -> Reply {
    let n = match page_size(query) {
        Ok(Some(n)) if n > MAX_PAGE => {
            return Reply::error_detail(
                400,
                "PAGINATION_NUMBER_INVALID",
                "n is larger than the maximum page size",
                serde_json::json!({ "n": n, "max": MAX_PAGE }),
            );
        }
        Ok(n) => n.unwrap_or(MAX_PAGE),
        Err(r) => return r,
    };
    let last = query_get(query, "last");
    let store = lock(&shared.store);
    let all = store.catalog();
    let (page, link) = list_page(shared, &all, last, Some(n), "/v2/_catalog", hostile, origin);
    let mut reply = Reply::json(200, &serde_json::json!({ "repositories": page }));
    if let Some(link) = link {
        reply = reply.with("Link", link);
    }
    reply
}

/// A new upload id, formatted like a UUID.
fn new_upload_id() -> String {
    let h = util::random_hex(2);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn session_reply(status: u16, name: &str, id: &str, range: String) -> Reply {
    Reply::new(status)
        .with("Location", upload_location(name, id))
        .with("Docker-Upload-UUID", id.to_string())
        .with("Range", range)
}

fn created_blob(name: &str, digest: &Digest) -> Reply {
    Reply::new(201)
        .with("Location", format!("/v2/{name}/blobs/{digest}"))
        .with("Docker-Content-Digest", digest.to_string())
}

fn start_upload(
    shared: &Shared,
    inc: &mut Incoming,
    name: &str,
    query: &[(String, String)],
    authz: &Authz,
) -> Reply {
    if let Some(mount) = query_get(query, "mount") {
        let digest: Digest = match mount.parse() {
            Ok(d) => d,
            Err(e) => return digest_invalid(&e.to_string()),
        };
        if let Some(from) = query_get(query, "from")
            && valid_name(from)
            && authz.allows("repository", from, "pull")
        {
            let mut store = lock(&shared.store);
            if let Some(blob) = store.blob(from, &digest) {
                store.repo_mut(name).blobs.insert(digest.clone(), blob);
                return created_blob(name, &digest);
            }
        }
        // Not mountable: an ordinary upload session, as the spec says.
    } else if let Some(d) = query_get(query, "digest") {
        let digest: Digest = match d.parse() {
            Ok(d) => d,
            Err(e) => return digest_invalid(&e.to_string()),
        };
        let mut session = Session::new();
        if let Err(reply) = receive(inc, &mut session, None) {
            return reply;
        }
        let actual = session.digest_like(&digest);
        if actual != digest {
            return digest_mismatch(&digest, &actual);
        }
        let mut data = std::mem::take(&mut session.data);
        data.shrink_to_fit();
        lock(&shared.store)
            .repo_mut(name)
            .blobs
            .insert(digest.clone(), Arc::new(data));
        return created_blob(name, &digest);
    }
    let id = new_upload_id();
    lock(&shared.store).sessions.insert(
        id.clone(),
        SessionEntry {
            repo: name.to_string(),
            session: Arc::new(Mutex::new(Session::new())),
        },
    );
    session_reply(202, name, &id, "0-0".into()).with("Content-Length", "0")
}

fn digest_mismatch(expected: &Digest, actual: &Digest) -> Reply {
    Reply::error_detail(
        400,
        "DIGEST_INVALID",
        "the uploaded content does not match the digest",
        serde_json::json!({ "expected": expected.to_string(), "actual": actual.to_string() }),
    )
}

fn upload_unknown(id: &str) -> Reply {
    Reply::error_detail(
        404,
        "BLOB_UPLOAD_UNKNOWN",
        "blob upload unknown to registry",
        serde_json::json!({ "uuid": util::percent_encode(id) }),
    )
}

fn session_of(shared: &Shared, name: &str, id: &str) -> Option<Arc<Mutex<Session>>> {
    lock(&shared.store)
        .sessions
        .get(id)
        .filter(|e| e.repo == name)
        .map(|e| e.session.clone())
}

/// `Content-Range` of a chunk: `a-b`, `bytes a-b`, `bytes=a-b`, optionally `/total`.
fn parse_content_range(h: &str) -> Option<(u64, u64)> {
    let s = h.trim();
    let s = s
        .strip_prefix("bytes=")
        .or_else(|| s.strip_prefix("bytes "))
        .unwrap_or(s)
        .trim();
    let s = s.split_once('/').map_or(s, |(r, _)| r);
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?);
    (a <= b).then_some((a, b))
}

/// Streams the request body into the session with a fixed-size buffer. On failure the session
/// is rolled back and the error answer returned.
fn receive(inc: &mut Incoming, s: &mut Session, range: Option<(u64, u64)>) -> Result<(), Reply> {
    let cp = s.checkpoint();
    let start = s.data.len() as u64;
    let too_big = || Reply::error(413, "SIZE_INVALID", "the blob is larger than 4 GiB");
    if let Some(cl) = inc.content_length() {
        if start + cl > MAX_BODY {
            return Err(too_big());
        }
        if let Some((a, b)) = range
            && b - a + 1 != cl
        {
            return Err(Reply::error(
                400,
                "SIZE_INVALID",
                "Content-Range and Content-Length disagree",
            ));
        }
        if s.data.try_reserve(cl as usize).is_err() {
            return Err(too_big());
        }
    }
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match inc.read_body(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if s.data.len() as u64 + n as u64 > MAX_BODY || s.data.try_reserve(n).is_err() {
                    s.restore(cp);
                    return Err(too_big());
                }
                s.data.extend_from_slice(&buf[..n]);
                s.hasher.update(&buf[..n]);
            }
            Err(_) => {
                s.restore(cp);
                return Err(Reply::error(400, "SIZE_INVALID", "the body broke off"));
            }
        }
    }
    let got = s.data.len() as u64 - start;
    let expected = inc.content_length().or(range.map(|(a, b)| b - a + 1));
    if expected.is_some_and(|e| e != got) {
        s.restore(cp);
        return Err(Reply::error(
            400,
            "SIZE_INVALID",
            "the body does not have the announced length",
        ));
    }
    Ok(())
}

fn out_of_order(name: &str, id: &str, s: &Session) -> Reply {
    let mut r = session_reply(416, name, id, s.range());
    let body = util::error_body(
        "BLOB_UPLOAD_INVALID",
        "the chunk does not start where the upload ends",
        serde_json::json!({ "size": s.data.len() }),
    );
    r = r.with("Content-Type", "application/json");
    r.body = Body::Bytes(body);
    r
}

fn patch_upload(shared: &Shared, inc: &mut Incoming, name: &str, id: &str) -> Reply {
    let Some(session) = session_of(shared, name, id) else {
        return upload_unknown(id);
    };
    let mut s = lock(&session);
    let range = match inc.header("Content-Range") {
        None => None,
        Some(h) => match parse_content_range(h) {
            Some(r) => Some(r),
            None => {
                return Reply::error(400, "BLOB_UPLOAD_INVALID", "malformed Content-Range");
            }
        },
    };
    if let Some((a, _)) = range
        && a != s.data.len() as u64
    {
        return out_of_order(name, id, &s);
    }
    if let Err(reply) = receive(inc, &mut s, range) {
        return reply;
    }
    session_reply(202, name, id, s.range()).with("Content-Length", "0")
}

fn put_upload(
    shared: &Shared,
    inc: &mut Incoming,
    name: &str,
    id: &str,
    query: &[(String, String)],
) -> Reply {
    let Some(session) = session_of(shared, name, id) else {
        return upload_unknown(id);
    };
    let digest: Digest = match query_get(query, "digest") {
        None => return digest_invalid("the digest parameter is missing"),
        Some(d) => match d.parse() {
            Ok(d) => d,
            Err(e) => return digest_invalid(&e.to_string()),
        },
    };
    let mut s = lock(&session);
    let range = match inc.header("Content-Range") {
        None => None,
        Some(h) => match parse_content_range(h) {
            Some(r) => Some(r),
            None => {
                return Reply::error(400, "BLOB_UPLOAD_INVALID", "malformed Content-Range");
            }
        },
    };
    if let Some((a, _)) = range
        && a != s.data.len() as u64
    {
        return out_of_order(name, id, &s);
    }
    let cp = s.checkpoint();
    if let Err(reply) = receive(inc, &mut s, range) {
        return reply;
    }
    let actual = s.digest_like(&digest);
    if actual != digest {
        // The session stays, as it was before this request.
        s.restore(cp);
        return digest_mismatch(&digest, &actual);
    }
    let mut store = lock(&shared.store);
    if store.sessions.remove(id).is_none() {
        // Cancelled while this request was streaming.
        return upload_unknown(id);
    }
    let mut data = std::mem::take(&mut s.data);
    data.shrink_to_fit();
    store
        .repo_mut(name)
        .blobs
        .insert(digest.clone(), Arc::new(data));
    created_blob(name, &digest).with("Content-Length", "0")
}

fn upload_status(shared: &Shared, name: &str, id: &str) -> Reply {
    let Some(session) = session_of(shared, name, id) else {
        return upload_unknown(id);
    };
    let range = lock(&session).range();
    session_reply(204, name, id, range)
}

fn delete_upload(shared: &Shared, name: &str, id: &str) -> Reply {
    let mut store = lock(&shared.store);
    match store.sessions.get(id) {
        Some(e) if e.repo == name => {
            store.sessions.remove(id);
            Reply::new(204)
        }
        _ => upload_unknown(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse(""), Some(Route::Base));
        assert_eq!(Route::parse("_catalog"), Some(Route::Catalog));
        assert_eq!(Route::parse("a/b/tags/list"), Some(Route::Tags("a/b")));
        assert_eq!(
            Route::parse("a/manifests/blobs/manifests/v1"),
            Some(Route::Manifest("a/manifests/blobs", "v1"))
        );
        assert_eq!(
            Route::parse("x/blobs/sha256:abc"),
            Some(Route::Blob("x", "sha256:abc"))
        );
        assert_eq!(
            Route::parse("x/y/blobs/uploads/"),
            Some(Route::UploadStart("x/y"))
        );
        assert_eq!(
            Route::parse("x/y/blobs/uploads"),
            Some(Route::UploadStart("x/y"))
        );
        assert_eq!(
            Route::parse("x/blobs/uploads/1234"),
            Some(Route::Upload("x", "1234"))
        );
        assert_eq!(Route::parse("x"), None);
        assert_eq!(Route::parse("x/other/thing"), None);
        assert_eq!(
            Route::parse("/manifests/v1"),
            Some(Route::Manifest("", "v1"))
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), Some(Ok((0, 4))));
        assert_eq!(parse_range("bytes=5-", 10), Some(Ok((5, 9))));
        assert_eq!(parse_range("bytes=5-100", 10), Some(Ok((5, 9))));
        assert_eq!(parse_range("bytes=-3", 10), Some(Ok((7, 9))));
        assert_eq!(parse_range("bytes=-30", 10), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=4-2", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=-0", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=0-0", 0), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
        assert_eq!(parse_range("bytes=x-1", 10), None);
        assert_eq!(parse_range("bytes=99999999999999999999-", 10), None);

        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/100"), Some((10, 19)));
        assert_eq!(parse_content_range("bytes=10-19"), Some((10, 19)));
        assert_eq!(parse_content_range("9-0"), None);
        assert_eq!(parse_content_range("garbage"), None);
    }

    #[test]
    fn pages() {
        let items = ["a", "b", "c", "d", "e"];
        assert_eq!(paginate(&items, None, Some(2)), (vec!["a", "b"], true));
        assert_eq!(paginate(&items, Some("b"), Some(2)), (vec!["c", "d"], true));
        assert_eq!(paginate(&items, Some("d"), Some(2)), (vec!["e"], false));
        assert_eq!(
            paginate(&items, Some("c"), Some(2)),
            (vec!["d", "e"], false)
        );
        assert_eq!(paginate(&items, None, None).0.len(), 5);
        assert_eq!(paginate(&items, None, Some(0)), (vec![], false));
        assert_eq!(paginate(&items, Some("zzz"), Some(2)), (vec![], false));
    }

    #[test]
    fn upload_ids() {
        let id = new_upload_id();
        assert_eq!(id.len(), 36);
        assert_ne!(id, new_upload_id());
    }
}
