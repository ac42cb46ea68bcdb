//! End to end, in process: the ciba-core client (request builders, acknowledgement parsing,
//! the Poller on a virtual clock, ID token validation, ping and push handling) against
//! ciba-server, for poll, ping and push, each to tokens, to denial and to expiry.

use crate::common;

use std::time::SystemTime;

use ciba_core::AuthRequestAck;
use ciba_core::CibaGrant;
use ciba_core::ServerMetadata;
use ciba_core::ValidatedTokens;
use ciba_core::id_token::IdTokenValidator;
use ciba_core::jose::JwkSet;
use ciba_core::notification::{Push, PushErrorCode, receive_ping, receive_push};
use ciba_core::poll::{PollAction, PollConfig, PollError, Poller};
use ciba_core::{AuthRequest, Hint};
use ciba_core::{Client, ClientConfig};
use ciba_core::{ClientAuth, ClientSecret};
use ciba_core::{ErrorCode, Limits, OAuthError};
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, CompleteError, CompleteOutcome,
    DeliveryMode, IncomingRequest, IssueOutcome, TokenOutcome,
};
use common::*;

/// The relying party: a ciba-core client bound to the server's discovery document.
struct Rp {
    client: Client,
    jwks: JwkSet,
}

fn rp(h: &Harness, id: &str, auth: ClientAuth, mode: DeliveryMode) -> Rp {
    let discovery = serde_json::to_vec(&h.server.discovery_document()).unwrap();
    let metadata = ServerMetadata::from_json(&discovery, ISSUER, &Limits::DEFAULT).unwrap();
    let mut config = ClientConfig::new(id, auth, mode);
    config.notification_endpoint = match mode {
        DeliveryMode::Ping => Some(PING_ENDPOINT.into()),
        DeliveryMode::Push => Some(PUSH_ENDPOINT.into()),
        DeliveryMode::Poll => None,
    };
    let jwks: JwkSet = serde_json::from_value(h.server.jwks_document(t0())).unwrap();
    Rp {
        client: Client::new(config, metadata).unwrap(),
        jwks,
    }
}

impl Rp {
    fn validator(&self) -> IdTokenValidator {
        IdTokenValidator::for_client(&self.client, self.jwks.clone())
    }
}

fn poll_rp(h: &Harness) -> Rp {
    rp(
        h,
        POLL,
        ClientAuth::SecretBasic(ClientSecret::new(POLL_SECRET)),
        DeliveryMode::Poll,
    )
}

fn ping_rp(h: &Harness) -> Rp {
    rp(
        h,
        PING,
        ClientAuth::SecretPost(ClientSecret::new(PING_SECRET)),
        DeliveryMode::Ping,
    )
}

fn push_rp(h: &Harness) -> Rp {
    rp(
        h,
        PUSH,
        ClientAuth::private_key_jwt(signer("es256")),
        DeliveryMode::Push,
    )
}

/// The AS side of the backchannel endpoint: authenticate, identify the user, issue.
fn as_backchannel(
    h: &Harness,
    req: &http::Request<Vec<u8>>,
    now: SystemTime,
) -> http::Response<Vec<u8>> {
    match block_on(
        h.server
            .authenticate_request(&IncomingRequest::from_http(req), now, &h.rng),
    ) {
        BackchannelOutcome::Respond(r) => r.response,
        BackchannelOutcome::UserIdentification(ticket) => {
            assert_eq!(ticket.hint.value(), "alice@example.com");
            match block_on(h.server.issue(&*ticket, "alice", now, &h.rng)) {
                IssueOutcome::Issued(ack) => ack.response,
                IssueOutcome::InvalidTicket(r) | IssueOutcome::Refused(r) => r.response,
            }
        }
    }
}

/// The AS side of the token endpoint.
fn as_token(h: &Harness, req: &http::Request<Vec<u8>>, now: SystemTime) -> http::Response<Vec<u8>> {
    match block_on(
        h.server
            .token_request(&IncomingRequest::from_http(req), now, &h.rng),
    ) {
        TokenOutcome::Issued(g) => g.response,
        TokenOutcome::Respond(r) => r.response,
        TokenOutcome::NotCibaGrant { grant_type } => panic!("not routed: {grant_type}"),
    }
}

fn start(h: &Harness, rp: &Rp, request: AuthRequest, now: SystemTime) -> AuthRequestAck {
    let req = request.build(&rp.client, now, &h.rng).unwrap();
    let resp = as_backchannel(h, &req, now);
    AuthRequestAck::from_response(&resp, now, &Limits::DEFAULT).unwrap()
}

fn alice() -> AuthRequest {
    AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
        .scope(["openid"])
        .binding_message("W4SCT")
}

