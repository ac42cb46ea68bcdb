//! Acknowledgements and token responses: hostile JSON, members of the wrong type, huge
//! numbers, duplicate members (CIBA 7.3, 10.1.1; RFC 6749 5.1; RFC 8259).

use super::*;

use ciba_core::Limits;
use ciba_core::{AuthRequestAck, TokenResponse};

/// Builds a compact JWS whose payload is the given raw JSON text (to smuggle duplicate
/// members past serde_json's map), signed with the OP key.
fn signed_raw_payload(payload: &str) -> String {
    use base64::Engine as _;
    use ciba_core::jose::Signer as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}).to_string();
    let input = format!("{}.{}", b64.encode(header), b64.encode(payload));
    let sig = signer("es256").sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64.encode(sig))
}

#[test]
fn duplicate_json_members_are_refused_everywhere() {
    // RFC 8259 4 / RFC 7515 5.2 step 4: duplicate member names are refused (never
    // "last one wins"), in ID token payloads, token responses and acknowledgements.
    let exp = unix(t0()) + 300;
    let iat = unix(t0());
    let payload = format!(
        r#"{{"iss":"{ISSUER}","sub":"alice","sub":"mallory","aud":"{CLIENT_ID}","exp":{exp},"iat":{iat}}}"#
    );
    assert!(validate(&signed_raw_payload(&payload)).is_err());
    // The same payload without the duplicate is accepted (the row tests only duplication).
    let single = format!(
        r#"{{"iss":"{ISSUER}","sub":"alice","aud":"{CLIENT_ID}","exp":{exp},"iat":{iat}}}"#
    );
    assert!(validate(&signed_raw_payload(&single)).is_ok());

    let raw = |status: u16, body: &str| {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    let tr = raw(
        200,
        r#"{"access_token":"a","access_token":"b","token_type":"Bearer"}"#,
    );
    assert!(TokenResponse::from_response(&tr, None, &Limits::DEFAULT).is_err());
    let ack = raw(
        200,
        r#"{"auth_req_id":"a","auth_req_id":"b","expires_in":60}"#,
    );
    assert!(AuthRequestAck::from_response(&ack, t0(), &Limits::DEFAULT).is_err());
}

#[test]
fn huge_numbers_in_lifetimes_and_intervals_are_capped_or_refused_without_overflow() {
    // CIBA Core 7.3 (expires_in, interval: positive numbers of seconds) and OIDC Core 3.1.3.3.
    let rows: &[(&str, Value)] = &[
        (
            "expires_in -1",
            json!({"auth_req_id": "x", "expires_in": -1}),
        ),
        (
            "expires_in -1e300",
            json!({"auth_req_id": "x", "expires_in": -1e300}),
        ),
        (
            "interval 0.5",
            json!({"auth_req_id": "x", "expires_in": 60, "interval": 0.5}),
        ),
    ];
    for (row, body) in rows {
        let r = AuthRequestAck::from_response(&json_response(200, body), t0(), &Limits::DEFAULT);
        assert!(r.is_err(), "{row} was accepted: {r:?}");
    }
    // An absurd lifetime is capped locally (Limits::max_ack_expires_in, one day).
    for huge in [json!(1e300), json!(u64::MAX)] {
        let body = json!({"auth_req_id": "x", "expires_in": huge});
        let ack = AuthRequestAck::from_response(&json_response(200, &body), t0(), &Limits::DEFAULT)
            .unwrap();
        assert_eq!(ack.expires_at, at(86_400), "{huge}");
    }
    // An interval beyond the lifetime is legal but useless: it is kept without overflow and
    // the request simply expires before the first poll.
    for huge in [json!(u64::MAX), json!(1e300)] {
        let body = json!({"auth_req_id": "x", "expires_in": 60, "interval": huge});
        let ack = AuthRequestAck::from_response(&json_response(200, &body), t0(), &Limits::DEFAULT)
            .unwrap();
        assert_eq!(ack.expires_at, at(60));
    }
    // A token response keeps its tokens: an unusable expires_in reads as absent.
    for (row, v) in [
        ("1e300", json!(1e300)),
        ("-5", json!(-5)),
        ("string", json!("60")),
    ] {
        let body = json!({"access_token": "a", "token_type": "Bearer", "expires_in": v});
        let r = TokenResponse::from_response(&json_response(200, &body), None, &Limits::DEFAULT)
            .unwrap();
        assert_eq!(r.expires_in, None, "token response expires_in {row}");
    }
}

/// A response with `body` as it is, and a JSON content type.
fn raw_json(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap()
}

/// JSON nested `depth` arrays deep: a stack-exhaustion attempt.
fn deeply_nested(member: &str, depth: usize) -> String {
    format!(
        r#"{{"{member}":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// A row: its name, the HTTP status and the body.
type Row = (String, u16, Vec<u8>);

/// A JSON object written member by member as raw text: each value is JSON text, so a number
/// such as `1e999` reaches the parser as written.
fn object(members: &[(&str, &str)]) -> Vec<u8> {
    let members: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!("{{{}}}", members.join(",")).into_bytes()
}

/// The row builder of one member: a row per `(what, value)`, named `"{member} {what}"`, whose
/// body is `sound` with `member` set to the raw JSON `value` (added at the end when `sound`
/// lacks it), or without `member` where `value` is `None`.
fn member_rows(sound: &[(&str, &str)], member: &str, cases: &[(&str, Option<&str>)]) -> Vec<Row> {
    cases
        .iter()
        .map(|(what, value)| {
            let mut members: Vec<(&str, &str)> = sound
                .iter()
                .copied()
                .filter(|(k, _)| *k != member)
                .collect();
            if let Some(value) = value {
                match sound.iter().position(|(k, _)| *k == member) {
                    Some(at) => members.insert(at, (member, value)),
                    None => members.push((member, value)),
                }
            }
            (format!("{member} {what}"), 200, object(&members))
        })
        .collect()
}

/// The rows every JSON response parser must refuse whatever its members: bodies that are not
/// one JSON object (RFC 8259), a sound body with something after it, nesting meant to
/// exhaust the stack under `member`, and the sound body with a status other than 200.
fn not_one_object_rows(sound: &[(&str, &str)], member: &str) -> Vec<Row> {
    let sound = object(sound);
    let around = |before: &[u8], after: &[u8]| [before, &sound, after].concat();
    let mut rows: Vec<Row> = [
        ("empty body", Vec::new()),
        ("not JSON", b"<html>ok</html>".to_vec()),
        ("array", around(b"[", b"]")),
        ("string", br#""auth_req_id""#.to_vec()),
        ("null", b"null".to_vec()),
        ("trailing garbage", around(b"", b"x")),
        ("trailing comma", around(b"", b",")),
        ("two objects", around(b"", b"{}")),
        ("byte order mark", around(b"\xEF\xBB\xBF", b"")),
        ("deep nesting", deeply_nested(member, 10_000).into_bytes()),
    ]
    .into_iter()
    .map(|(name, body)| (name.to_owned(), 200, body))
    .collect();
    // Success only with 200 (CIBA 7.3, RFC 6749 5.1); a redirect is never followed.
    for status in [201, 302] {
        rows.push((format!("status {status}"), status, sound.clone()));
    }
    rows
}

#[test]
fn hostile_acknowledgements_are_refused() {
    // CIBA Core 7.3 (auth_req_id: non-empty string; expires_in: positive integer; interval:
    // positive integer), 13 (errors), RFC 8259 (one JSON object, nothing after it). Checklist
    // C-ACK-1, C-ACK-2, C-ACK-3, C-ACK-4, C-ACK-8.
    let long_id = "a".repeat(Limits::DEFAULT.max_auth_req_id_bytes + 1);
    let ack = [("auth_req_id", r#""x""#), ("expires_in", "60")];
    let mut rows = not_one_object_rows(&ack, "auth_req_id");
    rows.extend(member_rows(
        &ack,
        "auth_req_id",
        &[
            ("missing", None),
            ("null", Some("null")),
            ("number", Some("42")),
            ("array", Some(r#"["x"]"#)),
            ("object", Some(r#"{"id":"x"}"#)),
            ("bool", Some("true")),
            ("empty", Some(r#""""#)),
        ],
    ));
    rows.extend(member_rows(
        &ack,
        "expires_in",
        &[
            ("missing", None),
            ("null", Some("null")),
            ("string", Some(r#""60""#)),
            ("bool", Some("true")),
            ("zero", Some("0")),
            ("fraction below a second", Some("0.5")),
            ("exponent", Some("1e999")),
        ],
    ));
    rows.extend(member_rows(
        &ack,
        "interval",
        &[
            ("zero", Some("0")),
            ("negative", Some("-5")),
            ("string", Some(r#""5""#)),
            ("null", Some("null")),
        ],
    ));
    rows.push((
        "invalid UTF-8".into(),
        200,
        b"{\"auth_req_id\":\"\xFF\xFE\",\"expires_in\":60}".to_vec(),
    ));
    // An error body with a 200 status is not an acknowledgement.
    rows.push((
        "error with 200".into(),
        200,
        br#"{"error":"access_denied"}"#.to_vec(),
    ));
    let sound = raw_json(200, br#"{"auth_req_id":"x","expires_in":60,"interval":5}"#);
    assert!(AuthRequestAck::from_response(&sound, t0(), &Limits::DEFAULT).is_ok());
    for (row, status, body) in &rows {
        let r = AuthRequestAck::from_response(&raw_json(*status, body), t0(), &Limits::DEFAULT);
        assert!(r.is_err(), "{row} was accepted: {r:?}");
    }
    let too_long = json!({"auth_req_id": long_id, "expires_in": 60});
    let r = AuthRequestAck::from_response(&json_response(200, &too_long), t0(), &Limits::DEFAULT);
    assert!(r.is_err(), "an auth_req_id over the limit was accepted");
    // A body over the size limit is refused before it is parsed.
    let limits = Limits::DEFAULT.with_max_body_bytes(64);
    let big = json!({"auth_req_id": "x", "expires_in": 60, "pad": "p".repeat(100)});
    assert!(AuthRequestAck::from_response(&json_response(200, &big), t0(), &limits).is_err());
    // Wrong media types (CIBA 7.3: application/json).
    for ct in [
        "text/html",
        "application/x-www-form-urlencoded",
        "application/jsonx",
    ] {
        let resp = http::Response::builder()
            .status(200)
            .header("content-type", ct)
            .body(br#"{"auth_req_id":"x","expires_in":60}"#.to_vec())
            .unwrap();
        assert!(
            AuthRequestAck::from_response(&resp, t0(), &Limits::DEFAULT).is_err(),
            "content type {ct} was accepted"
        );
    }
}

#[test]
fn hostile_token_responses_are_refused() {
    // OIDC Core 3.1.3.3 / RFC 6749 5.1 (access_token and token_type REQUIRED strings,
    // expires_in a positive number), CIBA 10.1.1 and RFC 9449 7.1 (token_type matching the
    // proof). Checklist C-TOK-14, C-TOK-15.
    let tokens = [("access_token", r#""a""#), ("token_type", r#""Bearer""#)];
    let mut rows = not_one_object_rows(&tokens, "access_token");
    let absent_empty_number = [
        ("missing", None),
        ("empty", Some(r#""""#)),
        ("number", Some("1")),
    ];
    rows.extend(member_rows(&tokens, "access_token", &absent_empty_number));
    rows.extend(member_rows(
        &tokens,
        "access_token",
        &[("null", Some("null")), ("object", Some("{}"))],
    ));
    rows.extend(member_rows(&tokens, "token_type", &absent_empty_number));
    rows.extend(member_rows(
        &tokens,
        "token_type",
        &[("unknown", Some(r#""mac""#))],
    ));
    for optional in ["refresh_token", "id_token"] {
        rows.extend(member_rows(
            &tokens,
            optional,
            &[("empty", Some(r#""""#)), ("number", Some("7"))],
        ));
    }
    rows.extend(member_rows(&tokens, "scope", &[("number", Some("7"))]));
    let sound = raw_json(
        200,
        br#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#,
    );
    assert!(TokenResponse::from_response(&sound, None, &Limits::DEFAULT).is_ok());
    for (row, status, body) in &rows {
        let r = TokenResponse::from_response(&raw_json(*status, body), None, &Limits::DEFAULT);
        assert!(r.is_err(), "{row} was accepted: {r:?}");
    }
    // A Bearer token in answer to a DPoP-bound request, and the reverse (RFC 9449 7.1).
    let bearer = raw_json(200, br#"{"access_token":"a","token_type":"Bearer"}"#);
    let dpop = raw_json(200, br#"{"access_token":"a","token_type":"DPoP"}"#);
    use ciba_core::TokenType;
    assert!(
        TokenResponse::from_response(&bearer, Some(TokenType::DPoP), &Limits::DEFAULT).is_err()
    );
    assert!(
        TokenResponse::from_response(&dpop, Some(TokenType::Bearer), &Limits::DEFAULT).is_err()
    );
    // A response without an ID token cannot complete a CIBA flow (CIBA 10.1.1).
    let tokens =
        TokenResponse::from_response(&bearer, None, &Limits::DEFAULT).expect("well-formed");
    let v = validator(&client(DeliveryMode::Poll));
    let ctx = IdTokenContext::standalone();
    assert!(matches!(
        tokens.validate(&v, &ctx, t0()),
        Err(IdTokenError::Missing)
    ));
}
