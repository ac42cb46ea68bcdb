//! Tests of the items of `src/profile.rs`, one by one.

use ciba_core::Profile;
use ciba_core::jose::JwsAlgorithm;

#[test]
fn fapi_allows_only_ps256_and_es256() {
    assert!(Profile::FapiCiba.allows_algorithm(JwsAlgorithm::PS256));
    assert!(Profile::FapiCiba.allows_algorithm(JwsAlgorithm::ES256));
    assert!(!Profile::FapiCiba.allows_algorithm(JwsAlgorithm::RS256));
    assert!(!Profile::FapiCiba.allows_algorithm(JwsAlgorithm::EdDSA));
    assert!(Profile::Default.allows_algorithm(JwsAlgorithm::RS256));
}
