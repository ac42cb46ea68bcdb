//! Tracing and metrics: complete poll, ping (its token request with a DPoP proof) and push
//! flows run under a capturing subscriber and a recording metrics recorder. Every secret,
//! assertion, proof, token, hint, binding message, user code and `auth_req_id` the flows use
//! must be absent from the captured output; the endpoint and store
//! spans, their `client_id`, short-hashed `auth_req` and `outcome` fields, and the counters
//! must be present.

use crate::common;

use ciba_core::observe::short_hash;
use ciba_server::{AuthenticationResult, CompleteOutcome, TokenOutcome, observe};
use common::*;
use tracing_subscriber::fmt::format::FmtSpan;

/// The captured log output.
use ciba_test::logs::LogCapture as Capture;
/// A recorder that keeps every counter's value and every histogram's sample count by
/// `name{label=value,...}`.
use ciba_test::metrics::Recorded;

/// Form values and the `Authorization` header of `req`: what the client sent.
fn sent_values(req: &Req, names: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = url::form_urlencoded::parse(&req.body)
        .filter(|(k, _)| names.contains(&k.as_ref()))
        .map(|(_, v)| v.into_owned())
        .collect();
    if let Some(h) = req.headers.get(http::header::AUTHORIZATION) {
        let h = h.to_str().unwrap().to_owned();
        found.push(h.trim_start_matches("Basic ").to_owned());
        found.push(h);
    }
    found
}

const SECRET_PARAMETERS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "login_hint",
    "binding_message",
    "user_code",
    "client_notification_token",
    "auth_req_id",
];

