//! Negative conformance matrix, client side: hostile acknowledgements, token responses, ID
//! tokens (algorithm confusion, header tricks, claim types and sizes, duplicate members),
//! notifications (bearer tricks, unknown ids, replays) and discovery documents, one row per
//! defect, each test naming the specification sections it enforces (docs/security.md maps the
//! checklist IDs to these tests). Every matrix also checks a sound input is accepted, so a
//! refusal is about the defect of its row.

use crate::support;

use ciba_core::Limits;
use ciba_core::TokenResponse;
use ciba_core::id_token::{IdTokenContext, IdTokenError};
use ciba_core::jose::jws::sign_compact;
use ciba_core::{AuthRequestAck, DeliveryMode};
use serde_json::{Map, Value, json};
use support::*;

fn validate(token: &str) -> Result<ciba_core::IdTokenClaims, IdTokenError> {
    validator(&client(DeliveryMode::Poll)).validate(token, &IdTokenContext::standalone(), t0())
}

fn signed_with_header(header: Value, claims: &Map<String, Value>) -> String {
    let Value::Object(h) = header else {
        unreachable!()
    };
    sign_compact(h, claims, &signer("es256")).unwrap()
}

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
fn id_token_header_tricks_are_ignored_or_refused() {
    let c = claims(t0());
    // (row, header members, accepted?)
    let rows: &[(&str, Value, bool)] = &[
        // OIDC Core 3.1.3.7 / RFC 7515 4.1.2: a jku is never fetched; the OP's JWKS decides.
        (
            "jku ignored",
            json!({"jku": "https://attacker.example/jwks"}),
            true,
        ),
        // RFC 7515 4.1.5: x5u is never fetched either.
        (
            "x5u ignored",
            json!({"x5u": "https://attacker.example/cert.pem"}),
            true,
        ),
        // RFC 7515 4.1.6: an x5c chain is not a trust anchor.
        ("x5c ignored", json!({"x5c": ["MIIB"]}), true),
        // RFC 7515 4.1.11: unknown critical extensions must be refused (checklist 2.7 #15).
        ("crit refused", json!({"crit": ["exp"], "exp": 1}), false),
        (
            "crit unknown",
            json!({"crit": ["urn:x"], "urn:x": true}),
            false,
        ),
        // OIDC Core 10.1: a kid naming no OP key is refused, never resolved elsewhere.
        ("unknown kid", json!({"kid": "attacker"}), false),
        ("kid path trick", json!({"kid": "../../ec-1"}), false),
    ];
    for (row, header, ok) in rows {
        let token = signed_with_header(header.clone(), &c);
        assert_eq!(
            validate(&token).is_ok(),
            *ok,
            "{row}: {:?}",
            validate(&token)
        );
    }
}

