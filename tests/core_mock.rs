//! Exact HTTP exchanges of the core client, pinned with mockito: auth (Basic, Bearer, token
//! cache, renewal, scope errors), pagination, redirects, retries, error bodies, manifests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mockito::{Matcher, Server};
use ocireg::{Client, Credentials, Error, RetryPolicy};

fn client(server: &Server, creds: Credentials) -> Client {
    Client::builder(&server.url())
        .credentials(creds)
        .retry_policy(RetryPolicy {
            initial_backoff: std::time::Duration::from_millis(1),
            ..Default::default()
        })
        .build()
        .expect("client")
}

fn bearer_challenge(server: &Server, scope: &str) -> String {
    format!(
        r#"Bearer realm="{}/token",service="test-registry",scope="{scope}""#,
        server.url()
    )
}

/// The 401 with a Bearer challenge (pull on team/app) that an unauthenticated request to `path`
/// gets. Not created yet: add to it, then `.create()`.
fn challenge_on(server: &mut Server, path: impl Into<Matcher>) -> mockito::Mock {
    let challenge = bearer_challenge(server, "repository:team/app:pull");
    server
        .mock("GET", path)
        .match_header("authorization", Matcher::Missing)
        .with_status(401)
        .with_header("www-authenticate", &challenge)
}

/// The 401 with a Bearer challenge (pull on team/app) that an unauthenticated tags request gets.
fn tags_challenge(server: &mut Server) -> mockito::Mock {
    challenge_on(server, "/v2/team/app/tags/list").create()
}

/// The 401 of `/v2/` to a request without credentials, with a Bearer challenge whose realm is
/// this server's `/token` (no scope). Not created yet.
fn ping_challenge(server: &mut Server, service: &str) -> mockito::Mock {
    let challenge = format!(
        r#"Bearer realm="{}/token",service="{service}""#,
        server.url()
    );
    server
        .mock("GET", "/v2/")
        .match_header("authorization", Matcher::Missing)
        .with_status(401)
        .with_header("www-authenticate", &challenge)
}

/// The token service answering any query with `body`. Not created yet.
fn token_service(server: &mut Server, body: &str) -> mockito::Mock {
    server
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_body(body)
}

/// The tags of team/app, to requests with this `authorization`. Not created yet.
fn tags_for(server: &mut Server, authorization: impl Into<Matcher>) -> mockito::Mock {
    server
        .mock("GET", "/v2/team/app/tags/list")
        .match_header("authorization", authorization)
        .with_body(TAGS)
}

/// `/v2/` answering requests with this `authorization`. Not created yet.
fn ping_ok(server: &mut Server, authorization: impl Into<Matcher>) -> mockito::Mock {
    server
        .mock("GET", "/v2/")
        .match_header("authorization", authorization)
        .with_body("{}")
}

const TAGS: &str = r#"{"name":"team/app","tags":["v1","v2"]}"#;

#[test]
fn bearer_tags_cost_three_requests_cold_and_one_warm() {
    let mut s = Server::new();
    let challenge = challenge_on(&mut s, "/v2/team/app/tags/list")
        .with_body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
        .expect(1)
        .create();
    let token = s
        .mock("GET", "/token")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("service".into(), "test-registry".into()),
            Matcher::UrlEncoded("scope".into(), "repository:team/app:pull".into()),
        ]))
        .match_header("authorization", Matcher::Missing)
        .with_body(r#"{"token":"tok-1","expires_in":300}"#)
        .expect(1)
        .create();
    let ok = tags_for(&mut s, "Bearer tok-1").expect(3).create();
    let c = client(&s, Credentials::Anonymous);
    assert_eq!(c.tags("team/app").unwrap(), vec!["v1", "v2"]);
    assert_eq!(c.request_count(), 3, "cold: 401, token, retry");
    assert_eq!(c.tags("team/app").unwrap(), vec!["v1", "v2"]);
    assert_eq!(c.request_count(), 4, "warm: one request");
    // A clone shares the token cache.
    let c2 = c.clone();
    c2.tags("team/app").unwrap();
    assert_eq!(c.request_count(), 5);
    challenge.assert();
    token.assert();
    ok.assert();
}

