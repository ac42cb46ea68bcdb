//! Two CibaServer instances, each with its own RedisStore (and connections) on the same
//! Redis and key prefix: one deployment behind a load balancer. Every test runs on one
//! Redis, on Redis over TLS and on a Redis Cluster.

use crate::common;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use ciba_server::{CibaServer, CompleteError, CompleteOutcome, TokenOutcome};
use common::*;
use tokio::sync::Barrier;

struct Pair {
    a: Arc<CibaServer>,
    b: Arc<CibaServer>,
}

async fn pair(setup: Setup) -> Pair {
    let redis = TestRedis::of(setup);
    let prefix = random_prefix();
    let a = server(Arc::new(redis.store_with(&prefix, 10_000).await));
    let b = server(Arc::new(redis.store_with(&prefix, 10_000).await));
    Pair {
        a: Arc::new(a),
        b: Arc::new(b),
    }
}

async fn a_flow_started_on_one_instance_is_polled_completed_and_redeemed_on_others(setup: Setup) {
    let p = pair(setup).await;
    let id = start(&p.a, POLL, t0()).await;
    // B sees A's request.
    assert_eq!(
        token_error(&token(&p.b, POLL, &id, t0() + secs(5)).await),
        (400, "authorization_pending".into())
    );
    // The poll B recorded makes an early poll on A a slow_down.
    assert_eq!(
        token_error(&token(&p.a, POLL, &id, t0() + secs(6)).await),
        (400, "slow_down".into())
    );
    assert!(matches!(
        approve(&p.a, &id, t0() + secs(7)).await.unwrap(),
        CompleteOutcome::NothingToSend
    ));
    assert!(matches!(
        approve(&p.b, &id, t0() + secs(7)).await,
        Err(CompleteError::AlreadyCompleted)
    ));
    let tokens = token(&p.b, POLL, &id, t0() + secs(20)).await;
    let access = access_token(&tokens);
    assert!(!p.a.is_revoked(&access, t0() + secs(20)).await.unwrap());
    // A replay on A is refused and revokes what B issued, for both instances.
    assert_eq!(
        token_error(&token(&p.a, POLL, &id, t0() + secs(30)).await),
        (400, "invalid_grant".into())
    );
    assert!(p.a.is_revoked(&access, t0() + secs(30)).await.unwrap());
    assert!(p.b.is_revoked(&access, t0() + secs(30)).await.unwrap());
}

/// The shared device list: A starts a request, B lists it and approves it, and the client
/// redeems it on A.
async fn every_instance_lists_and_approves_every_pending_request(setup: Setup) {
    let p = pair(setup).await;
    let id = start(&p.a, POLL, t0()).await;
    let listed = p.b.pending_requests(Some("alice"), 10, t0()).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|r| r.auth_req_id.as_str())
            .collect::<Vec<_>>(),
        [id.as_str()]
    );
    let all = p.b.pending_requests(None, 10, t0()).await.unwrap();
    assert_eq!(all.len(), 1);
    approve(&p.b, &id, t0() + secs(1)).await.unwrap();
    assert!(
        p.a.pending_requests(None, 10, t0() + secs(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        token(&p.a, POLL, &id, t0() + secs(5)).await,
        TokenOutcome::Issued(_)
    ));
}

/// Runs `f` on A and B at the same moment; returns both outcomes.
async fn on_both<T, F, Fut>(p: &Pair, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<CibaServer>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = [&p.a, &p.b]
        .into_iter()
        .map(|server| {
            let barrier = barrier.clone();
            let run = f(server.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                run.await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn complete_on_both(p: &Pair, id: &AuthReqId) -> Vec<Result<CompleteOutcome, CompleteError>> {
    on_both(p, |server| {
        let id = id.clone();
        async move { approve(&server, &id, t0() + secs(3)).await }
    })
    .await
}

async fn a_ping_is_sent_once_when_both_instances_complete_the_same_request(setup: Setup) {
    let p = pair(setup).await;
    for _ in 0..20 {
        let id = start(&p.a, PING, t0()).await;
        let outcomes = complete_on_both(&p, &id).await;
        let pings = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(CompleteOutcome::Ping(_))))
            .count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(CompleteError::AlreadyCompleted)))
            .count();
        assert_eq!((pings, refused), (1, 1), "{outcomes:?}");
        // The ping brings the client to either instance, once.
        assert!(matches!(
            token(&p.b, PING, &id, t0() + secs(4)).await,
            TokenOutcome::Issued(_)
        ));
        assert_eq!(
            token_error(&token(&p.a, PING, &id, t0() + secs(5)).await),
            (400, "invalid_grant".into())
        );
    }
}

async fn a_push_is_delivered_once_when_both_instances_complete_the_same_request(setup: Setup) {
    let p = pair(setup).await;
    for _ in 0..20 {
        let id = start(&p.b, PUSH, t0()).await;
        let outcomes = complete_on_both(&p, &id).await;
        let pushes = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(CompleteOutcome::PushTokens { .. })))
            .count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(CompleteError::AlreadyCompleted)))
            .count();
        assert_eq!((pushes, refused), (1, 1), "{outcomes:?}");
    }
}

async fn sixteen_racing_redemptions_across_two_instances_yield_one_token_response(setup: Setup) {
    const TASKS: usize = 16;
    const ROUNDS: usize = 50;
    let p = pair(setup).await;
    let mut issued = HashSet::new();
    for round in 0..ROUNDS {
        let id = start(&p.a, POLL, t0()).await;
        approve(&p.b, &id, t0()).await.unwrap();
        let barrier = Arc::new(Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let server = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
                let (barrier, id) = (barrier.clone(), id.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    token(&server, POLL, &id, t0() + secs(5)).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let winners: Vec<String> = outcomes
            .iter()
            .filter(|o| matches!(o, TokenOutcome::Issued(_)))
            .map(access_token)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one token response"
        );
        for o in outcomes
            .iter()
            .filter(|o| !matches!(o, TokenOutcome::Issued(_)))
        {
            assert_eq!(
                token_error(o),
                (400, "invalid_grant".into()),
                "round {round}"
            );
        }
        // Everyone else replayed a used auth_req_id: the winner's tokens are revoked.
        assert!(p.b.is_revoked(&winners[0], t0() + secs(5)).await.unwrap());
        assert!(
            issued.insert(winners[0].clone()),
            "round {round}: fresh tokens"
        );
    }
    assert_eq!(issued.len(), ROUNDS);
}

macro_rules! on_every_setup {
    ($($name:ident),* $(,)?) => {
        mod single {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Setup::Single).await; } )*
        }
        mod tls {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Setup::Tls).await; } )*
        }
        mod cluster {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Setup::Cluster).await; } )*
        }
    };
}

on_every_setup!(
    a_flow_started_on_one_instance_is_polled_completed_and_redeemed_on_others,
    every_instance_lists_and_approves_every_pending_request,
    a_ping_is_sent_once_when_both_instances_complete_the_same_request,
    a_push_is_delivered_once_when_both_instances_complete_the_same_request,
    sixteen_racing_redemptions_across_two_instances_yield_one_token_response,
);