#[test]
fn id_token_claims_of_the_wrong_type_or_size_are_refused() {
    let base = claims(t0());
    // OIDC Core 2 / 3.1.3.7: claim types (checklist 2.7 #9, #10, #15).
    let rows: &[(&str, &str, Value)] = &[
        (
            "exp as string",
            "exp",
            json!((unix(t0()) + 300).to_string()),
        ),
        ("exp huge", "exp", json!(1e300)),
        ("exp negative", "exp", json!(-1)),
        ("iat as string", "iat", json!(unix(t0()).to_string())),
        ("iat huge", "iat", json!(1e300)),
        ("iat negative", "iat", json!(-1e300)),
        ("aud as number", "aud", json!(42)),
        ("aud array of numbers", "aud", json!([1, 2])),
        ("iss as number", "iss", json!(1)),
        ("sub as object", "sub", json!({"id": "alice"})),
        ("auth_time as string", "auth_time", json!("yesterday")),
        ("at_hash as number", "at_hash", json!(7)),
    ];
    assert!(validate(&sign(&base, &signer("es256"))).is_ok(), "control");
    for (row, name, value) in rows {
        let mut c = base.clone();
        c.insert((*name).into(), value.clone());
        let token = sign(&c, &signer("es256"));
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
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

#[test]
fn garbled_bearer_tokens_on_notifications_are_refused_with_401() {
    // CIBA Core 10.2 / 10.3.1 and RFC 6750 2.1: the bearer must be exactly the
    // client_notification_token bound to the auth_req_id; the scheme is case-insensitive.
    const CNT: &str = "cnt-0123456789abcdef";
    let lookup = |id: &str| (id == AUTH_REQ_ID).then(|| CNT.to_owned());
    let rows: &[(&str, Option<&str>, u16)] = &[
        ("exact", Some("Bearer cnt-0123456789abcdef"), 204),
        ("lowercase scheme", Some("bearer cnt-0123456789abcdef"), 204),
        ("uppercase scheme", Some("BEARER cnt-0123456789abcdef"), 204),
        ("missing header", None, 401),
        ("empty", Some(""), 401),
        ("scheme only", Some("Bearer"), 401),
        ("basic scheme", Some("Basic cnt-0123456789abcdef"), 401),
        // RFC 6750 2.1: `"Bearer" 1*SP b64token` allows several spaces.
        ("two spaces", Some("Bearer  cnt-0123456789abcdef"), 204),
        // RFC 9110 5.5: trailing whitespace is not part of a field value.
        (
            "trailing spaces",
            Some("Bearer cnt-0123456789abcdef  "),
            204,
        ),
        ("prefix of token", Some("Bearer cnt-0123456789abcde"), 401),
        (
            "token plus suffix",
            Some("Bearer cnt-0123456789abcdefX"),
            401,
        ),
        ("non-ascii", Some("Bearer cnt-0123456789abcdéf"), 401),
    ];
    for (row, auth, status) in rows {
        let mut b = http::Request::post("https://client.example/cb")
            .header("content-type", "application/json");
        if let Some(a) = auth {
            b = b.header("authorization", *a);
        }
        let req = b
            .body(json!({"auth_req_id": AUTH_REQ_ID}).to_string().into_bytes())
            .unwrap();
        let out = ciba_core::notification::receive_ping(&req, &lookup, &Limits::DEFAULT);
        assert_eq!(out.response.status(), *status, "{row}");
    }
    // Unknown auth_req_id with a well-formed bearer: 401, never a token call (C-PING-8).
    let req = http::Request::post("https://client.example/cb")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CNT}"))
        .body(json!({"auth_req_id": "unknown"}).to_string().into_bytes())
        .unwrap();
    let out = ciba_core::notification::receive_ping(&req, &lookup, &Limits::DEFAULT);
    assert_eq!(out.response.status(), 401);
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

#[test]
fn alg_confusion_with_the_op_public_key_as_hmac_secret_is_refused() {
    // RFC 8725 2.1 / 3.1 and OIDC Core 3.1.3.7 steps 7 and 8 (checklist 2.7 #7, #8): an
    // RS256 key of the OP must never verify an HS* token, whatever form of the public key the
    // attacker uses as the HMAC secret and whatever kid it names.
    use ciba_core::jose::{AlgorithmPolicy, HmacSigner, JwsAlgorithm};
    use ciba_core::{ClientSecret, jose::Signer};
    let public = key("rs256").to_public();
    let n_text = public.n.clone().unwrap();
    let n_bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&n_text)
            .unwrap()
    };
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("public JWK as JSON", serde_json::to_vec(&public).unwrap()),
        ("n as base64url text", n_text.clone().into_bytes()),
        ("n as bytes", n_bytes),
        ("JWK Set as JSON", serde_json::to_vec(&op_jwks()).unwrap()),
    ];
    let client_secret = ClientSecret::new("the-real-client-secret-of-32-bytes!!");
    let validators = [
        ("default", validator(&client(DeliveryMode::Poll))),
        (
            "registered RS256",
            validator(&client(DeliveryMode::Poll)).registered_alg(JwsAlgorithm::RS256),
        ),
        (
            "every algorithm listed",
            validator(&client(DeliveryMode::Poll))
                .algorithms(AlgorithmPolicy::only(JwsAlgorithm::ALL)),
        ),
        (
            "HS256 registered with the client secret",
            validator(&client(DeliveryMode::Poll))
                .registered_alg(JwsAlgorithm::HS256)
                .hmac_secret(client_secret.clone()),
        ),
    ];
    // Control: an HS256 token over the registered client secret is accepted by the validator
    // that registered it, so the refusals below are about the key, not the construction.
    let genuine = sign(
        &claims(t0()),
        &HmacSigner::new(JwsAlgorithm::HS256, client_secret.expose().as_bytes()).unwrap(),
    );
    assert!(
        validators[3]
            .1
            .validate(&genuine, &IdTokenContext::standalone(), t0())
            .is_ok()
    );
    for (form, secret) in &secrets {
        for alg in [
            JwsAlgorithm::HS256,
            JwsAlgorithm::HS384,
            JwsAlgorithm::HS512,
        ] {
            let hmac = HmacSigner::new(alg, secret).unwrap();
            for kid in [json!("rsa-1"), Value::Null] {
                let mut header = Map::new();
                if !kid.is_null() {
                    header.insert("kid".into(), kid.clone());
                }
                let forged = sign_compact(header, &claims(t0()), &hmac).unwrap();
                for (name, v) in &validators {
                    let r = v.validate(&forged, &IdTokenContext::standalone(), t0());
                    assert!(
                        r.is_err(),
                        "{} with {form} (kid {kid}) accepted by the {name} validator",
                        hmac.algorithm().as_str()
                    );
                }
            }
        }
    }
}

