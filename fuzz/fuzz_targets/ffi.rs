#![no_main]
//! The C ABI's string inputs that need no network. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::ffi`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::ffi(data));
