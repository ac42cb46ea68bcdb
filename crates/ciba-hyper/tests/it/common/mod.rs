//! Test harness: the ciba-hyper authorization server and notification receiver on loopback,
//! clients discovering them (over any transport adapter; ciba-reqwest's `as_flows` includes
//! this file too).
#![allow(dead_code, unreachable_pub)]

pub mod slow_client;
pub mod slow_store;

use std::sync::Arc;
use std::time::Duration;

use ciba_core::EndpointPolicy;
use ciba_core::jose::{Jwk, JwkSigner, Signer};
use ciba_core::random::OsRandom;
use ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
use ciba_hyper::server::{
    AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture, NotificationDeliverer,
    PendingRequest,
};
use ciba_hyper::{
    CibaClient, ClientOptions, HttpClient, HttpSend, NotificationReceiver, NotificationRegistry,
    RunningServer, ServeOptions,
};
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{
    AuthMethod, CIBA_GRANT_TYPE, CibaServer, ClientMetadata, DefaultTokenMinter, EgressPolicy,
    FailReason, MemoryStore, ServerConfig, SigningKeySet, StaticClientRegistry, Store, Ticket,
};
use serde_json::Value;
use tokio::net::TcpListener;

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
    /// The limits of both servers (the AS and the notification receiver).
    pub limits: ServeOptions,
}

impl Default for AsOptions {
    fn default() -> Self {
        AsOptions {
            interval: 1,
            expires_in: 20,
            max_entries_per_client: 10_000,
            limits: ServeOptions::default(),
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
        let store = MemoryStore::with_config(
            MemoryStoreConfig::default()
                .with_max_entries_per_client(options.max_entries_per_client),
        );
        TestAs::with_parts(options, Arc::new(store), TestHooks).await
    }

    /// A server over `store` (`options.max_entries_per_client` is the store's business),
    /// with the application's `hooks`.
    pub async fn with_parts(
        options: AsOptions,
        store: Arc<dyn Store>,
        hooks: impl AuthorizationHooks,
    ) -> TestAs {
        let receiver = NotificationReceiver::serve_with(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            NotificationRegistry::new(),
            options.limits,
        )
        .unwrap();
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
        // The receiver listens on loopback: the explicit development opt-in.
        config.egress_policy = EgressPolicy::allow_loopback();
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
        let server = CibaServer::new(
            config,
            Arc::new(registry),
            store,
            Arc::new(DefaultTokenMinter::new(op_key_set("op-key-1"))),
        );
        let deliverer = NotificationDeliverer::plain_http(EgressPolicy::allow_loopback())
            .timeout(secs(2))
            .retry_delay(Duration::from_millis(100));
        let service = AuthorizationServer::builder(server, hooks)
            .deliverer(deliverer)
            .build();
        let handle = service.handle();
        let server = service
            .clone()
            .serve_with(listener, options.limits)
            .unwrap();
        TestAs {
            issuer,
            service,
            handle,
            server,
            receiver,
        }
    }

    /// A client of `mode` that discovered this server, its notifications through the
    /// receiver.
    pub async fn client(&self, mode: DeliveryMode) -> CibaClient {
        self.client_over(HttpClient::http(), mode).await
    }

    /// The same over any transport adapter (ciba-reqwest's tests run the flows through
    /// theirs).
    pub async fn client_over<S: HttpSend>(
        &self,
        http: S,
        mode: DeliveryMode,
    ) -> ciba_client::CibaClient<S> {
        let options = ClientOptions::default().notifications(self.receiver.registry().clone());
        ciba_client::CibaClient::discover(http, &self.issuer, self.client_config(mode), options)
            .await
            .unwrap()
    }

    /// The configuration of this server's client of `mode`, its notification endpoint the
    /// receiver's.
    pub fn client_config(&self, mode: DeliveryMode) -> ClientConfig {
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
        config
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

/// The OP's ID token keys: ciba-core's RS256 test key (every key set has an RS256 key) and a
/// fresh Ed25519 key named `ed_kid`.
pub fn op_key_set(ed_kid: &str) -> Arc<SigningKeySet> {
    let rsa = Jwk::from_json(include_bytes!(
        "../../../../ciba-core/testdata/rs256.jwk.json"
    ))
    .unwrap();
    let rsa: Arc<dyn Signer> = Arc::new(JwkSigner::from_jwk(&rsa, None).unwrap());
    let ed: Arc<dyn Signer> =
        Arc::new(JwkSigner::generate_ed25519(&OsRandom, Some(ed_kid.into())).unwrap());
    Arc::new(SigningKeySet::new([rsa, ed]).unwrap())
}

/// ciba-server's typed identifier for `text` (an `auth_req_id` as the client side or a
/// response body holds it).
pub fn sid(text: &str) -> ciba_server::AuthReqId {
    ciba_server::AuthReqId::from_stored(text)
}