#[test]
fn id_tokens_signed_by_a_key_the_header_supplies_are_refused() {
    // RFC 7515 4.1.3-4.1.6 and OIDC Core 10.1 (checklist 2.7 #6, #7): the verification key
    // comes only from the OP's JWK Set; a jwk, jku, x5u or x5c header naming the attacker's
    // key changes nothing, and a kid never resolves outside the set.
    let attacker = key("attacker_rs256");
    let attacker_signer = ciba_core::jose::JwkSigner::from_jwk(&attacker, None).unwrap();
    let attacker_jwk = serde_json::to_value(attacker.to_public()).unwrap();
    let c = claims(t0());
    let rows: &[(&str, Value)] = &[
        ("embedded jwk", json!({"jwk": attacker_jwk})),
        (
            "embedded jwk, no kid",
            json!({"jwk": attacker_jwk, "kid": Value::Null}),
        ),
        (
            "jku to the attacker's set",
            json!({"jku": "https://attacker.example/jwks"}),
        ),
        (
            "x5u to the attacker's certificate",
            json!({"x5u": "https://attacker.example/cert.pem"}),
        ),
        ("x5c chain", json!({"x5c": ["MIIBattacker"]})),
        // The OP's RS256 kid with the attacker's key: the OP's key decides, and fails.
        ("OP kid", json!({"kid": "rsa-1"})),
        ("kid of another OP key", json!({"kid": "ec-1"})),
        ("empty kid", json!({"kid": ""})),
        ("kid as number", json!({"kid": 1})),
        ("kid as array", json!({"kid": ["rsa-1"]})),
        (
            "kid with a URL",
            json!({"kid": "https://attacker.example/jwks#rsa-1"}),
        ),
        ("kid with NUL", json!({"kid": "rsa-1\u{0}"})),
    ];
    for (row, header) in rows {
        let Value::Object(mut h) = header.clone() else {
            unreachable!()
        };
        h.retain(|_, v| !v.is_null());
        let token = sign_compact(h, &c, &attacker_signer).unwrap();
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
    // The same tricks on a token the OP did sign: the header is ignored (and a kid naming
    // another OP key of another algorithm is refused, never tried with the wrong key).
    let ok_rows: &[(&str, Value, bool)] = &[
        (
            "embedded jwk of the attacker",
            json!({"jwk": attacker_jwk}),
            true,
        ),
        ("jku", json!({"jku": "https://attacker.example/jwks"}), true),
        (
            "kid of the OP's RSA key on an ES256 token",
            json!({"kid": "rsa-1"}),
            false,
        ),
    ];
    for (row, header, ok) in ok_rows {
        let token = signed_with_header(header.clone(), &c);
        assert_eq!(
            validate(&token).is_ok(),
            *ok,
            "{row}: {:?}",
            validate(&token)
        );
    }
}

#[test]
fn alg_header_tricks_are_refused() {
    // RFC 7515 4.1.1 (alg is case-sensitive), RFC 8725 3.1/3.2, OIDC Core 3.1.3.7 step 7
    // (checklist 2.7 #7, #15): none in any spelling, unknown or mistyped algorithms, crit
    // extensions (even empty), and duplicate header members are refused.
    use base64::Engine as _;
    use ciba_core::jose::Signer as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(serde_json::to_vec(&claims(t0())).unwrap());
    let es = signer("es256");
    let rows: &[(&str, &str)] = &[
        ("none", r#"{"alg":"none"}"#),
        ("None", r#"{"alg":"None"}"#),
        ("NONE", r#"{"alg":"NONE"}"#),
        ("lowercase es256", r#"{"alg":"es256","kid":"ec-1"}"#),
        ("alg missing", r#"{"kid":"ec-1"}"#),
        ("alg null", r#"{"alg":null,"kid":"ec-1"}"#),
        ("alg array", r#"{"alg":["ES256"],"kid":"ec-1"}"#),
        ("alg unknown", r#"{"alg":"ES256K","kid":"ec-1"}"#),
        (
            "duplicate alg",
            r#"{"alg":"ES256","alg":"none","kid":"ec-1"}"#,
        ),
        (
            "duplicate alg, none first",
            r#"{"alg":"none","alg":"ES256","kid":"ec-1"}"#,
        ),
        (
            "duplicate kid",
            r#"{"alg":"ES256","kid":"ec-1","kid":"rsa-1"}"#,
        ),
        ("empty crit", r#"{"alg":"ES256","kid":"ec-1","crit":[]}"#),
        (
            "crit b64",
            r#"{"alg":"ES256","kid":"ec-1","crit":["b64"],"b64":false}"#,
        ),
        ("header not an object", r#"["ES256"]"#),
    ];
    // Control: the same construction with a sound header is accepted.
    let input = format!(
        "{}.{payload}",
        b64.encode(r#"{"alg":"ES256","kid":"ec-1"}"#)
    );
    let sig = es.sign(input.as_bytes()).unwrap();
    assert!(validate(&format!("{input}.{}", b64.encode(sig))).is_ok());
    for (row, header) in rows {
        let input = format!("{}.{payload}", b64.encode(header));
        let sig = es.sign(input.as_bytes()).unwrap();
        let token = format!("{input}.{}", b64.encode(sig));
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
}

#[test]
fn huge_numbers_in_id_token_claims_are_refused_without_overflow() {
    // RFC 7519 2 (NumericDate), OIDC Core 3.1.3.7 steps 9, 10, 13 (checklist 2.7 #9, #10,
    // #13): values beyond any clock are refused (or, for a far-future exp, bounded by the
    // iat window), never wrapped into the past.
    let base = claims(t0());
    let rows: &[(&str, &str, Value)] = &[
        ("iat u64::MAX", "iat", json!(u64::MAX)),
        ("iat i64::MAX", "iat", json!(i64::MAX)),
        ("iat i64::MIN", "iat", json!(i64::MIN)),
        ("exp i64::MIN", "exp", json!(i64::MIN)),
        ("exp 2^64", "exp", json!(18_446_744_073_709_551_616.0_f64)),
        ("nbf u64::MAX", "nbf", json!(u64::MAX)),
        ("nbf 1e300", "nbf", json!(1e300)),
        ("auth_time 1e300", "auth_time", json!(1e300)),
        ("auth_time u64::MAX", "auth_time", json!(u64::MAX)),
        ("exp as bool", "exp", json!(true)),
        ("exp as null", "exp", Value::Null),
        ("iat as array", "iat", json!([unix(t0())])),
        ("nbf as string", "nbf", json!("0")),
        ("azp as number", "azp", json!(1)),
        ("acr as number", "acr", json!(1)),
        (
            "auth_req_id claim as number",
            ciba_core::id_token::AUTH_REQ_ID_CLAIM,
            json!(1),
        ),
        (
            "rt_hash as number",
            ciba_core::id_token::RT_HASH_CLAIM,
            json!(1),
        ),
    ];
    assert!(validate(&sign(&base, &signer("es256"))).is_ok(), "control");
    for (row, name, value) in rows {
        let mut c = base.clone();
        c.insert((*name).into(), value.clone());
        let token = sign(&c, &signer("es256"));
        assert!(validate(&token).is_err(), "{row} was accepted");
    }
}

#[test]
fn hostile_push_deliveries_are_refused() {
    // CIBA Core 10.3.1 (bearer bound to the auth_req_id, full ID token validation), 12
    // (error payloads), RFC 6750 3.1 (401 invalid_token). Checklist C-PUSH-2, C-PUSH-3,
    // C-PUSH-4, C-PUSH-9.
    use std::collections::HashMap;
    use std::sync::Mutex;
    const CNT: &str = "cnt-push-0123456789abcdef";
    let pending = Mutex::new(HashMap::from([
        (AUTH_REQ_ID.to_owned(), CNT.to_owned()),
        ("other-request".to_owned(), "other-token".to_owned()),
    ]));
    let lookup = |id: &str| pending.lock().unwrap().get(id).cloned();
    let v = validator(&client(DeliveryMode::Push));
    let push = |auth: Option<&str>, body: &[u8]| {
        let mut b = http::Request::post("https://client.example/cb")
            .header("content-type", "application/json");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let req = b.body(body.to_vec()).unwrap();
        ciba_core::notification::receive_push(&req, &lookup, &v, t0(), &Limits::DEFAULT)
    };
    let tokens = |id: &str| {
        json!({
            "auth_req_id": id,
            "access_token": "at-123",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": "rt-456",
            "id_token": id_token_for(t0(), "at-123", Some("rt-456")),
        })
        .to_string()
        .into_bytes()
    };
    let good = tokens(AUTH_REQ_ID);
    let bearer = format!("Bearer {CNT}");
    let rows: &[(&str, Option<&str>, Vec<u8>, u16)] = &[
        ("missing bearer", None, good.clone(), 401),
        ("empty authorization", Some(""), good.clone(), 401),
        ("basic scheme", Some("Basic Y250LXB1c2g="), good.clone(), 401),
        ("wrong token", Some("Bearer cnt-push-0123456789abcdeX"), good.clone(), 401),
        ("token prefix", Some("Bearer cnt-push"), good.clone(), 401),
        ("token of another request", Some("Bearer other-token"), good.clone(), 401),
        ("unknown auth_req_id", Some(&bearer), tokens("unknown-request"), 401),
        // The ID token is bound to AUTH_REQ_ID: another request's tokens do not fit.
        ("another request's body", Some("Bearer other-token"), {
            let mut b: Value = serde_json::from_slice(&good).unwrap();
            b["auth_req_id"] = json!("other-request");
            b.to_string().into_bytes()
        }, 400),
        ("auth_req_id number", Some(&bearer), br#"{"auth_req_id":1,"error":"access_denied"}"#.to_vec(), 400),
        (
            "duplicate auth_req_id",
            Some(&bearer),
            format!(r#"{{"auth_req_id":"other-request","auth_req_id":"{AUTH_REQ_ID}","error":"access_denied"}}"#).into_bytes(),
            400,
        ),
        ("not JSON", Some(&bearer), b"auth_req_id=x".to_vec(), 400),
        ("unsigned ID token", Some(&bearer), {
            let mut b: Value = serde_json::from_slice(&good).unwrap();
            let id_token = b["id_token"].as_str().unwrap().to_owned();
            let (input, _) = id_token.rsplit_once('.').unwrap();
            b["id_token"] = json!(format!("{input}."));
            b.to_string().into_bytes()
        }, 400),
        ("tokens and an error", Some(&bearer), {
            let mut b: Value = serde_json::from_slice(&good).unwrap();
            b["error"] = json!("access_denied");
            b.to_string().into_bytes()
        }, 400),
    ];
    for (row, auth, body, status) in rows {
        let out = push(*auth, body);
        assert_eq!(out.response.status(), *status, "{row}: {:?}", out.result);
        assert!(out.result.is_err(), "{row} was accepted");
    }
    // The genuine delivery is accepted once; the caller then removes the binding (the
    // contract of NotificationTokens), and every replay gets 401.
    assert_eq!(push(Some(&bearer), &good).response.status(), 204);
    pending.lock().unwrap().remove(AUTH_REQ_ID);
    let error_replay =
        format!(r#"{{"auth_req_id":"{AUTH_REQ_ID}","error":"access_denied"}}"#).into_bytes();
    for replay in [&good, &error_replay] {
        assert_eq!(push(Some(&bearer), replay).response.status(), 401);
    }
}

#[test]
fn plain_http_and_userinfo_endpoints_in_metadata_are_refused() {
    // CIBA Core 7 / 7.1 (the request goes over TLS), RFC 9700 4.1 and RFC 3986 3.2.1
    // (no credentials in URLs): a hostile or mistaken discovery document cannot make the
    // client send its secret in clear or to a URL with userinfo. Checklist C-REQ-1.
    use ciba_core::{Client, ClientAuth, ClientConfig, ClientSecret, ServerMetadata};
    let accepts = |member: &str, value: &str| {
        let mut doc = json!({
            "issuer": ISSUER,
            "token_endpoint": TOKEN_ENDPOINT,
            "jwks_uri": "https://op.example/jwks",
            "backchannel_authentication_endpoint": "https://op.example/bc",
            "backchannel_token_delivery_modes_supported": ["poll"],
            "grant_types_supported": ["urn:openid:params:grant-type:ciba"],
        });
        doc[member] = json!(value);
        let Ok(metadata) =
            ServerMetadata::from_json(doc.to_string().as_bytes(), ISSUER, &Limits::DEFAULT)
        else {
            return false;
        };
        let auth = ClientAuth::SecretPost(ClientSecret::new("s3cret"));
        Client::new(
            ClientConfig::new(CLIENT_ID, auth, DeliveryMode::Poll),
            metadata,
        )
        .is_ok()
    };
    // Control: the sound document is accepted.
    assert!(accepts("token_endpoint", TOKEN_ENDPOINT));
    let bc = "backchannel_authentication_endpoint";
    for (row, member, value) in [
        ("http backchannel", bc, "http://op.example/bc"),
        ("http token", "token_endpoint", "http://op.example/token"),
        (
            "http loopback token",
            "token_endpoint",
            "http://127.0.0.1/token",
        ),
        ("userinfo backchannel", bc, "https://u:p@op.example/bc"),
        (
            "userinfo token",
            "token_endpoint",
            "https://u:p@op.example/token",
        ),
        (
            "fragment token",
            "token_endpoint",
            "https://op.example/token#x",
        ),
        ("not a URL", bc, "op.example/bc"),
    ] {
        assert!(!accepts(member, value), "{row} was accepted");
    }
}

#[test]
fn client_configurations_the_op_cannot_serve_are_refused() {
    // CIBA Core 4 (checklist C-MD-1, C-MD-2, S-MD-1, S-MD-2): the client registers one
    // delivery mode that the OP must advertise; the OP must publish a backchannel endpoint
    // (and a token endpoint for poll and ping); ping and push clients need an https
    // notification endpoint.
    use ciba_core::{Client, ClientAuth, ClientConfig, ClientSecret, ServerMetadata};
    let sound = metadata_document();
    let accepts = |doc: &Value, mode: DeliveryMode, endpoint: Option<&str>| {
        let Ok(metadata) =
            ServerMetadata::from_json(doc.to_string().as_bytes(), ISSUER, &Limits::DEFAULT)
        else {
            return false;
        };
        let auth = ClientAuth::SecretBasic(ClientSecret::new("s3cret"));
        let mut config = ClientConfig::new(CLIENT_ID, auth, mode);
        config.notification_endpoint = endpoint.map(str::to_owned);
        Client::new(config, metadata).is_ok()
    };
    let without = |member: &str| {
        let mut doc = sound.clone();
        doc.as_object_mut().unwrap().remove(member);
        doc
    };
    let with = |member: &str, value: Value| {
        let mut doc = sound.clone();
        doc[member] = value;
        doc
    };
    let cb = Some("https://rp.example/cb");
    // Controls: every mode is served by the sound document; push needs no token endpoint.
    assert!(accepts(&sound, DeliveryMode::Poll, None));
    assert!(accepts(&sound, DeliveryMode::Ping, cb));
    assert!(accepts(&sound, DeliveryMode::Push, cb));
    assert!(accepts(&without("token_endpoint"), DeliveryMode::Push, cb));
    let modes = "backchannel_token_delivery_modes_supported";
    let rows: Vec<(&str, Value, DeliveryMode, Option<&str>)> = vec![
        (
            "no backchannel endpoint",
            without("backchannel_authentication_endpoint"),
            DeliveryMode::Poll,
            None,
        ),
        (
            "no delivery modes",
            without(modes),
            DeliveryMode::Poll,
            None,
        ),
        (
            "poll not offered",
            with(modes, json!(["ping", "push"])),
            DeliveryMode::Poll,
            None,
        ),
        (
            "push not offered",
            with(modes, json!(["poll"])),
            DeliveryMode::Push,
            cb,
        ),
        (
            "modes not an array",
            with(modes, json!("poll")),
            DeliveryMode::Poll,
            None,
        ),
        (
            "poll without a token endpoint",
            without("token_endpoint"),
            DeliveryMode::Poll,
            None,
        ),
        (
            "ping without a token endpoint",
            without("token_endpoint"),
            DeliveryMode::Ping,
            cb,
        ),
        (
            "ping without a notification endpoint",
            sound.clone(),
            DeliveryMode::Ping,
            None,
        ),
        (
            "push without a notification endpoint",
            sound.clone(),
            DeliveryMode::Push,
            None,
        ),
        (
            "http notification endpoint",
            sound.clone(),
            DeliveryMode::Ping,
            Some("http://rp.example/cb"),
        ),
        (
            "notification endpoint not a URL",
            sound.clone(),
            DeliveryMode::Push,
            Some("rp.example/cb"),
        ),
    ];
    for (row, doc, mode, endpoint) in rows {
        assert!(!accepts(&doc, mode, endpoint), "{row} was accepted");
    }
}
