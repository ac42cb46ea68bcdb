//! Integration tests of ciba-server: one test binary, one module per concern.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs, clippy::indexing_slicing)]

mod common;

mod arbitrary_inputs;
mod client_authentication;
mod concurrency;
mod discovery_and_minting;
mod e2e_core_client;
mod encrypted_id_tokens;
mod error_catalogue;
mod error_descriptions;
mod fapi_profile;
mod inline_ticket;
mod memory_store;
mod negative_matrix;
mod observability;
mod parameter_validation;
mod ping_mode;
mod poll_mode;
mod push_mode;
mod registration;
mod registry_failure;
mod secrets_debug;
mod sender_constrained;
mod signed_requests;
mod store_conformance;
mod store_failure;
mod unit;
mod waiting_store;
