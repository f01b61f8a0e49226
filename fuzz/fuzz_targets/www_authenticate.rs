#![no_main]
//! WWW-Authenticate challenges. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::www_authenticate`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::www_authenticate(data));
