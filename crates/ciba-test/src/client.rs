//! The standard clients: the two transport adapters (ciba-reqwest's and ciba-hyper's) behind
//! one trait, [`on_both_transports!`](crate::on_both_transports), which runs a scenario as a
//! test through each, and clients of the scripted provider over either, in each delivery mode.
//!
//! ciba-client's scenarios take it as their `support` module (`use ciba_test::client as
//! support;`); ciba-reqwest's flows against the authorization server use its adapters.

use std::time::Duration;

use ciba_client::{CibaClient, ClientOptions, Error, FlowProgress, HttpSend};
use ciba_core::{ClientAuth, ClientConfig, ClientSecret, DeliveryMode, EndpointPolicy};
use ciba_hyper::NotificationReceiver;
use tokio::sync::watch;

pub use crate::scripted::{self, CLIENT_ID, CLIENT_SECRET, Scripted, Step};

/// Runs each named scenario (`async fn name<A: Adapter>(a: A)` in the calling module) as a
/// test through each adapter: two modules, `over_reqwest` and `over_hyper`, with one
/// `#[tokio::test]` per scenario (the calling crate needs tokio with its `macros` and
/// `rt-multi-thread` features).
#[macro_export]
macro_rules! on_both_transports {
    ($($name:ident),* $(,)?) => {
        mod over_reqwest {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::client::Reqwest).await
                }
            )*
        }
        mod over_hyper {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::client::Hyper).await
                }
            )*
        }
    };
}

/// A transport adapter, as the scenarios build it.
pub trait Adapter: Copy + Send + Sync + 'static {
    /// The adapter's client.
    type Http: HttpSend;
    /// With this timeout and body cap.
    fn http(self, timeout: Duration, max_body_bytes: usize) -> Self::Http;
    /// With the defaults but a short timeout.
    fn default_http(self) -> Self::Http {
        self.http(Duration::from_secs(5), 256 * 1024)
    }
}

/// ciba-reqwest's `HttpClient`.
#[derive(Clone, Copy, Debug)]
pub struct Reqwest;

impl Adapter for Reqwest {
    type Http = ciba_reqwest::HttpClient;
    fn http(self, timeout: Duration, max_body_bytes: usize) -> Self::Http {
        ciba_reqwest::HttpClient::builder()
            .timeout(timeout)
            .max_body_bytes(max_body_bytes)
            .build()
            .unwrap()
    }
}

/// ciba-hyper's `HttpClient`, plain http.
#[derive(Clone, Copy, Debug)]
pub struct Hyper;

impl Adapter for Hyper {
    type Http = ciba_hyper::HttpClient;
    fn http(self, timeout: Duration, max_body_bytes: usize) -> Self::Http {
        ciba_hyper::HttpClient::http()
            .timeout(timeout)
            .max_body_bytes(max_body_bytes)
    }
}

/// The client configuration for the scripted provider in `mode`.
pub fn config(mode: DeliveryMode, receiver: Option<&NotificationReceiver>) -> ClientConfig {
    let auth = ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET));
    let mut config = ClientConfig::new(CLIENT_ID, auth, mode);
    config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    config.notification_endpoint = receiver.map(|r| r.url().to_string());
    config
}

/// A client of `op` over `http`, its notifications through `receiver` when given.
pub async fn client<S: HttpSend>(
    http: S,
    op: &Scripted,
    mode: DeliveryMode,
    receiver: Option<&NotificationReceiver>,
    options: ClientOptions,
) -> Result<CibaClient<S>, Error> {
    let options = match receiver {
        Some(r) => options.notifications(r.registry().clone()),
        None => options,
    };
    CibaClient::discover(http, &op.base, config(mode, receiver), options).await
}

/// A poll client of `op` over `adapter`'s default transport.
pub async fn poll_client<A: Adapter>(a: A, op: &Scripted) -> CibaClient<A::Http> {
    client(
        a.default_http(),
        op,
        DeliveryMode::Poll,
        None,
        ClientOptions::default(),
    )
    .await
    .unwrap()
}

/// A ping or push request under way: the client, its receiver, the acknowledgement, and the
/// `client_notification_token` the client sent.
pub struct Notified<S> {
    /// The client that started the request.
    pub client: CibaClient<S>,
    /// The receiver its notifications arrive at.
    pub receiver: NotificationReceiver,
    /// The provider's acknowledgement.
    pub ack: ciba_core::AuthRequestAck,
    /// The `client_notification_token` the client sent.
    pub token: String,
}

/// Starts a `mode` (ping or push) request at `op` through `adapter`, its notifications
/// through a fresh receiver.
pub async fn notified<A: Adapter>(a: A, op: &Scripted, mode: DeliveryMode) -> Notified<A::Http> {
    let receiver = receiver().await;
    let client = client(
        a.default_http(),
        op,
        mode,
        Some(&receiver),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let ack = client.initiate(alice()).await.unwrap();
    let token = op
        .seen("POST /bc")
        .last()
        .unwrap()
        .form("client_notification_token")
        .unwrap();
    Notified {
        client,
        receiver,
        ack,
        token,
    }
}

/// A notification receiver on loopback.
pub async fn receiver() -> NotificationReceiver {
    NotificationReceiver::bind("127.0.0.1:0").await.unwrap()
}

/// A request for alice.
pub fn alice() -> ciba_core::AuthRequest {
    ciba_core::AuthRequest::new(ciba_core::Hint::LoginHint("alice@example.com".into()))
        .binding_message("W4SCT")
}

/// A progress channel.
pub fn progress() -> (watch::Sender<FlowProgress>, watch::Receiver<FlowProgress>) {
    watch::channel(FlowProgress::default())
}

/// Posts `body` as JSON to `url` with `Bearer token`; returns the status.
pub async fn notify(url: &url::Url, token: &str, body: &serde_json::Value) -> u16 {
    let http = ciba_hyper::HttpClient::http();
    let request = http::Request::post(url.as_str())
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string().into_bytes())
        .unwrap();
    http.send(request).await.unwrap().status().as_u16()
}
