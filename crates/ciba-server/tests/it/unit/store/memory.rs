//! The memory store's compact records, shards and pending list (src/store/memory.rs). The
//! store's `*_now` operations are reached through the `Store` trait: the memory store's
//! futures are ready on their first poll.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::random::{IDENTIFIER_BYTES, Random, RandomError, random_identifier};
use ciba_server::__internals::{
    MINTED_ID_LEN, MintedId, Record, RequestKey, SHARDS, Slot, minted_id, requests_per_shard,
    shared_parts,
};
use ciba_server::store::{
    CompleteStatus, Completion, Grant, PollStatus, RequestState, Store, StoreError, StoredRequest,
};
use ciba_server::{AuthReqId, DeliveryMode, MemoryStore, MemoryStoreConfig, Secret};
use ciba_test::block::block_on;
use serde_json::Map;

struct Fixed(u8);
impl Random for Fixed {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        dest.fill(self.0);
        Ok(())
    }
}

fn minted(byte: u8) -> String {
    random_identifier(&Fixed(byte), IDENTIFIER_BYTES).unwrap()
}

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
}

fn pending(id: &str, client: &str) -> StoredRequest {
    ciba_test::store::pending_request(AuthReqId::from_stored(id), client, t(0), t(300))
}

fn with_every_part(id: &str) -> StoredRequest {
    StoredRequest {
        delivery_mode: DeliveryMode::Ping,
        notification_endpoint: Some("https://rp.example/cb".into()),
        client_notification_token: Some(Secret::new("cnt")),
        scopes: vec!["openid".into(), "email".into()],
        acr_values: vec!["urn:acr:2fa".into()],
        binding_message: Some("W4SCT".into()),
        last_poll: Some(t(7)),
        ..pending(id, "client-b")
    }
}

#[test]
fn minted_identifiers_are_keyed_by_their_bytes_and_others_by_their_text() {
    let id = minted(0xab);
    assert_eq!(id.len(), MINTED_ID_LEN);
    assert_eq!(minted_id(&id), Some([0xab; IDENTIFIER_BYTES]));
    // The last of the 27 characters carries 2 spare bits, zero in the canonical text
    // ('s' here); with one set ('t') a lenient decoder yields the same bytes, so that
    // text must not share the key.
    assert!(id.ends_with('s'));
    let mut bent = id.clone();
    bent.pop();
    bent.push('t');
    assert_eq!(minted_id(&bent), None);
    assert_eq!(minted_id("req-1"), None);
    assert_eq!(minted_id(&format!("{}=", &id[..26])), None);
    assert_eq!(minted_id(&id.replace('q', "+")), None);
    assert!(matches!(RequestKey::of(&id), RequestKey::Minted(_)));
    assert!(matches!(
        RequestKey::of("req-1"),
        RequestKey::Other("req-1")
    ));
}

#[test]
fn requests_come_back_exactly_as_stored_under_either_kind_of_identifier() {
    let store = MemoryStore::new();
    let requests = [
        pending(&minted(1), "client-a"),
        with_every_part(&minted(2)),
        pending("req-1", "client-a"),
        with_every_part("req-2"),
    ];
    for r in &requests {
        block_on(store.insert_request(r, t(900), t(0))).unwrap();
    }
    for r in &requests {
        assert_eq!(
            block_on(store.request(&r.auth_req_id, t(1)))
                .unwrap()
                .as_ref(),
            Some(r)
        );
    }
    let twin = pending(&minted(1), "client-a");
    assert!(matches!(
        block_on(store.insert_request(&twin, t(900), t(0))),
        Err(StoreError::DuplicateKey)
    ));
    assert_eq!(store.len(t(1)), 4);
    assert_eq!(store.client_entries("client-a", t(1)), 2);
    assert_eq!(store.len(t(900)), 0);
    assert_eq!(store.client_entries("client-a", t(900)), 0);
}

#[test]
fn states_other_than_pending_survive_the_compact_form() {
    let store = MemoryStore::new();
    let id = minted(3);
    let request = pending(&id, "client-a");
    let id = AuthReqId::from_stored(id);
    block_on(store.insert_request(&request, t(900), t(0))).unwrap();
    let grant = Box::new(Grant {
        subject: "alice".into(),
        scopes: vec!["openid".into()],
        acr: None,
        amr: vec!["pwd".into()],
        auth_time: Some(t(2)),
        claims: Map::new(),
    });
    let status =
        block_on(store.complete(&id, Completion::Authorized(grant.clone()), t(3))).unwrap();
    assert_eq!(status, CompleteStatus::Completed(Box::new(request.clone())));
    let stored = block_on(store.request(&id, t(4))).unwrap().unwrap();
    assert_eq!(stored.state, RequestState::Authorized(grant.clone()));
    let PollStatus::Authorized(before) = block_on(store.poll(&id, "client-a", 5, t(10))).unwrap()
    else {
        panic!("not authorized");
    };
    assert_eq!(before.state, RequestState::Authorized(grant));
    assert_eq!(
        block_on(store.request(&id, t(11))).unwrap().unwrap().state,
        RequestState::Redeemed {
            tokens: vec![],
            replayed: false
        }
    );
    assert_eq!(
        block_on(store.poll(&id, "client-b", 5, t(20))).unwrap(),
        PollStatus::Unknown
    );
}

