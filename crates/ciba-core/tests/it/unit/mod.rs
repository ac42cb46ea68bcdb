//! Tests of single items of src/ (what were `#[cfg(test)]` modules there): one file per
//! source file, named after its module path (`src/jose/jwk.rs` is `jose_jwk`). Private items
//! come from `ciba_core::__internals` (feature `test-internals`).

mod ack;
mod auth_request;
mod body;
mod client_auth;
mod dpop;
mod dpop_nonces;
mod endpoint;
mod id_token_claims;
mod id_token_validator;
mod jose_alg;
mod jose_backend;
mod jose_der;
mod jose_hash;
mod jose_jwe_alg;
mod jose_jwe_compact;
#[cfg(feature = "jwe")]
mod jose_jwe_concat_kdf;
#[cfg(feature = "jwe")]
mod jose_jwe_content;
mod jose_jwk;
mod jose_jws;
mod metadata;
mod notification_authenticate;
mod oauth_error;
mod observe;
mod poll;
mod profile;
mod random;
mod time;
mod token_response;
mod wire;
