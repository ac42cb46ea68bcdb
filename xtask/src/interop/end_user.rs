//! Playing the end-user at oidc-provider's admin API and `ciba serve`'s device API: find
//! the cell's pending request, then approve or deny it.

use std::time::{Duration, Instant};

use super::cells::{Cell, Expect, Mode};
use super::servers::Server;
use super::support::{Proc, http};
use super::{HTTP_TIMEOUT, OP_POLL_APPROVE_DELAY, PENDING_TIMEOUT, SERVE_POLL_APPROVE_DELAY};
use crate::json::Json;

/// Plays the end-user: finds the cell's request (by its binding_message) in the server's
/// pending list, waits (poll approvals), then approves or denies it.
pub(super) fn decide(
    server: &Server,
    cell: &Cell,
    proc: &mut Proc,
    deadline: Instant,
) -> Result<(), String> {
    let list_url = match &server.admin {
        Some(admin) => format!("{admin}/pending"),
        None => format!("{}/device/api/pending", server.issuer),
    };
    let until = deadline.min(Instant::now() + PENDING_TIMEOUT);
    // Every call ends by the cell's deadline (give or take a second).
    let timeout = || {
        HTTP_TIMEOUT
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_secs(1))
    };
    let id = loop {
        if let Some(status) = proc.exited() {
            return Err(format!(
                "the client exited ({status}) before its request was pending"
            ));
        }
        let r = http("GET", &list_url, timeout())?;
        if r.status != 200 {
            return Err(format!("GET {list_url}: {} {}", r.status, r.body));
        }
        let list = Json::parse(&r.body).map_err(|e| format!("GET {list_url}: {e}"))?;
        let items = match &server.admin {
            Some(_) => list.as_array(),
            None => list.get("pending").and_then(Json::as_array),
        }
        .unwrap_or_default();
        let found = items
            .iter()
            .find(|p| {
                p.get("binding_message").and_then(Json::as_str)
                    == Some(cell.binding_message.as_str())
            })
            .and_then(|p| p.get("auth_req_id").and_then(Json::as_str));
        if let Some(id) = found {
            break id.to_owned();
        }
        if Instant::now() >= until {
            return Err(format!(
                "no pending request with binding_message {} within {PENDING_TIMEOUT:?}",
                cell.binding_message
            ));
        }
        std::thread::sleep(Duration::from_millis(150));
    };
    if cell.expect == Expect::Approve && cell.mode == Mode::Poll {
        std::thread::sleep(match server.admin {
            Some(_) => OP_POLL_APPROVE_DELAY,
            None => SERVE_POLL_APPROVE_DELAY,
        });
    }
    let action = cell.expect.word();
    let url = match &server.admin {
        Some(admin) => format!("{admin}/{action}/{}", url_segment(&id)),
        None => format!("{}/device/api/{}/{action}", server.issuer, url_segment(&id)),
    };
    let r = http("POST", &url, timeout())?;
    if (200..300).contains(&r.status) {
        Ok(())
    } else {
        Err(format!("{action} answered {}: {}", r.status, r.body.trim()))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_segments_are_percent_encoded() {
        assert_eq!(url_segment("aZ0-._~"), "aZ0-._~");
        assert_eq!(url_segment("a/b c"), "a%2Fb%20c");
    }
}
