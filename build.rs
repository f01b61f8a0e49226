//! Generates the C header `ocireg.h` from the Rust source (`src/ffi/`) with cbindgen, and sets
//! the shared library's SONAME on Linux.
//!
//! cbindgen reads `src/ffi/mod.rs` and the modules under it, not the whole crate from
//! `src/lib.rs`: the C ABI lives entirely in `src/ffi/`, and parsing the rest would leak every
//! public Rust constant (such as `manifest::MAX_MANIFEST_SIZE`) into the header, and make the
//! header depend on files that have nothing to do with it.
//!
//! The header goes to `OUT_DIR/ocireg.h` only. `OCIREG_UPDATE_HEADER=1 cargo build` also writes
//! the committed copy `include/ocireg.h`; `tests/header_fresh.rs` fails when the two differ.
//! A parse error (a half-edited file) is a `cargo:warning`, never a failed build.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=OCIREG_UPDATE_HEADER");

    // SONAME libocireg.so.0 for the whole 0.x series (the C ABI version is checked at load
    // time with ocireg_abi_version()): only the cdylib, only on Linux.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libocireg.so.0");
    }

    let crate_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let out_header = out_dir.join("ocireg.h");

    let config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml: {e}; ocireg.h not generated");
            // Keep include_str!(OUT_DIR/ocireg.h) compiling in the freshness test.
            let _ = std::fs::write(&out_header, "");
            return;
        }
    };
    match cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&out_header);
            if env::var_os("OCIREG_UPDATE_HEADER").is_some_and(|v| !v.is_empty() && v != "0")
                && bindings.write_to_file(crate_dir.join("include/ocireg.h"))
            {
                println!("cargo:warning=include/ocireg.h updated");
            }
        }
        Err(e) => {
            println!("cargo:warning=cbindgen could not generate ocireg.h: {e}");
            if !out_header.exists() {
                let _ = std::fs::write(&out_header, "");
            }
        }
    }
}
