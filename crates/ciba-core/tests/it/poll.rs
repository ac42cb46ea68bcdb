//! The poll state machine (CIBA Core 10.1, 11) driven by a virtual clock against scripted
//! token endpoint answers.

use crate::support;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::dpop::DpopKey;
use ciba_core::id_token::{AUTH_REQ_ID_CLAIM, IdTokenError};
use ciba_core::jose::JoseError;
use ciba_core::poll::{PollAction, PollConfig, PollError, Poller};
use ciba_core::{AuthReqId, CIBA_GRANT_TYPE, DeliveryMode, Error, ErrorCode};
use ciba_core::{CibaGrant, TokenRequestError};
use ciba_core::{TokenResponseError, TokenType};
use serde_json::{Value, json};
use support::*;

fn poller_with(mode: DeliveryMode, interval: Option<u64>, config: PollConfig) -> Poller {
    let c = client(mode);
    Poller::new(&c, &ack(t0(), 120, interval), config, t0()).unwrap()
}

fn poller(interval: Option<u64>) -> Poller {
    let c = client(DeliveryMode::Poll);
    poller_with(DeliveryMode::Poll, interval, PollConfig::new(validator(&c)))
}

fn send(p: &mut Poller, now: SystemTime) -> http::Request<Vec<u8>> {
    match p.next(now, &rng()) {
        PollAction::Send(req) => req,
        other => panic!(
            "expected Send at {:?}, got {other:?}",
            unix(now) - unix(t0())
        ),
    }
}

fn wait(p: &mut Poller, now: SystemTime) -> SystemTime {
    match p.next(now, &rng()) {
        PollAction::Wait(t) => t,
        other => panic!(
            "expected Wait at {:?}, got {other:?}",
            unix(now) - unix(t0())
        ),
    }
}

fn failed(p: &mut Poller, now: SystemTime) -> PollError {
    match p.next(now, &rng()) {
        PollAction::Failed(e) => e,
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn pending() -> http::Response<Vec<u8>> {
    error_response(400, "authorization_pending")
}

fn secs_since_t0(t: SystemTime) -> u64 {
    t.duration_since(t0()).unwrap().as_secs()
}

fn dpop_claims(req: &http::Request<Vec<u8>>) -> Value {
    let proof = req.headers()["dpop"].to_str().unwrap();
    let payload = proof.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[test]
fn token_request_is_an_authenticated_ciba_grant_post_to_the_token_endpoint() {
    let mut p = poller(None);
    let req = send(&mut p, at(5));
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), TOKEN_ENDPOINT);
    assert_eq!(
        req.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    let f = form(&req);
    assert_eq!(param(&f, "grant_type"), Some(CIBA_GRANT_TYPE));
    assert_eq!(param(&f, "auth_req_id"), Some(AUTH_REQ_ID));
    assert_eq!(param(&f, "client_id"), Some(CLIENT_ID));
    assert!(param(&f, "client_secret").is_some());
    assert!(req.headers().get("dpop").is_none());
}

#[test]
fn extension_parameters_are_sent_with_every_poll() {
    let c = client(DeliveryMode::Poll);
    let cfg = PollConfig::new(validator(&c))
        .param("resource", "https://rs.example/a")
        .param("resource", "https://rs.example/b");
    let mut p = poller_with(DeliveryMode::Poll, None, cfg);
    let f = form(&send(&mut p, at(5)));
    let resources: Vec<_> = f.iter().filter(|(k, _)| k == "resource").collect();
    assert_eq!(resources.len(), 2);
}

#[test]
fn no_request_before_the_interval() {
    let mut p = poller(Some(7));
    assert_eq!(wait(&mut p, t0()), at(7));
    assert_eq!(wait(&mut p, at(6)), at(7));
    send(&mut p, at(7));
    p.on_response(pending(), at(8));
    assert_eq!(wait(&mut p, at(8)), at(14));
    assert_eq!(wait(&mut p, at(13)), at(14));
    send(&mut p, at(14));
}

#[test]
fn default_interval_is_five_seconds() {
    let mut p = poller(None);
    assert_eq!(p.interval(), Duration::from_secs(5));
    assert_eq!(wait(&mut p, t0()), at(5));
}

#[test]
fn interval_is_measured_from_when_the_request_was_sent() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    // A slow answer (long polling): 4 of the 5 seconds already passed.
    p.on_response(pending(), at(9));
    assert_eq!(wait(&mut p, at(9)), at(10));
    send(&mut p, at(10));
    // An answer slower than the interval: poll again at once.
    p.on_response(pending(), at(40));
    send(&mut p, at(40));
}

#[test]
fn authorization_pending_keeps_the_interval() {
    let mut p = poller(Some(5));
    let mut t = 5;
    for _ in 0..4 {
        send(&mut p, at(t));
        p.on_response(pending(), at(t));
        assert_eq!(p.interval(), Duration::from_secs(5));
        assert_eq!(wait(&mut p, at(t)), at(t + 5));
        t += 5;
    }
    assert_eq!(p.polls_sent(), 4);
}

#[test]
fn authorization_pending_honours_a_longer_retry_after() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let mut resp = pending();
    resp.headers_mut()
        .insert("retry-after", "30".parse().unwrap());
    p.on_response(resp, at(5));
    assert_eq!(wait(&mut p, at(5)), at(35));
}

