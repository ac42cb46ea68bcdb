//! Test harness: the ciba-hyper authorization server and notification receiver on loopback,
//! clients discovering them, and a scripted raw HTTP/1.1 server for fault injection.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod slow_store;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ciba_core::endpoint::EndpointPolicy;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{JwkSet, JwkSigner, Signer};
use ciba_core::random::OsRandom;
use ciba_core::time::unix_seconds;
use ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
use ciba_hyper::server::{
    AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture, NotificationDeliverer,
    PendingRequest,
};
use ciba_hyper::{CibaClient, HttpClient, NotificationReceiver, RunningServer};
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{
    AuthMethod, CIBA_GRANT_TYPE, CibaServer, ClientMetadata, DefaultTokenMinter, FailReason,
    MemoryStore, ServerConfig, StaticClientRegistry, Store, Ticket,
};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub const POLL: &str = "poll-rp";
pub const PING: &str = "ping-rp";
pub const PUSH: &str = "push-rp";
pub const SECRET: &str = "a-long-random-client-secret-for-tests";

/// Identifies alice; refuses everyone else.
pub struct TestHooks;

impl AuthorizationHooks for TestHooks {
    fn identify_user<'a>(
        &'a self,
        ticket: &'a Ticket,
    ) -> BoxFuture<'a, Result<String, FailReason>> {
        Box::pin(std::future::ready(match ticket.hint.value() {
            "alice@example.com" => Ok("alice".into()),
            _ => Err(FailReason::UnknownUserId),
        }))
    }
}

/// Settings of a [`TestAs`].
#[derive(Clone, Copy)]
pub struct AsOptions {
    pub interval: u64,
    pub expires_in: u64,
    pub max_entries_per_client: usize,
}

impl Default for AsOptions {
    fn default() -> Self {
        AsOptions {
            interval: 1,
            expires_in: 20,
            max_entries_per_client: 10_000,
        }
    }
}

/// The ciba-hyper authorization server and a notification receiver, both on loopback.
pub struct TestAs {
    pub issuer: String,
    pub service: AuthorizationServer,
    pub handle: AsHandle,
    pub server: RunningServer,
    pub receiver: NotificationReceiver,
}

impl TestAs {
    pub async fn start() -> TestAs {
        TestAs::with(AsOptions::default()).await
    }

    pub async fn with(options: AsOptions) -> TestAs {
        let store = MemoryStore::with_config(MemoryStoreConfig {
            max_entries_per_client: options.max_entries_per_client,
        });
        TestAs::with_parts(options, Arc::new(store), TestHooks).await
    }

    /// A server over `store` (`options.max_entries_per_client` is the store's business),
    /// with the application's `hooks`.
    pub async fn with_parts(
        options: AsOptions,
        store: Arc<dyn Store>,
        hooks: impl AuthorizationHooks,
    ) -> TestAs {
        let receiver = NotificationReceiver::bind("127.0.0.1:0").await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        // Loopback tests use plain http, by the explicit opt-in.
        let mut config = ServerConfig::with_policy(
            issuer.clone(),
            format!("{issuer}/token"),
            format!("{issuer}/bc"),
            EndpointPolicy::ALLOW_HTTP_LOOPBACK,
        )
        .unwrap();
        config.jwks_uri = Some(format!("{issuer}/jwks"));
        config.interval = options.interval;
        config.default_expires_in = options.expires_in;
        let mut registry = StaticClientRegistry::new();
        for (id, mode) in [
            (POLL, DeliveryMode::Poll),
            (PING, DeliveryMode::Ping),
            (PUSH, DeliveryMode::Push),
        ] {
            let mut m = ClientMetadata::new(id);
            m.client_secret = Some(SECRET.into());
            if mode == DeliveryMode::Ping {
                m.token_endpoint_auth_method = AuthMethod::ClientSecretPost;
            }
            m.backchannel_token_delivery_mode = Some(mode);
            if mode.uses_token_endpoint() {
                m.grant_types = vec![CIBA_GRANT_TYPE.into()];
            }
            if mode.uses_notifications() {
                m.backchannel_client_notification_endpoint = Some(receiver.url().to_string());
            }
            registry.register(m, &config).unwrap();
        }
        let key = JwkSigner::generate_ed25519(&OsRandom, Some("op-key-1".into())).unwrap();
        let server = CibaServer::new(
            config,
            Arc::new(registry),
            store,
            Arc::new(DefaultTokenMinter::new(Arc::new(key))),
        );
        let deliverer = NotificationDeliverer::new(HttpClient::http().timeout(secs(2)))
            .retry_delay(Duration::from_millis(100));
        let service = AuthorizationServer::builder(server, hooks)
            .deliverer(deliverer)
            .build();
        let handle = service.handle();
        let server = service.clone().serve(listener).unwrap();
        TestAs {
            issuer,
            service,
            handle,
            server,
            receiver,
        }
    }

    /// A client of `mode` that discovered this server.
    pub async fn client(&self, mode: DeliveryMode) -> CibaClient {
        self.client_with(mode, |b| b).await
    }

