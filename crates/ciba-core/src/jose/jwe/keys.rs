//! JWKs to RustCrypto key types, with the strength checks JWE encryption keys need.

use p256::elliptic_curve::sec1::FromEncodedPoint as _;
use p256::{EncodedPoint, FieldBytes, PublicKey, SecretKey};
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};

use super::{JweError, KeyManagementAlgorithm};
use crate::jose::Jwk;
use crate::jose::jwk::b64;

/// Smallest RSA modulus accepted, in bits (the largest is the `rsa` crate's 4096).
pub(super) const MIN_RSA_BITS: usize = 2048;

fn invalid(reason: &'static str) -> JweError {
    JweError::InvalidKey { reason }
}

fn uint(field: &'static str, v: &Option<impl AsRef<str>>) -> Result<BigUint, JweError> {
    let bytes =
        b64(field, v).map_err(|_| invalid("an RSA key member is missing or not base64url"))?;
    Ok(BigUint::from_bytes_be(&bytes))
}

/// True when `jwk` may be used for `alg` at all: the right `kty` (and curve), `use` absent or
/// `enc`, `alg` absent or equal, `key_ops` absent or allowing key wrapping / derivation.
pub(super) fn suits(jwk: &Jwk, alg: KeyManagementAlgorithm) -> bool {
    let kty = jwk.kty == alg.key_type();
    let curve = alg != KeyManagementAlgorithm::EcdhEsA256Kw || jwk.crv.as_deref() == Some("P-256");
    let use_ok = jwk.use_.as_deref().is_none_or(|u| u == "enc");
    let alg_ok = jwk.alg.as_deref().is_none_or(|a| a == alg.as_str());
    let ops_ok = jwk.key_ops.as_ref().is_none_or(|ops| {
        ops.iter().any(|o| {
            matches!(
                o.as_str(),
                "wrapKey" | "unwrapKey" | "encrypt" | "decrypt" | "deriveKey" | "deriveBits"
            )
        })
    });
    kty && curve && use_ok && alg_ok && ops_ok
}

fn check_rsa_size(bits: usize) -> Result<(), JweError> {
    if bits < MIN_RSA_BITS {
        return Err(invalid("RSA keys must have at least 2048 bits"));
    }
    Ok(())
}

/// The public half of an RSA JWK.
pub(super) fn rsa_public(jwk: &Jwk) -> Result<RsaPublicKey, JweError> {
    let key = RsaPublicKey::new(uint("n", &jwk.n)?, uint("e", &jwk.e)?)
        .map_err(|_| invalid("not a usable RSA public key"))?;
    check_rsa_size(key.n().bits())?;
    Ok(key)
}

/// An RSA private JWK (`d`, with `p` and `q` when present).
pub(super) fn rsa_private(jwk: &Jwk) -> Result<RsaPrivateKey, JweError> {
    let n = uint("n", &jwk.n)?;
    check_rsa_size(n.bits())?;
    let primes = match (&jwk.p, &jwk.q) {
        (Some(_), Some(_)) => vec![uint("p", &jwk.p)?, uint("q", &jwk.q)?],
        _ => Vec::new(),
    };
    let key = RsaPrivateKey::from_components(n, uint("e", &jwk.e)?, uint("d", &jwk.d)?, primes)
        .map_err(|_| invalid("not a usable RSA private key"))?;
    Ok(key)
}

fn coordinate(field: &'static str, v: &Option<String>) -> Result<FieldBytes, JweError> {
    let bytes =
        b64(field, v).map_err(|_| invalid("an EC key member is missing or not base64url"))?;
    if bytes.len() != 32 {
        return Err(invalid("a P-256 coordinate is not 32 bytes"));
    }
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| invalid("a P-256 coordinate is not 32 bytes"))?;
    Ok(FieldBytes::from(array))
}

/// The public point of a P-256 JWK, checked to lie on the curve.
pub(super) fn ec_public(jwk: &Jwk) -> Result<PublicKey, JweError> {
    if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
        return Err(invalid("ECDH-ES keys must be EC keys on P-256"));
    }
    let point = EncodedPoint::from_affine_coordinates(
        &coordinate("x", &jwk.x)?,
        &coordinate("y", &jwk.y)?,
        false,
    );
    Option::from(PublicKey::from_encoded_point(&point))
        .ok_or_else(|| invalid("the point is not on P-256"))
}

/// The private scalar of a P-256 JWK.
pub(super) fn ec_private(jwk: &Jwk) -> Result<SecretKey, JweError> {
    if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
        return Err(invalid("ECDH-ES keys must be EC keys on P-256"));
    }
    let d = b64("d", &jwk.d).map_err(|_| invalid("the EC private key has no usable d"))?;
    if d.len() != 32 {
        return Err(invalid("a P-256 private key is 32 bytes"));
    }
    SecretKey::from_slice(&d).map_err(|_| invalid("not a usable P-256 private key"))
}

/// The JWK of a P-256 public key (an `epk` header).
pub(super) fn ec_public_jwk(key: &PublicKey) -> Result<Jwk, JweError> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    let point = key.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(JweError::EncryptionFailed {
            reason: "the ephemeral key is the identity",
        });
    };
    Ok(Jwk {
        kty: "EC".into(),
        crv: Some("P-256".into()),
        x: Some(URL_SAFE_NO_PAD.encode(x)),
        y: Some(URL_SAFE_NO_PAD.encode(y)),
        ..Jwk::default()
    })
}
