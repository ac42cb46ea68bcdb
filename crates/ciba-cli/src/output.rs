//! What the commands print on stdout: the demo's per-mode tables and the JSON of validated
//! tokens and ID token claims.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use ciba_core::wire::unix_seconds;
use ciba_core::{IdTokenClaims, TokenResponse, ValidatedTokens};
use serde_json::{Map, Value, json};

use crate::cli::Mode;
use crate::outcome::Outcome;

/// The result of one demo flow, for its table.
#[derive(Debug, Clone)]
pub(crate) struct FlowReport {
    /// The delivery mode.
    pub(crate) mode: Mode,
    /// How it ended.
    pub(crate) outcome: Outcome,
    /// How it was expected to end.
    pub(crate) expected: Outcome,
    /// From the user's decision on the device to the tokens (or the error) at the client.
    pub(crate) decision_to_result: Option<Duration>,
    /// Token endpoint requests the client made.
    pub(crate) token_requests: u32,
    /// The validated ID token claims, when tokens came.
    pub(crate) claims: Option<Value>,
    /// Whole flow, from the backchannel request to the result.
    pub(crate) total: Duration,
}

impl FlowReport {
    /// True when the flow ended as expected.
    pub(crate) fn as_expected(&self) -> bool {
        self.outcome == self.expected
    }
}

/// Renders the per-mode tables, one after the other, and a summary line.
pub(crate) fn render_reports(reports: &[FlowReport], denied: bool) -> String {
    let mut out = String::new();
    for report in reports {
        out.push_str(&render_report(report, denied));
        out.push('\n');
    }
    let ok = reports.iter().filter(|r| r.as_expected()).count();
    let _ = writeln!(
        out,
        "{ok}/{} flows ended as expected{}",
        reports.len(),
        if ok == reports.len() {
            ""
        } else {
            " -- FAILED"
        }
    );
    out
}

fn render_report(report: &FlowReport, denied: bool) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let verdict = if report.as_expected() {
        "ok"
    } else {
        "UNEXPECTED"
    };
    rows.push((
        "outcome".into(),
        format!(
            "{} (expected {}: {verdict})",
            report.outcome.label(),
            report.expected.label()
        ),
    ));
    let decision = if denied { "denial" } else { "approval" };
    let result = match report.outcome {
        Outcome::Tokens => "tokens",
        _ => "result",
    };
    rows.push((
        format!("{decision} -> {result}"),
        report
            .decision_to_result
            .map_or_else(|| "-".to_owned(), seconds),
    ));
    rows.push(("token requests".into(), report.token_requests.to_string()));
    rows.push(("total time".into(), seconds(report.total)));
    match &report.claims {
        Some(Value::Object(claims)) => {
            for (name, value) in claims {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                rows.push((format!("id_token.{name}"), text));
            }
        }
        _ => rows.push(("id_token".into(), "-".into())),
    }
    table(&format!("{} mode", report.mode), &rows)
}

/// A two-column table with a title row, in plain ASCII.
pub(crate) fn table(title: &str, rows: &[(String, String)]) -> String {
    let key_width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let value_width = rows
        .iter()
        .map(|(_, v)| v.chars().count())
        .max()
        .unwrap_or(0)
        .max(title.chars().count().saturating_sub(key_width + 3));
    let rule = format!(
        "+{}+{}+\n",
        "-".repeat(key_width + 2),
        "-".repeat(value_width + 2)
    );
    let mut out = rule.clone();
    let _ = writeln!(out, "| {title:<w$} |", w = key_width + value_width + 3);
    out.push_str(&rule);
    for (k, v) in rows {
        let _ = writeln!(out, "| {k:<key_width$} | {v:<value_width$} |");
    }
    out.push_str(&rule);
    out
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The claims of a validated ID token as JSON, with times as Unix seconds.
pub(crate) fn claims_json(claims: &IdTokenClaims) -> Value {
    let mut map = Map::new();
    map.insert("iss".into(), json!(claims.iss));
    map.insert("sub".into(), json!(claims.sub));
    let aud = match claims.aud.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    map.insert("aud".into(), aud);
    map.insert("exp".into(), json!(unix(claims.exp)));
    map.insert("iat".into(), json!(unix(claims.iat)));
    let optional = [
        ("auth_time", claims.auth_time.map(|t| json!(unix(t)))),
        ("azp", claims.azp.as_ref().map(|v| json!(v))),
        ("acr", claims.acr.as_ref().map(|v| json!(v))),
        ("amr", claims.amr.as_ref().map(|v| json!(v))),
        ("at_hash", claims.at_hash.as_ref().map(|v| json!(v))),
        (
            ciba_core::id_token::RT_HASH_CLAIM,
            claims.rt_hash.as_ref().map(|v| json!(v)),
        ),
        (
            ciba_core::id_token::AUTH_REQ_ID_CLAIM,
            claims.auth_req_id.as_ref().map(|v| json!(v)),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            map.insert(name.into(), value);
        }
    }
    for (name, value) in &claims.extra {
        map.entry(name.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(map)
}

fn unix(t: SystemTime) -> i64 {
    unix_seconds(t)
}

/// A token response as JSON, under the standard member names (tokens included).
pub(crate) fn token_response_json(response: &TokenResponse) -> Value {
    let mut map = Map::new();
    map.insert("access_token".into(), json!(response.access_token));
    map.insert("token_type".into(), json!(response.token_type.as_str()));
    if let Some(e) = response.expires_in {
        map.insert("expires_in".into(), json!(e.as_secs()));
    }
    if let Some(r) = &response.refresh_token {
        map.insert("refresh_token".into(), json!(r));
    }
    if let Some(s) = &response.scope {
        map.insert("scope".into(), json!(s));
    }
    if let Some(i) = &response.id_token {
        map.insert("id_token".into(), json!(i));
    }
    for (name, value) in &response.extra {
        map.entry(name.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(map)
}

/// What `ciba login` prints on stdout: `{"token_response": ..., "id_token_claims": ...}`.
pub(crate) fn login_json(tokens: &ValidatedTokens) -> Value {
    json!({
        "token_response": token_response_json(&tokens.response),
        "id_token_claims": claims_json(&tokens.id_token),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome, expected: Outcome) -> FlowReport {
        FlowReport {
            mode: Mode::Ping,
            outcome,
            expected,
            decision_to_result: Some(Duration::from_millis(420)),
            token_requests: 1,
            claims: Some(json!({"iss": "http://127.0.0.1:1", "sub": "alice", "exp": 5})),
            total: Duration::from_secs(2),
        }
    }

    #[test]
    fn the_table_lists_outcome_timing_requests_and_claims() {
        let text = render_reports(&[report(Outcome::Tokens, Outcome::Tokens)], false);
        assert!(text.contains("| ping mode"), "{text}");
        assert!(text.contains("tokens (expected tokens: ok)"), "{text}");
        assert!(text.contains("approval -> tokens | 0.42 s"), "{text}");
        assert!(text.contains("| token requests"), "{text}");
        assert!(text.contains("id_token.sub"), "{text}");
        assert!(text.contains("1/1 flows ended as expected\n"), "{text}");
    }

    #[test]
    fn an_unexpected_outcome_is_flagged() {
        let text = render_reports(&[report(Outcome::AccessDenied, Outcome::Tokens)], false);
        assert!(text.contains("UNEXPECTED"), "{text}");
        assert!(text.contains("FAILED"), "{text}");
    }

    #[test]
    fn table_rows_are_aligned() {
        let t = table(
            "t",
            &[("a".into(), "1".into()), ("longer".into(), "22".into())],
        );
        let widths: Vec<usize> = t.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{t}");
    }
}
