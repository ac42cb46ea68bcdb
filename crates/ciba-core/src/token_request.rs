//! The token request of the CIBA grant (CIBA Core 10.1).
//!
//! [`CibaGrant`] builds the authenticated form `POST` to the token endpoint:
//! `grant_type=urn:openid:params:grant-type:ciba`, the `auth_req_id`, the client's authentication
//! (through [`Client::authenticated_post`]), any extension parameters such as `resource`, and
//! optionally a fresh DPoP proof. Poll and ping clients use it; push clients never do (CIBA 10.3
//! delivers their tokens), so they are refused before anything is built.
//!
//! The [`Poller`](crate::poll::Poller) builds its requests with this type; use it directly for a
//! one-off redemption.

use std::fmt;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::ack::AuthReqId;
use crate::client::Client;
use crate::delivery_mode::{CIBA_GRANT_TYPE, DeliveryMode};
use crate::dpop::DpopKey;
use crate::error::Error;
use crate::jose::JoseError;
use crate::random::Random;

/// Parameter names an extension parameter may not take: the grant's own and those of client
/// authentication.
pub(crate) const RESERVED_PARAMETERS: [&str; 6] = [
    "grant_type",
    "auth_req_id",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// Why a token request was refused before being built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRequestError {
    /// Push-mode clients must not use the CIBA grant (CIBA 10.3; the OP would answer
    /// `unauthorized_client`).
    #[error("a push-mode client receives its tokens by push and must not use the CIBA grant")]
    PushModeClient,
    /// An extension parameter uses a name the grant or client authentication sets.
    #[error("extra parameter {name} uses a reserved name")]
    ReservedParameter {
        /// The name (truncated to 64 characters).
        name: String,
    },
    /// An extension parameter has an empty name or value.
    #[error("extra parameter {name:?} is empty")]
    EmptyParameter {
        /// The name (truncated to 64 characters).
        name: String,
    },
}

/// A CIBA grant token request for one `auth_req_id`.
#[derive(Clone)]
pub struct CibaGrant {
    auth_req_id: AuthReqId,
    params: Vec<(String, String)>,
}

impl fmt::Debug for CibaGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CibaGrant")
            .field("auth_req_id", &self.auth_req_id)
            .field(
                "params",
                &self
                    .params
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CibaGrant {
    /// A token request redeeming `auth_req_id`.
    pub fn new(auth_req_id: AuthReqId) -> CibaGrant {
        CibaGrant {
            auth_req_id,
            params: Vec::new(),
        }
    }

    /// Adds an extension parameter (for example RFC 8707 `resource`, which may repeat).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> CibaGrant {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The `auth_req_id` being redeemed.
    pub fn auth_req_id(&self) -> &AuthReqId {
        &self.auth_req_id
    }

    /// Checks the request against `client`: not a push client, and no reserved or empty
    /// extension parameter.
    pub fn validate(&self, client: &Client) -> Result<(), TokenRequestError> {
        if client.delivery_mode() == DeliveryMode::Push {
            return Err(TokenRequestError::PushModeClient);
        }
        for (name, value) in &self.params {
            let short = || name.chars().take(64).collect::<String>();
            if RESERVED_PARAMETERS.contains(&name.as_str()) {
                return Err(TokenRequestError::ReservedParameter { name: short() });
            }
            if name.is_empty() || value.is_empty() {
                return Err(TokenRequestError::EmptyParameter { name: short() });
            }
        }
        Ok(())
    }

    /// Builds the authenticated `POST` to the token endpoint, without DPoP.
    pub fn build(
        &self,
        client: &Client,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.build_inner(client, None, now, rng)
    }

    /// Builds the authenticated `POST` to the token endpoint with a `DPoP` header: a fresh proof
    /// by `key` for `POST` to the token endpoint, carrying the server's `nonce` when one is
    /// known (RFC 9449 section 5 and 8).
    pub fn build_with_dpop(
        &self,
        client: &Client,
        key: &DpopKey,
        nonce: Option<&str>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.build_inner(client, Some((key, nonce)), now, rng)
    }

    fn build_inner(
        &self,
        client: &Client,
        dpop: Option<(&DpopKey, Option<&str>)>,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.validate(client)?;
        let endpoint = client.token_endpoint()?;
        let mut headers = HeaderMap::new();
        if let Some((key, nonce)) = dpop {
            let proof = key.proof(&Method::POST, endpoint, now, rng, nonce, None)?;
            let value = HeaderValue::from_str(&proof).map_err(|_| JoseError::Malformed {
                reason: "the DPoP proof is not a valid header value",
            })?;
            headers.insert(HeaderName::from_static("dpop"), value);
        }
        let mut params = vec![
            ("grant_type".to_owned(), CIBA_GRANT_TYPE.to_owned()),
            (
                "auth_req_id".to_owned(),
                self.auth_req_id.as_str().to_owned(),
            ),
        ];
        params.extend(self.params.iter().cloned());
        client.authenticated_post(endpoint, params, headers, now, rng)
    }
}
