//! `ciba serve --metrics 127.0.0.1:0`: the metrics endpoint is found from the printed
//! address, and its counters move with a poll flow (backchannel, pending polls, the device's
//! approval, the tokens).

#![allow(missing_docs)]

use crate::support;

use std::time::Duration;

use serde_json::Value;
use support::{Served, bc_authorize, eventually, form_post, http, serve};

/// Reads the `metrics: URL` start-up line.
fn metrics_url(served: &Served) -> String {
    loop {
        let line = served
            .stdout_lines
            .recv_timeout(Duration::from_secs(10))
            .expect("ciba serve printed no `metrics:` line");
        if let Some(url) = line.strip_prefix("metrics: ") {
            return url.to_owned();
        }
    }
}

/// The value of the sample named exactly `series` (name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn scrape(url: &str) -> String {
    let (status, body) = http("GET", url, None);
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn metrics_endpoint_counts_a_poll_flow() {
    let served = serve(
        &[
            "--auto",
            "approve:2",
            "--interval",
            "1",
            "--metrics",
            "127.0.0.1:0",
        ],
        3,
    );
    let url = metrics_url(&served);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        !url.ends_with(":0/metrics"),
        "the bound port is printed: {url}"
    );
    let client = served.client("poll").clone();

    let auth_req_id = bc_authorize(
        &served.issuer,
        &client.client_id,
        &client.client_secret,
        "scope=openid&login_hint=alice&binding_message=W4SCT",
    );

    // Right after the request, before the device's answer: one pending request, one
    // authorization_pending poll.
    let poll =
        format!("grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id={auth_req_id}");
    let token = format!("{}/token", served.issuer);
    let (status, body) = form_post(&token, &client.client_id, &client.client_secret, &poll);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("authorization_pending"), "{body}");
    let early = scrape(&url);
    assert_eq!(
        sample(&early, "ciba_pending_requests"),
        Some(1.0),
        "{early}"
    );
    assert_eq!(
        sample(
            &early,
            r#"ciba_requests_total{endpoint="backchannel",outcome="ok"}"#
        ),
        Some(1.0),
        "{early}"
    );
    assert_eq!(
        sample(
            &early,
            r#"ciba_requests_total{endpoint="token",outcome="authorization_pending"}"#
        ),
        Some(1.0),
        "{early}"
    );

    // The device approves after 2 s; poll (at the interval) until the tokens come.
    let tokens = eventually(Duration::from_secs(20), "the tokens", || {
        std::thread::sleep(Duration::from_millis(1100));
        let (status, body) = form_post(&token, &client.client_id, &client.client_secret, &poll);
        (status == 200).then_some(body)
    });
    let tokens: Value = serde_json::from_str(&tokens).unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();

    let text = scrape(&url);
    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(
        count(r#"ciba_requests_total{endpoint="backchannel",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        count(r#"ciba_requests_total{endpoint="token",outcome="ok"}"#),
        1.0
    );
    assert!(
        count(r#"ciba_requests_total{endpoint="token",outcome="authorization_pending"}"#) >= 1.0
    );
    assert_eq!(
        count(r#"ciba_authentication_results_total{result="approved"}"#),
        1.0
    );
    assert_eq!(
        count(r#"ciba_requests_total{endpoint="complete",outcome="ok"}"#),
        1.0
    );
    assert_eq!(count("ciba_pending_requests"), 0.0);
    assert!(count(r#"ciba_store_operation_seconds_count{operation="poll"}"#) >= 2.0);
    assert!(
        text.contains(r#"ciba_store_operation_seconds_bucket{operation="poll",le="0.001"}"#),
        "store latency is a histogram with buckets:\n{text}"
    );
    assert!(
        text.contains("# TYPE ciba_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE ciba_pending_requests gauge"),
        "{text}"
    );
    assert!(
        text.contains("# HELP ciba_requests_total CIBA endpoint calls by endpoint and outcome"),
        "{text}"
    );
    // Nothing secret reaches the metrics.
    for secret in [
        client.client_secret.as_str(),
        auth_req_id.as_str(),
        access_token,
        "alice",
        "W4SCT",
    ] {
        assert!(!text.contains(secret), "the metrics hold {secret:?}");
    }

    // Only GET /metrics is served.
    let other = url.replace("/metrics", "/other");
    assert_eq!(http("GET", &other, None).0, 404);
    assert_eq!(http("POST", &url, Some("")).0, 405);
    drop(served);
}
