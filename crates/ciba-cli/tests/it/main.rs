//! Integration tests of ciba-cli: one test binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs, clippy::indexing_slicing)]

mod support;
/// The TLS test support: a test CA, certificates for `localhost` / 127.0.0.1, https endpoints.
use ciba_test::tls as tls_support;

mod demo;
mod device_page_browser;
mod encrypted_id_tokens;
mod help;
mod login_scripted;
mod redis_store;
mod serve_fapi;
mod serve_login;
mod serve_metrics;
mod serve_safe_provider;
mod shared_device_list;
