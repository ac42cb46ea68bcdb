//! No secret, token or key material in `Debug` (or `Display`) output: every ciba-core type that
//! holds one is built with a distinctive value and its formatted forms are searched for it
//! (docs/security.md, "Secrets").

use crate::support;

use std::sync::Arc;

use ciba_core::CibaGrant;
use ciba_core::jose::{HmacSigner, Jwk, JwkSigner, JwsAlgorithm};
use ciba_core::notification::{receive_ping, receive_push};
use ciba_core::poll::PollError;
use ciba_core::poll::{PollAction, PollConfig, Poller};
use ciba_core::{
    AuthRequest, AuthRequestAck, Client, ClientAuth, ClientConfig, ClientSecret, DeliveryMode,
    DpopKey, Hint, Limits,
};
use ciba_core::{TokenResponse, TokenResponseError};
use serde_json::json;
use support::*;

/// Distinctive values; none of them may appear in any formatted output.
const CLIENT_SECRET: &str = "SECRET-client-secret-4c1d9e";
const HMAC_KEY: &str = "SECRET-hmac-key-bytes-0123456789abcdef";
const AUTH_REQ: &str = "SECRET-auth-req-id-77f0";
const ACCESS: &str = "SECRET-access-token-5be2";
const REFRESH: &str = "SECRET-refresh-token-91aa";
const CNT: &str = "SECRET-notification-token-c0ffee";
const USER_CODE: &str = "SECRET-user-code-4711";

/// `s` as `Vec<u8>`'s `Debug` prints it, without the brackets: `83, 69, ...`.
fn as_byte_list(s: &str) -> String {
    let list = format!("{:?}", s.as_bytes());
    list.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// `text` holds none of `secrets`, neither as text nor as a list of bytes (a raw body).
fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
        assert!(
            !text.contains(&as_byte_list(s)),
            "{what} prints the bytes of {s:?}: {text}"
        );
    }
}

fn all() -> Vec<&'static str> {
    vec![
        CLIENT_SECRET,
        HMAC_KEY,
        AUTH_REQ,
        ACCESS,
        REFRESH,
        CNT,
        USER_CODE,
    ]
}

#[test]
fn client_credentials_and_keys_never_print_their_secret() {
    let secret = ClientSecret::new(CLIENT_SECRET);
    assert_hidden("ClientSecret", &format!("{secret:?}"), &all());
    assert_hidden("ClientSecret {:#?}", &format!("{secret:#?}"), &all());
    for auth in [
        ClientAuth::SecretBasic(secret.clone()),
        ClientAuth::SecretPost(secret.clone()),
        ClientAuth::secret_jwt(JwsAlgorithm::HS256, &secret).unwrap(),
        ClientAuth::private_key_jwt(signer("es256")),
    ] {
        assert_hidden("ClientAuth", &format!("{auth:?}"), &all());
    }

    let hmac = HmacSigner::new(JwsAlgorithm::HS256, HMAC_KEY.as_bytes()).unwrap();
    assert_hidden("HmacSigner", &format!("{hmac:?}"), &all());

    // Private members of asymmetric keys (`d`, RSA primes) and of symmetric keys (`k`).
    for name in ["es256", "rs256", "eddsa"] {
        let jwk = key(name);
        let private: Vec<String> = [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi]
            .into_iter()
            .flatten()
            .map(|m| m.as_str().to_owned())
            .collect();
        assert!(!private.is_empty(), "{name} has private members");
        let private: Vec<&str> = private.iter().map(String::as_str).collect();
        assert_hidden("Jwk", &format!("{jwk:?}"), &private);
        let s = JwkSigner::from_jwk(&jwk, None).unwrap();
        assert_hidden("JwkSigner", &format!("{s:?}"), &private);
        let dpop = DpopKey::new(Arc::new(s)).unwrap();
        assert_hidden("DpopKey", &format!("{dpop:?}"), &private);
    }
    let oct = Jwk::from_json(json!({"kty": "oct", "k": HMAC_KEY}).to_string().as_bytes()).unwrap();
    assert_hidden("Jwk(oct)", &format!("{oct:?}"), &all());

    let cfg = ClientConfig::new(
        "client-1",
        ClientAuth::SecretPost(secret),
        DeliveryMode::Poll,
    );
    assert_hidden("ClientConfig", &format!("{cfg:?}"), &all());
    let client = Client::new(cfg, metadata()).unwrap();
    assert_hidden("Client", &format!("{client:?}"), &all());
}

