//! Client-side costs of ciba-core, criterion group `client` (results under
//! `target/criterion/client/<id>/new/estimates.json`):
//!
//! | id | what one iteration does |
//! |---|---|
//! | `auth_request_secret_basic` | build the backchannel authentication request, `client_secret_basic` |
//! | `auth_request_private_key_jwt_es256` | the same with a `private_key_jwt` assertion signed with ES256 |
//! | `auth_request_private_key_jwt_rs256` | the same, RS256 |
//! | `ack` | process the OP's acknowledgement |
//! | `token_response_{rs256,ps256,es256,eddsa}` | process a token response, ID token fully validated (signature included) |
//! | `poll_step_pending` | `Poller::on_response(authorization_pending)`, then `Poller::next` (the wait) |
//! | `ping` | validate a ping notification |
//! | `push_{es256,rs256}` | validate a push notification carrying tokens, ID token fully validated |
//!
//! Every input is built (and checked to succeed) before measuring. The clock is virtual.

#![allow(clippy::expect_used)] // a broken fixture aborts the benchmark run

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use ciba_bench::client_side::{
    ack_response, client, notification_token, pending_response, ping_request,
    process_token_response, push_request, secret_basic, t0, token_response, validator,
};
use ciba_bench::keys;
use ciba_core::jose::JwsAlgorithm;
use ciba_core::notification::{receive_ping, receive_push};
use ciba_core::random::OsRandom;
use ciba_core::{
    AuthRequest, AuthRequestAck, ClientAuth, DeliveryMode, Hint, Limits, PollAction, PollConfig,
    Poller,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn alice() -> AuthRequest {
    AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
        .scope(["openid", "email"])
        .binding_message("W4SCT")
}

fn auth_requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("client");
    let now = t0();
    let request = alice();
    let cases = [
        ("auth_request_secret_basic", secret_basic()),
        (
            "auth_request_private_key_jwt_es256",
            ClientAuth::private_key_jwt(keys::signer(JwsAlgorithm::ES256).expect("ES256 key")),
        ),
        (
            "auth_request_private_key_jwt_rs256",
            ClientAuth::private_key_jwt(keys::signer(JwsAlgorithm::RS256).expect("RS256 key")),
        ),
    ];
    for (id, auth) in cases {
        let client = client(DeliveryMode::Poll, auth).expect("client");
        request
            .build(&client, now, &OsRandom)
            .expect("request builds");
        group.bench_function(id, |b| {
            b.iter(|| request.build(black_box(&client), now, &OsRandom))
        });
    }

    let ack = ack_response().expect("ack");
    AuthRequestAck::from_response(&ack, now, &Limits::DEFAULT).expect("ack parses");
    group.bench_function("ack", |b| {
        b.iter(|| AuthRequestAck::from_response(black_box(&ack), now, &Limits::DEFAULT))
    });
    group.finish();
}

fn token_responses(c: &mut Criterion) {
    let mut group = c.benchmark_group("client");
    let now = t0();
    let client = client(DeliveryMode::Poll, secret_basic()).expect("client");
    let validator = validator(&client).expect("validator");
    for alg in keys::ID_TOKEN_ALGS {
        let response = token_response(alg, now).expect("token response");
        process_token_response(&validator, &response, now).expect("tokens validate");
        let id = format!("token_response_{}", alg.as_str().to_ascii_lowercase());
        group.bench_function(id, |b| {
            b.iter(|| process_token_response(&validator, black_box(&response), now))
        });
    }
    group.finish();
}

fn poll_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("client");
    let start = t0();
    let client = client(DeliveryMode::Poll, secret_basic()).expect("client");
    let validator = validator(&client).expect("validator");
    let ack = AuthRequestAck::from_response(&ack_response().expect("ack"), start, &Limits::DEFAULT)
        .expect("ack parses");
    let sent_at = start + ack.interval;
    let answered_at = sent_at + Duration::from_millis(20);
    // A poller with its first token request in flight, and the OP's answer to it.
    let in_flight = || {
        let mut poller =
            Poller::new(&client, &ack, PollConfig::new(validator.clone()), start).expect("poller");
        let sent = poller.next(sent_at, &OsRandom);
        assert!(matches!(sent, PollAction::Send(_)), "{sent:?}");
        (poller, pending_response().expect("pending"))
    };
    let step = |(mut poller, pending): (Poller, http::Response<Vec<u8>>)| {
        poller.on_response(pending, answered_at);
        let action = poller.next(answered_at, &OsRandom);
        (poller, action)
    };
    let (_, action) = step(in_flight());
    assert!(
        // The next poll is due one interval after the last one was sent.
        matches!(action, PollAction::Wait(at) if at == sent_at + ack.interval),
        "{action:?}"
    );
    group.bench_function("poll_step_pending", |b| {
        b.iter_batched(in_flight, step, BatchSize::SmallInput)
    });
    group.finish();
}

fn notifications(c: &mut Criterion) {
    let mut group = c.benchmark_group("client");
    let now: SystemTime = t0();
    let limits = Limits::DEFAULT;

    let ping = ping_request().expect("ping");
    receive_ping(&ping, &notification_token, &limits)
        .result
        .expect("ping accepted");
    group.bench_function("ping", |b| {
        b.iter(|| receive_ping(black_box(&ping), &notification_token, &limits))
    });

    let client = client(DeliveryMode::Push, secret_basic()).expect("client");
    let validator = validator(&client).expect("validator");
    for alg in [JwsAlgorithm::ES256, JwsAlgorithm::RS256] {
        let push = push_request(alg, now).expect("push");
        receive_push(&push, &notification_token, &validator, now, &limits)
            .result
            .expect("push accepted");
        let id = format!("push_{}", alg.as_str().to_ascii_lowercase());
        group.bench_function(id, |b| {
            b.iter(|| {
                receive_push(
                    black_box(&push),
                    &notification_token,
                    &validator,
                    now,
                    &limits,
                )
            })
        });
    }
    group.finish();
}

/// Short runs: the whole client group stays well under a minute.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = auth_requests, token_responses, poll_step, notifications
}
criterion_main!(benches);
