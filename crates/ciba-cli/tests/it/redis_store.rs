//! `ciba serve --store redis://...`: two instances on one Redis serve one issuer (a request
//! started on A, approved on A's device, is redeemed on B, once); an unreachable Redis at
//! start-up is one error line; `rediss://` with `--redis-ca-file`; and the stall test: a
//! Redis stopped with SIGSTOP while 16 token requests are in flight costs them a 503 within
//! the store timeout, never the rest of the server, and loses nothing.

#![allow(missing_docs)]

use crate::support;

use ciba_test::services;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ciba_core::Limits;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{AlgorithmPolicy, CompactJws, JwkSet, JwsAlgorithm};
use support::redis::TestRedis;
use support::{
    CIBA_GRANT, MANUAL, bc_authorize, form_post, free_port, http, json, poll_clients_file,
    run_ciba, serve, two_instances,
};

const CLIENT: &str = "shared-poll";
const SECRET: &str = "a-long-secret-shared-by-both-instances";

#[test]
fn two_instances_on_one_redis_serve_one_issuer() {
    let redis = TestRedis::new();
    let (dir, clients) = poll_clients_file("redis", CLIENT, SECRET);
    let (a, b, b_url) = two_instances(redis.url(), &clients);
    assert_eq!(b.issuer, a.issuer);

    // One issuer: the same discovery document and the same published key on both.
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let (status_a, from_a) = http("GET", &format!("{}{path}", a.issuer), None);
        let (status_b, from_b) = http("GET", &format!("{b_url}{path}"), None);
        assert_eq!((status_a, status_b), (200, 200), "{path}");
        assert_eq!(json(&from_a), json(&from_b), "{path}");
    }

    // Started on A.
    let id = bc_authorize(
        &a.issuer,
        CLIENT,
        SECRET,
        "scope=openid&login_hint=alice&binding_message=SHARED",
    );
    let token_form = format!("grant_type={CIBA_GRANT}&auth_req_id={id}");

    // B knows the request: still pending.
    let (status, body) = form_post(&format!("{b_url}/token"), CLIENT, SECRET, &token_form);
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["error"], "authorization_pending", "{body}");

    // Approved on A's authentication device.
    let (status, body) = http(
        "POST",
        &format!("{}/device/api/{id}/approve", a.issuer),
        None,
    );
    assert_eq!(status, 200, "{body}");

    // Redeemed on B (after the interval B's poll started), with an ID token from A's issuer
    // under the key A publishes.
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = form_post(&format!("{b_url}/token"), CLIENT, SECRET, &token_form);
    assert_eq!(status, 200, "{body}");
    let tokens = json(&body);
    let id_token = tokens["id_token"].as_str().unwrap();
    let (_, jwks) = http("GET", &format!("{}/jwks", a.issuer), None);
    let keys = JwkSet::from_json(jwks.as_bytes(), &Limits::DEFAULT).unwrap();
    let jws = CompactJws::parse(id_token, &Limits::DEFAULT).unwrap();
    // The client registered no id_token_signed_response_alg: RS256.
    verify_with_set(&jws, &keys, &AlgorithmPolicy::only([JwsAlgorithm::RS256])).unwrap();
    let claims = jws.claims(&Limits::DEFAULT).unwrap();
    assert_eq!(claims["iss"], a.issuer.as_str());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], CLIENT);

    // Redeemed once across instances: A refuses it now.
    let (status, body) = form_post(&format!("{}/token", a.issuer), CLIENT, SECRET, &token_form);
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["error"], "invalid_grant", "{body}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_reports_an_unreachable_redis_in_one_line() {
    // Nothing listens there.
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let out = run_ciba(
        &["serve", "--addr", "127.0.0.1:0", "--store", &url],
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("error: cannot reach redis at {url}")),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing may be served");
}

/// Starts a poll-mode request on `issuer`; returns its `auth_req_id`.
fn start_request(issuer: &str, hint: &str) -> String {
    bc_authorize(
        issuer,
        CLIENT,
        SECRET,
        &format!("scope=openid&login_hint={hint}"),
    )
}

