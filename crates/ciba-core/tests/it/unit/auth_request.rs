//! Tests of the items of `src/auth_request.rs`, one by one.

use ciba_core::__internals::split_tokens;
use ciba_core::wire::is_b64token;
use ciba_core::{AuthRequest, Hint};

#[test]
fn b64token_follows_rfc6750() {
    assert!(is_b64token("abc-._~+/XYZ019=="));
    assert!(!is_b64token(""));
    assert!(!is_b64token("=="));
    assert!(!is_b64token("a=b"));
    assert!(!is_b64token("a b"));
    assert!(!is_b64token("é"));
}

#[test]
fn scope_items_are_split_on_spaces() {
    assert_eq!(
        split_tokens(["openid email", "profile"]),
        vec!["openid", "email", "profile"]
    );
}

#[test]
fn debug_redacts_secrets() {
    let r = AuthRequest::new(Hint::LoginHintToken("tok-secret".into()))
        .client_notification_token("cnt-secret")
        .user_code("code-secret");
    let s = format!("{r:?}");
    assert!(!s.contains("secret"), "{s}");
}
