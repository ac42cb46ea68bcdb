//! Property: whatever the token endpoint answers and however the clock moves, the poller never
//! sends before the current interval has passed since the previous request (except the single
//! `use_dpop_nonce` retry and the request right after a ping), never sends at or after the
//! deadline, never has two requests in flight, and never sends again once finished. With
//! `fetch_keys_on_unknown_kid`, an ID token naming an unknown `kid` asks for keys at most once
//! per response, nothing is sent while the keys are awaited, and only a set holding the key
//! can lead to `Done`.

use crate::support;

use std::time::{Duration, SystemTime};

use ciba_core::DeliveryMode;
use ciba_core::dpop::DpopKey;
use ciba_core::poll::{PollAction, PollConfig, Poller};
use proptest::prelude::*;
use serde_json::json;
use support::*;

/// What the scripted token endpoint does with one request.
#[derive(Debug, Clone)]
enum Answer {
    Pending(Option<String>),
    SlowDown,
    Unavailable(Option<String>),
    UseDpopNonce(Option<String>),
    Error(u16, String),
    Raw(u16, Vec<u8>),
    Transport,
    Tokens,
    /// Tokens whose ID token is signed by the rotated key; what the caller does when asked for
    /// keys.
    RotatedTokens(KeyFate),
}

/// How the caller answers `FetchKeys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFate {
    /// A fresh set that holds the rotated key.
    NewSetHasKey,
    /// A fresh set that still lacks it.
    NewSetLacksKey,
    /// No set could be had (fetch failed, rate limited).
    Unavailable,
    /// Never answered (a caller bug): the poller must stay put.
    Unanswered,
}

#[derive(Debug, Clone)]
enum Step {
    /// Advance the clock, then call `next` (and answer a `Send`).
    Tick {
        advance: u64,
        answer: Answer,
        after: u64,
    },
    /// A ping arrives.
    Ping,
}