#[test]
fn requests_acknowledgements_and_token_requests_never_print_secrets() {
    let req = AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
        .client_notification_token(CNT)
        .user_code(USER_CODE);
    assert_hidden("AuthRequest", &format!("{req:?}"), &all());

    let ack = AuthRequestAck::from_response(
        &json_response(200, &json!({"auth_req_id": AUTH_REQ, "expires_in": 120})),
        t0(),
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_hidden("AuthRequestAck", &format!("{ack:?}"), &all());
    assert_hidden("AuthReqId", &format!("{:?}", ack.auth_req_id), &all());

    let grant = CibaGrant::new(ack.auth_req_id.clone());
    assert_hidden("CibaGrant", &format!("{grant:?}"), &all());

    // A poller holding the auth_req_id, the client secret and a DPoP key.
    let mut cfg = ClientConfig::new(
        CLIENT_ID,
        ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
        DeliveryMode::Poll,
    );
    cfg.notification_endpoint = None;
    let c = Client::new(cfg, metadata()).unwrap();
    let dpop = DpopKey::new(Arc::new(signer("es256"))).unwrap();
    let mut p = Poller::new(&c, &ack, PollConfig::new(validator(&c)).dpop(dpop), t0()).unwrap();
    assert_hidden("Poller", &format!("{p:?}"), &all());
    let _ = p.next(at(5), &rng());
    let action = p.next(at(6), &rng());
    assert_hidden("Poller (in flight)", &format!("{p:?}"), &all());
    // The request itself carries secrets in its body and in sensitive headers: the action's
    // Debug form shows neither (see poll_send_actions_show_method_and_uri_but_no_body_or_credentials),
    // and the Authorization header is marked sensitive for whoever prints the request itself.
    if let PollAction::Send(req) = &action {
        let auth = &req.headers()["authorization"];
        assert!(auth.is_sensitive());
        assert_hidden("PollAction::Send", &format!("{action:?}"), &all());
    }
}

#[test]
fn token_responses_and_notifications_never_print_tokens() {
    let id_token = id_token_for(t0(), ACCESS, Some(REFRESH));
    let resp = json_response(
        200,
        &json!({
            "access_token": ACCESS,
            "token_type": "Bearer",
            "refresh_token": REFRESH,
            "expires_in": 60,
            "id_token": id_token,
        }),
    );
    let r = TokenResponse::from_response(&resp, None, &Limits::DEFAULT).unwrap();
    let mut secrets = all();
    secrets.push(&id_token);
    assert_hidden("TokenResponse", &format!("{r:?}"), &secrets);
    let c = client(DeliveryMode::Poll);
    let ctx = ciba_core::id_token::IdTokenContext::token_endpoint(AUTH_REQ_ID, "", None);
    let v = r.validate(&validator(&c), &ctx, t0()).unwrap();
    assert_hidden("ValidatedTokens", &format!("{v:?}"), &secrets);
    // Hidden, not blank: the claims still show what a reader needs, the secrets their place.
    let shown = format!("{v:?}");
    assert!(
        shown.contains("IdTokenClaims {") && shown.contains("auth_req_id: Some(\"<redacted>\")"),
        "{shown}"
    );

    // Ping and push receivers: the outcome (result and response) shows neither the bearer
    // token nor the delivered tokens.
    let lookup = |_: &str| Some(CNT.to_owned());
    let ping = http::Request::post("https://client.example/cb")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CNT}"))
        .body(json!({"auth_req_id": AUTH_REQ}).to_string().into_bytes())
        .unwrap();
    let out = receive_ping(&ping, &lookup, &Limits::DEFAULT);
    assert!(out.result.is_ok(), "{out:?}");
    assert_hidden("ping outcome", &format!("{out:?}"), &secrets);

    // The push ID token must name the auth_req_id and hash both tokens.
    let mut claims = claims(t0());
    claims.insert(
        ciba_core::id_token::AUTH_REQ_ID_CLAIM.into(),
        json!(AUTH_REQ),
    );
    claims.insert(
        "at_hash".into(),
        json!(ciba_core::jose::hash::left_half_hash(JwsAlgorithm::ES256, ACCESS).unwrap()),
    );
    claims.insert(
        ciba_core::id_token::RT_HASH_CLAIM.into(),
        json!(ciba_core::jose::hash::left_half_hash(JwsAlgorithm::ES256, REFRESH).unwrap()),
    );
    let claims_token = sign(&claims, &signer("es256"));
    let push = http::Request::post("https://client.example/cb")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CNT}"))
        .body(
            json!({
                "auth_req_id": AUTH_REQ,
                "access_token": ACCESS,
                "token_type": "Bearer",
                "refresh_token": REFRESH,
                "expires_in": 60,
                "id_token": claims_token,
            })
            .to_string()
            .into_bytes(),
        )
        .unwrap();
    let pc = client(DeliveryMode::Push);
    let out = receive_push(&push, &lookup, &validator(&pc), t0(), &Limits::DEFAULT);
    assert!(out.result.is_ok(), "{out:?}");
    secrets.push(&claims_token);
    assert_hidden("push outcome", &format!("{out:?}"), &secrets);
}

