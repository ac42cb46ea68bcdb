//! JSON Web Keys (RFC 7517) and JWK thumbprints (RFC 7638).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::alg::KeyFamily;
use super::{JoseError, JwsAlgorithm, hash};
use crate::body::{
    APPLICATION_JSON, APPLICATION_JWK_SET_JSON, check_content_type_in, parse_json_object,
};
use crate::limits::Limits;

/// One JSON Web Key, public or private. Private members never appear in `Debug` output, and
/// they are [`Zeroizing`]: wiped from memory when the key (or a clone) is dropped. Build one with
/// `Some(Zeroizing::new(value))` (or `Some(value.into())` from a `String`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP` or `oct`.
    pub kty: String,
    /// Key identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use: `sig` or `enc`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The algorithm this key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Permitted operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// Curve for `EC` and `OKP` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC x coordinate or OKP public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Private exponent / scalar / seed (private keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<Zeroizing<String>>,
    /// RSA first prime factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<Zeroizing<String>>,
    /// RSA second prime factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<Zeroizing<String>>,
    /// RSA first factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<Zeroizing<String>>,
    /// RSA second factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<Zeroizing<String>>,
    /// RSA first CRT coefficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<Zeroizing<String>>,
    /// Symmetric key value (`oct`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<Zeroizing<String>>,
    /// Members this struct does not model (`x5c`, `x5t#S256`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("use", &self.use_)
            .field("alg", &self.alg)
            .field("crv", &self.crv)
            .field("private", &self.is_private())
            .finish_non_exhaustive()
    }
}

/// The bytes of a base64url key member; `field` is the error when it is absent. The result is
/// wiped on drop, since the member may be private.
pub(crate) fn b64<S: AsRef<str>>(
    field: &'static str,
    v: &Option<S>,
) -> Result<Zeroizing<Vec<u8>>, JoseError> {
    let s = v.as_ref().ok_or(JoseError::InvalidKey { reason: field })?;
    URL_SAFE_NO_PAD
        .decode(s.as_ref())
        .map(Zeroizing::new)
        .map_err(|_| JoseError::InvalidKey {
            reason: "a key member is not base64url",
        })
}

impl Jwk {
    /// Parses one JWK from JSON.
    pub fn from_json(json: &[u8]) -> Result<Jwk, JoseError> {
        serde_json::from_slice(json).map_err(|_| JoseError::InvalidKey {
            reason: "not a JSON Web Key",
        })
    }

    /// True when the key carries private material (`d` or `k`).
    pub fn is_private(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }

    /// The public part of this key: private members removed.
    pub fn to_public(&self) -> Jwk {
        Jwk {
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            k: None,
            ..self.clone()
        }
    }

    /// The key family of `kty`, if known.
    pub fn family(&self) -> Option<KeyFamily> {
        match self.kty.as_str() {
            "RSA" => Some(KeyFamily::Rsa),
            "EC" => Some(KeyFamily::Ec),
            "OKP" => Some(KeyFamily::Okp),
            "oct" => Some(KeyFamily::Oct),
            _ => None,
        }
    }

