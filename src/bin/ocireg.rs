//! The ocireg command line tool (being written).
fn main() {}