#[test]
fn slow_down_adds_five_seconds_cumulatively() {
    let mut p = poller(Some(5));
    let mut t = 5;
    for expected in [10, 15, 20] {
        send(&mut p, at(t));
        p.on_response(error_response(400, "slow_down"), at(t));
        assert_eq!(p.interval(), Duration::from_secs(expected));
        assert_eq!(wait(&mut p, at(t)), at(t + expected));
        t += expected;
    }
    assert_eq!(p.slow_downs(), 3);
    // The grown interval stays after authorization_pending.
    send(&mut p, at(t));
    p.on_response(pending(), at(t));
    assert_eq!(p.interval(), Duration::from_secs(20));
    assert_eq!(wait(&mut p, at(t)), at(t + 20));
}

#[test]
fn no_request_after_expires_in() {
    // expires_in 120, interval 50: polls at 50 and 100; the next would be at 150.
    let mut p = poller(Some(50));
    send(&mut p, at(50));
    p.on_response(pending(), at(50));
    send(&mut p, at(100));
    p.on_response(pending(), at(100));
    // Wait never names a time after the deadline...
    assert_eq!(wait(&mut p, at(100)), at(120));
    assert_eq!(wait(&mut p, at(119)), at(120));
    // ...and at the deadline polling ends instead of sending.
    assert!(matches!(
        failed(&mut p, at(120)),
        PollError::ExpiredLocally { expires_at } if expires_at == at(120)
    ));
    assert!(matches!(p.next(at(121), &rng()), PollAction::Finished));
}

#[test]
fn a_late_clock_never_sends() {
    let mut p = poller(Some(5));
    assert!(matches!(
        failed(&mut p, at(10_000)),
        PollError::ExpiredLocally { .. }
    ));
}

#[test]
fn never_two_requests_in_flight() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    assert!(p.is_awaiting_response());
    for t in [5, 10, 60] {
        assert!(matches!(
            p.next(at(t), &rng()),
            PollAction::AwaitingResponse
        ));
    }
    p.on_response(pending(), at(11));
    assert!(!p.is_awaiting_response());
    send(&mut p, at(11));
}

#[test]
fn responses_without_a_request_in_flight_are_ignored() {
    let mut p = poller(Some(5));
    p.on_response(tokens_response(t0(), "Bearer"), at(1));
    p.on_transport_error(at(1));
    assert_eq!(wait(&mut p, at(1)), at(5));
    assert_eq!(p.consecutive_failures(), 0);
}

#[test]
fn tokens_end_polling_with_a_validated_id_token() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_response(tokens_response(at(5), "Bearer"), at(6));
    assert!(p.is_finished());
    match p.next(at(6), &rng()) {
        PollAction::Done(tokens) => {
            assert_eq!(tokens.response.access_token, "at-123");
            assert_eq!(tokens.response.token_type, TokenType::Bearer);
            assert_eq!(tokens.id_token.sub, "alice");
            assert_eq!(tokens.id_token.auth_req_id.as_deref(), Some(AUTH_REQ_ID));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(p.next(at(7), &rng()), PollAction::Finished));
}

#[test]
fn id_token_for_another_auth_req_id_fails_polling() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let mut c = claims(at(5));
    c.insert(AUTH_REQ_ID_CLAIM.into(), json!("someone-elses-request"));
    let resp = json_response(
        200,
        &json!({"access_token": "at", "token_type": "Bearer", "id_token": sign(&c, &signer("es256"))}),
    );
    p.on_response(resp, at(5));
    assert!(matches!(
        failed(&mut p, at(5)),
        PollError::IdToken(IdTokenError::AuthReqIdMismatch)
    ));
}

#[test]
fn invalid_request_stops_polling() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_response(error_response(400, "invalid_request"), at(5));
    assert!(matches!(
        failed(&mut p, at(5)),
        PollError::InvalidRequest(e) if e.code == ErrorCode::InvalidRequest
    ));
    for t in [10, 100, 1000] {
        assert!(matches!(p.next(at(t), &rng()), PollAction::Finished));
    }
}