    pub async fn client_with(
        &self,
        mode: DeliveryMode,
        tune: impl FnOnce(ciba_hyper::CibaClientBuilder) -> ciba_hyper::CibaClientBuilder,
    ) -> CibaClient {
        let (id, auth) = match mode {
            DeliveryMode::Poll => (POLL, ClientAuth::SecretBasic(ClientSecret::new(SECRET))),
            DeliveryMode::Ping => (PING, ClientAuth::SecretPost(ClientSecret::new(SECRET))),
            _ => (PUSH, ClientAuth::SecretBasic(ClientSecret::new(SECRET))),
        };
        let mut config = ClientConfig::new(id, auth, mode);
        config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
        if mode.uses_notifications() {
            config.notification_endpoint = Some(self.receiver.url().to_string());
        }
        let builder = CibaClient::builder(config).notifications(self.receiver.registry().clone());
        tune(builder).discover(&self.issuer).await.unwrap()
    }

    /// The requests waiting for the user, from the store.
    pub async fn pending(&self) -> Vec<PendingRequest> {
        self.handle.pending(None, 100).await.unwrap()
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        self.receiver.shutdown().await;
    }
}

/// A request for alice.
pub fn alice() -> AuthRequest {
    AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
        .scope(["openid", "email"])
        .binding_message("W4SCT")
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// Asserts that consecutive arrivals are at least `min` apart (50 ms of network jitter
/// tolerated).
pub fn assert_gaps_at_least(arrivals: &[Instant], min: Duration) {
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap + ms(50) >= min,
            "requests {gap:?} apart, expected at least {min:?}: {arrivals:?}"
        );
    }
}

/// A copy of `request` (to send it twice).
pub fn copy(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut c = http::Request::new(request.body().clone());
    *c.method_mut() = request.method().clone();
    *c.uri_mut() = request.uri().clone();
    *c.headers_mut() = request.headers().clone();
    c
}

/// A JSON POST to `url`, with `authorization` if given.
pub fn json_post(url: &str, authorization: Option<&str>, body: Value) -> http::Request<Vec<u8>> {
    let mut b = http::Request::post(url).header("content-type", "application/json");
    if let Some(a) = authorization {
        b = b.header("authorization", a);
    }
    b.body(body.to_string().into_bytes()).unwrap()
}

// --- The scripted server -------------------------------------------------------------------

pub const SCRIPTED_CLIENT: &str = "scripted-rp";
pub const SCRIPTED_AUTH_REQ_ID: &str = "scripted-auth-req-id-0123456789abcdef";

/// One answer of the scripted token endpoint (or backchannel endpoint).
#[derive(Clone)]
pub enum Step {
    /// A raw response: status line, headers and body, sent as given (`Connection: close` is
    /// added).
    Raw(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// A valid token response signed by the scripted key at this index.
    Tokens(usize),
    /// The same with `token_type` `DPoP`.
    DpopTokens(usize),
    /// Read the request, then close the connection without answering (reset).
    Reset,
    /// Wait, then do the inner step.
    Delay(Duration, Box<Step>),
}

impl Step {
    pub fn json(status: u16, body: Value) -> Step {
        Step::Raw(
            status,
            vec![("content-type", "application/json".into())],
            body.to_string().into_bytes(),
        )
    }

    pub fn pending() -> Step {
        Step::json(400, json!({"error": "authorization_pending"}))
    }
}

/// One request the scripted server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `"METHOD /path"`.
    pub line: String,
    /// When it arrived.
    pub at: Instant,
    /// The request head (request line and headers), lowercased.
    pub head: String,
}

/// What the scripted server saw.
pub type Log = Arc<Mutex<Vec<Seen>>>;

struct ScriptState {
    base: String,
    token_script: VecDeque<Step>,
    bc_script: VecDeque<Step>,
    keys: Vec<Arc<JwkSigner>>,
    published: Vec<usize>,
    expires_in: u64,
}

/// A raw HTTP/1.1 server on loopback answering discovery, JWKS, the backchannel endpoint and
/// the token endpoint from a script. Stops when dropped.
pub struct Scripted {
    pub base: String,
    pub log: Log,
    state: Arc<Mutex<ScriptState>>,
    task: JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// A server whose token endpoint answers `token_script` in order, then
    /// `authorization_pending`. Two signing keys; only the first is published.
    pub async fn start(token_script: Vec<Step>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let keys = ["k1", "k2"]
            .iter()
            .map(|kid| {
                Arc::new(JwkSigner::generate_ed25519(&OsRandom, Some((*kid).into())).unwrap())
            })
            .collect();
        let state = Arc::new(Mutex::new(ScriptState {
            base: base.clone(),
            token_script: token_script.into(),
            bc_script: VecDeque::new(),
            keys,
            published: vec![0],
            expires_in: 30,
        }));
        let log: Log = Arc::default();
        let task = tokio::spawn(accept_loop(listener, state.clone(), log.clone()));
        Scripted {
            base,
            log,
            state,
            task,
        }
    }

