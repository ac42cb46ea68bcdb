//! Test support shared by the integration tests of the ciba workspace.
//!
//! Not published. Every crate's `tests/it` binary takes it as a dev-dependency, with the
//! features it needs, so the pieces that tests kept writing again live here once:
//!
//! - `random` (feature `core`, on by default): deterministic `ciba_core::Random` sources (a
//!   counter, splitmix64, a constant byte, one that always fails);
//! - `keys` (`core`): the test keys of `crates/ciba-core/testdata` as JWKs and signers;
//! - `clock` (always): the origin of the virtual clock the tests run on;
//! - `logs` (always): a writer that captures what a `tracing` subscriber logs;
//! - `metrics` (`metrics`): a `metrics` recorder that keeps what is recorded;
//! - `block` (always): `block_on`, which runs a future on the calling thread, no runtime;
//! - `services` (`services`, std only): a plain, a TLS and a clustered `redis-server` on free
//!   loopback ports, and a test CA made with `openssl`; xtask takes this module alone;
//! - `scripted` (`scripted`): a scripted OpenID provider on loopback that misbehaves the way
//!   real ones do;
//! - `client` (`client`): the two transport adapters behind one trait,
//!   `on_both_transports!`, and the standard clients of the scripted provider;
//! - `harness` (`harness`): ciba-hyper's authorization server over ciba-server, and a
//!   notification receiver, on loopback, with a client per delivery mode;
//! - `store` and `outcome` (`server`): a MemoryStore whose every operation goes through a
//!   layer (one that waits for another thread, stalls or fails), so a test store is one
//!   layer; and readers of ciba-server's outcomes (a JSON body, a token error);
//! - `tls` (`tls`): a test CA, a client certificate, and an https endpoint that records what
//!   it receives;
//! - `pair` (`pair`): ciba-core's `Poller` and ciba-server's `CibaServer` on one virtual
//!   clock, without sockets, and a whole poll-mode flow between them.
//!
//! ciba-core's own unit tests (in `src/`) cannot use these types: a dev-dependency cycle
//! builds a second copy of ciba-core for them. Integration tests can. The features that
//! depend on the crates above ciba-core (`client`, `harness`, `tls`, `pair`, `server`) are for the tests of
//! those crates.
// Test support: a key that does not load, or a socket that does not bind, is a failed test,
// so it panics with the reason.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

pub mod block;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "core")]
pub mod keys;
pub mod logs;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod outcome;
#[cfg(feature = "pair")]
pub mod pair;
#[cfg(feature = "core")]
pub mod random;
#[cfg(feature = "scripted")]
pub mod scripted;
#[cfg(feature = "services")]
pub mod services;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "tls")]
pub mod tls;
