#![no_main]
//! Link, Retry-After and upload Range headers, and URL resolution. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::headers`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::headers(data));
