//! The claim checks shared by every JWT the server reads (src/jwt_claims.rs).

use ciba_server::__internals::{Clock, audience_ok, opt_time, req_time};
use ciba_server::ClaimError;
use serde_json::{Map, Value, json};

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn audience_may_be_a_string_or_an_array_of_strings() {
    let accepted = ["https://op.example"];
    assert!(audience_ok(
        &map(json!({"aud": "https://op.example"})),
        &accepted,
        false
    ));
    assert!(audience_ok(
        &map(json!({"aud": ["x", "https://op.example"]})),
        &accepted,
        false
    ));
    assert!(!audience_ok(
        &map(json!({"aud": ["x", "https://op.example"]})),
        &accepted,
        true
    ));
    assert!(!audience_ok(
        &map(json!({"aud": ["https://op.example", 1]})),
        &accepted,
        false
    ));
    assert!(!audience_ok(
        &map(json!({"aud": "other"})),
        &accepted,
        false
    ));
    assert!(!audience_ok(&map(json!({})), &accepted, false));
}

#[test]
fn time_checks_allow_the_skew_and_no_more() {
    let c = Clock {
        now: 1000,
        skew: 30,
    };
    assert!(c.check_exp(1001).is_ok());
    assert!(c.check_exp(971).is_ok());
    assert_eq!(c.check_exp(970), Err(ClaimError::Expired));
    assert!(c.check_nbf(1030).is_ok());
    assert_eq!(c.check_nbf(1031), Err(ClaimError::NotYetValid));
    assert_eq!(c.check_iat(1031), Err(ClaimError::IssuedInFuture));
}

#[test]
fn numeric_dates_accept_fractions_but_not_strings() {
    let m = map(json!({"a": 5.9, "b": "5", "c": 7}));
    assert_eq!(opt_time(&m, "a"), Ok(Some(5)));
    assert!(opt_time(&m, "b").is_err());
    assert_eq!(req_time(&m, "c"), Ok(7));
    assert_eq!(req_time(&m, "d"), Err(ClaimError::Missing { claim: "d" }));
}

#[test]
fn fractional_dates_must_lie_within_a_quadrillion_seconds() {
    // Floats are accepted below 10^15 in magnitude (about 31 million years), which keeps
    // every accepted value exact in an i64 after truncation.
    let m = map(json!({
        "inside": 999_999_999_999_999.5, "edge": 1e15, "negative_edge": -1e15,
        "huge": 1e20, "negative_inside": -999_999_999_999_999.5,
    }));
    assert_eq!(opt_time(&m, "inside"), Ok(Some(999_999_999_999_999)));
    assert_eq!(
        opt_time(&m, "negative_inside"),
        Ok(Some(-999_999_999_999_999))
    );
    for claim in ["edge", "negative_edge", "huge"] {
        assert_eq!(
            opt_time(&m, claim),
            Err(ClaimError::Malformed { claim }),
            "{claim}"
        );
    }
}
