//! A conformance suite for [`Store`] implementations (feature `conformance`).
//!
//! Every check takes a [`MakeStore`]: a function that makes a new, empty store with the given
//! per-client bound. It drives the store through `&dyn Store` only, on a virtual clock, and
//! panics (like `assert!`) with a message when the store behaves differently from what the
//! server relies on: tickets taken once, requests completed once and redeemed once, the
//! `slow_down` interval, expiry and tombstones, the replay caches, token revocation and
//! confirmations, the per-client bound, concurrent inserts and the pending list.
//! [`MemoryStore`](crate::MemoryStore) is the reference and passes every check, and so
//! does ciba-redis's `RedisStore`.
//!
//! The checks are `async` and need no particular runtime: run them from the test harness
//! of your store, with the executor your store needs. [`run_all`] runs every check in turn;
//! each check is also public, so a test per check names what failed.
//!
//! # Running it for a store of your own (for example over SQL)
//!
//! In your crate's `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! ciba-server = { version = "0.1", features = ["conformance"] }
//! ```
//!
//! and in a test (here with tokio; `SqlStore::connect` stands for your store's set-up, which
//! should give each call a fresh, empty database or key prefix):
//!
//! ```ignore
//! use ciba_server::store::Store;
//! use ciba_server::store::conformance::{self, MadeStore};
//!
//! fn make(max_entries_per_client: usize) -> MadeStore {
//!     Box::pin(async move {
//!         let store = SqlStore::connect_fresh(max_entries_per_client).await;
//!         Box::new(store) as Box<dyn Store>
//!     })
//! }
//!
//! #[tokio::test]
//! async fn sql_store_conforms() {
//!     conformance::run_all(&make).await;
//! }
//!
//! // or one test per check:
//! #[tokio::test]
//! async fn an_approved_request_is_redeemed_once() {
//!     conformance::an_approved_request_is_redeemed_once(&make).await;
//! }
//! ```
//!
//! The same suite runs on the [`MemoryStore`](crate::MemoryStore) without any runtime:
//!
//! ```
//! use ciba_server::store::conformance::{self, MadeStore};
//! use ciba_server::store::{MemoryStoreConfig, Store};
//! use ciba_server::MemoryStore;
//!
//! fn make(limit: usize) -> MadeStore {
//!     let config = MemoryStoreConfig::default().with_max_entries_per_client(limit);
//!     Box::pin(async move { Box::new(MemoryStore::with_config(config)) as Box<dyn Store> })
//! }
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop {
//! #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
//! #             return v;
//! #         }
//! #     }
//! # }
//! block_on(conformance::a_ticket_is_taken_once(&make));
//! ```
// A test suite: its checks fail by panicking, as `assert!` does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use serde_json::Map;

use crate::store::{
    CompleteStatus, Completion, Grant, PollStatus, ReplayKey, ReplayPurpose, RequestState, Store,
    StoreError, StoredRequest, TokenFingerprint,
};
use crate::{AuthReqId, Confirmation, DeliveryMode, Ticket, UserHint};

/// The suite's clock starts here.
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Runs every check of the suite, one after the other, each on a store of its own.
pub async fn run_all(make: MakeStore<'_>) {
    a_ticket_is_taken_once(make).await;
    a_removed_or_expired_ticket_cannot_be_taken(make).await;
    a_request_is_visible_as_stored_until_its_tombstone_goes(make).await;
    a_request_in_any_state_round_trips(make).await;
    a_request_is_completed_once(make).await;
    polling_a_pending_request_records_the_poll(make).await;
    slow_down_adds_five_seconds_cumulatively(make).await;
    slow_down_stops_at_the_remaining_lifetime(make).await;
    an_expired_request_answers_expired_until_its_tombstone_goes_then_unknown(make).await;
    an_expired_push_request_reports_its_expiry_once(make).await;
    a_denial_is_reported_once(make).await;
    an_approved_request_is_redeemed_once(make).await;
    another_clients_request_is_unknown_and_untouched(make).await;
    a_dpop_proof_jti_has_its_own_replay_cache(make).await;
    a_token_confirmation_is_kept_until_the_token_expires(make).await;
    a_jti_is_remembered_once_until_it_expires(make).await;
    a_replay_after_redemption_revokes_the_attached_tokens(make).await;
    tokens_attached_after_a_replay_are_revoked_at_once(make).await;
    attaching_tokens_to_an_unredeemed_or_unknown_request_does_nothing(make).await;
    revoked_tokens_stay_revoked_until_they_expire(make).await;
    a_delivered_push_request_is_already_used(make).await;
    one_client_cannot_fill_the_store(make).await;
    duplicate_inserts_are_refused_before_the_bound_is_charged(make).await;
    concurrent_inserts_each_get_their_own_answer(make).await;
    pending_requests_lists_what_waits_for_the_user_soonest_expiry_first(make).await;
}

/// A store being made: what a [`MakeStore`] returns.
pub type MadeStore = Pin<Box<dyn Future<Output = Box<dyn Store>> + Send>>;

/// Makes a new, empty store whose per-client bound (the most entries one client may hold:
/// tickets, requests and replay-cache entries together) is the argument.
pub type MakeStore<'a> = &'a dyn Fn(usize) -> MadeStore;

const ROOMY: usize = 10_000;

fn ticket(id: &str, client: &str, ttl: u64) -> Ticket {
    Ticket {
        id: id.into(),
        client_id: client.into(),
        delivery_mode: DeliveryMode::Poll,
        hint: UserHint::LoginHint {
            value: "alice@example.com".into(),
        },
        scopes: vec!["openid".into()],
        acr_values: vec![],
        binding_message: Some("A1B2".into()),
        user_code: None,
        user_code_required: false,
        requested_expiry: None,
        client_notification_token: None,
        notification_endpoint: None,
        signed_request: false,
        extra: Map::new(),
        expires_at: t0() + secs(ttl),
    }
}

/// The identifier `id` (test identifiers are not minted).
fn rid(id: &str) -> AuthReqId {
    AuthReqId::from_stored(id.to_owned())
}

fn request(id: &str, client: &str, mode: DeliveryMode, expires_in: u64) -> StoredRequest {
    StoredRequest {
        auth_req_id: rid(id),
        client_id: client.into(),
        subject: "alice".into(),
        delivery_mode: mode,
        notification_endpoint: (mode != DeliveryMode::Poll)
            .then(|| "https://rp.example/cb".to_owned()),
        client_notification_token: (mode != DeliveryMode::Poll).then(|| "cnt".into()),
        scopes: vec!["openid".into(), "profile".into()],
        acr_values: vec!["urn:acr:1".into()],
        binding_message: Some("A1B2".into()),
        issued_at: t0(),
        expires_at: t0() + secs(expires_in),
        interval: 5,
        last_poll: None,
        state: RequestState::Pending,
    }
}

/// A poll request `id` of client `c`, expiring after 60 s and kept for 600 s more.
async fn insert(store: &dyn Store, id: &str) -> StoredRequest {
    let r = request(id, "c", DeliveryMode::Poll, 60);
    store
        .insert_request(&r, t0() + secs(660), t0())
        .await
        .unwrap();
    r
}

fn grant() -> Grant {
    let mut claims = Map::new();
    claims.insert("nickname".into(), "al".into());
    Grant {
        subject: "alice".into(),
        scopes: vec!["openid".into()],
        acr: Some("urn:acr:1".into()),
        amr: vec!["pwd".into(), "otp".into()],
        auth_time: Some(t0() + std::time::Duration::new(2, 500_000_000)),
        claims,
    }
}

fn fingerprint(fp: &str, expires_at: SystemTime) -> TokenFingerprint {
    TokenFingerprint {
        fingerprint: fp.into(),
        expires_at,
    }
}

fn replay_key(client: &str, purpose: ReplayPurpose, jti: &str) -> ReplayKey {
    ReplayKey {
        client_id: client.into(),
        purpose,
        jti: jti.into(),
    }
}

// ---- the suite ------------------------------------------------------------------------

/// Checks that a ticket is taken once.
pub async fn a_ticket_is_taken_once(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let t = ticket("t1", "c", 120);
    store.insert_ticket(&t, t0()).await.unwrap();
    assert!(matches!(
        store.insert_ticket(&t, t0() + secs(1)).await,
        Err(StoreError::DuplicateKey)
    ));
    assert_eq!(
        store.take_ticket("t1", t0() + secs(1)).await.unwrap(),
        Some(t)
    );
    assert_eq!(store.take_ticket("t1", t0() + secs(1)).await.unwrap(), None);
    assert!(!store.remove_ticket("t1").await.unwrap());
    assert_eq!(store.take_ticket("never", t0()).await.unwrap(), None);
}

/// Checks that a removed or expired ticket cannot be taken.
pub async fn a_removed_or_expired_ticket_cannot_be_taken(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    store
        .insert_ticket(&ticket("gone", "c", 120), t0())
        .await
        .unwrap();
    assert!(store.remove_ticket("gone").await.unwrap());
    assert_eq!(store.take_ticket("gone", t0()).await.unwrap(), None);
    store
        .insert_ticket(&ticket("old", "c", 120), t0())
        .await
        .unwrap();
    assert_eq!(
        store.take_ticket("old", t0() + secs(120)).await.unwrap(),
        None
    );
    // An expired ticket's id may be used again.
    store
        .insert_ticket(&ticket("t2", "c", 10), t0())
        .await
        .unwrap();
    let again = Ticket {
        expires_at: t0() + secs(30),
        ..ticket("t2", "c", 0)
    };
    store.insert_ticket(&again, t0() + secs(10)).await.unwrap();
    assert_eq!(
        store.take_ticket("t2", t0() + secs(11)).await.unwrap(),
        Some(again)
    );
}

/// Checks that a request is visible as stored until its tombstone goes.
pub async fn a_request_is_visible_as_stored_until_its_tombstone_goes(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let r = request("r", "c", DeliveryMode::Ping, 60);
    store
        .insert_request(&r, t0() + secs(660), t0())
        .await
        .unwrap();
    assert_eq!(
        store.request(&rid("r"), t0()).await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(store.request(&rid("other"), t0()).await.unwrap(), None);
    assert!(matches!(
        store
            .insert_request(&r, t0() + secs(660), t0() + secs(1))
            .await,
        Err(StoreError::DuplicateKey)
    ));
    // Past its expiry it is still kept (a tombstone), until keep-until.
    assert_eq!(
        store.request(&rid("r"), t0() + secs(659)).await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(
        store.request(&rid("r"), t0() + secs(660)).await.unwrap(),
        None
    );
    // Once forgotten, the id may be stored again.
    store
        .insert_request(&r, t0() + secs(1000), t0() + secs(660))
        .await
        .unwrap();
    assert_eq!(
        store.request(&rid("r"), t0() + secs(661)).await.unwrap(),
        Some(r)
    );
}

/// Checks that a request in any state round trips.
pub async fn a_request_in_any_state_round_trips(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let states = [
        RequestState::Authorized(Box::new(grant())),
        RequestState::Denied,
        RequestState::Failed,
        RequestState::Redeemed {
            tokens: vec![fingerprint("fp-a", t0() + secs(3600))],
            replayed: false,
        },
        RequestState::Delivered {
            tokens: vec![
                fingerprint("fp-b", t0() + std::time::Duration::new(3600, 17)),
                fingerprint("fp-c", t0() + secs(7200)),
            ],
        },
        RequestState::Consumed,
    ];
    for (i, state) in states.into_iter().enumerate() {
        let r = StoredRequest {
            state,
            interval: 15,
            last_poll: Some(t0() + secs(3)),
            ..request(&format!("r{i}"), "c", DeliveryMode::Poll, 60)
        };
        store
            .insert_request(&r, t0() + secs(660), t0())
            .await
            .unwrap();
        assert_eq!(store.request(&r.auth_req_id, t0()).await.unwrap(), Some(r));
    }
}

/// Checks that a request is completed once.
pub async fn a_request_is_completed_once(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let r = insert(&*store, "r").await;
    let done = store
        .complete(
            &rid("r"),
            Completion::Authorized(Box::new(grant())),
            t0() + secs(3),
        )
        .await
        .unwrap();
    assert_eq!(done, CompleteStatus::Completed(Box::new(r.clone())));
    assert_eq!(
        store
            .complete(&rid("r"), Completion::Denied, t0() + secs(4))
            .await
            .unwrap(),
        CompleteStatus::AlreadyCompleted
    );
    assert_eq!(
        store
            .complete(&rid("nope"), Completion::Denied, t0())
            .await
            .unwrap(),
        CompleteStatus::Unknown
    );
    let now = store
        .request(&rid("r"), t0() + secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.state, RequestState::Authorized(Box::new(grant())));
}

/// Checks that polling a pending request records the poll.
pub async fn polling_a_pending_request_records_the_poll(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    insert(&*store, "r").await;
    assert_eq!(
        store.poll(&rid("r"), "c", 5, t0() + secs(5)).await.unwrap(),
        PollStatus::Pending
    );
    let r = store
        .request(&rid("r"), t0() + secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.last_poll, Some(t0() + secs(5)));
    assert_eq!(r.interval, 5);
    // Exactly one interval later is on time.
    assert_eq!(
        store
            .poll(&rid("r"), "c", 5, t0() + secs(10))
            .await
            .unwrap(),
        PollStatus::Pending
    );
}

/// Checks that slow down adds five seconds cumulatively.
pub async fn slow_down_adds_five_seconds_cumulatively(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    insert(&*store, "r").await;
    let at = |s| t0() + secs(s);
    assert_eq!(
        store.poll(&rid("r"), "c", 5, at(1)).await.unwrap(),
        PollStatus::Pending
    );
    assert_eq!(
        store.poll(&rid("r"), "c", 5, at(2)).await.unwrap(),
        PollStatus::SlowDown { interval: 10 }
    );
    assert_eq!(
        store.poll(&rid("r"), "c", 5, at(11)).await.unwrap(),
        PollStatus::SlowDown { interval: 15 }
    );
    // The interval counts from the last poll, early or not.
    assert_eq!(
        store.poll(&rid("r"), "c", 5, at(26)).await.unwrap(),
        PollStatus::Pending
    );
    let r = store.request(&rid("r"), at(26)).await.unwrap().unwrap();
    assert_eq!((r.interval, r.last_poll), (15, Some(at(26))));
    // The increment is the caller's.
    assert_eq!(
        store.poll(&rid("r"), "c", 7, at(27)).await.unwrap(),
        PollStatus::SlowDown { interval: 22 }
    );
}

/// A burst of early polls cannot push the interval past the request's expiry: it stops at
/// the remaining lifetime (rounded up to whole seconds) and is never lowered.
pub async fn slow_down_stops_at_the_remaining_lifetime(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    // Expires at t0 + 60 s, interval 5.
    insert(&*store, "r").await;
    let at = |ms: u64| t0() + std::time::Duration::from_millis(ms);
    assert_eq!(
        store.poll(&rid("r"), "c", 5, at(1_000)).await.unwrap(),
        PollStatus::Pending
    );
    let mut last = 5;
    for i in 0..40 {
        match store.poll(&rid("r"), "c", 5, at(1_500 + i)).await.unwrap() {
            PollStatus::SlowDown { interval } => {
                assert!(interval >= last, "lowered from {last} to {interval}");
                assert!(interval <= 59, "{interval} s is past the 58.5 s left");
                last = interval;
            }
            other => panic!("expected slow_down, got {other:?}"),
        }
    }
    // 58.5 s were left: rounded up, 59.
    assert_eq!(last, 59);
    // Near the end, the interval is not lowered to what is left.
    assert_eq!(
        store.poll(&rid("r"), "c", 5, at(59_500)).await.unwrap(),
        PollStatus::SlowDown { interval: 59 }
    );
    let r = store.request(&rid("r"), at(59_500)).await.unwrap().unwrap();
    assert_eq!(r.interval, 59);
}

/// Checks that an expired request answers expired until its tombstone goes then unknown.
pub async fn an_expired_request_answers_expired_until_its_tombstone_goes_then_unknown(
    make: MakeStore<'_>,
) {
    let store = make(ROOMY).await;
    let r = request("r", "c", DeliveryMode::Poll, 10);
    store
        .insert_request(&r, t0() + secs(20), t0())
        .await
        .unwrap();
    assert_eq!(
        store.poll(&rid("r"), "c", 5, t0() + secs(9)).await.unwrap(),
        PollStatus::Pending
    );
    assert_eq!(
        store
            .poll(&rid("r"), "c", 5, t0() + secs(10))
            .await
            .unwrap(),
        PollStatus::Expired
    );
    // A result that comes too late leaves a poll request answering expired_token.
    let before = store
        .request(&rid("r"), t0() + secs(12))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .complete(
                &rid("r"),
                Completion::Authorized(Box::new(grant())),
                t0() + secs(12)
            )
            .await
            .unwrap(),
        CompleteStatus::Expired(Box::new(before))
    );
    assert_eq!(
        store
            .poll(&rid("r"), "c", 5, t0() + secs(19))
            .await
            .unwrap(),
        PollStatus::Expired
    );
    assert_eq!(
        store
            .poll(&rid("r"), "c", 5, t0() + secs(20))
            .await
            .unwrap(),
        PollStatus::Unknown
    );
    assert_eq!(
        store
            .complete(&rid("r"), Completion::Denied, t0() + secs(20))
            .await
            .unwrap(),
        CompleteStatus::Unknown
    );
}

/// Checks that an expired push request reports its expiry once.
pub async fn an_expired_push_request_reports_its_expiry_once(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let r = request("p", "c", DeliveryMode::Push, 10);
    store
        .insert_request(&r, t0() + secs(20), t0())
        .await
        .unwrap();
    assert_eq!(
        store
            .complete(&rid("p"), Completion::Delivered(vec![]), t0() + secs(10))
            .await
            .unwrap(),
        CompleteStatus::Expired(Box::new(r))
    );
    assert_eq!(
        store
            .complete(&rid("p"), Completion::Delivered(vec![]), t0() + secs(11))
            .await
            .unwrap(),
        CompleteStatus::AlreadyCompleted
    );
    let now = store
        .request(&rid("p"), t0() + secs(11))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.state, RequestState::Delivered { tokens: vec![] });
}

/// Checks that a denial is reported once.
pub async fn a_denial_is_reported_once(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    insert(&*store, "d").await;
    insert(&*store, "f").await;
    store
        .complete(&rid("d"), Completion::Denied, t0())
        .await
        .unwrap();
    store
        .complete(&rid("f"), Completion::Failed, t0())
        .await
        .unwrap();
    assert_eq!(
        store.poll(&rid("d"), "c", 5, t0()).await.unwrap(),
        PollStatus::Denied
    );
    assert_eq!(
        store.poll(&rid("d"), "c", 5, t0()).await.unwrap(),
        PollStatus::AlreadyUsed
    );
    assert_eq!(
        store.poll(&rid("f"), "c", 5, t0()).await.unwrap(),
        PollStatus::Failed
    );
    assert_eq!(
        store.poll(&rid("f"), "c", 5, t0()).await.unwrap(),
        PollStatus::AlreadyUsed
    );
    let d = store.request(&rid("d"), t0()).await.unwrap().unwrap();
    assert_eq!(d.state, RequestState::Consumed);
}

/// Checks that an approved request is redeemed once.
pub async fn an_approved_request_is_redeemed_once(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let r = insert(&*store, "r").await;
    store
        .complete(
            &rid("r"),
            Completion::Authorized(Box::new(grant())),
            t0() + secs(1),
        )
        .await
        .unwrap();
    let expected = StoredRequest {
        state: RequestState::Authorized(Box::new(grant())),
        ..r
    };
    // Even a poll that comes early gets the tokens.
    assert_eq!(
        store.poll(&rid("r"), "c", 5, t0() + secs(2)).await.unwrap(),
        PollStatus::Authorized(Box::new(expected))
    );
    assert_eq!(
        store
            .poll(&rid("r"), "c", 5, t0() + secs(30))
            .await
            .unwrap(),
        PollStatus::AlreadyUsed
    );
    let now = store
        .request(&rid("r"), t0() + secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        now.state,
        RequestState::Redeemed {
            tokens: vec![],
            replayed: true
        }
    );
    assert_eq!(now.last_poll, Some(t0() + secs(2)));
}

/// Checks that another client's request is unknown and untouched.
pub async fn another_clients_request_is_unknown_and_untouched(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let r = insert(&*store, "r").await;
    assert_eq!(
        store
            .poll(&rid("r"), "intruder", 5, t0() + secs(1))
            .await
            .unwrap(),
        PollStatus::Unknown
    );
    store
        .complete(&rid("r"), Completion::Authorized(Box::new(grant())), t0())
        .await
        .unwrap();
    assert_eq!(
        store
            .poll(&rid("r"), "intruder", 5, t0() + secs(1))
            .await
            .unwrap(),
        PollStatus::Unknown
    );
    let now = store
        .request(&rid("r"), t0() + secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.last_poll, r.last_poll);
    assert!(matches!(now.state, RequestState::Authorized(_)));
}

/// Checks that a dpop proof jti has its own replay cache.
pub async fn a_dpop_proof_jti_has_its_own_replay_cache(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let dpop = replay_key("c", ReplayPurpose::DpopProof, "j1");
    assert!(
        store
            .remember_jti(&dpop, t0() + secs(60), t0())
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_jti(&dpop, t0() + secs(60), t0() + secs(1))
            .await
            .unwrap()
    );
    let assertion = replay_key("c", ReplayPurpose::ClientAssertion, "j1");
    assert!(
        store
            .remember_jti(&assertion, t0() + secs(60), t0())
            .await
            .unwrap()
    );
}

/// Checks that a token confirmation is kept until the token expires.
pub async fn a_token_confirmation_is_kept_until_the_token_expires(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let bound = Confirmation {
        jkt: Some("jkt-1".into()),
        x5t_s256: Some("x5t-1".into()),
    };
    store
        .record_confirmation("fp-1", &bound, t0() + secs(60), t0())
        .await
        .unwrap();
    assert_eq!(
        store.confirmation("fp-1", t0() + secs(59)).await.unwrap(),
        Some(bound)
    );
    assert_eq!(
        store.confirmation("fp-1", t0() + secs(60)).await.unwrap(),
        None
    );
    assert_eq!(store.confirmation("fp-2", t0()).await.unwrap(), None);
    // An already expired token is not recorded.
    store
        .record_confirmation("fp-3", &Confirmation::dpop("k"), t0(), t0() + secs(1))
        .await
        .unwrap();
    assert_eq!(
        store.confirmation("fp-3", t0() - secs(1)).await.unwrap(),
        None
    );
}

/// Checks that a jti is remembered once until it expires.
pub async fn a_jti_is_remembered_once_until_it_expires(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let key = replay_key("c", ReplayPurpose::ClientAssertion, "j1");
    assert!(
        store
            .remember_jti(&key, t0() + secs(60), t0())
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_jti(&key, t0() + secs(60), t0() + secs(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_jti(&key, t0() + secs(90), t0() + secs(59))
            .await
            .unwrap()
    );
    // Other purposes and other clients have their own caches.
    let other_purpose = replay_key("c", ReplayPurpose::RequestObject, "j1");
    assert!(
        store
            .remember_jti(&other_purpose, t0() + secs(60), t0())
            .await
            .unwrap()
    );
    let other_client = replay_key("d", ReplayPurpose::ClientAssertion, "j1");
    assert!(
        store
            .remember_jti(&other_client, t0() + secs(60), t0())
            .await
            .unwrap()
    );
    let colon = replay_key("c:j1", ReplayPurpose::ClientAssertion, "");
    assert!(
        store
            .remember_jti(&colon, t0() + secs(60), t0())
            .await
            .unwrap()
    );
    // Once expired, the same jti is new again.
    assert!(
        store
            .remember_jti(&key, t0() + secs(200), t0() + secs(60))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_jti(&key, t0() + secs(200), t0() + secs(61))
            .await
            .unwrap()
    );
}

/// Checks that a replay after redemption revokes the attached tokens.
pub async fn a_replay_after_redemption_revokes_the_attached_tokens(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    insert(&*store, "r").await;
    store
        .complete(&rid("r"), Completion::Authorized(Box::new(grant())), t0())
        .await
        .unwrap();
    assert!(matches!(
        store.poll(&rid("r"), "c", 5, t0()).await.unwrap(),
        PollStatus::Authorized(_)
    ));
    let tokens = [
        fingerprint("at-1", t0() + secs(3600)),
        fingerprint("rt-1", t0() + secs(86_400)),
    ];
    store.attach_tokens(&rid("r"), &tokens, t0()).await.unwrap();
    let now = store.request(&rid("r"), t0()).await.unwrap().unwrap();
    assert_eq!(
        now.state,
        RequestState::Redeemed {
            tokens: tokens.to_vec(),
            replayed: false
        }
    );
    assert!(!store.is_revoked("at-1", t0() + secs(1)).await.unwrap());
    assert_eq!(
        store
            .poll(&rid("r"), "c", 5, t0() + secs(10))
            .await
            .unwrap(),
        PollStatus::AlreadyUsed
    );
    assert!(store.is_revoked("at-1", t0() + secs(10)).await.unwrap());
    assert!(store.is_revoked("rt-1", t0() + secs(10)).await.unwrap());
    assert!(!store.is_revoked("at-2", t0() + secs(10)).await.unwrap());
    // A revocation is remembered until the token would have expired anyway.
    assert!(!store.is_revoked("at-1", t0() + secs(3600)).await.unwrap());
    assert!(store.is_revoked("rt-1", t0() + secs(3600)).await.unwrap());
}

/// Checks that tokens attached after a replay are revoked at once.
pub async fn tokens_attached_after_a_replay_are_revoked_at_once(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    insert(&*store, "r").await;
    store
        .complete(&rid("r"), Completion::Authorized(Box::new(grant())), t0())
        .await
        .unwrap();
    assert!(matches!(
        store.poll(&rid("r"), "c", 5, t0()).await.unwrap(),
        PollStatus::Authorized(_)
    ));
    // The replay races ahead of the winner attaching its tokens.
    assert_eq!(
        store.poll(&rid("r"), "c", 5, t0()).await.unwrap(),
        PollStatus::AlreadyUsed
    );
    let tokens = [
        fingerprint("late-at", t0() + secs(3600)),
        fingerprint("already-expired", t0()),
    ];
    store.attach_tokens(&rid("r"), &tokens, t0()).await.unwrap();
    assert!(store.is_revoked("late-at", t0()).await.unwrap());
    assert!(!store.is_revoked("already-expired", t0()).await.unwrap());
}

/// Checks that attaching tokens to an unredeemed or unknown request does nothing.
pub async fn attaching_tokens_to_an_unredeemed_or_unknown_request_does_nothing(
    make: MakeStore<'_>,
) {
    let store = make(ROOMY).await;
    insert(&*store, "r").await;
    let tokens = [fingerprint("x", t0() + secs(3600))];
    store.attach_tokens(&rid("r"), &tokens, t0()).await.unwrap();
    store
        .attach_tokens(&rid("unknown"), &tokens, t0())
        .await
        .unwrap();
    let now = store.request(&rid("r"), t0()).await.unwrap().unwrap();
    assert_eq!(now.state, RequestState::Pending);
    assert!(!store.is_revoked("x", t0()).await.unwrap());
}

/// Checks that revoked tokens stay revoked until they expire.
pub async fn revoked_tokens_stay_revoked_until_they_expire(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let tokens = [
        fingerprint("undelivered-at", t0() + secs(3600)),
        fingerprint("undelivered-rt", t0() + secs(86_400)),
        fingerprint("long-expired", t0()),
    ];
    assert!(!store.is_revoked("undelivered-at", t0()).await.unwrap());
    store.revoke_tokens(&tokens, t0()).await.unwrap();
    // Idempotent, and an empty list is nothing to do.
    store.revoke_tokens(&tokens, t0() + secs(1)).await.unwrap();
    store.revoke_tokens(&[], t0()).await.unwrap();
    assert!(store.is_revoked("undelivered-at", t0()).await.unwrap());
    assert!(
        store
            .is_revoked("undelivered-rt", t0() + secs(10))
            .await
            .unwrap()
    );
    assert!(!store.is_revoked("long-expired", t0()).await.unwrap());
    assert!(!store.is_revoked("never-revoked", t0()).await.unwrap());
    // Remembered until the token would have expired anyway.
    assert!(
        !store
            .is_revoked("undelivered-at", t0() + secs(3600))
            .await
            .unwrap()
    );
    assert!(
        store
            .is_revoked("undelivered-rt", t0() + secs(3600))
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked("undelivered-rt", t0() + secs(86_400))
            .await
            .unwrap()
    );
}

/// Checks that a delivered push request is already used.
pub async fn a_delivered_push_request_is_already_used(make: MakeStore<'_>) {
    let store = make(ROOMY).await;
    let r = request("p", "c", DeliveryMode::Push, 60);
    store
        .insert_request(&r, t0() + secs(660), t0())
        .await
        .unwrap();
    let tokens = vec![fingerprint("pushed", t0() + secs(3600))];
    assert_eq!(
        store
            .complete(&rid("p"), Completion::Delivered(tokens.clone()), t0())
            .await
            .unwrap(),
        CompleteStatus::Completed(Box::new(r))
    );
    let now = store.request(&rid("p"), t0()).await.unwrap().unwrap();
    assert_eq!(now.state, RequestState::Delivered { tokens });
    assert_eq!(
        store.poll(&rid("p"), "c", 5, t0()).await.unwrap(),
        PollStatus::AlreadyUsed
    );
    assert!(!store.is_revoked("pushed", t0()).await.unwrap());
}

/// Checks that one client cannot fill the store.
pub async fn one_client_cannot_fill_the_store(make: MakeStore<'_>) {
    let store = make(3).await;
    let limited = |r: Result<(), StoreError>| {
        assert!(
            matches!(
                &r,
                Err(StoreError::ClientLimitReached { client_id, limit: 3 }) if client_id == "greedy"
            ),
            "{r:?}"
        );
    };
    // Tickets, requests and replay entries all count.
    store
        .insert_ticket(&ticket("t", "greedy", 60), t0())
        .await
        .unwrap();
    store
        .insert_request(
            &request("a", "greedy", DeliveryMode::Poll, 30),
            t0() + secs(60),
            t0(),
        )
        .await
        .unwrap();
    let jti = replay_key("greedy", ReplayPurpose::ClientAssertion, "j");
    assert!(
        store
            .remember_jti(&jti, t0() + secs(90), t0())
            .await
            .unwrap()
    );
    limited(store.insert_ticket(&ticket("t2", "greedy", 60), t0()).await);
    limited(
        store
            .insert_request(
                &request("b", "greedy", DeliveryMode::Poll, 30),
                t0() + secs(60),
                t0(),
            )
            .await,
    );
    let jti2 = replay_key("greedy", ReplayPurpose::RequestObject, "j2");
    limited(
        store
            .remember_jti(&jti2, t0() + secs(60), t0())
            .await
            .map(|_| ()),
    );
    // A known jti is a replay before it is a limit.
    assert!(
        !store
            .remember_jti(&jti, t0() + secs(90), t0())
            .await
            .unwrap()
    );
    // Another client is unaffected.
    store
        .insert_request(
            &request("m", "modest", DeliveryMode::Poll, 30),
            t0() + secs(60),
            t0(),
        )
        .await
        .unwrap();
    // Taking a ticket gives its room back.
    assert!(store.take_ticket("t", t0()).await.unwrap().is_some());
    store
        .insert_ticket(&ticket("t3", "greedy", 60), t0())
        .await
        .unwrap();
    limited(store.insert_ticket(&ticket("t4", "greedy", 60), t0()).await);
    assert!(store.remove_ticket("t3").await.unwrap());
    store
        .insert_ticket(&ticket("t5", "greedy", 60), t0())
        .await
        .unwrap();
    // Entries give their room back when their deadline comes (the request's is its
    // keep-until, the tombstone included).
    limited(
        store
            .insert_ticket(&ticket("t6", "greedy", 100), t0() + secs(59))
            .await,
    );
    store
        .insert_request(
            &request("c", "greedy", DeliveryMode::Poll, 120),
            t0() + secs(160),
            t0() + secs(60),
        )
        .await
        .unwrap();
    store
        .insert_ticket(&ticket("t7", "greedy", 100), t0() + secs(89))
        .await
        .unwrap();
    limited(
        store
            .insert_ticket(&ticket("t8", "greedy", 100), t0() + secs(89))
            .await,
    );
    // The jti's deadline (90) frees the last slot.
    store
        .insert_ticket(&ticket("t9", "greedy", 200), t0() + secs(90))
        .await
        .unwrap();
}

/// Checks that duplicate inserts are refused before the bound is charged.
pub async fn duplicate_inserts_are_refused_before_the_bound_is_charged(make: MakeStore<'_>) {
    let store = make(1).await;
    store
        .insert_ticket(&ticket("t", "c", 60), t0())
        .await
        .unwrap();
    assert!(matches!(
        store.insert_ticket(&ticket("t", "c", 60), t0()).await,
        Err(StoreError::DuplicateKey)
    ));
}

/// Inserts that arrive together (which RedisStore sends as one batch) each get their own
/// answer: the per-client bound holds exactly, a repeated `auth_req_id` is refused for all
/// but one, and every accepted request is stored and listed for its subject.
pub async fn concurrent_inserts_each_get_their_own_answer(make: MakeStore<'_>) {
    let store = make(40).await;
    let of = |id: String, client: &str, subject: &str| StoredRequest {
        subject: subject.into(),
        ..request(&id, client, DeliveryMode::Poll, 60)
    };
    let mut requests: Vec<StoredRequest> = (0..60)
        .map(|i| of(format!("greedy-{i}"), "greedy", "alice"))
        .collect();
    requests.extend((0..10).map(|i| of(format!("calm-{i}"), "calm", "bob")));
    requests.extend((0..5).map(|_| of("twice".to_owned(), "calm", "bob")));
    let store = &*store;
    let answers = join_all(
        requests
            .iter()
            .map(|r| store.insert_request(r, t0() + secs(660), t0())),
    )
    .await;
    let count = |f: &dyn Fn(&Result<(), StoreError>) -> bool, client: &str| {
        requests
            .iter()
            .zip(&answers)
            .filter(|(r, a)| r.client_id == client && f(a))
            .count()
    };
    let ok = |a: &Result<(), StoreError>| a.is_ok();
    let limited = |a: &Result<(), StoreError>| {
        matches!(a, Err(StoreError::ClientLimitReached { limit: 40, .. }))
    };
    let duplicate = |a: &Result<(), StoreError>| matches!(a, Err(StoreError::DuplicateKey));
    assert_eq!(count(&ok, "greedy"), 40, "{answers:?}");
    assert_eq!(count(&limited, "greedy"), 20, "{answers:?}");
    assert_eq!(count(&ok, "calm"), 11, "{answers:?}");
    assert_eq!(count(&duplicate, "calm"), 4, "{answers:?}");
    for (r, a) in requests.iter().zip(&answers) {
        let stored = store.request(&r.auth_req_id, t0()).await.unwrap();
        if a.is_ok() {
            assert_eq!(stored.as_ref(), Some(r));
        } else if r.client_id == "greedy" {
            assert_eq!(
                stored,
                None,
                "{} was refused but stored",
                r.auth_req_id.as_str()
            );
        }
    }
    let alice = store
        .pending_requests(Some("alice"), 100, t0())
        .await
        .unwrap();
    let bob = store
        .pending_requests(Some("bob"), 100, t0())
        .await
        .unwrap();
    let all = store.pending_requests(None, 100, t0()).await.unwrap();
    assert_eq!((alice.len(), bob.len(), all.len()), (40, 11, 51));
}

/// Checks that pending requests lists what waits for the user soonest expiry first.
pub async fn pending_requests_lists_what_waits_for_the_user_soonest_expiry_first(
    make: MakeStore<'_>,
) {
    let store = make(ROOMY).await;
    let of = |id: &str, subject: &str, expires_in: u64| StoredRequest {
        subject: subject.into(),
        ..request(id, "c", DeliveryMode::Poll, expires_in)
    };
    for r in [
        of("a", "alice", 60),
        of("b", "bob", 30),
        of("c", "alice", 90),
        of("d", "alice", 40),
        of("e", "alice", 10),
    ] {
        store
            .insert_request(&r, t0() + secs(700), t0())
            .await
            .unwrap();
    }
    // Only pending requests are listed: not one in another state from the start.
    let done = StoredRequest {
        state: RequestState::Denied,
        ..of("f", "alice", 60)
    };
    store
        .insert_request(&done, t0() + secs(700), t0())
        .await
        .unwrap();
    store
        .complete(&rid("d"), Completion::Denied, t0() + secs(1))
        .await
        .unwrap();
    let ids = |list: Vec<StoredRequest>| -> Vec<String> {
        list.into_iter()
            .map(|r| r.auth_req_id.into_string())
            .collect()
    };
    let now = t0() + secs(11); // e has expired
    let all = store.pending_requests(None, 10, now).await.unwrap();
    assert_eq!(all.first(), Some(&of("b", "bob", 30)), "listed as stored");
    assert_eq!(ids(all), ["b", "a", "c"]);
    assert_eq!(
        ids(store.pending_requests(None, 2, now).await.unwrap()),
        ["b", "a"]
    );
    assert!(
        store
            .pending_requests(None, 0, now)
            .await
            .unwrap()
            .is_empty()
    );
    let alice = store
        .pending_requests(Some("alice"), 10, now)
        .await
        .unwrap();
    assert_eq!(ids(alice), ["a", "c"]);
    assert_eq!(
        ids(store.pending_requests(Some("alice"), 1, now).await.unwrap()),
        ["a"]
    );
    assert!(
        store
            .pending_requests(Some("nobody"), 10, now)
            .await
            .unwrap()
            .is_empty()
    );
    // A poll leaves it pending, and the listing shows the poll.
    assert_eq!(
        store.poll(&rid("a"), "c", 5, now).await.unwrap(),
        PollStatus::Pending
    );
    let a = store.pending_requests(Some("alice"), 1, now).await.unwrap();
    assert_eq!(a[0].last_poll, Some(now));
    // Approved or expired requests leave the list.
    store
        .complete(&rid("a"), Completion::Authorized(Box::new(grant())), now)
        .await
        .unwrap();
    let later = t0() + secs(30); // b has expired
    assert_eq!(
        ids(store.pending_requests(None, 10, later).await.unwrap()),
        ["c"]
    );
    assert!(
        store
            .pending_requests(Some("bob"), 10, later)
            .await
            .unwrap()
            .is_empty()
    );
}