#[test]
fn a_clients_requests_share_its_id_and_a_repeated_scope_list() {
    let store = MemoryStore::new();
    let a = pending(&minted(4), "client-a");
    let b = pending(&minted(5), "client-a");
    let c = StoredRequest {
        scopes: vec!["openid".into(), "profile".into()],
        ..pending(&minted(6), "client-a")
    };
    for r in [&a, &b, &c] {
        block_on(store.insert_request(r, t(900), t(0))).unwrap();
    }
    // The shared parts of each record, read under its own shard's lock.
    let get = |r: &StoredRequest| {
        let record = shared_parts(&store, r.auth_req_id.as_str()).unwrap();
        assert!(!record.has_cold_parts && !record.has_state);
        (record.client_id, record.scopes)
    };
    let (ra, rb, rc) = (get(&a), get(&b), get(&c));
    assert!(Arc::ptr_eq(&ra.0, &rb.0));
    assert!(Arc::ptr_eq(&ra.0, &rc.0));
    assert!(Arc::ptr_eq(&ra.1, &rb.1));
    assert!(!Arc::ptr_eq(&ra.1, &rc.1));
}

#[test]
fn the_pending_list_keeps_the_soonest_without_sorting_everything() {
    // 2 000 requests under both kinds of identifier, expiries shuffled and repeated,
    // some finished, some expired, two subjects: every limit gives the first `limit`
    // of the full list, sorted by expiry then insertion.
    let store = MemoryStore::new();
    let mut all = Vec::new();
    for n in 0..2_000u32 {
        let id = if n % 2 == 0 {
            // A minted identifier: the text of 20 bytes that spell `n`.
            let mut bytes = [0u8; IDENTIFIER_BYTES];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            URL_SAFE_NO_PAD.encode(bytes)
        } else {
            format!("req-{n}")
        };
        let expires_in = u64::from((n * 7_919) % 500) + 1;
        let r = StoredRequest {
            subject: if n % 3 == 0 { "bob" } else { "alice" }.into(),
            expires_at: t(expires_in),
            ..pending(&id, "client-a")
        };
        block_on(store.insert_request(&r, t(900), t(0))).unwrap();
        all.push((n, r));
    }
    assert!(matches!(
        RequestKey::of(all[0].1.auth_req_id.as_str()),
        RequestKey::Minted(_)
    ));
    for (n, r) in &all {
        if n % 5 == 0 {
            block_on(store.complete(&r.auth_req_id, Completion::Denied, t(1))).unwrap();
        }
    }
    let now = t(100);
    let expected = |subject: Option<&str>| -> Vec<String> {
        let mut v: Vec<&(u32, StoredRequest)> = all
            .iter()
            .filter(|(n, r)| {
                n % 5 != 0 && r.expires_at > now && subject.is_none_or(|s| r.subject == s)
            })
            .collect();
        // Stable: equal expiries stay in insertion order.
        v.sort_by_key(|(_, r)| r.expires_at);
        v.into_iter()
            .map(|(_, r)| r.auth_req_id.as_str().to_owned())
            .collect()
    };
    for subject in [None, Some("alice"), Some("bob")] {
        let full = expected(subject);
        assert!(full.len() > 300);
        for limit in [0, 1, 2, 10, 100, full.len() - 1, full.len(), full.len() + 5] {
            let listed = block_on(store.pending_requests(subject, limit, now)).unwrap();
            let ids: Vec<&str> = listed.iter().map(|r| r.auth_req_id.as_str()).collect();
            let want: Vec<&str> = full.iter().take(limit).map(String::as_str).collect();
            assert_eq!(ids, want, "{subject:?} {limit}");
        }
    }
    // Each comes back as stored.
    let first = &block_on(store.pending_requests(None, 1, now)).unwrap()[0];
    let stored = &all
        .iter()
        .find(|(_, r)| r.auth_req_id == first.auth_req_id)
        .unwrap()
        .1;
    assert_eq!(first, stored);
}

#[test]
fn requests_spread_over_the_shards() {
    // No shard holds much more than its share, so no resize or sweep touches more.
    let store = MemoryStore::new();
    let total = SHARDS * 64;
    for _ in 0..total {
        let id = random_identifier(&ciba_core::random::OsRandom, IDENTIFIER_BYTES).unwrap();
        block_on(store.insert_request(&pending(&id, "client-a"), t(900), t(0))).unwrap();
    }
    let sizes: Vec<usize> = requests_per_shard(&store);
    assert_eq!(sizes.iter().sum::<usize>(), total);
    assert!(sizes.iter().all(|&n| n > 0 && n < 64 * 3), "{sizes:?}");
}

#[test]
fn a_full_client_is_refused_only_after_every_shard_is_swept() {
    let store =
        MemoryStore::with_config(MemoryStoreConfig::default().with_max_entries_per_client(100));
    for n in 0..100u32 {
        let r = pending(&format!("req-{n}"), "client-a");
        block_on(store.insert_request(&r, t(10), t(0))).unwrap();
    }
    let next = pending("req-next", "client-a");
    assert!(matches!(
        block_on(store.insert_request(&next, t(30), t(5))),
        Err(StoreError::ClientLimitReached { limit: 100, .. })
    ));
    // At t(20) the 100 are gone, though most of their shards were never touched since:
    // 100 new ones fit.
    for n in 0..100u32 {
        let r = pending(&format!("new-{n}"), "client-a");
        block_on(store.insert_request(&r, t(30), t(20))).unwrap();
    }
    assert_eq!(store.client_entries("client-a", t(20)), 100);
    assert_eq!(store.len(t(20)), 100);
}

#[cfg(target_pointer_width = "64")]
#[test]
fn a_pending_request_stays_small() {
    // What one pending request costs besides its subject: a map bucket, the record, a
    // queue slot. Growing any of these shows in `cargo run -p ciba-bench --bin scale`.
    assert_eq!(std::mem::size_of::<(MintedId, Box<Record>)>(), 32);
    assert!(std::mem::size_of::<Record>() <= 136);
    assert_eq!(std::mem::size_of::<Slot>(), 24);
}
