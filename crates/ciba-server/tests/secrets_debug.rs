//! No secret or token in `Debug` output of ciba-server types (docs/security.md, "Secrets"):
//! client secrets, `client_notification_token`s, user codes, `auth_req_id`s, minted tokens and
//! the notification requests that carry them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use ciba_server::store::Store;
use ciba_server::{AuthenticationResult, Authorization, CompleteOutcome, Secret, TokenOutcome};
use common::*;

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
    }
}

#[test]
fn secrets_and_client_metadata_never_print_a_secret() {
    let s = Secret::new("SECRET-server-secret-31337");
    assert_hidden("Secret", &format!("{s:?} {s:#?}"), &["SECRET-server"]);
    for c in clients() {
        let printed = format!("{c:?}");
        let secret = secret_of(&c.client_id);
        if !secret.is_empty() {
            assert_hidden("ClientMetadata", &printed, &[secret]);
        }
    }
}

#[test]
fn tickets_requests_notifications_and_grants_never_print_secrets() {
    let h = Harness::new();
    let now = t0();

    // A user code sits in the ticket.
    let uc = h.ticket(
        &bc_request(USER_CODE, &[("user_code", "SECRET-user-code-8086")]),
        now,
    );
    assert!(uc.user_code.is_some());
    assert_hidden("Ticket", &format!("{uc:?}"), &["SECRET-user-code-8086"]);

    // A ping client's notification token travels from ticket to stored request to the ping.
    let ticket = h.ticket(&bc_request(PING, &[]), now);
    assert_hidden("Ticket", &format!("{ticket:?}"), &[CNT, PING_SECRET]);
    let ack = h.issue(&ticket, now);
    let id = ack.auth_req_id.clone();
    assert_hidden("Acknowledgement", &format!("{ack:?}"), &[&id, CNT]);
    let stored = h.store.request(&id, now).unwrap().unwrap();
    assert_hidden("StoredRequest", &format!("{stored:?}"), &[&id, CNT]);

    let done = h
        .server
        .complete(
            &id,
            AuthenticationResult::Authorized(Authorization::new("alice")),
            now + secs(1),
            &h.rng,
        )
        .unwrap();
    assert!(matches!(done, CompleteOutcome::Ping(_)));
    assert_hidden("CompleteOutcome::Ping", &format!("{done:?}"), &[CNT]);

    let TokenOutcome::Issued(grant) = h.poll(PING, &id, now + secs(2)) else {
        panic!("expected tokens")
    };
    let tokens = grant.tokens.clone();
    let at = tokens.access_token.expose().to_owned();
    let rt = tokens.refresh_token.as_ref().map(|t| t.expose().to_owned());
    let mut secrets = vec![at.as_str(), tokens.id_token.as_str(), id.as_str()];
    if let Some(rt) = &rt {
        secrets.push(rt);
    }
    assert_hidden("MintedTokens", &format!("{tokens:?}"), &secrets);
    assert_hidden("TokenGrant", &format!("{grant:?}"), &secrets);
    let outcome = TokenOutcome::Issued(grant);
    assert_hidden("TokenOutcome", &format!("{outcome:?}"), &secrets);
}
