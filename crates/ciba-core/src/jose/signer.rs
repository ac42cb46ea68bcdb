//! Signing keys behind a trait, so a key can live in an HSM or a KMS.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::EllipticCurve;
use zeroize::Zeroizing;

use super::alg::KeyFamily;
use super::der::{self, Curve};
use super::jwk::b64;
use super::{JoseError, Jwk, JwsAlgorithm, backend};
use crate::random::Random;

/// Something that signs JWS signing inputs. Implement it to keep keys in an HSM or KMS.
pub trait Signer: Send + Sync {
    /// The algorithm this signer produces.
    fn algorithm(&self) -> JwsAlgorithm;
    /// The `kid` to put in the header, if any.
    fn key_id(&self) -> Option<&str>;
    /// The public key as a JWK (for DPoP's `jwk` header and for publishing). `None` for
    /// shared-secret signers.
    fn public_jwk(&self) -> Option<Jwk>;
    /// Signs `signing_input` and returns the raw JWS signature bytes.
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError>;
}

/// A [`Signer`] over a private JWK (RSA, EC P-256/P-384 or Ed25519) held in memory.
///
/// Wiping: the key is held as jsonwebtoken's `EncodingKey`, which wipes its DER bytes when
/// dropped (jsonwebtoken 11 derives `ZeroizeOnDrop` for it); the decoded JWK members and the DER
/// document built from them are wiped by this crate as soon as the key is made. What this
/// crate cannot wipe: the key objects the crypto backend (aws-lc-rs or RustCrypto) builds from
/// the `EncodingKey` for each signature, which are the backend's to clear, and the caller's
/// own copies of the JWK.
#[derive(Clone)]
pub struct JwkSigner {
    alg: JwsAlgorithm,
    public: Jwk,
    key: EncodingKey,
}

impl fmt::Debug for JwkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwkSigner")
            .field("alg", &self.alg)
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl JwkSigner {
    /// A signer from a private JWK. `alg` defaults to the key's own `alg` member; a key without
    /// one needs `alg` given. HMAC keys are refused: use [`HmacSigner`].
    pub fn from_jwk(jwk: &Jwk, alg: Option<JwsAlgorithm>) -> Result<JwkSigner, JoseError> {
        let alg = match (alg, jwk.alg.as_deref()) {
            (Some(a), _) => a,
            (None, Some(a)) => a.parse()?,
            (None, None) => {
                return Err(JoseError::InvalidKey {
                    reason: "key has no alg and none was given",
                });
            }
        };
        if alg.is_symmetric() {
            return Err(JoseError::KeyMismatch {
                alg,
                reason: "use HmacSigner for shared secrets",
            });
        }
        jwk.check_usable(alg, true)?;
        let der = match alg.key_family() {
            KeyFamily::Rsa => {
                let parts = [
                    b64("RSA key lacks n", &jwk.n)?,
                    b64("RSA key lacks e", &jwk.e)?,
                    b64("RSA key lacks d", &jwk.d)?,
                    b64("RSA key lacks p", &jwk.p)?,
                    b64("RSA key lacks q", &jwk.q)?,
                    b64("RSA key lacks dp", &jwk.dp)?,
                    b64("RSA key lacks dq", &jwk.dq)?,
                    b64("RSA key lacks qi", &jwk.qi)?,
                ];
                if parts[0].len() < 256 {
                    return Err(JoseError::InvalidKey {
                        reason: "RSA modulus shorter than 2048 bits",
                    });
                }
                let [n, e, d, p, q, dp, dq, qi] = parts.each_ref().map(|p| p.as_slice());
                EncodingKey::from_rsa_der(&der::rsa_pkcs1([n, e, d, p, q, dp, dq, qi]))
            }
            KeyFamily::Ec => {
                let curve = if alg == JwsAlgorithm::ES256 {
                    Curve::P256
                } else {
                    Curve::P384
                };
                let d = b64("EC key lacks d", &jwk.d)?;
                let x = b64("EC key lacks x", &jwk.x)?;
                let y = b64("EC key lacks y", &jwk.y)?;
                let n = curve.scalar_len();
                if d.len() != n || x.len() != n || y.len() != n {
                    return Err(JoseError::InvalidKey {
                        reason: "EC key members have the wrong length",
                    });
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                EncodingKey::from_ec_der(&der::ec_pkcs8(curve, &d, Some(&point)))
            }
            KeyFamily::Okp => {
                let d = b64("OKP key lacks d", &jwk.d)?;
                if d.len() != 32 {
                    return Err(JoseError::InvalidKey {
                        reason: "Ed25519 seed is not 32 bytes",
                    });
                }
                EncodingKey::from_ed_der(&der::ed25519_pkcs8(&d))
            }
            KeyFamily::Oct => unreachable_family(alg)?,
        };
        let signer = JwkSigner {
            alg,
            public: Jwk {
                alg: Some(alg.as_str().to_owned()),
                use_: Some("sig".to_owned()),
                ..jwk.to_public()
            },
            key: der,
        };
        // Prove the key works (and matches its public half) before anyone relies on it.
        signer.self_test()?;
        Ok(signer)
    }

    /// A fresh Ed25519 signing key from 32 bytes of `rng`.
    pub fn generate_ed25519(rng: &dyn Random, kid: Option<String>) -> Result<JwkSigner, JoseError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut_slice())
            .map_err(|e| JoseError::SigningFailed {
                reason: e.to_string(),
            })?;
        let doc = der::ed25519_pkcs8(seed.as_slice());
        let x = (backend::provider()
            .key_utils
            .ed_pub_components_from_private_key)(&doc, &EllipticCurve::Ed25519)
        .map_err(|_| JoseError::InvalidKey {
            reason: "the backend could not derive the Ed25519 public key",
        })?;
        let jwk = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            kid,
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            d: Some(Zeroizing::new(URL_SAFE_NO_PAD.encode(seed.as_slice()))),
            ..Jwk::default()
        };
        JwkSigner::from_jwk(&jwk, Some(JwsAlgorithm::EdDSA))
    }

    fn self_test(&self) -> Result<(), JoseError> {
        let msg = b"ciba key self-test";
        let sig = self.sign(msg)?;
        let key = self.public.decoding_key(self.alg)?;
        let verifier = (backend::provider().verifier_factory)(&self.alg.to_jsonwebtoken(), &key)
            .map_err(|_| JoseError::InvalidKey {
                reason: "the backend refused the public key",
            })?;
        verifier
            .verify(msg, &sig)
            .map_err(|_| JoseError::InvalidKey {
                reason: "private and public key members do not match",
            })
    }
}

