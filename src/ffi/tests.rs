//! Unit tests of the boundary: panics, NULL, invalid UTF-8, outputs only on success, error
//! mapping, frees accepting NULL.

use std::ffi::{CStr, c_char};
use std::ptr;
use std::time::Duration;

use super::catalog::*;
use super::client::*;
use super::error::*;
use super::manifest::*;
use super::strings::*;
use super::*;
use crate::error::{Error, ErrorInfo};

fn msg(err: *const ocireg_error) -> String {
    let p = unsafe { ocireg_error_message(err) };
    assert!(!p.is_null());
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
}

/// A client for a registry that is never contacted.
fn offline_client() -> *mut ocireg_client {
    let mut opts = ptr::null_mut();
    assert_eq!(
        unsafe { ocireg_options_new(&mut opts, ptr::null_mut()) },
        ocireg_status::OCIREG_OK
    );
    unsafe { ocireg_options_set_anonymous(opts, ptr::null_mut()) };
    unsafe { ocireg_options_set_max_retries(opts, 0, ptr::null_mut()) };
    let mut c = ptr::null_mut();
    let st = unsafe {
        ocireg_client_new(
            c"http://127.0.0.1:9".as_ptr(),
            opts,
            &mut c,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, ocireg_status::OCIREG_OK);
    unsafe { ocireg_options_free(opts) };
    c
}

#[test]
fn a_panic_becomes_status_99_with_its_message() {
    let mut err = ptr::null_mut();
    let st = unsafe { boundary(&mut err, || panic!("boom")) };
    assert_eq!(st, ocireg_status::OCIREG_PANIC);
    assert_eq!(st as u32, 99);
    assert_eq!(
        unsafe { ocireg_error_status(err) },
        ocireg_status::OCIREG_PANIC
    );
    assert_eq!(msg(err), "panic: boom");
    unsafe { ocireg_error_free(err) };

    let mut err = ptr::null_mut();
    let st = unsafe { boundary(&mut err, || panic!("formatted {}", 42)) };
    assert_eq!(st, ocireg_status::OCIREG_PANIC);
    assert_eq!(msg(err), "panic: formatted 42");
    unsafe { ocireg_error_free(err) };

    // Without an error object the status alone comes back.
    let st = unsafe { boundary(ptr::null_mut(), || panic!("quiet")) };
    assert_eq!(st, ocireg_status::OCIREG_PANIC);
    // Infallible functions return their fallback.
    assert_eq!(guard(7u32, || panic!("accessor")), 7);
}

#[test]
fn err_is_cleared_on_entry_and_success_leaves_it_null() {
    let mut err: *mut ocireg_error = ptr::dangling_mut(); // garbage from the caller
    let st = unsafe { boundary(&mut err, || Ok(())) };
    assert_eq!(st, ocireg_status::OCIREG_OK);
    assert!(err.is_null());
}

#[test]
fn null_arguments_are_invalid_argument_never_a_crash() {
    let c = offline_client();
    let mut list: *mut ocireg_string_list = ptr::null_mut();
    let mut err = ptr::null_mut();

    let st = unsafe { ocireg_tags(ptr::null(), c"repo".as_ptr(), &mut list, &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(msg(err).contains("`client` is NULL"), "{}", msg(err));
    assert_eq!(unsafe { ocireg_error_http_status(err) }, 0);
    assert!(unsafe { ocireg_error_registry_code(err) }.is_null());
    assert_eq!(unsafe { ocireg_error_retry_after_secs(err) }, -1);
    unsafe { ocireg_error_free(err) };

    let st = unsafe { ocireg_tags(c, ptr::null(), &mut list, &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(msg(err).contains("`repository` is NULL"));
    unsafe { ocireg_error_free(err) };

    let st = unsafe { ocireg_tags(c, c"repo".as_ptr(), ptr::null_mut(), &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(msg(err).contains("`out` is NULL"));
    unsafe { ocireg_error_free(err) };
    assert!(list.is_null(), "outputs are untouched on failure");

    // err itself may be NULL.
    let st = unsafe { ocireg_ping(ptr::null(), ptr::null_mut()) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);

    let st = unsafe { ocireg_client_new(ptr::null(), ptr::null(), ptr::null_mut(), &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    unsafe { ocireg_error_free(err) };

    let st = unsafe { ocireg_options_set_user_agent(ptr::null_mut(), c"x".as_ptr(), &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(msg(err).contains("`opts` is NULL"));
    unsafe { ocireg_error_free(err) };

    // A byte buffer may be NULL only with length 0.
    let st = unsafe {
        ocireg_manifest_put(
            c,
            c"repo".as_ptr(),
            c"v1".as_ptr(),
            ptr::null(),
            ptr::null(),
            5,
            ptr::null_mut(),
            &mut err,
        )
    };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(msg(err).contains("`data` is NULL but its length is 5"));
    unsafe { ocireg_error_free(err) };

    // Accessors and frees accept NULL.
    unsafe {
        assert_eq!(
            ocireg_error_status(ptr::null()),
            ocireg_status::OCIREG_INVALID_ARGUMENT
        );
        assert!(ocireg_error_message(ptr::null()).is_null());
        assert_eq!(ocireg_error_http_status(ptr::null()), 0);
        assert_eq!(ocireg_error_retry_after_secs(ptr::null()), -1);
        assert!(ocireg_client_registry(ptr::null()).is_null());
        assert_eq!(ocireg_client_request_count(ptr::null()), 0);
        assert_eq!(ocireg_string_list_len(ptr::null()), 0);
        assert!(ocireg_string_list_get(ptr::null(), 0).is_null());
        ocireg_error_free(ptr::null_mut());
        ocireg_string_free(ptr::null_mut());
        ocireg_bytes_free(ptr::null_mut(), 3);
        ocireg_string_list_free(ptr::null_mut());
        ocireg_options_free(ptr::null_mut());
        ocireg_client_free(ptr::null_mut());
    }
    unsafe { ocireg_client_free(c) };
}

#[test]
fn invalid_utf8_is_invalid_argument() {
    let bad: &[u8] = b"caf\xe9\0";
    let mut err = ptr::null_mut();
    let mut c = ptr::null_mut();
    let st =
        unsafe { ocireg_client_new(bad.as_ptr().cast::<c_char>(), ptr::null(), &mut c, &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(
        msg(err).contains("`registry` is not valid UTF-8"),
        "{}",
        msg(err)
    );
    assert!(c.is_null());
    unsafe { ocireg_error_free(err) };

    let client = offline_client();
    let mut out = ptr::null_mut();
    let st = unsafe {
        ocireg_manifest_digest(
            client,
            c"repo".as_ptr(),
            bad.as_ptr().cast(),
            &mut out,
            &mut err,
        )
    };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(msg(err).contains("`reference` is not valid UTF-8"));
    assert!(out.is_null());
    unsafe { ocireg_error_free(err) };
    unsafe { ocireg_client_free(client) };
}

#[test]
fn bad_references_and_registries_map_to_their_status() {
    let client = offline_client();
    let mut err = ptr::null_mut();
    let mut list = ptr::null_mut();
    let st = unsafe { ocireg_tags(client, c"Bad/UPPER".as_ptr(), &mut list, &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_REFERENCE);
    assert_eq!(unsafe { ocireg_error_status(err) }, st);
    unsafe { ocireg_error_free(err) };
    assert!(list.is_null());

    let mut c = ptr::null_mut();
    let st = unsafe { ocireg_client_new(c"ftp://x".as_ptr(), ptr::null(), &mut c, &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert!(c.is_null());
    unsafe { ocireg_error_free(err) };

    // Unreachable registry: a network error, no HTTP status.
    let st = unsafe { ocireg_ping(client, &mut err) };
    assert_eq!(st, ocireg_status::OCIREG_NETWORK, "{}", msg(err));
    assert_eq!(unsafe { ocireg_error_http_status(err) }, 0);
    unsafe { ocireg_error_free(err) };
    unsafe { ocireg_client_free(client) };
}

#[test]
fn every_error_variant_maps_to_a_status_and_details() {
    use ocireg_status::*;
    let r = || "reg".to_string();
    let cases: Vec<(Error, ocireg_status, u16)> = vec![
        (
            Error::Authentication {
                registry: r(),
                message: "no".into(),
                errors: Vec::new(),
                body: None,
            },
            OCIREG_AUTHENTICATION,
            401,
        ),
        (
            Error::Authorization {
                registry: r(),
                repository: None,
                message: "no".into(),
                errors: Vec::new(),
                body: None,
            },
            OCIREG_AUTHORIZATION,
            403,
        ),
        (
            Error::NotFound {
                registry: r(),
                what: "x".into(),
                errors: vec![ErrorInfo {
                    code: "MANIFEST_UNKNOWN".into(),
                    message: "unknown".into(),
                    detail: None,
                }],
                body: None,
            },
            OCIREG_NOT_FOUND,
            404,
        ),
        (
            Error::Tls {
                registry: r(),
                message: "x".into(),
            },
            OCIREG_TLS,
            0,
        ),
        (
            Error::Network {
                registry: r(),
                message: "x".into(),
            },
            OCIREG_NETWORK,
            0,
        ),
        (
            Error::Timeout {
                registry: r(),
                message: "x".into(),
            },
            OCIREG_TIMEOUT,
            0,
        ),
        (
            Error::RateLimited {
                registry: r(),
                retry_after: Some(Duration::from_secs(30)),
                errors: Vec::new(),
                body: None,
            },
            OCIREG_RATE_LIMITED,
            429,
        ),
        (
            Error::Registry {
                registry: r(),
                operation: "PUT".into(),
                status: 500,
                errors: vec![],
                body: None,
                retry_after: None,
            },
            OCIREG_REGISTRY,
            500,
        ),
        (
            Error::DigestMismatch {
                what: "x".into(),
                expected: "a".into(),
                actual: "b".into(),
            },
            OCIREG_DIGEST_MISMATCH,
            0,
        ),
        (
            Error::InvalidReference("x".into()),
            OCIREG_INVALID_REFERENCE,
            0,
        ),
        (Error::InvalidInput("x".into()), OCIREG_INVALID_ARGUMENT, 0),
        (
            Error::Unsupported {
                registry: r(),
                what: "x".into(),
            },
            OCIREG_UNSUPPORTED,
            0,
        ),
        (Error::Credentials("x".into()), OCIREG_CREDENTIALS, 0),
        (
            Error::io("reading f", std::io::Error::other("gone")),
            OCIREG_IO,
            0,
        ),
        (Error::Cancelled("x".into()), OCIREG_CANCELLED, 0),
    ];
    for (e, status, http) in cases {
        let text = e.to_string();
        let mut err = ptr::null_mut();
        let st = unsafe { boundary(&mut err, move || Err(e.into())) };
        assert_eq!(st, status);
        assert_eq!(unsafe { ocireg_error_status(err) }, status);
        assert_eq!(unsafe { ocireg_error_http_status(err) }, http);
        assert_eq!(msg(err), text);
        let code = unsafe { ocireg_error_registry_code(err) };
        if status == OCIREG_NOT_FOUND {
            assert_eq!(
                unsafe { CStr::from_ptr(code) }.to_str().unwrap(),
                "MANIFEST_UNKNOWN"
            );
        } else {
            assert!(code.is_null());
        }
        let retry = unsafe { ocireg_error_retry_after_secs(err) };
        assert_eq!(
            retry,
            if status == OCIREG_RATE_LIMITED {
                30
            } else {
                -1
            }
        );
        unsafe { ocireg_error_free(err) };
    }
}

#[test]
fn status_names_and_numbers_are_stable() {
    for n in 0..200u32 {
        let name = unsafe { CStr::from_ptr(ocireg_status_name(n)) }
            .to_str()
            .unwrap();
        match status_from_u32(n) {
            Some(s) => {
                assert_eq!(s as u32, n);
                assert!(name.starts_with("OCIREG_") && name != "OCIREG_UNKNOWN_STATUS");
            }
            None => assert_eq!(name, "OCIREG_UNKNOWN_STATUS"),
        }
    }
    assert_eq!(ocireg_status::OCIREG_VERIFY_FAILED as u32, 16);
    assert_eq!(ocireg_status::OCIREG_PROTOCOL as u32, 17);
    assert_eq!(unsafe { ocireg_abi_version() }, OCIREG_ABI_VERSION);
    let v = unsafe { CStr::from_ptr(ocireg_version()) }
        .to_str()
        .unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

#[test]
fn messages_with_nul_bytes_survive() {
    let mut err = ptr::null_mut();
    let st = unsafe { boundary(&mut err, || Err(Failure::invalid("a\0b"))) };
    assert_eq!(st, ocireg_status::OCIREG_INVALID_ARGUMENT);
    assert_eq!(msg(err), "a\\0b");
    unsafe { ocireg_error_free(err) };
}

#[test]
fn options_validate_their_arguments() {
    let mut opts = ptr::null_mut();
    let mut err = ptr::null_mut();
    unsafe { ocireg_options_new(&mut opts, ptr::null_mut()) };
    unsafe {
        assert_eq!(
            ocireg_options_set_timeout_ms(opts, OCIREG_TIMEOUT_OVERALL, 0, &mut err),
            ocireg_status::OCIREG_OK
        );
        assert_eq!(
            ocireg_options_set_timeout_ms(opts, 5, 10, &mut err),
            ocireg_status::OCIREG_INVALID_ARGUMENT
        );
        assert!(msg(err).contains("OCIREG_TIMEOUT_"));
        ocireg_error_free(err);
        assert_eq!(
            ocireg_options_set_ca_cert_pem(opts, b"junk".as_ptr(), 4, ptr::null_mut()),
            ocireg_status::OCIREG_OK
        );
        // The bad PEM shows up when the client is built, as a TLS error.
        let mut c = ptr::null_mut();
        let st = ocireg_client_new(c"https://127.0.0.1:9".as_ptr(), opts, &mut c, &mut err);
        assert_eq!(st, ocireg_status::OCIREG_TLS, "{}", msg(err));
        assert!(c.is_null());
        ocireg_error_free(err);
        ocireg_options_free(opts);
    }
}

#[test]
fn client_accessors() {
    let c = offline_client();
    unsafe {
        let r = CStr::from_ptr(ocireg_client_registry(c)).to_str().unwrap();
        assert_eq!(r, "127.0.0.1:9");
        let b = CStr::from_ptr(ocireg_client_base_url(c)).to_str().unwrap();
        assert_eq!(b, "http://127.0.0.1:9");
        assert!(!ocireg_client_credential_source(c).is_null());
        assert_eq!(ocireg_client_request_count(c), 0);
        ocireg_client_free(c);
    }
}

#[test]
fn bytes_round_trip() {
    let (p, n) = bytes_into_raw(b"hello".to_vec());
    assert_eq!(n, 5);
    assert_eq!(unsafe { std::slice::from_raw_parts(p, n) }, b"hello");
    unsafe { ocireg_bytes_free(p, n) };
    let (p, n) = bytes_into_raw(Vec::new());
    assert!(p.is_null());
    assert_eq!(n, 0);
}

mod progress {
    use std::ffi::{c_char, c_int, c_void};
    use std::sync::Arc;
    use std::thread::ThreadId;

    use super::super::callbacks::{OCIREG_PROGRESS_UPLOADING, UserData, with_progress};
    use crate::Digest;
    use crate::transfer::{Progress, ProgressEvent};

    struct Log {
        thread: ThreadId,
        calls: u32,
        wrong_thread: bool,
        cancel_at: u32,
    }

    impl Log {
        /// A log expecting callbacks on this thread, never cancelling.
        fn here() -> Self {
            Log {
                thread: std::thread::current().id(),
                calls: 0,
                wrong_thread: false,
                cancel_at: 0,
            }
        }
    }

    unsafe extern "C" fn cb(
        userdata: *mut c_void,
        digest: *const c_char,
        done: u64,
        total: u64,
        event: u32,
    ) -> c_int {
        let log = unsafe { &mut *userdata.cast::<Log>() };
        log.calls += 1;
        log.wrong_thread |= std::thread::current().id() != log.thread;
        assert!(!digest.is_null() && done <= total && event == OCIREG_PROGRESS_UPLOADING);
        c_int::from(log.cancel_at != 0 && log.calls >= log.cancel_at)
    }

    /// Reports 100 events from 4 worker threads, like a push does.
    fn fake_transfer(p: Option<crate::transfer::ProgressFn>) -> crate::Result<u32> {
        let p = p.expect("a progress callback");
        let p = Arc::new(p);
        std::thread::scope(|s| {
            let mut handles = Vec::new();
            for _ in 0..4 {
                let p = Arc::clone(&p);
                handles.push(s.spawn(move || {
                    for i in 0..25 {
                        let ok = p(&Progress {
                            digest: Digest::sha256_of(b"x"),
                            done: i,
                            total: 25,
                            event: ProgressEvent::Uploading,
                        });
                        if !ok {
                            return Err(crate::Error::Cancelled("test".into()));
                        }
                    }
                    Ok(())
                }));
            }
            for h in handles {
                h.join().expect("worker")?;
            }
            Ok(7)
        })
    }

    #[test]
    fn callbacks_run_on_the_calling_thread_and_can_cancel() {
        let mut log = Log::here();
        let ud = UserData((&mut log as *mut Log).cast());
        let r = with_progress(Some(cb), ud, None, |p, _| fake_transfer(p)).unwrap();
        assert_eq!(r, 7);
        assert_eq!(log.calls, 100);
        assert!(!log.wrong_thread);

        // A cancel is exact, wherever it comes: even on the very last event, the operation
        // fails instead of finishing with the events still queued. Repeated, because a
        // queue-and-forget adapter passes now and then.
        for cancel_at in [1, 3, 50, 99, 100] {
            for _ in 0..20 {
                log.calls = 0;
                log.cancel_at = cancel_at;
                let ud = UserData((&mut log as *mut Log).cast());
                let e = with_progress(Some(cb), ud, None, |p, _| fake_transfer(p)).unwrap_err();
                assert!(matches!(e, crate::Error::Cancelled(_)), "{e}");
                assert_eq!(
                    log.calls, cancel_at,
                    "no callback after the one that cancelled"
                );
                assert!(!log.wrong_thread);
            }
        }

        // Without a callback the operation runs here, with no progress function.
        let r = with_progress(None, UserData(std::ptr::null_mut()), None, |p, r| {
            assert!(p.is_none() && r.is_none());
            Ok(1)
        });
        assert_eq!(r.unwrap(), 1);
    }

    #[test]
    fn a_panic_on_the_helper_thread_reaches_the_boundary() {
        let mut log = Log::here();
        let ud = UserData((&mut log as *mut Log).cast());
        let mut err = std::ptr::null_mut();
        let st = unsafe {
            super::boundary(&mut err, || {
                with_progress(Some(cb), ud, None, |_p, _r| -> crate::Result<()> {
                    panic!("worker boom")
                })?;
                Ok(())
            })
        };
        assert_eq!(st, super::ocireg_status::OCIREG_PANIC);
        assert_eq!(super::msg(err), "panic: worker boom");
        unsafe { super::ocireg_error_free(err) };
    }
}
