//! Runs the C example and the C test program (`bindings/c/run.sh`): compiled with gcc against
//! the freshly built `libocireg.so`, under AddressSanitizer + UBSan, then under valgrind.
//!
//! Skipped (with a note) when gcc is missing, unless `OCIREG_REQUIRE_C=1`.

use std::path::PathBuf;
use std::process::Command;

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[cfg(feature = "test-server")]
fn c_example_and_tests_pass_under_asan_and_valgrind() {
    let required = std::env::var("OCIREG_REQUIRE_C").is_ok_and(|v| v == "1");
    if !have("gcc") {
        assert!(!required, "gcc not found and OCIREG_REQUIRE_C=1");
        eprintln!(
            "note: gcc not found: the C ABI test is skipped (set OCIREG_REQUIRE_C=1 to fail)"
        );
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // This test binary lives in <target>/<profile>/deps/. `cargo test` rebuilds the cdylib there
    // (deps/libocireg.so) along with the rlib, but does not refresh the copy in
    // <target>/<profile>/, so the fresh library is the one next to us.
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps directory").to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("bindings/c/run.sh")).current_dir(&root);
    if deps.join("libocireg.so").exists() {
        cmd.env("OCIREG_LIB_DIR", &deps)
            .env("OCIREG_C_BUILD_DIR", deps.with_file_name("c-abi"))
            .env("OCIREG_SKIP_BUILD", "1");
    } else if let Some(target) = deps.parent().and_then(|profile| profile.parent()) {
        // Let run.sh build the library with `cargo build --lib`.
        cmd.env("CARGO_TARGET_DIR", target);
    }
    if required {
        cmd.env("OCIREG_REQUIRE_VALGRIND", "1");
    }
    let status = cmd.status().expect("running bindings/c/run.sh");
    assert!(status.success(), "bindings/c/run.sh failed: {status}");
}
