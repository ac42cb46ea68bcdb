//! `AuthReqId` (src/auth_req_id.rs): parsing, minting, redaction and equality.

use std::collections::HashSet;

use ciba_core::random::{Random, RandomError};
use ciba_server::{AuthReqId, AuthReqIdError};

/// Counts up from a seed, so that every mint differs.
struct Counter(std::sync::atomic::AtomicU8);

impl Random for Counter {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for (i, b) in dest.iter_mut().enumerate() {
            *b = n.wrapping_mul(31).wrapping_add(i as u8);
        }
        Ok(())
    }
}

struct Failing;

impl Random for Failing {
    fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError { reason: "broken" })
    }
}

#[test]
fn debug_never_shows_the_value() {
    let id = AuthReqId::parse("abcdefghijklmnopqrstuvwxyz0", 64).unwrap();
    for printed in [format!("{id:?}"), format!("{id:#?}")] {
        assert_eq!(printed, "AuthReqId(<redacted>, 27 bytes)");
        // Not even a prefix or a suffix of four characters.
        assert!(!printed.contains("abcd") && !printed.contains("xyz0"));
    }
    let minted = AuthReqId::mint(&Counter(0.into())).unwrap();
    let printed = format!("{minted:?} {:?}", Some(&minted));
    assert!(!printed.contains(minted.as_str()));
    assert!(!printed.contains(&minted.as_str()[..4]));
}

#[test]
fn equality_compares_the_whole_value() {
    let a = AuthReqId::parse("id-1", 64).unwrap();
    assert_eq!(a, AuthReqId::parse("id-1", 64).unwrap());
    assert_ne!(a, AuthReqId::parse("id-2", 64).unwrap());
    assert_ne!(a, AuthReqId::parse("id-10", 64).unwrap());
    assert_ne!(a, AuthReqId::parse("id-", 64).unwrap());
    assert!(a == "id-1" && a != "id-1x" && *"id-1" != *"ID-1");
    assert!(a != *"ID-1");
    let set: HashSet<AuthReqId> = ["id-1", "id-2", "id-1"]
        .into_iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(set.len(), 2);
    assert!(set.contains(&a));
}

#[test]
fn parsing_refuses_empty_over_long_and_foreign_characters() {
    assert_eq!(AuthReqId::parse("", 64), Err(AuthReqIdError::Empty));
    assert_eq!(
        AuthReqId::parse(&"a".repeat(65), 64),
        Err(AuthReqIdError::TooLong { max_bytes: 64 })
    );
    assert_eq!(
        AuthReqId::parse(&"a".repeat(64), 64).unwrap().as_str(),
        "a".repeat(64)
    );
    for bad in ["a b", "a+b", "a/b", "a=", "a\"b", "é", "a\0", "a%2F", "a\n"] {
        assert_eq!(
            AuthReqId::parse(bad, 64),
            Err(AuthReqIdError::InvalidCharacter),
            "{bad:?}"
        );
    }
    let ok = AuthReqId::parse("AZaz09.-_", 64).unwrap();
    assert_eq!(ok.as_str(), "AZaz09.-_");
    assert_eq!(ok.into_string(), "AZaz09.-_");
    // The default bound of `FromStr` is the server's default value bound.
    assert!(
        "a".repeat(AuthReqId::DEFAULT_MAX_BYTES)
            .parse::<AuthReqId>()
            .is_ok()
    );
    assert_eq!(
        AuthReqId::try_from("a".repeat(AuthReqId::DEFAULT_MAX_BYTES + 1).as_str()),
        Err(AuthReqIdError::TooLong {
            max_bytes: AuthReqId::DEFAULT_MAX_BYTES
        })
    );
}

#[test]
fn minted_ids_are_distinct_base64url_of_the_minted_length() {
    let rng = Counter(7.into());
    let ids: Vec<AuthReqId> = (0..50).map(|_| AuthReqId::mint(&rng).unwrap()).collect();
    let distinct: HashSet<&AuthReqId> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    for id in &ids {
        assert_eq!(id.as_str().len(), AuthReqId::MINTED_LEN);
        // A minted id passes the check the token endpoint applies.
        assert_eq!(
            &AuthReqId::parse(id.as_str(), AuthReqId::MINTED_LEN).unwrap(),
            id
        );
        assert!(!id.as_str().contains('='));
    }
    assert!(AuthReqId::mint(&Failing).is_err());
}

#[test]
fn serde_reads_and_writes_a_plain_string() {
    let id = AuthReqId::parse("id-1", 64).unwrap();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, "\"id-1\"");
    let back: AuthReqId = serde_json::from_str(&json).unwrap();
    assert_eq!(back, id);
}
