//! The embedded store: expiry sweeping and the per-client bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use ciba_server::store::{
    Completion, MemoryStoreConfig, PollStatus, ReplayKey, ReplayPurpose, RequestState, Store,
    StoreError, StoredRequest,
};
use ciba_server::{BackchannelOutcome, DeliveryMode, IssueOutcome, MemoryStore};
use common::*;

fn request(id: &str, client: &str, expires_in: u64) -> StoredRequest {
    StoredRequest {
        auth_req_id: id.into(),
        client_id: client.into(),
        subject: "alice".into(),
        delivery_mode: DeliveryMode::Poll,
        notification_endpoint: None,
        client_notification_token: None,
        scopes: vec!["openid".into()],
        acr_values: vec![],
        binding_message: None,
        issued_at: t0(),
        expires_at: t0() + secs(expires_in),
        interval: 5,
        last_poll: None,
        state: RequestState::Pending,
    }
}

#[test]
fn expired_entries_are_forgotten_when_any_later_call_passes_their_deadline() {
    let store = MemoryStore::new();
    for i in 0..100u64 {
        block_on(store.insert_request(
            &request(&format!("r{i}"), "c", 10),
            t0() + secs(10 + i),
            t0(),
        ))
        .unwrap();
    }
    let key = ReplayKey {
        client_id: "c".into(),
        purpose: ReplayPurpose::ClientAssertion,
        jti: "j".into(),
    };
    assert!(block_on(store.remember_jti(&key, t0() + secs(50), t0())).unwrap());
    assert_eq!(store.client_entries("c", t0()), 101);
    assert_eq!(
        store.len(t0() + secs(59)),
        50,
        "r0..r49 and the jti are gone"
    );
    assert_eq!(store.client_entries("c", t0() + secs(59)), 50);
    assert!(block_on(store.remember_jti(&key, t0() + secs(200), t0() + secs(60))).unwrap());
    assert!(store.is_empty(t0() + secs(200)));
    assert_eq!(store.client_entries("c", t0() + secs(200)), 0);
}

#[test]
fn expiry_uses_the_callers_clock_only() {
    let store = MemoryStore::new();
    block_on(store.insert_request(&request("r", "c", 10), t0() + secs(20), t0())).unwrap();
    assert_eq!(
        block_on(store.poll("r", "c", 5, t0() + secs(9))).unwrap(),
        PollStatus::Pending
    );
    assert_eq!(
        block_on(store.poll("r", "c", 5, t0() + secs(15))).unwrap(),
        PollStatus::Expired
    );
    assert_eq!(
        block_on(store.poll("r", "c", 5, t0() + secs(20))).unwrap(),
        PollStatus::Unknown
    );
}

#[test]
fn one_client_cannot_fill_the_store() {
    let store = MemoryStore::with_config(MemoryStoreConfig {
        max_entries_per_client: 3,
    });
    for i in 0..3 {
        block_on(store.insert_request(
            &request(&format!("a{i}"), "greedy", 60),
            t0() + secs(60),
            t0(),
        ))
        .unwrap();
    }
    assert!(matches!(
        block_on(store.insert_request(&request("a3", "greedy", 60), t0() + secs(60), t0())),
        Err(StoreError::ClientLimitReached { limit: 3, .. })
    ));
    // Another client is unaffected, and the greedy one may go on once entries expire.
    block_on(store.insert_request(&request("b0", "modest", 60), t0() + secs(60), t0())).unwrap();
    block_on(store.insert_request(
        &request("a3", "greedy", 60),
        t0() + secs(120),
        t0() + secs(60),
    ))
    .unwrap();
}

#[test]
fn pending_bound_refuses_new_requests_with_503() {
    let h = Harness::with(
        base_config(),
        MemoryStoreConfig {
            max_entries_per_client: 2,
        },
        "eddsa",
    );
    let t1 = h.ticket(&bc_request(POLL, &[]), t0());
    let t2 = h.ticket(&bc_request(POLL, &[]), t0());
    // Both tickets count; a third request is refused before any work for the user.
    let (status, error) = bc_error(&h.backchannel(&bc_request(POLL, &[]), t0()));
    assert_eq!((status, error.as_str()), (503, "temporarily_unavailable"));
    // Turning tickets into requests does not need more room.
    h.issue(&t1, t0());
    h.issue(&t2, t0());
    // Other clients are not affected.
    assert!(matches!(
        h.backchannel(&bc_request(SCOPED, &[]), t0()),
        BackchannelOutcome::UserIdentification(_)
    ));
    // Once the requests and their tombstones are gone, the client may start again.
    let later = t0() + secs(300 + 600);
    let t3 = h.ticket(&bc_request_at(POLL, &[], later), later);
    assert!(matches!(
        block_on(h.server.issue(&t3, "alice", later, &h.rng)),
        IssueOutcome::Issued(_)
    ));
}

#[test]
fn complete_and_poll_are_single_step_transitions() {
    let store = MemoryStore::new();
    block_on(store.insert_request(&request("r", "c", 60), t0() + secs(60), t0())).unwrap();
    assert!(matches!(
        block_on(store.complete("r", Completion::Denied, t0())).unwrap(),
        ciba_server::store::CompleteStatus::Completed(_)
    ));
    assert!(matches!(
        block_on(store.complete("r", Completion::Failed, t0())).unwrap(),
        ciba_server::store::CompleteStatus::AlreadyCompleted
    ));
    assert_eq!(
        block_on(store.poll("r", "other", 5, t0())).unwrap(),
        PollStatus::Unknown
    );
    assert_eq!(
        block_on(store.poll("r", "c", 5, t0())).unwrap(),
        PollStatus::Denied
    );
    assert_eq!(
        block_on(store.poll("r", "c", 5, t0())).unwrap(),
        PollStatus::AlreadyUsed
    );
}
