//! The client side of the benchmarks: a ciba-core [`Client`] of a scripted OP, and the OP's
//! answers to it (acknowledgement, token responses, ping and push notifications) with ID
//! tokens signed by the test keys of [`crate::keys`].
//!
//! Every ID token carries the claims a CIBA client checks: `iss`, `sub`, `aud`, `iat`, `exp`,
//! the `urn:openid:params:jwt:claim:auth_req_id` claim, `at_hash` and
//! `urn:openid:params:jwt:claim:rt_hash`. The client validates them as a real one would, with
//! an [`IdTokenValidator`] over the OP's public JWK Set ([`crate::keys::public_jwks`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ciba_core::TokenType;
use ciba_core::id_token::{AUTH_REQ_ID_CLAIM, IdTokenContext, RT_HASH_CLAIM};
use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{JwsAlgorithm, Signer};
use ciba_core::{
    Client, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, IdTokenValidator, Limits,
    ServerMetadata, TokenResponse, ValidatedTokens,
};
use serde_json::{Map, Value, json};

use crate::BenchError;
use crate::keys;

/// The scripted OP's issuer.
pub const ISSUER: &str = "https://op.example";
/// The client's `client_id`.
pub const CLIENT_ID: &str = "bench-client";
/// The client's secret (`client_secret_basic`).
pub const CLIENT_SECRET: &str = "bench-client-secret-0123456789abcdef";
/// The `auth_req_id` of every scripted flow.
pub const AUTH_REQ_ID: &str = "1c266114-a1be-4252-8ad1-04986c5b9ac1";
/// The access token of every token response.
pub const ACCESS_TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA-bench-access-token";
/// The refresh token of every token response.
pub const REFRESH_TOKEN: &str = "tGzv3JOkF0XG5Qx2TlKWIA-bench-refresh-token";
/// The `client_notification_token` bound to [`AUTH_REQ_ID`] (ping and push).
pub const NOTIFICATION_TOKEN: &str = "8d67dc78-7faa-4d41-aabd-67707b374255";
/// The client's notification endpoint (ping and push).
pub const NOTIFICATION_ENDPOINT: &str = "https://client.example/cb";

/// A fixed instant for the benchmarks that use a virtual clock (2023-11-14).
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The OP's discovery metadata: all three delivery modes, ID tokens signed with any of
/// [`keys::ID_TOKEN_ALGS`].
pub fn metadata() -> Result<ServerMetadata, BenchError> {
    let doc = json!({
        "issuer": ISSUER,
        "token_endpoint": format!("{ISSUER}/token"),
        "jwks_uri": format!("{ISSUER}/jwks"),
        "backchannel_authentication_endpoint": format!("{ISSUER}/bc-authorize"),
        "backchannel_token_delivery_modes_supported": ["poll", "ping", "push"],
        "grant_types_supported": ["urn:openid:params:grant-type:ciba"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
    });
    Ok(ServerMetadata::from_json(
        doc.to_string().as_bytes(),
        ISSUER,
        &Limits::DEFAULT,
    )?)
}

/// The client `CLIENT_ID` in `mode`, authenticating with `auth` (ping and push clients get
/// [`NOTIFICATION_ENDPOINT`]).
pub fn client(mode: DeliveryMode, auth: ClientAuth) -> Result<Client, BenchError> {
    let mut config = ClientConfig::new(CLIENT_ID, auth, mode);
    if mode.uses_notifications() {
        config.notification_endpoint = Some(NOTIFICATION_ENDPOINT.into());
    }
    Ok(Client::new(config, metadata()?)?)
}

/// `client_secret_basic` with [`CLIENT_SECRET`].
pub fn secret_basic() -> ClientAuth {
    ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET))
}

/// The ID token validator of `client`: the OP's public keys, the algorithms it advertises,
/// default clock skew and `iat` age.
pub fn validator(client: &Client) -> Result<IdTokenValidator, BenchError> {
    Ok(IdTokenValidator::for_client(client, keys::public_jwks()?))
}

/// A JSON response with `status`, as the OP sends it.
pub fn json_response(status: u16, body: &Value) -> Result<http::Response<Vec<u8>>, BenchError> {
    Ok(http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.to_string().into_bytes())?)
}

/// The OP's acknowledgement of a backchannel authentication request.
pub fn ack_response() -> Result<http::Response<Vec<u8>>, BenchError> {
    json_response(
        200,
        &json!({ "auth_req_id": AUTH_REQ_ID, "expires_in": 300, "interval": 5 }),
    )
}

