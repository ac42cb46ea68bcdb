//! The authentication-device web page of `ciba serve`, and the JSON API beside it.
//!
//! ```text
//! GET  /device                          the page (plain HTML, a little vanilla JS, no external assets)
//! GET  /device/api/pending              {"pending": [{auth_req_id, client_id, subject, scope,
//!                                                     binding_message, mode, expires_at}]}
//! POST /device/api/{auth_req_id}/approve   {"auth_req_id", "decision": "approved"}
//! POST /device/api/{auth_req_id}/deny      {"auth_req_id", "decision": "denied"}
//! ```
//!
//! The list comes from the store, so every instance sharing a store (`--store redis://`)
//! lists and decides the same requests; a store that does not answer is a 503 with
//! `Retry-After`. The page polls the pending list every second and posts the decisions.
//!
//! Before any of this, [`crate::device_access`] refuses requests whose `Host` names another
//! host (DNS rebinding) and, when the provider has a device access secret, requests without
//! it. A POST carrying an `Origin` header from another site is refused too, so a foreign web
//! page cannot decide for the user; scripts (which send no `Origin`) can.
//!
//! The page shows client-supplied text (the user, the binding message) through `textContent`
//! and escapes control, bidirectional and zero-width characters as `\u{XXXX}`, as the terminal
//! output does ([`crate::escape`]).

use ciba_core::wire::unix_seconds;
use ciba_hyper::server::PendingRequest;
use ciba_server::AuthReqId;
use http::{HeaderMap, Method, Response, StatusCode, Uri, header};
use serde_json::{Value, json};

use crate::device::{Decision, DecisionError, Device};
use crate::device_access::DeviceAccess;

/// The path prefix of the page and its API.
pub(crate) const DEVICE_PATH: &str = "/device";

