//! Tests of the items of `src/token_response.rs`, one by one.

use ciba_core::{Limits, TokenResponse, TokenResponseError, TokenType};
use serde_json::Value;

fn ok(body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

#[test]
fn minimal_response_parses_and_keeps_unknown_members() {
    let r = TokenResponse::from_response(
        &ok(r#"{"access_token":"at","token_type":"bearer","x":1}"#),
        Some(TokenType::Bearer),
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(r.token_type, TokenType::Bearer);
    assert_eq!(r.extra.get("x"), Some(&Value::from(1)));
    assert!(r.expires_in.is_none());
}

#[test]
fn debug_hides_every_token() {
    let r = TokenResponse::from_response(
        &ok(r#"{"access_token":"SECRET-AT","token_type":"Bearer","refresh_token":"SECRET-RT","id_token":"SECRET-ID"}"#),
        None,
        &Limits::DEFAULT,
    )
    .unwrap();
    let s = format!("{r:?}");
    assert!(!s.contains("SECRET"), "{s}");
}

#[test]
fn empty_access_and_refresh_tokens_are_refused() {
    for body in [
        r#"{"access_token":"","token_type":"Bearer"}"#,
        r#"{"access_token":"at","token_type":"Bearer","refresh_token":""}"#,
    ] {
        assert!(matches!(
            TokenResponse::from_response(&ok(body), None, &Limits::DEFAULT),
            Err(TokenResponseError::Parse(_))
        ));
    }
}

#[test]
fn token_types_have_their_canonical_spelling() {
    for (t, name) in [(TokenType::Bearer, "Bearer"), (TokenType::DPoP, "DPoP")] {
        assert_eq!(t.as_str(), name);
        assert_eq!(t.to_string(), name);
        assert_eq!(TokenType::parse(t.as_str()), Some(t));
    }
    // The mismatch error names both types by their spelling.
    let e = TokenResponseError::TokenTypeMismatch {
        expected: TokenType::DPoP,
        found: TokenType::Bearer,
    };
    assert_eq!(e.to_string(), "expected a DPoP token, got Bearer");
}
