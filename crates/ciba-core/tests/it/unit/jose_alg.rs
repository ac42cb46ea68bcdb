//! Tests of the items of `src/jose/alg.rs`, one by one.

use ciba_core::jose::JwsAlgorithm;

#[test]
fn none_is_not_an_algorithm() {
    assert!("none".parse::<JwsAlgorithm>().is_err());
    assert!("None".parse::<JwsAlgorithm>().is_err());
    assert!("rs256".parse::<JwsAlgorithm>().is_err());
}

#[test]
fn names_round_trip() {
    for a in JwsAlgorithm::ALL {
        assert_eq!(a.as_str().parse::<JwsAlgorithm>().unwrap(), a);
    }
}

#[test]
fn display_writes_the_alg_header_value() {
    for a in JwsAlgorithm::ALL {
        assert_eq!(a.to_string(), a.as_str());
    }
    assert_eq!(format!("{}", JwsAlgorithm::ES256), "ES256");
    assert_eq!(format!("alg={}", JwsAlgorithm::EdDSA), "alg=EdDSA");
}