/// Runs the flows, returning what they sent and received that must never be logged.
fn flows(h: &Harness) -> Vec<String> {
    let mut secrets: Vec<String> = vec![
        POLL_SECRET.into(),
        PING_SECRET.into(),
        "user-code-secret".into(),
        CNT.into(),
    ];
    let keep = |req: &Req, secrets: &mut Vec<String>| {
        secrets.extend(sent_values(req, SECRET_PARAMETERS));
    };
    let token_values = |outcome: &TokenOutcome, secrets: &mut Vec<String>| {
        if let TokenOutcome::Issued(grant) = outcome {
            let body = json_body(&grant.response);
            for name in ["access_token", "refresh_token", "id_token"] {
                if let Some(v) = body.get(name).and_then(|v| v.as_str()) {
                    secrets.push(v.to_owned());
                }
            }
        }
    };

    // Poll, with a user code and a binding message, basic client authentication: pending,
    // slow_down, approval, tokens, then a replay.
    let start = bc_request(
        USER_CODE,
        &[
            ("login_hint", "carol.secret-hint@example.com"),
            ("binding_message", "W4SCT-binding"),
            ("user_code", "uc-271828"),
        ],
    );
    keep(&start, &mut secrets);
    let ack = h.issue(&h.ticket(&start, t0()), t0());
    secrets.push(ack.auth_req_id.as_str().to_owned());
    let poll = token_request(USER_CODE, &ack.auth_req_id, t0() + secs(5));
    keep(&poll, &mut secrets);
    assert_eq!(
        token_error(&h.token(&poll, t0() + secs(5))).1,
        "authorization_pending"
    );
    assert_eq!(token_error(&h.token(&poll, t0() + secs(6))).1, "slow_down");
    h.approve(&ack.auth_req_id, t0() + secs(20)).unwrap();
    let tokens = h.token(&poll, t0() + secs(30));
    token_values(&tokens, &mut secrets);
    assert!(matches!(tokens, TokenOutcome::Issued(_)));
    assert_eq!(
        token_error(&h.token(&poll, t0() + secs(40))).1,
        "invalid_grant"
    );

    // Ping, client_secret_post: approval, the ping, the tokens.
    let start = bc_request(PING, &[]);
    keep(&start, &mut secrets);
    let ack = h.issue(&h.ticket(&start, t0()), t0());
    secrets.push(ack.auth_req_id.as_str().to_owned());
    let done = h.approve(&ack.auth_req_id, t0() + secs(10)).unwrap();
    assert!(matches!(done, CompleteOutcome::Ping(_)));
    // The token request carries a DPoP proof: the tokens are bound to its key.
    let mut poll = token_request(PING, &ack.auth_req_id, t0() + secs(11));
    let key = ciba_core::dpop::DpopKey::from_signer(signer("es256")).unwrap();
    let dpop_proof = key
        .proof(
            &http::Method::POST,
            &url::Url::parse(TOKEN_ENDPOINT).unwrap(),
            t0() + secs(11),
            &h.rng,
            None,
            None,
        )
        .unwrap();
    poll.headers
        .append("dpop", http::HeaderValue::from_str(&dpop_proof).unwrap());
    secrets.push(dpop_proof.clone());
    // The proof's signature alone, in case a part of it were logged.
    secrets.push(dpop_proof.rsplit('.').next().unwrap().to_owned());
    keep(&poll, &mut secrets);
    let tokens = h.token(&poll, t0() + secs(11));
    token_values(&tokens, &mut secrets);
    let TokenOutcome::Issued(grant) = &tokens else {
        panic!("expected tokens")
    };
    assert_eq!(json_body(&grant.response)["token_type"], "DPoP");

    // Push, private_key_jwt: approval pushes the tokens; the push is then reported lost.
    let start = bc_request(PUSH, &[]);
    keep(&start, &mut secrets);
    let ack = h.issue(&h.ticket(&start, t0()), t0());
    secrets.push(ack.auth_req_id.as_str().to_owned());
    let done = h.approve(&ack.auth_req_id, t0() + secs(10)).unwrap();
    let CompleteOutcome::PushTokens { request, tokens } = done else {
        panic!("expected pushed tokens")
    };
    let pushed = json_body(&http::Response::new(request.body().clone()));
    for name in ["access_token", "refresh_token", "id_token"] {
        if let Some(v) = pushed.get(name).and_then(|v| v.as_str()) {
            secrets.push(v.to_owned());
        }
    }
    block_on(h.server.push_undelivered(&tokens, t0() + secs(11))).unwrap();
    // A push request approved after it expired, then answered again.
    let start = bc_request(PUSH, &[("requested_expiry", "10")]);
    keep(&start, &mut secrets);
    let ack = h.issue(&h.ticket(&start, t0()), t0());
    secrets.push(ack.auth_req_id.as_str().to_owned());
    let done = h.approve(&ack.auth_req_id, t0() + secs(10)).unwrap();
    assert!(matches!(done, CompleteOutcome::PushError { .. }));
    assert!(
        h.complete(
            &ack.auth_req_id,
            AuthenticationResult::AccessDenied,
            t0() + secs(11)
        )
        .is_err()
    );

    // Poll, denied; and poll, expired.
    let start = bc_request(POLL, &[]);
    keep(&start, &mut secrets);
    let ack = h.issue(&h.ticket(&start, t0()), t0());
    secrets.push(ack.auth_req_id.as_str().to_owned());
    h.deny(&ack.auth_req_id, t0() + secs(3)).unwrap();
    let poll = token_request(POLL, &ack.auth_req_id, t0() + secs(5));
    keep(&poll, &mut secrets);
    assert_eq!(
        token_error(&h.token(&poll, t0() + secs(5))).1,
        "access_denied"
    );
    let ack = h.start(POLL, t0());
    secrets.push(ack.auth_req_id.as_str().to_owned());
    let late = t0() + secs(310);
    let poll = token_request(POLL, &ack.auth_req_id, late);
    keep(&poll, &mut secrets);
    assert_eq!(token_error(&h.token(&poll, late)).1, "expired_token");

    // A refused request: a wrong secret.
    let wrong = bc_request(POLL, &[]).basic(POLL, "not-the-poll-secret");
    keep(&wrong, &mut secrets);
    assert_eq!(bc_error(&h.backchannel(&wrong, t0())).1, "invalid_client");
    secrets.push("not-the-poll-secret".into());
    secrets.sort();
    secrets.dedup();
    secrets
}

fn run_captured() -> (String, Vec<String>, Recorded) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let recorder = Recorded::default();
    let h = Harness::new();
    let h = Harness {
        server: h.server.with_latency_clock(std::time::Instant::now),
        ..h
    };
    let secrets = metrics::with_local_recorder(&recorder, || {
        tracing::subscriber::with_default(subscriber, || flows(&h))
    });
    (capture.text(), secrets, recorder)
}

#[test]
fn traces_of_complete_flows_hold_no_secret_token_hint_or_auth_req_id() {
    let (text, secrets, _) = run_captured();
    assert!(
        secrets.len() >= 20,
        "the flows collected {} values",
        secrets.len()
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the trace output holds {secret:?}:\n{text}"
        );
    }
    // Even the user's hint domain and the binding message's words stay out.
    for fragment in ["carol.secret-hint", "W4SCT", "uc-271828", "Basic "] {
        assert!(
            !text.contains(fragment),
            "the trace output holds {fragment:?}"
        );
    }
}