#[test]
fn access_denied_expired_token_and_invalid_grant_are_terminal() {
    type Case = (&'static str, u16, fn(&PollError) -> bool);
    let cases: [Case; 6] = [
        ("access_denied", 400, |e| {
            matches!(e, PollError::AccessDenied(_))
        }),
        ("expired_token", 400, |e| {
            matches!(e, PollError::ExpiredToken(_))
        }),
        ("invalid_grant", 400, |e| {
            matches!(e, PollError::InvalidGrant(_))
        }),
        ("unauthorized_client", 400, |e| {
            matches!(e, PollError::UnauthorizedClient(_))
        }),
        ("invalid_client", 401, |e| {
            matches!(e, PollError::InvalidClient(_))
        }),
        ("unsupported_grant_type", 400, |e| {
            matches!(e, PollError::Rejected(_))
        }),
    ];
    for (code, status, is_expected) in cases {
        let mut p = poller(Some(5));
        send(&mut p, at(5));
        p.on_response(error_response(status, code), at(5));
        let e = failed(&mut p, at(5));
        assert!(is_expected(&e), "{code}: {e:?}");
        assert!(matches!(p.next(at(50), &rng()), PollAction::Finished));
    }
}

#[test]
fn unknown_error_codes_are_terminal() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_response(error_response(400, "vendor_specific"), at(5));
    assert!(matches!(
        failed(&mut p, at(5)),
        PollError::Rejected(e) if e.code == ErrorCode::Other("vendor_specific".into())
    ));
}

#[test]
fn service_unavailable_honours_retry_after_seconds() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let mut resp = http::Response::builder()
        .status(503)
        .header("retry-after", "42")
        .body(Vec::new())
        .unwrap();
    p.on_response(resp.clone(), at(6));
    assert_eq!(wait(&mut p, at(6)), at(48));
    send(&mut p, at(48));
    // A Retry-After shorter than the interval still waits the interval.
    *resp.headers_mut().get_mut("retry-after").unwrap() = "1".parse().unwrap();
    p.on_response(resp, at(48));
    assert_eq!(wait(&mut p, at(48)), at(53));
    assert_eq!(p.consecutive_failures(), 0);
}

#[test]
fn a_retry_after_of_up_to_64_characters_is_read() {
    // Leading zeros make a long but valid delay-seconds: 64 characters are read, 65 are
    // ignored (then the poller backs off as after a transport error).
    let sent = |value: String| {
        let mut p = poller(Some(5));
        send(&mut p, at(5));
        let resp = http::Response::builder()
            .status(503)
            .header("retry-after", value)
            .body(Vec::new())
            .unwrap();
        p.on_response(resp, at(5));
        wait(&mut p, at(5))
    };
    assert_eq!(sent(format!("{}42", "0".repeat(62))), at(47));
    assert_eq!(sent(format!("{}42", "0".repeat(63))), at(10));
    assert_eq!(sent(String::new()), at(10));
}

#[test]
fn service_unavailable_honours_retry_after_as_an_http_date() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    // t0 is 2023-11-14T22:13:20Z; ask for 22:14:00, 40 s after t0.
    let resp = http::Response::builder()
        .status(503)
        .header("retry-after", "Tue, 14 Nov 2023 22:14:00 GMT")
        .body(Vec::new())
        .unwrap();
    p.on_response(resp, at(5));
    assert_eq!(wait(&mut p, at(5)), at(40));
}

#[test]
fn service_unavailable_retry_after_beyond_the_deadline_ends_at_the_deadline() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let resp = http::Response::builder()
        .status(503)
        .header("retry-after", "86400")
        .body(Vec::new())
        .unwrap();
    p.on_response(resp, at(5));
    assert_eq!(wait(&mut p, at(5)), at(120));
    assert!(matches!(
        failed(&mut p, at(120)),
        PollError::ExpiredLocally { .. }
    ));
}

#[test]
fn service_unavailable_without_retry_after_backs_off_like_a_transport_error() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let resp = http::Response::builder()
        .status(503)
        .header("retry-after", "soon")
        .body(b"<html>busy</html>".to_vec())
        .unwrap();
    p.on_response(resp, at(5));
    assert_eq!(p.consecutive_failures(), 1);
    assert_eq!(wait(&mut p, at(5)), at(10));
}

#[test]
fn gateway_error_pages_are_transient_but_client_error_pages_are_not() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let html = |status| {
        http::Response::builder()
            .status(status)
            .header("content-type", "text/html")
            .body(b"<html>bad gateway</html>".to_vec())
            .unwrap()
    };
    p.on_response(html(502), at(5));
    assert_eq!(p.consecutive_failures(), 1);
    send(&mut p, at(10));
    p.on_response(html(404), at(10));
    assert!(matches!(failed(&mut p, at(10)), PollError::Response(_)));
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.as_bytes().to_vec()).unwrap()
}

fn done(p: &mut Poller, now: SystemTime) {
    match p.next(now, &rng()) {
        PollAction::Done(_) => {}
        other => panic!("expected Done, got {other:?}"),
    }
}

#[test]
fn server_errors_with_an_oauth_error_body_are_retried_after_the_interval() {
    for (status, code) in [
        (502, "temporarily_unavailable"),
        (500, "server_error"),
        (503, "temporarily_unavailable"),
        (504, "invalid_grant"),
    ] {
        let mut p = poller(Some(5));
        send(&mut p, at(5));
        // The wait (the interval, the first backoff step) counts from the answer.
        p.on_response(error_response(status, code), at(6));
        assert_eq!(p.consecutive_failures(), 1, "{status} {code}");
        assert_eq!(wait(&mut p, at(6)), at(11), "{status} {code}");
        send(&mut p, at(11));
        p.on_response(tokens_response(at(11), "Bearer"), at(11));
        done(&mut p, at(11));
    }
}

