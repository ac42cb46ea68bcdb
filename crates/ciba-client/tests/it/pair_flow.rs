//! ciba-core's poller against ciba-server on one virtual clock, without sockets (ciba-test's
//! `pair`): the schedule a poll client keeps, answer by answer, through
//! `authorization_pending`, `slow_down` and the user's approval to validated tokens.

use std::time::Duration;

use ciba_core::ErrorCode;
use ciba_test::pair::{Pair, PollAnswer, PollPlan, SUBJECT};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn answer(after: u64, status: u16, error: Option<ErrorCode>) -> PollAnswer {
    PollAnswer {
        after: secs(after),
        status,
        error,
    }
}

#[test]
fn a_poll_flow_keeps_the_interval_until_the_user_approves() {
    let mut pair = Pair::new();
    let report = pair.run_poll_flow(&PollPlan {
        approve_after: Some(secs(12)),
        rival_polls_after: Vec::new(),
    });
    assert_eq!(report.ack.interval, secs(5));
    let tokens = report.result.unwrap();
    assert_eq!(tokens.id_token.sub, SUBJECT);
    assert_eq!(
        report.answers,
        [
            answer(5, 400, Some(ErrorCode::AuthorizationPending)),
            answer(10, 400, Some(ErrorCode::AuthorizationPending)),
            answer(15, 200, None),
        ]
    );
    assert_eq!(report.finished_after, secs(15));
    assert_eq!((report.polls_sent, report.slow_downs), (3, 0));
}

#[test]
fn a_slow_down_adds_five_seconds_to_every_later_wait() {
    // A second instance polls the same auth_req_id first, at 4 s: the poller's own first
    // poll, at 5 s, comes one second after it and is told to slow down. Its next waits are
    // ten seconds, which the server, now at ten seconds too, accepts.
    let mut pair = Pair::new();
    let report = pair.run_poll_flow(&PollPlan {
        approve_after: Some(secs(20)),
        rival_polls_after: vec![secs(4)],
    });
    assert_eq!(
        report.rival_answers,
        [Some(ErrorCode::AuthorizationPending)]
    );
    assert_eq!(
        report.answers,
        [
            answer(5, 400, Some(ErrorCode::SlowDown)),
            answer(15, 400, Some(ErrorCode::AuthorizationPending)),
            answer(25, 200, None),
        ]
    );
    assert_eq!(report.result.unwrap().id_token.sub, SUBJECT);
    assert_eq!((report.polls_sent, report.slow_downs), (3, 1));
}

#[test]
fn a_flow_nobody_approves_ends_at_the_deadline_on_both_sides() {
    let mut pair = Pair::with_config(|c| c.default_expires_in = 30);
    let report = pair.run_poll_flow(&PollPlan::default());
    assert!(
        matches!(
            report.result,
            Err(ciba_core::poll::PollError::ExpiredLocally { .. })
        ),
        "{:?}",
        report.result
    );
    assert_eq!(report.finished_after, secs(30));
    assert_eq!(report.answers.len(), 5, "{:?}", report.answers);
    assert!(
        report
            .answers
            .iter()
            .all(|a| a.error == Some(ErrorCode::AuthorizationPending))
    );
}
