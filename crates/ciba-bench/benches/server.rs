//! Authorization-server costs of ciba-server on its `MemoryStore`, criterion group `server`
//! (results under `target/criterion/server/<id>/new/estimates.json`):
//!
//! | id | what one iteration does |
//! |---|---|
//! | `authenticate_request` | validate a backchannel request (`client_secret_basic`), store its ticket |
//! | `issue` | turn a ticket into a pending request: mint the `auth_req_id`, store it, build the acknowledgement |
//! | `complete` | record the user's approval of a poll-mode request |
//! | `token_pending` | answer a token request `authorization_pending` (polled at the interval) |
//! | `token_slow_down` | answer a token request `slow_down` (polled too early) |
//! | `token_granted` | redeem an approved request: mint the tokens (ES256 ID token), store their fingerprints, build the 200 response |
//!
//! `issue`, `complete` and `token_granted` get a fresh request per iteration (set-up outside
//! the measurement). The clock is virtual and moves forward, so entries expire and the store
//! keeps a steady size. Each benchmark has a server of its own.

#![allow(clippy::expect_used)] // a broken fixture aborts the benchmark run

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use ciba_bench::client_side::t0;
use ciba_bench::server_side::{
    SUBJECT, backchannel_request, ready, server, start, ticket, token_request,
};
use ciba_core::random::OsRandom;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, CibaServer, CompleteOutcome,
    IncomingRequest, IssueOutcome, TokenError, TokenOutcome,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// The server's polling interval (ciba-server's default).
const INTERVAL: Duration = Duration::from_secs(5);
/// Token requests per pending request in `token_pending` and `token_slow_down`: they all
/// fall within the request's 300 s lifetime.
const POLLS_PER_REQUEST: u64 = 50;
/// Fresh requests set up per batch: their virtual times span well under the ticket TTL and
/// the request lifetime.
const BATCH: BatchSize = BatchSize::NumIterations(64);

/// A virtual clock that only moves forward.
struct Clock(Cell<SystemTime>);

impl Clock {
    fn new() -> Clock {
        Clock(Cell::new(t0()))
    }

    /// Moves forward by `by` and returns the new instant.
    fn tick(&self, by: Duration) -> SystemTime {
        let now = self.0.get() + by;
        self.0.set(now);
        now
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn fresh_server() -> CibaServer {
    server().expect("server")
}

fn approval() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new(SUBJECT))
}

fn is_pending(outcome: &TokenOutcome) -> bool {
    matches!(outcome, TokenOutcome::Respond(r) if matches!(r.error, TokenError::AuthorizationPending))
}

fn is_slow_down(outcome: &TokenOutcome) -> bool {
    matches!(outcome, TokenOutcome::Respond(r) if matches!(r.error, TokenError::SlowDown { .. }))
}

fn backchannel(c: &mut Criterion) {
    let mut group = c.benchmark_group("server");
    let request = backchannel_request().expect("request");

    let server = fresh_server();
    let clock = Clock::new();
    let outcome =
        ready(server.authenticate_request(&IncomingRequest::from_http(&request), t0(), &OsRandom));
    assert!(
        matches!(outcome, BackchannelOutcome::UserIdentification(_)),
        "{outcome:?}"
    );
    group.bench_function("authenticate_request", |b| {
        b.iter_batched(
            || clock.tick(secs(1)),
            |now| {
                ready(server.authenticate_request(
                    &IncomingRequest::from_http(&request),
                    now,
                    &OsRandom,
                ))
            },
            BatchSize::SmallInput,
        )
    });

    let server = fresh_server();
    let clock = Clock::new();
    let setup = || {
        let now = clock.tick(secs(1));
        (
            ticket(&server, &request, now, &OsRandom).expect("ticket"),
            now,
        )
    };
    let (t, now) = setup();
    let outcome = ready(server.issue(&t, SUBJECT, now, &OsRandom));
    assert!(matches!(outcome, IssueOutcome::Issued(_)), "{outcome:?}");
    group.bench_function("issue", |b| {
        b.iter_batched(
            setup,
            |(ticket, now)| ready(server.issue(&ticket, SUBJECT, now, &OsRandom)),
            BATCH,
        )
    });

    let server = fresh_server();
    let clock = Clock::new();
    let setup = || {
        let now = clock.tick(secs(1));
        let id = start(&server, &request, now, &OsRandom).expect("request");
        (id, approval(), now + secs(1))
    };
    let (id, result, at) = setup();
    let outcome = ready(server.complete(&id, result, at, &OsRandom));
    assert!(
        matches!(outcome, Ok(CompleteOutcome::NothingToSend)),
        "{outcome:?}"
    );
    group.bench_function("complete", |b| {
        b.iter_batched(
            setup,
            |(id, result, at)| ready(server.complete(&id, result, at, &OsRandom)),
            BATCH,
        )
    });
    group.finish();
}

