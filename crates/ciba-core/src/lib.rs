//! # ciba-core
//!
//! Sans-I/O OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0).
//!
//! (Crate overview and the runnable poll-flow example land with the client modules.)

#![forbid(unsafe_code)]

pub mod ack;
pub mod auth_request;
pub mod body;
pub mod client;
pub mod client_auth;
pub mod ct;
pub mod delivery_mode;
pub mod dpop;
pub mod endpoint;
pub mod error;
pub mod id_token;
pub mod jose;
pub mod limits;
pub mod metadata;
pub mod notification;
pub mod oauth_error;
pub mod poll;
pub mod random;
pub mod time;
pub mod token_request;
pub mod token_response;

pub use ack::{AuthReqId, AuthRequestAck};
pub use auth_request::{AuthRequest, Hint, RequestError};
pub use client::{Client, ClientConfig};
pub use client_auth::{ClientAuth, ClientSecret};
pub use delivery_mode::{CIBA_GRANT_TYPE, DeliveryMode};
pub use dpop::{DpopError, DpopKey};
pub use endpoint::EndpointPolicy;
pub use error::{ConfigError, Error, ParseError, ParseErrorKind};
pub use limits::Limits;
pub use metadata::ServerMetadata;
pub use oauth_error::{ErrorCode, OAuthError};
pub use random::Random;