    /// Answers the next backchannel requests with `steps` (then the normal acknowledgement).
    pub fn script_backchannel(&self, steps: Vec<Step>) {
        self.state.lock().unwrap().bc_script = steps.into();
    }

    /// Publishes the keys at these indexes in the JWKS.
    pub fn publish(&self, keys: &[usize]) {
        self.state.lock().unwrap().published = keys.to_vec();
    }

    pub fn set_expires_in(&self, secs: u64) {
        self.state.lock().unwrap().expires_in = secs;
    }

    /// Arrival times of requests to `path` (for example `POST /token`).
    pub fn arrivals(&self, request_line: &str) -> Vec<Instant> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.line == request_line)
            .map(|s| s.at)
            .collect()
    }

    /// A poll client of this server, built with `http` (and the other settings of `tune`).
    pub async fn client(
        &self,
        http: HttpClient,
        tune: impl FnOnce(ciba_hyper::CibaClientBuilder) -> ciba_hyper::CibaClientBuilder,
    ) -> Result<CibaClient, ciba_hyper::Error> {
        let mut config = ClientConfig::new(
            SCRIPTED_CLIENT,
            ClientAuth::SecretBasic(ClientSecret::new(SECRET)),
            DeliveryMode::Poll,
        );
        config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
        tune(CibaClient::builder(config).http_client(http))
            .discover(&self.base)
            .await
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<ScriptState>>, log: Log) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(serve_one(stream, state.clone(), log.clone()));
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_one(mut stream: TcpStream, state: Arc<Mutex<ScriptState>>, log: Log) {
    let Some((request_line, head)) = read_request(&mut stream).await else {
        return;
    };
    log.lock().unwrap().push(Seen {
        line: request_line.clone(),
        at: Instant::now(),
        head,
    });
    let step = {
        let mut s = state.lock().unwrap();
        match request_line.as_str() {
            "GET /.well-known/openid-configuration" => discovery_step(&s),
            "GET /jwks" => jwks_step(&s),
            "POST /bc" => s.bc_script.pop_front().unwrap_or_else(|| ack_step(&s)),
            "POST /token" => s.token_script.pop_front().unwrap_or_else(Step::pending),
            _ => Step::Raw(404, Vec::new(), Vec::new()),
        }
    };
    answer(stream, step, state).await;
}

/// Reads one request; returns `"METHOD /path"` and the lowercased head.
async fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
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
    let method = parts.next()?;
    let path = parts.next()?;
    Some((format!("{method} {path}"), head.to_lowercase()))
}

fn discovery_step(s: &ScriptState) -> Step {
    let base = &s.base;
    Step::json(
        200,
        json!({
            "issuer": base,
            "token_endpoint": format!("{base}/token"),
            "backchannel_authentication_endpoint": format!("{base}/bc"),
            "jwks_uri": format!("{base}/jwks"),
            "backchannel_token_delivery_modes_supported": ["poll"],
            "grant_types_supported": [CIBA_GRANT_TYPE],
            "id_token_signing_alg_values_supported": ["EdDSA"],
        }),
    )
}

fn jwks_step(s: &ScriptState) -> Step {
    let keys = JwkSet {
        keys: s
            .published
            .iter()
            .map(|i| s.keys[*i].public_jwk().unwrap())
            .collect(),
    };
    Step::json(200, serde_json::to_value(keys).unwrap())
}

fn ack_step(s: &ScriptState) -> Step {
    Step::json(
        200,
        json!({"auth_req_id": SCRIPTED_AUTH_REQ_ID, "expires_in": s.expires_in, "interval": 1}),
    )
}

fn tokens_body(s: &ScriptState, key: usize, token_type: &str) -> Value {
    let now = unix_seconds(SystemTime::now());
    let claims = json!({
        "iss": s.base, "sub": "alice", "aud": SCRIPTED_CLIENT, "iat": now, "exp": now + 300,
        "urn:openid:params:jwt:claim:auth_req_id": SCRIPTED_AUTH_REQ_ID,
    });
    let id_token = sign_compact(
        Map::new(),
        claims.as_object().unwrap(),
        s.keys[key].as_ref(),
    )
    .unwrap();
    json!({"access_token": "scripted-access-token", "token_type": token_type,
           "expires_in": 3600, "id_token": id_token})
}

async fn answer(mut stream: TcpStream, step: Step, state: Arc<Mutex<ScriptState>>) {
    let mut step = step;
    loop {
        match step {
            Step::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                step = *inner;
            }
            Step::Reset => {
                let _ = stream.set_zero_linger();
                drop(stream);
                return;
            }
            Step::Tokens(key) => {
                let body = tokens_body(&state.lock().unwrap(), key, "Bearer");
                step = Step::json(200, body);
            }
            Step::DpopTokens(key) => {
                let body = tokens_body(&state.lock().unwrap(), key, "DPoP");
                step = Step::json(200, body);
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
