#![no_main]
//! Digest parsing, its Display / Debug / serde forms, and hashing. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::digest`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::digest(data));