fn retry_after() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        (0u64..200).prop_map(|s| Some(s.to_string())),
        Just(Some("Tue, 14 Nov 2023 22:14:00 GMT".to_owned())),
        Just(Some("Sun, 06 Nov 1994 08:49:37 GMT".to_owned())),
        Just(Some("99999999999999999999999".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    let codes = crate::support::names_or(
        &[
            "authorization_pending",
            "slow_down",
            "expired_token",
            "access_denied",
            "invalid_grant",
            "invalid_request",
            "invalid_client",
            "use_dpop_nonce",
        ],
        "[a-z_]{1,20}",
    );
    prop_oneof![
        12 => retry_after().prop_map(Answer::Pending),
        4 => Just(Answer::SlowDown),
        4 => retry_after().prop_map(Answer::Unavailable),
        3 => prop_oneof![Just(None), Just(Some("n-1".to_owned())), "[!-~]{1,10}".prop_map(Some)]
            .prop_map(Answer::UseDpopNonce),
        1 => (prop_oneof![Just(400u16), Just(401), Just(403), Just(500)], codes)
            .prop_map(|(s, c)| Answer::Error(s, c)),
        1 => (100u16..600, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(s, b)| Answer::Raw(s, b)),
        3 => Just(Answer::Transport),
        1 => Just(Answer::Tokens),
        2 => prop_oneof![
            Just(KeyFate::NewSetHasKey),
            Just(KeyFate::NewSetLacksKey),
            Just(KeyFate::Unavailable),
            Just(KeyFate::Unanswered),
        ]
        .prop_map(Answer::RotatedTokens),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let advance = prop_oneof![30 => 0u64..25, 1 => 0u64..400];
    prop_oneof![
        8 => (advance, answer(), 0u64..40)
            .prop_map(|(advance, answer, after)| Step::Tick { advance, answer, after }),
        1 => Just(Step::Ping),
    ]
}

fn response(answer: &Answer, now: SystemTime, dpop: bool) -> Option<http::Response<Vec<u8>>> {
    let with_header = |mut r: http::Response<Vec<u8>>, name: &'static str, v: &Option<String>| {
        if let Some(v) = v
            && let Ok(v) = v.parse()
        {
            r.headers_mut().insert(name, v);
        }
        r
    };
    Some(match answer {
        Answer::Pending(ra) => with_header(
            error_response(400, "authorization_pending"),
            "retry-after",
            ra,
        ),
        Answer::SlowDown => error_response(400, "slow_down"),
        Answer::Unavailable(ra) => with_header(
            http::Response::builder()
                .status(503)
                .body(Vec::new())
                .unwrap(),
            "retry-after",
            ra,
        ),
        Answer::UseDpopNonce(n) => {
            with_header(error_response(400, "use_dpop_nonce"), "dpop-nonce", n)
        }
        Answer::Error(s, c) => json_response(*s, &json!({ "error": c })),
        Answer::Raw(s, b) => {
            let mut r = http::Response::new(b.clone());
            *r.status_mut() = http::StatusCode::from_u16(*s).unwrap();
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        }
        Answer::Transport => return None,
        Answer::Tokens => tokens_response(now, "Bearer"),
        Answer::RotatedTokens(_) => {
            rotated_tokens_response(now, if dpop { "DPoP" } else { "Bearer" })
        }
    })
}

fn run(
    mode: DeliveryMode,
    dpop: bool,
    fetch_keys: bool,
    interval: u64,
    expires_in: u64,
    steps: &[Step],
) {
    let c = client(mode);
    let mut cfg = PollConfig::new(validator(&c))
        .max_backoff(Duration::from_secs(30))
        .fetch_keys_on_unknown_kid(fetch_keys);
    if dpop {
        cfg = cfg.dpop(DpopKey::from_signer(signer("es256")).unwrap());
    }
    let mut p = Poller::new(&c, &ack(t0(), expires_in, Some(interval)), cfg, t0()).unwrap();
    let deadline = p.expires_at();
    let r = rng();
    let mut now = t0();
    let mut last_sent: Option<SystemTime> = None;
    let mut pinged = false;
    let mut finished = false;
    // The fate of a kept response awaiting keys, and whether keys were asked for it yet.
    let mut awaiting_keys: Option<KeyFate> = None;
    let mut keys_asked = false;
    let mut last_fate: Option<KeyFate> = None;

    for s in steps {
        match s {
            Step::Ping => {
                p.ping_received();
                pinged |= mode == DeliveryMode::Ping && !finished;
            }
            Step::Tick {
                advance,
                answer,
                after,
            } => {
                now += Duration::from_secs(*advance);
                let retries_before = p.dpop_retries();
                let interval_now = p.interval();
                match p.next(now, &r) {
                    PollAction::Send(_) => {
                        assert!(!finished, "sent after finishing");
                        assert!(awaiting_keys.is_none(), "sent while awaiting keys");
                        assert!(now < deadline, "sent at or after the deadline");
                        let exempt = pinged || p.dpop_retries() > retries_before;
                        if let (Some(prev), false) = (last_sent, exempt) {
                            assert!(
                                now >= prev + interval_now,
                                "sent {:?} after the previous request, interval {:?}",
                                now.duration_since(prev).unwrap(),
                                interval_now
                            );
                        }
                        if p.dpop_retries() > retries_before {
                            assert!(dpop, "a nonce retry without DPoP");
                        }
                        last_sent = Some(now);
                        pinged = false;
                        assert!(p.is_awaiting_response());
                        prop_assert_never_sends(&mut p, now, &r);
                        now += Duration::from_secs(*after);
                        match response(answer, now, dpop) {
                            Some(resp) => p.on_response(resp, now),
                            None => p.on_transport_error(now),
                        }
                        last_fate = None;
                        if let Answer::RotatedTokens(fate) = answer {
                            last_fate = Some(*fate);
                            assert_eq!(p.is_awaiting_keys(), fetch_keys, "{answer:?}");
                            if fetch_keys {
                                awaiting_keys = Some(*fate);
                                keys_asked = false;
                            }
                        } else {
                            assert!(!p.is_awaiting_keys(), "{answer:?} asked for keys");
                        }
                    }
                    PollAction::FetchKeys => {
                        assert!(fetch_keys, "FetchKeys without the option");
                        assert!(!finished, "FetchKeys after finishing");
                        let fate = awaiting_keys.expect("FetchKeys without an unknown kid");
                        assert!(!keys_asked, "keys asked for twice for one response");
                        keys_asked = true;
                        prop_assert_never_sends(&mut p, now, &r);
                        match fate {
                            KeyFate::NewSetHasKey => p.keys_refreshed(rotated_jwks(), now),
                            KeyFate::NewSetLacksKey => p.keys_refreshed(op_jwks(), now),
                            KeyFate::Unavailable => p.keys_unavailable(),
                            KeyFate::Unanswered => {}
                        }
                        if fate != KeyFate::Unanswered {
                            assert!(p.is_finished(), "keys answered but no outcome");
                            awaiting_keys = None;
                        }
                    }
                    PollAction::Wait(t) => {
                        assert!(t > now, "waits for a time already passed");
                        assert!(t <= deadline, "waits past the deadline");
                    }
                    PollAction::Done(_) => {
                        assert!(!finished, "outcome returned twice");
                        if let Some(fate) = last_fate {
                            assert_eq!(fate, KeyFate::NewSetHasKey, "Done without the key");
                            assert!(fetch_keys, "Done without fetching the key");
                        }
                        finished = true;
                    }
                    PollAction::Failed(_) => {
                        assert!(!finished, "outcome returned twice");
                        finished = true;
                    }
                    PollAction::Finished => assert!(finished),
                    PollAction::AwaitingResponse => assert!(
                        keys_asked && awaiting_keys == Some(KeyFate::Unanswered),
                        "nothing is in flight"
                    ),
                }
            }
        }
    }
}

fn prop_assert_never_sends(p: &mut Poller, now: SystemTime, r: &dyn ciba_core::Random) {
    for dt in [0, 1, 1000] {
        let a = p.next(now + Duration::from_secs(dt), r);
        assert!(matches!(a, PollAction::AwaitingResponse), "{a:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn poll_client_respects_interval_deadline_and_single_flight(
        fetch_keys in any::<bool>(),
        interval in 1u64..20,
        expires_in in 1u64..1200,
        steps in prop::collection::vec(step(), 0..100),
    ) {
        run(DeliveryMode::Poll, false, fetch_keys, interval, expires_in, &steps);
    }

    #[test]
    fn ping_client_with_dpop_respects_interval_deadline_and_single_flight(
        fetch_keys in any::<bool>(),
        interval in 1u64..20,
        expires_in in 1u64..1200,
        steps in prop::collection::vec(step(), 0..100),
    ) {
        run(DeliveryMode::Ping, true, fetch_keys, interval, expires_in, &steps);
    }
}
