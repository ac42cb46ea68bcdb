//! The tests of private parts of the crate, one module per source file (`src/<path>.rs` is
//! `unit::<path>`). What they need beyond the public API comes from `ciba_hyper::__internals`
//! (feature `test-internals`, enabled by the crate's dev-dependency on itself).

#[cfg(feature = "server")]
mod server;