/// Drives `poller` on the virtual clock until it finishes. At `decide_at` the user's
/// `decision` is recorded (ping notifications go through `receive_ping`).
fn drive(
    h: &Harness,
    rp: &Rp,
    poller: &mut Poller,
    mut now: SystemTime,
    mut decision: Option<(SystemTime, AuthenticationResult)>,
) -> (Result<ValidatedTokens, PollError>, SystemTime) {
    for _ in 0..1000 {
        if let Some((at, _)) = &decision
            && now >= *at
        {
            let (_, result) = decision.take().unwrap();
            let id = poller.auth_req_id().as_str().to_owned();
            match h.complete(&id, result, now) {
                Ok(CompleteOutcome::Ping(req)) => {
                    let lookup = |aid: &str| (aid == id).then(|| CNT.to_owned());
                    let outcome = receive_ping(&req, &lookup, &Limits::DEFAULT);
                    assert_eq!(outcome.response.status(), 204);
                    assert_eq!(outcome.result.unwrap().auth_req_id.as_str(), id);
                    poller.ping_received();
                }
                Ok(CompleteOutcome::NothingToSend) => {
                    assert_eq!(rp.client.delivery_mode(), DeliveryMode::Poll)
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(CompleteError::Expired) => {}
                Err(e) => panic!("complete failed: {e:?}"),
            }
        }
        match poller.next(now, &h.rng) {
            PollAction::Wait(t) => {
                now = match &decision {
                    Some((at, _)) if *at < t => (*at).max(now),
                    _ => t,
                }
            }
            PollAction::Send(req) => {
                let resp = as_token(h, &req, now);
                poller.on_response(resp, now);
            }
            PollAction::Done(tokens) => return (Ok(*tokens), now),
            PollAction::Failed(e) => return (Err(e), now),
            other => panic!("unexpected poll action {other:?}"),
        }
    }
    panic!("the poller did not finish")
}

#[test]
fn core_poll_client_gets_validated_tokens() {
    let h = Harness::new();
    let rp = poll_rp(&h);
    let ack = start(&h, &rp, alice(), t0());
    assert_eq!(ack.interval.as_secs(), 5);
    let mut poller = Poller::new(&rp.client, &ack, PollConfig::new(rp.validator()), t0()).unwrap();
    let approve = AuthenticationResult::Authorized(Authorization::new("alice"));
    let (result, at) = drive(&h, &rp, &mut poller, t0(), Some((t0() + secs(12), approve)));
    let tokens = result.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(tokens.id_token.iss, ISSUER);
    assert!(tokens.id_token.at_hash.is_some() && tokens.id_token.rt_hash.is_some());
    assert!(tokens.response.refresh_token.is_some());
    assert!(at >= t0() + secs(12));
    assert!(poller.polls_sent() >= 2, "it polled while pending");
}

#[test]
fn core_poll_client_is_told_access_denied() {
    let h = Harness::new();
    let rp = poll_rp(&h);
    let ack = start(&h, &rp, alice(), t0());
    let mut poller = Poller::new(&rp.client, &ack, PollConfig::new(rp.validator()), t0()).unwrap();
    let deny = Some((t0() + secs(7), AuthenticationResult::AccessDenied));
    let (result, _) = drive(&h, &rp, &mut poller, t0(), deny);
    assert!(matches!(result, Err(PollError::AccessDenied(_))));
}

#[test]
fn core_poll_client_stops_at_expiry_and_the_server_agrees() {
    let h = Harness::new();
    let rp = poll_rp(&h);
    let request = alice().requested_expiry(std::num::NonZeroU32::new(20).unwrap());
    let ack = start(&h, &rp, request, t0());
    assert_eq!(ack.expires_in.as_secs(), 20);
    let mut poller = Poller::new(&rp.client, &ack, PollConfig::new(rp.validator()), t0()).unwrap();
    let (result, now) = drive(&h, &rp, &mut poller, t0(), None);
    assert!(matches!(result, Err(PollError::ExpiredLocally { .. })));
    // A token request after the deadline gets expired_token from the server.
    let req = CibaGrant::new(ack.auth_req_id.clone())
        .build(&rp.client, now, &h.rng)
        .unwrap();
    let err = OAuthError::from_response(&as_token(&h, &req, now), &Limits::DEFAULT).unwrap();
    assert_eq!(err.code, ErrorCode::ExpiredToken);
}

#[test]
fn core_signed_request_is_accepted() {
    let h = Harness::new();
    let rp = rp(
        &h,
        SIGNED,
        ClientAuth::private_key_jwt(signer("ps256")),
        DeliveryMode::Poll,
    );
    let req = alice()
        .build_signed(&rp.client, &signer("ps256"), t0(), &h.rng)
        .unwrap();
    let resp = as_backchannel(&h, &req, t0());
    assert_eq!(
        resp.status(),
        200,
        "{}",
        String::from_utf8_lossy(resp.body())
    );
}

#[test]
fn core_ping_client_is_pinged_and_redeems_tokens() {
    let h = Harness::new();
    let rp = ping_rp(&h);
    let ack = start(&h, &rp, alice().client_notification_token(CNT), t0());
    let mut poller = Poller::new(&rp.client, &ack, PollConfig::new(rp.validator()), t0()).unwrap();
    let approve = AuthenticationResult::Authorized(Authorization::new("alice"));
    let (result, _) = drive(&h, &rp, &mut poller, t0(), Some((t0() + secs(3), approve)));
    let tokens = result.unwrap();
    assert_eq!(tokens.id_token.aud, [PING]);
    assert_eq!(
        poller.polls_sent(),
        1,
        "the ping made the first request due at once"
    );
}

#[test]
fn core_ping_client_is_pinged_and_told_access_denied() {
    let h = Harness::new();
    let rp = ping_rp(&h);
    let ack = start(&h, &rp, alice().client_notification_token(CNT), t0());
    let mut poller = Poller::new(&rp.client, &ack, PollConfig::new(rp.validator()), t0()).unwrap();
    let deny = Some((t0() + secs(2), AuthenticationResult::AccessDenied));
    let (result, _) = drive(&h, &rp, &mut poller, t0(), deny);
    assert!(matches!(result, Err(PollError::AccessDenied(_))));
}

#[test]
fn core_ping_client_expires_without_a_ping() {
    let h = Harness::new();
    let rp = ping_rp(&h);
    let request = alice()
        .client_notification_token(CNT)
        .requested_expiry(std::num::NonZeroU32::new(12).unwrap());
    let ack = start(&h, &rp, request, t0());
    let mut poller = Poller::new(&rp.client, &ack, PollConfig::new(rp.validator()), t0()).unwrap();
    // The user answers too late: the server sends no ping.
    let late = Some((
        t0() + secs(30),
        AuthenticationResult::Authorized(Authorization::new("alice")),
    ));
    let (result, _) = drive(&h, &rp, &mut poller, t0(), late);
    assert!(matches!(result, Err(PollError::ExpiredLocally { .. })));
    let id = ack.auth_req_id.as_str();
    let late = h.approve(id, t0() + secs(30));
    assert!(matches!(late, Err(CompleteError::Expired)));
}

fn push_start(h: &Harness, rp: &Rp, request: AuthRequest) -> AuthRequestAck {
    start(h, rp, request.client_notification_token(CNT), t0())
}

fn deliver(h: &Harness, rp: &Rp, id: &str, result: AuthenticationResult, now: SystemTime) -> Push {
    let outcome = h.complete(id, result, now).unwrap();
    let req = outcome.notification().expect("push mode always notifies");
    let lookup = |aid: &str| (aid == id).then(|| CNT.to_owned());
    let received = receive_push(req, &lookup, &rp.validator(), now, &Limits::DEFAULT);
    assert_eq!(received.response.status(), 204);
    received.result.unwrap()
}

#[test]
fn core_push_client_validates_pushed_tokens() {
    let h = Harness::new();
    let rp = push_rp(&h);
    let ack = push_start(&h, &rp, alice());
    let id = ack.auth_req_id.as_str();
    let push = deliver(
        &h,
        &rp,
        id,
        AuthenticationResult::Authorized(Authorization::new("alice")),
        t0() + secs(9),
    );
    let Push::Tokens {
        auth_req_id,
        tokens,
    } = push
    else {
        panic!("expected tokens, got {push:?}")
    };
    assert_eq!(auth_req_id.as_str(), id);
    assert_eq!(tokens.id_token.auth_req_id.as_deref(), Some(id));
    assert!(tokens.id_token.rt_hash.is_some());
}

#[test]
fn core_push_client_receives_access_denied() {
    let h = Harness::new();
    let rp = push_rp(&h);
    let ack = push_start(&h, &rp, alice());
    let push = deliver(
        &h,
        &rp,
        ack.auth_req_id.as_str(),
        AuthenticationResult::AccessDenied,
        t0(),
    );
    let Push::Error { error, .. } = push else {
        panic!("expected an error payload")
    };
    assert_eq!(error.code, PushErrorCode::AccessDenied);
}

#[test]
fn core_push_client_receives_expired_token_after_expiry() {
    let h = Harness::new();
    let rp = push_rp(&h);
    let ack = push_start(
        &h,
        &rp,
        alice().requested_expiry(std::num::NonZeroU32::new(15).unwrap()),
    );
    let push = deliver(
        &h,
        &rp,
        ack.auth_req_id.as_str(),
        AuthenticationResult::Authorized(Authorization::new("alice")),
        t0() + secs(16),
    );
    let Push::Error { error, .. } = push else {
        panic!("expected an error payload")
    };
    assert_eq!(error.code, PushErrorCode::ExpiredToken);
}
