//! # ciba-core
//!
//! Sans-I/O OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0).
//!
//! (Crate overview and the runnable poll-flow example land with the client modules.)

#![forbid(unsafe_code)]

pub mod body;
pub mod ct;
pub mod endpoint;
pub mod error;
pub mod jose;
pub mod limits;
pub mod oauth_error;
pub mod random;
pub mod time;

pub use error::{ConfigError, Error, ParseError, ParseErrorKind};
pub use limits::Limits;
pub use oauth_error::{ErrorCode, OAuthError};
pub use random::Random;
