//! Client authentication at the backchannel authentication and token endpoints
//! (RFC 6749 2.3.1, OIDC Core section 9, RFC 7523, RFC 8705).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::jose::jws::sign_compact;
use crate::jose::{HmacSigner, JwsAlgorithm, Signer};
use crate::random::{IDENTIFIER_BYTES, Random, random_identifier};
use crate::time::unix_seconds;
use crate::wire::ct_eq;

/// `client_assertion_type` for JWT client assertions (RFC 7523 section 2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client secret. Its `Debug` output never shows the value, equality compares in constant
/// time, and the bytes are wiped from memory when the secret (and every clone) is dropped.
///
/// Copies made from [`ClientSecret::expose`] are the caller's: the `Authorization` header or
/// form body of a built request, and the HMAC key jsonwebtoken keeps for `client_secret_jwt`
/// (see [`HmacSigner`]).
#[derive(Clone)]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret(Zeroizing::new(secret.into()))
    }
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for ClientSecret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for ClientSecret {}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// How the client authenticates (its registered `token_endpoint_auth_method`).
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `none`: a public client; sends only `client_id`. CIBA OPs normally refuse these.
    None,
    /// `client_secret_basic`: HTTP Basic with form-encoded id and secret.
    SecretBasic(ClientSecret),
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    SecretPost(ClientSecret),
    /// `client_secret_jwt`: a JWT assertion signed with HMAC over the secret.
    SecretJwt(HmacSigner),
    /// `private_key_jwt`: a JWT assertion signed with the client's private key.
    PrivateKeyJwt(Arc<dyn Signer>),
    /// `tls_client_auth`: mutual TLS with a PKI certificate; sends `client_id`.
    TlsClientAuth,
    /// `self_signed_tls_client_auth`: mutual TLS with a self-signed certificate; sends `client_id`.
    SelfSignedTlsClientAuth,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientAuth({})", self.method_name())
    }
}

impl ClientAuth {
    /// `client_secret_jwt` with `alg` (HS256, HS384 or HS512) over `secret`.
    pub fn secret_jwt(alg: JwsAlgorithm, secret: &ClientSecret) -> Result<ClientAuth, Error> {
        Ok(ClientAuth::SecretJwt(HmacSigner::new(
            alg,
            secret.expose().as_bytes(),
        )?))
    }

    /// `private_key_jwt` with any [`Signer`].
    pub fn private_key_jwt(signer: impl Signer + 'static) -> ClientAuth {
        ClientAuth::PrivateKeyJwt(Arc::new(signer))
    }

    /// The registered method name (`token_endpoint_auth_method`).
    pub fn method_name(&self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::SecretPost(_) => "client_secret_post",
            ClientAuth::SecretJwt(_) => "client_secret_jwt",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
            ClientAuth::TlsClientAuth => "tls_client_auth",
            ClientAuth::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// True for the mutual-TLS methods: the transport must present the client certificate and
    /// the RFC 8705 endpoint aliases apply.
    pub fn uses_mtls(&self) -> bool {
        matches!(
            self,
            ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth
        )
    }

    /// Adds this method's credentials to a request under construction: an `Authorization`
    /// header or form parameters. `audience` is the `aud` of JWT assertions (the issuer).
    pub fn apply(
        &self,
        client_id: &str,
        audience: &str,
        now: SystemTime,
        rng: &dyn Random,
        headers: &mut http::HeaderMap,
        params: &mut Vec<(String, String)>,
    ) -> Result<(), Error> {
        match self {
            ClientAuth::SecretBasic(secret) => {
                headers.insert(
                    http::header::AUTHORIZATION,
                    basic_authorization(client_id, secret.expose())?,
                );
            }
            ClientAuth::SecretPost(secret) => {
                params.push(("client_id".into(), client_id.into()));
                params.push(("client_secret".into(), secret.expose().into()));
            }
            ClientAuth::SecretJwt(signer) => {
                push_assertion(client_id, audience, now, rng, signer, params)?;
            }
            ClientAuth::PrivateKeyJwt(signer) => {
                push_assertion(client_id, audience, now, rng, signer.as_ref(), params)?;
            }
            ClientAuth::None | ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth => {
                params.push(("client_id".into(), client_id.into()));
            }
        }
        Ok(())
    }
}

/// Lifetime of the client assertions this crate signs.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

fn push_assertion(
    client_id: &str,
    audience: &str,
    now: SystemTime,
    rng: &dyn Random,
    signer: &dyn Signer,
    params: &mut Vec<(String, String)>,
) -> Result<(), Error> {
    let iat = unix_seconds(now);
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": random_identifier(rng, IDENTIFIER_BYTES)?,
        "iat": iat,
        "exp": iat.saturating_add(ASSERTION_LIFETIME.as_secs() as i64),
    });
    let claims: Map<String, Value> = match claims {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let jwt = sign_compact(Map::new(), &claims, signer)?;
    params.push((
        "client_assertion_type".into(),
        JWT_BEARER_ASSERTION_TYPE.into(),
    ));
    params.push(("client_assertion".into(), jwt));
    Ok(())
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, as RFC 6749 section 2.3.1 requires.
pub fn basic_authorization(client_id: &str, secret: &str) -> Result<http::HeaderValue, Error> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let id = enc(client_id);
    let secret = Zeroizing::new(enc(secret));
    let raw = Zeroizing::new(format!("{id}:{}", secret.as_str()));
    let encoded = Zeroizing::new(STANDARD.encode(raw.as_bytes()));
    let header = Zeroizing::new(format!("Basic {}", encoded.as_str()));
    let mut value = http::HeaderValue::try_from(header.as_str()).map_err(|_| {
        crate::error::ConfigError::InvalidClient {
            reason: "credentials cannot form an Authorization header",
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}
