//! The crate-wide error type and the errors shared by several modules.
//!
//! Errors are layered: [`Error`] says which stage failed, and each stage has its own
//! `#[non_exhaustive]` enum with structured fields. Errors a peer sent us are
//! [`OAuthError`]s; responses we could not understand are
//! [`ParseError`]s, which keep the raw bytes.

use std::fmt;

use crate::jose::JoseError;
use crate::oauth_error::OAuthError;
use crate::random::RandomError;

/// Any error ciba-core can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer answered with an OAuth error (`error`, `error_description`, `error_uri`).
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// A response or notification could not be understood.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The client configuration or server metadata cannot be used as given.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Signing, verifying or parsing a JOSE object failed.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// An authentication request was refused before sending (CIBA 7.1, 7.1.1).
    #[error(transparent)]
    Request(#[from] crate::auth_request::RequestError),
    /// A DPoP key was unusable or a DPoP proof was refused (RFC 9449).
    #[error(transparent)]
    Dpop(#[from] crate::dpop::DpopError),
    /// An ID token failed validation (OIDC Core 3.1.3.7, CIBA 10.3.1).
    #[error(transparent)]
    IdToken(#[from] crate::id_token::IdTokenError),
    /// A token response was refused (OIDC Core 3.1.3.3).
    #[error(transparent)]
    TokenResponse(#[from] crate::token_response::TokenResponseError),
    /// A ping or push notification was refused (CIBA 10.2, 10.3).
    #[error(transparent)]
    Notification(#[from] crate::notification::NotificationRefusal),
    /// A token request was refused before sending (CIBA 10.1).
    #[error(transparent)]
    TokenRequest(#[from] crate::token_request::TokenRequestError),
    /// Polling the token endpoint ended without tokens (CIBA 10.1, 11).
    #[error(transparent)]
    Poll(#[from] crate::poll::PollError),
}

/// Why a response body could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The body is larger than the configured limit.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The size received.
        actual: usize,
    },
    /// The `Content-Type` is not the one the protocol requires.
    UnexpectedContentType {
        /// What was expected, for example `application/json`.
        expected: &'static str,
        /// What was received, if anything.
        found: Option<String>,
    },
    /// The body is not valid JSON.
    InvalidJson {
        /// Line of the first syntax error (1-based).
        line: usize,
        /// Column of the first syntax error (1-based).
        column: usize,
    },
    /// The JSON body is not an object.
    NotAnObject,
    /// A JSON object has the same member twice.
    DuplicateMember {
        /// The repeated member name.
        member: String,
    },
    /// A required member is absent.
    MissingMember {
        /// The member name.
        member: &'static str,
    },
    /// A member is present but has the wrong type or an invalid value.
    InvalidMember {
        /// The member name.
        member: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The HTTP status is not one the protocol allows here.
    UnexpectedStatus {
        /// The status received.
        status: u16,
    },
    /// A header could not be parsed.
    InvalidHeader {
        /// The header name.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The body is not valid `application/x-www-form-urlencoded` data for this purpose.
    InvalidForm {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A response or notification that could not be parsed. Keeps the raw body (up to the body
/// limit) so callers can inspect what the peer actually sent. A body can hold tokens or
/// secrets, so neither `Debug` nor `Display` prints it: `Debug` shows the kind and the body's
/// length; read [`ParseError::raw`] deliberately where the bytes are needed.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.kind))]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// The body as received, truncated to the body limit.
    pub raw: Vec<u8>,
}

impl ParseError {
    /// A parse error of `kind` that keeps `raw` (truncated to `max` bytes).
    pub fn new(kind: ParseErrorKind, raw: &[u8], max: usize) -> Self {
        let keep = raw.get(..max.min(raw.len())).unwrap_or_default();
        ParseError {
            kind,
            raw: keep.to_vec(),
        }
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseError")
            .field("kind", &self.kind)
            .field("raw_len", &self.raw.len())
            .finish_non_exhaustive()
    }
}

fn describe(kind: &ParseErrorKind) -> String {
    match kind {
        ParseErrorKind::BodyTooLarge { limit, actual } => {
            format!("body of {actual} bytes exceeds the {limit}-byte limit")
        }
        ParseErrorKind::UnexpectedContentType { expected, found } => match found {
            Some(f) => format!("expected content type {expected}, got {f:?}"),
            None => format!("expected content type {expected}, got none"),
        },
        ParseErrorKind::InvalidJson { line, column } => {
            format!("invalid JSON at line {line}, column {column}")
        }
        ParseErrorKind::NotAnObject => "JSON body is not an object".to_owned(),
        ParseErrorKind::DuplicateMember { member } => {
            format!("JSON member {member:?} appears more than once")
        }
        ParseErrorKind::MissingMember { member } => {
            format!("required member {member:?} is missing")
        }
        ParseErrorKind::InvalidMember { member, reason } => {
            format!("member {member:?} is invalid: {reason}")
        }
        ParseErrorKind::UnexpectedStatus { status } => format!("unexpected HTTP status {status}"),
        ParseErrorKind::InvalidHeader { header, reason } => {
            format!("header {header} is invalid: {reason}")
        }
        ParseErrorKind::InvalidForm { reason } => format!("invalid form body: {reason}"),
    }
}

/// The configuration, metadata or an endpoint URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An endpoint is not `https` (plain `http` is allowed only on loopback, by opt-in).
    #[error("endpoint {url} must use https (http is allowed only for loopback hosts, by opt-in)")]
    InsecureEndpoint {
        /// The offending URL.
        url: String,
    },
    /// A URL could not be parsed.
    #[error("{field} is not a valid URL")]
    InvalidUrl {
        /// Which configuration field or metadata member.
        field: &'static str,
    },
    /// A URL has a fragment or user information, which endpoints must not have.
    #[error("{field} must not contain a fragment or user information")]
    UrlHasForbiddenParts {
        /// Which configuration field or metadata member.
        field: &'static str,
    },
    /// The server metadata lacks a member this operation needs.
    #[error("server metadata has no {member}")]
    MissingMetadata {
        /// The missing member, for example `backchannel_authentication_endpoint`.
        member: &'static str,
    },
    /// The discovered issuer differs from the expected one (OIDC Discovery section 4.3).
    #[error("issuer mismatch: expected {expected}, metadata says {found}")]
    IssuerMismatch {
        /// The issuer the caller asked for.
        expected: String,
        /// The issuer the metadata carries.
        found: String,
    },
    /// The client configuration is inconsistent.
    #[error("invalid client configuration: {reason}")]
    InvalidClient {
        /// What is wrong.
        reason: &'static str,
    },
}
