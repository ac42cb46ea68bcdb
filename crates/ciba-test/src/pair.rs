//! A client and a server in one process, on one virtual clock, without sockets: ciba-core's
//! [`Poller`] (with the [`Client`] that builds its requests) and ciba-server's [`CibaServer`]
//! (a memory store, one registered poll client), each request handed from one to the other
//! as an `http` value.
//!
//! [`Pair::run_poll_flow`] runs a whole poll-mode flow: the backchannel request, the
//! acknowledgement, polls answered `authorization_pending` (and `slow_down`, when a rival
//! poll of the same `auth_req_id` reached the server first), the user's approval, and the
//! tokens, whose ID token the poller validates. The clock only moves when the poller waits,
//! so a flow of minutes runs in microseconds, and every answer is recorded with its time.
//!
//! The server is runtime-agnostic and its memory store answers at once, so the futures are
//! run by [`block_on`], on the calling thread: no runtime is needed. For the tests of the
//! crates above ciba-core (a dev-dependency of ciba-core on this feature would build
//! ciba-server into ciba-core's tests).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ciba_core::id_token::IdTokenValidator;
use ciba_core::jose::{JwkSet, Signer};
use ciba_core::poll::{PollAction, PollConfig, PollError, Poller};
use ciba_core::{
    AuthRequest, AuthRequestAck, CibaGrant, Client, ClientAuth, ClientConfig, ClientSecret,
    ErrorCode, Hint, Limits, OAuthError, ServerMetadata, ValidatedTokens,
};
use ciba_server::{
    AuthMethod, AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE,
    CibaServer, ClientMetadata, CompleteError, CompleteOutcome, DefaultTokenMinter, DeliveryMode,
    IncomingRequest, IssueOutcome, MemoryStore, ServerConfig, SigningKeySet, StaticClientRegistry,
    TokenOutcome,
};

use crate::block::block_on;
use crate::clock::t0;
use crate::keys::signer;
use crate::random::SplitMix;

/// The server's issuer (no socket listens on it).
pub const ISSUER: &str = "https://op.example";
/// The registered poll client.
pub const CLIENT_ID: &str = "pair-poll-client";
/// Its secret (`client_secret_basic`).
pub const CLIENT_SECRET: &str = "a-long-random-client-secret-for-the-pair";
/// The user the server identifies from the login hint `alice@example.com`.
pub const SUBJECT: &str = "alice";
/// The bound on the steps of one flow: a flow that has not finished by then is a failed test.
const MAX_STEPS: usize = 10_000;

/// What happens during a [`Pair::run_poll_flow`], in time since the flow started.
#[derive(Clone, Debug, Default)]
pub struct PollPlan {
    /// When the user approves; `None`: never (the flow ends at the deadline).
    pub approve_after: Option<Duration>,
    /// When another token request for the same `auth_req_id` (a second instance of the
    /// client) reaches the server: the poller's next poll is then too soon for the server,
    /// which answers `slow_down`.
    pub rival_polls_after: Vec<Duration>,
}

/// One answer of the token endpoint to the poller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollAnswer {
    /// When the poll was sent (and answered: the exchange takes no virtual time), since the
    /// flow started.
    pub after: Duration,
    /// The HTTP status.
    pub status: u16,
    /// The OAuth error code of an error answer; `None` for a success.
    pub error: Option<ErrorCode>,
}

/// How a [`Pair::run_poll_flow`] went.
#[derive(Debug)]
pub struct PollReport {
    /// The acknowledgement of the backchannel request.
    pub ack: AuthRequestAck,
    /// The poller's outcome.
    pub result: Result<ValidatedTokens, PollError>,
    /// Every answer the poller got, in order.
    pub answers: Vec<PollAnswer>,
    /// The error codes the rival polls got, in order.
    pub rival_answers: Vec<Option<ErrorCode>>,
    /// When the poller finished, since the flow started.
    pub finished_after: Duration,
    /// The poller's count of the polls it sent.
    pub polls_sent: u32,
    /// The poller's count of the `slow_down` answers it took.
    pub slow_downs: u32,
}

/// The client and the server, and the clock they share.
pub struct Pair {
    /// The authorization server.
    pub server: CibaServer,
    /// The client: ciba-core's, configured from the server's discovery document.
    pub client: Client,
    /// The server's JWK Set, as the client fetched it.
    pub jwks: JwkSet,
    /// The random source of both sides.
    pub rng: SplitMix,
    /// The shared clock: it starts at [`t0`] and each flow moves it on.
    pub now: SystemTime,
}