/// The OP's `authorization_pending` answer at the token endpoint.
pub fn pending_response() -> Result<http::Response<Vec<u8>>, BenchError> {
    json_response(400, &json!({ "error": "authorization_pending" }))
}

/// The claims of an ID token issued at `now` for [`AUTH_REQ_ID`], with `at_hash` and
/// `rt_hash` for [`ACCESS_TOKEN`] and [`REFRESH_TOKEN`] under `alg`.
pub fn id_token_claims(
    alg: JwsAlgorithm,
    now: SystemTime,
) -> Result<Map<String, Value>, BenchError> {
    let iat = ciba_core::wire::unix_seconds(now);
    let claims = json!({
        "iss": ISSUER,
        "sub": "alice",
        "aud": CLIENT_ID,
        "iat": iat,
        "exp": iat + 600,
        AUTH_REQ_ID_CLAIM: AUTH_REQ_ID,
        "at_hash": left_half_hash(alg, ACCESS_TOKEN)?,
        RT_HASH_CLAIM: left_half_hash(alg, REFRESH_TOKEN)?,
    });
    match claims {
        Value::Object(map) => Ok(map),
        _ => Err("the claims are not an object".into()),
    }
}

/// An ID token signed with the test key for `alg`, issued at `now`.
pub fn id_token(alg: JwsAlgorithm, now: SystemTime) -> Result<String, BenchError> {
    let signer = keys::signer(alg)?;
    debug_assert_eq!(signer.algorithm(), alg);
    Ok(sign_compact(
        Map::new(),
        &id_token_claims(alg, now)?,
        &signer,
    )?)
}

/// The members of a successful token response carrying `id_token`.
pub fn token_members(id_token: &str) -> Value {
    json!({
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": REFRESH_TOKEN,
        "scope": "openid",
        "id_token": id_token,
    })
}

/// The OP's 200 token response with an ID token signed by `alg`'s key at `now`.
pub fn token_response(
    alg: JwsAlgorithm,
    now: SystemTime,
) -> Result<http::Response<Vec<u8>>, BenchError> {
    json_response(200, &token_members(&id_token(alg, now)?))
}

/// What a poll or ping client does with a token response received at `now`: parse it
/// (status, content type, members, token type) and validate its ID token fully (signature
/// against the JWK Set, `iss`, `aud`, `exp`, `iat`, `auth_req_id`, `at_hash`, `rt_hash`).
pub fn process_token_response(
    validator: &IdTokenValidator,
    response: &http::Response<Vec<u8>>,
    now: SystemTime,
) -> Result<ValidatedTokens, BenchError> {
    let parsed = TokenResponse::from_response(response, Some(TokenType::Bearer), &Limits::DEFAULT)?;
    let ctx = IdTokenContext::token_endpoint(AUTH_REQ_ID, "", None);
    Ok(parsed.validate(validator, &ctx, now)?)
}

/// The client's binding of pending requests to notification tokens: only [`AUTH_REQ_ID`],
/// bound to [`NOTIFICATION_TOKEN`]. Usable as a `ciba_core::notification::NotificationTokens`.
pub fn notification_token(auth_req_id: &str) -> Option<String> {
    (auth_req_id == AUTH_REQ_ID).then(|| NOTIFICATION_TOKEN.to_owned())
}

/// A notification `POST` to [`NOTIFICATION_ENDPOINT`] with the bearer
/// [`NOTIFICATION_TOKEN`] and `body`.
pub fn notification_request(body: &Value) -> Result<http::Request<Vec<u8>>, BenchError> {
    Ok(http::Request::post(NOTIFICATION_ENDPOINT)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {NOTIFICATION_TOKEN}"))
        .body(body.to_string().into_bytes())?)
}

/// The OP's ping for [`AUTH_REQ_ID`] (CIBA Core 10.2).
pub fn ping_request() -> Result<http::Request<Vec<u8>>, BenchError> {
    notification_request(&json!({ "auth_req_id": AUTH_REQ_ID }))
}

/// The OP's push of tokens for [`AUTH_REQ_ID`] (CIBA Core 10.3.1), the ID token signed by
/// `alg`'s key at `now`.
pub fn push_request(
    alg: JwsAlgorithm,
    now: SystemTime,
) -> Result<http::Request<Vec<u8>>, BenchError> {
    let mut body = token_members(&id_token(alg, now)?);
    if let Value::Object(map) = &mut body {
        map.insert("auth_req_id".into(), AUTH_REQ_ID.into());
    }
    notification_request(&body)
}
