//! The client's behaviour against a scripted provider, every scenario run once through each
//! transport adapter (ciba-reqwest and ciba-hyper): key sets, transient answers, numbers,
//! DPoP, secrets in output, the notification registry and receiver, and refusals said at once.

#![allow(missing_docs)]

use crate::support;

use std::future::IntoFuture;
use std::time::Duration;

use base64::Engine;
use ciba_client::{ClientOptions, Error, HttpSend, NotificationKind, TransportErrorKind};
use ciba_core::NotificationRefusal;
use ciba_core::jose::{JwkSigner, JwsAlgorithm};
use ciba_core::poll::PollError;
use ciba_core::random::OsRandom;
use ciba_core::{DeliveryMode, DpopKey};
use ciba_test::on_both_transports;
use serde_json::json;
use support::{Adapter, Scripted, Step, alice, client, notify, poll_client, progress, receiver};

on_both_transports!(
    poll_flow_ends_in_validated_tokens,
    a_key_rotated_mid_flow_is_fetched_and_used,
    an_unknown_kid_reuses_the_set_another_wait_just_fetched,
    refetches_for_unknown_kids_are_rate_bounded,
    a_failed_jwks_refetch_falls_back_to_the_last_good_set,
    the_registered_id_token_alg_is_enforced,
    a_push_with_a_wrong_bearer_is_refused_before_any_key_fetch,
    transient_502_and_a_reset_connection_are_retried,
    a_429_with_retry_after_and_a_text_body_is_waited_out,
    transient_retries_stop_at_the_expiry,
    numbers_with_fraction_parts_are_rounded_down,
    an_unusable_token_expires_in_keeps_the_tokens,
    an_absurd_ack_expires_in_is_capped,
    the_dpop_nonce_retry_waits_the_interval_and_the_nonce_is_shared,
    debug_output_never_shows_the_secret_or_url_credentials,
    a_provider_error_description_is_sanitised,
    a_push_delivers_validated_tokens_once,
    a_refused_push_shows_at_once_and_the_expiry_error_names_it,
    a_ping_sends_the_token_request_at_once_and_a_wrong_one_is_reported,
    two_pings_in_a_row_redeem_once_and_the_first_tokens_stand,
    a_duplicate_registration_is_refused,
    timeouts_oversized_bodies_redirects_and_bad_json_are_typed,
    denial_ends_the_wait_at_once,
    dropping_the_wait_sends_no_further_request,
    plain_http_is_refused_without_the_loopback_opt_in,
);

const MS_50: Duration = Duration::from_millis(50);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn expired_locally(e: &Error) -> bool {
    matches!(e.poll_error(), Some(PollError::ExpiredLocally { .. }))
}

async fn poll_flow_ends_in_validated_tokens<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::pending(), Step::tokens(0)]).await;
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    let (tx, rx) = progress();
    let tokens = client.wait_for_tokens(&ack).progress(tx).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    let requests = op.seen("POST /token");
    assert_eq!(requests.len(), 2);
    // The interval is kept between polls.
    assert!(requests[1].at - requests[0].at + MS_50 >= secs(1));
    assert_eq!(rx.borrow().poll.polls_sent, 2);
    assert_eq!(rx.borrow().poll.phase, ciba_client::PollPhase::Finished);
}

// --- Key sets -----------------------------------------------------------------------------

async fn a_key_rotated_mid_flow_is_fetched_and_used<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::pending()]).await;
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    let rotate = async {
        // After the wait fetched the key set: the provider rotates to k1.
        tokio::time::sleep(Duration::from_millis(500)).await;
        op.publish(&[1]);
        op.script_tokens(vec![Step::tokens(1)]);
    };
    let (result, ()) = tokio::join!(client.wait_for_tokens(&ack).into_future(), rotate);
    assert_eq!(result.unwrap().id_token.sub, "alice");
    assert_eq!(op.seen("GET /jwks").len(), 2);
}

