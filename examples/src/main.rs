//! Small programs, one idea each (see the `[[bin]]` targets).
fn main() {}
