//! Racing completions and redemptions against the MemoryStore: exactly one of each wins.

use crate::common;

use std::sync::Barrier;

use ciba_server::{CompleteError, TokenOutcome};
use common::*;

const THREADS: usize = 16;
/// Rounds of the race; `CIBA_STRESS_ROUNDS` lowers it where the test runs hundreds of times
/// (`cargo xtask mutants` runs it once per mutant).
const ROUNDS: usize = 1000;

fn rounds() -> usize {
    std::env::var("CIBA_STRESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(ROUNDS)
}

enum Seen {
    Tokens(String),
    InvalidGrant,
}

#[test]
fn sixteen_threads_racing_to_complete_and_redeem_get_exactly_one_token_response() {
    let h = Harness::new();
    let now = t0();
    // One token request per thread, built once: client_secret_basic keeps the setup light.
    let mut all_tokens = std::collections::HashSet::new();
    let rounds = rounds();
    for round in 0..rounds {
        let ack = h.start(POLL, now);
        let id = ack.auth_req_id.as_str();
        let req = token_request(POLL, id, now);
        let barrier = Barrier::new(THREADS);
        let results: Vec<(bool, Seen)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let completed = match h.approve(id, now) {
                            Ok(_) => true,
                            Err(CompleteError::AlreadyCompleted) => false,
                            Err(e) => panic!("unexpected completion error {e:?}"),
                        };
                        let seen = match h.token(&req, now) {
                            TokenOutcome::Issued(g) => {
                                Seen::Tokens(g.tokens.access_token.expose().to_owned())
                            }
                            other => {
                                assert_eq!(token_error(&other), (400, "invalid_grant".into()));
                                Seen::InvalidGrant
                            }
                        };
                        (completed, seen)
                    })
                })
                .collect();
            handles.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let completions = results.iter().filter(|(c, _)| *c).count();
        assert_eq!(completions, 1, "round {round}: exactly one completion");
        let winners: Vec<&String> = results
            .iter()
            .filter_map(|(_, s)| match s {
                Seen::Tokens(t) => Some(t),
                Seen::InvalidGrant => None,
            })
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one token response"
        );
        let losers = results
            .iter()
            .filter(|(_, s)| matches!(s, Seen::InvalidGrant))
            .count();
        assert_eq!(
            losers,
            THREADS - 1,
            "round {round}: everyone else got invalid_grant"
        );
        let winner = winners[0].clone();
        // The other redemptions were replays of a used auth_req_id: the tokens are revoked.
        assert!(h.is_revoked(&winner, now).unwrap(), "round {round}");
        assert!(
            all_tokens.insert(winner),
            "round {round}: tokens are never reused"
        );
    }
    assert_eq!(all_tokens.len(), rounds);
    assert_eq!(
        h.store.client_entries(POLL, now),
        rounds,
        "one stored request per round"
    );
}