#[test]
fn one_token_serves_many_calls_with_the_same_scope_and_threads_share_it() {
    let mut s = Server::new();
    let _challenge = challenge_on(&mut s, Matcher::Regex("^/v2/team/app/".into())).create();
    let token = token_service(&mut s, r#"{"access_token":"tok-a","expires_in":300}"#)
        .expect(1)
        .create();
    let _tags = tags_for(&mut s, "Bearer tok-a").create();
    let c = client(&s, Credentials::Anonymous);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let c = c.clone();
            scope.spawn(move || c.tags("team/app").unwrap());
        }
    });
    // 8 requests + 1 discovery 401 + 1 token: the threads waited for one auth step.
    assert_eq!(c.request_count(), 10);
    token.assert();
}

#[test]
fn basic_credentials_are_sent_after_the_challenge_and_then_up_front() {
    let mut s = Server::new();
    let unauth = s
        .mock("GET", "/v2/")
        .match_header("authorization", Matcher::Missing)
        .with_status(401)
        .with_header("www-authenticate", r#"Basic realm="test""#)
        .expect(1)
        .create();
    // base64("alice:secret")
    let ok = ping_ok(&mut s, "Basic YWxpY2U6c2VjcmV0").expect(2).create();
    let c = client(&s, Credentials::basic("alice", "secret"));
    c.ping().unwrap();
    c.ping().unwrap();
    assert_eq!(c.request_count(), 3);
    unauth.assert();
    ok.assert();
}

#[test]
fn wrong_basic_password_is_an_authentication_error_without_the_secret() {
    let mut s = Server::new();
    let _m = s
        .mock("GET", "/v2/")
        .with_status(401)
        .with_header("www-authenticate", r#"Basic realm="test""#)
        .with_body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
        .create();
    let c = client(&s, Credentials::basic("alice", "hunter2-secret"));
    let e = c.ping().unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
    assert!(e.to_string().contains("authentication rejected"), "{e}");
    for text in [e.to_string(), format!("{e:?}"), format!("{c:?}")] {
        assert!(!text.contains("hunter2"), "secret leaked: {text}");
        assert!(!text.contains("YWxpY2U6aHVudGVy"), "secret leaked: {text}");
    }
    // No credentials at all: "credentials are required".
    let anon = client(&s, Credentials::Anonymous);
    let e = anon.ping().unwrap_err();
    assert!(e.to_string().contains("credentials are required"), "{e}");
}

#[test]
fn bearer_with_basic_credentials_sends_them_only_to_the_token_service() {
    let mut s = Server::new();
    let _challenge = ping_challenge(&mut s, "test-registry").create();
    let token = s
        .mock("GET", "/token")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("service".into(), "test-registry".into()),
            Matcher::UrlEncoded("account".into(), "alice".into()),
        ]))
        .match_header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .with_body(r#"{"token":"tok-x"}"#)
        .expect(1)
        .create();
    let ok = ping_ok(&mut s, "Bearer tok-x").expect(1).create();
    client(&s, Credentials::basic("alice", "secret"))
        .ping()
        .unwrap();
    token.assert();
    ok.assert();
}

#[test]
fn wrong_password_at_the_token_service_is_an_authentication_error() {
    let mut s = Server::new();
    let _challenge = s
        .mock("GET", "/v2/")
        .with_status(401)
        .with_header(
            "www-authenticate",
            &format!(
                r#"Bearer realm="{}/token",service="test-registry""#,
                s.url()
            ),
        )
        .create();
    let _token = s
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_status(401)
        .with_body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid username/password"}]}"#)
        .create();
    let e = client(&s, Credentials::basic("alice", "wrong-pw"))
        .ping()
        .unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
    assert!(e.to_string().contains("invalid username/password"), "{e}");
    assert!(!e.to_string().contains("wrong-pw"));
}

