//! With the `capi` feature: generates the C header `ocireg.h` from the Rust source (`src/ffi/`)
//! with cbindgen. Without it, does nothing (cbindgen is then not even a build dependency).
//!
//! cbindgen reads `src/ffi/mod.rs` and the modules under it, not the whole crate from
//! `src/lib.rs`: the C ABI lives entirely in `src/ffi/`, and parsing the rest would leak every
//! public Rust constant (such as `manifest::MAX_MANIFEST_SIZE`) into the header, and make the
//! header depend on files that have nothing to do with it.
//!
//! The header goes to `OUT_DIR/ocireg.h` only. `OCIREG_UPDATE_HEADER=1 cargo build --features
//! capi` also writes the committed copy `include/ocireg.h`, the one `cargo cinstall` installs;
//! `tests/header_fresh.rs` fails when the two differ. A parse error (a half-edited file) is a
//! `cargo:warning`, never a failed build.
//!
//! The shared library's SONAME is not set here: cargo-c sets it (`libocireg.so.0.1` for the
//! 0.1.x series) when it builds the C library; the cdylibs that Python and Ruby load by path
//! need none.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "capi")]
    header::generate();
}

#[cfg(feature = "capi")]
mod header {
    use std::env;
    use std::path::PathBuf;

    pub fn generate() {
        println!("cargo:rerun-if-changed=src");
        println!("cargo:rerun-if-changed=cbindgen.toml");
        println!("cargo:rerun-if-env-changed=OCIREG_UPDATE_HEADER");

        let crate_dir =
            PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
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
}
