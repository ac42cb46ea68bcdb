//! Syntax of request parameter values (src/params.rs).

use ciba_server::__internals::{
    form_decode, is_scope_token, is_valid_notification_token, parse_requested_expiry, split_list,
};

#[test]
fn scope_tokens_exclude_quotes_backslashes_and_spaces() {
    assert!(is_scope_token("openid"));
    assert!(is_scope_token("https://api.example/read"));
    assert!(!is_scope_token("a\"b"));
    assert!(!is_scope_token("a\\b"));
    assert!(!is_scope_token("a b"));
    assert!(!is_scope_token(""));
    assert!(!is_scope_token("é"));
}

#[test]
fn lists_drop_repeats_and_empty_items() {
    assert_eq!(split_list("openid  email openid"), ["openid", "email"]);
}

#[test]
fn notification_tokens_follow_b64token_syntax() {
    assert!(is_valid_notification_token(
        "8d67dc78-7faa-4d41-aabd-67707b374255"
    ));
    assert!(is_valid_notification_token("abc+/=="));
    assert!(!is_valid_notification_token("=="));
    assert!(!is_valid_notification_token("a b"));
    assert!(!is_valid_notification_token("a=b"));
    assert!(!is_valid_notification_token(&"a".repeat(1025)));
    assert!(is_valid_notification_token(&"a".repeat(1024)));
}

#[test]
fn requested_expiry_is_a_positive_integer() {
    assert_eq!(parse_requested_expiry("120"), Some(120));
    assert_eq!(parse_requested_expiry("0"), None);
    assert_eq!(parse_requested_expiry("-5"), None);
    assert_eq!(parse_requested_expiry("+5"), None);
    assert_eq!(parse_requested_expiry("1.5"), None);
    assert_eq!(parse_requested_expiry("99999999999999999999"), None);
}

#[test]
fn form_decoding_handles_plus_and_percent() {
    assert_eq!(form_decode("a+b%3Ac%25").unwrap(), "a b:c%");
    assert_eq!(form_decode("%zz"), None);
    assert_eq!(form_decode("%4"), None);
    assert_eq!(form_decode("%FF"), None);
}
