//! Processing the backchannel endpoint's answer: acknowledgements, section 13 errors, and
//! everything malformed in between.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ciba_core::DEFAULT_INTERVAL;
use ciba_core::{
    AuthReqId, AuthRequestAck, Error, ErrorCode, Limits, OAuthError, ParseError, ParseErrorKind,
};
use http::StatusCode;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn resp(status: u16, content_type: Option<&str>, body: &str) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body.as_bytes().to_vec()).unwrap()
}

fn json(status: u16, body: &str) -> http::Response<Vec<u8>> {
    resp(status, Some("application/json"), body)
}

fn ack(r: &http::Response<Vec<u8>>) -> Result<AuthRequestAck, Error> {
    AuthRequestAck::from_response(r, now(), &Limits::DEFAULT)
}

fn parse_error(r: &http::Response<Vec<u8>>) -> ParseError {
    match ack(r) {
        Err(Error::Parse(e)) => e,
        other => panic!("expected a parse error, got {other:?}"),
    }
}

fn oauth_error(r: &http::Response<Vec<u8>>) -> OAuthError {
    match ack(r) {
        Err(Error::OAuth(e)) => e,
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

#[test]
fn acknowledgement_yields_id_lifetime_interval_and_absolute_expiry() {
    let a = ack(&json(
        200,
        r#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1","expires_in":120,"interval":2}"#,
    ))
    .unwrap();
    assert_eq!(
        a.auth_req_id.as_str(),
        "1c266114-a1be-4252-8ad1-04986c5b9ac1"
    );
    assert_eq!(a.expires_in, Duration::from_secs(120));
    assert_eq!(a.interval, Duration::from_secs(2));
    assert!(a.interval_sent);
    assert_eq!(a.received_at, now());
    assert_eq!(a.expires_at, now() + Duration::from_secs(120));
    assert!(!a.is_expired(now() + Duration::from_secs(119)));
    assert!(a.is_expired(now() + Duration::from_secs(120)));
    assert_eq!(
        a.remaining(now() + Duration::from_secs(100)),
        Duration::from_secs(20)
    );
    assert_eq!(
        a.remaining(now() + Duration::from_secs(500)),
        Duration::ZERO
    );
}

#[test]
fn interval_defaults_to_five_seconds() {
    let a = ack(&json(200, r#"{"auth_req_id":"abc","expires_in":600}"#)).unwrap();
    assert_eq!(a.interval, Duration::from_secs(5));
    assert_eq!(a.interval, DEFAULT_INTERVAL);
    assert!(!a.interval_sent);
}

#[test]
fn unknown_members_are_ignored() {
    let a = ack(&json(
        200,
        r#"{"auth_req_id":"abc","expires_in":60,"x_vendor":{"deep":[1,2,3]},"note":null,"interval":1}"#,
    ))
    .unwrap();
    assert_eq!(a.auth_req_id.as_str(), "abc");
}

#[test]
fn content_type_parameters_are_accepted() {
    let r = resp(
        200,
        Some("application/json; charset=UTF-8"),
        r#"{"auth_req_id":"abc","expires_in":60}"#,
    );
    assert!(ack(&r).is_ok());
}

#[test]
fn auth_req_id_is_kept_verbatim_as_an_opaque_string() {
    let a = ack(&json(
        200,
        r#"{"auth_req_id":"a%2Fb+c/== \u00e9.x","expires_in":60}"#,
    ))
    .unwrap();
    assert_eq!(a.auth_req_id.as_str(), "a%2Fb+c/== \u{e9}.x");
}

#[test]
fn auth_req_id_must_be_a_non_empty_string_within_the_limit() {
    for body in [
        r#"{"expires_in":60}"#,
        r#"{"auth_req_id":"","expires_in":60}"#,
        r#"{"auth_req_id":123,"expires_in":60}"#,
        r#"{"auth_req_id":["a"],"expires_in":60}"#,
    ] {
        let e = parse_error(&json(200, body));
        assert!(
            matches!(
                e.kind,
                ParseErrorKind::MissingMember {
                    member: "auth_req_id"
                } | ParseErrorKind::InvalidMember {
                    member: "auth_req_id",
                    ..
                }
            ),
            "{body}: {:?}",
            e.kind
        );
    }
    let limits = Limits::DEFAULT.with_max_auth_req_id_bytes(8);
    let r = json(200, r#"{"auth_req_id":"123456789","expires_in":60}"#);
    assert!(matches!(
        AuthRequestAck::from_response(&r, now(), &limits),
        Err(Error::Parse(ParseError {
            kind: ParseErrorKind::InvalidMember {
                member: "auth_req_id",
                ..
            },
            ..
        }))
    ));
    let r = json(200, r#"{"auth_req_id":"12345678","expires_in":60}"#);
    assert!(AuthRequestAck::from_response(&r, now(), &limits).is_ok());
}

#[test]
fn expires_in_must_be_a_json_number_of_at_least_one_second() {
    for bad in [
        "\"600\"", "0", "0.5", "-1", "-600.5", "null", "true", "[600]",
    ] {
        let body = format!(r#"{{"auth_req_id":"abc","expires_in":{bad}}}"#);
        let e = parse_error(&json(200, &body));
        assert!(
            matches!(
                e.kind,
                ParseErrorKind::InvalidMember {
                    member: "expires_in",
                    ..
                }
            ),
            "{bad}: {:?}",
            e.kind
        );
    }
    let e = parse_error(&json(200, r#"{"auth_req_id":"abc"}"#));
    assert_eq!(
        e.kind,
        ParseErrorKind::MissingMember {
            member: "expires_in"
        }
    );
}

#[test]
fn interval_when_present_must_be_a_json_number_of_at_least_one_second() {
    for bad in ["\"5\"", "0.5", "0", "-5", "null", "{}"] {
        let body = format!(r#"{{"auth_req_id":"abc","expires_in":60,"interval":{bad}}}"#);
        let e = parse_error(&json(200, &body));
        assert!(
            matches!(
                e.kind,
                ParseErrorKind::InvalidMember {
                    member: "interval",
                    ..
                }
            ),
            "{bad}: {:?}",
            e.kind
        );
    }
}

#[test]
fn expires_in_and_interval_with_a_fraction_or_an_exponent_are_rounded_down() {
    for (expires_in, interval, want_expiry, want_interval) in [
        ("600.0", "5.0", 600, 5),
        ("6e2", "5e0", 600, 5),
        ("600.9", "5.9", 600, 5),
        ("1.2e2", "7.999", 120, 7),
    ] {
        let body =
            format!(r#"{{"auth_req_id":"abc","expires_in":{expires_in},"interval":{interval}}}"#);
        let a = ack(&json(200, &body)).unwrap();
        assert_eq!(a.expires_in, Duration::from_secs(want_expiry), "{body}");
        assert_eq!(a.interval, Duration::from_secs(want_interval), "{body}");
        assert_eq!(a.expires_at, now() + Duration::from_secs(want_expiry));
    }
}

#[test]
fn absurd_expires_in_is_capped_at_the_configured_limit() {
    // The default limit is one day.
    const DAY: Duration = Duration::from_secs(86_400);
    for huge in ["18446744073709551615", "1e300", "31536000", "86401"] {
        let body = format!(r#"{{"auth_req_id":"abc","expires_in":{huge}}}"#);
        let a = ack(&json(200, &body)).unwrap();
        assert_eq!(a.expires_in, DAY, "{huge}");
        assert_eq!(a.expires_at, now() + DAY, "{huge}");
    }
    let a = ack(&json(200, r#"{"auth_req_id":"abc","expires_in":86400}"#)).unwrap();
    assert_eq!(a.expires_in, DAY);
    let tight = Limits::DEFAULT.with_max_ack_expires_in(Duration::from_secs(300));
    let r = json(200, r#"{"auth_req_id":"abc","expires_in":600}"#);
    let a = AuthRequestAck::from_response(&r, now(), &tight).unwrap();
    assert_eq!(a.expires_in, Duration::from_secs(300));
}

#[test]
fn duplicate_members_are_refused() {
    let e = parse_error(&json(
        200,
        r#"{"auth_req_id":"abc","expires_in":60,"auth_req_id":"evil"}"#,
    ));
    assert_eq!(
        e.kind,
        ParseErrorKind::DuplicateMember {
            member: "auth_req_id".into()
        }
    );
}

#[test]
fn non_json_body_is_a_parse_error_that_keeps_the_raw_bytes() {
    let body = "<html><body>Gateway says hi</body></html>";
    let e = parse_error(&json(200, body));
    assert!(matches!(e.kind, ParseErrorKind::InvalidJson { .. }));
    assert_eq!(e.raw, body.as_bytes());
    let e = parse_error(&json(200, "[1,2,3]"));
    assert_eq!(e.kind, ParseErrorKind::NotAnObject);
    assert_eq!(e.raw, b"[1,2,3]");
    // An error status with an HTML page is a parse error as well, with the bytes kept.
    let e = parse_error(&resp(502, Some("text/html"), body));
    assert_eq!(e.raw, body.as_bytes());
}

#[test]
fn wrong_or_missing_content_type_is_refused() {
    let body = r#"{"auth_req_id":"abc","expires_in":60}"#;
    for ct in [Some("text/plain"), Some("application/jsonx"), None] {
        let e = parse_error(&resp(200, ct, body));
        assert!(
            matches!(e.kind, ParseErrorKind::UnexpectedContentType { .. }),
            "{ct:?}"
        );
        assert_eq!(e.raw, body.as_bytes());
    }
}

#[test]
fn every_section_13_error_becomes_an_oauth_error_with_its_status() {
    let cases = [
        ("invalid_request", 400, ErrorCode::InvalidRequest),
        ("invalid_scope", 400, ErrorCode::InvalidScope),
        (
            "expired_login_hint_token",
            400,
            ErrorCode::ExpiredLoginHintToken,
        ),
        ("unknown_user_id", 400, ErrorCode::UnknownUserId),
        ("unauthorized_client", 400, ErrorCode::UnauthorizedClient),
        ("missing_user_code", 400, ErrorCode::MissingUserCode),
        ("invalid_user_code", 400, ErrorCode::InvalidUserCode),
        (
            "invalid_binding_message",
            400,
            ErrorCode::InvalidBindingMessage,
        ),
        ("invalid_client", 401, ErrorCode::InvalidClient),
        ("access_denied", 403, ErrorCode::AccessDenied),
    ];
    for (code, status, expected) in cases {
        let body = format!(
            r#"{{"error":"{code}","error_description":"because","error_uri":"https://op.example/e"}}"#
        );
        let e = oauth_error(&json(status, &body));
        assert_eq!(e.code, expected, "{code}");
        assert_eq!(e.status, StatusCode::from_u16(status).unwrap());
        assert_eq!(e.description.as_deref(), Some("because"));
        assert_eq!(e.uri.as_deref(), Some("https://op.example/e"));
    }
}

#[test]
fn invalid_client_keeps_its_www_authenticate_challenge() {
    let r = http::Response::builder()
        .status(401)
        .header("content-type", "application/json")
        .header("www-authenticate", r#"Basic realm="op""#)
        .body(br#"{"error":"invalid_client"}"#.to_vec())
        .unwrap();
    let e = oauth_error(&r);
    assert_eq!(e.code, ErrorCode::InvalidClient);
    assert_eq!(e.challenges.len(), 1);
    assert_eq!(e.challenges[0].scheme, "Basic");
    assert_eq!(e.challenges[0].param("realm"), Some("op"));
}

#[test]
fn server_errors_and_unknown_codes_are_oauth_errors_too() {
    let e = oauth_error(&json(500, r#"{"error":"server_error"}"#));
    assert_eq!(e.code, ErrorCode::ServerError);
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    let e = oauth_error(&json(400, r#"{"error":"invalid_id_token_hint"}"#));
    assert_eq!(e.code, ErrorCode::Other("invalid_id_token_hint".into()));
}

#[test]
fn redirects_are_refused_never_followed() {
    for status in [301, 302, 303, 307, 308] {
        let r = http::Response::builder()
            .status(status)
            .header("location", "https://evil.example/")
            .header("content-type", "application/json")
            .body(br#"{"auth_req_id":"abc","expires_in":60}"#.to_vec())
            .unwrap();
        let e = parse_error(&r);
        assert_eq!(e.kind, ParseErrorKind::UnexpectedStatus { status });
    }
}

#[test]
fn success_statuses_other_than_200_are_refused() {
    for status in [100, 201, 202, 204, 299] {
        let e = parse_error(&json(status, r#"{"auth_req_id":"abc","expires_in":60}"#));
        assert_eq!(e.kind, ParseErrorKind::UnexpectedStatus { status });
    }
}

#[test]
fn oversize_body_is_refused() {
    let limits = Limits::DEFAULT.with_max_body_bytes(16);
    let r = json(200, r#"{"auth_req_id":"abc","expires_in":60}"#);
    assert!(matches!(
        AuthRequestAck::from_response(&r, now(), &limits),
        Err(Error::Parse(ParseError {
            kind: ParseErrorKind::BodyTooLarge { .. },
            ..
        }))
    ));
}

#[test]
fn auth_req_id_debug_does_not_print_the_value() {
    let a = ack(&json(
        200,
        r#"{"auth_req_id":"short-secret","expires_in":60}"#,
    ))
    .unwrap();
    assert!(!format!("{a:?}").contains("short-secret"));
    let long = AuthReqId::new("AbCd-0123456789-0123456789-0123456789");
    let s = format!("{long:?}");
    assert!(!s.contains("0123456789"), "{s}");
}

#[test]
fn auth_req_ids_compare_by_exact_value() {
    assert_eq!(AuthReqId::new("abc"), AuthReqId::new("abc"));
    assert_ne!(AuthReqId::new("abc"), AuthReqId::new("ABC"));
    assert_ne!(AuthReqId::new("abc"), AuthReqId::new("abc "));
}

/// Found against Keycloak 26.7 (docs/interop.md): its `auth_req_id` is a JWE of more than
/// 1 KiB, and CIBA 7.3 puts no bound on the length. The default limit takes such ids whole.
#[test]
fn self_contained_auth_req_ids_of_a_few_kib_are_accepted_by_default() {
    let id = format!(
        "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0..{}",
        "Ab-_9".repeat(600)
    );
    assert!(id.len() > 3000);
    let body = format!(r#"{{"auth_req_id":"{id}","expires_in":120,"interval":5}}"#);
    let ack = AuthRequestAck::from_response(&json(200, &body), now(), &Limits::DEFAULT).unwrap();
    assert_eq!(ack.auth_req_id.as_str(), id);
}
