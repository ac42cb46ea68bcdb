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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_example() {
        let jwk = Jwk::from_json(br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn debug_never_prints_private_members() {
        let jwk = Jwk {
            kty: "oct".into(),
            k: Some(String::from("c2VjcmV0LXNlY3JldA").into()),
            ..Jwk::default()
        };
        let s = format!("{jwk:?}");
        assert!(!s.contains("c2VjcmV0"));
        assert!(s.contains("private: true"));
    }

    #[test]
    fn an_rsa_key_cannot_become_an_hmac_secret() {
        let jwk = Jwk {
            kty: "RSA".into(),
            n: Some("AQAB".into()),
            e: Some("AQAB".into()),
            ..Jwk::default()
        };
        assert!(matches!(
            jwk.decoding_key(JwsAlgorithm::HS256),
            Err(JoseError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn jwks_key_count_is_bounded() {
        let limits = Limits::DEFAULT.with_max_jwks_keys(1);
        let body = br#"{"keys":[{"kty":"oct","k":"AA"},{"kty":"oct","k":"AA"}]}"#;
        assert!(JwkSet::from_json(body, &limits).is_err());
        assert_eq!(
            JwkSet::from_json(body, &Limits::DEFAULT)
                .unwrap()
                .keys
                .len(),
            2
        );
    }

    #[test]
    fn jwks_key_count_limit_is_inclusive() {
        let body = br#"{"keys":[{"kty":"oct","k":"AA"},{"kty":"oct","k":"AA"}]}"#;
        let at_limit = Limits::DEFAULT.with_max_jwks_keys(2);
        assert_eq!(JwkSet::from_json(body, &at_limit).unwrap().keys.len(), 2);
        let below = Limits::DEFAULT.with_max_jwks_keys(1);
        let e = JwkSet::from_json(body, &below).unwrap_err();
        assert_eq!(
            e.kind,
            crate::error::ParseErrorKind::InvalidMember {
                member: "keys",
                reason: "more keys than the configured limit",
            }
        );
    }

    fn b64_of(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn private_of_every_kind() -> Jwk {
        let secret = |s: &str| Some(Zeroizing::new(s.to_owned()));
        Jwk {
            kty: "RSA".into(),
            kid: Some("k1".into()),
            alg: Some("RS256".into()),
            n: Some("bW9kdWx1cw".into()),
            e: Some("AQAB".into()),
            d: secret("ZA"),
            p: secret("cA"),
            q: secret("cQ"),
            dp: secret("ZHA"),
            dq: secret("ZHE"),
            qi: secret("cWk"),
            k: secret("aw"),
            ..Jwk::default()
        }
    }

    #[test]
    fn to_public_removes_every_private_member_and_keeps_the_rest() {
        let private = private_of_every_kind();
        assert!(private.is_private());
        let public = private.to_public();
        assert!(!public.is_private());
        for (name, member) in [
            ("d", &public.d),
            ("p", &public.p),
            ("q", &public.q),
            ("dp", &public.dp),
            ("dq", &public.dq),
            ("qi", &public.qi),
            ("k", &public.k),
        ] {
            assert!(member.is_none(), "{name} survived to_public");
        }
        assert_eq!(public.kid.as_deref(), Some("k1"));
        assert_eq!(public.n, private.n);
        assert_eq!(public.e, private.e);
        let json = serde_json::to_value(&public).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kty":"RSA","kid":"k1","alg":"RS256","n":"bW9kdWx1cw","e":"AQAB"})
        );
        // An oct key is nothing but its secret: its public form has no `k`.
        let oct = Jwk {
            kty: "oct".into(),
            k: Some(String::from("c2VjcmV0").into()),
            ..Jwk::default()
        };
        assert_eq!(
            serde_json::to_value(oct.to_public()).unwrap(),
            serde_json::json!({"kty":"oct"})
        );
    }

    #[test]
    fn a_sets_public_form_keeps_every_key_without_private_members() {
        let set = JwkSet {
            keys: vec![
                private_of_every_kind(),
                Jwk {
                    kty: "EC".into(),
                    kid: Some("k2".into()),
                    crv: Some("P-256".into()),
                    x: Some("eA".into()),
                    y: Some("eQ".into()),
                    d: Some(String::from("ZA").into()),
                    ..Jwk::default()
                },
            ],
        };
        let public = set.to_public();
        assert_eq!(public.keys.len(), 2);
        assert!(public.keys.iter().all(|k| !k.is_private()));
        assert_eq!(public.keys[0], set.keys[0].to_public());
        assert_eq!(public.keys[1].kid.as_deref(), Some("k2"));
        assert_eq!(public.keys[1].x.as_deref(), Some("eA"));
    }

    fn ec(crv: &str) -> Jwk {
        Jwk {
            kty: "EC".into(),
            crv: Some(crv.into()),
            ..Jwk::default()
        }
    }

    fn okp(crv: &str) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: Some(crv.into()),
            ..Jwk::default()
        }
    }

    fn curve_refused(key: &Jwk, alg: JwsAlgorithm) -> bool {
        key.check_usable(alg, false)
            == Err(JoseError::KeyMismatch {
                alg,
                reason: "curve does not match the algorithm",
            })
    }

    #[test]
    fn each_curve_serves_only_its_own_algorithm() {
        use JwsAlgorithm::{ES256, ES384, EdDSA};
        assert_eq!(ec("P-256").check_usable(ES256, false), Ok(()));
        assert_eq!(ec("P-384").check_usable(ES384, false), Ok(()));
        assert_eq!(okp("Ed25519").check_usable(EdDSA, false), Ok(()));
        assert!(curve_refused(&ec("P-384"), ES256));
        assert!(curve_refused(&ec("P-521"), ES256));
        assert!(curve_refused(&ec("P-256"), ES384));
        assert!(curve_refused(&ec("secp256k1"), ES384));
        assert!(curve_refused(&okp("Ed448"), EdDSA));
        assert!(curve_refused(&okp("X25519"), EdDSA));
        // No curve at all is no match either.
        let no_curve = |kty: &str| Jwk {
            kty: kty.into(),
            ..Jwk::default()
        };
        assert!(curve_refused(&no_curve("EC"), ES256));
        assert!(curve_refused(&no_curve("OKP"), EdDSA));
    }

    #[test]
    fn key_ops_must_name_the_operation() {
        let with_ops = |ops: &[&str]| Jwk {
            key_ops: Some(ops.iter().map(|o| (*o).to_owned()).collect()),
            ..ec("P-256")
        };
        let refused = |alg| {
            Err(JoseError::KeyMismatch {
                alg,
                reason: "key_ops do not allow this operation",
            })
        };
        let alg = JwsAlgorithm::ES256;
        assert_eq!(with_ops(&["verify"]).check_usable(alg, false), Ok(()));
        assert_eq!(with_ops(&["verify"]).check_usable(alg, true), refused(alg));
        assert_eq!(with_ops(&["sign"]).check_usable(alg, true), Ok(()));
        assert_eq!(with_ops(&["sign"]).check_usable(alg, false), refused(alg));
        assert_eq!(
            with_ops(&["sign", "verify"]).check_usable(alg, false),
            Ok(())
        );
        assert_eq!(
            with_ops(&["sign", "verify"]).check_usable(alg, true),
            Ok(())
        );
        assert_eq!(with_ops(&[]).check_usable(alg, false), refused(alg));
        assert_eq!(with_ops(&["encrypt"]).check_usable(alg, true), refused(alg));
        // Without key_ops, both operations are allowed.
        assert_eq!(ec("P-256").check_usable(alg, false), Ok(()));
        assert_eq!(ec("P-256").check_usable(alg, true), Ok(()));
    }

    fn rsa_of(modulus_bytes: usize) -> Jwk {
        let mut n = vec![0x5Au8; modulus_bytes];
        if let Some(first) = n.first_mut() {
            *first = 0xC3;
        }
        Jwk {
            kty: "RSA".into(),
            n: Some(b64_of(&n)),
            e: Some("AQAB".into()),
            ..Jwk::default()
        }
    }

    #[test]
    fn rsa_keys_need_at_least_2048_bits() {
        let short = Some(JoseError::InvalidKey {
            reason: "RSA modulus shorter than 2048 bits",
        });
        for bytes in [128, 255] {
            assert_eq!(
                rsa_of(bytes).decoding_key(JwsAlgorithm::RS256).err(),
                short,
                "{bytes}-byte modulus"
            );
        }
        for bytes in [256, 384, 512] {
            assert!(
                rsa_of(bytes).decoding_key(JwsAlgorithm::PS256).is_ok(),
                "{bytes}-byte modulus"
            );
        }
    }

    fn ec_with(crv: &str, x_len: usize, y_len: usize) -> Jwk {
        Jwk {
            x: Some(b64_of(&vec![1u8; x_len])),
            y: Some(b64_of(&vec![2u8; y_len])),
            ..ec(crv)
        }
    }

    #[test]
    fn ec_coordinates_must_both_have_the_curves_length() {
        let wrong = Some(JoseError::InvalidKey {
            reason: "EC coordinates have the wrong length",
        });
        for (alg, crv, good, bad) in [
            (JwsAlgorithm::ES256, "P-256", 32, 48),
            (JwsAlgorithm::ES384, "P-384", 48, 32),
        ] {
            for (x, y) in [
                (good, bad),
                (bad, good),
                (bad, bad),
                (good, good + 1),
                (good - 1, good),
            ] {
                assert_eq!(
                    ec_with(crv, x, y).decoding_key(alg).err(),
                    wrong,
                    "{alg}: x {x} bytes, y {y} bytes"
                );
            }
        }
    }
}
