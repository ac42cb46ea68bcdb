//! Requests to the client's notification endpoint: ping (CIBA Core section 10.2), push
//! (section 10.3) and the push error payload (section 12).

use ciba_core::ErrorCode;
use ciba_core::wire::APPLICATION_JSON;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};
use serde_json::{Map, Value};

use crate::auth_req_id::AuthReqId;
use crate::minter::MintedTokens;
use crate::secret::Secret;

/// A notification request could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// The request has no notification endpoint (the client registration changed?).
    #[error("the request has no notification endpoint")]
    MissingEndpoint,
    /// The notification endpoint is not a valid URI.
    #[error("the notification endpoint is not a valid URI")]
    InvalidEndpoint,
    /// The request has no usable client notification token.
    #[error("the request has no usable client_notification_token")]
    InvalidToken,
}

/// Where and with which bearer token to notify.
pub(crate) struct Target<'a> {
    pub(crate) endpoint: Option<&'a str>,
    pub(crate) token: Option<&'a Secret>,
}

impl Target<'_> {
    fn request(&self, body: &Value) -> Result<http::Request<Vec<u8>>, NotificationError> {
        let endpoint = self.endpoint.ok_or(NotificationError::MissingEndpoint)?;
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|_| NotificationError::InvalidEndpoint)?;
        let token = self.token.ok_or(NotificationError::InvalidToken)?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| NotificationError::InvalidToken)?;
        // Keeps the token out of `Debug` output of the request (and of HTTP/2 header tables).
        bearer.set_sensitive(true);
        let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        let mut request = http::Request::new(bytes);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        request.headers_mut().insert(AUTHORIZATION, bearer);
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
        Ok(request)
    }

    /// The ping: a body with only `auth_req_id`.
    pub(crate) fn ping(
        &self,
        auth_req_id: &AuthReqId,
    ) -> Result<http::Request<Vec<u8>>, NotificationError> {
        let mut body = Map::new();
        body.insert("auth_req_id".into(), auth_req_id.as_str().into());
        self.request(&Value::Object(body))
    }

    /// The push of a successful token response.
    pub(crate) fn push_tokens(
        &self,
        auth_req_id: &AuthReqId,
        tokens: &MintedTokens,
    ) -> Result<http::Request<Vec<u8>>, NotificationError> {
        let mut body = Map::new();
        body.insert("auth_req_id".into(), auth_req_id.as_str().into());
        body.insert("access_token".into(), tokens.access_token.expose().into());
        body.insert("token_type".into(), tokens.token_type.clone().into());
        if let Some(rt) = &tokens.refresh_token {
            body.insert("refresh_token".into(), rt.expose().into());
        }
        body.insert("expires_in".into(), tokens.expires_in.into());
        body.insert("id_token".into(), tokens.id_token.clone().into());
        self.request(&Value::Object(body))
    }

    /// The push error payload.
    pub(crate) fn push_error(
        &self,
        auth_req_id: &AuthReqId,
        error: &ErrorCode,
        description: &str,
    ) -> Result<http::Request<Vec<u8>>, NotificationError> {
        let mut body = Map::new();
        body.insert("auth_req_id".into(), auth_req_id.as_str().into());
        body.insert("error".into(), error.as_str().into());
        body.insert("error_description".into(), description.into());
        self.request(&Value::Object(body))
    }
}
