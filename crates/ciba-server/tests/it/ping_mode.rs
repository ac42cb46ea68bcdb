//! Ping mode on a virtual clock: the ping request, then tokens, denial or expiry.

use crate::common;

use ciba_server::{CompleteError, CompleteOutcome, TokenOutcome};
use common::*;

fn assert_is_ping(outcome: &CompleteOutcome, auth_req_id: &(impl IdArg + ?Sized)) {
    let CompleteOutcome::Ping(req) = outcome else {
        panic!("expected a ping, got {outcome:?}")
    };
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), PING_ENDPOINT);
    assert_eq!(
        req.headers()["authorization"],
        format!("Bearer {CNT}").as_str()
    );
    assert_eq!(req.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "auth_req_id": auth_req_id.text() })
    );
}

#[test]
fn ping_client_is_pinged_then_redeems_tokens_at_once() {
    let h = Harness::new();
    let ticket = h.ticket(&bc_request(PING, &[]), t0());
    assert_eq!(
        ticket.client_notification_token.as_ref().unwrap().expose(),
        CNT
    );
    assert_eq!(ticket.notification_endpoint.as_deref(), Some(PING_ENDPOINT));
    let ack = h.issue(&ticket, t0());
    assert_eq!(ack.interval, Some(5));
    // The client may poll before the ping, like a poll client.
    let early = h.poll(PING, &ack.auth_req_id, t0() + secs(5));
    assert_eq!(token_error(&early).1, "authorization_pending");
    let done = h.approve(&ack.auth_req_id, t0() + secs(6)).unwrap();
    assert_is_ping(&done, &ack.auth_req_id);
    assert_eq!(done.notification().unwrap().uri(), PING_ENDPOINT);
    // Right after the ping, even within the interval, the result is available.
    let at = t0() + secs(7);
    let TokenOutcome::Issued(grant) = h.poll(PING, &ack.auth_req_id, at) else {
        panic!("expected tokens")
    };
    check_token_response(&h.op_keys, &json_body(&grant.response), PING, at);
}

#[test]
fn ping_client_denied_is_pinged_and_gets_access_denied() {
    let h = Harness::new();
    let ack = h.start(PING, t0());
    let done = h.deny(&ack.auth_req_id, t0() + secs(4)).unwrap();
    assert_is_ping(&done, &ack.auth_req_id);
    assert_eq!(
        token_error(&h.poll(PING, &ack.auth_req_id, t0() + secs(5))),
        (400, "access_denied".into())
    );
}

#[test]
fn ping_request_that_expires_is_not_pinged_and_answers_expired_token() {
    let h = Harness::new();
    let ack = h.issue(
        &h.ticket(&bc_request(PING, &[("requested_expiry", "60")]), t0()),
        t0(),
    );
    let late = h.approve(&ack.auth_req_id, t0() + secs(61));
    assert!(matches!(late, Err(CompleteError::Expired)));
    assert_eq!(
        token_error(&h.poll(PING, &ack.auth_req_id, t0() + secs(62))),
        (400, "expired_token".into())
    );
}

#[test]
fn ping_and_push_clients_must_send_a_valid_notification_token() {
    let h = Harness::new();
    for client in [PING, PUSH] {
        let missing = h.backchannel(
            &bc_request(client, &[("client_notification_token", "")]),
            t0(),
        );
        assert_eq!(bc_error(&missing), (400, "invalid_request".into()));
        let bad = h.backchannel(
            &bc_request(client, &[("client_notification_token", "not a b64token")]),
            t0(),
        );
        assert_eq!(bc_error(&bad), (400, "invalid_request".into()));
        let long = "a".repeat(1025);
        let too_long = h.backchannel(
            &bc_request(client, &[("client_notification_token", &long)]),
            t0(),
        );
        assert_eq!(bc_error(&too_long), (400, "invalid_request".into()));
    }
    // Poll clients may send one; it is ignored.
    let t = h.ticket(
        &bc_request(POLL, &[("client_notification_token", CNT)]),
        t0(),
    );
    assert!(t.client_notification_token.is_none());
}
