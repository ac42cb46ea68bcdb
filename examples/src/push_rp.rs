//! A push-mode relying party whose notification endpoint is a route of its own axum app
//! (ciba-hyper's [`NotificationService`], mounted with `route_service`).
//!
//! ```text
//!  axum app:  GET  /                      the application's own page
//!             POST /ciba/notify           NotificationService ─► NotificationRegistry
//!  CibaClient (ciba-hyper, ClientOptions::notifications(registry))
//!    initiate ─► registers auth_req_id + client_notification_token in the registry
//!    wait_for_tokens ◄── the OP's push: bearer checked before the body, tokens validated
//! ```
//!
//! The service checks the bearer `client_notification_token` from the headers before it
//! reads the body, validates the pushed ID token (signature, `auth_req_id`, `at_hash`) and
//! answers 204, or 401 / 400 when it refuses, never a redirect. It ignores the path, so the
//! route decides where it lives.

use axum::Router;
use axum::routing::get;
use ciba_core::EndpointPolicy;
use ciba_core::ValidatedTokens;
use ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
use ciba_hyper::{
    CibaClient, ClientOptions, HttpClient, NotificationRegistry, NotificationService,
};
use tokio::net::TcpListener;

use crate::BoxError;
use crate::app::RunningApp;

/// The route of the notification endpoint.
pub const NOTIFY_PATH: &str = "/ciba/notify";

/// The relying party's app, with the notification endpoint among its routes.
#[derive(Debug)]
pub struct PushRp {
    /// The app on its listener.
    pub app: RunningApp,
    /// Where the waiting flows are registered.
    pub registry: NotificationRegistry,
}

impl PushRp {
    /// The notification endpoint to register with the OP.
    pub fn notification_endpoint(&self) -> String {
        format!("{}{NOTIFY_PATH}", self.app.base_url())
    }
}

/// The app's router: its own routes and the notification endpoint over `registry`.
pub fn router(registry: NotificationRegistry) -> Router {
    Router::new()
        .route("/", get(|| async { "The relying party's own page.\n" }))
        .route_service(NOTIFY_PATH, NotificationService::new(registry))
}

/// Serves the app on `listener`.
pub fn serve(listener: TcpListener) -> Result<PushRp, BoxError> {
    let registry = NotificationRegistry::new();
    let app = RunningApp::serve(listener, router(registry.clone()))?;
    Ok(PushRp { app, registry })
}

impl PushRp {
    /// Runs a push-mode flow for `login_hint` as `client_id` at `issuer`, and returns the
    /// validated tokens the OP pushed to this app's endpoint.
    pub async fn sign_in(
        &self,
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        login_hint: &str,
        allow_http_loopback: bool,
    ) -> Result<ValidatedTokens, ciba_hyper::Error> {
        let auth = ClientAuth::SecretBasic(ClientSecret::new(client_secret));
        let mut config = ClientConfig::new(client_id, auth, DeliveryMode::Push);
        config.notification_endpoint = Some(self.notification_endpoint());
        if allow_http_loopback {
            config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
        }
        let options = ClientOptions::default().notifications(self.registry.clone());
        let client = CibaClient::discover(HttpClient::default(), issuer, config, options).await?;
        let ack = client
            .initiate(AuthRequest::new(Hint::LoginHint(login_hint.to_owned())))
            .await?;
        client.wait_for_tokens(&ack).await
    }
}
