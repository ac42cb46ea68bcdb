//! Tracing and metrics over real sockets: ciba-hyper's authorization server, its deliverer,
//! the notification receiver and ciba-client run poll, ping and push flows (client secrets,
//! a login hint, a binding message, notification tokens) under one capturing subscriber and
//! one recording metrics recorder. The captured output must name the spans of every layer
//! with their `client_id`, short-hashed `auth_req` and `outcome`, and hold none of the
//! secrets, tokens, hints, binding messages or `auth_req_id`s.

use crate::common;

use ciba_core::DeliveryMode;
use ciba_core::observe::short_hash;
use ciba_hyper::server::NOTIFICATIONS;
use ciba_server::{AuthenticationResult, Authorization};
use common::{SECRET, TestAs, alice};
use tracing_subscriber::fmt::format::FmtSpan;

/// The captured log output.
use ciba_test::logs::LogCapture as Capture;
/// Counters by `name{label=value,...}`.
use ciba_test::metrics::Recorded as Counters;

/// One flow of `mode`: initiate, approve on the device, wait for the tokens. Returns what
/// must never be logged.
async fn flow(env: &TestAs, mode: DeliveryMode, notification_token: &str) -> Vec<String> {
    let client = env.client(mode).await;
    let mut request = alice();
    if mode != DeliveryMode::Poll {
        request = request.client_notification_token(notification_token);
    }
    let ack = client.initiate(request).await.unwrap();
    let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
    env.handle
        .complete(&crate::common::sid(ack.auth_req_id.as_str()), approval)
        .await
        .unwrap();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    let mut secrets = vec![
        ack.auth_req_id.as_str().to_owned(),
        tokens.response.access_token.clone(),
    ];
    secrets.extend(tokens.response.refresh_token.clone());
    secrets.extend(tokens.response.id_token.clone());
    secrets
}

/// Runs `body` on a two-worker runtime whose every thread (and the calling one) reports to
/// `dispatch` and `recorder`, and nothing else does: the other tests of this binary run beside
/// it with the process-wide subscriber, so this one keeps its subscriber and recorder to the
/// threads of its own runtime.
fn on_own_runtime<F: std::future::Future>(
    dispatch: tracing::Dispatch,
    recorder: &'static Counters,
    body: F,
) -> F::Output {
    let thread_dispatch = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // The runtime's threads live until it is dropped at the end of this test; their
            // scoped defaults go with them.
            std::mem::forget(tracing::dispatcher::set_default(&thread_dispatch));
            std::mem::forget(metrics::set_default_local_recorder(recorder));
        })
        .build()
        .unwrap();
    let _tracing = tracing::dispatcher::set_default(&dispatch);
    let _metrics = metrics::set_default_local_recorder(recorder);
    runtime.block_on(body)
}

#[test]
fn flows_over_sockets_trace_every_layer_without_secrets_and_count_notifications() {
    let capture = Capture::default();
    let writer = capture.clone();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::CLOSE)
            .with_ansi(false)
            .finish(),
    );
    let counters: &'static Counters = Box::leak(Box::default());
    on_own_runtime(dispatch, counters, async {
        flows_and_checks(capture, counters).await;
    });
}

async fn flows_and_checks(capture: Capture, counters: &Counters) {
    let env = TestAs::start().await;
    let mut secrets = vec![
        SECRET.to_owned(),
        "alice@example.com".to_owned(),
        "W4SCT".to_owned(),
    ];
    let ping_token = "ping-notification-token-3f9c1e7a";
    let push_token = "push-notification-token-8b2d4c6e";
    secrets.extend([ping_token.to_owned(), push_token.to_owned()]);
    secrets.extend(flow(&env, DeliveryMode::Poll, "").await);
    secrets.extend(flow(&env, DeliveryMode::Ping, ping_token).await);
    secrets.extend(flow(&env, DeliveryMode::Push, push_token).await);
    env.stop().await;

    let text = capture.text();
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the output holds {secret:?}:\n{text}"
        );
    }
    let lines: Vec<&str> = text.lines().collect();
    let has = |parts: &[&str]| lines.iter().any(|l| parts.iter().all(|p| l.contains(p)));
    // The transport's request span, with ciba-server's endpoint span inside.
    assert!(
        has(&["ciba_http{route=\"backchannel\"", "status=200", "close"]),
        "{text}"
    );
    assert!(
        has(&[
            "ciba_http{route=\"token\"",
            "ciba_endpoint{endpoint=\"token\"",
            "client_id=\"poll-rp\""
        ]),
        "{text}"
    );
    assert!(
        has(&["ciba_http{route=\"discovery\"", "status=200"]),
        "{text}"
    );
    // The device's decision and the notification it sent, under the request's short hash.
    assert!(
        has(&[
            "ciba_decision{auth_req=",
            "ciba_notification{mode=\"ping\"",
            "outcome=\"delivered\""
        ]),
        "{text}"
    );
    assert!(
        has(&["ciba_notification{mode=\"push\"", "outcome=\"delivered\""]),
        "{text}"
    );
    // The client's side: initiation and wait, each with its client, mode and outcome.
    assert!(
        has(&[
            "ciba_client_initiate{client_id=\"ping-rp\" mode=\"ping\"",
            "outcome=\"ok\""
        ]),
        "{text}"
    );
    assert!(
        has(&[
            "ciba_client_wait{client_id=\"push-rp\" mode=\"push\"",
            "outcome=\"ok\""
        ]),
        "{text}"
    );
    assert!(
        has(&["ciba_client_token_request{poll=", "status=200"]),
        "{text}"
    );
    assert!(has(&["ciba_http_send{method=POST"]), "{text}");
    // The client's notification receiver answered the ping and the push.
    assert!(
        has(&["ciba_notification_received{status=20", "close"]),
        "{text}"
    );
    // Every auth_req_id shows up as its short hash, in the server's and the client's spans.
    let ids: Vec<&String> = secrets
        .iter()
        .filter(|s| text.contains(&format!("auth_req={}", short_hash(s))))
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "the three requests' short hashes appear:\n{text}"
    );

    let notifications =
        |mode: &str| counters.get(&format!("{NOTIFICATIONS}{{mode={mode},outcome=delivered}}"));
    assert_eq!(notifications("ping"), 1);
    assert_eq!(notifications("push"), 1);
    let requests = |endpoint: &str, outcome: &str| {
        counters.get(&format!(
            "{}{{endpoint={endpoint},outcome={outcome}}}",
            ciba_server::observe::REQUESTS
        ))
    };
    assert_eq!(requests("backchannel", "ok"), 3);
    assert_eq!(requests("token", "ok"), 2);
    assert_eq!(requests("discovery", "ok"), 3);
}
