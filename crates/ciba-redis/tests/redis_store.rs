//! What is particular to the Redis store: the key layout and its TTLs, typed errors when
//! Redis cannot be reached, isolation by prefix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ciba_redis::{RedisStore, RedisStoreConfig, RedisStoreError};
use ciba_server::TokenOutcome;
use ciba_server::store::{
    Completion, PollStatus, ReplayKey, ReplayPurpose, Store, StoreError, TokenFingerprint,
};
use common::*;

fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn ttl_secs(c: &mut redis::Connection, key: &str) -> f64 {
    let ms: i64 = redis::cmd("PTTL").arg(key).query(c).unwrap();
    assert!(ms > 0, "{key} has no TTL ({ms})");
    ms as f64 / 1000.0
}

/// The TTL of `key` is a little under `expected` seconds.
fn near(c: &mut redis::Connection, key: &str, expected: f64) {
    let ttl = ttl_secs(c, key);
    assert!(
        ttl <= expected && ttl > expected - 30.0,
        "{key}: TTL {ttl} s, expected about {expected} s"
    );
}

#[test]
fn every_key_is_under_the_prefix_and_expires_after_its_lifetime_from_the_callers_now() {
    let redis = TestRedis::new();
    let prefix = random_prefix();
    let store = Arc::new(store_at(redis.url(), &prefix, 10_000));
    let server = server(store.clone());
    // A request (kept 300 s + 600 s of tombstone), a ticket (120 s), a jti (90 s) and a
    // revocation (the access token's lifetime), all on a virtual clock years in the past.
    let id = start(&server, POLL, t0());
    let _ticket = server.authenticate_request(
        &ciba_server::IncomingRequest::from_http(&bc_request(POLL)),
        t0(),
        &rng(),
    );
    let jti = ReplayKey {
        client_id: POLL.into(),
        purpose: ReplayPurpose::ClientAssertion,
        jti: "j-1".into(),
    };
    assert!(store.remember_jti(&jti, t0() + secs(90), t0()).unwrap());
    approve(&server, &id, t0()).unwrap();
    assert!(matches!(
        token(&server, POLL, &id, t0()),
        TokenOutcome::Issued(_)
    ));
    assert!(!matches!(
        token(&server, POLL, &id, t0()),
        TokenOutcome::Issued(_)
    ));

    let mut c = raw(redis.url());
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut c)
        .unwrap();
    let kinds: Vec<&str> = keys
        .iter()
        .map(|k| k[prefix.len()..].split(':').next().unwrap())
        .collect();
    for kind in ["req", "tkt", "jti", "rev", "cli"] {
        assert!(kinds.contains(&kind), "no {kind} key in {keys:?}");
    }
    near(&mut c, &format!("{prefix}req:{id}"), 900.0);
    near(
        &mut c,
        &format!("{prefix}jti:ca:{}:{POLL}:j-1", POLL.len()),
        90.0,
    );
    near(&mut c, &format!("{prefix}cli:{POLL}"), 900.0);
    for key in keys
        .iter()
        .filter(|k| k.starts_with(&format!("{prefix}tkt:")))
    {
        near(&mut c, key, 120.0);
    }
    for key in keys
        .iter()
        .filter(|k| k.starts_with(&format!("{prefix}rev:")))
    {
        ttl_secs(&mut c, key);
    }
    assert_eq!(
        store.client_entries(POLL, t0()).unwrap(),
        3,
        "request, ticket, jti"
    );
    assert_eq!(store.client_entries(POLL, t0() + secs(900)).unwrap(), 0);
}

#[test]
fn stores_with_different_prefixes_do_not_see_each_other() {
    let redis = TestRedis::new();
    let one = redis.store(10_000);
    let two = redis.store(10_000);
    let a = server(Arc::new(one));
    let b = server(Arc::new(two));
    let id = start(&a, POLL, t0());
    assert_eq!(
        token_error(&token(&b, POLL, &id, t0() + secs(5))),
        (400, "invalid_grant".into())
    );
    assert!(a.pending_request(&id, t0()).unwrap().is_some());
    assert!(b.pending_request(&id, t0()).unwrap().is_none());
}

#[test]
fn an_unreachable_redis_is_a_typed_backend_error_within_the_connect_timeout() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let store = store_at(&url, "ciba:", 10_000);
    let asked = Instant::now();
    let e = store.ping().unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(matches!(e, RedisStoreError::Connect { .. }), "{e:?}");
    let e = store.poll("id", "c", 5, t0()).unwrap_err();
    let StoreError::Backend { source } = &e else {
        panic!("expected a backend error, got {e:?}");
    };
    let source = source.downcast_ref::<RedisStoreError>().unwrap();
    assert!(source.is_unreachable());
    assert_eq!(e.retry_after(), Some(5));
    assert!(asked.elapsed() < Duration::from_secs(3));
    assert!(matches!(
        store.complete("id", Completion::Denied, t0()),
        Err(StoreError::Backend { .. })
    ));
}

#[test]
fn an_invalid_url_is_refused_when_opening() {
    assert!(matches!(
        RedisStore::open("http://example.com/"),
        Err(RedisStoreError::InvalidUrl { .. })
    ));
}

#[test]
fn debug_output_leaves_the_url_and_its_password_out() {
    let store = RedisStore::open("redis://:hunter2@127.0.0.1:1/").unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("ciba:"), "{debug}");
}

#[test]
fn fingerprints_that_cannot_be_stored_are_refused_without_changing_anything() {
    let redis = TestRedis::new();
    let store = redis.store(10_000);
    let bad = [TokenFingerprint {
        fingerprint: "has space".into(),
        expires_at: t0() + secs(60),
    }];
    let e = store.attach_tokens("r", &bad, t0()).unwrap_err();
    let StoreError::Backend { source } = e else {
        panic!("expected a backend error");
    };
    assert!(matches!(
        source.downcast_ref::<RedisStoreError>(),
        Some(RedisStoreError::InvalidFingerprint)
    ));
    assert_eq!(store.poll("r", "c", 5, t0()).unwrap(), PollStatus::Unknown);
}

#[test]
fn the_default_settings_are_documented_ones() {
    let c = RedisStoreConfig::default();
    assert_eq!(c.key_prefix, "ciba:");
    assert_eq!(c.max_entries_per_client, 10_000);
    assert_eq!(c.max_connections, 8);
    assert_eq!(c.connect_timeout, Duration::from_secs(1));
    assert_eq!(c.response_timeout, Duration::from_secs(2));
}
