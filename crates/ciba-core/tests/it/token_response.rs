//! Token responses (OIDC Core 3.1.3.3): what is accepted, what is refused, and validation of
//! the ID token against the tokens actually delivered.

use crate::support;

use std::time::Duration;

use ciba_core::id_token::{IdTokenContext, IdTokenError};
use ciba_core::{DeliveryMode, ErrorCode, Limits, ParseErrorKind};
use ciba_core::{TokenResponse, TokenResponseError, TokenType};
use serde_json::json;
use support::*;

fn parse(
    resp: &http::Response<Vec<u8>>,
    expected: Option<TokenType>,
) -> Result<TokenResponse, TokenResponseError> {
    TokenResponse::from_response(resp, expected, &Limits::DEFAULT)
}

fn body(token_type: &str) -> serde_json::Value {
    json!({"access_token": "at", "token_type": token_type})
}

#[test]
fn full_response_is_read_member_by_member() {
    let r = parse(
        &json_response(
            200,
            &json!({
                "access_token": "at",
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "rt",
                "scope": "openid  email",
                "id_token": "x.y.z",
                "authorization_details": [{"type": "payment"}],
            }),
        ),
        Some(TokenType::Bearer),
    )
    .unwrap();
    assert_eq!(r.access_token, "at");
    assert_eq!(r.expires_in, Some(Duration::from_secs(3600)));
    assert_eq!(r.refresh_token.as_deref(), Some("rt"));
    assert_eq!(
        r.scopes().unwrap().collect::<Vec<_>>(),
        vec!["openid", "email"]
    );
    assert_eq!(r.id_token.as_deref(), Some("x.y.z"));
    assert_eq!(r.extra.len(), 1);
    assert!(r.extra.contains_key("authorization_details"));
}

#[test]
fn token_type_is_case_insensitive() {
    for (t, want) in [
        ("Bearer", TokenType::Bearer),
        ("bearer", TokenType::Bearer),
        ("BEARER", TokenType::Bearer),
        ("DPoP", TokenType::DPoP),
        ("dpop", TokenType::DPoP),
        ("DPOP", TokenType::DPoP),
    ] {
        let r = parse(&json_response(200, &body(t)), None).unwrap();
        assert_eq!(r.token_type, want, "{t}");
    }
}

#[test]
fn dpop_token_type_is_required_when_a_dpop_proof_was_sent() {
    let err = parse(&json_response(200, &body("Bearer")), Some(TokenType::DPoP)).unwrap_err();
    assert_eq!(
        err,
        TokenResponseError::TokenTypeMismatch {
            expected: TokenType::DPoP,
            found: TokenType::Bearer
        }
    );
    let err = parse(&json_response(200, &body("DPoP")), Some(TokenType::Bearer)).unwrap_err();
    assert!(matches!(err, TokenResponseError::TokenTypeMismatch { .. }));
}

#[test]
fn unknown_token_types_are_refused() {
    for t in ["mac", "N_A", "Bearer ", ""] {
        let err = parse(&json_response(200, &body(t)), None).unwrap_err();
        assert!(
            matches!(
                err,
                TokenResponseError::UnsupportedTokenType { .. } | TokenResponseError::Parse(_)
            ),
            "{t}: {err:?}"
        );
    }
}

#[test]
fn missing_members_and_wrong_types_are_parse_errors() {
    for (b, member) in [
        (json!({"token_type": "Bearer"}), "access_token"),
        (json!({"access_token": "at"}), "token_type"),
    ] {
        let err = parse(&json_response(200, &b), None).unwrap_err();
        assert!(
            matches!(&err, TokenResponseError::Parse(p) if p.kind == ParseErrorKind::MissingMember { member }),
            "{err:?}"
        );
    }
    for b in [
        json!({"access_token": 5, "token_type": "Bearer"}),
        json!({"access_token": "at", "token_type": "Bearer", "scope": ["openid"]}),
        json!({"access_token": "at", "token_type": "Bearer", "id_token": {}}),
    ] {
        assert!(matches!(
            parse(&json_response(200, &b), None),
            Err(TokenResponseError::Parse(_))
        ));
    }
}

