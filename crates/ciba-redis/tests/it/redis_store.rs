//! What is particular to the Redis store: the key layout and its TTLs, typed errors when
//! Redis cannot be reached, isolation by prefix, TLS trust, the eviction-policy check.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ciba_redis::{EvictionCheck, RedisStore, RedisStoreConfig, RedisStoreError};
use ciba_server::TokenOutcome;
use ciba_server::store::{
    Completion, PollStatus, ReplayKey, ReplayPurpose, Store, StoreError, TokenFingerprint,
};
use ciba_test::store::pending_request;
use common::*;
use redis::aio::MultiplexedConnection;

async fn raw(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn ttl_secs(c: &mut MultiplexedConnection, key: &str) -> f64 {
    let ms: i64 = redis::cmd("PTTL").arg(key).query_async(c).await.unwrap();
    assert!(ms > 0, "{key} has no TTL ({ms})");
    ms as f64 / 1000.0
}

/// The TTL of `key` is a little under `expected` seconds plus the 30 s margin.
async fn near(c: &mut MultiplexedConnection, key: &str, expected: f64) {
    let ttl = ttl_secs(c, key).await;
    let most = expected + 30.0;
    assert!(
        ttl <= most && ttl > most - 30.0,
        "{key}: TTL {ttl} s, expected about {most} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_is_under_the_prefix_and_expires_after_its_lifetime_plus_the_margin() {
    let redis = TestRedis::new();
    let prefix = random_prefix();
    let store = Arc::new(redis.store_with(&prefix, 10_000).await);
    let server = server(store.clone());
    // A request (kept 300 s + 600 s of tombstone), a ticket (120 s), a jti (90 s) and a
    // revocation (the access token's lifetime), all on a virtual clock years in the past.
    let id = start(&server, POLL, t0()).await;
    let _ticket = server
        .authenticate_request(
            &ciba_server::IncomingRequest::from_http(&bc_request(POLL)),
            t0(),
            &rng(),
        )
        .await;
    let jti = ReplayKey {
        client_id: POLL.into(),
        purpose: ReplayPurpose::ClientAssertion,
        jti: "j-1".into(),
    };
    assert!(
        store
            .remember_jti(&jti, t0() + secs(90), t0())
            .await
            .unwrap()
    );
    let mut c = raw(redis.url()).await;
    // While pending, the request is in the deployment's and alice's pending indexes.
    near(&mut c, &format!("{prefix}pnd:{{all}}"), 300.0).await;
    near(&mut c, &format!("{prefix}sub:{{alice}}"), 300.0).await;
    approve(&server, &id, t0()).await.unwrap();
    assert!(matches!(
        token(&server, POLL, &id, t0()).await,
        TokenOutcome::Issued(_)
    ));
    assert!(!matches!(
        token(&server, POLL, &id, t0()).await,
        TokenOutcome::Issued(_)
    ));

    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut c)
        .await
        .unwrap();
    let kinds: Vec<&str> = keys
        .iter()
        .map(|k| k[prefix.len()..].split(':').next().unwrap())
        .collect();
    for kind in ["req", "tkt", "jti", "rev", "cli"] {
        assert!(kinds.contains(&kind), "no {kind} key in {keys:?}");
    }
    near(&mut c, &format!("{prefix}req:{{{}}}", id.as_str()), 900.0).await;
    near(&mut c, &format!("{prefix}jti:{{{POLL}}}:ca:j-1"), 90.0).await;
    near(&mut c, &format!("{prefix}cli:{{{POLL}}}"), 900.0).await;
    for key in keys
        .iter()
        .filter(|k| k.starts_with(&format!("{prefix}tkt:")))
    {
        near(&mut c, key, 120.0).await;
    }
    for key in keys
        .iter()
        .filter(|k| k.starts_with(&format!("{prefix}rev:")))
    {
        ttl_secs(&mut c, key).await;
    }
    assert_eq!(
        store.client_entries(POLL, t0()).await.unwrap(),
        3,
        "request, ticket, jti"
    );
    assert_eq!(
        store.client_entries(POLL, t0() + secs(900)).await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_with_different_prefixes_do_not_see_each_other() {
    let redis = TestRedis::new();
    let a = server(Arc::new(redis.store(10_000).await));
    let b = server(Arc::new(redis.store(10_000).await));
    let id = start(&a, POLL, t0()).await;
    assert_eq!(
        token_error(&token(&b, POLL, &id, t0() + secs(5)).await),
        (400, "invalid_grant".into())
    );
    assert!(a.pending_request(&id, t0()).await.unwrap().is_some());
    assert!(b.pending_request(&id, t0()).await.unwrap().is_none());
    assert!(b.pending_requests(None, 10, t0()).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_redis_is_a_typed_error_within_the_connect_timeout() {
    let url = format!("redis://127.0.0.1:{}/", services::free_port().unwrap());
    let asked = Instant::now();
    let e = RedisStore::connect(&url, quick_config("ciba:", 10_000))
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(asked.elapsed() < Duration::from_secs(3));
    let StoreError::Backend { source } = StoreError::from(e) else {
        panic!("expected a backend error");
    };
    assert!(
        source
            .downcast_ref::<RedisStoreError>()
            .unwrap()
            .is_unreachable()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_redis_went_away_answers_backend_errors_with_retry_after() {
    let mut redis = RedisServer::start();
    let store = store_at(&redis.url(), "ciba:", 10_000).await;
    redis.stop();
    let asked = Instant::now();
    let e = store.poll(&aid("id"), "c", 5, t0()).await.unwrap_err();
    let StoreError::Backend { source } = &e else {
        panic!("expected a backend error, got {e:?}");
    };
    assert!(
        source
            .downcast_ref::<RedisStoreError>()
            .unwrap()
            .is_unreachable()
    );
    assert_eq!(e.retry_after(), Some(5));
    assert!(matches!(
        store.complete(&aid("id"), Completion::Denied, t0()).await,
        Err(StoreError::Backend { .. })
    ));
    assert!(matches!(
        store.pending_requests(None, 10, t0()).await,
        Err(StoreError::Backend { .. })
    ));
    // The response timeout is 1 s (see `quick_config`).
    assert!(asked.elapsed() < Duration::from_secs(6));
}

#[tokio::test]
async fn invalid_urls_and_prefixes_are_refused_when_connecting() {
    assert!(matches!(
        RedisStore::connect("http://example.com/", RedisStoreConfig::default()).await,
        Err(RedisStoreError::InvalidUrl { .. })
    ));
    let mut braces = RedisStoreConfig::default();
    braces.key_prefix = "ciba:{x}:".into();
    assert!(matches!(
        RedisStore::connect("redis://127.0.0.1:1/", braces).await,
        Err(RedisStoreError::InvalidConfig { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprints_that_cannot_be_stored_are_refused_without_changing_anything() {
    let redis = TestRedis::new();
    let store = redis.store(10_000).await;
    let bad = [TokenFingerprint {
        fingerprint: "has space".into(),
        expires_at: t0() + secs(60),
    }];
    let e = store
        .attach_tokens(&aid("r"), &bad, t0())
        .await
        .unwrap_err();
    let StoreError::Backend { source } = e else {
        panic!("expected a backend error");
    };
    assert!(matches!(
        source.downcast_ref::<RedisStoreError>(),
        Some(RedisStoreError::InvalidFingerprint)
    ));
    assert_eq!(
        store.poll(&aid("r"), "c", 5, t0()).await.unwrap(),
        PollStatus::Unknown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_trusts_the_configured_ca_and_nothing_else() {
    let redis = TestRedis::of(Setup::Tls);
    // With the test CA: connects (the suite runs over it too).
    redis.store(10).await.ping().await.unwrap();
    // Without it the server's certificate chains to no trusted root.
    let e = RedisStore::connect(redis.url(), quick_config("ciba:", 10))
        .await
        .unwrap_err();
    assert!(matches!(e, RedisStoreError::Connect { .. }), "{e:?}");
    // Plain text to a TLS port is no Redis either.
    let plain = redis.url().replacen("rediss://", "redis://", 1);
    assert!(
        RedisStore::connect(&plain, quick_config("ciba:", 10))
            .await
            .is_err()
    );
    // A CA setting that holds no certificate is a configuration error.
    let mut config = quick_config("ciba:", 10);
    config.tls_root_ca_pem = Some(b"not a certificate".to_vec());
    assert!(matches!(
        RedisStore::connect(redis.url(), config).await,
        Err(RedisStoreError::InvalidConfig { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_redis_is_refused_when_asked_and_accepted_otherwise() {
    let redis = RedisServer::start();
    let mut c = raw(&redis.url()).await;
    let with = |check| {
        let mut config = quick_config("ciba:", 10);
        config.eviction_policy = check;
        config
    };
    // noeviction (redis-server's default): accepted whatever the check.
    RedisStore::connect(&redis.url(), with(EvictionCheck::Refuse))
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("volatile-lru")
        .query_async(&mut c)
        .await
        .unwrap();
    match RedisStore::connect(&redis.url(), with(EvictionCheck::Refuse)).await {
        Err(RedisStoreError::EvictionPolicy { policy }) => assert_eq!(policy, "volatile-lru"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    RedisStore::connect(&redis.url(), with(EvictionCheck::Warn))
        .await
        .unwrap();
    RedisStore::connect(&redis.url(), with(EvictionCheck::Ignore))
        .await
        .unwrap();
    // A Redis that refuses CONFIG (as managed services do) is accepted.
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("-config")
        .query_async(&mut c)
        .await
        .unwrap();
    RedisStore::connect(&redis.url(), with(EvictionCheck::Refuse))
        .await
        .unwrap();
}

#[test]
fn the_default_settings_are_documented_ones() {
    let c = RedisStoreConfig::default();
    assert_eq!(c.key_prefix, "ciba:");
    assert_eq!(c.max_entries_per_client, 10_000);
    assert_eq!(c.max_connections, 2);
    assert_eq!(c.connect_timeout, Duration::from_secs(1));
    assert_eq!(c.response_timeout, Duration::from_secs(2));
    assert_eq!(c.tls_root_ca_pem, None);
    assert_eq!(c.eviction_policy, EvictionCheck::Warn);
    assert_eq!(c.ttl_margin, Duration::from_secs(30));
}

/// Inserts that arrive together go to Redis as shared script calls (one `ZADD` per set for
/// the whole batch), so a burst costs Redis fewer calls than requests; each insert still
/// gets its own answer and record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_inserts_shares_script_calls() {
    use ciba_server::store::StoredRequest;

    let redis = RedisServer::start();
    let store = store_at(&redis.url(), "ciba:", 10_000).await;
    let mut c = raw(&redis.url()).await;
    let calls = |info: String| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
            .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
    };
    let before = calls(
        redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap(),
    );
    let requests: Vec<StoredRequest> = (0..200)
        .map(|i| pending_request(aid(&format!("burst-{i}")), POLL, t0(), t0() + secs(60)))
        .collect();
    let answers = futures_util::future::join_all(
        requests
            .iter()
            .map(|r| store.insert_request(r, t0() + secs(660), t0())),
    )
    .await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let after = calls(
        redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap(),
    );
    let sent = after - before;
    assert!(
        sent < 100,
        "200 concurrent inserts took {sent} script calls (expected batches)"
    );
    for r in &requests {
        assert_eq!(
            store.request(&r.auth_req_id, t0()).await.unwrap().as_ref(),
            Some(r)
        );
    }
    let listed = store.pending_requests(None, 500, t0()).await.unwrap();
    assert_eq!(listed.len(), 200);
}

/// The captured log output of one test.
use ciba_test::logs::LogCapture as Capture;

/// A poll flow on Redis under a capturing subscriber (this test's thread only: the runtime is
/// current-thread): every store operation has its `ciba_redis` span inside ciba-server's
/// `ciba_store` span, and neither the `auth_req_id`, the keys holding it, the secret, the hint
/// nor the tokens appear.
#[tokio::test]
async fn store_operations_are_traced_without_identifiers_secrets_or_tokens() {
    let redis = TestRedis::new();
    let prefix = random_prefix();
    let store = Arc::new(redis.store_with(&prefix, 10_000).await);
    let server = server(store);
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let id = start(&server, POLL, t0()).await;
    let pending = token(&server, POLL, &id, t0() + secs(5)).await;
    assert_eq!(token_error(&pending).1, "authorization_pending");
    approve(&server, &id, t0() + secs(6)).await.unwrap();
    let granted = token(&server, POLL, &id, t0() + secs(11)).await;
    let access = access_token(&granted);
    drop(guard);
    let text = capture.text();
    for secret in [id.as_str(), access.as_str(), SECRET, "alice@example.com"] {
        assert!(
            !text.contains(secret),
            "the trace holds {secret:?}:\n{text}"
        );
    }
    let has = |parts: &[&str]| text.lines().any(|l| parts.iter().all(|p| l.contains(p)));
    for op in [
        "insert_ticket",
        "take_ticket",
        "insert_request",
        "poll",
        "complete",
        "attach_tokens",
    ] {
        assert!(
            has(&[
                &format!("ciba_store{{op=\"{op}\""),
                &format!("ciba_redis{{op=\"{op}\" outcome=\"ok\"}}")
            ]),
            "no ciba_redis span for {op} inside its ciba_store span:\n{text}"
        );
    }
    assert!(
        has(&[
            "ciba_endpoint{endpoint=\"token\" client_id=\"poll-client\"",
            "outcome=\"authorization_pending\""
        ]),
        "{text}"
    );
}
