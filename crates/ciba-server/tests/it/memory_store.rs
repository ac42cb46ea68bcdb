//! The embedded store: expiry sweeping and the per-client bound.

use crate::common;

use ciba_server::store::{
    Completion, MemoryStoreConfig, PollStatus, ReplayKey, ReplayPurpose, Store, StoreError,
    StoredRequest,
};
use ciba_server::{BackchannelOutcome, IssueOutcome, MemoryStore};
use ciba_test::store::pending_request;
use common::*;

fn request(id: &str, client: &str, expires_in: u64) -> StoredRequest {
    pending_request(aid(id), client, t0(), t0() + secs(expires_in))
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
        block_on(store.poll(&aid("r"), "c", 5, t0() + secs(9))).unwrap(),
        PollStatus::Pending
    );
    assert_eq!(
        block_on(store.poll(&aid("r"), "c", 5, t0() + secs(15))).unwrap(),
        PollStatus::Expired
    );
    assert_eq!(
        block_on(store.poll(&aid("r"), "c", 5, t0() + secs(20))).unwrap(),
        PollStatus::Unknown
    );
}

#[test]
fn one_client_cannot_fill_the_store() {
    let store =
        MemoryStore::with_config(MemoryStoreConfig::default().with_max_entries_per_client(3));
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
        MemoryStoreConfig::default().with_max_entries_per_client(2),
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
        block_on(store.complete(&aid("r"), Completion::Denied, t0())).unwrap(),
        ciba_server::store::CompleteStatus::Completed(_)
    ));
    assert!(matches!(
        block_on(store.complete(&aid("r"), Completion::Failed, t0())).unwrap(),
        ciba_server::store::CompleteStatus::AlreadyCompleted
    ));
    assert_eq!(
        block_on(store.poll(&aid("r"), "other", 5, t0())).unwrap(),
        PollStatus::Unknown
    );
    assert_eq!(
        block_on(store.poll(&aid("r"), "c", 5, t0())).unwrap(),
        PollStatus::Denied
    );
    assert_eq!(
        block_on(store.poll(&aid("r"), "c", 5, t0())).unwrap(),
        PollStatus::AlreadyUsed
    );
}

fn for_subject(id: &str, subject: &str, expires_in: u64) -> StoredRequest {
    StoredRequest {
        subject: subject.into(),
        ..request(id, "c", expires_in)
    }
}

fn ids(requests: &[StoredRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.auth_req_id.as_str()).collect()
}

#[test]
fn pending_requests_lists_the_waiting_ones_soonest_expiry_first() {
    let store = MemoryStore::new();
    let kept = |r: &StoredRequest| r.expires_at + secs(600);
    let list = |subject: Option<&str>, limit: usize, at: u64| {
        block_on(store.pending_requests(subject, limit, t0() + secs(at))).unwrap()
    };
    // Inserted out of expiry order, for three users.
    let requests = [
        for_subject("a-100", "alice", 100),
        for_subject("b-50", "bob", 50),
        for_subject("a-200", "alice", 200),
        for_subject("a-30", "alice", 30),
        for_subject("a-10", "alice", 10),
        for_subject("c-150", "carol", 150),
    ];
    for r in &requests {
        block_on(store.insert_request(r, kept(r), t0())).unwrap();
    }
    // Denied: no longer waiting for the user, though still kept.
    block_on(store.complete(&aid("a-30"), Completion::Denied, t0() + secs(1))).unwrap();

    // At +20, a-10 has expired (its tombstone is still kept) and a-30 is finished.
    let all = list(None, 10, 20);
    assert_eq!(ids(&all), ["b-50", "a-100", "c-150", "a-200"]);
    assert_eq!(all[0], requests[1], "each comes back as stored");
    assert_eq!(ids(&list(Some("alice"), 10, 20)), ["a-100", "a-200"]);
    assert_eq!(ids(&list(Some("dave"), 10, 20)), Vec::<&str>::new());
    // The limit keeps the soonest.
    assert_eq!(ids(&list(None, 2, 20)), ["b-50", "a-100"]);
    assert_eq!(ids(&list(Some("alice"), 1, 20)), ["a-100"]);
    assert!(list(None, 0, 20).is_empty());
    assert_eq!(store.len(t0() + secs(20)), 6, "listing forgets nothing");

    // Completed or expired, a request leaves the list.
    block_on(store.complete(
        &aid("b-50"),
        Completion::Authorized(Box::new(ciba_server::store::Grant {
            subject: "bob".into(),
            scopes: vec!["openid".into()],
            acr: None,
            amr: vec![],
            auth_time: None,
            claims: serde_json::Map::new(),
        })),
        t0() + secs(21),
    ))
    .unwrap();
    assert_eq!(ids(&list(None, 10, 22)), ["a-100", "c-150", "a-200"]);
    assert_eq!(ids(&list(None, 10, 100)), ["c-150", "a-200"]);
    assert_eq!(ids(&list(None, 10, 199)), ["a-200"]);
    assert!(list(None, 10, 200).is_empty());
    assert!(list(Some("alice"), 10, 10_000).is_empty());
}

#[test]
fn pending_requests_of_the_server_are_those_it_issued_and_nobody_answered() {
    let h = Harness::new();
    let first = h.start(POLL, t0());
    let second = h.start(PING, t0() + secs(1));
    let third = h.start(PUSH, t0() + secs(2));
    let listed = h.pending_requests(None, 10, t0() + secs(3)).unwrap();
    assert_eq!(
        ids(&listed),
        [
            first.auth_req_id.as_str(),
            second.auth_req_id.as_str(),
            third.auth_req_id.as_str()
        ]
    );
    for r in &listed {
        assert_eq!(
            Some(r),
            h.pending_request(&r.auth_req_id, t0() + secs(3))
                .unwrap()
                .as_ref()
        );
    }
    h.complete(
        &second.auth_req_id,
        ciba_server::AuthenticationResult::AccessDenied,
        t0() + secs(4),
    )
    .unwrap();
    let listed = h
        .pending_requests(Some("alice"), 10, t0() + secs(5))
        .unwrap();
    assert_eq!(
        ids(&listed),
        [first.auth_req_id.as_str(), third.auth_req_id.as_str()]
    );
    assert!(
        h.pending_requests(Some("bob"), 10, t0() + secs(5))
            .unwrap()
            .is_empty()
    );
}
