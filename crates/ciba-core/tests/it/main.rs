//! Integration tests of ciba-core: one test binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod ack;
mod auth_request;
mod dpop;
mod fapi_profile;
mod id_token;
mod jose;
mod jwe;
mod negative_matrix;
mod notification;
mod poll;
mod proptest_ack;
mod proptest_documents;
mod proptest_parsers;
mod proptest_poll;
mod secrets_debug;
mod token_response;
