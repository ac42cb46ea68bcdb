//! Helpers of the https notification tests (feature `tls`): an authorization server whose
//! ping and push clients notify an https endpoint on loopback, its certificate from a test CA.
#![allow(unreachable_pub)]

pub mod fapi;
pub mod support;

use std::sync::Arc;
use std::time::SystemTime;

use ciba_core::DeliveryMode;
use ciba_core::wire::basic_authorization;
use ciba_hyper::server::{AsHandle, AuthorizationServer, DeliveryOutcome, NotificationDeliverer};
use ciba_hyper::tls::client_config;
use ciba_server::store::RequestState;
use ciba_server::{
    AuthenticationResult, Authorization, CibaServer, ClientMetadata, DefaultTokenMinter,
    EgressPolicy, MemoryStore, ServerConfig, StaticClientRegistry, Store,
};
use serde_json::Value;
use support::TestCa;

use crate::common::{TestHooks, ms, op_key_set, secs};

pub const CNT: &str = "cnt-tls-3f9a1c7e5b";
pub const TLS_SECRET: &str = "a-long-random-client-secret-for-tls";

/// An authorization server (served without a socket) whose ping and push clients notify
/// `endpoint`, delivering with `deliverer`.
pub struct Op {
    pub service: AuthorizationServer,
    pub handle: AsHandle,
    pub store: Arc<MemoryStore>,
}

impl Op {
    pub fn new(endpoint: &str, deliverer: NotificationDeliverer) -> Op {
        let mut config = ServerConfig::new(
            "https://op.example",
            "https://op.example/token",
            "https://op.example/bc",
        )
        .unwrap();
        // The https receiver listens on loopback: the explicit opt-in.
        config.egress_policy = EgressPolicy::allow_loopback();
        let mut registry = StaticClientRegistry::new();
        for (id, mode) in [("ping", DeliveryMode::Ping), ("push", DeliveryMode::Push)] {
            let mut m = ClientMetadata::new(id);
            m.client_secret = Some(TLS_SECRET.into());
            m.backchannel_token_delivery_mode = Some(mode);
            if mode == DeliveryMode::Ping {
                m.grant_types = vec![ciba_server::CIBA_GRANT_TYPE.into()];
            }
            m.backchannel_client_notification_endpoint = Some(endpoint.into());
            registry.register(m, &config).unwrap();
        }
        let store = Arc::new(MemoryStore::new());
        let server = CibaServer::new(
            config,
            Arc::new(registry),
            Arc::clone(&store) as Arc<dyn Store>,
            Arc::new(DefaultTokenMinter::new(op_key_set("op-key"))),
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
    pub async fn start(&self, client: &str) -> String {
        let request = http::Request::post("https://op.example/bc")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                basic_authorization(client, TLS_SECRET).unwrap(),
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

    pub async fn approve(&self, auth_req_id: &str) -> DeliveryOutcome {
        let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
        self.handle
            .complete(&crate::common::sid(auth_req_id), approval)
            .await
            .unwrap()
    }

    /// The fingerprints of the tokens pushed for `auth_req_id`, as the store keeps them.
    pub async fn pushed_fingerprints(&self, auth_req_id: &str) -> Vec<String> {
        let stored = self
            .store
            .request(&crate::common::sid(auth_req_id), SystemTime::now())
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
pub fn trusting(ca: &TestCa) -> NotificationDeliverer {
    NotificationDeliverer::https_with_config(
        client_config(ca.roots()).unwrap(),
        EgressPolicy::allow_loopback(),
    )
    .timeout(secs(5))
    .retry_delay(ms(20))
    .max_attempts(2)
}
