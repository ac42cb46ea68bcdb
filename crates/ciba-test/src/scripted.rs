//! A scripted OpenID provider on loopback: a raw HTTP/1.1 server (port 0) answering
//! discovery, the JWK Set, the backchannel endpoint and the token endpoint from scripts, the
//! way real providers misbehave: key rotation mid-flow, a transient 502, a 429 with
//! `Retry-After` and a text body, numbers with fraction parts, `use_dpop_nonce`, ...
//!
//! Used by ciba-client's scenarios (through the `client` module), by ciba-hyper's
//! authorization-server tests, and by ciba-cli's `ciba login` tests. Needs a tokio runtime
//! with I/O and time enabled.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{JwkSet, JwkSigner, JwsAlgorithm, Signer};
use ciba_core::random::OsRandom;
use ciba_core::wire::unix_seconds;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The `client_id` the provider's ID tokens name as their audience.
pub const CLIENT_ID: &str = "scripted-rp";
/// The client secret a client of the provider sends (the provider does not check it).
pub const CLIENT_SECRET: &str = "a-long-random-client-secret-for-tests";

/// One answer of a scripted endpoint.
#[derive(Clone, Debug)]
pub enum Step {
    /// Status, headers and body, sent as given (`Connection: close` is added).
    Raw(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// A valid token response whose ID token is signed by the key at this index, with these
    /// members replacing the defaults (`expires_in`, `token_type`, ...).
    Tokens(usize, Value),
    /// Read the request, then close the connection without answering.
    Reset,
    /// Wait, then do the inner step.
    Delay(Duration, Box<Step>),
}

impl Step {
    /// `status` with `body` as JSON.
    pub fn json(status: u16, body: Value) -> Step {
        Step::Raw(
            status,
            vec![("content-type", "application/json".into())],
            body.to_string().into_bytes(),
        )
    }

    /// A 400 `authorization_pending`, the token endpoint's answer once its script is done.
    pub fn pending() -> Step {
        Step::json(400, json!({"error": "authorization_pending"}))
    }

    /// Tokens signed by key `key`, the defaults unchanged.
    pub fn tokens(key: usize) -> Step {
        Step::Tokens(key, json!({}))
    }
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `"METHOD /path"`.
    pub line: String,
    /// When it arrived, on tokio's clock (which a paused runtime drives).
    pub at: Instant,
    /// The request head, as received.
    pub head: String,
    /// The body, as text.
    pub body: String,
}

impl Seen {
    /// A header's value (names are lowercase).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    /// A form parameter of the body (no percent-decoding beyond what the tests need).
    pub fn form(&self, name: &str) -> Option<String> {
        self.body.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.replace("%40", "@").replace("%2B", "+"))
        })
    }
}

struct State {
    base: String,
    token_script: VecDeque<Step>,
    bc_script: VecDeque<Step>,
    jwks_script: VecDeque<Step>,
    keys: Vec<Arc<JwkSigner>>,
    published: Vec<usize>,
    ack_expires_in: Value,
    ack_interval: Value,
    next_id: u32,
    fixed_id: Option<String>,
    log: Vec<Seen>,
}

/// The scripted provider. Stops when dropped.
pub struct Scripted {
    /// `http://127.0.0.1:PORT`, the issuer and the base of every endpoint.
    pub base: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// A provider whose token endpoint answers `token_script`, then
    /// `authorization_pending`. Three Ed25519 keys (`k0`, `k1`, `k2`); only `k0` published.
    pub async fn start(token_script: Vec<Step>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let keys = ["k0", "k1", "k2"]
            .iter()
            .map(|kid| {
                Arc::new(JwkSigner::generate_ed25519(&OsRandom, Some((*kid).into())).unwrap())
            })
            .collect();
        let state = Arc::new(Mutex::new(State {
            base: base.clone(),
            token_script: token_script.into(),
            bc_script: VecDeque::new(),
            jwks_script: VecDeque::new(),
            keys,
            published: vec![0],
            ack_expires_in: json!(30),
            ack_interval: json!(1),
            next_id: 0,
            fixed_id: None,
            log: Vec::new(),
        }));
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Scripted { base, state, task }
    }

    /// Appends steps to the token endpoint's script.
    pub fn script_tokens(&self, steps: Vec<Step>) {
        self.state.lock().unwrap().token_script.extend(steps);
    }

    /// Answers the next backchannel requests with `steps` (then acknowledgements).
    pub fn script_backchannel(&self, steps: Vec<Step>) {
        self.state.lock().unwrap().bc_script = steps.into();
    }

    /// Answers the next JWK Set requests with `steps` (then the published keys).
    pub fn script_jwks(&self, steps: Vec<Step>) {
        self.state.lock().unwrap().jwks_script = steps.into();
    }

    /// Publishes the keys at these indexes (a key rotation).
    pub fn publish(&self, keys: &[usize]) {
        self.state.lock().unwrap().published = keys.to_vec();
    }

    /// The acknowledgement's `expires_in` and `interval`, as JSON values.
    pub fn ack_numbers(&self, expires_in: Value, interval: Value) {
        let mut s = self.state.lock().unwrap();
        s.ack_expires_in = expires_in;
        s.ack_interval = interval;
    }

