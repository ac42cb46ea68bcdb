//! Shared test harness: a server with registered clients, a virtual clock, a deterministic
//! random source, and hand-built HTTP requests.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciba_core::Limits;
use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::verify::verify_with_set;
use ciba_core::jose::{AlgorithmPolicy, CompactJws, HmacSigner, JwkSet, JwsAlgorithm, Signer};
use ciba_core::wire::encode_form;
use ciba_core::wire::unix_seconds;
pub use ciba_server::AuthReqId;
use ciba_server::Failure;
use ciba_server::store::{MemoryStoreConfig, StoreError, StoredRequest};
use ciba_server::{
    Acknowledgement, AuthMethod, AuthenticationResult, Authorization, BackchannelOutcome,
    BoxFuture, CIBA_GRANT_TYPE, CibaServer, ClientMetadata, ClientRegistry, CompleteError,
    CompleteOutcome, DefaultTokenMinter, DeliveryMode, FailReason, IncomingRequest, IssueOutcome,
    MemoryStore, RegistryError, Rejection, ServerConfig, SigningKeySet, StaticClientRegistry,
    Ticket, TlsClientCertificate, TokenOutcome,
};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Map, Value, json};

pub const ISSUER: &str = "https://op.example";
pub const TOKEN_ENDPOINT: &str = "https://op.example/token";
pub const BC_ENDPOINT: &str = "https://op.example/bc-authorize";
pub const PING_ENDPOINT: &str = "https://rp.example/cb/ping";
pub const PUSH_ENDPOINT: &str = "https://rp.example/cb/push";
pub const CNT: &str = "cnt-8d67dc78-7faa-4d41-aabd-67707b374255";

pub const POLL: &str = "poll-client";
pub const POLL_SECRET: &str = "poll secret:with&odd=chars";
pub const PING: &str = "ping-client";
pub const PING_SECRET: &str = "ping-secret";
pub const PUSH: &str = "push-client";
pub const SECRET_JWT: &str = "secret-jwt-client";
pub const SECRET_JWT_SECRET: &str = "a-very-long-shared-secret-for-hs256-assertions";
pub const SIGNED: &str = "signed-client";
pub const TLS: &str = "tls-client";
pub const TLS_DN: &str = "CN=tls-client,O=Example";
pub const NO_CIBA: &str = "not-a-ciba-client";
pub const USER_CODE: &str = "user-code-client";
pub const SCOPED: &str = "scoped-client";
pub const PUBLIC: &str = "public-client";

/// The instant every test starts at, and a future run to completion on the calling thread
/// (the server is runtime-agnostic, so its tests need no runtime).
pub use ciba_test::{block::block_on, clock::t0};

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `inner`, after a real wait: the first poll answers `Pending` and starts a thread that
/// wakes the task a millisecond later; only then is `inner` polled. A store or registry
/// that wraps its answers in it behaves as one across a network does.
pub fn after_another_thread<'a, T: 'a>(inner: BoxFuture<'a, T>) -> BoxFuture<'a, T> {
    Box::pin(async move {
        OtherThread::default().await;
        inner.await
    })
}

/// A registry whose lookups wait for another thread first (see [`after_another_thread`]),
/// as one across a network does; counts them.
pub struct WaitingRegistry<R> {
    pub inner: R,
    pub lookups: AtomicUsize,
}

impl<R> WaitingRegistry<R> {
    pub fn new(inner: R) -> WaitingRegistry<R> {
        WaitingRegistry {
            inner,
            lookups: AtomicUsize::new(0),
        }
    }
}

impl<R: ClientRegistry> ClientRegistry for WaitingRegistry<R> {
    fn client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ClientMetadata>>, RegistryError>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        after_another_thread(self.inner.client(client_id))
    }
}

/// Ready once another thread says so (see [`after_another_thread`]).
#[derive(Default)]
struct OtherThread {
    /// Set at the first poll.
    shared: Option<Arc<Mutex<Handoff>>>,
}

/// Whether the other thread is done, and whom it wakes.
type Handoff = (bool, Option<Waker>);

