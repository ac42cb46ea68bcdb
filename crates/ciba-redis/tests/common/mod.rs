//! Shared test harness: a Redis for the tests, stores with their own key prefix, and
//! CibaServer instances over any store.
//!
//! Redis comes from `CIBA_TEST_REDIS_URL` (`cargo xtask ci` sets it). Without it, a test
//! starts its own `redis-server` on a free loopback port, unless `CI=true` (then the run
//! must provide one) or `/usr/bin/redis-server` is missing: both fail loudly, never skip.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ciba_core::body::encode_form;
use ciba_core::jose::{Jwk, JwkSigner};
use ciba_core::random::{IDENTIFIER_BYTES, OsRandom, Random, random_identifier};
use ciba_redis::{RedisStore, RedisStoreConfig};
use ciba_server::store::Store;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE, CibaServer,
    ClientMetadata, CompleteError, CompleteOutcome, DefaultTokenMinter, DeliveryMode,
    IncomingRequest, IssueOutcome, ServerConfig, StaticClientRegistry, TokenOutcome,
};
use serde_json::{Map, Value};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";
pub const ISSUER: &str = "https://op.example";
pub const POLL: &str = "poll-client";
pub const PING: &str = "ping-client";
pub const PUSH: &str = "push-client";
pub const SECRET: &str = "client-secret";
pub const CNT: &str = "cnt-5b7d1c";

/// The instant every test starts at (a virtual clock, years before the real one).
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A fresh key prefix, so tests sharing one Redis never see each other's keys.
pub fn random_prefix() -> String {
    format!(
        "ciba-test:{}:",
        random_identifier(&OsRandom, IDENTIFIER_BYTES).unwrap()
    )
}