async fn an_unknown_kid_reuses_the_set_another_wait_just_fetched<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::tokens(1), Step::tokens(1)]).await;
    // A window far longer than the test: a refused or delayed refetch would show.
    let options = ClientOptions::default().jwks_min_refetch_interval(secs(60));
    let client = client(a.default_http(), &op, DeliveryMode::Poll, None, options)
        .await
        .unwrap();
    client.jwks().await.unwrap();
    op.publish(&[1]);
    let first = client.initiate(alice()).await.unwrap();
    let second = client.initiate(alice()).await.unwrap();
    let both = tokio::time::timeout(
        secs(15),
        futures_join(
            client.wait_for_tokens(&first).into_future(),
            client.wait_for_tokens(&second).into_future(),
        ),
    )
    .await
    .expect("a wait was held back by the refetch window");
    assert!(both.0.is_ok() && both.1.is_ok(), "{both:?}");
    assert_eq!(op.seen("GET /jwks").len(), 2, "one refetch for both waits");
}

async fn futures_join<F1: std::future::Future, F2: std::future::Future>(
    f1: F1,
    f2: F2,
) -> (F1::Output, F2::Output) {
    tokio::join!(f1, f2)
}

async fn refetches_for_unknown_kids_are_rate_bounded<A: Adapter>(a: A) {
    // k2 is never published: every token names an unknown key.
    let op = Scripted::start(vec![Step::tokens(2), Step::tokens(2)]).await;
    let window = secs(2);
    let options = ClientOptions::default().jwks_min_refetch_interval(window);
    let client = client(a.default_http(), &op, DeliveryMode::Poll, None, options)
        .await
        .unwrap();
    for _ in 0..2 {
        let ack = client.initiate(alice()).await.unwrap();
        let e = client.wait_for_tokens(&ack).await.unwrap_err();
        assert!(matches!(e.poll_error(), Some(PollError::IdToken(_))), "{e}");
    }
    let fetches = op.seen("GET /jwks");
    assert_eq!(fetches.len(), 3, "the first fetch and one refetch per wait");
    assert!(fetches[2].at - fetches[1].at + MS_50 >= window);
}

async fn a_failed_jwks_refetch_falls_back_to_the_last_good_set<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::tokens(0)]).await;
    let options = ClientOptions::default().jwks_ttl(Duration::ZERO);
    let client = client(a.default_http(), &op, DeliveryMode::Poll, None, options)
        .await
        .unwrap();
    client.jwks().await.unwrap();
    op.script_jwks(vec![Step::Raw(503, Vec::new(), b"down".to_vec())]);
    let ack = client.initiate(alice()).await.unwrap();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(op.seen("GET /jwks").len(), 2);
}

async fn the_registered_id_token_alg_is_enforced<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::tokens(0)]).await;
    let mut config = support::config(DeliveryMode::Poll, None);
    config.id_token_signed_response_alg = Some(JwsAlgorithm::ES256);
    let client = ciba_client::CibaClient::discover(
        a.default_http(),
        &op.base,
        config,
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let ack = client.initiate(alice()).await.unwrap();
    // The provider signs with EdDSA; the client registered ES256.
    let e = client.wait_for_tokens(&ack).await.unwrap_err();
    assert!(matches!(e.poll_error(), Some(PollError::IdToken(_))), "{e}");
}

async fn a_push_with_a_wrong_bearer_is_refused_before_any_key_fetch<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    let receiver = receiver().await;
    let options = ClientOptions::default().jwks_ttl(Duration::ZERO);
    let client = client(
        a.default_http(),
        &op,
        DeliveryMode::Push,
        Some(&receiver),
        options,
    )
    .await
    .unwrap();
    let ack = client.initiate(alice()).await.unwrap();
    let id = ack.auth_req_id.as_str();
    let fetched = op.seen("GET /jwks").len();
    let body = op.push_body(id, 0, id, false);
    assert_eq!(notify(&receiver.url(), "not-the-token", &body).await, 401);
    // Over the body cap: still 401, since the body is never read.
    let big = json!({"auth_req_id": id, "pad": "a".repeat(400 * 1024)});
    assert_eq!(notify(&receiver.url(), "not-the-token", &big).await, 401);
    assert_eq!(op.seen("GET /jwks").len(), fetched, "a key fetch happened");
}

// --- Transient answers ---------------------------------------------------------------------

async fn transient_502_and_a_reset_connection_are_retried<A: Adapter>(a: A) {
    let op = Scripted::start(vec![
        Step::json(502, json!({"error": "temporarily_unavailable"})),
        Step::Reset,
        Step::tokens(0),
    ])
    .await;
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    assert!(client.wait_for_tokens(&ack).await.is_ok());
    assert_eq!(op.seen("POST /token").len(), 3);
}

