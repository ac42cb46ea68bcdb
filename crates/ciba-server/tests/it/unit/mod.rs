//! The tests of private parts of the crate, one module per source file (`src/<path>.rs` is
//! `unit::<path>`). What they need beyond the public API comes from `ciba_server::__internals`
//! (feature `test-internals`, enabled by the crate's dev-dependency on itself).

mod auth_req_id;
mod binding;
mod certificate;
mod client;
mod config;
mod dpop;
mod egress;
mod jwt_claims;
mod params;
mod response;
mod secret;
mod server;
mod store;
