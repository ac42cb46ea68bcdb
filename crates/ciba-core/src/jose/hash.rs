//! Hashes used by OpenID and OAuth claims: `at_hash`, `rt_hash`, DPoP `ath`, JWK thumbprints.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::ThumbprintHash;

use super::{JoseError, JwsAlgorithm, backend};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Result<Vec<u8>, JoseError> {
    digest(data, 32)
}

fn digest(data: &[u8], len: usize) -> Result<Vec<u8>, JoseError> {
    let h = match len {
        32 => ThumbprintHash::SHA256,
        48 => ThumbprintHash::SHA384,
        _ => ThumbprintHash::SHA512,
    };
    (backend::provider().key_utils.compute_digest)(data, h).map_err(|_| JoseError::SigningFailed {
        reason: "digest computation failed".to_owned(),
    })
}

/// The OpenID "left half" hash of `value` for a token signed with `alg`, base64url-encoded:
/// the value of `at_hash`, `c_hash` and CIBA's `urn:openid:params:jwt:claim:rt_hash`.
pub fn left_half_hash(alg: JwsAlgorithm, value: &str) -> Result<String, JoseError> {
    let full = digest(value.as_bytes(), alg.hash_len())?;
    let half = full.get(..full.len() / 2).unwrap_or_default();
    Ok(URL_SAFE_NO_PAD.encode(half))
}

/// base64url(SHA-256(value)): the DPoP `ath` claim.
pub fn sha256_b64(value: &str) -> Result<String, JoseError> {
    Ok(URL_SAFE_NO_PAD.encode(sha256(value.as_bytes())?))
}
