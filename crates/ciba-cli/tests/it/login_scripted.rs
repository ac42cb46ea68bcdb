//! `ciba login` against a scripted provider that behaves like real ones (ciba-test's scripted
//! provider): a signing key rotated mid-flow, a transient 502 with an OAuth body, a 429 with
//! `Retry-After` and a text body, numbers with fraction parts; both transports, the secret
//! from a file or the environment; and a refused push said at once, then named by the error.

#![allow(missing_docs)]

use crate::support;

use ciba_test::scripted;

use std::process::{Output, Stdio};
use std::time::Duration;

use scripted::{CLIENT_ID, CLIENT_SECRET, Scripted, Step};
use serde_json::{Value, json};
use support::{ChildGuard, ciba, free_port};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(40);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `ciba login` with `args` and `env` on a blocking thread.
async fn login(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = ciba();
        cmd.arg("login")
            .args(&args)
            .env_remove("CIBA_CLIENT_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        ChildGuard::spawn(&mut cmd).output(LOGIN_TIMEOUT)
    })
    .await
    .unwrap()
}

fn base_args(op: &Scripted, transport: &str) -> Vec<String> {
    [
        "--issuer",
        &op.base,
        "--client-id",
        CLIENT_ID,
        "--login-hint",
        "alice@example.com",
        "--allow-insecure-loopback",
        "--transport",
        transport,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Waits until the provider saw `n` requests on `line`.
async fn seen(op: &Scripted, line: &str, n: usize) {
    for _ in 0..400 {
        if op.seen(line).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{line} was not requested {n} times");
}

/// The misbehaving provider, rotating its key once the login has polled.
async fn misbehaving_provider() -> Scripted {
    let op = Scripted::start(vec![
        Step::json(502, json!({"error": "temporarily_unavailable"})),
        Step::Raw(
            429,
            vec![
                ("retry-after", "1".into()),
                ("content-type", "text/plain".into()),
            ],
            b"Too Many Requests".to_vec(),
        ),
        Step::Tokens(1, json!({"expires_in": 3599.5})),
    ])
    .await;
    op.ack_numbers(json!(30.0), json!(1.0));
    op
}

async fn login_survives_a_misbehaving_provider(
    transport: &str,
    secret: impl FnOnce(&mut Vec<String>, &mut Vec<(&'static str, String)>),
) {
    let op = misbehaving_provider().await;
    let mut args = base_args(&op, transport);
    let mut env = Vec::new();
    secret(&mut args, &mut env);
    let run = login(args, env);
    let rotate = async {
        // The key set was fetched before the first poll: rotate now.
        seen(&op, "POST /token", 1).await;
        op.publish(&[1]);
    };
    let (out, ()) = tokio::join!(run, rotate);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "login failed:\n{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["id_token_claims"]["sub"], "alice", "{json}");
    assert_eq!(json["token_response"]["expires_in"], 3599, "{json}");
    assert_eq!(op.seen("POST /token").len(), 3);
    assert_eq!(
        op.seen("GET /jwks").len(),
        2,
        "the rotated key set was fetched"
    );
    assert!(!stderr.contains("process list"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_over_reqwest_gets_tokens_from_a_misbehaving_provider() {
    login_survives_a_misbehaving_provider("reqwest", |_, env| {
        env.push(("CIBA_CLIENT_SECRET", CLIENT_SECRET.to_owned()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_over_hyper_gets_tokens_from_a_misbehaving_provider() {
    let dir = std::env::temp_dir().join(format!("ciba-login-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret.txt");
    std::fs::write(&file, format!("{CLIENT_SECRET}\n")).unwrap();
    let path = file.display().to_string();
    login_survives_a_misbehaving_provider("hyper", move |args, _| {
        args.extend(["--client-secret-file".to_owned(), path]);
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn refused_push_is_said_at_once_and_named_at_the_end(transport: &str) {
    let op = Scripted::start(Vec::new()).await;
    op.ack_numbers(json!(4), json!(1));
    let port = free_port();
    let mut args = base_args(&op, transport);
    args.extend(
        [
            "--mode",
            "push",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--client-secret",
            CLIENT_SECRET,
            "-v",
        ]
        .map(str::to_owned),
    );
    let run = login(args, Vec::new());
    let push = async {
        seen(&op, "POST /bc", 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let bc = &op.seen("POST /bc")[0];
        let token = bc.form("client_notification_token").unwrap();
        let ack_id = "scripted-auth-req-1-0123456789abcdef";
        let body = op.push_body(ack_id, 0, ack_id, true);
        // http_with blocks: off the runtime's workers.
        let status = tokio::task::spawn_blocking(move || {
            support::http_with(
                "POST",
                &format!("http://127.0.0.1:{port}/ciba/notify"),
                &[
                    ("content-type", "application/json"),
                    ("authorization", &format!("Bearer {token}")),
                ],
                &body.to_string(),
            )
        })
        .await
        .unwrap();
        assert_eq!(status.0, 400, "{status:?}");
    };
    let (out, ()) = tokio::join!(run, push);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let refused_at = stderr.find("a push was refused").expect(&stderr);
    let error_line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .expect(&stderr);
    assert!(
        error_line.contains("last refused notification: a push was refused"),
        "{error_line}"
    );
    assert!(refused_at < stderr.find("error: ").unwrap(), "{stderr}");
    assert!(
        stderr.contains("warning: --client-secret is visible"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in piped logs:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_push_is_said_at_once_and_named_by_the_error_over_reqwest() {
    refused_push_is_said_at_once_and_named_at_the_end("reqwest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_push_is_said_at_once_and_named_by_the_error_over_hyper() {
    refused_push_is_said_at_once_and_named_at_the_end("hyper").await;
}