async fn a_429_with_retry_after_and_a_text_body_is_waited_out<A: Adapter>(a: A) {
    let op = Scripted::start(vec![
        Step::Raw(
            429,
            vec![
                ("retry-after", "3".into()),
                ("content-type", "text/plain".into()),
            ],
            b"Too Many Requests".to_vec(),
        ),
        Step::tokens(0),
    ])
    .await;
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    assert!(client.wait_for_tokens(&ack).await.is_ok());
    let requests = op.seen("POST /token");
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at + MS_50 >= secs(3));
}

async fn transient_retries_stop_at_the_expiry<A: Adapter>(a: A) {
    let gateway = Step::Raw(502, Vec::new(), b"<html>bad gateway</html>".to_vec());
    let op = Scripted::start(vec![gateway; 20]).await;
    op.ack_numbers(json!(4), json!(1));
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    let e = tokio::time::timeout(secs(10), client.wait_for_tokens(&ack).into_future())
        .await
        .expect("retries went past the expiry")
        .unwrap_err();
    assert!(
        matches!(
            e.poll_error(),
            Some(PollError::ExpiredLocally { .. } | PollError::TooManyFailures { .. })
        ),
        "{e}"
    );
    assert!(op.seen("POST /token").len() < 5);
}

// --- Numbers --------------------------------------------------------------------------------

async fn numbers_with_fraction_parts_are_rounded_down<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::Tokens(0, json!({"expires_in": 3599.9}))]).await;
    op.ack_numbers(json!(59.9), json!(1.0));
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    assert_eq!(ack.expires_in, secs(59));
    assert_eq!(ack.interval, secs(1));
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert_eq!(tokens.response.expires_in, Some(secs(3599)));
}

async fn an_unusable_token_expires_in_keeps_the_tokens<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::Tokens(0, json!({"expires_in": "soon"}))]).await;
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert_eq!(tokens.response.expires_in, None);
    assert_eq!(
        tokens.response.access_token.as_str(),
        "scripted-access-token"
    );
}

async fn an_absurd_ack_expires_in_is_capped<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    op.ack_numbers(json!(1e12), json!(1));
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    assert_eq!(
        ack.expires_in,
        secs(24 * 60 * 60),
        "the default cap is one day"
    );
    let mut config = support::config(DeliveryMode::Poll, None);
    config.limits.max_ack_expires_in = secs(60);
    let client = ciba_client::CibaClient::discover(
        a.default_http(),
        &op.base,
        config,
        ClientOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(client.initiate(alice()).await.unwrap().expires_in, secs(60));
}

// --- DPoP -----------------------------------------------------------------------------------

fn proof_nonce(seen: &support::scripted::Seen) -> Option<String> {
    let proof = seen.header("dpop").expect("a DPoP proof");
    let payload = proof.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["nonce"].as_str().map(str::to_owned)
}

async fn the_dpop_nonce_retry_waits_the_interval_and_the_nonce_is_shared<A: Adapter>(a: A) {
    let dpop_tokens = || Step::Tokens(0, json!({"token_type": "DPoP"}));
    let op = Scripted::start(vec![
        Step::Raw(
            400,
            vec![
                ("content-type", "application/json".into()),
                ("dpop-nonce", "nonce-0001".into()),
            ],
            br#"{"error":"use_dpop_nonce"}"#.to_vec(),
        ),
        dpop_tokens(),
        dpop_tokens(),
    ])
    .await;
    let key = DpopKey::from_signer(JwkSigner::generate_ed25519(&OsRandom, None).unwrap()).unwrap();
    let options = ClientOptions::default().dpop(key);
    let client = client(a.default_http(), &op, DeliveryMode::Poll, None, options)
        .await
        .unwrap();
    let ack = client.initiate(alice()).await.unwrap();
    assert!(client.wait_for_tokens(&ack).await.is_ok());
    let requests = op.seen("POST /token");
    assert_eq!(requests.len(), 2);
    assert_eq!(proof_nonce(&requests[0]), None);
    assert_eq!(proof_nonce(&requests[1]).as_deref(), Some("nonce-0001"));
    assert!(
        requests[1].at - requests[0].at + MS_50 >= secs(1),
        "the retry waits the interval"
    );
    // The next wait starts with the nonce the first one learnt.
    let ack = client.initiate(alice()).await.unwrap();
    assert!(client.wait_for_tokens(&ack).await.is_ok());
    let requests = op.seen("POST /token");
    assert_eq!(requests.len(), 3);
    assert_eq!(proof_nonce(&requests[2]).as_deref(), Some("nonce-0001"));
}

