//! Shared set-up for the server fuzz targets: one CibaServer with a few registered clients,
//! and for the token endpoint one that also holds a pending and an approved request.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use ciba_core::jose::{Jwk, JwkSigner, Signer};

use ciba_core::random::OsRandom;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE, CibaServer,
    ClientMetadata, DefaultTokenMinter, DeliveryMode, IncomingRequest, IssueOutcome, MemoryStore,
    ServerConfig, SigningKeySet, StaticClientRegistry,
};

/// The answer of one of the server's async calls. Every target runs the server over a
/// [`MemoryStore`] and a [`StaticClientRegistry`], whose futures are ready on their first
/// poll, so one poll with a no-op waker answers; a call still pending after it would break
/// the MemoryStore's promise never to yield, and panics (a finding).
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a server call over the MemoryStore yielded"),
    }
}

/// The time every server target runs at.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The server the backchannel target drives (built once per process).
pub fn server() -> &'static CibaServer {
    static SERVER: OnceLock<CibaServer> = OnceLock::new();
    SERVER.get_or_init(build)
}

/// The token endpoint's server: [`server`]'s set-up plus two requests of client `poll`,
/// one pending and one approved. Inputs name them `$P` and `$A` (see [`with_ids`]), so the
/// fuzzer reaches `authorization_pending`, `slow_down` and the token response, not only
/// `invalid_grant`.
pub fn seeded_server() -> &'static (CibaServer, String, String) {
    static SEEDED: OnceLock<(CibaServer, String, String)> = OnceLock::new();
    SEEDED.get_or_init(|| {
        let server = build();
        let pending = start(&server);
        let approved = start(&server);
        ready(server.complete(
            &ciba_server::AuthReqId::from_stored(approved.as_str()),
            AuthenticationResult::Authorized(Authorization::new("alice")),
            now(),
            &OsRandom,
        ))
        .expect("the approved request completes");
        (server, pending, approved)
    })
}

/// `body` with `$P` and `$A` replaced by the pending and the approved `auth_req_id`.
pub fn with_ids(body: &[u8], pending: &str, approved: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some((&first, tail)) = rest.split_first() {
        match (first, tail.first()) {
            (b'$', Some(b'P')) => out.extend_from_slice(pending.as_bytes()),
            (b'$', Some(b'A')) => out.extend_from_slice(approved.as_bytes()),
            _ => {
                out.push(first);
                rest = tail;
                continue;
            }
        }
        rest = tail.get(1..).unwrap_or_default();
    }
    out
}

fn start(server: &CibaServer) -> String {
    let request = http::Request::post("https://op.example/bc")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", "Basic cG9sbDpzZWNyZXQ=")
        .body(b"scope=openid&login_hint=alice".to_vec())
        .expect("static request");
    let ticket = match ready(server.authenticate_request(
        &IncomingRequest::from_http(&request),
        now(),
        &OsRandom,
    )) {
        BackchannelOutcome::UserIdentification(ticket) => ticket,
        BackchannelOutcome::Respond(r) => panic!("seed request refused: {}", r.error),
    };
    match ready(server.issue(&*ticket, "alice", now(), &OsRandom)) {
        IssueOutcome::Issued(ack) => ack.auth_req_id.into_string(),
        IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => {
            panic!("seed request not issued: {}", r.error)
        }
    }
}

fn build() -> CibaServer {
    {
        let config = ServerConfig::new(
            "https://op.example",
            "https://op.example/token",
            "https://op.example/bc",
        )
        .expect("static configuration is valid");
        let mut registry = StaticClientRegistry::new();
        for (id, mode) in [("poll", DeliveryMode::Poll), ("ping", DeliveryMode::Ping)] {
            let mut client = ClientMetadata::new(id);
            client.client_secret = Some("secret".into());
            client.grant_types = vec![CIBA_GRANT_TYPE.into()];
            client.backchannel_token_delivery_mode = Some(mode);
            if mode == DeliveryMode::Ping {
                client.backchannel_client_notification_endpoint =
                    Some("https://rp.example/cb".into());
            }
            registry
                .register(client, &config)
                .expect("static client is valid");
        }
        // RS256 (every key set has one): ciba-core's test key, embedded.
        let rsa = Jwk::from_json(include_bytes!("../../crates/ciba-core/testdata/rs256.jwk.json"))
            .expect("test key");
        let rsa: Arc<dyn Signer> = Arc::new(JwkSigner::from_jwk(&rsa, None).expect("rsa key"));
        let ed: Arc<dyn Signer> =
            Arc::new(JwkSigner::generate_ed25519(&OsRandom, Some("k".into())).expect("key"));
        let keys = SigningKeySet::new([rsa, ed]).expect("key set");
        CibaServer::new(
            config,
            Arc::new(registry),
            Arc::new(MemoryStore::new()),
            Arc::new(DefaultTokenMinter::new(Arc::new(keys))),
        )
    }
}

/// A form POST built from fuzz input: the first byte says how many of the bytes after it are
/// the `Authorization` header value; the remainder is the body. Empty input builds nothing.
pub fn request(data: &[u8]) -> Option<http::Request<Vec<u8>>> {
    let (&length, rest) = data.split_first()?;
    let (auth, body) = rest.split_at(usize::from(length).min(rest.len()));
    let mut builder = http::Request::post("https://op.example/bc")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Ok(value) = http::HeaderValue::from_bytes(auth) {
        builder = builder.header("authorization", value);
    }
    builder.body(body.to_vec()).ok()
}
