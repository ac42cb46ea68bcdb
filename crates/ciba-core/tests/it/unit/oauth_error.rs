//! Tests of the items of `src/oauth_error.rs`, one by one.

use ciba_core::__internals::is_bidi_control;
use ciba_core::wire::{parse_challenges, sanitize_text};
use ciba_core::{ErrorCode, Limits, MAX_ERROR_TEXT_CHARS, OAuthError, ParseErrorKind};
use http::StatusCode;

fn resp(status: u16, ct: Option<&str>, body: &str) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    if let Some(ct) = ct {
        b = b.header("content-type", ct);
    }
    b.body(body.as_bytes().to_vec()).unwrap()
}

#[test]
fn parses_a_ciba_error_body_with_status() {
    let r = resp(
        400,
        Some("application/json"),
        r#"{"error":"unknown_user_id","error_description":"no such user"}"#,
    );
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap();
    assert_eq!(e.code, ErrorCode::UnknownUserId);
    assert_eq!(e.description.as_deref(), Some("no such user"));
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
}

#[test]
fn unknown_codes_are_kept() {
    let r = resp(400, Some("application/json"), r#"{"error":"custom_thing"}"#);
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap();
    assert_eq!(e.code, ErrorCode::Other("custom_thing".into()));
}

#[test]
fn missing_error_member_is_a_parse_error() {
    let r = resp(400, Some("application/json"), r#"{"foo":"bar"}"#);
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MissingMember { member: "error" });
}

#[test]
fn www_authenticate_challenges_are_parsed() {
    let c = parse_challenges(
        r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 PS256", Basic realm="x\"y""#,
    )
    .unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].scheme, "DPoP");
    assert_eq!(c[0].param("error"), Some("use_dpop_nonce"));
    assert_eq!(c[0].param("algs"), Some("ES256 PS256"));
    assert_eq!(c[1].scheme, "Basic");
    assert_eq!(c[1].param("realm"), Some("x\"y"));
}

#[test]
fn error_from_challenge_when_body_is_empty() {
    let r = http::Response::builder()
        .status(401)
        .header("www-authenticate", r#"Bearer error="invalid_token""#)
        .body(Vec::new())
        .unwrap();
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap();
    assert_eq!(e.code, ErrorCode::InvalidToken);
    assert_eq!(e.challenges.len(), 1);
}

const HOSTILE: &str = "\u{1b}[31mred\u{1b}[0m line1\rline2\u{7}\u{9b}2J\u{202e}evil\ttab";
const CLEANED: &str = "[31mred[0m line1 line22Jevil tab";

fn no_controls(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || is_bidi_control(c))
}

#[test]
fn provider_text_loses_escape_sequences_and_control_characters() {
    let body = serde_json::json!({
        "error": "access_denied",
        "error_description": HOSTILE,
        "error_uri": format!("https://op.example/e?{HOSTILE}"),
    });
    let r = resp(400, Some("application/json"), &body.to_string());
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap();
    assert_eq!(e.description.as_deref(), Some(CLEANED));
    assert_eq!(
        e.uri.as_deref(),
        Some(format!("https://op.example/e?{CLEANED}").as_str())
    );
    let shown = e.to_string();
    assert!(no_controls(&shown), "{shown:?}");
    assert!(shown.ends_with(CLEANED), "{shown:?}");
    // The same through a WWW-Authenticate challenge: a header value holds visible ASCII,
    // spaces and tabs only, and a tab becomes a space.
    let r = http::Response::builder()
        .status(401)
        .header(
            "www-authenticate",
            "Bearer error=\"invalid_token\", error_description=\"a\tb\"",
        )
        .body(Vec::new())
        .unwrap();
    let e = OAuthError::from_response(&r, &Limits::DEFAULT).unwrap();
    assert_eq!(e.description.as_deref(), Some("a b"));
}

#[test]
fn long_provider_text_is_cut_to_the_limit() {
    let long = "x".repeat(MAX_ERROR_TEXT_CHARS + 100);
    let cut = sanitize_text(&long);
    assert_eq!(cut.chars().count(), MAX_ERROR_TEXT_CHARS + 1);
    assert!(cut.ends_with('…'));
    let exact = "é".repeat(MAX_ERROR_TEXT_CHARS);
    assert_eq!(sanitize_text(&exact), exact);
}

#[test]
fn display_cleans_errors_built_by_hand() {
    let mut e = OAuthError::new(ErrorCode::AccessDenied, StatusCode::FORBIDDEN);
    e.description = Some(HOSTILE.to_owned());
    let shown = e.to_string();
    assert!(no_controls(&shown), "{shown:?}");
    assert!(shown.ends_with(CLEANED), "{shown:?}");
}

#[test]
fn codes_round_trip() {
    for c in [
        "slow_down",
        "expired_token",
        "transaction_failed",
        "use_dpop_nonce",
    ] {
        assert_eq!(ErrorCode::from_wire(c).as_str(), c);
        assert!(!matches!(ErrorCode::from_wire(c), ErrorCode::Other(_)));
    }
}
