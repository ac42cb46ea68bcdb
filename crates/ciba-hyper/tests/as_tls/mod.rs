//! Notifications over https (feature `tls`): ping and push delivered to an https endpoint on
//! loopback whose certificate comes from a test CA, over HTTP/2; pushed tokens revoked when
//! the push is not delivered; and what a failed delivery logs.

mod support;

use std::sync::Arc;
use std::time::SystemTime;

use ciba_core::DeliveryMode;
use ciba_core::client_auth::basic_authorization;
use ciba_core::jose::JwkSigner;
use ciba_core::random::OsRandom;
use ciba_hyper::HttpClient;
use ciba_hyper::server::{
    AsHandle, AuthorizationServer, Delivery, DeliveryFailure, NotificationDeliverer,
};
use ciba_hyper::tls::{client_config, rustls};
use ciba_server::store::RequestState;
use ciba_server::{
    AuthenticationResult, Authorization, CibaServer, ClientMetadata, DefaultTokenMinter,
    MemoryStore, ServerConfig, StaticClientRegistry, Store,
};
use serde_json::Value;
use support::{TestCa, TlsEndpoint, capture_logs};

use crate::common::{TestHooks, ms, secs};

const CNT: &str = "cnt-tls-3f9a1c7e5b";
const SECRET: &str = "a-long-random-client-secret-for-tls";

/// An authorization server (served without a socket) whose ping and push clients notify
/// `endpoint`, delivering with `deliverer`.
struct Op {
    service: AuthorizationServer,
    handle: AsHandle,
    store: Arc<MemoryStore>,
}

impl Op {
    fn new(endpoint: &str, deliverer: NotificationDeliverer) -> Op {
        let config = ServerConfig::new(
            "https://op.example",
            "https://op.example/token",
            "https://op.example/bc",
        )
        .unwrap();
        let mut registry = StaticClientRegistry::new();
        for (id, mode) in [("ping", DeliveryMode::Ping), ("push", DeliveryMode::Push)] {
            let mut m = ClientMetadata::new(id);
            m.client_secret = Some(SECRET.into());
            m.backchannel_token_delivery_mode = Some(mode);
            if mode == DeliveryMode::Ping {
                m.grant_types = vec![ciba_server::CIBA_GRANT_TYPE.into()];
            }
            m.backchannel_client_notification_endpoint = Some(endpoint.into());
            registry.register(m, &config).unwrap();
        }
        let store = Arc::new(MemoryStore::new());
        let key = JwkSigner::generate_ed25519(&OsRandom, Some("op-key".into())).unwrap();
        let server = CibaServer::new(
            config,
            Arc::new(registry),
            Arc::clone(&store) as Arc<dyn Store>,
            Arc::new(DefaultTokenMinter::new(Arc::new(key))),
        );
        let service = AuthorizationServer::builder(server, TestHooks)
            .deliverer(deliverer)
            .build();
        Op {
            handle: service.handle(),
            service,
            store,
        }
    }

    /// A backchannel request of `client` for alice, acknowledged: its `auth_req_id`.
    async fn start(&self, client: &str) -> String {
        let request = http::Request::post("https://op.example/bc")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                basic_authorization(client, SECRET).unwrap(),
            )
            .body(
                format!(
                    "scope=openid&login_hint=alice%40example.com&client_notification_token={CNT}"
                )
                .into_bytes(),
            )
            .unwrap();
        let answer = self.service.handle_request(request).await;
        assert_eq!(
            answer.status(),
            200,
            "{:?}",
            String::from_utf8_lossy(answer.body())
        );
        let ack: Value = serde_json::from_slice(answer.body()).unwrap();
        ack["auth_req_id"].as_str().unwrap().to_owned()
    }

    async fn approve(&self, auth_req_id: &str) -> Delivery {
        let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
        self.handle.complete(auth_req_id, approval).await.unwrap()
    }

    /// The fingerprints of the tokens pushed for `auth_req_id`, as the store keeps them.
    async fn pushed_fingerprints(&self, auth_req_id: &str) -> Vec<String> {
        let stored = self
            .store
            .request(auth_req_id, SystemTime::now())
            .await
            .unwrap()
            .unwrap();
        match stored.state {
            RequestState::Delivered { tokens } => {
                tokens.into_iter().map(|t| t.fingerprint).collect()
            }
            other => panic!("not a delivered push: {other:?}"),
        }
    }
}

/// A deliverer trusting `ca` only, quick to retry.
fn trusting(ca: &TestCa) -> NotificationDeliverer {
    let http = HttpClient::https_with_config(client_config(ca.roots()).unwrap()).timeout(secs(5));
    NotificationDeliverer::new(http)
        .retry_delay(ms(20))
        .max_attempts(2)
}

#[tokio::test]
async fn ping_and_push_reach_an_https_endpoint_over_http2() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 204).await;
    let op = Op::new(&endpoint.url, trusting(&ca));

    let ping = op.start("ping").await;
    let delivery = op.approve(&ping).await;
    assert!(
        matches!(delivery, Delivery::Delivered { attempts: 1, .. }),
        "{delivery:?}"
    );
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(delivery.is_delivered(), "{delivery:?}");

    let seen = endpoint.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for s in &seen {
        assert_eq!(s.version, http::Version::HTTP_2, "ALPN chose h2");
        assert_eq!(s.authorization, format!("Bearer {CNT}"));
    }
    assert_eq!(seen[0].body["auth_req_id"], ping.as_str());
    assert_eq!(seen[1].body["auth_req_id"], push.as_str());
    let access = seen[1].body["access_token"].as_str().unwrap();
    let refresh = seen[1].body["refresh_token"].as_str().unwrap();
    let server = op.handle.server();
    assert!(!server.is_revoked(access, SystemTime::now()).await.unwrap());
    assert!(!server.is_revoked(refresh, SystemTime::now()).await.unwrap());
}

