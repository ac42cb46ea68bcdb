//! Tests of the items of `src/jose/hash.rs`, one by one.

use ciba_core::jose::JwsAlgorithm;
use ciba_core::jose::hash::{left_half_hash, sha256_b64};

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