#[test]
fn temporarily_unavailable_and_server_error_codes_are_transient_at_any_status() {
    for code in ["temporarily_unavailable", "server_error"] {
        let mut p = poller(Some(5));
        send(&mut p, at(5));
        p.on_response(error_response(400, code), at(5));
        assert_eq!(p.consecutive_failures(), 1, "{code}");
        assert_eq!(wait(&mut p, at(5)), at(10), "{code}");
    }
}

#[test]
fn too_many_requests_with_retry_after_and_a_text_body_waits_then_polls() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let busy = answer(
        429,
        &[("content-type", "text/plain"), ("retry-after", "30")],
        "Too Many Requests",
    );
    p.on_response(busy, at(6));
    assert_eq!(wait(&mut p, at(6)), at(36));
    send(&mut p, at(36));
    p.on_response(tokens_response(at(36), "Bearer"), at(36));
    done(&mut p, at(36));
}

#[test]
fn too_many_requests_honours_retry_after_as_an_http_date() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    // t0 is 2023-11-14T22:13:20Z; ask for 22:14:00, 40 s after t0.
    let busy = answer(429, &[("retry-after", "Tue, 14 Nov 2023 22:14:00 GMT")], "");
    p.on_response(busy, at(5));
    assert_eq!(wait(&mut p, at(5)), at(40));
}

#[test]
fn retry_after_shorter_than_the_interval_still_waits_the_interval() {
    for status in [429, 503] {
        let mut p = poller(Some(5));
        send(&mut p, at(5));
        p.on_response(answer(status, &[("retry-after", "1")], "slow"), at(5));
        assert_eq!(wait(&mut p, at(5)), at(10), "{status}");
    }
}

#[test]
fn too_many_requests_without_retry_after_waits_the_interval() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let busy = answer(429, &[("content-type", "text/html")], "<h1>429</h1>");
    p.on_response(busy, at(5));
    assert_eq!(p.consecutive_failures(), 1);
    assert_eq!(wait(&mut p, at(5)), at(10));
}

#[test]
fn repeated_server_errors_end_polling_after_the_failure_limit() {
    let c = client(DeliveryMode::Poll);
    let cfg = PollConfig::new(validator(&c)).max_consecutive_failures(3);
    let mut p = Poller::new(&c, &ack(t0(), 600, Some(5)), cfg, t0()).unwrap();
    // Waits after failures 1 and 2: 5, then 10 s; the third ends polling.
    for (t, next) in [(5, 10), (10, 20)] {
        send(&mut p, at(t));
        p.on_response(error_response(502, "temporarily_unavailable"), at(t));
        assert_eq!(wait(&mut p, at(t)), at(next));
    }
    send(&mut p, at(20));
    p.on_response(error_response(502, "temporarily_unavailable"), at(20));
    assert!(matches!(
        failed(&mut p, at(20)),
        PollError::TooManyFailures { attempts: 3 }
    ));
}

#[test]
fn retries_after_transient_answers_stop_at_the_deadline() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_response(answer(429, &[("retry-after", "30")], ""), at(5));
    send(&mut p, at(35));
    p.on_response(answer(429, &[("retry-after", "30")], ""), at(35));
    send(&mut p, at(65));
    p.on_response(answer(429, &[("retry-after", "30")], ""), at(65));
    send(&mut p, at(95));
    p.on_response(answer(429, &[("retry-after", "30")], ""), at(95));
    // The ack said 120 s: the wait ends there, and no request follows.
    assert_eq!(wait(&mut p, at(95)), at(120));
    assert!(matches!(
        failed(&mut p, at(120)),
        PollError::ExpiredLocally { .. }
    ));
}

#[test]
fn a_ping_does_not_cut_short_the_wait_after_a_transient_failure() {
    let c = client(DeliveryMode::Ping);
    let mut p = poller_with(DeliveryMode::Ping, Some(5), PollConfig::new(validator(&c)));
    p.ping_received();
    send(&mut p, at(1));
    p.ping_received();
    p.on_response(error_response(503, "temporarily_unavailable"), at(2));
    assert_eq!(wait(&mut p, at(2)), at(7));
}

#[test]
fn tokens_with_a_fractional_or_unusable_expires_in_complete_polling() {
    for (expires_in, want) in [(json!(3600.0), Some(3600)), (json!("soon"), None)] {
        let mut p = poller(Some(5));
        send(&mut p, at(5));
        let body = json!({
            "access_token": "at-123",
            "token_type": "Bearer",
            "expires_in": expires_in,
            "id_token": id_token_for(at(5), "at-123", None),
        });
        p.on_response(json_response(200, &body), at(5));
        match p.next(at(5), &rng()) {
            PollAction::Done(t) => assert_eq!(
                t.response.expires_in,
                want.map(Duration::from_secs),
                "{expires_in}"
            ),
            other => panic!("{expires_in}: expected Done, got {other:?}"),
        }
    }
}