impl Future for OtherThread {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(shared) = &self.shared {
            let mut state = shared.lock().unwrap();
            if state.0 {
                return Poll::Ready(());
            }
            // Polled again before the wake-up: wake the latest waker.
            state.1 = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let shared = Arc::new(Mutex::new((false, Some(cx.waker().clone()))));
        let theirs = Arc::clone(&shared);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(1));
            let waker = {
                let mut state = theirs.lock().unwrap();
                state.0 = true;
                state.1.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        self.shared = Some(shared);
        Poll::Pending
    }
}

pub use ciba_test::keys::{jwk, signer};
/// A deterministic, thread-safe random source (splitmix64); one that always fails.
pub use ciba_test::random::{Broken as BrokenRng, SplitMix as TestRng};

/// The OP's signing key set: the RS256 test key (every set needs one) plus `names`.
pub fn key_set(names: &[&str]) -> Arc<SigningKeySet> {
    let mut all = vec!["rs256"];
    all.extend(names.iter().copied().filter(|n| *n != "rs256"));
    Arc::new(
        SigningKeySet::new(
            all.iter()
                .map(|n| Arc::new(signer(n)) as Arc<dyn ciba_core::jose::Signer>),
        )
        .unwrap(),
    )
}

/// A minter over [`key_set`].
pub fn minter(names: &[&str]) -> DefaultTokenMinter {
    DefaultTokenMinter::new(key_set(names))
}

pub fn public_set(names: &[&str]) -> JwkSet {
    JwkSet {
        keys: names.iter().map(|n| jwk(n).to_public()).collect(),
    }
}

pub fn base_config() -> ServerConfig {
    let mut c = ServerConfig::new(ISSUER, TOKEN_ENDPOINT, BC_ENDPOINT).unwrap();
    c.user_code_supported = true;
    c.jwks_uri = Some("https://op.example/jwks".into());
    c
}

fn client(id: &str, method: AuthMethod, mode: Option<DeliveryMode>) -> ClientMetadata {
    let mut m = ClientMetadata::new(id);
    m.token_endpoint_auth_method = method;
    m.backchannel_token_delivery_mode = mode;
    if mode.is_some_and(DeliveryMode::uses_token_endpoint) {
        m.grant_types = vec![CIBA_GRANT_TYPE.into()];
    }
    m.backchannel_client_notification_endpoint = match mode {
        Some(DeliveryMode::Ping) => Some(PING_ENDPOINT.into()),
        Some(DeliveryMode::Push) => Some(PUSH_ENDPOINT.into()),
        _ => None,
    };
    let secret = secret_of(id);
    m.client_secret = (!secret.is_empty()).then(|| secret.into());
    m
}

/// Every client the tests use.
pub fn clients() -> Vec<ClientMetadata> {
    let poll = Some(DeliveryMode::Poll);
    let mut push = client(PUSH, AuthMethod::PrivateKeyJwt, Some(DeliveryMode::Push));
    push.jwks = Some(public_set(&["es256"]));
    let mut signed = client(SIGNED, AuthMethod::PrivateKeyJwt, poll);
    signed.jwks = Some(public_set(&["ps256"]));
    signed.backchannel_authentication_request_signing_alg = Some("PS256".into());
    let mut tls = client(TLS, AuthMethod::TlsClientAuth, poll);
    tls.tls_client_auth_subject_dn = Some(TLS_DN.into());
    let mut user_code = client(USER_CODE, AuthMethod::ClientSecretBasic, poll);
    user_code.backchannel_user_code_parameter = true;
    let mut scoped = client(SCOPED, AuthMethod::ClientSecretBasic, poll);
    scoped.scope = Some("openid profile".into());
    vec![
        client(POLL, AuthMethod::ClientSecretBasic, poll),
        client(PING, AuthMethod::ClientSecretPost, Some(DeliveryMode::Ping)),
        push,
        client(SECRET_JWT, AuthMethod::ClientSecretJwt, poll),
        signed,
        tls,
        client(NO_CIBA, AuthMethod::ClientSecretBasic, None),
        user_code,
        scoped,
        client(PUBLIC, AuthMethod::None, None),
    ]
}

/// The secret (or none) of each secret-based test client.
pub fn secret_of(client_id: &str) -> &'static str {
    match client_id {
        POLL => POLL_SECRET,
        PING => PING_SECRET,
        SECRET_JWT => SECRET_JWT_SECRET,
        NO_CIBA => "no-ciba-secret",
        USER_CODE => "user-code-secret",
        SCOPED => "scoped-secret",
        _ => "",
    }
}

