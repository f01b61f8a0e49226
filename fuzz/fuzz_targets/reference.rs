#![no_main]
//! Image references, TagOrDigest, and the repository and tag validators. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::reference`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::reference(data));