fn poll(issuer: &str, id: &str) -> (u16, String) {
    form_post(
        &format!("{issuer}/token"),
        CLIENT,
        SECRET,
        &format!("grant_type={CIBA_GRANT}&auth_req_id={id}"),
    )
}

/// Sends `signal` (`-STOP`, `-CONT`) to `pid` with the `kill` command.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// A Redis of this test's own that it may stop: continued (SIGCONT) before it is killed,
/// whether the test passed or failed.
struct Stoppable(services::Service);

impl Drop for Stoppable {
    fn drop(&mut self) {
        for pid in self.0.pids() {
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        self.0.stop();
    }
}

#[test]
fn a_stalled_redis_costs_token_requests_a_503_within_the_store_timeout_and_nothing_else() {
    const IN_FLIGHT: usize = 16;
    const STORE_TIMEOUT: Duration = Duration::from_secs(2);
    let redis = Stoppable(services::start_single().unwrap());
    let pid = redis.0.pids()[0];
    let (dir, clients) = poll_clients_file("stall", CLIENT, SECRET);
    let clients = clients.to_str().unwrap();
    let store = [
        "--store",
        &redis.0.url,
        "--store-timeout",
        "2s",
        "--clients",
        clients,
    ];
    let served = serve(&[&store[..], &MANUAL].concat(), 0);
    let issuer = served.issuer.clone();
    let ids: Vec<String> = (0..4)
        .map(|i| start_request(&issuer, &format!("user{i}")))
        .collect();
    for id in &ids {
        let (status, body) = poll(&issuer, id);
        assert_eq!(
            json(&body)["error"],
            "authorization_pending",
            "{status} {body}"
        );
    }

    signal(pid, "-STOP");
    // 16 token requests in flight while Redis does not answer.
    let polls: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let (issuer, id) = (issuer.clone(), ids[i % ids.len()].clone());
            std::thread::spawn(move || {
                let sent = Instant::now();
                let answer = poll(&issuer, &id);
                (answer, sent.elapsed())
            })
        })
        .collect();
    // The rest of the server does not wait for Redis: discovery answers at once.
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let (status, body) = http(
        "GET",
        &format!("{issuer}/.well-known/openid-configuration"),
        None,
    );
    let discovery = asked.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        discovery < Duration::from_secs(1),
        "discovery took {discovery:?}"
    );
    for t in polls {
        let ((status, body), took) = t.join().unwrap();
        assert_eq!(status, 503, "{body}");
        assert_eq!(json(&body)["error"], "temporarily_unavailable", "{body}");
        assert!(
            took < STORE_TIMEOUT + Duration::from_secs(1),
            "a token request waited {took:?}"
        );
    }
    signal(pid, "-CONT");

    // Nothing was lost: every request is still pending.
    std::thread::sleep(Duration::from_millis(1100));
    for id in &ids {
        let (status, body) = poll(&issuer, id);
        assert_eq!(status, 400, "{body}");
        let error = json(&body)["error"].as_str().unwrap().to_owned();
        assert!(
            error == "authorization_pending" || error == "slow_down",
            "{id}: {body}"
        );
    }
    drop(served);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_reaches_redis_over_tls_with_the_ca_it_is_given() {
    let redis = services::start_tls().unwrap();
    let ca = redis.ca_file.clone().unwrap();
    let (dir, clients) = poll_clients_file("tls", CLIENT, SECRET);
    // Without the CA the certificate is not trusted: one error line, exit 1.
    let out = run_ciba(
        &["serve", "--addr", "127.0.0.1:0", "--store", &redis.url],
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot reach redis at rediss://"),
        "{stderr}"
    );
    // With it, flows go through.
    let served = serve(
        &[
            "--store",
            &redis.url,
            "--redis-ca-file",
            ca.to_str().unwrap(),
            "--clients",
            clients.to_str().unwrap(),
        ],
        0,
    );
    let id = start_request(&served.issuer, "alice");
    let (status, body) = poll(&served.issuer, &id);
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    drop(served);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_refuses_a_missing_ca_file_as_a_usage_error() {
    let missing = Path::new("/nonexistent/ciba-ca.pem");
    let out = run_ciba(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--store",
            "rediss://127.0.0.1:1",
            "--redis-ca-file",
            missing.to_str().unwrap(),
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--redis-ca-file"));
}