/// A `redis-server` this test started: bound to 127.0.0.1 on a free port, no persistence.
/// Dropping it stops it.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> RedisServer {
        let mut last = String::new();
        for _ in 0..5 {
            match RedisServer::start_on(free_port()) {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("cannot start {REDIS_SERVER}: {last}");
    }

    /// Starts one on `port` and waits (at most 10 s) until it answers PING.
    pub fn start_on(port: u16) -> Result<RedisServer, String> {
        if !Path::new(REDIS_SERVER).exists() {
            return Err(format!(
                "{REDIS_SERVER} is missing: install Debian's redis-server (apt-get install \
                 redis-server) or set CIBA_TEST_REDIS_URL"
            ));
        }
        let child = Command::new(REDIS_SERVER)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {REDIS_SERVER}: {e}"))?;
        let mut server = RedisServer {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if answers_ping(port) {
                return Ok(server);
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(Child::try_wait) {
                return Err(format!("redis-server on port {port} exited: {status}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.stop();
        Err(format!(
            "redis-server on port {port} did not answer PING in 10 s"
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it (SIGKILL) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let again = RedisServer::start_on(self.port).unwrap();
        *self = again;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, release it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// The Redis the tests use: `CIBA_TEST_REDIS_URL`, or one started for this test.
pub struct TestRedis {
    url: String,
    _own: Option<RedisServer>,
}

impl TestRedis {
    pub fn new() -> TestRedis {
        if let Ok(url) = std::env::var("CIBA_TEST_REDIS_URL")
            && !url.is_empty()
        {
            return TestRedis { url, _own: None };
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CIBA_TEST_REDIS_URL is not set and CI=true: run the tests through \
                 `cargo xtask ci`, which starts a Redis and sets it"
            );
        }
        let server = RedisServer::start();
        TestRedis {
            url: server.url(),
            _own: Some(server),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store with its own random prefix and `max_entries_per_client`.
    pub fn store(&self, max_entries_per_client: usize) -> RedisStore {
        store_at(&self.url, &random_prefix(), max_entries_per_client)
    }
}

/// A store for `url` and `prefix`, with timeouts short enough for the fault tests.
pub fn store_at(url: &str, prefix: &str, max_entries_per_client: usize) -> RedisStore {
    RedisStore::with_config(
        url,
        RedisStoreConfig {
            key_prefix: prefix.to_owned(),
            max_entries_per_client,
            max_connections: 8,
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_millis(1000),
        },
    )
    .unwrap()
}

// ---- CibaServer instances -------------------------------------------------------------

fn client(id: &str, mode: DeliveryMode) -> ClientMetadata {
    let mut m = ClientMetadata::new(id);
    m.token_endpoint_auth_method = ciba_server::AuthMethod::ClientSecretPost;
    m.client_secret = Some(SECRET.into());
    m.backchannel_token_delivery_mode = Some(mode);
    if mode.uses_token_endpoint() {
        m.grant_types = vec![CIBA_GRANT_TYPE.into()];
    }
    m.backchannel_client_notification_endpoint = match mode {
        DeliveryMode::Ping => Some("https://rp.example/cb/ping".into()),
        DeliveryMode::Push => Some("https://rp.example/cb/push".into()),
        _ => None,
    };
    m
}

/// A server instance over `store`: the same issuer, clients and signing key every time, as
/// the instances of one deployment have.
pub fn server(store: Arc<dyn Store>) -> CibaServer {
    let config = ServerConfig::new(
        ISSUER,
        "https://op.example/token",
        "https://op.example/bc-authorize",
    )
    .unwrap();
    let mut registry = StaticClientRegistry::new();
    for (id, mode) in [
        (POLL, DeliveryMode::Poll),
        (PING, DeliveryMode::Ping),
        (PUSH, DeliveryMode::Push),
    ] {
        registry.register(client(id, mode), &config).unwrap();
    }
    let path = format!(
        "{}/../ciba-core/testdata/eddsa.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let jwk = Jwk::from_json(&std::fs::read(path).unwrap()).unwrap();
    let signer = JwkSigner::from_jwk(&jwk, None).unwrap();
    let minter = DefaultTokenMinter::new(Arc::new(signer));
    CibaServer::new(config, Arc::new(registry), store, Arc::new(minter))
}

pub fn form(pairs: &[(&str, &str)]) -> http::Request<Vec<u8>> {
    http::Request::post("https://op.example/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(pairs.iter().copied()))
        .unwrap()
}

/// A backchannel authentication request by `client_id` for alice.
pub fn bc_request(client_id: &str) -> http::Request<Vec<u8>> {
    let mut pairs = vec![
        ("scope", "openid"),
        ("login_hint", "alice@example.com"),
        ("client_id", client_id),
        ("client_secret", SECRET),
    ];
    if client_id != POLL {
        pairs.push(("client_notification_token", CNT));
    }
    form(&pairs)
}

/// A CIBA token request by `client_id` for `auth_req_id`.
pub fn token_request(client_id: &str, auth_req_id: &str) -> http::Request<Vec<u8>> {
    form(&[
        ("grant_type", CIBA_GRANT_TYPE),
        ("auth_req_id", auth_req_id),
        ("client_id", client_id),
        ("client_secret", SECRET),
    ])
}

/// Starts a flow on `server`: the backchannel request, then `issue`. Returns the
/// `auth_req_id`.
pub fn start(server: &CibaServer, client_id: &str, now: SystemTime) -> String {
    let rng = OsRandom;
    let ticket = match server.authenticate_request(
        &IncomingRequest::from_http(&bc_request(client_id)),
        now,
        &rng,
    ) {
        BackchannelOutcome::UserIdentification(t) => t,
        BackchannelOutcome::Respond(r) => panic!(
            "backchannel refused: {:?} {}",
            r.error,
            String::from_utf8_lossy(r.response.body())
        ),
    };
    match server.issue(&*ticket, "alice", now, &rng) {
        IssueOutcome::Issued(ack) => ack.auth_req_id,
        other => panic!("issue failed: {other:?}"),
    }
}

pub fn token(
    server: &CibaServer,
    client_id: &str,
    auth_req_id: &str,
    now: SystemTime,
) -> TokenOutcome {
    server.token_request(
        &IncomingRequest::from_http(&token_request(client_id, auth_req_id)),
        now,
        &OsRandom,
    )
}

pub fn approve(
    server: &CibaServer,
    auth_req_id: &str,
    now: SystemTime,
) -> Result<CompleteOutcome, CompleteError> {
    server.complete(
        auth_req_id,
        AuthenticationResult::Authorized(Authorization::new("alice")),
        now,
        &OsRandom,
    )
}

/// The JSON body of a response.
pub fn json_body(resp: &http::Response<Vec<u8>>) -> Map<String, Value> {
    serde_json::from_slice::<Value>(resp.body())
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// The status and `error` of a token endpoint refusal.
pub fn token_error(outcome: &TokenOutcome) -> (u16, String) {
    match outcome {
        TokenOutcome::Respond(r) => (
            r.response.status().as_u16(),
            json_body(&r.response)["error"].as_str().unwrap().to_owned(),
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// The access token of a successful token response.
pub fn access_token(outcome: &TokenOutcome) -> String {
    match outcome {
        TokenOutcome::Issued(g) => g.tokens.access_token.expose().to_owned(),
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// A random source for code that needs one by reference.
pub fn rng() -> impl Random {
    OsRandom
}
