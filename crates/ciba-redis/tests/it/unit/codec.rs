//! Instants and token lists as stored.

use std::time::{Duration, UNIX_EPOCH};

use ciba_redis::__internals::{
    MAX_MILLIS, decode_tokens, encode_tokens, exact, millis, parse_exact,
};
use ciba_server::store::TokenFingerprint;

#[test]
fn instants_round_trip_exactly_and_clamp_in_milliseconds() {
    let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
    assert_eq!(parse_exact(&exact(t)), Some(t));
    assert_eq!(millis(t), 1_700_000_000_123);
    assert_eq!(millis(UNIX_EPOCH - Duration::from_secs(1)), 0);
    let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
    assert_eq!(millis(far), MAX_MILLIS);
    assert_eq!(parse_exact(&exact(far)), Some(far));
}

#[test]
fn token_lists_round_trip_and_refuse_separators() {
    let tokens = vec![
        TokenFingerprint {
            fingerprint: "abc-_1".into(),
            expires_at: UNIX_EPOCH + Duration::new(5, 7),
        },
        TokenFingerprint {
            fingerprint: "def".into(),
            expires_at: UNIX_EPOCH + Duration::from_secs(u64::MAX / 4),
        },
    ];
    let text = encode_tokens(&tokens).unwrap();
    assert_eq!(decode_tokens(&text).unwrap(), tokens);
    assert!(decode_tokens("").unwrap().is_empty());
    let bad = TokenFingerprint {
        fingerprint: "a b".into(),
        expires_at: UNIX_EPOCH,
    };
    assert!(encode_tokens(&[bad]).is_err());
    assert!(decode_tokens("fp 1 x y;").is_err());
}
