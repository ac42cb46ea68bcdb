//! `ciba serve` as a safe development provider: the device page answers only under the
//! issuer's or the bound address's host name (DNS rebinding gets nothing), a non-loopback
//! bind needs a device access secret, `--users` makes unknown users and user codes real, and
//! client text is escaped on the terminal and refused when it hides characters.

#![allow(missing_docs)]

use crate::support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::{
    ChildGuard, MANUAL, bc_authorize, eventually, exchange, form_post, free_port_block, http,
    http_with, login_args, run_ciba, serve,
};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(40);

/// `host:port` of an `http://` URL.
fn authority(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("http URL");
    rest.split('/').next().unwrap().to_owned()
}

/// The requests `/device/api/pending` lists, asked under the right host.
fn pending(issuer: &str, headers: &[(&str, &str)]) -> Vec<Value> {
    let (status, body) = http_with("GET", &format!("{issuer}/device/api/pending"), headers, "");
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    json["pending"].as_array().unwrap().clone()
}

/// A directory of this test's own, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ciba-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_foreign_host_with_a_matching_origin_sees_no_request_and_cannot_approve() {
    let served = serve(&MANUAL, 3);
    let mut args = login_args(&served, "poll", "rebind-victim");
    args.extend(["--binding-message".into(), "RB-7".into()]);
    let login = ChildGuard::ciba(&args);
    let id = eventually(Duration::from_secs(15), "a pending request", || {
        let first = pending(&served.issuer, &[]).first()?.clone();
        Some(first["auth_req_id"].as_str().unwrap().to_owned())
    });

    // A page on evil.example that resolves its name to the provider's address: its requests
    // carry `Host: evil.example:PORT` and a matching `Origin`.
    let bound = authority(&served.issuer);
    let port = bound.rsplit(':').next().unwrap();
    let evil_host = format!("evil.example:{port}");
    let evil_origin = format!("http://evil.example:{port}");
    let evil = [
        ("Host", evil_host.as_str()),
        ("Origin", evil_origin.as_str()),
    ];
    for (method, path) in [
        ("GET", "/device".to_owned()),
        ("GET", "/device/api/pending".to_owned()),
        ("POST", format!("/device/api/{id}/approve")),
        ("POST", format!("/device/api/{id}/deny")),
    ] {
        let (status, _, body) = exchange(&bound, method, &path, &evil, "");
        assert_eq!(status, 421, "{method} {path}: {body}");
        for leak in [id.as_str(), "rebind-victim", "RB-7", "demo-poll", "<html"] {
            assert!(
                !body.contains(leak),
                "{method} {path} leaked {leak:?}: {body}"
            );
        }
    }
    // No Host at all is refused the same way.
    let (status, _, _) = exchange(&bound, "GET", "/device/api/pending", &[], "");
    assert_eq!(status, 421);
    // The CIBA endpoints are not the device page: discovery still answers.
    let (status, _, _) = exchange(
        &bound,
        "GET",
        "/.well-known/openid-configuration",
        &[("Host", evil_host.as_str())],
        "",
    );
    assert_eq!(status, 200);

    // The request is still pending: nothing was approved or denied.
    let still = pending(&served.issuer, &[]);
    assert_eq!(still.len(), 1, "{still:?}");
    assert_eq!(still[0]["auth_req_id"], id.as_str());
    // Under its own names the device answers: localhost works as well as 127.0.0.1.
    let localhost = format!("localhost:{port}");
    let (status, _, body) = exchange(
        &bound,
        "GET",
        "/device/api/pending",
        &[("Host", localhost.as_str())],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&id));
    let (status, body) = http(
        "POST",
        &format!("{}/device/api/{id}/approve", served.issuer),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let out = login.output(LOGIN_TIMEOUT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_on_a_non_loopback_address_without_a_device_secret_refuses_to_start() {
    // The test holds 127.0.0.1:PORT, so ciba serve could not bind 0.0.0.0:PORT either: the
    // refusal must come from the missing secret, before any bind is tried.
    let port = free_port_block(1);
    let _held = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let addr = format!("0.0.0.0:{port}");
    let out = run_ciba(&["serve", "--addr", &addr], Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--device-secret"), "{stderr}");
    assert!(!stderr.contains("in use"), "it tried to bind: {stderr}");
    assert!(out.stdout.is_empty(), "it started: {:?}", out.stdout);
    // IPv6 any-address too.
    let v6 = format!("[::]:{port}");
    let out = run_ciba(&["serve", "--addr", &v6], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--device-secret"));
    // With a secret the same command goes on to bind (and here finds the port taken).
    let out = run_ciba(
        &["serve", "--addr", &addr, "--device-secret", "generate"],
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    // A short secret is a usage error.
    let out = run_ciba(
        &["serve", "--addr", &addr, "--device-secret", "short"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn with_a_device_secret_the_page_and_api_need_it() {
    let served = serve(&["--auto", "manual", "--device-secret", "generate"], 3);
    let secret = served
        .device_page
        .split_once("/device?secret=")
        .map(|(_, s)| s.to_owned())
        .unwrap_or_else(|| panic!("no secret in {:?}", served.device_page));
    assert!(secret.len() >= 22, "{secret}");
    let api = format!("{}/device/api/pending", served.issuer);
    let (status, body) = http("GET", &api, None);
    assert_eq!(status, 403, "{body}");
    let (status, _) = http("GET", &format!("{}/device", served.issuer), None);
    assert_eq!(status, 403);
    let (status, _) = http_with("GET", &api, &[("Ciba-Device-Secret", "not-the-secret")], "");
    assert_eq!(status, 403);
    let (status, _) = http_with("GET", &api, &[("Ciba-Device-Secret", &secret)], "");
    assert_eq!(status, 200);
    // Opening the printed URL sets the cookie and sends the browser back to /device.
    let bound = authority(&served.issuer);
    let path = format!("/device?secret={secret}");
    let (status, head, _) = exchange(&bound, "GET", &path, &[("Host", bound.as_str())], "");
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /device\r\n"), "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        cookie.contains("httponly") && cookie.contains("samesite=strict"),
        "{cookie}"
    );
    let pair = format!("ciba_device_secret={secret}");
    let (status, _) = http_with("GET", &api, &[("Cookie", &pair)], "");
    assert_eq!(status, 200);
    let (status, _) = http_with(
        "GET",
        &format!("{}/device", served.issuer),
        &[("Cookie", &pair)],
        "",
    );
    assert_eq!(status, 200);
    // The secret does not open the page under a foreign host.
    let port = bound.rsplit(':').next().unwrap();
    let evil = format!("evil.example:{port}");
    let (status, _, _) = exchange(
        &bound,
        "GET",
        "/device/api/pending",
        &[
            ("Host", evil.as_str()),
            ("Ciba-Device-Secret", secret.as_str()),
        ],
        "",
    );
    assert_eq!(status, 421);

    // A secret of one's own is not printed.
    let own = "my-own-device-secret-0123";
    let served = serve(&["--auto", "manual", "--device-secret", own], 3);
    assert_eq!(served.device_page, format!("{}/device", served.issuer));
    let api = format!("{}/device/api/pending", served.issuer);
    assert_eq!(http("GET", &api, None).0, 403);
    assert_eq!(
        http_with("GET", &api, &[("Ciba-Device-Secret", own)], "").0,
        200
    );
}

/// Users of the `--users` tests: alice has a code, bob has none.
const USERS: &str = r#"[
  {"subject": "alice-0001", "login_hints": ["alice", "alice@example.com"], "user_code": "4711"},
  {"subject": "bob-0002", "login_hints": ["bob"]}
]"#;

/// Two poll clients: one that sends user codes, one that does not.
const CLIENTS: &str = r#"[
  {"client_id": "rp-plain", "client_secret": "a-long-secret-for-rp-plain",
   "grant_types": ["urn:openid:params:grant-type:ciba"], "backchannel_token_delivery_mode": "poll"},
  {"client_id": "rp-code", "client_secret": "a-long-secret-for-rp-code",
   "grant_types": ["urn:openid:params:grant-type:ciba"], "backchannel_token_delivery_mode": "poll",
   "backchannel_user_code_parameter": true}
]"#;

/// `(status, error)` of a backchannel request.
fn backchannel(issuer: &str, client: &str, form: &str) -> (u16, Value) {
    let secret = format!("a-long-secret-for-{client}");
    let (status, body) = form_post(&format!("{issuer}/bc-authorize"), client, &secret, form);
    (status, serde_json::from_str(&body).unwrap())
}

#[test]
fn with_users_an_unknown_hint_is_unknown_user_id_and_user_codes_are_checked() {
    let dir = TempDir::new("users");
    let users = dir.file("users.json", USERS);
    let clients = dir.file("clients.json", CLIENTS);
    let served = serve(
        &[
            "--auto",
            "approve:0",
            "--interval",
            "1",
            "--users",
            &users,
            "--clients",
            &clients,
        ],
        0,
    );
    let issuer = &served.issuer;
    let (_, body) = http(
        "GET",
        &format!("{issuer}/.well-known/openid-configuration"),
        None,
    );
    let discovery: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(discovery["backchannel_user_code_parameter_supported"], true);

    let (status, json) = backchannel(issuer, "rp-plain", "scope=openid&login_hint=mallory");
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("unknown_user_id")),
        "{json}"
    );
    let (status, json) = backchannel(issuer, "rp-plain", "scope=openid&login_hint=alice");
    assert_eq!(status, 200, "{json}");
    assert!(json["auth_req_id"].is_string());

    let (status, json) = backchannel(issuer, "rp-code", "scope=openid&login_hint=alice");
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("missing_user_code")),
        "{json}"
    );
    let (status, json) = backchannel(
        issuer,
        "rp-code",
        "scope=openid&login_hint=alice&user_code=0000",
    );
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_user_code")),
        "{json}"
    );
    // Bob has no code: any code is not his.
    let (status, json) = backchannel(
        issuer,
        "rp-code",
        "scope=openid&login_hint=bob&user_code=4711",
    );
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_user_code")),
        "{json}"
    );
    let (status, json) = backchannel(
        issuer,
        "rp-code",
        "scope=openid&login_hint=mallory&user_code=4711",
    );
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("unknown_user_id")),
        "{json}"
    );

    // A full flow: the hint names alice, whose ID token carries her subject.
    let out = run_ciba(
        &[
            "login",
            "--issuer",
            issuer,
            "--client-id",
            "rp-code",
            "--client-secret",
            "a-long-secret-for-rp-code",
            "--login-hint",
            "alice@example.com",
            "--user-code",
            "4711",
            "--allow-insecure-loopback",
        ],
        LOGIN_TIMEOUT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["id_token_claims"]["sub"], "alice-0001");
}

