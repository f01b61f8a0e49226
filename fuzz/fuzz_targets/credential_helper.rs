#![no_main]
//! The output of docker-credential-* helpers (get, store, erase, list), through real runs. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::credential_helper`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::credential_helper(data));