/// Signs `input` with the backend's signer for `alg` over `key`.
fn sign_with(alg: JwsAlgorithm, key: &EncodingKey, input: &[u8]) -> Result<Vec<u8>, JoseError> {
    let failed = |e: &dyn std::fmt::Display| JoseError::SigningFailed {
        reason: e.to_string(),
    };
    let signer = (backend::provider().signer_factory)(&alg.to_jsonwebtoken(), key)
        .map_err(|e| failed(&e))?;
    signer.try_sign(input).map_err(|e| failed(&e))
}

fn unreachable_family(alg: JwsAlgorithm) -> Result<EncodingKey, JoseError> {
    Err(JoseError::KeyMismatch {
        alg,
        reason: "use HmacSigner for shared secrets",
    })
}

impl Signer for JwkSigner {
    fn algorithm(&self) -> JwsAlgorithm {
        self.alg
    }
    fn key_id(&self) -> Option<&str> {
        self.public.kid.as_deref()
    }
    fn public_jwk(&self) -> Option<Jwk> {
        Some(self.public.clone())
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        sign_with(self.alg, &self.key, signing_input)
    }
}

/// A [`Signer`] over a shared secret (HS256/384/512): `client_secret_jwt`.
///
/// The secret is copied into jsonwebtoken's `EncodingKey`, which wipes it when dropped
/// (jsonwebtoken 11 derives `ZeroizeOnDrop`). The HMAC state the crypto backend builds from it
/// for each signature is the backend's to clear; this crate cannot wipe it.
#[derive(Clone)]
pub struct HmacSigner {
    alg: JwsAlgorithm,
    key: EncodingKey,
}

impl fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSigner")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl HmacSigner {
    /// An HMAC signer. `alg` must be HS256, HS384 or HS512.
    pub fn new(alg: JwsAlgorithm, secret: &[u8]) -> Result<HmacSigner, JoseError> {
        if !alg.is_symmetric() {
            return Err(JoseError::KeyMismatch {
                alg,
                reason: "HmacSigner needs an HS* algorithm",
            });
        }
        if secret.is_empty() {
            return Err(JoseError::InvalidKey {
                reason: "empty HMAC secret",
            });
        }
        Ok(HmacSigner {
            alg,
            key: EncodingKey::from_secret(secret),
        })
    }
}

impl Signer for HmacSigner {
    fn algorithm(&self) -> JwsAlgorithm {
        self.alg
    }
    fn key_id(&self) -> Option<&str> {
        None
    }
    fn public_jwk(&self) -> Option<Jwk> {
        None
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        sign_with(self.alg, &self.key, signing_input)
    }
}
