#![no_main]
//! The locked read-modify-write of config.json that login and logout use. See `fuzz/README.md`; the logic is in `ocireg::fuzzing::docker_config_update`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocireg::fuzzing::docker_config_update(data));