#[test]
fn redacted_values_still_say_what_they_are() {
    assert_eq!(
        format!("{:?}", ClientSecret::new(CLIENT_SECRET)),
        "ClientSecret(<redacted>)"
    );
    let ctx =
        ciba_core::id_token::IdTokenContext::token_endpoint(AUTH_REQ_ID, ACCESS, Some(REFRESH));
    assert_eq!(
        format!("{ctx:?}"),
        "IdTokenContext { delivery: TokenEndpoint, auth_req_id: Some(\"<redacted>\"), \
         access_token: Some(\"<redacted>\"), refresh_token: Some(\"<redacted>\") }"
    );
}

#[test]
fn parse_errors_show_the_kind_and_the_body_length_but_never_the_body() {
    // A 200 with a repeated member: refused, and the parse error keeps the body.
    let body = format!(
        r#"{{"access_token":"{ACCESS}","token_type":"Bearer","refresh_token":"{REFRESH}","token_type":"DPoP"}}"#
    );
    let resp = http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.clone().into_bytes())
        .unwrap();
    let err = TokenResponse::from_response(&resp, None, &Limits::DEFAULT).unwrap_err();
    let TokenResponseError::Parse(parse) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(parse.raw, body.as_bytes(), "the bytes stay available");
    let text = format!("{parse:?}");
    assert!(text.contains("DuplicateMember"), "{text}");
    assert!(text.contains(&body.len().to_string()), "{text}");
    assert_hidden("ParseError", &text, &all());
    assert_hidden("ParseError {:#?}", &format!("{parse:#?}"), &all());
    assert_hidden("ParseError Display", &parse.to_string(), &all());
    assert_hidden("TokenResponseError", &format!("{err:?}"), &all());
    let wrapped: ciba_core::Error = err.into();
    assert_hidden("Error", &format!("{wrapped:?}"), &all());

    // The same body, refused while polling: the PollError and the Failed action.
    let c = client(DeliveryMode::Poll);
    let a = ack(t0(), 120, Some(5));
    let mut p = Poller::new(&c, &a, PollConfig::new(validator(&c)), t0()).unwrap();
    let _ = p.next(at(5), &rng());
    p.on_response(resp, at(5));
    let failed = p.next(at(5), &rng());
    assert!(matches!(failed, PollAction::Failed(PollError::Response(_))));
    assert_hidden("PollAction::Failed", &format!("{failed:?}"), &all());

    // A notification whose body is not JSON keeps its bytes out of the refusal too.
    let lookup = |_: &str| Some(CNT.to_owned());
    let garbled = http::Request::post("https://client.example/cb")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CNT}"))
        .body(format!("{{\"access_token\":\"{ACCESS}\",").into_bytes())
        .unwrap();
    let out = receive_ping(&garbled, &lookup, &Limits::DEFAULT);
    assert!(out.result.is_err());
    assert_hidden("refused ping", &format!("{out:?}"), &all());
}

#[test]
fn poll_send_actions_show_method_and_uri_but_no_body_or_credentials() {
    let ack = AuthRequestAck::from_response(
        &json_response(200, &json!({"auth_req_id": AUTH_REQ, "expires_in": 120})),
        t0(),
        &Limits::DEFAULT,
    )
    .unwrap();
    for auth in [
        ClientAuth::SecretPost(ClientSecret::new(CLIENT_SECRET)),
        ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
    ] {
        let c = Client::new(
            ClientConfig::new(CLIENT_ID, auth, DeliveryMode::Poll),
            metadata(),
        )
        .unwrap();
        let dpop = DpopKey::new(Arc::new(signer("es256"))).unwrap();
        let mut p = Poller::new(&c, &ack, PollConfig::new(validator(&c)).dpop(dpop), t0()).unwrap();
        let action = p.next(at(5), &rng());
        let PollAction::Send(req) = &action else {
            panic!("{action:?}");
        };
        let text = format!("{action:?}");
        assert!(
            text.contains("POST") && text.contains(TOKEN_ENDPOINT),
            "{text}"
        );
        let body = String::from_utf8(req.body().clone()).unwrap();
        let mut hidden = all();
        hidden.push(&body);
        hidden.push("client_secret");
        hidden.push("grant_type");
        let proof = req.headers()["dpop"].to_str().unwrap().to_owned();
        hidden.push(&proof);
        if let Some(basic) = req.headers().get("authorization") {
            hidden.push(basic.to_str().unwrap());
        }
        assert_hidden("PollAction::Send", &text, &hidden);
        assert_hidden("PollAction::Send {:#?}", &format!("{action:#?}"), &hidden);
    }
}

#[test]
fn token_responses_show_only_the_names_of_unknown_members() {
    let resp = json_response(
        200,
        &json!({
            "access_token": ACCESS,
            "token_type": "Bearer",
            "vendor_session_token": REFRESH,
        }),
    );
    let r = TokenResponse::from_response(&resp, None, &Limits::DEFAULT).unwrap();
    let text = format!("{r:?}");
    assert!(text.contains("vendor_session_token"), "{text}");
    assert_hidden("TokenResponse extra", &text, &all());
}
