//! Tests of the items of `src/id_token/claims.rs`, one by one.

use ciba_core::__internals::{take_audience, take_date};
use ciba_core::IdTokenError;
use serde_json::{Map, Value};

#[test]
fn fractional_dates_must_lie_within_a_quadrillion_seconds() {
    let mut m = serde_json::json!({
        "inside": 999_999_999_999_999.5, "edge": 1e15, "negative_edge": -1e15, "huge": 1e20,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    assert_eq!(
        take_date(&mut m, "inside").ok(),
        Some(Some(999_999_999_999_999))
    );
    for claim in ["edge", "negative_edge", "huge"] {
        assert!(
            matches!(
                take_date(&mut m, claim),
                Err(IdTokenError::InvalidClaim { claim: c, .. }) if c == claim
            ),
            "{claim}"
        );
    }
}

#[test]
fn audience_accepts_a_string_or_a_non_empty_array() {
    let mut m = Map::new();
    m.insert("aud".into(), Value::from("c"));
    assert_eq!(take_audience(&mut m).unwrap(), vec!["c".to_owned()]);
    m.insert("aud".into(), serde_json::json!(["c", "d"]));
    assert_eq!(take_audience(&mut m).unwrap().len(), 2);
    m.insert("aud".into(), serde_json::json!([]));
    assert!(take_audience(&mut m).is_err());
    m.insert("aud".into(), serde_json::json!([1]));
    assert!(take_audience(&mut m).is_err());
}

#[test]
fn numeric_dates_accept_fractions_and_refuse_strings() {
    let mut m = Map::new();
    m.insert("exp".into(), serde_json::json!(12.7));
    assert_eq!(take_date(&mut m, "exp").unwrap(), Some(12));
    m.insert("exp".into(), serde_json::json!("12"));
    assert!(take_date(&mut m, "exp").is_err());
    m.insert("exp".into(), serde_json::json!(1e300));
    assert!(take_date(&mut m, "exp").is_err());
}
