//! Error responses and their bodies (src/response.rs).

use std::borrow::Cow;

use ciba_core::ErrorCode;
use ciba_server::__internals::{ErrorBody, MAX_DESCRIPTION, sanitized};
use ciba_server::{ProtocolError, Rejection, error_body};
use http::StatusCode;
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::Value;

#[derive(Debug)]
struct Unauthorized;
impl ProtocolError for Unauthorized {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidClient
    }
    fn status(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }
    fn description(&self) -> Cow<'static, str> {
        Cow::Borrowed("bad \"client\"\n\\ credentials")
    }
}

#[test]
fn unauthorized_rejections_carry_a_challenge_and_a_clean_description() {
    let r = Rejection::new(Unauthorized, "https://op.example");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.response.headers().get(WWW_AUTHENTICATE).unwrap(),
        "Basic realm=\"https://op.example\""
    );
    assert_eq!(r.response.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    let v: Value = serde_json::from_slice(r.response.body()).unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert_eq!(v["error_description"], "bad client credentials");
}

#[test]
fn typed_error_bodies_are_the_bytes_of_the_error_object() {
    let long = "x".repeat(300);
    for description in [
        None,
        Some(""),
        Some("the user has not answered yet"),
        Some("quote \" and backslash \\ and é and \n dropped"),
        Some(long.as_str()),
        Some(&long[..200]),
    ] {
        let code = ErrorCode::AuthorizationPending;
        let typed = serde_json::to_vec(&ErrorBody::new(&code, description)).unwrap();
        let object = serde_json::to_vec(&error_body(&code, description)).unwrap();
        assert_eq!(typed, object, "{description:?}");
    }
    // A clean description is borrowed; one needing cleaning is not.
    assert!(matches!(sanitized("clean text"), Cow::Borrowed(_)));
    assert!(matches!(sanitized("not \"clean\""), Cow::Owned(_)));
    assert_eq!(sanitized(&long).len(), MAX_DESCRIPTION);
}
