//! The examples' code, one module per idea, each running on a listener the caller binds: the
//! programs in `src/bin/` bind the address given on their command line, and the tests in
//! `tests/` bind loopback port 0 and drive a whole CIBA flow through the same code.
//!
//! | module | idea | program |
//! |---|---|---|
//! | [`axum_as`] | an axum authorization server: the CIBA endpoints nested under `/oauth` beside the application's own routes (a device API for the user's app) | `axum-as` |
//! | [`token_endpoint`] | a token endpoint the application already has: the CIBA grant handed to ciba-server, `client_credentials` kept by the application | `existing-token-endpoint` |
//! | [`rp_reqwest`] | a relying party that signs a user in through the `reqwest::Client` it already has | `rp-reqwest` |
//! | [`push_rp`] | a push-mode relying party whose notification endpoint is a route of its axum app | `push-rp` |
//!
//! [`provider`] holds what the two server examples share: a `CibaServer` for loopback with
//! its clients and keys.
//!
//! The examples use plain `http` on loopback, by the explicit opt-ins
//! (`EndpointPolicy::ALLOW_HTTP_LOOPBACK`, `EgressPolicy::allow_loopback`). A deployed server
//! serves `https` behind its TLS terminator and keeps the secure defaults.

pub mod app;
pub mod axum_as;
pub mod provider;
pub mod push_rp;
pub mod rp_reqwest;
pub mod token_endpoint;

/// The error type of the examples.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// docs/guide-authorization-server.md, its Rust blocks compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide-authorization-server.md")]
pub mod guide_authorization_server {}

/// docs/guide-relying-party.md, its Rust blocks compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide-relying-party.md")]
pub mod guide_relying_party {}
