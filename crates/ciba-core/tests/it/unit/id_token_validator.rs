//! Tests of the items of `src/id_token/validator.rs`, one by one.

use ciba_core::__internals::advertised_policy;
use ciba_core::IdTokenValidator;
use ciba_core::jose::{JwkSet, JwsAlgorithm};

#[test]
fn advertised_policy_keeps_only_known_asymmetric_algorithms() {
    let adv = vec![
        "none".to_owned(),
        "HS256".into(),
        "ES256".into(),
        "XX".into(),
    ];
    assert_eq!(
        advertised_policy(Some(&adv)).allowed(),
        &[JwsAlgorithm::ES256]
    );
    assert_eq!(advertised_policy(None).allowed(), &[JwsAlgorithm::RS256]);
    let only_bad = vec!["none".to_owned(), "HS512".into()];
    assert_eq!(
        advertised_policy(Some(&only_bad)).allowed(),
        &[JwsAlgorithm::RS256]
    );
}

#[test]
fn the_validator_reports_what_it_checks_against() {
    let v = IdTokenValidator::new("https://op.example", "client-1", JwkSet::default());
    assert_eq!(v.issuer(), "https://op.example");
    assert_eq!(v.client_id(), "client-1");
    let shown = format!("{v:?}");
    for part in [
        "IdTokenValidator {",
        "issuer: \"https://op.example\"",
        "client_id: \"client-1\"",
        "keys: 0",
        "algorithms: [RS256]",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
}
