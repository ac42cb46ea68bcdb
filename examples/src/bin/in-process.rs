//! One idea: the ciba-core client and the ciba-server helper talk in one process, with no
//! sockets and a virtual clock. Every HTTP message is an `http::Request` / `http::Response`
//! value handed from one side to the other.
//!
//! The server's endpoint methods are `async` (its store and client registry may sit across a
//! network); no runtime is needed to drive them: `block_on` below, a dozen lines of std, runs
//! the flow on the main thread (with the MemoryStore every call is ready at once).
//!
//! Run with `cargo run -p ciba-examples --bin in-process`.

use std::error::Error;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, SystemTime};

use ciba_core::id_token::IdTokenValidator;
use ciba_core::jose::{Jwk, JwkSet, JwkSigner, Signer};
use ciba_core::poll::{PollAction, PollConfig, Poller};
use ciba_core::random::OsRandom;
use ciba_core::{AuthRequest, Hint};
use ciba_core::{
    AuthRequestAck, Client, ClientAuth, ClientConfig, ClientSecret, Limits, ServerMetadata,
};
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE, CibaServer,
    ClientMetadata, DefaultTokenMinter, DeliveryMode, IncomingRequest, IssueOutcome, MemoryStore,
    ServerConfig, SigningKeySet, StaticClientRegistry, TokenOutcome,
};

const ISSUER: &str = "https://op.example";

fn main() -> Result<(), Box<dyn Error>> {
    block_on(run())
}

/// Runs `future` on this thread, sleeping while it waits (any executor would do).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let rng = OsRandom;
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut now = start;
    let at = |t: SystemTime| t.duration_since(start).unwrap_or_default().as_secs();

    // The authorization server: one poll client, RS256 and Ed25519 signing keys, the memory store.
    let config = ServerConfig::new(ISSUER, "https://op.example/token", "https://op.example/bc")?;
    let mut registry = StaticClientRegistry::new();
    let mut rp = ClientMetadata::new("rp");
    rp.client_secret = Some("a-long-client-secret".into());
    rp.grant_types = vec![CIBA_GRANT_TYPE.into()];
    rp.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    registry.register(rp, &config)?;
    // The ID token keys: RS256 (every key set has one; here ciba-core's test key, where a
    // real server loads its own) and a fresh Ed25519 key.
    let rsa = Jwk::from_json(include_bytes!(
        "../../../crates/ciba-core/testdata/rs256.jwk.json"
    ))?;
    let keys = SigningKeySet::new([
        Arc::new(JwkSigner::from_jwk(&rsa, None)?) as Arc<dyn Signer>,
        Arc::new(JwkSigner::generate_ed25519(&rng, Some("op-key".into()))?),
    ])?;
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(DefaultTokenMinter::new(Arc::new(keys))),
    );

    // The relying party reads the server's discovery document and JWK Set.
    let metadata = ServerMetadata::from_json(
        &serde_json::to_vec(&server.discovery_document())?,
        ISSUER,
        &Limits::DEFAULT,
    )?;
    let jwks: JwkSet = serde_json::from_value(server.jwks_document(now))?;
    let secret = ClientSecret::new("a-long-client-secret");
    let client = Client::new(
        ClientConfig::new("rp", ClientAuth::SecretBasic(secret), DeliveryMode::Poll),
        metadata,
    )?;

    // 1. Backchannel authentication request -> ticket -> issue.
    let request = AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
        .binding_message("K7-2Q")
        .build(&client, now, &rng)?;
    let response = match server
        .authenticate_request(&IncomingRequest::from_http(&request), now, &rng)
        .await
    {
        BackchannelOutcome::Respond(rejection) => rejection.response,
        BackchannelOutcome::UserIdentification(ticket) => {
            println!(
                "[t={:>2}s] AS: identify user from {:?}",
                at(now),
                ticket.hint.value()
            );
            match server.issue(&*ticket, "alice", now, &rng).await {
                IssueOutcome::Issued(ack) => ack.response,
                IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => r.response,
            }
        }
    };
    let ack = AuthRequestAck::from_response(&response, now, client.limits())?;
    println!(
        "[t={:>2}s] RP: acknowledged, expires in {} s, interval {} s",
        at(now),
        ack.expires_in.as_secs(),
        ack.interval.as_secs()
    );

    // 2. Poll on the virtual clock; the user approves at t = 12 s.
    let approve_at = start + Duration::from_secs(12);
    let mut approved = false;
    let validator = IdTokenValidator::for_client(&client, jwks);
    let mut poller = Poller::new(&client, &ack, PollConfig::new(validator), now)?;
    loop {
        if !approved && now >= approve_at {
            // The device side learns the id from the server; here, from the client's copy.
            let id: ciba_server::AuthReqId = poller.auth_req_id().as_str().parse()?;
            server
                .complete(
                    &id,
                    AuthenticationResult::Authorized(Authorization::new("alice")),
                    now,
                    &rng,
                )
                .await?;
            println!("[t={:>2}s] device: alice approves", at(now));
            approved = true;
        }
        match poller.next(now, &rng) {
            PollAction::Wait(deadline) => {
                now = if approved {
                    deadline
                } else {
                    deadline.min(approve_at).max(now)
                };
            }
            PollAction::Send(token_request) => {
                let response = match server
                    .token_request(&IncomingRequest::from_http(&token_request), now, &rng)
                    .await
                {
                    TokenOutcome::Issued(grant) => grant.response,
                    TokenOutcome::Respond(rejection) => rejection.response,
                    TokenOutcome::NotCibaGrant { .. } => return Err("not a CIBA grant".into()),
                };
                println!(
                    "[t={:>2}s] RP: poll -> HTTP {}",
                    at(now),
                    response.status().as_u16()
                );
                poller.on_response(response, now);
            }
            PollAction::Done(tokens) => {
                println!(
                    "[t={:>2}s] RP: tokens after {} polls; ID token sub={} iss={} (signature, at_hash and rt_hash checked)",
                    at(now),
                    poller.polls_sent(),
                    tokens.id_token.sub,
                    tokens.id_token.iss
                );
                return Ok(());
            }
            PollAction::Failed(error) => return Err(error.into()),
            other => return Err(format!("unexpected poll action {other:?}").into()),
        }
    }
}