#[test]
fn redirects_are_never_followed() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    let resp = http::Response::builder()
        .status(307)
        .header("location", "https://evil.example/token")
        .body(Vec::new())
        .unwrap();
    p.on_response(resp, at(5));
    assert!(matches!(failed(&mut p, at(5)), PollError::Response(_)));
}

#[test]
fn transport_error_backoff_is_exponential_and_bounded() {
    let c = client(DeliveryMode::Poll);
    let cfg = PollConfig::new(validator(&c))
        .max_consecutive_failures(5)
        .max_backoff(Duration::from_secs(15));
    let c = client(DeliveryMode::Poll);
    let mut p = Poller::new(&c, &ack(t0(), 600, Some(5)), cfg, t0()).unwrap();
    let mut t = secs_since_t0(wait(&mut p, t0()));
    // Waits after failures 1..4: 5, 10, 15 (capped), 15; the 5th failure ends polling.
    for expected_wait in [5, 10, 15, 15] {
        send(&mut p, at(t));
        p.on_transport_error(at(t));
        let next = secs_since_t0(wait(&mut p, at(t)));
        assert_eq!(next - t, expected_wait);
        t = next;
    }
    send(&mut p, at(t));
    p.on_transport_error(at(t));
    assert!(matches!(
        failed(&mut p, at(t)),
        PollError::TooManyFailures { attempts: 5 }
    ));
}

#[test]
fn an_answer_resets_the_transport_failure_count() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_transport_error(at(5));
    send(&mut p, at(10));
    p.on_transport_error(at(10));
    assert_eq!(p.consecutive_failures(), 2);
    send(&mut p, at(20));
    p.on_response(pending(), at(20));
    assert_eq!(p.consecutive_failures(), 0);
    assert_eq!(wait(&mut p, at(20)), at(25));
}

#[test]
fn ping_received_allows_an_immediate_request() {
    let c = client(DeliveryMode::Ping);
    let mut p = poller_with(DeliveryMode::Ping, Some(5), PollConfig::new(validator(&c)));
    assert_eq!(wait(&mut p, at(1)), at(5));
    p.ping_received();
    send(&mut p, at(1));
    p.on_response(tokens_response(at(1), "Bearer"), at(1));
    assert!(matches!(p.next(at(1), &rng()), PollAction::Done(_)));
}

#[test]
fn ping_during_a_request_makes_the_next_one_immediate() {
    let c = client(DeliveryMode::Ping);
    let mut p = poller_with(DeliveryMode::Ping, Some(5), PollConfig::new(validator(&c)));
    send(&mut p, at(5));
    p.ping_received();
    p.on_response(pending(), at(6));
    send(&mut p, at(6));
    // The ping is used up: back to the interval.
    p.on_response(pending(), at(6));
    assert_eq!(wait(&mut p, at(6)), at(11));
}

#[test]
fn ping_received_has_no_effect_on_a_poll_client() {
    let mut p = poller(Some(5));
    p.ping_received();
    assert_eq!(wait(&mut p, at(1)), at(5));
}

fn dpop_poller() -> Poller {
    let c = client(DeliveryMode::Poll);
    let key = DpopKey::from_signer(signer("es256")).unwrap();
    poller_with(
        DeliveryMode::Poll,
        Some(5),
        PollConfig::new(validator(&c)).dpop(key),
    )
}

fn use_dpop_nonce(nonce: &str) -> http::Response<Vec<u8>> {
    let mut resp = error_response(400, "use_dpop_nonce");
    resp.headers_mut()
        .insert("dpop-nonce", nonce.parse().unwrap());
    resp
}

#[test]
fn every_poll_carries_a_fresh_dpop_proof_for_the_token_endpoint() {
    let mut p = dpop_poller();
    let r = rng();
    let send_with = |p: &mut Poller, now| match p.next(now, &r) {
        PollAction::Send(req) => req,
        other => panic!("{other:?}"),
    };
    let first = send_with(&mut p, at(5));
    let claims = dpop_claims(&first);
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], TOKEN_ENDPOINT);
    assert_eq!(claims["iat"], json!(unix(at(5))));
    assert!(claims.get("nonce").is_none());
    p.on_response(pending(), at(5));
    let second = send_with(&mut p, at(10));
    assert_ne!(dpop_claims(&second)["jti"], claims["jti"]);
}

#[test]
fn use_dpop_nonce_is_retried_with_the_nonce_after_the_interval() {
    let mut p = dpop_poller();
    send(&mut p, at(5));
    p.on_response(use_dpop_nonce("nonce-1"), at(6));
    // CIBA 7.3: never faster than the interval, measured from the rejected request.
    assert_eq!(wait(&mut p, at(6)), at(10));
    assert_eq!(p.dpop_retries(), 0, "none made yet");
    let retry = send(&mut p, at(10));
    assert_eq!(dpop_claims(&retry)["nonce"], "nonce-1");
    assert_eq!(p.polls_sent(), 1);
    assert_eq!(p.dpop_retries(), 1);
    p.on_response(pending(), at(11));
    assert_eq!(wait(&mut p, at(11)), at(15));
    // Later polls keep the nonce.
    let later = send(&mut p, at(15));
    assert_eq!(dpop_claims(&later)["nonce"], "nonce-1");
}

