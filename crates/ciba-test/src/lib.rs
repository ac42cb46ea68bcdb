//! Test support shared by the integration tests of the ciba workspace.
//!
//! Not published. Every crate's `tests/it` binary takes it as a dev-dependency, so the pieces
//! that tests kept writing again live here once:
//!
//! - [`random`]: deterministic [`Random`](ciba_core::Random) sources (a counter, splitmix64, a
//!   constant byte, one that always fails);
//! - [`keys`]: the test keys of `crates/ciba-core/testdata` as JWKs and signers;
//! - [`clock`]: the origin of the virtual clock the tests run on;
//! - [`logs`]: a writer that captures what a `tracing` subscriber logs.
//!
//! ciba-core's own unit tests (in `src/`) cannot use these types: a dev-dependency cycle
//! builds a second copy of ciba-core for them. Integration tests can.
// Test support: a key that does not load is a failed test, so it panics with the reason.
#![allow(clippy::expect_used, clippy::panic)]

pub mod clock;
pub mod keys;
pub mod logs;
pub mod random;