// --- Secrets and terminals ------------------------------------------------------------------

async fn debug_output_never_shows_the_secret_or_url_credentials<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    let receiver = receiver().await;
    let client = client(
        a.default_http(),
        &op,
        DeliveryMode::Ping,
        Some(&receiver),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let ack = client.initiate(alice()).await.unwrap();
    let token = op.seen("POST /bc")[0]
        .form("client_notification_token")
        .unwrap();
    let shown = format!("{client:?} {:?} {ack:?}", client.notifications());
    assert!(!shown.contains(support::CLIENT_SECRET), "{shown}");
    assert!(!shown.contains(&token), "{shown}");
    assert!(!shown.contains(ack.auth_req_id.as_str()), "{shown}");
    let request = http::Request::get("http://user:SECRET-pw@127.0.0.1:9/p?key=SECRET-q")
        .body(Vec::new())
        .unwrap();
    let e = Error::from(client.http().send(request).await.unwrap_err());
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
}

async fn a_provider_error_description_is_sanitised<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    op.script_backchannel(vec![Step::json(
        400,
        json!({"error": "invalid_request",
               "error_description": "bad\u{1b}[2J\u{7} hint\u{202e}txt.exe\r\nforged: line"}),
    )]);
    let client = poll_client(a, &op).await;
    let e = client.initiate(alice()).await.unwrap_err();
    let shown = format!("{e}");
    assert!(shown.contains("invalid_request"), "{shown}");
    for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\r', '\n'] {
        assert!(!shown.contains(bad), "{shown:?}");
    }
}

// --- Notifications --------------------------------------------------------------------------

async fn a_push_delivers_validated_tokens_once<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    let support::Notified {
        client,
        receiver,
        ack,
        token,
    } = support::notified(a, &op, DeliveryMode::Push).await;
    let id = ack.auth_req_id.as_str().to_owned();
    let body = op.push_body(&id, 0, &id, false);
    let push = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        notify(&receiver.url(), &token, &body).await
    };
    let (result, status) = tokio::join!(client.wait_for_tokens(&ack).into_future(), push);
    assert_eq!(status, 204);
    assert_eq!(result.unwrap().id_token.sub, "alice");
    // Completed: a second delivery changes nothing.
    assert_eq!(notify(&receiver.url(), &token, &body).await, 401);
    assert!(receiver.registry().is_empty());
}

async fn a_refused_push_shows_at_once_and_the_expiry_error_names_it<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    op.ack_numbers(json!(4), json!(1));
    let support::Notified {
        client,
        receiver,
        ack,
        token,
    } = support::notified(a, &op, DeliveryMode::Push).await;
    let id = ack.auth_req_id.as_str().to_owned();
    let (tx, mut rx) = progress();
    let pushes = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // An ID token whose auth_req_id claim names another request.
        let other = op.push_body(&id, 0, "another-request-0123456789abcdef", false);
        assert_eq!(notify(&receiver.url(), &token, &other).await, 400);
        let seen = tokio::time::timeout(secs(1), rx.wait_for(|p| p.refused == 1)).await;
        assert!(seen.is_ok(), "the refusal was not reported at once");
        drop(seen);
        // A wrong at_hash.
        let bad = op.push_body(&id, 0, &id, true);
        assert_eq!(notify(&receiver.url(), &token, &bad).await, 400);
        let seen = tokio::time::timeout(secs(1), rx.wait_for(|p| p.refused == 2)).await;
        let last = seen.unwrap().unwrap().last_refused.clone().unwrap();
        assert_eq!(last.kind, NotificationKind::Push);
        assert!(
            matches!(last.reason, NotificationRefusal::IdToken(_)),
            "{last}"
        );
    };
    let (result, ()) = tokio::join!(
        client.wait_for_tokens(&ack).progress(tx).into_future(),
        pushes
    );
    let e = result.unwrap_err();
    assert!(expired_locally(&e), "{e}");
    let last = e.last_refused().expect("the error names the refusal");
    assert!(matches!(last.reason, NotificationRefusal::IdToken(_)));
    let text = e.to_string();
    assert!(
        text.contains("last refused notification: a push was refused"),
        "{text}"
    );
}

