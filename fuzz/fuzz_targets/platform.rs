#![no_main]
//! Platform strings (os/arch[/variant]) given to pull. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::platform`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::platform(data));
