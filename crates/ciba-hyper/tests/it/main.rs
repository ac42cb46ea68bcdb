//! Integration tests of ciba-hyper: one test binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs, clippy::indexing_slicing)]

#[cfg(all(feature = "server", feature = "tls"))]
mod as_tls;
#[cfg(feature = "server")]
mod common;

#[cfg(feature = "server")]
mod authorization_server;
#[cfg(feature = "server")]
mod observability;
#[cfg(feature = "server")]
mod receiver;
mod secrets_debug;
mod unit;