fn dpop_poller_with(cfg: impl FnOnce(PollConfig) -> PollConfig) -> Poller {
    let c = client(DeliveryMode::Poll);
    let key = DpopKey::from_signer(signer("es256")).unwrap();
    poller_with(
        DeliveryMode::Poll,
        Some(5),
        cfg(PollConfig::new(validator(&c)).dpop(key)),
    )
}

#[test]
fn a_nonce_another_flow_learnt_goes_into_the_first_proof() {
    let mut p = dpop_poller_with(|c| c.dpop_nonce("shared-1"));
    assert_eq!(p.dpop_nonce(), Some("shared-1"));
    let first = send(&mut p, at(5));
    assert_eq!(dpop_claims(&first)["nonce"], "shared-1");
    // Not a nonce by RFC 9449 syntax: ignored.
    let mut p = dpop_poller_with(|c| c.dpop_nonce("bad nonce"));
    assert_eq!(p.dpop_nonce(), None);
    assert!(dpop_claims(&send(&mut p, at(5))).get("nonce").is_none());
}

#[test]
fn the_latest_nonce_is_exposed_and_a_fresher_one_can_be_handed_in() {
    let mut p = dpop_poller();
    send(&mut p, at(5));
    // Any response may rotate the nonce; the poller keeps the newest for its next proof.
    let mut rotating = pending();
    rotating
        .headers_mut()
        .insert("dpop-nonce", "from-op-2".parse().unwrap());
    p.on_response(rotating, at(5));
    assert_eq!(p.dpop_nonce(), Some("from-op-2"));
    // Another flow to the same server learnt a newer one meanwhile.
    p.set_dpop_nonce("from-other-flow-3");
    p.set_dpop_nonce("not a nonce");
    assert_eq!(p.dpop_nonce(), Some("from-other-flow-3"));
    assert_eq!(
        dpop_claims(&send(&mut p, at(10)))["nonce"],
        "from-other-flow-3"
    );
    // Without a DPoP key there is nothing to keep.
    let mut bearer = poller(Some(5));
    bearer.set_dpop_nonce("n-1");
    assert_eq!(bearer.dpop_nonce(), None);
}

#[test]
fn second_use_dpop_nonce_in_a_row_is_terminal() {
    let mut p = dpop_poller();
    send(&mut p, at(5));
    p.on_response(use_dpop_nonce("nonce-1"), at(5));
    send(&mut p, at(10));
    p.on_response(use_dpop_nonce("nonce-2"), at(10));
    assert!(matches!(
        failed(&mut p, at(10)),
        PollError::Rejected(e) if e.code == ErrorCode::UseDpopNonce
    ));
}

#[test]
fn use_dpop_nonce_without_a_dpop_key_is_terminal() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_response(use_dpop_nonce("nonce-1"), at(5));
    assert!(matches!(failed(&mut p, at(5)), PollError::Rejected(_)));
}

#[test]
fn bearer_tokens_in_answer_to_a_dpop_request_are_refused() {
    let mut p = dpop_poller();
    send(&mut p, at(5));
    p.on_response(tokens_response(at(5), "Bearer"), at(5));
    assert!(matches!(
        failed(&mut p, at(5)),
        PollError::TokenResponse(TokenResponseError::TokenTypeMismatch { .. })
    ));
}

#[test]
fn dpop_tokens_complete_a_dpop_poll() {
    let mut p = dpop_poller();
    send(&mut p, at(5));
    p.on_response(tokens_response(at(5), "dpop"), at(5));
    assert!(
        matches!(p.next(at(5), &rng()), PollAction::Done(t) if t.response.token_type == TokenType::DPoP)
    );
}

#[test]
fn push_clients_are_refused_the_ciba_grant() {
    let c = client(DeliveryMode::Push);
    let err = Poller::new(
        &c,
        &ack(t0(), 120, None),
        PollConfig::new(validator(&c)),
        t0(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::TokenRequest(TokenRequestError::PushModeClient)
    ));
    let err = CibaGrant::new(AuthReqId::new(AUTH_REQ_ID))
        .build(&c, t0(), &rng())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::TokenRequest(TokenRequestError::PushModeClient)
    ));
}

#[test]
fn reserved_extension_parameters_are_refused() {
    let c = client(DeliveryMode::Poll);
    for name in [
        "grant_type",
        "auth_req_id",
        "client_secret",
        "client_assertion",
    ] {
        let err = CibaGrant::new(AuthReqId::new(AUTH_REQ_ID))
            .param(name, "x")
            .build(&c, t0(), &rng())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::TokenRequest(TokenRequestError::ReservedParameter { .. })
            ),
            "{name}"
        );
    }
    let err = CibaGrant::new(AuthReqId::new(AUTH_REQ_ID))
        .param("resource", "")
        .build(&c, t0(), &rng())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::TokenRequest(TokenRequestError::EmptyParameter { .. })
    ));
}

