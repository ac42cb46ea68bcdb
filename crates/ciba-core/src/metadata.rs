//! Server metadata: OpenID Connect Discovery 1.0 and RFC 8414, with every CIBA member
//! (CIBA Core section 4), `mtls_endpoint_aliases` (RFC 8705) and DPoP algorithms (RFC 9449).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::body::{APPLICATION_JSON, check_content_type, parse_json_object};
use crate::delivery_mode::DeliveryMode;
use crate::endpoint::EndpointPolicy;
use crate::error::{ConfigError, Error, ParseError, ParseErrorKind};
use crate::limits::Limits;

/// Typed server metadata. Members this struct does not name are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// The authorization endpoint (not used by CIBA, kept for completeness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// The token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The JWK Set document URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// CIBA: the backchannel authentication endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_endpoint: Option<String>,
    /// CIBA: supported token delivery modes (`poll`, `ping`, `push`; unknown values kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backchannel_token_delivery_modes_supported: Vec<String>,
    /// CIBA: algorithms accepted for signed authentication requests. Absent means signed
    /// requests are not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_request_signing_alg_values_supported: Option<Vec<String>>,
    /// CIBA: whether the `user_code` parameter is supported (default false).
    #[serde(default)]
    pub backchannel_user_code_parameter_supported: bool,
    /// Supported grant types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    /// Supported scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// Supported response types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// Supported subject types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<String>>,
    /// Client authentication methods at the token (and backchannel) endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Algorithms for `private_key_jwt` / `client_secret_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// ID token signing algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9449: algorithms accepted in DPoP proofs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 8705: whether certificate-bound access tokens are issued.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705: endpoints to use instead when authenticating with mutual TLS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mtls_endpoint_aliases: BTreeMap<String, String>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Which well-known document to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiscoveryDocument {
    /// OpenID Connect Discovery: `{issuer}/.well-known/openid-configuration`.
    #[default]
    OpenIdConfiguration,
    /// RFC 8414: `https://host/.well-known/oauth-authorization-server{path}`.
    OAuthAuthorizationServer,
}

/// Builds the GET request for the discovery document of `issuer`.
pub fn discovery_request(
    issuer: &str,
    document: DiscoveryDocument,
    policy: &EndpointPolicy,
) -> Result<http::Request<Vec<u8>>, Error> {
    let base = policy.parse("issuer", issuer)?;
    if base.query().is_some() {
        return Err(ConfigError::UrlHasForbiddenParts { field: "issuer" }.into());
    }
    let path = base.path().trim_end_matches('/').to_owned();
    let mut url = base.clone();
    match document {
        DiscoveryDocument::OpenIdConfiguration => {
            url.set_path(&format!("{path}/.well-known/openid-configuration"));
        }
        DiscoveryDocument::OAuthAuthorizationServer => {
            url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        }
    }
    http::Request::get(url.as_str())
        .header(http::header::ACCEPT, APPLICATION_JSON)
        .body(Vec::new())
        .map_err(|_| ConfigError::InvalidUrl { field: "issuer" }.into())
}

impl ServerMetadata {
    /// Validates a discovery response: status 200, JSON object, typed members, and `issuer`
    /// exactly equal to `expected_issuer` (OIDC Discovery 4.3, RFC 8414 3.3).
    pub fn from_response(
        resp: &http::Response<Vec<u8>>,
        expected_issuer: &str,
        limits: &Limits,
    ) -> Result<ServerMetadata, Error> {
        let body = resp.body();
        if resp.status() != http::StatusCode::OK {
            return Err(ParseError::new(
                ParseErrorKind::UnexpectedStatus {
                    status: resp.status().as_u16(),
                },
                body,
                limits.max_body_bytes,
            )
            .into());
        }
        check_content_type(resp.headers(), APPLICATION_JSON, body, limits)?;
        Self::from_json(body, expected_issuer, limits)
    }

    /// Parses and checks a metadata document given as bytes (see [`Self::from_response`]).
    pub fn from_json(
        body: &[u8],
        expected_issuer: &str,
        limits: &Limits,
    ) -> Result<ServerMetadata, Error> {
        let map = parse_json_object(body, limits)?;
        let fail = |kind| ParseError::new(kind, body, limits.max_body_bytes);
        if !matches!(map.get("issuer"), Some(Value::String(_))) {
            return Err(fail(ParseErrorKind::MissingMember { member: "issuer" }).into());
        }
        let md: ServerMetadata = serde_json::from_value(Value::Object(map)).map_err(|_| {
            fail(ParseErrorKind::InvalidMember {
                member: "metadata",
                reason: "a member has the wrong JSON type",
            })
        })?;
        if md.issuer != expected_issuer {
            return Err(ConfigError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: md.issuer.chars().take(512).collect(),
            }
            .into());
        }
        Ok(md)
    }

    /// The delivery modes the OP supports that this crate knows.
    pub fn delivery_modes(&self) -> Vec<DeliveryMode> {
        self.backchannel_token_delivery_modes_supported
            .iter()
            .filter_map(|m| m.parse().ok())
            .collect()
    }

    /// True when the OP advertises `mode`.
    pub fn supports_delivery_mode(&self, mode: DeliveryMode) -> bool {
        self.delivery_modes().contains(&mode)
    }

    /// The string value of a URL member, named or kept in `extra`.
    pub fn member_str(&self, member: &str) -> Option<&str> {
        match member {
            "token_endpoint" => self.token_endpoint.as_deref(),
            "backchannel_authentication_endpoint" => {
                self.backchannel_authentication_endpoint.as_deref()
            }
            "jwks_uri" => self.jwks_uri.as_deref(),
            "authorization_endpoint" => self.authorization_endpoint.as_deref(),
            other => self.extra.get(other).and_then(Value::as_str),
        }
    }

    /// The URL of endpoint `member` (for example `token_endpoint`), taking the RFC 8705 alias
    /// when `mtls` is true and one is published, checked against `policy`.
    pub fn endpoint(
        &self,
        member: &'static str,
        mtls: bool,
        policy: &EndpointPolicy,
    ) -> Result<Url, ConfigError> {
        let alias = if mtls {
            self.mtls_endpoint_aliases.get(member)
        } else {
            None
        };
        let raw = match alias {
            Some(a) => a.as_str(),
            None => self
                .member_str(member)
                .ok_or(ConfigError::MissingMetadata { member })?,
        };
        policy.parse(member, raw)
    }
}