/// What the server answers the authentication device.
pub type Completed = Result<CompleteOutcome, CompleteError>;

pub struct Harness {
    pub server: CibaServer,
    pub store: Arc<MemoryStore>,
    pub op_keys: JwkSet,
    pub rng: TestRng,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(base_config(), MemoryStoreConfig::default(), "eddsa")
    }

    pub fn with(config: ServerConfig, store: MemoryStoreConfig, op_key: &str) -> Harness {
        Harness::with_clients(config, store, op_key, |_| {})
    }

    /// [`Harness::with`], after `change` edits the standard clients (they are still
    /// validated as they register).
    pub fn with_clients(
        mut config: ServerConfig,
        store: MemoryStoreConfig,
        op_key: &str,
        change: impl FnOnce(&mut Vec<ClientMetadata>),
    ) -> Harness {
        let keys = key_set(&[op_key]);
        config.id_token_signing_algs = keys.algorithms();
        let mut registry = StaticClientRegistry::new();
        let mut list = clients();
        change(&mut list);
        for c in list {
            registry.register(c, &config).unwrap();
        }
        let store = Arc::new(MemoryStore::with_config(store));
        let minter = DefaultTokenMinter::new(keys);
        let op_keys = public_set(&["rs256", op_key]);
        let server = CibaServer::new(config, Arc::new(registry), store.clone(), Arc::new(minter));
        Harness {
            server,
            store,
            op_keys,
            rng: TestRng::new(7),
        }
    }

    /// Sends a backchannel authentication request.
    pub fn backchannel(&self, req: &Req, now: SystemTime) -> BackchannelOutcome {
        block_on(
            self.server
                .authenticate_request(&req.incoming(), now, &self.rng),
        )
    }

    /// A backchannel request that must succeed.
    pub fn ticket(&self, req: &Req, now: SystemTime) -> Ticket {
        match self.backchannel(req, now) {
            BackchannelOutcome::UserIdentification(t) => *t,
            BackchannelOutcome::Respond(r) => panic!(
                "refused: {:?} {}",
                r.error,
                String::from_utf8_lossy(r.response.body())
            ),
        }
    }

    pub fn issue(&self, ticket: &Ticket, now: SystemTime) -> Acknowledgement {
        match block_on(self.server.issue(ticket, "alice", now, &self.rng)) {
            IssueOutcome::Issued(ack) => ack,
            other => panic!("issue failed: {other:?}"),
        }
    }

    /// Backchannel request + issue for `client` with the standard parameters.
    pub fn start(&self, client_id: &str, now: SystemTime) -> Acknowledgement {
        let ticket = self.ticket(&bc_request(client_id, &[]), now);
        self.issue(&ticket, now)
    }

    pub fn token(&self, req: &Req, now: SystemTime) -> TokenOutcome {
        block_on(self.server.token_request(&req.incoming(), now, &self.rng))
    }

    /// A CIBA token request by `client_id` for `auth_req_id`.
    pub fn poll<I: IdArg + ?Sized>(
        &self,
        client_id: &str,
        auth_req_id: &I,
        now: SystemTime,
    ) -> TokenOutcome {
        self.token(&token_request(client_id, auth_req_id.text(), now), now)
    }

    /// The authentication device's result for `auth_req_id`.
    pub fn complete<I: IdArg + ?Sized>(
        &self,
        auth_req_id: &I,
        result: AuthenticationResult,
        now: SystemTime,
    ) -> Result<CompleteOutcome, CompleteError> {
        block_on(
            self.server
                .complete(&auth_req_id.id(), result, now, &self.rng),
        )
    }

    /// The user `alice` approves `auth_req_id`.
    pub fn approve<I: IdArg + ?Sized>(&self, auth_req_id: &I, now: SystemTime) -> Completed {
        self.complete(
            auth_req_id,
            AuthenticationResult::Authorized(Authorization::new("alice")),
            now,
        )
    }

    /// The user denies `auth_req_id`.
    pub fn deny<I: IdArg + ?Sized>(&self, auth_req_id: &I, now: SystemTime) -> Completed {
        self.complete(auth_req_id, AuthenticationResult::AccessDenied, now)
    }

    /// The authentication of `auth_req_id` fails (`transaction_failed`).
    pub fn fail_transaction<I: IdArg + ?Sized>(
        &self,
        auth_req_id: &I,
        now: SystemTime,
    ) -> Completed {
        self.complete(auth_req_id, AuthenticationResult::TransactionFailed, now)
    }

    /// Refuses the request behind `ticket`.
    pub fn fail<T: AsRef<str> + ?Sized>(
        &self,
        ticket: &T,
        reason: FailReason,
        description: Option<&str>,
    ) -> Rejection<Failure> {
        block_on(self.server.fail(ticket, reason, description))
    }

    /// The request `auth_req_id` as stored.
    pub fn pending_request<I: IdArg + ?Sized>(
        &self,
        auth_req_id: &I,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, StoreError> {
        block_on(self.server.pending_request(&auth_req_id.id(), now))
    }

    /// Up to `limit` requests waiting for the user, soonest expiry first.
    pub fn pending_requests(
        &self,
        subject: Option<&str>,
        limit: usize,
        now: SystemTime,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        block_on(self.server.pending_requests(subject, limit, now))
    }

    pub fn is_revoked(&self, token: &str, now: SystemTime) -> Result<bool, StoreError> {
        block_on(self.server.is_revoked(token, now))
    }
}