impl Pair {
    /// A server with its default configuration (a 5 s poll interval).
    pub fn new() -> Pair {
        Pair::with_config(|_| {})
    }

    /// A server whose configuration `change` edits first (the interval, the lifetime of
    /// requests, ...).
    ///
    /// # Panics
    /// When the configuration is refused, or the client cannot read the server's discovery
    /// document.
    pub fn with_config(change: impl FnOnce(&mut ServerConfig)) -> Pair {
        let keys: Vec<Arc<dyn Signer>> = vec![Arc::new(signer("rs256")), Arc::new(signer("eddsa"))];
        let keys = Arc::new(SigningKeySet::new(keys).expect("the test keys make a key set"));
        let mut config = ServerConfig::new(
            ISSUER,
            format!("{ISSUER}/token"),
            format!("{ISSUER}/bc-authorize"),
        )
        .expect("https endpoints");
        config.jwks_uri = Some(format!("{ISSUER}/jwks"));
        config.id_token_signing_algs = keys.algorithms();
        change(&mut config);
        let mut metadata = ClientMetadata::new(CLIENT_ID);
        metadata.client_secret = Some(CLIENT_SECRET.into());
        metadata.token_endpoint_auth_method = AuthMethod::ClientSecretBasic;
        metadata.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
        metadata.grant_types = vec![CIBA_GRANT_TYPE.into()];
        let mut registry = StaticClientRegistry::new();
        registry
            .register(metadata, &config)
            .expect("the poll client registers");
        let server = CibaServer::new(
            config,
            Arc::new(registry),
            Arc::new(MemoryStore::new()),
            Arc::new(DefaultTokenMinter::new(keys)),
        );
        let now = t0();
        let discovery = serde_json::to_vec(&server.discovery_document()).expect("JSON");
        let metadata = ServerMetadata::from_json(&discovery, ISSUER, &Limits::DEFAULT)
            .expect("the client reads the discovery document");
        let jwks: JwkSet = serde_json::from_value(server.jwks_document(now)).expect("a JWK Set");
        let auth = ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET));
        let client = Client::new(
            ClientConfig::new(CLIENT_ID, auth, DeliveryMode::Poll),
            metadata,
        )
        .expect("the client accepts the server");
        Pair {
            server,
            client,
            jwks,
            rng: SplitMix::new(7),
            now,
        }
    }

    /// A request for alice.
    pub fn alice() -> AuthRequest {
        AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
            .scope(["openid"])
            .binding_message("W4SCT")
    }

    /// The server's backchannel endpoint: authenticates the request and, when it names
    /// alice, issues it; anyone else is refused with `unknown_user_id`.
    pub fn backchannel(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let incoming = IncomingRequest::from_http(request);
        match block_on(
            self.server
                .authenticate_request(&incoming, self.now, &self.rng),
        ) {
            BackchannelOutcome::Respond(r) => r.response,
            BackchannelOutcome::UserIdentification(ticket) => {
                if ticket.hint.value() != "alice@example.com" {
                    let failed = block_on(self.server.fail(
                        &*ticket,
                        ciba_server::FailReason::UnknownUserId,
                        None,
                    ));
                    return failed.response;
                }
                match block_on(self.server.issue(&*ticket, SUBJECT, self.now, &self.rng)) {
                    IssueOutcome::Issued(ack) => ack.response,
                    IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => r.response,
                }
            }
        }
    }

    /// The server's token endpoint.
    ///
    /// # Panics
    /// On a request that is not a CIBA grant: the pair only polls.
    pub fn token(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let incoming = IncomingRequest::from_http(request);
        match block_on(self.server.token_request(&incoming, self.now, &self.rng)) {
            TokenOutcome::Issued(granted) => granted.response,
            TokenOutcome::Respond(r) => r.response,
            TokenOutcome::NotCibaGrant { grant_type } => panic!("not a CIBA grant: {grant_type}"),
        }
    }

    /// Sends `request` through the backchannel endpoint and reads the acknowledgement.
    ///
    /// # Panics
    /// When the server refuses the request.
    pub fn start(&self, request: &AuthRequest) -> AuthRequestAck {
        let request = request
            .build(&self.client, self.now, &self.rng)
            .expect("the client builds the request");
        let response = self.backchannel(&request);
        AuthRequestAck::from_response(&response, self.now, &Limits::DEFAULT).unwrap_or_else(|e| {
            panic!(
                "refused ({e}): {}",
                String::from_utf8_lossy(response.body())
            )
        })
    }

    /// The user approves `auth_req_id` now.
    pub fn approve(&self, auth_req_id: &str) -> Result<CompleteOutcome, CompleteError> {
        let result = AuthenticationResult::Authorized(Authorization::new(SUBJECT));
        block_on(self.server.complete(
            &ciba_server::AuthReqId::from_stored(auth_req_id),
            result,
            self.now,
            &self.rng,
        ))
    }

    /// A poller of the request `ack` acknowledges, its first poll due one interval from now.
    ///
    /// # Panics
    /// When the client cannot poll (it always can: it is a poll client).
    pub fn poller(&self, ack: &AuthRequestAck) -> Poller {
        let validator = IdTokenValidator::for_client(&self.client, self.jwks.clone());
        Poller::new(&self.client, ack, PollConfig::new(validator), self.now)
            .expect("a poll client polls")
    }

    /// Runs a whole poll-mode flow for alice as `plan` says, from the clock's current time,
    /// and leaves the clock where the flow ended.
    ///
    /// # Panics
    /// When the poller asks for something a poll flow against this server never needs (keys,
    /// or an answer it already has), or does not finish within a bounded number of steps.
    pub fn run_poll_flow(&mut self, plan: &PollPlan) -> PollReport {
        let start = self.now;
        let ack = self.start(&Pair::alice());
        let id = ack.auth_req_id.as_str().to_owned();
        let mut poller = self.poller(&ack);
        // The plan's events, soonest first: `true` for the approval, `false` for a rival poll.
        let mut events: Vec<(SystemTime, bool)> = plan
            .rival_polls_after
            .iter()
            .map(|d| (start + *d, false))
            .chain(plan.approve_after.map(|d| (start + d, true)))
            .collect();
        events.sort_by_key(|(at, _)| *at);
        let mut events = std::collections::VecDeque::from(events);
        let mut answers = Vec::new();
        let mut rival_answers = Vec::new();
        for _ in 0..MAX_STEPS {
            while let Some((_, approval)) = events.front().filter(|(at, _)| *at <= self.now) {
                let approval = *approval;
                events.pop_front();
                if approval {
                    match self.approve(&id) {
                        Ok(CompleteOutcome::NothingToSend) | Err(CompleteError::Expired) => {}
                        other => panic!("a poll request's approval: {other:?}"),
                    }
                } else {
                    let rival = CibaGrant::new(ack.auth_req_id.clone())
                        .build(&self.client, self.now, &self.rng)
                        .expect("the client builds the token request");
                    rival_answers.push(error_code(&self.token(&rival)));
                }
            }
            match poller.next(self.now, &self.rng) {
                PollAction::Wait(until) => {
                    let next_event = events.front().map(|(at, _)| *at);
                    self.now = match next_event {
                        Some(at) if at < until => at.max(self.now),
                        _ => until,
                    };
                }
                PollAction::Send(request) => {
                    let response = self.token(&request);
                    answers.push(PollAnswer {
                        after: since(start, self.now),
                        status: response.status().as_u16(),
                        error: error_code(&response),
                    });
                    poller.on_response(response, self.now);
                }
                PollAction::Done(tokens) => {
                    return report(
                        ack,
                        Ok(*tokens),
                        answers,
                        rival_answers,
                        &poller,
                        start,
                        self.now,
                    );
                }
                PollAction::Failed(error) => {
                    return report(
                        ack,
                        Err(error),
                        answers,
                        rival_answers,
                        &poller,
                        start,
                        self.now,
                    );
                }
                other => panic!("a poll flow never needs {other:?}"),
            }
        }
        panic!("the poll flow did not finish within {MAX_STEPS} steps")
    }
}

impl Default for Pair {
    fn default() -> Pair {
        Pair::new()
    }
}

/// The OAuth error code of an error answer.
fn error_code(response: &http::Response<Vec<u8>>) -> Option<ErrorCode> {
    if response.status().is_success() {
        return None;
    }
    OAuthError::from_response(response, &Limits::DEFAULT)
        .ok()
        .map(|e| e.code)
}

fn since(start: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(start).unwrap_or_default()
}

fn report(
    ack: AuthRequestAck,
    result: Result<ValidatedTokens, PollError>,
    answers: Vec<PollAnswer>,
    rival_answers: Vec<Option<ErrorCode>>,
    poller: &Poller,
    start: SystemTime,
    now: SystemTime,
) -> PollReport {
    PollReport {
        ack,
        result,
        answers,
        rival_answers,
        finished_after: since(start, now),
        polls_sent: poller.polls_sent(),
        slow_downs: poller.slow_downs(),
    }
}
