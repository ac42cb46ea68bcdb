//! `ciba serve` and `ciba login` against it over loopback: each delivery mode, denial,
//! expiry, a clients file, the device JSON API, and the one-line errors a person can act on.

#![allow(missing_docs)]

use crate::support;
use crate::tls_support;

use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;
use support::{eventually, free_port, http, login_args, run_ciba, serve};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(40);

fn login(args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ciba(&args, LOGIN_TIMEOUT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exactly one `error: ...` line, and nothing that looks like a panic or a Debug dump.
fn assert_one_error_line(stderr: &str, expected: &str) {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{stderr}");
    assert!(
        errors[0].contains(expected),
        "{:?} does not say {expected:?}",
        errors[0]
    );
    for bad in ["panicked", "backtrace", "Error {", "Os {", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(bad), "stderr contains {bad:?}:\n{stderr}");
    }
}

fn assert_tokens_for(out: &std::process::Output, subject: &str, audience: &str) -> Value {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "login failed:\n{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["id_token_claims"]["sub"], subject, "{json}");
    assert_eq!(json["id_token_claims"]["aud"], audience, "{json}");
    assert_eq!(json["token_response"]["token_type"], "Bearer", "{json}");
    assert!(json["token_response"]["access_token"].is_string(), "{json}");
    assert!(json["token_response"]["id_token"].is_string(), "{json}");
    json
}

#[test]
fn login_in_poll_mode_gets_validated_tokens() {
    let served = serve(&["--auto", "approve:1", "--interval", "1"], 3);
    let mut args = login_args(&served, "poll", "alice");
    args.extend([
        "--binding-message".into(),
        "W4SCT".into(),
        "--scope".into(),
        "openid profile".into(),
    ]);
    let out = login(&args);
    let json = assert_tokens_for(&out, "alice", "demo-poll");
    assert_eq!(json["id_token_claims"]["iss"], served.issuer.as_str());
    assert_eq!(json["token_response"]["scope"], "openid profile");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("[poll] waiting for the user"), "{stderr}");
}

#[test]
fn login_in_ping_mode_gets_validated_tokens() {
    let served = serve(&["--auto", "approve:1", "--interval", "1"], 3);
    let out = login(&login_args(&served, "ping", "bob"));
    assert_tokens_for(&out, "bob", "demo-ping");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("notification endpoint: http://"),
        "{stderr}"
    );
}

#[test]
fn login_in_push_mode_gets_validated_tokens() {
    let served = serve(&["--auto", "approve:1", "--interval", "1"], 3);
    let out = login(&login_args(&served, "push", "carol"));
    let json = assert_tokens_for(&out, "carol", "demo-push");
    // Pushed ID tokens carry the auth_req_id claim.
    assert!(
        json["id_token_claims"]["urn:openid:params:jwt:claim:auth_req_id"].is_string(),
        "{json}"
    );
}

#[test]
fn login_through_the_hyper_transport_gets_validated_tokens_in_every_mode() {
    let served = serve(&["--auto", "approve:1", "--interval", "1"], 3);
    for (mode, user) in [("poll", "heidi"), ("ping", "ivan"), ("push", "judy")] {
        let mut args = login_args(&served, mode, user);
        args.extend(["--transport".into(), "hyper".into()]);
        let out = login(&args);
        assert_tokens_for(&out, user, &format!("demo-{mode}"));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("[{mode}] tokens received")),
            "{stderr}"
        );
    }
}

