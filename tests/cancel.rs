//! Cancellation and per-call deadlines: a call on a registry that stops answering mid-body
//! ends when cancelled from another thread, leaving nothing half-written; a deadline bounds a
//! whole call, retries included. Bounds here are loose (seconds against minutes): the
//! registry's pauses are long enough that only cancellation can end the calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ocireg::testing::{Hostile, Registry};
use ocireg::{Cancel, Client, Error, RetryPolicy};

/// A registry whose answers give their first byte, then one byte a minute.
fn stalling_registry() -> (Registry, ocireg::Digest) {
    let reg = Registry::start().unwrap();
    reg.add_image("team/app", "v1", b"{}", &[b"layer"]).unwrap();
    let blob = reg.add_blob("team/app", &vec![9u8; 1 << 20]);
    reg.set_hostile(Hostile::SlowDrip {
        interval: Duration::from_secs(60),
    });
    (reg, blob)
}

fn patient_client(reg: &Registry) -> Client {
    Client::builder(&reg.url())
        .low_speed_limit(None)
        .response_timeout(None)
        .read_timeout(None)
        .build()
        .unwrap()
}

/// Runs `f` with `cancel` triggered from another thread after 300 ms; returns the result and
/// how long the call took.
fn cancelled_after_300ms<T>(cancel: &Cancel, f: impl FnOnce() -> T) -> (T, Duration) {
    let trigger = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        trigger.trigger();
    });
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    t.join().unwrap();
    (out, took)
}

