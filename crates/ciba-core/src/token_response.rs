//! The token response (OpenID Connect Core 3.1.3.3, RFC 6749 5.1 and 5.2), as returned by the
//! token endpoint to a poll or ping client, and as pushed to a push client (CIBA Core 10.3).
//!
//! [`TokenResponse::from_response`] checks the HTTP layer and the members; a token endpoint
//! error comes back as [`TokenResponseError::OAuth`]. [`TokenResponse::validate`] then checks the
//! ID token with an [`IdTokenValidator`] and yields [`ValidatedTokens`].
//!
//! Tokens are secrets: `Debug` output shows neither the access token, the refresh token nor the
//! ID token.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::body::{
    APPLICATION_JSON, check_content_type, opt_str, parse_json_object, req_str, whole_seconds,
};
use crate::dpop::nonce_from_response;
use crate::error::{ParseError, ParseErrorKind};
use crate::id_token::{IdTokenClaims, IdTokenContext, IdTokenError, IdTokenValidator};
use crate::limits::Limits;
use crate::oauth_error::OAuthError;

/// The `token_type` of an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449): the token is bound to the client's DPoP key.
    DPoP,
}

impl TokenType {
    /// The canonical spelling: `Bearer` or `DPoP`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::DPoP => "DPoP",
        }
    }

    /// Parses a `token_type`, ignoring ASCII case (RFC 6749 5.1).
    pub fn parse(value: &str) -> Option<TokenType> {
        if value.eq_ignore_ascii_case("bearer") {
            Some(TokenType::Bearer)
        } else if value.eq_ignore_ascii_case("dpop") {
            Some(TokenType::DPoP)
        } else {
            None
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a token response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenResponseError {
    /// The server answered with an OAuth error.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The response is not a well-formed token response (status, content type, JSON, members).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// `token_type` is neither `Bearer` nor `DPoP`.
    #[error("unsupported token_type {found:?}")]
    UnsupportedTokenType {
        /// The value received (truncated).
        found: String,
    },
    /// `token_type` is not the one the request asked for: a DPoP proof was sent and a Bearer
    /// token came back (the server ignored the proof), or the other way round.
    #[error("expected a {expected} token, got {found}")]
    TokenTypeMismatch {
        /// The type the request asked for.
        expected: TokenType,
        /// The type received.
        found: TokenType,
    },
}

/// A successful token response. Its ID token has not been validated yet: see
/// [`TokenResponse::validate`]. `Debug` redacts the tokens, and dropping the response wipes
/// them from memory.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenResponse {
    /// `access_token` (non-empty).
    pub access_token: String,
    /// `token_type`.
    pub token_type: TokenType,
    /// `expires_in`, when sent and usable: whole seconds (a JSON number with a fraction part or
    /// an exponent is rounded down), at least 1, at most [`MAX_TOKEN_EXPIRES_IN`]. An unusable
    /// value (a string, zero, negative, huge) is read as absent rather than refusing the
    /// tokens.
    pub expires_in: Option<Duration>,
    /// `refresh_token`, when sent.
    pub refresh_token: Option<String>,
    /// `scope`, when sent (when absent, the requested scope was granted).
    pub scope: Option<String>,
    /// `id_token`, when sent.
    pub id_token: Option<String>,
    /// The `DPoP-Nonce` header, when the server sent one (use it in the next DPoP proof).
    pub dpop_nonce: Option<String>,
    /// Every other member, as sent.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("scope", &self.scope)
            .field("id_token", &redacted(&self.id_token))
            .field("dpop_nonce", &self.dpop_nonce)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The tokens are wiped from memory when the response (or a clone) is dropped. (So their
/// fields cannot be moved out: clone or borrow them.)
impl Drop for TokenResponse {
    fn drop(&mut self) {
        self.access_token.zeroize();
        self.refresh_token.zeroize();
        self.id_token.zeroize();
    }
}

/// The longest access token lifetime taken from `expires_in` (`u32::MAX` seconds, about 136
/// years); a longer one is unusable and treated as absent.
pub const MAX_TOKEN_EXPIRES_IN: Duration = Duration::from_secs(u32::MAX as u64);

/// `expires_in` as a lifetime: a JSON number of whole seconds (a fraction part or an exponent is
/// rounded down) from 1 to [`MAX_TOKEN_EXPIRES_IN`]. Anything else (absent, `null`, a string,
/// zero, negative, huge) is unusable and reads as absent: the tokens are what matters.
fn usable_expires_in(value: Option<&Value>) -> Option<Duration> {
    let Some(Value::Number(n)) = value else {
        return None;
    };
    let secs = whole_seconds(n).filter(|s| *s > 0)?;
    let d = Duration::from_secs(secs);
    (d <= MAX_TOKEN_EXPIRES_IN).then_some(d)
}

/// The members a token response names; everything else goes to `extra`.
const NAMED: [&str; 6] = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "id_token",
];

/// A required-if-present string member must not be empty either.
fn opt_non_empty(
    map: &Map<String, Value>,
    member: &'static str,
) -> Result<Option<String>, ParseErrorKind> {
    match opt_str(map, member)? {
        Some(s) if s.is_empty() => Err(ParseErrorKind::InvalidMember {
            member,
            reason: "empty string",
        }),
        other => Ok(other),
    }
}

impl TokenResponse {
    /// Processes the token endpoint's response.
    ///
    /// 4xx and 5xx become [`TokenResponseError::OAuth`] (or [`TokenResponseError::Parse`] when
    /// the body is not an OAuth error). Success needs status 200, `application/json`, and a JSON
    /// object without repeated members holding a non-empty `access_token` and a `token_type` of
    /// `Bearer` or `DPoP` (any case); `refresh_token`, `scope` and `id_token` must be strings
    /// when present. An unusable `expires_in` reads as absent (see
    /// [`TokenResponse::expires_in`]). Unknown members are kept in `extra`.
    ///
    /// `expected` is the token type the request asked for: `Some(TokenType::DPoP)` when a DPoP
    /// proof was sent, `Some(TokenType::Bearer)` when none was, `None` to accept either.
    pub fn from_response(
        resp: &http::Response<Vec<u8>>,
        expected: Option<TokenType>,
        limits: &Limits,
    ) -> Result<TokenResponse, TokenResponseError> {
        let status = resp.status();
        let body = resp.body();
        if status.is_client_error() || status.is_server_error() {
            return Err(match OAuthError::from_response(resp, limits) {
                Ok(e) => TokenResponseError::OAuth(e),
                Err(e) => TokenResponseError::Parse(e),
            });
        }
        if status != http::StatusCode::OK {
            return Err(ParseError::new(
                ParseErrorKind::UnexpectedStatus {
                    status: status.as_u16(),
                },
                body,
                limits.max_body_bytes,
            )
            .into());
        }
        check_content_type(resp.headers(), APPLICATION_JSON, body, limits)?;
        let map = parse_json_object(body, limits)?;
        let mut parsed = TokenResponse::from_members(map, body, expected, limits)?;
        parsed.dpop_nonce = nonce_from_response(resp);
        Ok(parsed)
    }

    /// Reads a token response from an already parsed JSON object (the body of a token endpoint
    /// response or of a push delivery). `raw` is kept in parse errors.
    pub fn from_members(
        mut map: Map<String, Value>,
        raw: &[u8],
        expected: Option<TokenType>,
        limits: &Limits,
    ) -> Result<TokenResponse, TokenResponseError> {
        let fail = |kind| ParseError::new(kind, raw, limits.max_body_bytes);
        let access_token = req_str(&map, "access_token").map_err(fail)?;
        let raw_type = req_str(&map, "token_type").map_err(fail)?;
        let token_type = TokenType::parse(&raw_type).ok_or_else(|| {
            TokenResponseError::UnsupportedTokenType {
                found: raw_type.chars().take(64).collect(),
            }
        })?;
        if let Some(expected) = expected
            && expected != token_type
        {
            return Err(TokenResponseError::TokenTypeMismatch {
                expected,
                found: token_type,
            });
        }
        let expires_in = usable_expires_in(map.get("expires_in"));
        let refresh_token = opt_non_empty(&map, "refresh_token").map_err(fail)?;
        let scope = opt_str(&map, "scope").map_err(fail)?;
        let id_token = opt_non_empty(&map, "id_token").map_err(fail)?;
        for name in NAMED {
            // The parsed copies of the tokens: wiped, as the response's own are on drop.
            if let Some(Value::String(mut copy)) = map.remove(name) {
                copy.zeroize();
            }
        }
        Ok(TokenResponse {
            access_token,
            token_type,
            expires_in,
            refresh_token,
            scope,
            id_token,
            dpop_nonce: None,
            extra: map,
        })
    }

    /// The granted scopes, when `scope` was sent.
    pub fn scopes(&self) -> Option<impl Iterator<Item = &str>> {
        self.scope
            .as_deref()
            .map(|s| s.split(' ').filter(|t| !t.is_empty()))
    }

    /// Validates the ID token, which must be present, with `validator` at `now`. `ctx` names
    /// the `auth_req_id` and delivery mode; its access and refresh tokens are replaced by this
    /// response's own, so `at_hash` and `rt_hash` are always checked against what was delivered.
    pub fn validate(
        self,
        validator: &IdTokenValidator,
        ctx: &IdTokenContext<'_>,
        now: SystemTime,
    ) -> Result<ValidatedTokens, IdTokenError> {
        let id_token = self.id_token.as_deref().ok_or(IdTokenError::Missing)?;
        let mut ctx = *ctx;
        ctx.access_token = Some(&self.access_token);
        ctx.refresh_token = self.refresh_token.as_deref();
        let claims = validator.validate(id_token, &ctx, now)?;
        Ok(ValidatedTokens {
            response: self,
            id_token: claims,
        })
    }
}

/// A token response whose ID token passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedTokens {
    /// The response as received.
    pub response: TokenResponse,
    /// The claims of its ID token.
    pub id_token: IdTokenClaims,
}