async fn a_ping_sends_the_token_request_at_once_and_a_wrong_one_is_reported<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::tokens(0)]).await;
    op.ack_numbers(json!(30), json!(20));
    let support::Notified {
        client,
        receiver,
        ack,
        token,
    } = support::notified(a, &op, DeliveryMode::Ping).await;
    let id = ack.auth_req_id.as_str().to_owned();
    let (tx, mut rx) = progress();
    let pings = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ping = json!({"auth_req_id": id});
        // The receiver refuses a token no request has before reading the body: nothing to
        // attribute, nothing reported.
        assert_eq!(notify(&receiver.url(), "wrong-token", &ping).await, 401);
        // Handed to the registry with its body (a route without the header check), a wrong
        // token for this request is refused, and said at once.
        let wrong = http::Request::post("/")
            .header("content-type", "application/json")
            .header("authorization", "Bearer wrong-token")
            .body(ping.to_string().into_bytes())
            .unwrap();
        assert_eq!(receiver.registry().handle(wrong).await.status(), 401);
        let seen = tokio::time::timeout(secs(1), rx.wait_for(|p| p.refused == 1)).await;
        let last = seen.unwrap().unwrap().last_refused.clone().unwrap();
        assert_eq!(last.reason, NotificationRefusal::WrongToken);
        assert_eq!(last.kind, NotificationKind::Ping);
        assert_eq!(notify(&receiver.url(), &token, &ping).await, 204);
    };
    let wait = client.wait_for_tokens(&ack).progress(tx).into_future();
    let (result, ()) = tokio::time::timeout(secs(10), async { tokio::join!(wait, pings) })
        .await
        .expect("the ping did not send the token request before the 20 s interval");
    assert_eq!(result.unwrap().id_token.sub, "alice");
    assert_eq!(op.seen("POST /token").len(), 1);
    // The request is completed: a second ping finds nothing to redeem.
    let ping = json!({"auth_req_id": ack.auth_req_id.as_str()});
    assert_eq!(notify(&receiver.url(), &token, &ping).await, 401);
    assert_eq!(op.seen("POST /token").len(), 1);
}

async fn a_duplicate_registration_is_refused<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    op.fixed_auth_req_id("the-same-auth-req-id-0123456789");
    let receiver = receiver().await;
    let opts = ClientOptions::default();
    let client = client(
        a.default_http(),
        &op,
        DeliveryMode::Ping,
        Some(&receiver),
        opts,
    )
    .await
    .unwrap();
    client.initiate(alice()).await.unwrap();
    let e = client.initiate(alice()).await.unwrap_err();
    assert!(matches!(e, Error::DuplicateRegistration { .. }), "{e}");
    assert_eq!(receiver.registry().len(), 1);
}

// --- Transport faults and endings -------------------------------------------------------------

async fn timeouts_oversized_bodies_redirects_and_bad_json_are_typed<A: Adapter>(a: A) {
    let op = Scripted::start(vec![
        Step::Raw(302, vec![("location", "/elsewhere".into())], Vec::new()),
        Step::Raw(
            200,
            vec![("content-type", "application/json".into())],
            b"{not json".to_vec(),
        ),
    ])
    .await;
    let slow = Step::Delay(secs(2), Box::new(Step::json(200, json!({}))));
    let big = Step::Raw(
        200,
        vec![("content-type", "application/json".into())],
        vec![b' '; 4096],
    );
    op.script_backchannel(vec![slow, big]);
    let http = a.http(Duration::from_millis(500), 2048);
    let client = client(
        http,
        &op,
        DeliveryMode::Poll,
        None,
        ClientOptions::default(),
    )
    .await
    .unwrap();
    match client.initiate(alice()).await {
        Err(Error::Transport(e)) => assert_eq!(e.kind, TransportErrorKind::Timeout),
        other => panic!("{other:?}"),
    }
    match client.initiate(alice()).await {
        Err(Error::Transport(e)) => assert_eq!(e.kind, TransportErrorKind::BodyTooLarge),
        other => panic!("{other:?}"),
    }
    for _ in 0..2 {
        let ack = client.initiate(alice()).await.unwrap();
        let e = client.wait_for_tokens(&ack).await.unwrap_err();
        assert!(
            matches!(e.poll_error(), Some(PollError::Response(_))),
            "{e}"
        );
    }
    assert!(
        op.seen("GET /elsewhere").is_empty(),
        "a redirect was followed"
    );
}

