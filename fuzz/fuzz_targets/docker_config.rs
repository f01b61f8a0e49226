#![no_main]
//! docker config.json parsing and every credential lookup in it. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::docker_config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::docker_config(data));
