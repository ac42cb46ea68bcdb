//! Registered client metadata, under the standard names of RFC 7591, OIDC Dynamic Client
//! Registration, RFC 8705 and CIBA Core section 4.

use std::fmt;

use ciba_core::jose::jwe::{ContentEncryption, KeyManagementAlgorithm};
use ciba_core::jose::{JwkSet, JwsAlgorithm};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::secret::Secret;

pub use ciba_core::{CIBA_GRANT_TYPE, DeliveryMode};

/// A client authentication method (`token_endpoint_auth_method`), which CIBA also applies at
/// the backchannel authentication endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749 section 2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT assertion signed with the client secret (HMAC).
    ClientSecretJwt,
    /// A JWT assertion signed with one of the client's registered private keys.
    PrivateKeyJwt,
    /// Mutual TLS with a PKI certificate (RFC 8705 section 2.1).
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate (RFC 8705 section 2.2): the certificate's
    /// public key must be one of the client's registered `jwks`.
    SelfSignedTlsClientAuth,
    /// No authentication: a public client. CIBA refuses it.
    None,
    /// A method this crate does not know, as registered.
    Other(String),
}

impl AuthMethod {
    /// The registered name.
    pub fn as_str(&self) -> &str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            AuthMethod::None => "none",
            AuthMethod::Other(s) => s,
        }
    }

    /// The method for a registered name.
    pub fn from_name(name: &str) -> AuthMethod {
        match name {
            "client_secret_basic" => AuthMethod::ClientSecretBasic,
            "client_secret_post" => AuthMethod::ClientSecretPost,
            "client_secret_jwt" => AuthMethod::ClientSecretJwt,
            "private_key_jwt" => AuthMethod::PrivateKeyJwt,
            "tls_client_auth" => AuthMethod::TlsClientAuth,
            "self_signed_tls_client_auth" => AuthMethod::SelfSignedTlsClientAuth,
            "none" => AuthMethod::None,
            other => AuthMethod::Other(other.to_owned()),
        }
    }

    /// The methods this crate can verify.
    pub const SUPPORTED: [AuthMethod; 6] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::ClientSecretJwt,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::TlsClientAuth,
        AuthMethod::SelfSignedTlsClientAuth,
    ];

    /// True for the mutual-TLS methods of RFC 8705.
    pub fn is_mtls(&self) -> bool {
        matches!(
            self,
            AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
        )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuthMethod {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuthMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(AuthMethod::from_name(&String::deserialize(d)?))
    }
}

fn default_auth_method() -> AuthMethod {
    // RFC 7591 section 2: the default when the member is omitted.
    AuthMethod::ClientSecretBasic
}

/// A client's registered metadata. Deserializes from the JSON of a registration request or
/// a static configuration file; unknown members are kept in [`ClientMetadata::extra`].
///
/// `jwks_uri` is not fetched (this crate does no I/O): a registry that supports it resolves
/// the document itself and fills [`ClientMetadata::jwks`].
#[derive(Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// The client identifier.
    pub client_id: String,
    /// The shared secret for `client_secret_basic`, `client_secret_post` and
    /// `client_secret_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// How the client authenticates (default `client_secret_basic`, RFC 7591).
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: AuthMethod,
    /// The only algorithm accepted for the client's JWT assertions, when registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// The algorithm the client wants its ID tokens signed with (OIDC Dynamic Client
    /// Registration). Absent: RS256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// The key management algorithm the client wants its ID tokens encrypted with (OIDC
    /// Dynamic Client Registration). Absent: ID tokens are signed only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<String>,
    /// The content encryption of the client's ID tokens. Absent with an algorithm
    /// registered: `A128CBC-HS256` (OIDC Dynamic Client Registration section 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<String>,
    /// The client's public keys, for `private_key_jwt`, signed authentication requests and
    /// encrypted ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// Grant types the client may use. Poll and ping clients need [`CIBA_GRANT_TYPE`].
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// The registered CIBA delivery mode; `None` means the client does not use CIBA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_token_delivery_mode: Option<DeliveryMode>,
    /// Where ping and push notifications go (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    /// The algorithm the client signs authentication requests with. Absent: the client does
    /// not send signed requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_request_signing_alg: Option<String>,
    /// Whether the client sends a `user_code` (CIBA Core section 7.1.2).
    #[serde(default)]
    pub backchannel_user_code_parameter: bool,
    /// The scopes the client may request, space-separated (RFC 7591 `scope`). Absent: any
    /// scope the server supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// RFC 8705: the expected certificate subject distinguished name, compared as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705: an expected dNSName subject alternative name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// RFC 8705: an expected uniformResourceIdentifier subject alternative name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// RFC 8705: an expected iPAddress subject alternative name, in text form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// RFC 8705: an expected rfc822Name subject alternative name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// RFC 9449 section 5.2: the client always sends a DPoP proof to the token endpoint, and a
    /// token request without one is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// RFC 8705 section 3.4: access tokens are bound to the client's TLS certificate
    /// (`cnf.x5t#S256`), and a token request without one is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Members this struct does not model, kept as registered.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for ClientMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientMetadata")
            .field("client_id", &self.client_id)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("grant_types", &self.grant_types)
            .field(
                "backchannel_token_delivery_mode",
                &self.backchannel_token_delivery_mode,
            )
            .finish_non_exhaustive()
    }
}

