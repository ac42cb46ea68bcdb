//! Shared test harness: the Redis set-ups the tests run against, stores with their own key
//! prefix, and CibaServer instances over any store.
//!
//! Three set-ups ([`Setup`]): one Redis (`CIBA_TEST_REDIS_URL`), one Redis over TLS
//! (`CIBA_TEST_REDIS_TLS_URL`, trusting the CA certificate at `CIBA_TEST_REDIS_TLS_CA`) and
//! a three-master Redis Cluster (`CIBA_TEST_REDIS_CLUSTER_NODES`, comma-separated);
//! `cargo xtask ci` starts all three and sets them. Without them a test binary starts its
//! own (ciba-test's `services`), unless `CI=true`: then a missing one fails loudly, never skips.
#![allow(dead_code, unreachable_pub)]

pub use ciba_test::services;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ciba_core::jose::{Jwk, JwkSigner};
use ciba_core::random::{IDENTIFIER_BYTES, OsRandom, Random, random_identifier};
use ciba_core::wire::encode_form;
use ciba_redis::{RedisStore, RedisStoreConfig};
pub use ciba_server::AuthReqId;
use ciba_server::store::Store;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, CIBA_GRANT_TYPE, CibaServer,
    ClientMetadata, CompleteError, CompleteOutcome, DefaultTokenMinter, DeliveryMode,
    IncomingRequest, IssueOutcome, ServerConfig, StaticClientRegistry, TokenOutcome,
};

use services::{Service, answers_ping, free_port};

pub const REDIS_SERVER: &str = services::REDIS_SERVER;
pub const ISSUER: &str = "https://op.example";
pub const POLL: &str = "poll-client";
pub const PING: &str = "ping-client";
pub const PUSH: &str = "push-client";
pub const SECRET: &str = "client-secret";
pub const CNT: &str = "cnt-5b7d1c";

pub const URL_VAR: &str = "CIBA_TEST_REDIS_URL";
pub const TLS_URL_VAR: &str = "CIBA_TEST_REDIS_TLS_URL";
pub const TLS_CA_VAR: &str = "CIBA_TEST_REDIS_TLS_CA";
pub const CLUSTER_VAR: &str = "CIBA_TEST_REDIS_CLUSTER_NODES";

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

/// The ways operators run Redis that the tests cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    Single,
    Tls,
    Cluster,
}

impl Setup {
    pub const ALL: [Setup; 3] = [Setup::Single, Setup::Tls, Setup::Cluster];

    pub fn name(self) -> &'static str {
        match self {
            Setup::Single => "single",
            Setup::Tls => "tls",
            Setup::Cluster => "cluster",
        }
    }

    pub fn from_name(name: &str) -> Setup {
        Setup::ALL.into_iter().find(|s| s.name() == name).unwrap()
    }
}

/// A `redis-server` this test started for itself (to stop, hang or restart it): bound to
/// 127.0.0.1 on a free port, no persistence. Dropping it stops it.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> RedisServer {
        let mut last = String::new();
        for _ in 0..5 {
            match RedisServer::start_on(free_port().unwrap()) {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("cannot start {REDIS_SERVER}: {last}");
    }

    /// Starts one on `port` and waits (at most 10 s) until it answers PING.
    pub fn start_on(port: u16) -> Result<RedisServer, String> {
        if !std::path::Path::new(REDIS_SERVER).exists() {
            return Err(format!(
                "{REDIS_SERVER} is missing: install Debian's redis-server (apt-get install \
                 redis-server)"
            ));
        }
        let child = Command::new(REDIS_SERVER)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
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

/// A set-up's Redis: from the environment, or started once per test binary (and killed
/// when the binary exits).
#[derive(Debug, Clone)]
pub struct TestRedis {
    pub setup: Setup,
    url: String,
    nodes: Vec<String>,
    ca_file: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

type Starter = fn() -> Result<Service, String>;

fn shared(setup: Setup) -> &'static Service {
    static SINGLE: OnceLock<Service> = OnceLock::new();
    static TLS: OnceLock<Service> = OnceLock::new();
    static CLUSTER: OnceLock<Service> = OnceLock::new();
    let (cell, start): (&OnceLock<Service>, Starter) = match setup {
        Setup::Single => (&SINGLE, services::start_single),
        Setup::Tls => (&TLS, services::start_tls),
        Setup::Cluster => (&CLUSTER, services::start_cluster),
    };
    cell.get_or_init(|| {
        let service = start().unwrap_or_else(|e| panic!("cannot start the {setup:?} Redis: {e}"));
        service.die_with_this_process();
        service
    })
}

impl TestRedis {
    /// One plain Redis.
    pub fn new() -> TestRedis {
        TestRedis::of(Setup::Single)
    }

    pub fn of(setup: Setup) -> TestRedis {
        let from_env = match setup {
            Setup::Single => env(URL_VAR).map(|url| (url, Vec::new(), None)),
            Setup::Tls => env(TLS_URL_VAR).map(|url| {
                let ca = env(TLS_CA_VAR)
                    .unwrap_or_else(|| panic!("{TLS_URL_VAR} is set but {TLS_CA_VAR} is not"));
                (url, Vec::new(), Some(PathBuf::from(ca)))
            }),
            Setup::Cluster => env(CLUSTER_VAR).map(|nodes| {
                let nodes: Vec<String> = nodes.split(',').map(str::to_owned).collect();
                (nodes[0].clone(), nodes, None)
            }),
        };
        let (url, nodes, ca_file) = match from_env {
            Some(found) => found,
            None => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "the {setup:?} Redis is not set ({URL_VAR}, {TLS_URL_VAR}, {CLUSTER_VAR}) \
                         and CI=true: run the tests through `cargo xtask ci`, which starts them"
                    );
                }
                let s = shared(setup);
                (s.url.clone(), s.nodes.clone(), s.ca_file.clone())
            }
        };
        TestRedis {
            setup,
            url,
            nodes,
            ca_file,
        }
    }

    /// The URL (the first node's for a cluster).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The environment that makes a child process's [`TestRedis::of`] find this Redis.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match self.setup {
            Setup::Single => vec![(URL_VAR, self.url.clone())],
            Setup::Tls => vec![
                (TLS_URL_VAR, self.url.clone()),
                (
                    TLS_CA_VAR,
                    self.ca_file.as_ref().unwrap().display().to_string(),
                ),
            ],
            Setup::Cluster => vec![(CLUSTER_VAR, self.nodes.join(","))],
        }
    }

    /// Settings for `prefix` and `max_entries_per_client`, with timeouts short enough for
    /// the fault tests.
    pub fn config(&self, prefix: &str, max_entries_per_client: usize) -> RedisStoreConfig {
        let mut config = quick_config(prefix, max_entries_per_client);
        if let Some(ca) = &self.ca_file {
            config.tls_root_ca_pem = Some(std::fs::read(ca).unwrap());
        }
        config
    }

    /// A store with `prefix`.
    pub async fn store_with(&self, prefix: &str, max_entries_per_client: usize) -> RedisStore {
        let config = self.config(prefix, max_entries_per_client);
        match self.setup {
            Setup::Cluster => {
                let nodes: Vec<&str> = self.nodes.iter().map(String::as_str).collect();
                RedisStore::connect_cluster(&nodes, config).await.unwrap()
            }
            _ => RedisStore::connect(&self.url, config).await.unwrap(),
        }
    }

    /// A store with its own random prefix and `max_entries_per_client`.
    pub async fn store(&self, max_entries_per_client: usize) -> RedisStore {
        self.store_with(&random_prefix(), max_entries_per_client)
            .await
    }
}