#[test]
fn expires_in_with_a_fraction_or_an_exponent_is_rounded_down() {
    for (v, want) in [
        (json!(3600.0), 3600),
        (json!(3.6e3), 3600),
        (json!(5.9), 5),
        (json!(1.5), 1),
    ] {
        let b = json!({"access_token": "at", "token_type": "Bearer", "expires_in": v});
        let r = parse(&json_response(200, &b), None).unwrap();
        assert_eq!(r.expires_in, Some(Duration::from_secs(want)), "{v}");
    }
}

#[test]
fn unusable_expires_in_reads_as_absent_and_the_tokens_are_kept() {
    for v in [
        json!("3600"),
        json!(-1),
        json!(-0.5),
        json!(0),
        json!(0.5),
        json!(1e300),
        json!(u64::MAX),
        json!(null),
        json!(true),
        json!([3600]),
        json!({"s": 3600}),
    ] {
        let b = json!({"access_token": "at", "token_type": "Bearer", "expires_in": v});
        let r = parse(&json_response(200, &b), None).unwrap();
        assert_eq!(r.access_token, "at", "{v}");
        assert_eq!(r.expires_in, None, "{v}");
        assert!(!r.extra.contains_key("expires_in"), "{v}");
    }
}

#[test]
fn error_statuses_become_oauth_errors() {
    let err = parse(&error_response(400, "authorization_pending"), None).unwrap_err();
    assert!(
        matches!(err, TokenResponseError::OAuth(ref e) if e.code == ErrorCode::AuthorizationPending)
    );
}

#[test]
fn redirects_and_non_json_bodies_are_refused() {
    let redirect = http::Response::builder()
        .status(302)
        .header("location", "https://evil.example")
        .body(Vec::new())
        .unwrap();
    assert!(matches!(
        parse(&redirect, None),
        Err(TokenResponseError::Parse(ref p)) if p.kind == ParseErrorKind::UnexpectedStatus { status: 302 }
    ));
    let html = http::Response::builder()
        .status(200)
        .header("content-type", "text/html")
        .body(b"<html>".to_vec())
        .unwrap();
    assert!(matches!(
        parse(&html, None),
        Err(TokenResponseError::Parse(_))
    ));
}

#[test]
fn dpop_nonce_header_is_kept_for_the_next_proof() {
    let mut resp = json_response(200, &body("DPoP"));
    resp.headers_mut()
        .insert("dpop-nonce", "eyJ7S_zG.eyJH0-Z".parse().unwrap());
    let r = parse(&resp, Some(TokenType::DPoP)).unwrap();
    assert_eq!(r.dpop_nonce.as_deref(), Some("eyJ7S_zG.eyJH0-Z"));
}

#[test]
fn debug_output_redacts_every_token() {
    let r = parse(&tokens_response(t0(), "Bearer"), None).unwrap();
    let s = format!("{r:?}");
    assert!(
        !s.contains("at-123") && !s.contains("rt-456") && !s.contains("eyJ"),
        "{s}"
    );
}

#[test]
fn validation_requires_an_id_token() {
    let r = parse(&json_response(200, &body("Bearer")), None).unwrap();
    let v = validator(&client(DeliveryMode::Poll));
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "", None);
    assert_eq!(r.validate(&v, &ctx, t0()), Err(IdTokenError::Missing));
}

#[test]
fn validation_checks_hashes_against_the_delivered_tokens() {
    let v = validator(&client(DeliveryMode::Poll));
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "", None);
    let ok = parse(&tokens_response(t0(), "Bearer"), None).unwrap();
    let valid = ok.validate(&v, &ctx, t0()).unwrap();
    assert_eq!(valid.id_token.sub, "alice");
    assert_eq!(valid.response.access_token, "at-123");

    // Same ID token, but delivered with a different access token.
    let swapped = json_response(
        200,
        &json!({
            "access_token": "at-stolen",
            "token_type": "Bearer",
            "id_token": id_token_for(t0(), "at-123", None),
        }),
    );
    let r = parse(&swapped, None).unwrap();
    assert_eq!(
        r.validate(&v, &ctx, t0()),
        Err(IdTokenError::AtHashMismatch)
    );
}
