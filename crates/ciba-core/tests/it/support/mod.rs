//! Shared fixtures for the client-side tests (poll, token response, ID token, notifications):
//! a virtual clock origin, a deterministic random source, an OP and its clients, and an ID
//! token minter that signs with the test keys.

#![allow(dead_code, unreachable_pub)]

use std::time::SystemTime;

use ciba_core::id_token::{AUTH_REQ_ID_CLAIM, IdTokenValidator, RT_HASH_CLAIM};
use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{Jwk, JwkSet, JwkSigner, Signer};
use ciba_core::{
    AuthRequestAck, Client, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Limits,
    ServerMetadata,
};
use serde_json::{Map, Value, json};

pub const ISSUER: &str = "https://op.example";
pub const CLIENT_ID: &str = "client-1";
pub const TOKEN_ENDPOINT: &str = "https://op.example/token";
pub const AUTH_REQ_ID: &str = "1c266114-a1be-4252-8ad1-04986c5b9ac1";

pub use ciba_test::clock::{at, t0};
pub use ciba_test::keys::{jwk as key, signer};
pub use ciba_test::random::Counter;

/// A deterministic random source: every call returns a different, predictable pattern.
pub fn rng() -> Counter {
    Counter::new(1)
}

/// A deterministic random source whose sequence differs from [`rng`]'s.
#[allow(dead_code)] // Not every test binary uses it.
pub fn other_rng() -> Counter {
    Counter::new(101)
}

pub fn unix(t: SystemTime) -> i64 {
    ciba_core::wire::unix_seconds(t)
}

/// The OP's published keys: every test key but the attacker's.
pub fn op_jwks() -> JwkSet {
    ciba_test::keys::public_set(&["rs256", "ps256", "es256", "es384", "eddsa"])
}

/// The OP's discovery document the tests share (every delivery mode).
pub fn metadata_document() -> serde_json::Value {
    json!({
        "issuer": ISSUER,
        "token_endpoint": TOKEN_ENDPOINT,
        "jwks_uri": "https://op.example/jwks",
        "backchannel_authentication_endpoint": "https://op.example/bc",
        "backchannel_token_delivery_modes_supported": ["poll", "ping", "push"],
        "grant_types_supported": ["urn:openid:params:grant-type:ciba"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256", "EdDSA", "ES384", "none", "HS256"],
    })
}

pub fn metadata() -> ServerMetadata {
    let doc = metadata_document();
    ServerMetadata::from_json(doc.to_string().as_bytes(), ISSUER, &Limits::DEFAULT).unwrap()
}

pub fn client(mode: DeliveryMode) -> Client {
    let mut cfg = ClientConfig::new(
        CLIENT_ID,
        ClientAuth::SecretPost(ClientSecret::new("s3cret-s3cret-s3cret-s3cret-s3cret")),
        mode,
    );
    if mode.uses_notifications() {
        cfg.notification_endpoint = Some("https://client.example/cb".into());
    }
    Client::new(cfg, metadata()).unwrap()
}

pub fn validator(client: &Client) -> IdTokenValidator {
    IdTokenValidator::for_client(client, op_jwks())
}

/// The claims of a valid ID token issued at `now` for [`AUTH_REQ_ID`].
pub fn claims(now: SystemTime) -> Map<String, Value> {
    json!({
        "iss": ISSUER,
        "sub": "alice",
        "aud": CLIENT_ID,
        "exp": unix(now) + 300,
        "iat": unix(now),
        AUTH_REQ_ID_CLAIM: AUTH_REQ_ID,
    })
    .as_object()
    .unwrap()
    .clone()
}

pub fn sign(claims: &Map<String, Value>, signer: &dyn Signer) -> String {
    sign_compact(Map::new(), claims, signer).unwrap()
}

/// An ES256 ID token with [`claims`] plus `at_hash` / `rt_hash` for the given tokens.
pub fn id_token_for(now: SystemTime, access_token: &str, refresh_token: Option<&str>) -> String {
    id_token_signed_by(&signer("es256"), now, access_token, refresh_token)
}

/// [`id_token_for`], signed by `s`.
pub fn id_token_signed_by(
    s: &dyn Signer,
    now: SystemTime,
    access_token: &str,
    refresh_token: Option<&str>,
) -> String {
    let mut c = claims(now);
    c.insert(
        "at_hash".into(),
        left_half_hash(s.algorithm(), access_token).unwrap().into(),
    );
    if let Some(rt) = refresh_token {
        c.insert(
            RT_HASH_CLAIM.into(),
            left_half_hash(s.algorithm(), rt).unwrap().into(),
        );
    }
    sign(&c, s)
}

pub fn json_response(status: u16, body: &Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.to_string().into_bytes())
        .unwrap()
}

pub fn error_response(status: u16, code: &str) -> http::Response<Vec<u8>> {
    json_response(status, &json!({ "error": code }))
}

