//! DPoP server nonces and their HMAC (src/dpop.rs).

use std::time::{Duration, SystemTime};

use ciba_server::__internals::hmac_sha256;
use ciba_server::DpopNonceKey;

#[test]
fn hmac_matches_rfc4231_test_case_2() {
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap();
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn nonces_live_for_their_window_and_the_next() {
    let key = DpopNonceKey::new(&[7u8; 32], Duration::from_secs(60)).unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(6000);
    let n = key.current(t).unwrap();
    assert!(ciba_core::dpop::is_nonce(&n));
    assert!(key.accepts(&n, t + Duration::from_secs(60)));
    assert!(!key.accepts(&n, t + Duration::from_secs(120)));
    let other = DpopNonceKey::new(&[8u8; 32], Duration::from_secs(60)).unwrap();
    assert!(!other.accepts(&n, t));
    assert!(DpopNonceKey::new(&[7u8; 31], Duration::from_secs(60)).is_err());
}
