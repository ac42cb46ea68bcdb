//! Keycloak's HTTP authentication channel, played by xtask: a loopback HTTP/1.1 service
//! that Keycloak POSTs each CIBA request to (with a bearer token), answering `201 Created`
//! and, when recording, keeping each token by the request's `binding_message` for the
//! end-user's decision (see [`super::Keycloak::decide`]).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::json::Json;

/// Largest request head and body the channel reads.
const CHANNEL_MAX_HEAD: usize = 16 * 1024;
const CHANNEL_MAX_BODY: usize = 64 * 1024;

/// The HTTP authentication channel Keycloak calls for each CIBA request: a loopback
/// HTTP/1.1 service (keep-alive, one thread per connection) answering `201 Created` to every
/// well-formed POST, and keeping `binding_message` → bearer token when recording.
pub(crate) struct AuthChannel {
    /// `http://127.0.0.1:PORT/ciba/auth-channel`.
    pub(crate) url: String,
    state: Arc<ChannelState>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

struct ChannelState {
    record: bool,
    stop: AtomicBool,
    /// Requests answered (well-formed or not).
    calls: AtomicU64,
    tokens: Mutex<HashMap<String, String>>,
    arrived: Condvar,
}

impl AuthChannel {
    pub(crate) fn start(record: bool) -> Result<AuthChannel, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("authentication channel: cannot bind 127.0.0.1:0: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("authentication channel: {e}"))?;
        let state = Arc::new(ChannelState {
            record,
            stop: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            tokens: Mutex::new(HashMap::new()),
            arrived: Condvar::new(),
        });
        let shared = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve_connection(conn, &state));
            }
        });
        Ok(AuthChannel {
            url: format!("http://127.0.0.1:{}/ciba/auth-channel", addr.port()),
            state,
            addr,
            thread: Some(thread),
        })
    }

    /// How many requests it has answered.
    pub(crate) fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// The bearer token of the request with this `binding_message`, once it has arrived.
    pub(crate) fn wait_for(&self, binding_message: &str, until: Instant) -> Option<String> {
        let mut tokens = self
            .state
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(token) = tokens.remove(binding_message) {
                return Some(token);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            tokens = self
                .state
                .arrived
                .wait_timeout(tokens, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for AuthChannel {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop up so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves the requests of one connection until it closes, errs or idles for 30 s.
fn serve_connection(mut conn: TcpStream, state: &ChannelState) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(30)));
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let Some((head, body)) = read_request(&mut conn, &mut buf) else {
            return;
        };
        state.calls.fetch_add(1, Ordering::SeqCst);
        let (status, recorded) = handle(&head, &body);
        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        let written = conn.write_all(reply.as_bytes()).is_ok();
        // Handed to the end-user only once Keycloak has its answer.
        if written
            && state.record
            && let Some((message, token)) = recorded
        {
            let mut tokens = state
                .tokens
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            tokens.insert(message, token);
            state.arrived.notify_all();
        }
        if !written || state.stop.load(Ordering::SeqCst) || closes(&head) {
            return;
        }
    }
}

/// One request from `conn` (bytes already read are in `buf`): its head and body, or `None`
/// at the end of the connection or on anything malformed or too large.
fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > CHANNEL_MAX_HEAD {
            return None;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    };
    let head = String::from_utf8_lossy(buf.get(..head_end)?).into_owned();
    let length = header(&head, "content-length")
        .map(|v| v.parse::<usize>().ok())
        .unwrap_or(Some(0))?;
    if length > CHANNEL_MAX_BODY {
        return None;
    }
    let start = head_end + 4;
    while buf.len() < start + length {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
    let body = buf.get(start..start + length)?.to_vec();
    buf.drain(..start + length);
    Some((head, body))
}

/// Whether the client ends the connection after this request: HTTP/1.0 without keep-alive,
/// or `Connection: close`.
fn closes(head: &str) -> bool {
    let connection = header(head, "connection").map(str::to_ascii_lowercase);
    let http10 = head.lines().next().is_some_and(|l| l.ends_with("HTTP/1.0"));
    connection.as_deref() == Some("close")
        || (http10 && connection.as_deref() != Some("keep-alive"))
}

/// A header's value (case-insensitive name).
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The status line's reason for one request (`201 Created` for a POST with a bearer token
/// and a JSON body, `400 Bad Request` otherwise), and its `binding_message` and token.
fn handle(head: &str, body: &[u8]) -> (&'static str, Option<(String, String)>) {
    if !head.starts_with("POST ") {
        return ("405 Method Not Allowed", None);
    }
    let Some(token) = header(head, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return ("400 Bad Request", None);
    };
    let Ok(json) = Json::parse(&String::from_utf8_lossy(body)) else {
        return ("400 Bad Request", None);
    };
    let message = json
        .get("binding_message")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();
    ("201 Created", Some((message, token.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::keycloak::post_json;

    #[test]
    fn the_channel_answers_and_records_by_binding_message() {
        let channel = AuthChannel::start(true).unwrap();
        let port = channel.addr.port();
        let url = format!("http://127.0.0.1:{port}/ciba/auth-channel");
        let r = post_json(
            &url,
            "tok-1",
            "{\"binding_message\":\"cell-7\",\"login_hint\":\"alice\"}",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(r.status, 201);
        let until = Instant::now() + Duration::from_secs(5);
        assert_eq!(channel.wait_for("cell-7", until).as_deref(), Some("tok-1"));
        // Taken once.
        assert_eq!(channel.wait_for("cell-7", Instant::now()), None);
        let bad = post_json(&url, "tok-2", "not json", Duration::from_secs(5)).unwrap();
        assert_eq!(bad.status, 400);
        assert_eq!(channel.calls(), 2);
    }
}