#[test]
fn a_poller_restored_from_stored_values_keeps_its_deadline() {
    let c = client(DeliveryMode::Poll);
    let mut p = Poller::from_parts(
        &c,
        AuthReqId::new(AUTH_REQ_ID),
        Duration::from_secs(15),
        at(100),
        PollConfig::new(validator(&c)),
        at(90),
    )
    .unwrap();
    assert_eq!(p.expires_at(), at(100));
    assert_eq!(wait(&mut p, at(90)), at(100));
    assert!(matches!(
        failed(&mut p, at(100)),
        PollError::ExpiredLocally { .. }
    ));
}

#[test]
fn counters_report_progress() {
    let mut p = poller(Some(5));
    assert_eq!((p.polls_sent(), p.slow_downs()), (0, 0));
    send(&mut p, at(5));
    p.on_response(error_response(400, "slow_down"), at(5));
    send(&mut p, at(15));
    assert_eq!(p.last_sent(), Some(at(15)));
    assert_eq!((p.polls_sent(), p.slow_downs()), (2, 1));
    assert_eq!(p.auth_req_id().as_str(), AUTH_REQ_ID);
}

// --- Key rotation: an ID token naming a kid the JWK Set lacks -------------------------------

fn rotation_poller() -> Poller {
    let c = client(DeliveryMode::Poll);
    poller_with(
        DeliveryMode::Poll,
        Some(5),
        PollConfig::new(validator(&c)).fetch_keys_on_unknown_kid(true),
    )
}

/// A poller that sent at 5 s and got tokens signed by the rotated key at 6 s.
fn rotated_answer() -> Poller {
    let mut p = rotation_poller();
    send(&mut p, at(5));
    p.on_response(rotated_tokens_response(at(6), "Bearer"), at(6));
    p
}

fn is_unknown_kid(e: &PollError, kid: &str) -> bool {
    matches!(
        e,
        PollError::IdToken(IdTokenError::KeyUnavailable(JoseError::NoMatchingKey { kid: Some(k), .. }))
            if k == kid
    )
}