#[test]
fn an_expired_token_is_renewed() {
    let mut s = Server::new();
    let _challenge = tags_challenge(&mut s);
    let n = Arc::new(AtomicU32::new(0));
    let n2 = n.clone();
    let token = s
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_body_from_request(move |_| {
            let i = n2.fetch_add(1, Ordering::SeqCst);
            format!(r#"{{"token":"tok-{i}","expires_in":1}}"#).into()
        })
        .expect(2)
        .create();
    let _ok = tags_for(&mut s, Matcher::Regex("^Bearer tok-[01]$".into())).create();
    let c = client(&s, Credentials::Anonymous);
    c.tags("team/app").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    c.tags("team/app").unwrap();
    token.assert();
    assert_eq!(n.load(Ordering::SeqCst), 2);
}

#[test]
fn a_refused_cached_token_is_replaced_once() {
    let mut s = Server::new();
    let n = Arc::new(AtomicU32::new(0));
    let n2 = n.clone();
    let _token = s
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_body_from_request(move |_| {
            let i = n2.fetch_add(1, Ordering::SeqCst);
            format!(r#"{{"token":"tok-{i}","expires_in":300}}"#).into()
        })
        .create();
    let challenge = bearer_challenge(&s, "repository:team/app:pull");
    // tok-0 is refused (revoked early); tok-1 works.
    let _refuse = s
        .mock("GET", "/v2/team/app/tags/list")
        .match_header(
            "authorization",
            Matcher::AnyOf(vec![
                Matcher::Missing,
                Matcher::Exact("Bearer tok-0".into()),
            ]),
        )
        .with_status(401)
        .with_header("www-authenticate", &challenge)
        .create();
    let _ok = tags_for(&mut s, "Bearer tok-1").create();
    let c = client(&s, Credentials::Anonymous);
    assert_eq!(c.tags("team/app").unwrap().len(), 2);
    assert_eq!(n.load(Ordering::SeqCst), 2);
    // 401, token, 401 (tok-0), token, 200
    assert_eq!(c.request_count(), 5);
}

#[test]
fn a_token_that_is_always_refused_gives_up() {
    let mut s = Server::new();
    let _token = token_service(&mut s, r#"{"token":"bad","expires_in":300}"#)
        .expect(2)
        .create();
    let _refuse = s
        .mock("GET", "/v2/team/app/tags/list")
        .with_status(401)
        .with_header(
            "www-authenticate",
            &bearer_challenge(&s, "repository:team/app:pull"),
        )
        .create();
    let e = client(&s, Credentials::Anonymous)
        .tags("team/app")
        .unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
}

#[test]
fn insufficient_scope_is_an_authorization_error() {
    let mut s = Server::new();
    let _token = token_service(&mut s, r#"{"token":"t","expires_in":300}"#).create();
    let _first = tags_challenge(&mut s);
    let _scope = s
        .mock("GET", "/v2/team/app/tags/list")
        .match_header("authorization", "Bearer t")
        .with_status(401)
        .with_header(
            "www-authenticate",
            &format!(
                r#"Bearer realm="{}/token",service="test-registry",scope="repository:team/app:pull",error="insufficient_scope""#,
                s.url()
            ),
        )
        .create();
    let e = client(&s, Credentials::Anonymous)
        .tags("team/app")
        .unwrap_err();
    match e {
        Error::Authorization { repository, .. } => {
            assert_eq!(repository.as_deref(), Some("team/app"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn identity_tokens_use_the_oauth2_refresh_token_form() {
    let mut s = Server::new();
    let _challenge = ping_challenge(&mut s, "svc").create();
    let token = s
        .mock("POST", "/token")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "refresh_token".into()),
            Matcher::UrlEncoded("refresh_token".into(), "refresh-123".into()),
            Matcher::UrlEncoded("service".into(), "svc".into()),
        ]))
        .with_body(r#"{"access_token":"acc","expires_in":300}"#)
        .expect(1)
        .create();
    let ok = ping_ok(&mut s, "Bearer acc").expect(1).create();
    client(&s, Credentials::IdentityToken("refresh-123".into()))
        .ping()
        .unwrap();
    token.assert();
    ok.assert();
}

#[test]
fn a_ready_bearer_token_is_sent_up_front() {
    let mut s = Server::new();
    let ok = tags_for(&mut s, "Bearer ready").expect(1).create();
    let c = client(&s, Credentials::BearerToken("ready".into()));
    c.tags("team/app").unwrap();
    assert_eq!(c.request_count(), 1);
    ok.assert();
}

#[test]
fn catalog_pagination_follows_relative_links_and_stops_on_an_empty_page() {
    let mut s = Server::new();
    let p1 = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::UrlEncoded("n".into(), "1000".into()))
        .with_header("link", r#"</v2/_catalog?last=b&n=1000>; rel="next""#)
        .with_body(r#"{"repositories":["a","b"]}"#)
        .expect(1)
        .create();
    let p2 = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("last".into(), "b".into()),
            Matcher::UrlEncoded("n".into(), "1000".into()),
        ]))
        .with_header(
            "link",
            r#"</v2/_catalog?last=team%2Fapp&n=1000>; rel="next""#,
        )
        .with_body(r#"{"repositories":["c","team/app"]}"#)
        .expect(1)
        .create();
    let p3 = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("last".into(), "team/app".into()),
            Matcher::UrlEncoded("n".into(), "1000".into()),
        ]))
        // distribution sends a Link even when the next page is empty
        .with_header("link", r#"</v2/_catalog?last=zzz&n=1000>; rel="next""#)
        .with_body(r#"{"repositories":["team/web"]}"#)
        .expect(1)
        .create();
    let p4 = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::UrlEncoded("last".into(), "zzz".into()))
        .with_header("link", r#"</v2/_catalog?last=zzz&n=1000>; rel="next""#)
        .with_body(r#"{"repositories":[]}"#)
        .expect(1)
        .create();
    let c = client(&s, Credentials::Anonymous);
    assert_eq!(
        c.catalog().unwrap(),
        vec!["a", "b", "c", "team/app", "team/web"]
    );
    p1.assert();
    p2.assert();
    p3.assert();
    p4.assert();
    assert_eq!(c.search("team/").unwrap(), vec!["team/app", "team/web"]);
    assert!(c.search("nothing-like-it").unwrap().is_empty());
}

#[test]
fn tags_follow_three_pages_and_a_single_page_is_available() {
    let mut s = Server::new();
    let _p1 = s
        .mock("GET", "/v2/r/tags/list")
        .match_query(Matcher::Missing)
        .with_header("link", r#"</v2/r/tags/list?n=2&last=b>; rel="next""#)
        .with_body(r#"{"name":"r","tags":["a","b"]}"#)
        .create();
    let _p2 = s
        .mock("GET", "/v2/r/tags/list")
        .match_query(Matcher::UrlEncoded("last".into(), "b".into()))
        .with_header(
            "link",
            &format!(r#"<{}/v2/r/tags/list?n=2&last=d>; rel="next""#, s.url()),
        )
        .with_body(r#"{"name":"r","tags":["c","d"]}"#)
        .create();
    let _p3 = s
        .mock("GET", "/v2/r/tags/list")
        .match_query(Matcher::UrlEncoded("last".into(), "d".into()))
        .with_body(r#"{"name":"r","tags":["e"]}"#)
        .create();
    let c = client(&s, Credentials::Anonymous);
    assert_eq!(c.tags("r").unwrap(), vec!["a", "b", "c", "d", "e"]);
    let page = c.tags_page("r", Some(2), Some("b")).unwrap();
    assert_eq!(page.items, vec!["c", "d"]);
    assert_eq!(page.next.as_deref(), Some("d"));
    let last = c.tags_page("r", Some(2), Some("d")).unwrap();
    assert_eq!(last.next, None);
}

#[test]
fn a_catalog_too_large_n_is_retried_smaller_and_an_empty_first_page_is_double_checked() {
    let mut s = Server::new();
    let _big = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::UrlEncoded("n".into(), "1000".into()))
        .with_status(400)
        .with_body(r#"{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested","detail":{"n":1000}}]}"#)
        .create();
    let small = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::UrlEncoded("n".into(), "100".into()))
        .with_body(r#"{"repositories":["x"]}"#)
        .expect(1)
        .create();
    assert_eq!(
        client(&s, Credentials::Anonymous).catalog().unwrap(),
        vec!["x"]
    );
    small.assert();

    let mut s = Server::new();
    let empty = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::UrlEncoded("n".into(), "1000".into()))
        .with_body(r#"{"repositories":[]}"#)
        .expect(1)
        .create();
    let real = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::UrlEncoded("n".into(), "100".into()))
        .with_body(r#"{"repositories":["only"]}"#)
        .expect(1)
        .create();
    assert_eq!(
        client(&s, Credentials::Anonymous).catalog().unwrap(),
        vec!["only"]
    );
    empty.assert();
    real.assert();
}

#[test]
fn a_registry_without_catalog_is_unsupported() {
    let mut s = Server::new();
    let _m = s
        .mock("GET", "/v2/_catalog")
        .match_query(Matcher::Any)
        .with_status(404)
        .with_header("content-type", "text/plain")
        .with_body("404 page not found\n")
        .create();
    let e = client(&s, Credentials::Anonymous).search("x").unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("catalog"), "{e}");
}

#[test]
fn error_bodies_are_parsed() {
    let mut s = Server::new();
    let _m = s
        .mock("GET", "/v2/nope/tags/list")
        .with_status(404)
        .with_header("content-type", "application/json")
        .with_body(r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"nope"}}]}"#)
        .create();
    let _m2 = s
        .mock("GET", "/v2/boom/tags/list")
        .with_status(500)
        .with_body(r#"{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}"#)
        .create();
    let c = client(&s, Credentials::Anonymous);
    let e = c.tags("nope").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert_eq!(e.registry_code(), Some("NAME_UNKNOWN"));
    assert_eq!(e.http_status(), Some(404));
    assert!(e.to_string().contains("tags of nope"), "{e}");
    let e = c.tags("boom").unwrap_err();
    match &e {
        Error::Registry { status, errors, .. } => {
            assert_eq!(*status, 500);
            assert_eq!(errors[0].message, "unknown error");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rate_limits_are_retried_honouring_retry_after() {
    let mut s = Server::new();
    let limited = s
        .mock("GET", "/v2/r/tags/list")
        .with_status(429)
        .with_header("retry-after", "0")
        .with_body(r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#)
        .expect(2)
        .create();
    let ok = s
        .mock("GET", "/v2/r/tags/list")
        .with_body(r#"{"name":"r","tags":["a"]}"#)
        .expect(1)
        .create();
    let seen = Arc::new(AtomicU32::new(0));
    let seen2 = seen.clone();
    let c = Client::builder(&s.url())
        .credentials(Credentials::Anonymous)
        .on_retry(move |ev| {
            assert_eq!(ev.status, Some(429));
            assert_eq!(ev.path, "/v2/r/tags/list");
            seen2.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    assert_eq!(c.tags("r").unwrap(), vec!["a"]);
    limited.assert();
    ok.assert();
    assert_eq!(seen.load(Ordering::SeqCst), 2);

    // Persistent 429 with a Retry-After longer than the cap: RateLimited at once.
    let mut s = Server::new();
    let _m = s
        .mock("GET", "/v2/r/tags/list")
        .with_status(429)
        .with_header("retry-after", "3600")
        .with_body(r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}"#)
        .expect(1)
        .create();
    let e = client(&s, Credentials::Anonymous).tags("r").unwrap_err();
    assert_eq!(e.registry_code(), Some("TOOMANYREQUESTS"));
    assert!(e.to_string().contains("pull rate limit"), "{e}");
    match e {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after.map(|d| d.as_secs()), Some(3600))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_errors_on_get_are_retried_but_writes_are_not() {
    let mut s = Server::new();
    let _bad = s
        .mock("GET", "/v2/r/tags/list")
        .with_status(503)
        .expect(1)
        .create();
    let _ok = s
        .mock("GET", "/v2/r/tags/list")
        .with_body(r#"{"name":"r","tags":["a"]}"#)
        .create();
    let c = client(&s, Credentials::Anonymous);
    assert_eq!(c.tags("r").unwrap(), vec!["a"]);
    assert_eq!(c.request_count(), 2);

    let put = s
        .mock("PUT", "/v2/r/manifests/v1")
        .with_status(503)
        .expect(1)
        .create();
    let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let e = c
        .put_manifest("r", "v1", "application/vnd.oci.image.index.v1+json", m)
        .unwrap_err();
    assert_eq!(e.http_status(), Some(503));
    put.assert();
}

#[test]
fn a_cross_host_redirect_arrives_without_authorization() {
    let mut store = Server::new();
    let mut s = Server::new();
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let digest = ocireg::Digest::sha256_of(manifest);
    // Another host name for the same loopback address: localhost vs 127.0.0.1.
    let store_url = store.url().replace("127.0.0.1", "localhost");
    let stored = store
        .mock("GET", "/bucket/m")
        .match_header("authorization", Matcher::Missing)
        .with_header("content-type", "application/vnd.oci.image.index.v1+json")
        .with_body(manifest)
        .expect(1)
        .create();
    let _unauth = s
        .mock("GET", "/v2/")
        .match_header("authorization", Matcher::Missing)
        .with_status(401)
        .with_header("www-authenticate", r#"Basic realm="x""#)
        .create();
    let _ok = s.mock("GET", "/v2/").with_body("{}").create();
    let redirect = s
        .mock("GET", format!("/v2/r/manifests/{digest}").as_str())
        .match_header("authorization", "Basic YTpi")
        .with_status(307)
        .with_header("location", &format!("{store_url}/bucket/m"))
        .expect(1)
        .create();
    let c = client(&s, Credentials::basic("a", "b"));
    c.ping().unwrap();
    let m = c.manifest("r", &digest.to_string()).unwrap();
    assert_eq!(m.digest, digest);
    redirect.assert();
    stored.assert();
}

#[test]
fn manifests_are_requested_with_every_type_and_verified() {
    let mut s = Server::new();
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let digest = ocireg::Digest::sha256_of(body);
    let accept = Matcher::AllOf(vec![
        Matcher::Regex("application/vnd\\.oci\\.image\\.manifest\\.v1\\+json".into()),
        Matcher::Regex("application/vnd\\.oci\\.image\\.index\\.v1\\+json".into()),
        Matcher::Regex("application/vnd\\.docker\\.distribution\\.manifest\\.v2\\+json".into()),
        Matcher::Regex(
            "application/vnd\\.docker\\.distribution\\.manifest\\.list\\.v2\\+json".into(),
        ),
    ]);
    let _by_tag = s
        .mock("GET", "/v2/r/manifests/v1")
        .match_header("accept", accept)
        .with_header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .with_header("docker-content-digest", &digest.to_string())
        .with_body(body)
        .create();
    let _lying = s
        .mock("GET", "/v2/r/manifests/liar")
        .with_header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .with_header(
            "docker-content-digest",
            &ocireg::Digest::sha256_of(b"x").to_string(),
        )
        .with_body(body)
        .create();
    let _head = s
        .mock("HEAD", "/v2/r/manifests/v1")
        .with_header("docker-content-digest", &digest.to_string())
        .create();
    let c = client(&s, Credentials::Anonymous);
    let m = c.manifest("r", "v1").unwrap();
    assert_eq!(m.digest, digest);
    assert_eq!(m.bytes, body.to_vec());
    assert_eq!(m.image().unwrap().config.size, 2);
    assert_eq!(c.manifest_digest("r", "v1").unwrap(), digest);
    // tag@digest: requested by tag, verified by digest.
    let m = c.manifest("r", &format!("v1@{digest}")).unwrap();
    assert_eq!(m.digest, digest);
    let wrong = ocireg::Digest::sha256_of(b"other");
    let e = c.manifest("r", &format!("v1@{wrong}")).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e:?}");
    let e = c.manifest("r", "liar").unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e:?}");
}

#[test]
fn manifest_put_sends_the_bytes_as_they_are_and_checks_the_digest() {
    let mut s = Server::new();
    let body = br#"{"mediaType":"application/vnd.oci.image.index.v1+json",   "schemaVersion":2,"manifests":[]}"#;
    let digest = ocireg::Digest::sha256_of(body);
    let put = s
        .mock("PUT", "/v2/r/manifests/v1")
        .match_header("content-type", "application/vnd.oci.image.index.v1+json")
        .match_body(Matcher::Exact(String::from_utf8(body.to_vec()).unwrap()))
        .with_status(201)
        .with_header("docker-content-digest", &digest.to_string())
        .expect(1)
        .create();
    let _bad = s
        .mock("PUT", "/v2/r/manifests/v2")
        .with_status(201)
        .with_header(
            "docker-content-digest",
            &ocireg::Digest::sha256_of(b"z").to_string(),
        )
        .create();
    let c = client(&s, Credentials::Anonymous);
    let t = "application/vnd.oci.image.index.v1+json";
    assert_eq!(c.put_manifest("r", "v1", t, body).unwrap(), digest);
    put.assert();
    let e = c.put_manifest("r", "v2", t, body).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e:?}");
    // A media type that disagrees with the body is refused before any request.
    let before = c.request_count();
    let e = c
        .put_manifest(
            "r",
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            body,
        )
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    assert_eq!(c.request_count(), before);
}

#[test]
fn bad_arguments_are_refused_before_any_request() {
    let s = Server::new();
    let c = client(&s, Credentials::Anonymous);
    for (repo, reference) in [
        ("UPPER/case", "v1"),
        ("", "v1"),
        ("a//b", "v1"),
        ("ok", "-bad-tag"),
        ("ok", "sha256:short"),
        ("ok", ""),
        ("../../etc", "v1"),
    ] {
        let e = c.manifest(repo, reference).unwrap_err();
        assert!(
            matches!(e, Error::InvalidReference(_)),
            "{repo} {reference}: {e:?}"
        );
    }
    assert!(matches!(c.tags("Bad"), Err(Error::InvalidReference(_))));
    assert_eq!(c.request_count(), 0);
}

#[test]
fn an_unreachable_registry_is_a_network_error() {
    // Bind a port, then close it: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::builder(&format!("http://127.0.0.1:{port}"))
        .credentials(Credentials::Anonymous)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.ping().unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e:?}");
    assert!(e.is_transient());
}

#[test]
fn tls_to_a_plain_http_port_is_a_tls_error_that_says_so() {
    let mut s = Server::new();
    let _m = s.mock("GET", "/v2/").with_body("{}").create();
    let c = Client::builder(&format!("https://{}", s.host_with_port()))
        .credentials(Credentials::Anonymous)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.ping().unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("did not answer TLS"), "{e}");
}

#[test]
fn the_user_agent_is_ocireg() {
    let mut s = Server::new();
    let m = s
        .mock("GET", "/v2/")
        .match_header("user-agent", Matcher::Regex("^ocireg/0\\.1\\.0$".into()))
        .with_body("{}")
        .expect(1)
        .create();
    client(&s, Credentials::Anonymous).ping().unwrap();
    m.assert();
}

#[test]
fn the_request_log_shows_every_request_but_no_secret() {
    let mut s = Server::new();
    let _challenge = tags_challenge(&mut s);
    let _token =
        token_service(&mut s, r#"{"token":"very-secret-token","expires_in":300}"#).create();
    let _ok = tags_for(&mut s, "Bearer very-secret-token").create();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log2 = log.clone();
    let c = Client::builder(&s.url())
        .credentials(Credentials::basic("alice", "pw-in-the-clear"))
        .on_request(move |ev| log2.lock().unwrap().push(format!("{ev:?}")))
        .build()
        .unwrap();
    c.tags("team/app").unwrap();
    let lines = log.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].contains("status: Some(401)") && lines[0].contains("authorized: false"));
    assert!(
        lines[1].contains("/token") && !lines[1].contains("scope="),
        "no query: {}",
        lines[1]
    );
    assert!(lines[2].contains("status: Some(200)") && lines[2].contains("authorized: true"));
    for l in &lines {
        assert!(
            !l.contains("very-secret-token") && !l.contains("pw-in-the-clear"),
            "{l}"
        );
    }
}