#[test]
fn without_users_every_hint_is_a_user_and_user_codes_are_not_advertised() {
    let served = serve(&["--auto", "manual"], 3);
    let (_, body) = http(
        "GET",
        &format!("{}/.well-known/openid-configuration", served.issuer),
        None,
    );
    let discovery: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        discovery["backchannel_user_code_parameter_supported"],
        false
    );
    let client = served.client("poll");
    bc_authorize(
        &served.issuer,
        &client.client_id,
        &client.client_secret,
        "scope=openid&login_hint=anyone-at-all",
    );
    // A clients file asking for user codes cannot be registered.
    let dir = TempDir::new("no-users");
    let clients = dir.file("clients.json", CLIENTS);
    let out = run_ciba(
        &["serve", "--addr", "127.0.0.1:0", "--clients", &clients],
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("rp-code"), "{stderr}");
}

#[test]
fn hidden_characters_in_a_binding_message_are_refused_and_hints_are_printed_escaped() {
    let port = free_port_block(3);
    let addr = format!("127.0.0.1:{port}");
    let mut guard = ChildGuard::ciba(["serve", "--addr", &addr, "--auto", "deny"]);
    let stdout = BufReader::new(guard.child.stdout.take().unwrap());
    let stderr = guard.child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut issuer = String::new();
    let mut secret = String::new();
    let mut lines = stdout.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(i) = line.strip_prefix("issuer: ") {
            issuer = i.to_owned();
        }
        if let Some(rest) = line.strip_prefix("client: client_id=demo-poll client_secret=") {
            secret = rest.split(' ').next().unwrap().to_owned();
            break;
        }
    }
    // Keep reading stdout, so that the provider never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let bc = format!("{issuer}/bc-authorize");
    // U+202E (right-to-left override) and U+200B (zero-width space) in the binding message.
    for hidden in ["%E2%80%AE", "%E2%80%8B"] {
        let form = format!("scope=openid&login_hint=carol&binding_message=PAY{hidden}42");
        let (status, body) = form_post(&bc, "demo-poll", &secret, &form);
        assert_eq!(status, 400, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"], "invalid_binding_message");
    }
    // A hint with a terminal escape and a right-to-left override is printed escaped.
    let form =
        "scope=openid&login_hint=eve%1B%5B2J%E2%80%AEgnp.exe&binding_message=OK%20%22quoted%22";
    let (status, body) = form_post(&bc, "demo-poll", &secret, form);
    assert_eq!(status, 200, "{body}");
    let line = eventually(Duration::from_secs(10), "the request line", || {
        rx.recv_timeout(Duration::from_millis(200))
            .ok()
            .filter(|l| l.starts_with("device: request from"))
    });
    assert!(
        line.contains(r#"login_hint "eve\u{001b}[2J\u{202e}gnp.exe""#),
        "{line}"
    );
    assert!(
        line.contains(r#"binding message "OK \"quoted\"""#),
        "{line}"
    );
    assert!(
        !line.contains('\u{1b}') && !line.contains('\u{202e}'),
        "{line}"
    );
    // The denial line escapes the subject the same way.
    let line = eventually(Duration::from_secs(10), "the decision line", || {
        rx.recv_timeout(Duration::from_millis(200))
            .ok()
            .filter(|l| l.starts_with("device: denied"))
    });
    assert!(
        line.contains(r#"user "eve\u{001b}[2J\u{202e}gnp.exe""#),
        "{line}"
    );
}
