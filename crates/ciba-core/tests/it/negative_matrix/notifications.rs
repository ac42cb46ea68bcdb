//! Notifications to the client: bearer tricks, unknown ids, hostile push deliveries and
//! replays (CIBA 10.2, 10.3.1, 12; RFC 6750).

use super::*;

use ciba_core::Limits;

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