#[test]
fn traces_name_the_endpoint_client_outcome_and_short_hash() {
    let (text, secrets, _) = run_captured();
    if std::env::var_os("SHOW_TRACE").is_some() {
        eprintln!("{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    let has = |parts: &[&str]| lines.iter().any(|l| parts.iter().all(|p| l.contains(p)));
    // Each line that must be there, by parts of it.
    let wanted: [&[&str]; 17] = [
        &[
            "ciba_endpoint",
            "endpoint=\"token\"",
            "client_id=\"user-code-client\"",
            "outcome=\"authorization_pending\"",
        ],
        &["endpoint=\"token\"", "outcome=\"slow_down\""],
        &[
            "endpoint=\"token\"",
            "client_id=\"ping-client\"",
            "outcome=\"ok\"",
        ],
        &["endpoint=\"token\"", "outcome=\"expired_token\""],
        &["endpoint=\"token\"", "outcome=\"access_denied\""],
        &["endpoint=\"backchannel\"", "outcome=\"invalid_client\""],
        &[
            "endpoint=\"issue\"",
            "client_id=\"push-client\"",
            "outcome=\"ok\"",
        ],
        &[
            "endpoint=\"complete\"",
            "client_id=\"ping-client\"",
            "outcome=\"ping\"",
        ],
        &["endpoint=\"complete\"", "outcome=\"push_tokens\""],
        &["endpoint=\"push_undelivered\"", "outcome=\"ok\""],
        &["endpoint=\"complete\"", "outcome=\"push_expired\""],
        &["endpoint=\"complete\"", "outcome=\"already_completed\""],
        // Store operations nest in the endpoint spans.
        &[
            "ciba_endpoint",
            "ciba_store",
            "op=\"poll\"",
            "outcome=\"pending\"",
        ],
        &["ciba_store", "op=\"insert_request\"", "outcome=\"ok\""],
        &["ciba_store", "op=\"complete\"", "outcome=\"completed\""],
        &["ciba_store", "op=\"remember_jti\"", "outcome=\"fresh\""],
        &["ciba_store", "op=\"record_confirmation\"", "outcome=\"ok\""],
    ];
    for parts in wanted {
        assert!(has(parts), "{parts:?} in {text}");
    }
    // The auth_req_id appears only as its short hash.
    let hashed = lines.iter().filter(|l| l.contains("auth_req=")).count();
    assert!(hashed > 5, "{text}");
    let mentioned = secrets
        .iter()
        .filter(|s| text.contains(&format!("auth_req={}", short_hash(s))))
        .count();
    assert!(
        mentioned >= 4,
        "the short hashes of the requests appear: {text}"
    );
}

#[test]
fn metrics_count_endpoints_results_expiries_and_store_latency() {
    let (_, _, m) = run_captured();
    let r = |endpoint: &str, outcome: &str| {
        m.get(&format!(
            "{}{{endpoint={endpoint},outcome={outcome}}}",
            observe::REQUESTS
        ))
    };
    assert_eq!(r("backchannel", "ok"), 6);
    assert_eq!(r("backchannel", "invalid_client"), 1);
    assert_eq!(r("token", "authorization_pending"), 1);
    assert_eq!(r("token", "slow_down"), 1);
    assert_eq!(r("token", "ok"), 2);
    assert_eq!(r("token", "invalid_grant"), 1);
    assert_eq!(r("token", "access_denied"), 1);
    assert_eq!(r("token", "expired_token"), 1);
    assert_eq!(r("complete", "ping"), 1);
    assert_eq!(r("complete", "push_tokens"), 1);
    assert_eq!(r("complete", "push_expired"), 1);
    assert_eq!(r("complete", "already_completed"), 1);
    let results = |result: &str| {
        m.get(&format!(
            "{}{{result={result}}}",
            observe::AUTHENTICATION_RESULTS
        ))
    };
    assert_eq!(results("approved"), 3);
    assert_eq!(results("denied"), 1);
    assert_eq!(m.get(&format!("{}{{seen_at=token}}", observe::EXPIRIES)), 1);
    assert_eq!(
        m.get(&format!("{}{{seen_at=complete}}", observe::EXPIRIES)),
        1
    );
    let polls = m.get(&format!(
        "{}{{operation=poll}}",
        observe::STORE_OPERATION_SECONDS
    ));
    assert_eq!(polls, 7, "one latency sample per store poll");
}

#[test]
fn pending_gauge_is_the_store_count() {
    let recorder = Recorded::default();
    let h = Harness::new();
    metrics::with_local_recorder(&recorder, || {
        h.start(POLL, t0());
        h.start(PING, t0());
        let done = h.start(POLL, t0());
        h.deny(&done.auth_req_id, t0()).unwrap();
        let counted = block_on(h.server.record_pending_requests(100, t0() + secs(1))).unwrap();
        assert_eq!(counted, 2);
    });
    assert_eq!(
        recorder.get(&format!("{}{{}}", observe::PENDING_REQUESTS)),
        2
    );
}