/// `iters` token requests, [`POLLS_PER_REQUEST`] per pending request; only the token
/// requests are timed. `first_poll_untimed` sends one unmeasured poll first; `spacing` is the
/// time between polls (zero: every poll is too early).
fn timed_polls(
    server: &CibaServer,
    clock: &Clock,
    iters: u64,
    first_poll_untimed: bool,
    spacing: Duration,
) -> Duration {
    let bc = backchannel_request().expect("request");
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let base = clock.tick(secs(300));
        let id = start(server, &bc, base, &OsRandom).expect("request");
        let request = token_request(&id).expect("token request");
        let incoming = IncomingRequest::from_http(&request);
        let mut at = base + INTERVAL;
        if first_poll_untimed {
            black_box(ready(server.token_request(&incoming, at, &OsRandom)));
        }
        let n = left.min(POLLS_PER_REQUEST);
        let began = Instant::now();
        for _ in 0..n {
            black_box(ready(server.token_request(&incoming, at, &OsRandom)));
            at += spacing;
        }
        total += began.elapsed();
        left -= n;
    }
    total
}

fn token_endpoint(c: &mut Criterion) {
    let mut group = c.benchmark_group("server");
    let bc = backchannel_request().expect("request");

    // Sanity: polls at the interval are pending, polls at once are slow_down.
    {
        let server = fresh_server();
        let now = t0();
        let id = start(&server, &bc, now, &OsRandom).expect("request");
        let request = token_request(&id).expect("token request");
        let incoming = IncomingRequest::from_http(&request);
        let first = ready(server.token_request(&incoming, now + INTERVAL, &OsRandom));
        assert!(is_pending(&first), "{first:?}");
        let second = ready(server.token_request(&incoming, now + INTERVAL * 2, &OsRandom));
        assert!(is_pending(&second), "{second:?}");
        let early = ready(server.token_request(&incoming, now + INTERVAL * 2, &OsRandom));
        assert!(is_slow_down(&early), "{early:?}");
    }

    let server = fresh_server();
    let clock = Clock::new();
    group.bench_function("token_pending", |b| {
        b.iter_custom(|iters| timed_polls(&server, &clock, iters, false, INTERVAL))
    });

    let server = fresh_server();
    let clock = Clock::new();
    group.bench_function("token_slow_down", |b| {
        b.iter_custom(|iters| timed_polls(&server, &clock, iters, true, Duration::ZERO))
    });

    let server = fresh_server();
    let clock = Clock::new();
    let setup = || {
        let now = clock.tick(secs(1));
        let id = start(&server, &bc, now, &OsRandom).expect("request");
        ready(server.complete(&id, approval(), now + secs(1), &OsRandom)).expect("approved");
        (token_request(&id).expect("token request"), now + INTERVAL)
    };
    let (request, at) = setup();
    let outcome = ready(server.token_request(&IncomingRequest::from_http(&request), at, &OsRandom));
    assert!(matches!(outcome, TokenOutcome::Issued(_)), "{outcome:?}");
    group.bench_function("token_granted", |b| {
        b.iter_batched(
            setup,
            |(request, at)| {
                ready(server.token_request(&IncomingRequest::from_http(&request), at, &OsRandom))
            },
            BATCH,
        )
    });
    group.finish();
}

/// Short runs: the whole server group stays well under a minute.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = backchannel, token_endpoint
}
criterion_main!(benches);
