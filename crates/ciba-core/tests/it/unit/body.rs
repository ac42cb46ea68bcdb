//! Tests of the items of `src/body.rs`, one by one.

use ciba_core::__internals::whole_seconds;
use ciba_core::wire::{
    APPLICATION_JSON, FormError, encode_form, media_type_is, parse_form, parse_json_object,
};
use ciba_core::{Limits, ParseErrorKind};
use serde_json::Value;

#[test]
fn parses_an_object() {
    let m = parse_json_object(br#"{"a":"b","n":1}"#, &Limits::DEFAULT).unwrap();
    assert_eq!(m.get("a").unwrap(), "b");
}

#[test]
fn duplicate_members_are_refused() {
    let e = parse_json_object(br#"{"a":"b","a":"c"}"#, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        e.kind,
        ParseErrorKind::DuplicateMember {
            member: "a".to_owned()
        }
    );
}

#[test]
fn non_objects_and_garbage_are_typed_errors_that_keep_the_bytes() {
    let e = parse_json_object(b"[1,2]", &Limits::DEFAULT).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::NotAnObject);
    let e = parse_json_object(b"<html>", &Limits::DEFAULT).unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::InvalidJson { .. }));
    assert_eq!(e.raw, b"<html>");
    let e = parse_json_object(br#"{"a":1} x"#, &Limits::DEFAULT).unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::InvalidJson { .. }));
}

#[test]
fn oversize_bodies_are_refused_before_parsing() {
    let limits = Limits::DEFAULT.with_max_body_bytes(4);
    let e = parse_json_object(br#"{"a":1}"#, &limits).unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::BodyTooLarge { .. }));
    assert_eq!(e.raw.len(), 4);
}

#[test]
fn numbers_with_a_fraction_or_an_exponent_are_rounded_down_to_whole_seconds() {
    let secs = |text: &str| {
        let v: Value = serde_json::from_str(text).unwrap();
        match v {
            Value::Number(n) => whole_seconds(&n),
            _ => unreachable!(),
        }
    };
    assert_eq!(secs("3600"), Some(3600));
    assert_eq!(secs("3600.0"), Some(3600));
    assert_eq!(secs("3.6e3"), Some(3600));
    assert_eq!(secs("5.9"), Some(5));
    assert_eq!(secs("0.5"), Some(0));
    assert_eq!(secs("1e300"), Some(u64::MAX));
    assert_eq!(secs("-1"), None);
    assert_eq!(secs("-0.5"), None);
}

#[test]
fn content_type_parameters_are_ignored() {
    assert!(media_type_is(
        "application/json; charset=utf-8",
        APPLICATION_JSON
    ));
    assert!(media_type_is("Application/JSON", APPLICATION_JSON));
    assert!(!media_type_is("text/html", APPLICATION_JSON));
}

#[test]
fn form_round_trip_and_repeats_refused() {
    let body = encode_form([("scope", "openid email"), ("login_hint", "a+b@c")]);
    let pairs = parse_form(&body, 1024, 10).unwrap();
    assert_eq!(pairs[0], ("scope".into(), "openid email".into()));
    assert_eq!(pairs[1], ("login_hint".into(), "a+b@c".into()));
    assert!(matches!(
        parse_form(b"a=1&a=2", 1024, 10),
        Err(FormError::Repeated { .. })
    ));
    assert!(matches!(
        parse_form(b"a=1&b=2&c=3", 1024, 2),
        Err(FormError::TooManyParameters { .. })
    ));
    assert!(matches!(
        parse_form(b"a=%FF", 1024, 2),
        Err(FormError::NotUtf8)
    ));
}
