//! The `ciba` command.
fn main() {}
