//! The authorization-server side of the benchmarks: a ciba-server [`CibaServer`] over
//! [`MemoryStore`] with one poll client (`client_secret_basic`), ID tokens signed with the
//! ES256 test key, and the HTTP requests that client sends.
//!
//! The server reads no clock: the benchmarks pass a virtual `now` that moves forward, so
//! tickets, requests and tombstones expire and the store stays at a steady size however many
//! iterations run.
//!
//! The server's endpoint methods are async; [`ready`] runs one where a benchmark calls it.
//! With the [`MemoryStore`] and the [`StaticClientRegistry`] every call completes on its
//! first poll, so what is timed is the server's work, not an executor's.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use ciba_core::jose::JwsAlgorithm;
use ciba_core::random::Random;
use ciba_core::wire::basic_authorization;
use ciba_core::wire::encode_form;
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{
    AuthMethod, BackchannelOutcome, CIBA_GRANT_TYPE, CibaServer, ClientMetadata,
    DefaultTokenMinter, DeliveryMode, IncomingRequest, IssueOutcome, MemoryStore, ServerConfig,
    StaticClientRegistry, Ticket,
};

use crate::BenchError;
use crate::keys;

/// The server's issuer.
pub const ISSUER: &str = "https://op.example";
/// Its token endpoint.
pub const TOKEN_ENDPOINT: &str = "https://op.example/token";
/// Its backchannel authentication endpoint.
pub const BACKCHANNEL_ENDPOINT: &str = "https://op.example/bc-authorize";
/// The registered poll client.
pub const CLIENT_ID: &str = "bench-rp";
/// Its secret (`client_secret_basic`).
pub const CLIENT_SECRET: &str = "bench-rp-secret-0123456789abcdef";
/// The algorithm of the server's ID token signing key.
pub const ID_TOKEN_ALG: JwsAlgorithm = JwsAlgorithm::ES256;
/// The subject every request is issued for.
pub const SUBJECT: &str = "alice";

/// The output of `future`, polled with a no-op waker until it is ready. Over the
/// [`MemoryStore`] a server call is ready on its first poll, so this does not loop (and costs
/// no allocation); a store that waited would make it spin.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::hint::spin_loop();
    }
}

/// The server: default configuration (expires_in 300 s, interval 5 s, ticket TTL 120 s,
/// tombstones 600 s), the poll client [`CLIENT_ID`], a [`MemoryStore`] without a practical
/// per-client entry limit, and a [`DefaultTokenMinter`] over the RS256 and [`ID_TOKEN_ALG`]
/// test keys (the client asks for [`ID_TOKEN_ALG`] ID tokens).
pub fn server() -> Result<CibaServer, BenchError> {
    let keys = keys::key_set(ID_TOKEN_ALG)?;
    let mut config = ServerConfig::new(ISSUER, TOKEN_ENDPOINT, BACKCHANNEL_ENDPOINT)?;
    config.id_token_signing_algs = keys.algorithms();
    let mut client = ClientMetadata::new(CLIENT_ID);
    client.id_token_signed_response_alg = Some(ID_TOKEN_ALG.as_str().into());
    client.token_endpoint_auth_method = AuthMethod::ClientSecretBasic;
    client.client_secret = Some(CLIENT_SECRET.into());
    client.grant_types = vec![CIBA_GRANT_TYPE.into()];
    client.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    let mut registry = StaticClientRegistry::new();
    registry.register(client, &config)?;
    let store = MemoryStore::with_config(
        MemoryStoreConfig::default().with_max_entries_per_client(usize::MAX),
    );
    let minter = DefaultTokenMinter::new(keys);
    Ok(CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(store),
        Arc::new(minter),
    ))
}

/// A form `POST` to `uri` with `pairs`, authenticated with [`CLIENT_ID`]'s HTTP Basic.
pub fn form_post(uri: &str, pairs: &[(&str, &str)]) -> Result<http::Request<Vec<u8>>, BenchError> {
    Ok(http::Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            basic_authorization(CLIENT_ID, CLIENT_SECRET)?,
        )
        .body(encode_form(pairs.iter().copied()))?)
}

/// The client's backchannel authentication request: scope `openid email`, a `login_hint`, a
/// binding message.
pub fn backchannel_request() -> Result<http::Request<Vec<u8>>, BenchError> {
    form_post(
        BACKCHANNEL_ENDPOINT,
        &[
            ("scope", "openid email"),
            ("login_hint", "alice@example.com"),
            ("binding_message", "W4SCT"),
        ],
    )
}

/// The client's token request (the CIBA grant) for `auth_req_id`.
pub fn token_request(
    auth_req_id: &ciba_server::AuthReqId,
) -> Result<http::Request<Vec<u8>>, BenchError> {
    form_post(
        TOKEN_ENDPOINT,
        &[
            ("grant_type", CIBA_GRANT_TYPE),
            ("auth_req_id", auth_req_id.as_str()),
        ],
    )
}

/// Runs the backchannel request through `authenticate_request` at `now`: the ticket, or an
/// error naming the refusal.
pub fn ticket(
    server: &CibaServer,
    request: &http::Request<Vec<u8>>,
    now: SystemTime,
    rng: &dyn Random,
) -> Result<Ticket, BenchError> {
    match ready(server.authenticate_request(&IncomingRequest::from_http(request), now, rng)) {
        BackchannelOutcome::UserIdentification(ticket) => Ok(*ticket),
        BackchannelOutcome::Respond(refusal) => {
            Err(format!("backchannel request refused: {}", refusal.error).into())
        }
    }
}

/// A pending request issued at `now` for [`SUBJECT`]: authenticate, then issue. Returns its
/// `auth_req_id`.
pub fn start(
    server: &CibaServer,
    request: &http::Request<Vec<u8>>,
    now: SystemTime,
    rng: &dyn Random,
) -> Result<ciba_server::AuthReqId, BenchError> {
    let ticket = ticket(server, request, now, rng)?;
    match ready(server.issue(&ticket, SUBJECT, now, rng)) {
        IssueOutcome::Issued(ack) => Ok(ack.auth_req_id),
        IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => {
            Err(format!("not issued: {}", r.error).into())
        }
    }
}
