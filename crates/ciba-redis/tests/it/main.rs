//! Integration tests of ciba-redis: one test binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs, clippy::indexing_slicing)]

mod common;

mod fault;
mod kill_instance;
mod multi_instance;
mod redis_store;
mod secrets_debug;
mod store_suite;
mod unit;
