//! Tests of the items of `src/ack.rs`, one by one.

use ciba_core::{AuthReqId, Limits, ParseErrorKind};

#[test]
fn ids_hash_by_their_value() {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let hash = |h: &dyn Fn(&mut DefaultHasher)| {
        let mut state = DefaultHasher::new();
        h(&mut state);
        state.finish()
    };
    let a = AuthReqId::new("1c266114-a1be-4252-8ad1-04986c5b9ac1");
    let b = AuthReqId::new("1c266114-a1be-4252-8ad1-04986c5b9ac2");
    // The same hash as the text itself, so equal ids (equal text) always hash alike, and
    // ids that differ land apart.
    assert_eq!(
        hash(&|s| a.hash(s)),
        hash(&|s| "1c266114-a1be-4252-8ad1-04986c5b9ac1".hash(s))
    );
    assert_ne!(hash(&|s| a.hash(s)), hash(&|s| b.hash(s)));
}

#[test]
fn debug_hides_short_ids_and_most_of_long_ones() {
    let short = AuthReqId::new("abcdefgh");
    assert!(!format!("{short:?}").contains("abcd"));
    let long = AuthReqId::new("1c266114-a1be-4252-8ad1-04986c5b9ac1");
    let s = format!("{long:?}");
    assert!(s.contains("1c26"));
    assert!(!s.contains("1c266"));
}

#[test]
fn ids_compare_by_value() {
    assert_eq!(AuthReqId::new("x"), AuthReqId::new("x"));
    assert_ne!(AuthReqId::new("x"), AuthReqId::new("y"));
}

#[test]
fn ids_of_different_lengths_or_case_differ() {
    assert_ne!(AuthReqId::new("abc"), AuthReqId::new("abcd"));
    assert_ne!(AuthReqId::new("abc"), AuthReqId::new("ABC"));
    assert_ne!(AuthReqId::new(""), AuthReqId::new("a"));
    assert_eq!(AuthReqId::new(""), AuthReqId::new(""));
}

#[test]
fn into_string_hands_back_the_value_as_sent() {
    let id = AuthReqId::new("1c266114-a1be-4252-8ad1-04986c5b9ac1");
    assert_eq!(id.into_string(), "1c266114-a1be-4252-8ad1-04986c5b9ac1");
    assert_eq!(AuthReqId::new("").into_string(), "");
}

#[test]
fn from_wire_keeps_the_value_and_bounds_its_length() {
    let limits = Limits::DEFAULT.with_max_auth_req_id_bytes(8);
    let id = AuthReqId::from_wire("abcdefgh".into(), &limits).unwrap();
    assert_eq!(id.as_str(), "abcdefgh");
    assert_eq!(
        AuthReqId::from_wire("abcdefghi".into(), &limits),
        Err(ParseErrorKind::InvalidMember {
            member: "auth_req_id",
            reason: "longer than the configured limit",
        })
    );
    assert_eq!(
        AuthReqId::from_wire(String::new(), &limits),
        Err(ParseErrorKind::InvalidMember {
            member: "auth_req_id",
            reason: "empty string",
        })
    );
}
