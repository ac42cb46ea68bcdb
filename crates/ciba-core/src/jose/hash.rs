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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_openid_core_example() {
        // OIDC Core appendix A.4: access token and its at_hash for RS256.
        let at = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(
            left_half_hash(JwsAlgorithm::RS256, at).unwrap(),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn left_half_hash_follows_the_algorithms_hash() {
        // The same access token as above: SHA-384 for the *384 algorithms (24 of 48 bytes),
        // SHA-512 for the *512 ones and EdDSA (32 of 64 bytes).
        let at = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        for alg in [
            JwsAlgorithm::RS384,
            JwsAlgorithm::PS384,
            JwsAlgorithm::ES384,
            JwsAlgorithm::HS384,
        ] {
            assert_eq!(
                left_half_hash(alg, at).unwrap(),
                "jtAeDp945y1dDqU3nkIVGNZP1HjH_MFs",
                "{alg}"
            );
        }
        for alg in [
            JwsAlgorithm::RS512,
            JwsAlgorithm::PS512,
            JwsAlgorithm::HS512,
            JwsAlgorithm::EdDSA,
        ] {
            assert_eq!(
                left_half_hash(alg, at).unwrap(),
                "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM",
                "{alg}"
            );
        }
        for alg in [
            JwsAlgorithm::RS256,
            JwsAlgorithm::PS256,
            JwsAlgorithm::ES256,
            JwsAlgorithm::HS256,
        ] {
            assert_eq!(left_half_hash(alg, at).unwrap(), "77QmUPtjPfzWtF2AnpK9RQ");
        }
    }

    #[test]
    fn ath_is_sha256_base64url() {
        // RFC 9449 section 7.1 example.
        assert_eq!(
            sha256_b64("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU").unwrap(),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
