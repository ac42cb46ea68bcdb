//! How a flow ended, read from the errors of ciba-core (through ciba-client), and
//! what that means for the exit code.

use ciba_core::notification::{PushError, PushErrorCode};
use ciba_core::poll::PollError;

use crate::error::Failure;

/// How one flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Tokens with a validated ID token.
    Tokens,
    /// `access_denied`.
    AccessDenied,
    /// `expired_token`, or the request expired locally.
    Expired,
    /// Anything else; the text says what.
    Failed(String),
}

impl Outcome {
    /// A short label for tables and messages.
    pub(crate) fn label(&self) -> String {
        match self {
            Outcome::Tokens => "tokens".to_owned(),
            Outcome::AccessDenied => "access_denied".to_owned(),
            Outcome::Expired => "expired_token".to_owned(),
            Outcome::Failed(why) => format!("error: {why}"),
        }
    }

    /// The exit-code class of an unsuccessful outcome.
    pub(crate) fn failure(&self) -> Failure {
        match self {
            Outcome::Tokens | Outcome::Failed(_) => Failure::Error,
            Outcome::AccessDenied => Failure::Denied,
            Outcome::Expired => Failure::Expired,
        }
    }

    /// The outcome of a poll that ended without tokens.
    pub(crate) fn of_poll(error: &PollError, message: String) -> Outcome {
        match error {
            PollError::AccessDenied(_) => Outcome::AccessDenied,
            PollError::ExpiredToken(_) | PollError::ExpiredLocally { .. } => Outcome::Expired,
            _ => Outcome::Failed(message),
        }
    }

    /// The outcome of a pushed error payload.
    pub(crate) fn of_push(error: &PushError, message: String) -> Outcome {
        match error.code {
            PushErrorCode::AccessDenied => Outcome::AccessDenied,
            PushErrorCode::ExpiredToken => Outcome::Expired,
            _ => Outcome::Failed(message),
        }
    }

    /// The outcome of a wait, through either transport.
    pub(crate) fn of_client(error: &ciba_client::Error, message: String) -> Outcome {
        match error {
            ciba_client::Error::Pushed(e) => Outcome::of_push(e, message),
            other => match other.poll_error() {
                Some(e) => Outcome::of_poll(e, message),
                None => Outcome::Failed(message),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciba_core::{ErrorCode, OAuthError};

    #[test]
    fn denial_and_expiry_are_told_apart_from_errors() {
        let denied = PollError::AccessDenied(OAuthError::new(
            ErrorCode::AccessDenied,
            http::StatusCode::FORBIDDEN,
        ));
        assert_eq!(
            Outcome::of_poll(&denied, String::new()),
            Outcome::AccessDenied
        );
        let expired = PollError::ExpiredToken(OAuthError::new(
            ErrorCode::ExpiredToken,
            http::StatusCode::BAD_REQUEST,
        ));
        assert_eq!(Outcome::of_poll(&expired, String::new()), Outcome::Expired);
        let other = PollError::TooManyFailures { attempts: 5 };
        assert_eq!(
            Outcome::of_poll(&other, "x".into()),
            Outcome::Failed("x".into())
        );
        assert_eq!(Outcome::AccessDenied.failure(), Failure::Denied);
        assert_eq!(Outcome::Expired.failure(), Failure::Expired);
    }
}