async fn plain_http_is_refused_without_the_loopback_opt_in<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    let mut config = support::config(DeliveryMode::Poll, None);
    config.endpoint_policy = ciba_core::EndpointPolicy::HTTPS_ONLY;
    let e = ciba_client::CibaClient::discover(
        a.default_http(),
        &op.base,
        config,
        ClientOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Core(ciba_core::Error::Config(
                ciba_core::ConfigError::InsecureEndpoint { .. }
            ))
        ),
        "{e:?}"
    );
    assert!(op.seen("GET /.well-known/openid-configuration").is_empty());
}

async fn denial_ends_the_wait_at_once<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::json(403, json!({"error": "access_denied"}))]).await;
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    let e = client.wait_for_tokens(&ack).await.unwrap_err();
    assert!(
        matches!(e.poll_error(), Some(PollError::AccessDenied(_))),
        "{e}"
    );
    assert_eq!(op.seen("POST /token").len(), 1);
}

async fn dropping_the_wait_sends_no_further_request<A: Adapter>(a: A) {
    let op = Scripted::start(Vec::new()).await;
    let client = poll_client(a, &op).await;
    let ack = client.initiate(alice()).await.unwrap();
    let cut = tokio::time::timeout(
        Duration::from_millis(1500),
        client.wait_for_tokens(&ack).into_future(),
    )
    .await;
    assert!(cut.is_err());
    let sent = op.seen("POST /token").len();
    tokio::time::sleep(secs(2)).await;
    assert_eq!(op.seen("POST /token").len(), sent);
}

/// The receiver is ciba-hyper's whichever transport the client uses: once is enough.
#[tokio::test]
async fn a_notification_body_that_does_not_come_gets_408() {
    let op = Scripted::start(Vec::new()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = ciba_hyper::ReceiverOptions::default().body_timeout(Duration::from_millis(300));
    let registry = ciba_client::NotificationRegistry::new();
    let receiver =
        ciba_hyper::NotificationReceiver::serve_with(listener, registry, options).unwrap();
    let http = support::Hyper.default_http();
    let client = client(
        http,
        &op,
        DeliveryMode::Ping,
        Some(&receiver),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    client.initiate(alice()).await.unwrap();
    let token = op.seen("POST /bc")[0]
        .form("client_notification_token")
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(receiver.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /cb HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{{"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .unwrap();
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(
        secs(5),
        tokio::io::AsyncReadExt::read(&mut stream, &mut answer),
    )
    .await
    .expect("the receiver kept waiting for the body")
    .unwrap();
    let line = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(line.starts_with("HTTP/1.1 408"), "{line}");
}

/// C-PING-8: a provider that pings twice in a row (a retry after a lost answer, say) gets one
/// token request, not two: the second ping finds the flow already woken and changes nothing;
/// the tokens the one request got are the ones the caller receives; and once the flow is done
/// a third ping is refused and still sends nothing.
async fn two_pings_in_a_row_redeem_once_and_the_first_tokens_stand<A: Adapter>(a: A) {
    let op = Scripted::start(vec![Step::tokens(0)]).await;
    op.ack_numbers(json!(30), json!(20));
    let support::Notified {
        client,
        receiver,
        ack,
        token,
    } = support::notified(a, &op, DeliveryMode::Ping).await;
    let ping = json!({"auth_req_id": ack.auth_req_id.as_str()});
    let pings = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let first = notify(&receiver.url(), &token, &ping).await;
        let second = notify(&receiver.url(), &token, &ping).await;
        (first, second)
    };
    let wait = client.wait_for_tokens(&ack).into_future();
    let (result, (first, second)) =
        tokio::time::timeout(secs(10), async { tokio::join!(wait, pings) })
            .await
            .expect("the pings did not send the token request before the 20 s interval");
    assert_eq!(first, 204);
    // The second ping may land before or after the flow is done: either it is taken and
    // ignored, or the binding is already gone. Neither sends a token request.
    assert!(second == 204 || second == 401, "second ping: {second}");
    let tokens = result.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(
        tokens.response.access_token.as_str(),
        "scripted-access-token"
    );
    assert_eq!(op.seen("POST /token").len(), 1);
    assert_eq!(notify(&receiver.url(), &token, &ping).await, 401);
    assert_eq!(op.seen("POST /token").len(), 1);
}
