#![no_main]
//! The registry string of Client::builder, and that a userinfo password never shows. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::client_registry`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::client_registry(data));
