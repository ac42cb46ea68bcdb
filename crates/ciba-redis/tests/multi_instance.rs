//! Two CibaServer instances, each with its own RedisStore (and connection pool) on the same
//! Redis and key prefix: one deployment behind a load balancer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use ciba_server::{CibaServer, CompleteError, CompleteOutcome, TokenOutcome};
use common::*;

struct Pair {
    a: CibaServer,
    b: CibaServer,
    _redis: TestRedis,
}

fn pair() -> Pair {
    let redis = TestRedis::new();
    let prefix = random_prefix();
    let a = server(Arc::new(store_at(redis.url(), &prefix, 10_000)));
    let b = server(Arc::new(store_at(redis.url(), &prefix, 10_000)));
    Pair {
        a,
        b,
        _redis: redis,
    }
}

#[test]
fn a_flow_started_on_one_instance_is_polled_completed_and_redeemed_on_others() {
    let p = pair();
    let id = start(&p.a, POLL, t0());
    // B sees A's request.
    assert_eq!(
        token_error(&token(&p.b, POLL, &id, t0() + secs(5))),
        (400, "authorization_pending".into())
    );
    // The poll B recorded makes an early poll on A a slow_down.
    assert_eq!(
        token_error(&token(&p.a, POLL, &id, t0() + secs(6))),
        (400, "slow_down".into())
    );
    assert!(matches!(
        approve(&p.a, &id, t0() + secs(7)).unwrap(),
        CompleteOutcome::NothingToSend
    ));
    assert!(matches!(
        approve(&p.b, &id, t0() + secs(7)),
        Err(CompleteError::AlreadyCompleted)
    ));
    let tokens = token(&p.b, POLL, &id, t0() + secs(20));
    let access = access_token(&tokens);
    assert!(!p.a.is_revoked(&access, t0() + secs(20)).unwrap());
    // A replay on A is refused and revokes what B issued, for both instances.
    assert_eq!(
        token_error(&token(&p.a, POLL, &id, t0() + secs(30))),
        (400, "invalid_grant".into())
    );
    assert!(p.a.is_revoked(&access, t0() + secs(30)).unwrap());
    assert!(p.b.is_revoked(&access, t0() + secs(30)).unwrap());
}

/// Completes `id` on A and B at the same moment; returns the outcomes.
fn complete_on_both(p: &Pair, id: &str) -> Vec<Result<CompleteOutcome, CompleteError>> {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let handles: Vec<_> = [&p.a, &p.b]
            .into_iter()
            .map(|server| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    approve(server, id, t0() + secs(3))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn a_ping_is_sent_once_when_both_instances_complete_the_same_request() {
    let p = pair();
    for _ in 0..20 {
        let id = start(&p.a, PING, t0());
        let outcomes = complete_on_both(&p, &id);
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
            token(&p.b, PING, &id, t0() + secs(4)),
            TokenOutcome::Issued(_)
        ));
        assert_eq!(
            token_error(&token(&p.a, PING, &id, t0() + secs(5))),
            (400, "invalid_grant".into())
        );
    }
}

#[test]
fn a_push_is_delivered_once_when_both_instances_complete_the_same_request() {
    let p = pair();
    for _ in 0..20 {
        let id = start(&p.b, PUSH, t0());
        let outcomes = complete_on_both(&p, &id);
        let pushes = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(CompleteOutcome::PushTokens(_))))
            .count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(CompleteError::AlreadyCompleted)))
            .count();
        assert_eq!((pushes, refused), (1, 1), "{outcomes:?}");
    }
}

#[test]
fn sixteen_racing_redemptions_across_two_instances_yield_one_token_response() {
    const THREADS: usize = 16;
    const ROUNDS: usize = 50;
    let p = pair();
    let mut issued = HashSet::new();
    for round in 0..ROUNDS {
        let id = start(&p.a, POLL, t0());
        approve(&p.b, &id, t0()).unwrap();
        let barrier = Barrier::new(THREADS);
        let outcomes: Vec<TokenOutcome> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|i| {
                    let server = if i % 2 == 0 { &p.a } else { &p.b };
                    let (barrier, id) = (&barrier, &id);
                    s.spawn(move || {
                        barrier.wait();
                        token(server, POLL, id, t0() + secs(5))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
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
        assert!(p.b.is_revoked(&winners[0], t0() + secs(5)).unwrap());
        assert!(
            issued.insert(winners[0].clone()),
            "round {round}: fresh tokens"
        );
    }
    assert_eq!(issued.len(), ROUNDS);
}
