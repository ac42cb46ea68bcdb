//! `ciba serve --store redis://...`: two instances on one Redis serve one issuer (a request
//! started on A, approved on A's device, is redeemed on B, once), and an unreachable Redis
//! at start-up is one error line.

#![allow(missing_docs)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use ciba_core::Limits;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{AlgorithmPolicy, CompactJws, JwkSet, JwsAlgorithm};
use serde_json::Value;
use support::redis::TestRedis;
use support::{form_post, free_port, http, run_ciba, serve, serve_at};

const CLIENT: &str = "shared-poll";
const SECRET: &str = "a-long-secret-shared-by-both-instances";
const CIBA_GRANT: &str = "urn%3Aopenid%3Aparams%3Agrant-type%3Aciba";

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn two_instances_on_one_redis_serve_one_issuer() {
    let redis = TestRedis::new();
    let dir = std::env::temp_dir().join(format!("ciba-cli-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clients = dir.join("clients.json");
    std::fs::write(
        &clients,
        format!(
            r#"[{{"client_id": "{CLIENT}", "client_secret": "{SECRET}",
                 "grant_types": ["urn:openid:params:grant-type:ciba"],
                 "backchannel_token_delivery_mode": "poll"}}]"#
        ),
    )
    .unwrap();
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ciba-core/testdata/eddsa.jwk.json"
    );
    let shared = [
        "--store",
        redis.url(),
        "--clients",
        clients.to_str().unwrap(),
        "--signing-key",
        key,
        "--auto",
        "manual",
        "--interval",
        "1",
    ];
    let a = serve(&shared, 0);
    // B advertises A's issuer (and so A's endpoint URLs) and answers on the same paths.
    let b_addr = format!("127.0.0.1:{}", free_port());
    let mut b_args = shared.to_vec();
    b_args.extend(["--issuer", a.issuer.as_str()]);
    let b = serve_at(&b_addr, &b_args, 0);
    assert_eq!(b.issuer, a.issuer);
    let b_url = format!("http://{b_addr}");

    // One issuer: the same discovery document and the same published key on both.
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let (status_a, from_a) = http("GET", &format!("{}{path}", a.issuer), None);
        let (status_b, from_b) = http("GET", &format!("{b_url}{path}"), None);
        assert_eq!((status_a, status_b), (200, 200), "{path}");
        assert_eq!(json(&from_a), json(&from_b), "{path}");
    }

    // Started on A.
    let (status, body) = form_post(
        &format!("{}/bc-authorize", a.issuer),
        CLIENT,
        SECRET,
        "scope=openid&login_hint=alice&binding_message=SHARED",
    );
    assert_eq!(status, 200, "{body}");
    let id = json(&body)["auth_req_id"].as_str().unwrap().to_owned();
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
    verify_with_set(&jws, &keys, &AlgorithmPolicy::only([JwsAlgorithm::EdDSA])).unwrap();
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

#[test]
fn serve_refuses_a_tls_redis_url_as_a_usage_error() {
    let out = run_ciba(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--store",
            "rediss://127.0.0.1:6379",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rediss://"));
}
