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

#[test]
fn hostile_acknowledgements_are_refused() {
    // CIBA Core 7.3 (auth_req_id: non-empty string; expires_in: positive integer; interval:
    // positive integer), 13 (errors), RFC 8259 (one JSON object, nothing after it). Checklist
    // C-ACK-1, C-ACK-2, C-ACK-3, C-ACK-4, C-ACK-8.
    let long_id = "a".repeat(Limits::DEFAULT.max_auth_req_id_bytes + 1);
    let deep = deeply_nested("auth_req_id", 10_000);
    let rows: &[(&str, u16, &[u8])] = &[
        ("empty body", 200, b""),
        ("not JSON", 200, b"<html>ok</html>"),
        ("array", 200, br#"[{"auth_req_id":"x","expires_in":60}]"#),
        ("string", 200, br#""auth_req_id""#),
        ("null", 200, b"null"),
        (
            "trailing garbage",
            200,
            br#"{"auth_req_id":"x","expires_in":60}x"#,
        ),
        (
            "two objects",
            200,
            br#"{"auth_req_id":"x","expires_in":60}{}"#,
        ),
        (
            "byte order mark",
            200,
            b"\xEF\xBB\xBF{\"auth_req_id\":\"x\",\"expires_in\":60}",
        ),
        (
            "invalid UTF-8",
            200,
            b"{\"auth_req_id\":\"\xFF\xFE\",\"expires_in\":60}",
        ),
        ("deep nesting", 200, deep.as_bytes()),
        ("auth_req_id missing", 200, br#"{"expires_in":60}"#),
        (
            "auth_req_id null",
            200,
            br#"{"auth_req_id":null,"expires_in":60}"#,
        ),
        (
            "auth_req_id number",
            200,
            br#"{"auth_req_id":42,"expires_in":60}"#,
        ),
        (
            "auth_req_id array",
            200,
            br#"{"auth_req_id":["x"],"expires_in":60}"#,
        ),
        (
            "auth_req_id object",
            200,
            br#"{"auth_req_id":{"id":"x"},"expires_in":60}"#,
        ),
        (
            "auth_req_id bool",
            200,
            br#"{"auth_req_id":true,"expires_in":60}"#,
        ),
        (
            "auth_req_id empty",
            200,
            br#"{"auth_req_id":"","expires_in":60}"#,
        ),
        ("expires_in missing", 200, br#"{"auth_req_id":"x"}"#),
        (
            "expires_in null",
            200,
            br#"{"auth_req_id":"x","expires_in":null}"#,
        ),
        (
            "expires_in string",
            200,
            br#"{"auth_req_id":"x","expires_in":"60"}"#,
        ),
        (
            "expires_in bool",
            200,
            br#"{"auth_req_id":"x","expires_in":true}"#,
        ),
        (
            "expires_in zero",
            200,
            br#"{"auth_req_id":"x","expires_in":0}"#,
        ),
        (
            "expires_in fraction below a second",
            200,
            br#"{"auth_req_id":"x","expires_in":0.5}"#,
        ),
        (
            "expires_in exponent",
            200,
            br#"{"auth_req_id":"x","expires_in":1e999}"#,
        ),
        (
            "interval zero",
            200,
            br#"{"auth_req_id":"x","expires_in":60,"interval":0}"#,
        ),
        (
            "interval negative",
            200,
            br#"{"auth_req_id":"x","expires_in":60,"interval":-5}"#,
        ),
        (
            "interval string",
            200,
            br#"{"auth_req_id":"x","expires_in":60,"interval":"5"}"#,
        ),
        (
            "interval null",
            200,
            br#"{"auth_req_id":"x","expires_in":60,"interval":null}"#,
        ),
        // Success only with 200 (CIBA 7.3); a redirect is never followed.
        ("status 201", 201, br#"{"auth_req_id":"x","expires_in":60}"#),
        ("status 302", 302, br#"{"auth_req_id":"x","expires_in":60}"#),
        // An error body with a 200 status is not an acknowledgement.
        ("error with 200", 200, br#"{"error":"access_denied"}"#),
    ];
    let sound = raw_json(200, br#"{"auth_req_id":"x","expires_in":60,"interval":5}"#);
    assert!(AuthRequestAck::from_response(&sound, t0(), &Limits::DEFAULT).is_ok());
    for (row, status, body) in rows {
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
    let deep = deeply_nested("access_token", 10_000);
    let rows: &[(&str, u16, &[u8])] = &[
        ("empty body", 200, b""),
        (
            "array",
            200,
            br#"[{"access_token":"a","token_type":"Bearer"}]"#,
        ),
        ("null", 200, b"null"),
        (
            "trailing garbage",
            200,
            br#"{"access_token":"a","token_type":"Bearer"},"#,
        ),
        ("deep nesting", 200, deep.as_bytes()),
        ("access_token missing", 200, br#"{"token_type":"Bearer"}"#),
        (
            "access_token empty",
            200,
            br#"{"access_token":"","token_type":"Bearer"}"#,
        ),
        (
            "access_token number",
            200,
            br#"{"access_token":1,"token_type":"Bearer"}"#,
        ),
        (
            "access_token null",
            200,
            br#"{"access_token":null,"token_type":"Bearer"}"#,
        ),
        (
            "access_token object",
            200,
            br#"{"access_token":{},"token_type":"Bearer"}"#,
        ),
        ("token_type missing", 200, br#"{"access_token":"a"}"#),
        (
            "token_type empty",
            200,
            br#"{"access_token":"a","token_type":""}"#,
        ),
        (
            "token_type unknown",
            200,
            br#"{"access_token":"a","token_type":"mac"}"#,
        ),
        (
            "token_type number",
            200,
            br#"{"access_token":"a","token_type":1}"#,
        ),
        (
            "refresh_token empty",
            200,
            br#"{"access_token":"a","token_type":"Bearer","refresh_token":""}"#,
        ),
        (
            "refresh_token number",
            200,
            br#"{"access_token":"a","token_type":"Bearer","refresh_token":7}"#,
        ),
        (
            "id_token number",
            200,
            br#"{"access_token":"a","token_type":"Bearer","id_token":7}"#,
        ),
        (
            "id_token empty",
            200,
            br#"{"access_token":"a","token_type":"Bearer","id_token":""}"#,
        ),
        (
            "scope number",
            200,
            br#"{"access_token":"a","token_type":"Bearer","scope":7}"#,
        ),
        (
            "status 201",
            201,
            br#"{"access_token":"a","token_type":"Bearer"}"#,
        ),
        (
            "status 302",
            302,
            br#"{"access_token":"a","token_type":"Bearer"}"#,
        ),
    ];
    let sound = raw_json(
        200,
        br#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#,
    );
    assert!(TokenResponse::from_response(&sound, None, &Limits::DEFAULT).is_ok());
    for (row, status, body) in rows {
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
