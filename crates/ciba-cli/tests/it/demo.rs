//! `ciba demo`, the built binary: all three modes with the default settings, and `--deny`.

#![allow(missing_docs)]

use crate::support;

use std::time::{Duration, Instant};

use support::run_ciba;

/// `ciba ARGS`, run to its end (at most `timeout`), which must succeed: its stdout and
/// stderr.
fn succeeds(args: &[&str], timeout: Duration) -> (String, String) {
    let out = run_ciba(args, timeout);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn demo_finishes_poll_ping_and_push_with_the_default_settings() {
    let started = Instant::now();
    let (stdout, stderr) = succeeds(&["demo"], Duration::from_secs(60));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the demo took {:?}",
        started.elapsed()
    );
    for mode in ["poll", "ping", "push"] {
        assert!(
            stdout.contains(&format!("| {mode} mode")),
            "no {mode} table:\n{stdout}"
        );
    }
    assert_eq!(
        stdout.matches("tokens (expected tokens: ok)").count(),
        3,
        "{stdout}"
    );
    for row in [
        "approval -> tokens",
        "token requests",
        "id_token.sub",
        "id_token.iss",
    ] {
        assert_eq!(
            stdout.matches(row).count(),
            3,
            "row {row:?} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("alice@example.com"), "{stdout}");
    // Push delivers the ID token with the auth_req_id claim.
    assert!(
        stdout.contains("urn:openid:params:jwt:claim:auth_req_id"),
        "{stdout}"
    );
    assert!(stdout.contains("3/3 flows ended as expected"), "{stdout}");
    // Progress went to stderr (plain lines: stderr is not a terminal here).
    assert!(stderr.contains("[poll] waiting for the user"), "{stderr}");
    assert!(stderr.contains("s left"), "{stderr}");
}

#[test]
fn demo_with_deny_succeeds_when_every_flow_ends_with_access_denied() {
    let (stdout, _) = succeeds(
        &["demo", "--deny", "--approve-after", "1"],
        Duration::from_secs(60),
    );
    assert_eq!(
        stdout
            .matches("access_denied (expected access_denied: ok)")
            .count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains("denial -> result"), "{stdout}");
    assert!(stdout.contains("3/3 flows ended as expected"), "{stdout}");
}

#[test]
fn demo_runs_a_single_mode_when_asked() {
    let (stdout, _) = succeeds(
        &["demo", "--mode", "push", "--approve-after", "0"],
        Duration::from_secs(30),
    );
    assert!(stdout.contains("| push mode"), "{stdout}");
    assert!(!stdout.contains("| poll mode"), "{stdout}");
    assert!(stdout.contains("1/1 flows ended as expected"), "{stdout}");
}
