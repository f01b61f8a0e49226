//! The committed C header `include/ocireg.h` must match the one build.rs generates from the
//! current source (`OUT_DIR/ocireg.h`).

#[test]
fn committed_header_is_fresh() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/ocireg.h"));
    assert!(
        !generated.is_empty(),
        "build.rs could not generate ocireg.h (see the cargo:warning lines of the build)"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/ocireg.h");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if generated != committed {
        let line = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || generated.lines().count().min(committed.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "include/ocireg.h is stale (first difference at line {line}).\n\
             Regenerate it with:\n    OCIREG_UPDATE_HEADER=1 cargo build --features capi\n\
             and commit the result."
        );
    }
}
