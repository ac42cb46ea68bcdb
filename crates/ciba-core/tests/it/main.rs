//! Integration tests of ciba-core: one test binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs, clippy::indexing_slicing, clippy::result_large_err)]

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
mod unit;