#[tokio::test]
async fn a_push_answered_500_until_the_deliverer_gives_up_leaves_no_usable_token() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 500).await;
    let op = Op::new(&endpoint.url, trusting(&ca));
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(
        matches!(
            delivery,
            Delivery::GaveUp {
                attempts: 2,
                last: DeliveryFailure::Status(s)
            } if s == 500
        ),
        "{delivery:?}"
    );
    // The endpoint received the tokens (and answered 500): they must not be usable.
    let seen = endpoint.seen();
    assert_eq!(seen.len(), 2);
    let access = seen[0].body["access_token"].as_str().unwrap();
    let refresh = seen[0].body["refresh_token"].as_str().unwrap();
    let server = op.handle.server();
    assert!(server.is_revoked(access, SystemTime::now()).await.unwrap());
    assert!(server.is_revoked(refresh, SystemTime::now()).await.unwrap());
}

#[tokio::test]
async fn a_push_refused_with_4xx_or_never_connected_is_revoked() {
    let ca = TestCa::new();
    // Refused: not retried, revoked at once.
    let endpoint = TlsEndpoint::start(&ca, 400).await;
    let op = Op::new(&endpoint.url, trusting(&ca));
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(
        matches!(delivery, Delivery::Refused { attempts: 1, .. }),
        "{delivery:?}"
    );
    let access = endpoint.seen()[0].body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        op.handle
            .server()
            .is_revoked(&access, SystemTime::now())
            .await
            .unwrap()
    );

    // Nobody listens: no one ever saw the tokens; the store's fingerprints are revoked.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let op = Op::new(&format!("https://localhost:{port}/cb"), trusting(&ca));
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(
        matches!(delivery, Delivery::GaveUp { attempts: 2, .. }),
        "{delivery:?}"
    );
    let fingerprints = op.pushed_fingerprints(&push).await;
    assert_eq!(fingerprints.len(), 2, "access and refresh token");
    for fp in &fingerprints {
        assert!(op.store.is_revoked(fp, SystemTime::now()).await.unwrap());
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_failed_delivery_logged_without_the_tokens() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 204).await;
    // This deliverer trusts no root at all: the endpoint's certificate is refused.
    let http =
        HttpClient::https_with_config(client_config(rustls::RootCertStore::empty()).unwrap());
    let deliverer = NotificationDeliverer::new(http.timeout(secs(5)))
        .retry_delay(ms(20))
        .max_attempts(3);
    let op = Op::new(&endpoint.url, deliverer);
    let push = op.start("push").await;

    let (logs, guard) = capture_logs();
    let delivery = op.approve(&push).await;
    drop(guard);
    assert!(
        matches!(
            delivery,
            Delivery::GaveUp {
                attempts: 3,
                last: DeliveryFailure::Transport(_)
            }
        ),
        "{delivery:?}"
    );
    assert!(
        endpoint.seen().is_empty(),
        "nothing crossed the TLS handshake"
    );
    let logs = logs.text();
    let gave_up = logs
        .lines()
        .find(|l| l.contains("notification not delivered"))
        .unwrap_or_else(|| panic!("no final failure logged:\n{logs}"));
    assert!(gave_up.contains(&endpoint.url), "{gave_up}");
    assert!(gave_up.contains("attempts=3"), "{gave_up}");
    assert!(
        gave_up.to_lowercase().contains("certificate"),
        "the reason: {gave_up}"
    );
    assert!(
        logs.contains("tokens are revoked"),
        "the revocation is logged:\n{logs}"
    );
    assert!(!logs.contains(CNT), "the bearer token leaked:\n{logs}");
    assert!(!logs.contains(SECRET), "the client secret leaked:\n{logs}");
    assert!(!logs.contains("eyJ"), "a JWT leaked:\n{logs}");
    let fingerprints = op.pushed_fingerprints(&push).await;
    for fp in &fingerprints {
        assert!(op.store.is_revoked(fp, SystemTime::now()).await.unwrap());
    }
}

#[tokio::test]
async fn a_failed_delivery_logs_endpoint_attempts_and_reason_but_not_the_bearer_token() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 503).await;
    let op = Op::new(&endpoint.url, trusting(&ca));
    let push = op.start("push").await;
    let (logs, guard) = capture_logs();
    let delivery = op.approve(&push).await;
    drop(guard);
    assert!(!delivery.is_delivered());
    let seen = endpoint.seen();
    let access = seen[0].body["access_token"].as_str().unwrap();
    let refresh = seen[0].body["refresh_token"].as_str().unwrap();
    let logs = logs.text();
    let gave_up = logs
        .lines()
        .find(|l| l.contains("notification not delivered"))
        .unwrap_or_else(|| panic!("no final failure logged:\n{logs}"));
    assert!(gave_up.contains(&endpoint.url), "{gave_up}");
    assert!(gave_up.contains("attempts=2"), "{gave_up}");
    assert!(gave_up.contains("503"), "the reason: {gave_up}");
    for secret in [CNT, access, refresh] {
        assert!(!logs.contains(secret), "{secret} leaked:\n{logs}");
    }
}