    /// Checks that this key may be used with `alg` to verify (or, with `sign`, to sign):
    /// matching `kty` and curve, `use` of `sig` if present, `alg` equal if present, and
    /// `key_ops` allowing the operation if present.
    pub fn check_usable(&self, alg: JwsAlgorithm, sign: bool) -> Result<(), JoseError> {
        let mismatch = |reason| JoseError::KeyMismatch { alg, reason };
        if self.family() != Some(alg.key_family()) {
            return Err(mismatch("key type does not match the algorithm"));
        }
        let curve_ok = match alg {
            JwsAlgorithm::ES256 => self.crv.as_deref() == Some("P-256"),
            JwsAlgorithm::ES384 => self.crv.as_deref() == Some("P-384"),
            JwsAlgorithm::EdDSA => self.crv.as_deref() == Some("Ed25519"),
            _ => true,
        };
        if !curve_ok {
            return Err(mismatch("curve does not match the algorithm"));
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(mismatch("key use is not sig"));
        }
        if self.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
            return Err(mismatch("key alg differs"));
        }
        let op = if sign { "sign" } else { "verify" };
        if self
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == op))
        {
            return Err(mismatch("key_ops do not allow this operation"));
        }
        Ok(())
    }

    /// The verification key for `alg`. Refuses keys of another family, so an RSA or EC public
    /// key can never be used as an HMAC secret.
    pub(crate) fn decoding_key(&self, alg: JwsAlgorithm) -> Result<DecodingKey, JoseError> {
        self.check_usable(alg, false)?;
        let bad = |_| JoseError::InvalidKey {
            reason: "key members are malformed",
        };
        match alg.key_family() {
            KeyFamily::Rsa => {
                let n = b64("RSA key lacks n", &self.n)?;
                let e = b64("RSA key lacks e", &self.e)?;
                if n.len() < 256 {
                    return Err(JoseError::InvalidKey {
                        reason: "RSA modulus shorter than 2048 bits",
                    });
                }
                Ok(DecodingKey::from_rsa_raw_components(&n, &e))
            }
            KeyFamily::Ec => {
                let want = if alg == JwsAlgorithm::ES256 { 32 } else { 48 };
                let x = b64("EC key lacks x", &self.x)?;
                let y = b64("EC key lacks y", &self.y)?;
                if x.len() != want || y.len() != want {
                    return Err(JoseError::InvalidKey {
                        reason: "EC coordinates have the wrong length",
                    });
                }
                DecodingKey::from_ec_components(
                    self.x.as_deref().unwrap_or_default(),
                    self.y.as_deref().unwrap_or_default(),
                )
                .map_err(bad)
            }
            KeyFamily::Okp => {
                let x = b64("OKP key lacks x", &self.x)?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidKey {
                        reason: "Ed25519 public key is not 32 bytes",
                    });
                }
                Ok(DecodingKey::from_ed_der(&x))
            }
            KeyFamily::Oct => {
                let k = b64("oct key lacks k", &self.k)?;
                Ok(DecodingKey::from_secret(&k))
            }
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        let mut m: BTreeMap<&str, &str> = BTreeMap::new();
        fn need<S: AsRef<str>>(v: &Option<S>) -> Result<&str, JoseError> {
            v.as_ref().map(AsRef::as_ref).ok_or(JoseError::InvalidKey {
                reason: "key lacks a member its thumbprint needs",
            })
        }
        m.insert("kty", &self.kty);
        match self.family() {
            Some(KeyFamily::Rsa) => {
                m.insert("n", need(&self.n)?);
                m.insert("e", need(&self.e)?);
            }
            Some(KeyFamily::Ec) => {
                m.insert("crv", need(&self.crv)?);
                m.insert("x", need(&self.x)?);
                m.insert("y", need(&self.y)?);
            }
            Some(KeyFamily::Okp) => {
                m.insert("crv", need(&self.crv)?);
                m.insert("x", need(&self.x)?);
            }
            Some(KeyFamily::Oct) => {
                m.insert("k", need(&self.k)?);
            }
            None => {
                return Err(JoseError::InvalidKey {
                    reason: "unknown kty",
                });
            }
        }
        // Holds `k` for symmetric keys: wiped on drop.
        let canonical =
            serde_json::to_string(&m)
                .map(Zeroizing::new)
                .map_err(|_| JoseError::InvalidKey {
                    reason: "key cannot be serialized",
                })?;
        Ok(URL_SAFE_NO_PAD.encode(hash::sha256(canonical.as_bytes())?))
    }
}

/// How [`JwkSet::from_response`] names the media types it accepts in its errors.
const JWK_SET_CONTENT_TYPES: &str = "application/json or application/jwk-set+json";

/// A JWK Set (RFC 7517 section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JwkSet {
    /// The keys. Keys of unknown types are kept but never selected.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWK Set document, bounded by `limits` (body size and key count).
    pub fn from_json(body: &[u8], limits: &Limits) -> Result<JwkSet, crate::error::ParseError> {
        use crate::error::{ParseError, ParseErrorKind};
        let map = parse_json_object(body, limits)?;
        let fail = |kind| ParseError::new(kind, body, limits.max_body_bytes);
        let Some(Value::Array(keys)) = map.get("keys") else {
            return Err(fail(ParseErrorKind::MissingMember { member: "keys" }));
        };
        if keys.len() > limits.max_jwks_keys {
            return Err(fail(ParseErrorKind::InvalidMember {
                member: "keys",
                reason: "more keys than the configured limit",
            }));
        }
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            // A member we cannot read makes that key unusable, not the whole set.
            if let Ok(jwk) = serde_json::from_value::<Jwk>(k.clone()) {
                out.push(jwk);
            }
        }
        Ok(JwkSet { keys: out })
    }

    /// Processes the answer to a `GET` of the OP's `jwks_uri`: status 200, a `Content-Type`
    /// of `application/json` or `application/jwk-set+json` (RFC 7517 section 8.5.1;
    /// parameters such as `charset` allowed), then the document as [`JwkSet::from_json`]
    /// reads it. Anything else (a redirect, an error page) is a typed [`ParseError`] that
    /// keeps the start of the body.
    ///
    /// [`ParseError`]: crate::error::ParseError
    pub fn from_response(
        resp: &http::Response<Vec<u8>>,
        limits: &Limits,
    ) -> Result<JwkSet, crate::error::ParseError> {
        use crate::error::{ParseError, ParseErrorKind};
        let body = resp.body();
        let status = resp.status();
        if status != http::StatusCode::OK {
            return Err(ParseError::new(
                ParseErrorKind::UnexpectedStatus {
                    status: status.as_u16(),
                },
                body,
                limits.max_body_bytes,
            ));
        }
        check_content_type_in(
            resp.headers(),
            &[APPLICATION_JSON, APPLICATION_JWK_SET_JSON],
            JWK_SET_CONTENT_TYPES,
            body,
            limits,
        )?;
        JwkSet::from_json(body, limits)
    }

    /// The set with every key's private members removed, ready to publish.
    pub fn to_public(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(Jwk::to_public).collect(),
        }
    }
}
