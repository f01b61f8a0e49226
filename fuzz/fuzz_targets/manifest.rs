#![no_main]
//! Manifests from bytes and a media type, their typed views, descriptors and platforms. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::manifest`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::manifest(data));