/// A 200 token response with a valid ID token for `now`.
pub fn tokens_response(now: SystemTime, token_type: &str) -> http::Response<Vec<u8>> {
    tokens_with_id_token(token_type, id_token_for(now, "at-123", Some("rt-456")))
}

/// A 200 token response (access token `at-123`, refresh token `rt-456`) with `id_token`.
fn tokens_with_id_token(token_type: &str, id_token: String) -> http::Response<Vec<u8>> {
    json_response(
        200,
        &json!({
            "access_token": "at-123",
            "token_type": token_type,
            "expires_in": 3600,
            "refresh_token": "rt-456",
            "id_token": id_token,
        }),
    )
}

/// A JWS header that embeds the public part of `jwk` (the trick of an attacker who hopes
/// the verifier trusts the key the token brings).
pub fn embedding_key(jwk: &Jwk) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("jwk".into(), serde_json::to_value(jwk.to_public()).unwrap());
    header
}

/// The OP's new signing key after a rotation: kid `ec-2`, which [`op_jwks`] lacks.
pub fn rotated_key() -> Jwk {
    Jwk {
        kid: Some("ec-2".into()),
        ..key("es256")
    }
}

/// [`op_jwks`] plus the public part of [`rotated_key`]: the set after the rotation.
pub fn rotated_jwks() -> JwkSet {
    let mut set = op_jwks();
    set.keys.push(rotated_key().to_public());
    set
}

/// [`tokens_response`] with the ID token signed by [`rotated_key`].
pub fn rotated_tokens_response(now: SystemTime, token_type: &str) -> http::Response<Vec<u8>> {
    let s = JwkSigner::from_jwk(&rotated_key(), None).unwrap();
    tokens_with_id_token(
        token_type,
        id_token_signed_by(&s, now, "at-123", Some("rt-456")),
    )
}

/// The acknowledgement a scripted OP returns at `now`.
pub fn ack(now: SystemTime, expires_in: u64, interval: Option<u64>) -> AuthRequestAck {
    let mut body = json!({ "auth_req_id": AUTH_REQ_ID, "expires_in": expires_in });
    if let Some(i) = interval {
        body["interval"] = json!(i);
    }
    AuthRequestAck::from_response(&json_response(200, &body), now, &Limits::DEFAULT).unwrap()
}

/// The form parameters of a request.
pub fn form(req: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A proptest strategy over member names and codes: one of `names` (each as likely as any
/// other string), or a string matching the regex `other`.
pub fn names_or(
    names: &'static [&'static str],
    other: &'static str,
) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let weight = u32::try_from(names.len()).unwrap();
    prop_oneof![
        weight => proptest::sample::select(names).prop_map(str::to_owned),
        1 => other,
    ]
}

/// The longest `Display` text an error may have in the property tests: a peer's text is
/// clipped before it reaches an error, so no error grows with its input.
pub const MAX_ERROR_DISPLAY_CHARS: usize = 2048;

/// Fails the case unless `e` displays as a non-empty text of at most
/// [`MAX_ERROR_DISPLAY_CHARS`] characters.
pub fn check_error_text(
    e: &dyn std::fmt::Display,
) -> Result<(), proptest::test_runner::TestCaseError> {
    let text = e.to_string();
    proptest::prop_assert!(!text.trim().is_empty(), "an error displays as nothing");
    proptest::prop_assert!(
        text.chars().count() <= MAX_ERROR_DISPLAY_CHARS,
        "error text of {} chars",
        text.chars().count()
    );
    Ok(())
}

/// Runs `property` on `cases` values drawn from `strategy`, as `proptest!` would (a failing
/// case is shrunk and fails the test), and returns how many cases reached the parser's `Ok`
/// branch (`property` returned `Ok(true)`) and how many its `Err` branch (`Ok(false)`).
pub fn run_counting<S: proptest::strategy::Strategy>(
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<bool, proptest::test_runner::TestCaseError>,
) -> (u32, u32) {
    use std::cell::Cell;
    let (ok, err) = (Cell::new(0u32), Cell::new(0u32));
    let config = proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&strategy, |v| {
        let reached_ok = property(v)?;
        let counter = if reached_ok { &ok } else { &err };
        counter.set(counter.get() + 1);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    (ok.get(), err.get())
}

/// Asserts that each branch was reached by at least a twentieth of the cases. (The generators
/// aim at 15 % or more for the rarer branch, so a random seed never misses this.)
pub fn assert_both_branches(name: &str, cases: u32, (ok, err): (u32, u32)) {
    eprintln!("{name}: {ok} cases reached Ok, {err} reached Err");
    assert!(
        ok >= cases / 20 && err >= cases / 20,
        "{name}: {ok} cases reached Ok and {err} reached Err, out of {cases}"
    );
}
