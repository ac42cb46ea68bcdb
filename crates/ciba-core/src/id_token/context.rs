//! What one ID token is checked against: how it was delivered and the tokens it came with.

use std::fmt;

/// Where an ID token came from, which decides the CIBA-specific checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenSource {
    /// From the token endpoint (poll and ping): `auth_req_id`, `at_hash` and `rt_hash` are
    /// checked when present.
    TokenEndpoint,
    /// Pushed to the client notification endpoint: the `auth_req_id` claim and `at_hash` are
    /// required, and `rt_hash` too when a refresh token is delivered (CIBA Core 10.3.1).
    Push,
}

/// What one ID token is checked against besides the validator's configuration.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct IdTokenContext<'a> {
    /// How the token was delivered.
    pub delivery: IdTokenSource,
    /// The `auth_req_id` the token must belong to, when known.
    pub auth_req_id: Option<&'a str>,
    /// The access token delivered with the ID token (for `at_hash`).
    pub access_token: Option<&'a str>,
    /// The refresh token delivered with the ID token (for `rt_hash`).
    pub refresh_token: Option<&'a str>,
}

impl fmt::Debug for IdTokenContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenContext")
            .field("delivery", &self.delivery)
            .field("auth_req_id", &self.auth_req_id.map(|_| "<redacted>"))
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .field("refresh_token", &self.refresh_token.map(|_| "<redacted>"))
            .finish()
    }
}

impl<'a> IdTokenContext<'a> {
    /// A token received from the token endpoint for `auth_req_id` with these tokens.
    pub fn token_endpoint(
        auth_req_id: &'a str,
        access_token: &'a str,
        refresh_token: Option<&'a str>,
    ) -> Self {
        IdTokenContext {
            delivery: IdTokenSource::TokenEndpoint,
            auth_req_id: Some(auth_req_id),
            access_token: Some(access_token),
            refresh_token,
        }
    }

    /// A token pushed for `auth_req_id` with these tokens.
    pub fn push(
        auth_req_id: &'a str,
        access_token: &'a str,
        refresh_token: Option<&'a str>,
    ) -> Self {
        IdTokenContext {
            delivery: IdTokenSource::Push,
            auth_req_id: Some(auth_req_id),
            access_token: Some(access_token),
            refresh_token,
        }
    }

    /// A token on its own: only the validator's configuration applies (any `at_hash`, `rt_hash`
    /// or `auth_req_id` claim is then left unchecked).
    pub fn standalone() -> Self {
        IdTokenContext {
            delivery: IdTokenSource::TokenEndpoint,
            auth_req_id: None,
            access_token: None,
            refresh_token: None,
        }
    }
}
