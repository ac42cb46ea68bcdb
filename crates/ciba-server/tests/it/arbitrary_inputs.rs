//! Arbitrary bodies and headers never panic the endpoints, and every refusal is a
//! well-formed OAuth error response.

use crate::common;

use std::sync::LazyLock;

use ciba_core::wire::encode_form;
use ciba_core::wire::is_valid_error_text;
use ciba_server::{BackchannelOutcome, TokenOutcome};
use common::*;
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

static H: LazyLock<Harness> = LazyLock::new(Harness::new);

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "scope",
            "login_hint",
            "id_token_hint",
            "login_hint_token",
            "client_notification_token",
            "binding_message",
            "user_code",
            "requested_expiry",
            "acr_values",
            "request",
            "request_uri",
            "client_id",
            "client_secret",
            "client_assertion",
            "client_assertion_type",
            "grant_type",
            "auth_req_id",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "openid",
            "openid email",
            "alice@example.com",
            CNT,
            POLL,
            PING,
            PING_SECRET,
            "urn:openid:params:grant-type:ciba",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "0",
            "120",
            "-5",
        ])
        .prop_map(str::to_owned),
        "[A-Za-z0-9_-]{1,24}\\.[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{0,24}",
        ".{0,40}",
        "[\\x00-\\x7f]{0,20}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec((name(), value()), 0..12)
            .prop_map(|pairs| { encode_form(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) }),
        prop::collection::vec(any::<u8>(), 0..300),
        "[a-z=&%+0-9]{0,200}".prop_map(String::into_bytes),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"application/x-www-form-urlencoded".to_vec()),
        Just(b"application/x-www-form-urlencoded; charset=utf-8".to_vec()),
        Just(b"application/json".to_vec()),
        Just(basic_header(POLL, POLL_SECRET).as_bytes().to_vec()),
        Just(basic_header(PING, "wrong").as_bytes().to_vec()),
        "Basic [A-Za-z0-9+/=]{0,40}".prop_map(String::into_bytes),
        "(Bearer|DPoP|basic) [ -~]{0,40}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..60),
    ]
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    (
        prop::option::of(header_value()),
        prop::option::of(header_value()),
        prop::option::of(header_value()),
    )
        .prop_map(|(ct, auth, extra)| {
            let mut h = HeaderMap::new();
            if let Some(Ok(v)) = ct.map(|b| HeaderValue::from_bytes(&b)) {
                h.insert("content-type", v);
            }
            if let Some(Ok(v)) = auth.map(|b| HeaderValue::from_bytes(&b)) {
                h.insert("authorization", v);
            }
            if let Some(Ok(v)) = extra.map(|b| HeaderValue::from_bytes(&b)) {
                h.append("authorization", v);
            }
            h
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        8 => Just(Method::POST),
        1 => Just(Method::GET),
        1 => Just(Method::PUT),
    ]
}

fn check_rejection(resp: &http::Response<Vec<u8>>) -> Result<(), TestCaseError> {
    prop_assert!(matches!(
        resp.status().as_u16(),
        400 | 401 | 403 | 405 | 413 | 500
    ));
    // 405 (another method than POST) and only 405 names the allowed method.
    prop_assert_eq!(
        resp.status() == 405,
        resp.headers().get("allow").is_some_and(|v| v == "POST")
    );
    prop_assert_eq!(&resp.headers()["cache-control"], "no-store");
    prop_assert_eq!(&resp.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    let error = body.as_object().unwrap()["error"].as_str().unwrap();
    prop_assert!(!error.is_empty() && is_valid_error_text(error));
    if let Some(d) = body.get("error_description") {
        prop_assert!(is_valid_error_text(d.as_str().unwrap()));
    }
    if resp.status() == 401 {
        prop_assert!(resp.headers().contains_key("www-authenticate"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_backchannel_requests_never_panic_and_refusals_are_well_formed(
        m in method(), h in headers(), b in body(), offset in 0u64..100_000,
    ) {
        let req = Req { method: m, headers: h, body: b, cert: None };
        match H.backchannel(&req, t0() + secs(offset)) {
            BackchannelOutcome::Respond(r) => check_rejection(&r.response)?,
            BackchannelOutcome::UserIdentification(t) => prop_assert!(t.scopes.contains(&"openid".to_owned())),
        }
    }

    #[test]
    fn arbitrary_token_requests_never_panic_and_refusals_are_well_formed(
        m in method(), h in headers(), b in body(), offset in 0u64..100_000,
    ) {
        let req = Req { method: m, headers: h, body: b, cert: None };
        match H.token(&req, t0() + secs(offset)) {
            TokenOutcome::Respond(r) => check_rejection(&r.response)?,
            TokenOutcome::NotCibaGrant { grant_type } => {
                prop_assert_ne!(grant_type.as_str(), "urn:openid:params:grant-type:ciba")
            }
            TokenOutcome::Issued(_) => prop_assert!(false, "no request was ever approved"),
        }
    }
}