#[test]
fn unknown_kid_asks_for_keys_then_the_new_set_completes_polling() {
    let mut p = rotated_answer();
    assert!(p.is_awaiting_keys());
    assert!(!p.is_finished());
    assert!(matches!(p.next(at(6), &rng()), PollAction::FetchKeys));
    p.keys_refreshed(rotated_jwks(), at(7));
    match p.next(at(7), &rng()) {
        PollAction::Done(tokens) => {
            assert_eq!(tokens.id_token.kid.as_deref(), Some("ec-2"));
            assert_eq!(tokens.response.access_token, "at-123");
            assert_eq!(tokens.id_token.auth_req_id.as_deref(), Some(AUTH_REQ_ID));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(p.next(at(8), &rng()), PollAction::Finished));
    assert_eq!(p.polls_sent(), 1);
}

#[test]
fn a_new_set_still_without_the_kid_fails_polling() {
    let mut p = rotated_answer();
    assert!(matches!(p.next(at(6), &rng()), PollAction::FetchKeys));
    p.keys_refreshed(op_jwks(), at(7));
    let e = failed(&mut p, at(7));
    assert!(is_unknown_kid(&e, "ec-2"), "{e:?}");
    assert!(matches!(p.next(at(8), &rng()), PollAction::Finished));
}

#[test]
fn keys_unavailable_fails_with_the_original_error() {
    let mut p = rotated_answer();
    assert!(matches!(p.next(at(6), &rng()), PollAction::FetchKeys));
    p.keys_unavailable();
    let e = failed(&mut p, at(6));
    assert!(is_unknown_kid(&e, "ec-2"), "{e:?}");
}

#[test]
fn keys_are_asked_for_once_and_nothing_is_sent_meanwhile() {
    let mut p = rotated_answer();
    assert!(matches!(p.next(at(6), &rng()), PollAction::FetchKeys));
    // Whatever else happens while the caller fetches keys, no request goes out and the
    // question is not asked again.
    p.ping_received();
    p.on_response(pending(), at(7));
    p.on_transport_error(at(7));
    for t in [6, 11, 60, 500] {
        assert!(
            matches!(p.next(at(t), &rng()), PollAction::AwaitingResponse),
            "at {t}"
        );
    }
    assert!(p.is_awaiting_keys());
    assert_eq!(p.polls_sent(), 1);
    // A refreshed set that still lacks the kid ends it: there is no second FetchKeys.
    p.keys_refreshed(op_jwks(), at(8));
    assert!(matches!(p.next(at(8), &rng()), PollAction::Failed(_)));
    // Answers after the end change nothing.
    p.keys_refreshed(rotated_jwks(), at(9));
    p.keys_unavailable();
    assert!(matches!(p.next(at(9), &rng()), PollAction::Finished));
}

#[test]
fn key_answers_nobody_asked_for_are_ignored() {
    let mut p = rotation_poller();
    p.keys_refreshed(rotated_jwks(), at(1));
    p.keys_unavailable();
    assert_eq!(wait(&mut p, at(1)), at(5));
    send(&mut p, at(5));
    p.keys_unavailable();
    assert!(p.is_awaiting_response());
    p.on_response(tokens_response(at(5), "Bearer"), at(6));
    assert!(matches!(p.next(at(6), &rng()), PollAction::Done(_)));
}

#[test]
fn a_kept_answer_is_validated_even_after_the_deadline() {
    // The request went out before the deadline (120 s); the keys come after it.
    let mut p = rotation_poller();
    send(&mut p, at(115));
    p.on_response(rotated_tokens_response(at(119), "Bearer"), at(119));
    assert!(matches!(p.next(at(121), &rng()), PollAction::FetchKeys));
    p.keys_refreshed(rotated_jwks(), at(125));
    assert!(matches!(p.next(at(125), &rng()), PollAction::Done(_)));
}

#[test]
fn without_the_option_an_unknown_kid_fails_at_once() {
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_response(rotated_tokens_response(at(6), "Bearer"), at(6));
    assert!(!p.is_awaiting_keys());
    let e = failed(&mut p, at(6));
    assert!(is_unknown_kid(&e, "ec-2"), "{e:?}");
}

#[test]
fn only_an_unknown_kid_asks_for_keys() {
    // Signed by another key under a kid the set has: a bad signature, which new keys
    // would not cure.
    let mut p = rotation_poller();
    send(&mut p, at(5));
    let forged = sign(&claims(at(5)), &signer("attacker_rs256"));
    p.on_response(
        json_response(
            200,
            &json!({"access_token": "at", "token_type": "Bearer", "id_token": forged}),
        ),
        at(6),
    );
    assert!(matches!(
        failed(&mut p, at(6)),
        PollError::IdToken(IdTokenError::BadSignature)
    ));
    // A token for another request, signed by a known key: refused without asking for keys.
    let mut p = rotation_poller();
    send(&mut p, at(5));
    let mut c = claims(at(5));
    c.insert(AUTH_REQ_ID_CLAIM.into(), json!("someone-elses-request"));
    p.on_response(
        json_response(
            200,
            &json!({"access_token": "at", "token_type": "Bearer", "id_token": sign(&c, &signer("es256"))}),
        ),
        at(6),
    );
    assert!(matches!(
        failed(&mut p, at(6)),
        PollError::IdToken(IdTokenError::AuthReqIdMismatch)
    ));
    // The wrong token type is refused before the ID token is even looked at.
    let mut p = rotation_poller();
    send(&mut p, at(5));
    p.on_response(rotated_tokens_response(at(6), "DPoP"), at(6));
    assert!(matches!(
        failed(&mut p, at(6)),
        PollError::TokenResponse(TokenResponseError::TokenTypeMismatch { .. })
    ));
}

#[test]
fn progress_snapshot_reports_the_pollers_counters_and_time_left() {
    use ciba_core::PollPhase;
    let mut p = poller(Some(5));
    send(&mut p, at(5));
    p.on_response(error_response(400, "slow_down"), at(5));
    let next = wait(&mut p, at(5));
    let snap = p.progress(PollPhase::Waiting, Some(next), at(5));
    assert_eq!(snap.phase, PollPhase::Waiting);
    assert_eq!(snap.polls_sent, 1);
    assert_eq!(snap.slow_downs, 1);
    assert_eq!(snap.interval, Duration::from_secs(10));
    assert_eq!(snap.next_request_at, Some(at(15)));
    assert_eq!(snap.expires_at, p.expires_at());
    assert_eq!(
        snap.time_left,
        p.expires_at().duration_since(at(5)).unwrap()
    );
    // Past the deadline there is no time left, and no underflow.
    let late = p.progress(
        PollPhase::Finished,
        None,
        p.expires_at() + Duration::from_secs(9),
    );
    assert_eq!(late.time_left, Duration::ZERO);
}

#[test]
fn pings_are_counted_for_ping_clients_only() {
    let c = client(DeliveryMode::Ping);
    let mut ping = poller_with(DeliveryMode::Ping, Some(5), PollConfig::new(validator(&c)));
    ping.ping_received();
    ping.ping_received();
    assert_eq!(ping.pings_received(), 2);
    let mut poll = poller(Some(5));
    poll.ping_received();
    assert_eq!(poll.pings_received(), 0);
}

#[test]
fn the_poller_shows_its_state() {
    let mut p = poller(Some(5));
    assert!(format!("{p:?}").contains("state: Idle"), "{p:?}");
    let _ = send(&mut p, t0() + Duration::from_secs(5));
    let shown = format!("{p:?}");
    assert!(
        shown.contains("state: InFlight { sent_at: ") && shown.contains("nonce_retry: false }"),
        "{shown}"
    );
}