/// Settings with short timeouts, as the tests use them.
pub fn quick_config(prefix: &str, max_entries_per_client: usize) -> RedisStoreConfig {
    let mut config = RedisStoreConfig::default();
    config.key_prefix = prefix.to_owned();
    config.max_entries_per_client = max_entries_per_client;
    config.connect_timeout = Duration::from_millis(1000);
    config.response_timeout = Duration::from_millis(1000);
    config
}

/// A store for the plain Redis at `url` and `prefix`.
pub async fn store_at(url: &str, prefix: &str, max_entries_per_client: usize) -> RedisStore {
    RedisStore::connect(url, quick_config(prefix, max_entries_per_client))
        .await
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
    let signer = |name: &str| -> Arc<dyn ciba_core::jose::Signer> {
        let path = format!(
            "{}/../ciba-core/testdata/{name}.jwk.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let jwk = Jwk::from_json(&std::fs::read(path).unwrap()).unwrap();
        Arc::new(JwkSigner::from_jwk(&jwk, None).unwrap())
    };
    let keys = ciba_server::SigningKeySet::new([signer("rs256"), signer("eddsa")]).unwrap();
    let minter = DefaultTokenMinter::new(Arc::new(keys));
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
pub async fn start(server: &CibaServer, client_id: &str, now: SystemTime) -> AuthReqId {
    let rng = OsRandom;
    let ticket = match server
        .authenticate_request(
            &IncomingRequest::from_http(&bc_request(client_id)),
            now,
            &rng,
        )
        .await
    {
        BackchannelOutcome::UserIdentification(t) => t,
        BackchannelOutcome::Respond(r) => panic!(
            "backchannel refused: {:?} {}",
            r.error,
            String::from_utf8_lossy(r.response.body())
        ),
    };
    match server.issue(&*ticket, "alice", now, &rng).await {
        IssueOutcome::Issued(ack) => ack.auth_req_id,
        other => panic!("issue failed: {other:?}"),
    }
}

pub async fn token(
    server: &CibaServer,
    client_id: &str,
    auth_req_id: &AuthReqId,
    now: SystemTime,
) -> TokenOutcome {
    server
        .token_request(
            &IncomingRequest::from_http(&token_request(client_id, auth_req_id.as_str())),
            now,
            &OsRandom,
        )
        .await
}

pub async fn approve(
    server: &CibaServer,
    auth_req_id: &AuthReqId,
    now: SystemTime,
) -> Result<CompleteOutcome, CompleteError> {
    server
        .complete(
            auth_req_id,
            AuthenticationResult::Authorized(Authorization::new("alice")),
            now,
            &OsRandom,
        )
        .await
}

pub use ciba_test::outcome::{json_body, token_error};

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

/// The typed identifier of `text`, as a store reads it back (tests name identifiers the
/// server never minted).
pub fn aid(text: &str) -> AuthReqId {
    AuthReqId::from_stored(text)
}
