//! Runs the C example and the C test program (`bindings/c/run.sh`): compiled with gcc against
//! the shared library, under AddressSanitizer + UBSan, then under valgrind.
//!
//! The library: `$OCIREG_LIB_DIR/libocireg.so` when set (tests/run-all.sh points it at a
//! `cargo cinstall` prefix), otherwise run.sh builds one with `cargo rustc --lib --crate-type
//! cdylib --features capi,test-server` into its own target directory (`<target>/c-abi`): the
//! crate itself only builds an rlib, and the running `cargo test` holds the lock of its own.
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
    // This test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .expect("target directory")
        .to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("bindings/c/run.sh")).current_dir(&root);
    if std::env::var_os("OCIREG_LIB_DIR").is_some_and(|d| !d.is_empty()) {
        // run.sh reads OCIREG_LIB_DIR itself.
        cmd.env("OCIREG_SKIP_BUILD", "1")
            .env("OCIREG_C_BUILD_DIR", target.join("c-abi-programs"));
    } else {
        cmd.env("CARGO_TARGET_DIR", target.join("c-abi"));
    }
    if required {
        cmd.env("OCIREG_REQUIRE_VALGRIND", "1");
    }
    let status = cmd.status().expect("running bindings/c/run.sh");
    assert!(status.success(), "bindings/c/run.sh failed: {status}");
}