#[test]
fn a_call_stalled_mid_body_is_cancelled_from_another_thread() {
    let (reg, blob) = stalling_registry();
    let client = patient_client(&reg);

    let cancel = Cancel::new();
    let bound = client.with_cancel(&cancel);
    let (r, took) = cancelled_after_300ms(&cancel, || bound.manifest("team/app", "v1"));
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Cancelled(_)), "{e:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");

    // A blob download to a path: cancelled, nothing left behind.
    let dir = std::env::temp_dir().join(format!("ocireg-cancel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cancel = Cancel::new();
    let bound = client.with_cancel(&cancel);
    let path = dir.join("blob");
    let (r, took) = cancelled_after_300ms(&cancel, || {
        bound.pull_blob_to_path("team/app", &blob.to_string(), &path)
    });
    assert!(matches!(r, Err(Error::Cancelled(_))), "{r:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert!(left.is_empty(), "nothing half-written: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);

    // Once triggered, the bound client fails at once; the original client is untouched.
    assert!(matches!(bound.tags("team/app"), Err(Error::Cancelled(_))));
    reg.set_hostile(Hostile::None);
    assert_eq!(client.tags("team/app").unwrap(), ["v1"]);
}

#[test]
fn a_cancelled_push_leaves_no_tag() {
    let reg = Registry::start().unwrap();
    let client = Client::builder(&reg.url()).build().unwrap();
    let image = ocireg::ImageBuilder::new()
        .config(b"{}".to_vec())
        .layer_bytes(vec![1u8; 4 << 20], ocireg::media_types::OCI_LAYER_TAR)
        .build()
        .unwrap();
    reg.set_delay(Duration::from_secs(60));
    let cancel = Cancel::new();
    let bound = client.with_cancel(&cancel);
    let (r, took) = cancelled_after_300ms(&cancel, || {
        bound.push_image("team/app", "v1", &image, &Default::default())
    });
    assert!(matches!(r, Err(Error::Cancelled(_))), "{r:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    reg.set_delay(Duration::ZERO);
    assert!(matches!(
        client.manifest("team/app", "v1"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_deadline_bounds_a_whole_call_retries_included() {
    let reg = Registry::start().unwrap();
    reg.add_image("team/app", "v1", b"{}", &[b"layer"]).unwrap();
    reg.fail_next(1000, 503, None);
    let retries = Arc::new(AtomicUsize::new(0));
    let seen = retries.clone();
    let client = Client::builder(&reg.url())
        .retry_policy(RetryPolicy {
            max_retries: 1000,
            initial_backoff: Duration::from_millis(100),
            multiplier: 1.0,
            ..RetryPolicy::default()
        })
        .on_retry(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client
        .with_timeout(Duration::from_millis(500))
        .tags("team/app")
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            e,
            Error::Timeout { .. } | Error::Registry { status: 503, .. }
        ),
        "{e:?}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // 100 ms waits in 500 ms: a handful of retries, not a thousand.
    assert!(retries.load(Ordering::SeqCst) <= 10, "{retries:?}");

    // A deadline while the registry is silent mid-body: Timeout.
    let (reg, _) = stalling_registry();
    let e = patient_client(&reg)
        .with_timeout(Duration::from_millis(500))
        .manifest("team/app", "v1")
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
}

#[test]
fn a_cancel_handle_wakes_a_backoff_sleep() {
    let reg = Registry::start().unwrap();
    reg.fail_next(10, 503, Some(50));
    let client = Client::builder(&reg.url())
        .retry_policy(RetryPolicy {
            max_retries: 10,
            max_retry_after: Duration::from_secs(120),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let cancel = Cancel::new();
    let bound = client.with_cancel(&cancel);
    let (r, took) = cancelled_after_300ms(&cancel, || bound.tags("team/app"));
    assert!(matches!(r, Err(Error::Cancelled(_))), "{r:?}");
    assert!(
        took < Duration::from_secs(15),
        "a 50 s Retry-After was cut: {took:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Streaming blob reads

use std::io::Read;

#[test]
fn a_64_mib_blob_streams_verified_in_small_reads() {
    let reg = Registry::start().unwrap();
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let digest = reg.add_blob("team/app", &data);
    let client = Client::builder(&reg.url()).build().unwrap();
    let mut r = client.blob_reader("team/app", &digest.to_string()).unwrap();
    assert_eq!(r.size(), 64 << 20);
    // 64 KiB at a time, compared as it comes: nothing is gathered.
    let mut buf = vec![0u8; 64 << 10];
    let mut pos = 0usize;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert_eq!(&buf[..n], &data[pos..pos + n]);
        pos += n;
    }
    assert_eq!(pos, data.len());
}

#[test]
fn a_tampered_blob_fails_on_the_last_read_and_a_cut_one_resumes() {
    // The registry answers other bytes than the digest's (same length).
    let mut server = mockito::Server::new();
    let good = b"the real blob content".to_vec();
    let digest = ocireg::Digest::sha256_of(&good);
    let path = format!("/v2/team/app/blobs/{digest}");
    let _m = server
        .mock("GET", path.as_str())
        .with_status(200)
        .with_body(b"the fake blob content")
        .create();
    let client = Client::builder(&server.url()).build().unwrap();
    let mut r = client.blob_reader("team/app", &digest.to_string()).unwrap();
    let mut got = Vec::new();
    let e = r.read_to_end(&mut got).unwrap_err();
    let e = ocireg::BlobReader::error_of(e);
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e:?}");

    // Cut mid-way by the registry: resumed with Range, whole and verified.
    let reg = Registry::start().unwrap();
    let data = vec![5u8; 300_000];
    let digest = reg.add_blob("team/app", &data);
    reg.set_hostile(Hostile::CutMidway {
        range: ocireg::testing::RangeMode::Honour,
    });
    let client = Client::builder(&reg.url()).build().unwrap();
    let mut got = Vec::new();
    client
        .blob_reader("team/app", &digest.to_string())
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, data);

    // A body longer than announced (no Content-Length; the HEAD says 300,000): an error.
    reg.set_hostile(Hostile::EndlessBody { chunked: false });
    let mut r = client.blob_reader("team/app", &digest.to_string()).unwrap();
    let mut sink = Vec::new();
    let e = ocireg::BlobReader::error_of(r.read_to_end(&mut sink).unwrap_err());
    assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
    assert!(sink.len() <= 300_000);
}

/// A keep-alive HTTP server answering every request with an empty tag list; counts the
/// connections it accepts.
fn connection_counting_server() -> (String, Arc<AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut out = conn.try_clone().unwrap();
                let mut lines = BufReader::new(conn);
                let body = br#"{"name":"team/app","tags":["v1"]}"#;
                loop {
                    // Read one request head (no request body is sent for GET).
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match lines.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if out.write_all(head.as_bytes()).is_err() || out.write_all(body).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

#[test]
fn calls_bound_one_after_another_reuse_one_connection() {
    let (url, accepted) = connection_counting_server();
    let client = Client::builder(&url)
        .credentials(ocireg::Credentials::Anonymous)
        .build()
        .unwrap();
    for _ in 0..5 {
        // A new handle per call, as Go's context.Context or Python's timeout= make them.
        let cancel = Cancel::new();
        assert_eq!(
            client.with_cancel(&cancel).tags("team/app").unwrap(),
            ["v1"]
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one keep-alive connection serves all five calls"
    );

    // A triggered handle's connections are shut down and never lent again.
    let cancel = Cancel::new();
    let bound = client.with_cancel(&cancel);
    assert_eq!(bound.tags("team/app").unwrap(), ["v1"]);
    cancel.trigger();
    drop(bound);
    let cancel = Cancel::new();
    assert_eq!(
        client.with_cancel(&cancel).tags("team/app").unwrap(),
        ["v1"]
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a shut-down agent is not reused"
    );
}

#[test]
fn a_login_whose_builder_is_bound_to_a_cancel_handle_is_cancelled_mid_check() {
    let reg = Registry::builder()
        .auth(ocireg::testing::AuthMode::Basic {
            users: vec![("alice".into(), "s3cret".into())],
        })
        .start()
        .unwrap();
    reg.set_delay(Duration::from_secs(60)); // the /v2/ check never answers
    let dir = std::env::temp_dir().join(format!("ocireg-cancel-login-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = dir.join("config.json");
    let cancel = Cancel::new();
    let options = ocireg::LoginOptions {
        config: ocireg::credentials::ConfigOptions {
            config_path: Some(config.clone()),
            ..Default::default()
        },
        client: Some(
            Client::builder(&reg.url())
                .response_timeout(None)
                .cancel(&cancel),
        ),
    };
    let (out, took) = cancelled_after_300ms(&cancel, || {
        ocireg::login(&reg.host(), "alice", "s3cret", &options)
    });
    assert!(matches!(out, Err(Error::Cancelled(_))), "{out:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(
        !config.exists(),
        "nothing is stored for a login that was cancelled"
    );
    reg.set_delay(Duration::ZERO);
    let _ = std::fs::remove_dir_all(&dir);
}