#[test]
fn login_through_the_hyper_transport_refuses_an_https_issuer_in_one_line() {
    let out = run_ciba(
        &[
            "login",
            "--issuer",
            "https://op.example",
            "--client-id",
            "rp",
            "--client-secret",
            "s",
            "--login-hint",
            "alice",
            "--transport",
            "hyper",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_error_line(
        &text(&out.stderr),
        "the hyper transport in this CLI has no TLS connector",
    );
}

#[test]
fn login_exits_3_when_the_user_denies() {
    let served = serve(&["--auto", "deny", "--interval", "1"], 3);
    for mode in ["poll", "ping"] {
        let out = login(&login_args(&served, mode, "mallory"));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{mode}:\n{stderr}");
        assert!(out.stdout.is_empty(), "{mode}: no tokens expected");
        assert_one_error_line(&stderr, "access_denied");
    }
}

#[test]
fn login_exits_4_when_the_request_expires() {
    let served = serve(&support::MANUAL, 3);
    let mut args = login_args(&served, "poll", "dave");
    args.extend(["--requested-expiry".into(), "2".into()]);
    let out = login(&args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_one_error_line(&stderr, "expired");
}

#[test]
fn the_device_api_lists_pending_requests_and_lets_a_script_approve() {
    let served = serve(&support::MANUAL, 3);
    let mut args = login_args(&served, "poll", "erin");
    args.extend(["--binding-message".into(), "API-1".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let guard = support::ChildGuard::spawn(
        support::ciba()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    );
    let pending_url = format!("{}/device/api/pending", served.issuer);
    let id = eventually(Duration::from_secs(15), "a pending request", || {
        let (status, body) = http("GET", &pending_url, None);
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        let first = json["pending"].as_array()?.first()?.clone();
        assert_eq!(first["subject"], "erin");
        assert_eq!(first["binding_message"], "API-1");
        assert_eq!(first["client_id"], "demo-poll");
        assert_eq!(first["mode"], "poll");
        Some(first["auth_req_id"].as_str().unwrap().to_owned())
    });
    // An unknown request cannot be decided.
    let (status, _) = http(
        "POST",
        &format!("{}/device/api/unknown-id/approve", served.issuer),
        None,
    );
    assert_eq!(status, 404);
    let (status, body) = http(
        "POST",
        &format!("{}/device/api/{id}/approve", served.issuer),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let out = guard.output(LOGIN_TIMEOUT);
    assert_tokens_for(&out, "erin", "demo-poll");
    // Decided requests are gone, and cannot be decided twice.
    let (_, body) = http("GET", &pending_url, None);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["pending"],
        serde_json::json!([])
    );
    let (status, _) = http(
        "POST",
        &format!("{}/device/api/{id}/deny", served.issuer),
        None,
    );
    assert_eq!(status, 404);
}

#[test]
fn serve_registers_the_clients_of_a_clients_file() {
    // A port for the ping client's notification endpoint.
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("ciba-cli-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("clients.json");
    std::fs::write(
        &file,
        format!(
            r#"[{{"client_id": "rp-post", "client_secret": "a-long-secret-for-rp-post",
                 "token_endpoint_auth_method": "client_secret_post",
                 "grant_types": ["urn:openid:params:grant-type:ciba"],
                 "backchannel_token_delivery_mode": "ping",
                 "backchannel_client_notification_endpoint": "http://127.0.0.1:{port}/cb"}}]"#
        ),
    )
    .unwrap();
    let served = serve(
        &[
            "--auto",
            "approve:0",
            "--interval",
            "1",
            "--clients",
            file.to_str().unwrap(),
        ],
        0,
    );
    let listen = format!("127.0.0.1:{port}");
    let args: Vec<String> = [
        "login",
        "--issuer",
        &served.issuer,
        "--client-id",
        "rp-post",
        "--client-secret",
        "a-long-secret-for-rp-post",
        "--auth-method",
        "client_secret_post",
        "--login-hint",
        "frank",
        "--mode",
        "ping",
        "--listen",
        &listen,
        "--notification-token",
        "a-notification-token-of-the-test",
        "--allow-insecure-loopback",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = login(&args);
    assert_tokens_for(&out, "frank", "rp-post");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_refuses_an_invalid_clients_file_with_exit_code_2() {
    let dir = std::env::temp_dir().join(format!("ciba-cli-badclients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("clients.json");
    // A ping client on a non-loopback http endpoint is not acceptable.
    std::fs::write(
        &file,
        r#"[{"client_id": "rp", "client_secret": "s3cret-s3cret",
             "grant_types": ["urn:openid:params:grant-type:ciba"],
             "backchannel_token_delivery_mode": "ping",
             "backchannel_client_notification_endpoint": "http://rp.example/cb"}]"#,
    )
    .unwrap();
    let out = run_ciba(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--clients",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_error_line(&text(&out.stderr), "client \"rp\"");
    let out = run_ciba(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--clients",
            "/nonexistent/clients.json",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_error_line(&text(&out.stderr), "cannot read the clients file");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_discovery_lists_rs256_and_its_keys_by_default() {
    let served = serve(&["--auto", "manual"], 3);
    let (status, body) = http(
        "GET",
        &format!("{}/.well-known/openid-configuration", served.issuer),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "EdDSA"])
    );
    let (status, body) = http("GET", &format!("{}/jwks", served.issuer), None);
    assert_eq!(status, 200, "{body}");
    let jwks: Value = serde_json::from_str(&body).unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "EdDSA"]);
}

#[test]
fn serve_takes_several_signing_keys_and_requires_an_rs256_one() {
    let testdata = concat!(env!("CARGO_MANIFEST_DIR"), "/../ciba-core/testdata");
    let key = |name: &str| format!("{testdata}/{name}.jwk.json");
    let (rs256, es384, eddsa) = (key("rs256"), key("es384"), key("eddsa"));
    let served = serve(
        &[
            "--signing-key",
            &rs256,
            "--signing-key",
            &es384,
            "--signing-key",
            &eddsa,
        ],
        3,
    );
    let (_, body) = http(
        "GET",
        &format!("{}/.well-known/openid-configuration", served.issuer),
        None,
    );
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES384", "EdDSA"])
    );
    // Without an RS256 key: a usage error.
    let out = run_ciba(
        &["serve", "--addr", "127.0.0.1:0", "--signing-key", &eddsa],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_error_line(&text(&out.stderr), "no RS256 key");
}

#[test]
fn serve_refuses_notification_endpoints_on_private_addresses() {
    let dir = std::env::temp_dir().join(format!("ciba-cli-egress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("clients.json");
    // Loopback is the development opt-in of a loopback issuer; a private address is not.
    std::fs::write(
        &file,
        r#"[{"client_id": "rp", "client_secret": "s3cret-s3cret",
             "grant_types": ["urn:openid:params:grant-type:ciba"],
             "backchannel_token_delivery_mode": "ping",
             "backchannel_client_notification_endpoint": "https://10.1.2.3/cb"}]"#,
    )
    .unwrap();
    let out = run_ciba(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--clients",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_error_line(&text(&out.stderr), "private address");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_reports_a_port_in_use_in_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run_ciba(&["serve", "--addr", &addr], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&text(&out.stderr), "already in use");
}

#[test]
fn login_reports_a_missing_key_file_in_one_line() {
    let out = run_ciba(
        &[
            "login",
            "--issuer",
            "https://op.example",
            "--client-id",
            "rp",
            "--private-key",
            "/nonexistent/rp.jwk",
            "--login-hint",
            "alice",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_error_line(
        &text(&out.stderr),
        "cannot read the private key file /nonexistent/rp.jwk",
    );
}

#[test]
fn login_reports_a_wrong_issuer_in_one_line() {
    // Nothing listens there.
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let out = run_ciba(
        &[
            "login",
            "--issuer",
            &issuer,
            "--client-id",
            "rp",
            "--client-secret",
            "s",
            "--login-hint",
            "alice",
            "--allow-insecure-loopback",
        ],
        Duration::from_secs(40),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&text(&out.stderr), "discovery at");

    // A provider that is not the issuer asked for.
    let served = serve(&["--auto", "approve:0"], 3);
    let other = served.issuer.replace("127.0.0.1", "localhost");
    let out = run_ciba(
        &[
            "login",
            "--issuer",
            &other,
            "--client-id",
            "demo-poll",
            "--client-secret",
            "s",
            "--login-hint",
            "alice",
            "--allow-insecure-loopback",
        ],
        Duration::from_secs(40),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&text(&out.stderr), "issuer mismatch");

    // A plain http issuer without the opt-in.
    let out = run_ciba(
        &[
            "login",
            "--issuer",
            &served.issuer,
            "--client-id",
            "demo-poll",
            "--client-secret",
            "s",
            "--login-hint",
            "alice",
        ],
        Duration::from_secs(40),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&text(&out.stderr), "--allow-insecure-loopback");
}

#[test]
fn login_reports_a_client_the_provider_rejects_in_one_line() {
    let served = serve(&["--auto", "approve:0"], 3);
    let out = run_ciba(
        &[
            "login",
            "--issuer",
            &served.issuer,
            "--client-id",
            "demo-poll",
            "--client-secret",
            "not-the-secret",
            "--login-hint",
            "alice",
            "--allow-insecure-loopback",
        ],
        Duration::from_secs(40),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&text(&out.stderr), "invalid_client");
}

#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_ctrl_c() {
    let mut served = serve(&["--auto", "manual"], 3);
    let pid = served.guard.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = served.guard.wait_timeout(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn login_authenticates_with_private_key_jwt() {
    let key_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rp-es256.jwk.json");
    let mut public: Value =
        serde_json::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    public.as_object_mut().unwrap().remove("d");
    let dir = std::env::temp_dir().join(format!("ciba-cli-pkjwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clients = dir.join("clients.json");
    let metadata = serde_json::json!([{
        "client_id": "rp-key",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["urn:openid:params:grant-type:ciba"],
        "backchannel_token_delivery_mode": "poll",
        "jwks": {"keys": [public]},
    }]);
    std::fs::write(&clients, metadata.to_string()).unwrap();
    let served = serve(
        &[
            "--auto",
            "approve:0",
            "--interval",
            "1",
            "--clients",
            clients.to_str().unwrap(),
        ],
        0,
    );
    let args: Vec<String> = [
        "login",
        "--issuer",
        &served.issuer,
        "--client-id",
        "rp-key",
        "--private-key",
        key_file,
        "--login-hint",
        "grace",
        "--allow-insecure-loopback",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = login(&args);
    assert_tokens_for(&out, "grace", "rp-key");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_delivers_ping_and_push_over_https_trusting_ssl_cert_file() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ca = tls_support::TestCa::new();
    let endpoint = runtime.block_on(tls_support::TlsEndpoint::start(&ca, 204));
    let file = ca.dir.join("clients.json");
    let client = |id: &str, mode: &str| {
        format!(
            r#"{{"client_id": "{id}", "client_secret": "a-long-secret-for-{id}",
                 "grant_types": ["urn:openid:params:grant-type:ciba"],
                 "backchannel_token_delivery_mode": "{mode}",
                 "backchannel_client_notification_endpoint": "{}"}}"#,
            endpoint.url
        )
    };
    std::fs::write(
        &file,
        format!(
            "[{}, {}]",
            client("rp-ping", "ping"),
            client("rp-push", "push")
        ),
    )
    .unwrap();
    let ca_file = ca.ca_file();
    let served = support::serve_with_env(
        &["--auto", "approve:0", "--clients", file.to_str().unwrap()],
        0,
        &[("SSL_CERT_FILE", ca_file.to_str().unwrap())],
    );
    let mut ids = Vec::new();
    for id in ["rp-ping", "rp-push"] {
        ids.push(support::bc_authorize(
            &served.issuer,
            id,
            &format!("a-long-secret-for-{id}"),
            "scope=openid&login_hint=alice&client_notification_token=cnt-of-the-https-test",
        ));
    }
    let seen = eventually(
        Duration::from_secs(20),
        "two notifications over https",
        || {
            let seen = endpoint.seen();
            (seen.len() >= 2).then_some(seen)
        },
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
    for s in &seen {
        assert_eq!(s.version, http::Version::HTTP_2);
        assert_eq!(s.authorization, "Bearer cnt-of-the-https-test");
    }
    let ping = seen.iter().find(|s| s.body.get("access_token").is_none());
    let push = seen.iter().find(|s| s.body.get("access_token").is_some());
    assert_eq!(ping.unwrap().body["auth_req_id"], ids[0].as_str());
    assert_eq!(push.unwrap().body["auth_req_id"], ids[1].as_str());
    drop(served);
}