/// True when `path` belongs to the device page or its API.
pub(crate) fn is_device_path(path: &str) -> bool {
    path == DEVICE_PATH
        || path
            .strip_prefix(DEVICE_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Answers a request for a device path (see [`is_device_path`]), once `access` admits it.
pub(crate) async fn handle(
    device: &Device,
    access: &DeviceAccess,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response<Vec<u8>> {
    if let Err(refused) = access.admit(method, uri, headers) {
        return refused;
    }
    let path = uri.path();
    let rest = path.strip_prefix(DEVICE_PATH).unwrap_or(path);
    match (method, rest) {
        (&Method::GET | &Method::HEAD, "" | "/") => html(PAGE),
        (&Method::GET, "/api/pending") => match device.pending().await {
            Ok(pending) => {
                let pending: Vec<Value> = pending.iter().map(view).collect();
                json_response(StatusCode::OK, &json!({ "pending": pending }))
            }
            Err(e) => unavailable(&e.to_string()),
        },
        (&Method::POST, api) => match decision_route(api) {
            Some((id, decision)) => {
                if !same_origin(DeviceAccess::request_authority(uri, headers), headers) {
                    return error(StatusCode::FORBIDDEN, "cross-origin requests are refused");
                }
                decide(device, id, decision).await
            }
            None => error(StatusCode::NOT_FOUND, "no such device endpoint"),
        },
        (_, "" | "/" | "/api/pending") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, "no such device endpoint"),
    }
}

/// A pending request as the API shows it. The user is the `subject` the provider identified
/// (for `ciba serve`, the `login_hint` itself).
fn view(r: &PendingRequest) -> Value {
    json!({
        "auth_req_id": r.auth_req_id.as_str(),
        "client_id": r.client_id,
        "subject": r.subject,
        "scope": r.scopes.join(" "),
        "binding_message": r.binding_message,
        "mode": r.delivery_mode.as_str(),
        "expires_at": unix_seconds(r.expires_at),
    })
}

/// `/api/{auth_req_id}/approve` or `/api/{auth_req_id}/deny`.
fn decision_route(rest: &str) -> Option<(&str, Decision)> {
    let rest = rest.strip_prefix("/api/")?;
    let (id, action) = rest.rsplit_once('/')?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    match action {
        "approve" => Some((id, Decision::Approve)),
        "deny" => Some((id, Decision::Deny)),
        _ => None,
    }
}

async fn decide(device: &Device, id: &str, decision: Decision) -> Response<Vec<u8>> {
    let label = match decision {
        Decision::Approve => "approved",
        Decision::Deny => "denied",
    };
    // A text the server never mints names no request.
    let Ok(auth_req_id) = id.parse::<AuthReqId>() else {
        return not_pending();
    };
    match device.decide(&auth_req_id, decision).await {
        Ok(()) => json_response(
            StatusCode::OK,
            &json!({"auth_req_id": id, "decision": label}),
        ),
        Err(DecisionError::NotPending) => not_pending(),
        Err(DecisionError::Unavailable(why)) => unavailable(&why),
        Err(DecisionError::Failed(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, &why),
    }
}

/// 404: no request with this `auth_req_id` waits for a decision.
fn not_pending() -> Response<Vec<u8>> {
    error(
        StatusCode::NOT_FOUND,
        "no pending request with this auth_req_id (unknown, decided or expired)",
    )
}

/// 503 with `Retry-After`: the store did not answer.
fn unavailable(why: &str) -> Response<Vec<u8>> {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("the store is unavailable: {why}"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// A POST without `Origin` (a script) or whose `Origin` names the authority (`host`: the
/// `Host`, or HTTP/2's `:authority`) it was sent to.
fn same_origin(host: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (origin.to_str(), host) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

fn html(body: &str) -> Response<Vec<u8>> {
    let mut response = Response::new(body.as_bytes().to_vec());
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response<Vec<u8>> {
    let mut response = Response::new(body.to_string().into_bytes());
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// A JSON error with no other data (`{"error": message}`, not cached).
pub(crate) fn error(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    json_response(status, &json!({ "error": message }))
}

/// The page. Rows are built with `textContent`, never `innerHTML`, so users and binding
/// messages cannot inject markup.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CIBA authentication device</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.4rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  .binding { font-family: monospace; font-size: 1.1rem; font-weight: bold; }
  button { padding: .3rem .9rem; margin-right: .3rem; cursor: pointer; }
  button.approve { background: #2e7d32; color: #fff; border: none; }
  button.deny { background: #c62828; color: #fff; border: none; }
  #status { margin-top: 1rem; min-height: 1.2rem; color: #555; }
  #empty { color: #777; }
</style>
</head>
<body>
<h1>CIBA authentication device</h1>
<p>Requests waiting for the user. Compare the binding message with the one on the consumption device before approving.</p>
<table id="requests">
  <thead><tr><th>User</th><th>Client</th><th>Scope</th><th>Binding message</th><th>Mode</th><th>Expires in</th><th></th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<p id="empty">No pending requests.</p>
<div id="status" role="status"></div>
<script>
"use strict";
const rows = document.getElementById("rows");
const empty = document.getElementById("empty");
const statusLine = document.getElementById("status");
let busy = false;

// Control, bidirectional and zero-width characters (and the backslash) are shown as
// escapes, so what the user compares is what the client sent.
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff\\]/g;
const NAMED = { "\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\" };

function shown(text) {
  return String(text ?? "").replace(HIDDEN, (c) =>
    NAMED[c] || "\\u{" + c.codePointAt(0).toString(16).padStart(4, "0") + "}");
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = shown(text);
  if (cls) td.className = cls;
  return td;
}

function button(label, cls, id, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = cls;
  b.dataset.id = id;
  b.addEventListener("click", () => decide(id, action));
  return b;
}

function render(pending) {
  const now = Date.now() / 1000;
  rows.replaceChildren(...pending.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.id = r.auth_req_id;
    tr.append(
      cell(r.subject),
      cell(r.client_id),
      cell(r.scope),
      cell(r.binding_message || "", "binding"),
      cell(r.mode),
      cell(Math.max(0, Math.round(r.expires_at - now)) + " s"),
    );
    const actions = document.createElement("td");
    actions.append(button("Approve", "approve", r.auth_req_id, "approve"),
                   button("Deny", "deny", r.auth_req_id, "deny"));
    tr.append(actions);
    return tr;
  }));
  empty.hidden = pending.length > 0;
}

async function refresh() {
  if (busy) return;
  try {
    const resp = await fetch("/device/api/pending", { cache: "no-store" });
    const body = await resp.json();
    render(body.pending || []);
  } catch (e) {
    statusLine.textContent = "Cannot reach the provider: " + e;
  }
}

async function decide(id, action) {
  busy = true;
  try {
    const resp = await fetch("/device/api/" + encodeURIComponent(id) + "/" + action, { method: "POST" });
    const body = await resp.json();
    statusLine.textContent = resp.ok ? ("Request " + body.decision + ".") : ("Failed: " + body.error);
  } catch (e) {
    statusLine.textContent = "Failed: " + e;
  } finally {
    busy = false;
    refresh();
  }
}

refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_paths_are_recognised() {
        assert!(is_device_path("/device"));
        assert!(is_device_path("/device/api/pending"));
        assert!(!is_device_path("/devices"));
        assert!(!is_device_path("/token"));
    }

    #[test]
    fn decision_routes_name_the_request_and_the_action() {
        assert!(matches!(
            decision_route("/api/abc/approve"),
            Some(("abc", Decision::Approve))
        ));
        assert!(matches!(
            decision_route("/api/abc/deny"),
            Some(("abc", Decision::Deny))
        ));
        assert!(decision_route("/api/abc/maybe").is_none());
        assert!(decision_route("/api//approve").is_none());
        assert!(decision_route("/api/a/b/approve").is_none());
    }

    #[test]
    fn cross_origin_posts_are_refused_and_scripts_are_not() {
        let host = Some("127.0.0.1:8080");
        let mut h = HeaderMap::new();
        assert!(same_origin(host, &h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(host, &h));
        assert!(!same_origin(None, &h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(host, &h));
    }

    #[test]
    fn the_page_loads_no_external_assets() {
        assert!(!PAGE.contains("src=\"http"));
        assert!(!PAGE.contains("href=\"http"));
        assert!(PAGE.contains("/device/api/pending"));
    }
}
