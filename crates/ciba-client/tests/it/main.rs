//! Integration tests of ciba-client: one test binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs, clippy::indexing_slicing)]

/// The scripted provider, the two adapters behind one trait, the standard clients.
use ciba_test::client as support;

mod pair_flow;
mod scenarios;
mod unit;
