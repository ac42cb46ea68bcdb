//! Every `--help` shows an example, and `ciba login --help` documents the exit codes and
//! that the tokens are printed.

#![allow(missing_docs)]

use crate::support;

use std::time::Duration;

use support::run_ciba;

fn help(args: &[&str]) -> String {
    let out = run_ciba(args, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_help_shows_an_example() {
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["serve", "--help"],
        &["login", "--help"],
    ] {
        let text = help(args);
        assert!(text.contains("Example"), "{args:?} has no example:\n{text}");
        assert!(
            text.contains("ciba "),
            "{args:?} example names no command:\n{text}"
        );
    }
}

#[test]
fn login_help_documents_exit_codes_and_printed_tokens() {
    let text = help(&["login", "--help"]);
    for line in [
        "0  tokens received",
        "1  error",
        "2  usage error",
        "3  access denied",
        "4  the request expired",
    ] {
        assert!(text.contains(line), "missing {line:?}:\n{text}");
    }
    assert!(text.contains("CONTAINS THE TOKENS"), "{text}");
}

#[test]
fn serve_help_documents_the_first_line_and_the_device_api() {
    let text = help(&["serve", "--help"]);
    assert!(
        text.contains("first line of stdout is `issuer: <URL>`"),
        "{text}"
    );
    assert!(
        text.contains("POST /device/api/{auth_req_id}/approve"),
        "{text}"
    );
}

#[test]
fn serve_help_examples_beyond_loopback_carry_a_device_secret() {
    let text = help(&["serve", "--help"]);
    // Join continued lines, then check every example command that binds a non-loopback
    // address: it must work as printed, so it names --device-secret.
    let joined = text.replace("\\\n", " ");
    let beyond: Vec<&str> = joined
        .lines()
        .filter(|l| l.trim_start().starts_with("ciba serve"))
        .filter(|l| {
            l.contains("--addr") && !l.contains("--addr 127.") && !l.contains("--addr [::1]")
        })
        .collect();
    assert!(!beyond.is_empty(), "no non-loopback example:\n{text}");
    for line in beyond {
        assert!(line.contains("--device-secret"), "{line}");
    }
    assert!(text.contains("--users"), "{text}");
}