/// A hand-built HTTP request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub cert: Option<TlsClientCertificate>,
}

impl Req {
    pub fn form(pairs: &[(&str, &str)]) -> Req {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        Req {
            method: Method::POST,
            headers,
            body: encode_form(pairs.iter().copied()),
            cert: None,
        }
    }

    pub fn incoming(&self) -> IncomingRequest<'_> {
        let r = IncomingRequest::new(&self.method, &self.headers, &self.body);
        match &self.cert {
            Some(c) => r.with_client_certificate(c),
            None => r,
        }
    }

    pub fn basic(mut self, id: &str, secret: &str) -> Req {
        self.headers.insert(AUTHORIZATION, basic_header(id, secret));
        self
    }
}

/// HTTP Basic with the RFC 6749 2.3.1 form-encoding of id and secret.
pub fn basic_header(id: &str, secret: &str) -> HeaderValue {
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let raw = format!("{}:{}", enc(id), enc(secret));
    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).unwrap()
}

/// A client assertion for `client_id`, signed by `signer`.
pub fn assertion(
    signer: &dyn Signer,
    client_id: &str,
    aud: Value,
    now: SystemTime,
    jti: &str,
) -> String {
    let iat = unix_seconds(now);
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": iat, "exp": iat + 60, "jti": jti,
    });
    sign_compact(Map::new(), claims.as_object().unwrap(), signer).unwrap()
}

pub fn claims_assertion(signer: &dyn Signer, claims: Value) -> String {
    sign_compact(Map::new(), claims.as_object().unwrap(), signer).unwrap()
}

pub fn hmac(secret: &str) -> HmacSigner {
    HmacSigner::new(JwsAlgorithm::HS256, secret.as_bytes()).unwrap()
}

