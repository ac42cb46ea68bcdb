//! Checking a finished cell: the client's exit status and output, the delivered tokens,
//! the ID token's claims, and whether it arrived encrypted.

use std::process::ExitStatus;

use super::cells::{Cell, Expect, Mode};
use super::servers::Server;
use super::{LOGIN_HINT, OP_EMAIL};
use crate::json::Json;

/// `ciba login`: exit code 0 with the token response and validated claims on stdout, 3
/// with `access_denied`, 4 with `expired_token`.
pub(super) fn check_login(
    cell: &Cell,
    server: &Server,
    status: Option<ExitStatus>,
    out: &str,
    err: &str,
) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let code = status.and_then(|s| s.code());
    let outcome = match code {
        Some(0) => "tokens".to_owned(),
        Some(3) => "access_denied".to_owned(),
        Some(4) => "expired_token".to_owned(),
        Some(1) => "error".to_owned(),
        Some(c) => format!("exit {c}"),
        None if status.is_some() => "killed".to_owned(),
        None => "timeout".to_owned(),
    };
    if outcome != cell.expect.outcome() {
        problems.push(format!("expected {}", cell.expect.outcome()));
        return (outcome, problems);
    }
    match cell.expect {
        Expect::Approve => match Json::parse(out) {
            Ok(json) => {
                check_claims(
                    json.get("id_token_claims"),
                    cell,
                    server,
                    Some(OP_EMAIL),
                    &mut problems,
                );
                let tr = json.get("token_response");
                for member in ["access_token", "id_token"] {
                    if tr
                        .and_then(|t| t.get(member))
                        .and_then(Json::as_str)
                        .is_none()
                    {
                        problems.push(format!("token_response has no {member}"));
                    }
                }
                let token_type = tr.and_then(|t| t.get("token_type")).and_then(Json::as_str);
                if !token_type.is_some_and(|t| t.eq_ignore_ascii_case(cell.token_type())) {
                    problems.push(format!("token_type is {token_type:?}"));
                }
                let id_token = tr.and_then(|t| t.get("id_token")).and_then(Json::as_str);
                check_encrypted(cell, id_token.map(|t| t.split('.').count()), &mut problems);
            }
            Err(e) => problems.push(format!("stdout is not the token JSON: {e}")),
        },
        Expect::Deny | Expect::Expire => {
            if !out.trim().is_empty() {
                problems.push("something was printed on stdout".to_owned());
            }
            if !err.contains(cell.expect.outcome()) {
                problems.push(format!("stderr does not say {}", cell.expect.outcome()));
            }
        }
    }
    (outcome, problems)
}

/// The JS drivers: exit 0 (they compare with `--expect` themselves) and a result line
/// whose claims, poll count and ping flag are checked here too.
pub(super) fn check_driver(
    cell: &Cell,
    server: &Server,
    status: Option<ExitStatus>,
    out: &str,
) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let line = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let result = match Json::parse(line) {
        Ok(j) => j,
        Err(e) => {
            problems.push(format!("no JSON result line ({e})"));
            let outcome = if status.is_none() { "timeout" } else { "-" };
            return (outcome.to_owned(), problems);
        }
    };
    let outcome = result
        .get("outcome")
        .and_then(Json::as_str)
        .unwrap_or("-")
        .to_owned();
    if outcome != cell.expect.outcome() {
        let error = result.get("error").and_then(Json::as_str).unwrap_or("");
        problems.push(format!("expected {} ({error})", cell.expect.outcome()));
    }
    if let Some(code) = status.and_then(|s| s.code())
        && code != 0
    {
        problems.push(format!("exit {code}"));
    }
    if outcome == "tokens" {
        check_claims(result.get("claims"), cell, server, None, &mut problems);
        let token_type = result.get("token_type").and_then(Json::as_str);
        if !token_type.is_some_and(|t| t.eq_ignore_ascii_case(cell.token_type())) {
            problems.push(format!("token_type is {token_type:?}"));
        }
        let parts = result.get("id_token_parts").and_then(Json::as_f64);
        check_encrypted(cell, parts.map(|p| p as usize), &mut problems);
    }
    if cell.mode == Mode::Poll && cell.expect == Expect::Approve {
        let polls = result.get("polls").and_then(Json::as_f64).unwrap_or(0.0);
        if polls < 2.0 {
            problems.push(format!(
                "{polls} token requests: authorization_pending was never seen"
            ));
        }
    }
    if cell.mode == Mode::Ping
        && cell.expect != Expect::Expire
        && result.get("notified") != Some(&Json::Bool(true))
    {
        problems.push("the ping notification did not arrive".to_owned());
    }
    (outcome, problems)
}

/// An encrypted cell's ID token arrived as a JWE (five parts), a plain one's as a JWS (three):
/// a client that silently accepted a plain token in an encrypted cell would pass otherwise.
fn check_encrypted(cell: &Cell, id_token_parts: Option<usize>, problems: &mut Vec<String>) {
    let expected = if cell.encryption.is_some() { 5 } else { 3 };
    match id_token_parts {
        Some(n) if n == expected => {}
        // Only the encrypted cells insist on knowing (older drivers do not report it).
        None if cell.encryption.is_none() => {}
        other => problems.push(format!(
            "the delivered ID token has {other:?} parts, expected {expected}{}",
            if expected == 5 { " (a JWE)" } else { "" }
        )),
    }
}

/// The ID token claims: sub, aud, iss (and email from oidc-provider's `email` scope).
fn check_claims(
    claims: Option<&Json>,
    cell: &Cell,
    server: &Server,
    email: Option<&str>,
    problems: &mut Vec<String>,
) {
    let Some(claims) = claims else {
        problems.push("no ID token claims".to_owned());
        return;
    };
    let str_claim = |name: &str| claims.get(name).and_then(Json::as_str);
    if str_claim("sub") != Some(LOGIN_HINT) {
        problems.push(format!("sub is {:?}, not {LOGIN_HINT}", str_claim("sub")));
    }
    if !claims
        .get("aud")
        .is_some_and(|a| a.is_or_contains(&cell.client_id))
    {
        problems.push("aud does not name the client".to_owned());
    }
    if str_claim("iss") != Some(server.issuer.as_str()) {
        problems.push(format!("iss is {:?}", str_claim("iss")));
    }
    if let Some(email) = email
        && str_claim("email") != Some(email)
    {
        problems.push(format!("email is {:?}", str_claim("email")));
    }
}