    /// Every acknowledgement names this `auth_req_id` (by default each gets a fresh one).
    pub fn fixed_auth_req_id(&self, id: &str) {
        self.state.lock().unwrap().fixed_id = Some(id.to_owned());
    }

    /// The requests seen whose request line is `line` (for example `POST /token`).
    pub fn seen(&self, line: &str) -> Vec<Seen> {
        let s = self.state.lock().unwrap();
        s.log.iter().filter(|r| r.line == line).cloned().collect()
    }

    /// How many requests the server saw, on any path.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }

    /// A push delivery for `auth_req_id`, the ID token signed by `key`, with an `at_hash`
    /// that matches unless `bad_at_hash`, and an `auth_req_id` claim naming `claim_id`.
    pub fn push_body(
        &self,
        auth_req_id: &str,
        key: usize,
        claim_id: &str,
        bad_at_hash: bool,
    ) -> Value {
        let s = self.state.lock().unwrap();
        let access_token = "pushed-access-token";
        let hashed = if bad_at_hash {
            "another-token"
        } else {
            access_token
        };
        let at_hash = left_half_hash(JwsAlgorithm::EdDSA, hashed).unwrap();
        let id_token = id_token(&s, key, claim_id, Some(at_hash));
        json!({"auth_req_id": auth_req_id, "access_token": access_token, "token_type": "Bearer",
               "expires_in": 3600, "id_token": id_token})
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(serve_one(stream, state.clone()));
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_one(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    let step = {
        let mut s = state.lock().unwrap();
        s.log.push(seen.clone());
        match seen.line.as_str() {
            "GET /.well-known/openid-configuration" => discovery(&s),
            "GET /jwks" => s.jwks_script.pop_front().unwrap_or_else(|| jwks(&s)),
            "POST /bc" => match s.bc_script.pop_front() {
                Some(step) => step,
                None => ack(&mut s),
            },
            "POST /token" => match s.token_script.pop_front().unwrap_or_else(Step::pending) {
                Step::Tokens(key, extra) => {
                    let id = seen.form("auth_req_id").unwrap_or_default();
                    Step::json(200, tokens(&s, key, &id, &extra))
                }
                other => other,
            },
            _ => Step::Raw(404, Vec::new(), Vec::new()),
        }
    };
    answer(stream, step).await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut parts = head.lines().next()?.split(' ');
    let line = format!("{} {}", parts.next()?, parts.next()?);
    Some(Seen {
        line,
        at: Instant::now(),
        head,
        body: String::from_utf8_lossy(&buf[header_end..]).to_string(),
    })
}

fn discovery(s: &State) -> Step {
    let base = &s.base;
    Step::json(
        200,
        json!({
            "issuer": base,
            "token_endpoint": format!("{base}/token"),
            "backchannel_authentication_endpoint": format!("{base}/bc"),
            "jwks_uri": format!("{base}/jwks"),
            "backchannel_token_delivery_modes_supported": ["poll", "ping", "push"],
            "grant_types_supported": [ciba_core::CIBA_GRANT_TYPE],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "dpop_signing_alg_values_supported": ["EdDSA", "ES256"],
        }),
    )
}

fn jwks(s: &State) -> Step {
    let keys = JwkSet {
        keys: s
            .published
            .iter()
            .map(|i| s.keys[*i].public_jwk().unwrap())
            .collect(),
    };
    Step::json(200, serde_json::to_value(keys).unwrap())
}

fn ack(s: &mut State) -> Step {
    s.next_id += 1;
    let id = s
        .fixed_id
        .clone()
        .unwrap_or_else(|| format!("scripted-auth-req-{}-0123456789abcdef", s.next_id));
    Step::json(
        200,
        json!({"auth_req_id": id, "expires_in": s.ack_expires_in, "interval": s.ack_interval}),
    )
}

fn id_token(s: &State, key: usize, auth_req_id: &str, at_hash: Option<String>) -> String {
    let now = unix_seconds(SystemTime::now());
    let mut claims = json!({
        "iss": s.base, "sub": "alice", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "urn:openid:params:jwt:claim:auth_req_id": auth_req_id,
    });
    if let Some(h) = at_hash {
        claims["at_hash"] = json!(h);
    }
    sign_compact(
        Map::new(),
        claims.as_object().unwrap(),
        s.keys[key].as_ref(),
    )
    .unwrap()
}

fn tokens(s: &State, key: usize, auth_req_id: &str, extra: &Value) -> Value {
    let mut body = json!({"access_token": "scripted-access-token", "token_type": "Bearer",
                          "expires_in": 3600, "id_token": id_token(s, key, auth_req_id, None)});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            body.insert(k.clone(), v.clone());
        }
    }
    body
}

async fn answer(mut stream: TcpStream, mut step: Step) {
    loop {
        match step {
            Step::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                step = *inner;
            }
            Step::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
            Step::Tokens(..) => {
                step = Step::Raw(500, Vec::new(), b"tokens in the wrong script".to_vec())
            }
            Step::Raw(status, headers, body) => {
                let mut head = format!("HTTP/1.1 {status} Scripted\r\n");
                for (k, v) in &headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ));
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
                return;
            }
        }
    }
}