fn jti_for(now: SystemTime, extra: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "jti-{}-{}-{extra}",
        unix_seconds(now),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Adds the client authentication of `client_id` (its registered method) to `pairs`.
pub fn authed(client_id: &str, pairs: &[(&str, &str)], aud: &str, now: SystemTime) -> Req {
    let mut owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut basic = None;
    let mut cert = None;
    match client_id {
        POLL | NO_CIBA | USER_CODE | SCOPED => basic = Some(secret_of(client_id)),
        PING => {
            owned.push(("client_id".into(), PING.into()));
            owned.push(("client_secret".into(), PING_SECRET.into()));
        }
        PUSH | SIGNED | SECRET_JWT => {
            let jwt = match client_id {
                PUSH => assertion(&signer("es256"), PUSH, json!(aud), now, &jti_for(now, "a")),
                SIGNED => assertion(
                    &signer("ps256"),
                    SIGNED,
                    json!(aud),
                    now,
                    &jti_for(now, "a"),
                ),
                _ => assertion(
                    &hmac(SECRET_JWT_SECRET),
                    SECRET_JWT,
                    json!(aud),
                    now,
                    &jti_for(now, "a"),
                ),
            };
            owned.push((
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ));
            owned.push(("client_assertion".into(), jwt));
        }
        TLS => {
            owned.push(("client_id".into(), TLS.into()));
            cert = Some(TlsClientCertificate {
                subject_dn: Some(TLS_DN.into()),
                ..TlsClientCertificate::default()
            });
        }
        other => owned.push(("client_id".into(), other.into())),
    }
    let refs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut req = Req::form(&refs);
    if let Some(secret) = basic {
        req = req.basic(client_id, secret);
    }
    req.cert = cert;
    req
}

/// A backchannel request by `client_id`: scope `openid`, `login_hint=alice@example.com`, a
/// notification token for ping and push clients, then `extra` (which may override).
pub fn bc_request(client_id: &str, extra: &[(&str, &str)]) -> Req {
    bc_request_at(client_id, extra, t0())
}

pub fn bc_request_at(client_id: &str, extra: &[(&str, &str)], now: SystemTime) -> Req {
    let mut pairs: Vec<(&str, &str)> =
        vec![("scope", "openid"), ("login_hint", "alice@example.com")];
    if matches!(client_id, PING | PUSH) {
        pairs.push(("client_notification_token", CNT));
    }
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    authed(client_id, &pairs, ISSUER, now)
}

pub fn token_request<I: IdArg + ?Sized>(client_id: &str, auth_req_id: &I, now: SystemTime) -> Req {
    authed(
        client_id,
        &[
            ("grant_type", CIBA_GRANT_TYPE),
            ("auth_req_id", auth_req_id.text()),
        ],
        TOKEN_ENDPOINT,
        now,
    )
}

pub use ciba_test::outcome::{json_body, token_error};

pub fn bc_error(outcome: &BackchannelOutcome) -> (u16, String) {
    match outcome {
        BackchannelOutcome::Respond(r) => (
            r.response.status().as_u16(),
            json_body(&r.response)["error"].as_str().unwrap().to_owned(),
        ),
        BackchannelOutcome::UserIdentification(t) => panic!("expected an error, got {t:?}"),
    }
}

/// Verifies an ID token against the OP keys and returns its claims.
pub fn verify_id_token(op_keys: &JwkSet, id_token: &str) -> (JwsAlgorithm, Map<String, Value>) {
    let jws = CompactJws::parse(id_token, &Limits::DEFAULT).unwrap();
    let alg = verify_with_set(&jws, op_keys, &AlgorithmPolicy::default()).unwrap();
    (alg, jws.claims(&Limits::DEFAULT).unwrap())
}

/// Checks the standard claims, `at_hash` and `rt_hash` of a token response.
pub fn check_token_response(
    op_keys: &JwkSet,
    body: &Map<String, Value>,
    client_id: &str,
    now: SystemTime,
) -> Map<String, Value> {
    let (alg, claims) = verify_id_token(op_keys, body["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["iat"], unix_seconds(now));
    assert!(claims["exp"].as_i64().unwrap() > unix_seconds(now));
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(claims["at_hash"], left_half_hash(alg, at).unwrap());
    let rt = body["refresh_token"].as_str().unwrap();
    assert_eq!(
        claims["urn:openid:params:jwt:claim:rt_hash"],
        left_half_hash(alg, rt).unwrap()
    );
    assert!(at.len() >= 27, "access token has at least 160 bits");
    assert_ne!(at, rt);
    assert_eq!(body["token_type"], "Bearer");
    claims
}

/// The headers every protocol response must carry.
pub fn assert_no_store_json(resp: &http::Response<Vec<u8>>) {
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    assert_eq!(resp.headers()["content-type"], "application/json");
}

/// An `auth_req_id` as the tests hold it: the typed identifier, or text (a literal, or one
/// read from a response body).
pub trait IdArg {
    /// The text.
    fn text(&self) -> &str;

    /// The typed identifier (as a store would read it back: unchecked, so that tests can
    /// name identifiers the server never mints).
    fn id(&self) -> AuthReqId {
        AuthReqId::from_stored(self.text())
    }
}

impl IdArg for str {
    fn text(&self) -> &str {
        self
    }
}

impl IdArg for String {
    fn text(&self) -> &str {
        self
    }
}

impl IdArg for AuthReqId {
    fn text(&self) -> &str {
        self.as_str()
    }

    fn id(&self) -> AuthReqId {
        self.clone()
    }
}

/// The typed identifier of `text` (unchecked, see [`IdArg::id`]).
pub fn aid(text: &str) -> AuthReqId {
    AuthReqId::from_stored(text)
}