impl ClientMetadata {
    /// Metadata with only a client id: `client_secret_basic`, no grants, no CIBA mode.
    pub fn new(client_id: impl Into<String>) -> ClientMetadata {
        ClientMetadata {
            client_id: client_id.into(),
            client_secret: None,
            token_endpoint_auth_method: default_auth_method(),
            token_endpoint_auth_signing_alg: None,
            id_token_signed_response_alg: None,
            id_token_encrypted_response_alg: None,
            id_token_encrypted_response_enc: None,
            jwks: None,
            grant_types: Vec::new(),
            backchannel_token_delivery_mode: None,
            backchannel_client_notification_endpoint: None,
            backchannel_authentication_request_signing_alg: None,
            backchannel_user_code_parameter: false,
            scope: None,
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            tls_client_auth_san_uri: None,
            tls_client_auth_san_ip: None,
            tls_client_auth_san_email: None,
            dpop_bound_access_tokens: false,
            tls_client_certificate_bound_access_tokens: false,
            extra: Map::new(),
        }
    }

    /// Parses metadata from JSON.
    pub fn from_json(json: &[u8]) -> Result<ClientMetadata, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// True when `grant_types` lists the CIBA grant.
    pub fn has_ciba_grant(&self) -> bool {
        self.grant_types.iter().any(|g| g == CIBA_GRANT_TYPE)
    }

    /// The registered `id_token_signed_response_alg`, parsed; `None` when the client
    /// registered none (RS256 then) or a value that is not an algorithm (registration
    /// refuses those).
    pub fn id_token_alg(&self) -> Option<JwsAlgorithm> {
        self.id_token_signed_response_alg
            .as_deref()
            .and_then(|a| a.parse().ok())
    }

    /// The registered ID token encryption, parsed: the algorithm and the content encryption
    /// (`A128CBC-HS256` when only the algorithm is registered). `None` when the client
    /// registered no algorithm, or values that are not supported (registration refuses
    /// those).
    pub fn id_token_encryption(&self) -> Option<(KeyManagementAlgorithm, ContentEncryption)> {
        let alg = self
            .id_token_encrypted_response_alg
            .as_deref()?
            .parse()
            .ok()?;
        let enc = match self.id_token_encrypted_response_enc.as_deref() {
            None => ContentEncryption::A128CbcHs256,
            Some(enc) => enc.parse().ok()?,
        };
        Some((alg, enc))
    }

    /// The allowed scopes from `scope`, if registered.
    pub fn allowed_scopes(&self) -> Option<impl Iterator<Item = &str>> {
        self.scope
            .as_deref()
            .map(|s| s.split(' ').filter(|t| !t.is_empty()))
    }
}
