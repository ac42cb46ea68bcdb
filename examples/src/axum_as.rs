//! An axum authorization server: the CIBA endpoints (ciba-hyper's
//! [`AuthorizationServer`] service) nested under `/oauth` beside the application's own routes.
//!
//! ```text
//!  GET  /                                     the application's own page
//!  GET  /device/pending                       the signed-in user's pending requests  ┐ the device API
//!  POST /device/requests/{auth_req_id}/approve                                        │ (bearer: the
//!  POST /device/requests/{auth_req_id}/deny                                           ┘ user's device token)
//!  *    /oauth/...                            ciba-hyper's service (axum removes /oauth):
//!       /oauth/.well-known/openid-configuration, /oauth/jwks, /oauth/bc, /oauth/token
//! ```
//!
//! The service is built with `mount_path("/oauth")`: axum's `nest_service` hands it
//! `/token` for `/oauth/token`, and the discovery document still advertises the full URLs.
//!
//! The [`Directory`] hooks identify the user from the hint. Reaching the user's device is
//! left to the device API here: a real server would also send a message to the user's app
//! from `authentication_requested` (a mobile push service), and the app would call the same
//! API. Any instance sharing the store can list and complete any request.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use ciba_core::random::{IDENTIFIER_BYTES, OsRandom, random_identifier};
use ciba_core::wire::ct_eq;
use ciba_hyper::server::{AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture};
use ciba_server::{AuthReqId, AuthenticationResult, Authorization, FailReason, Ticket};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::BoxError;
use crate::app::RunningApp;
use crate::provider::{self, Endpoints, USERS};

/// Where the CIBA endpoints are mounted.
pub const MOUNT: &str = "/oauth";

/// The user directory, as the CIBA hooks see it: a login hint names a known user or is
/// refused with `unknown_user_id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Directory;

impl AuthorizationHooks for Directory {
    fn identify_user<'a>(
        &'a self,
        ticket: &'a Ticket,
    ) -> BoxFuture<'a, Result<String, FailReason>> {
        // A database or LDAP lookup would be awaited in `Box::pin(async move { ... })`.
        let subject = provider::find_user(ticket.hint.value());
        Box::pin(std::future::ready(
            subject.map(str::to_owned).ok_or(FailReason::UnknownUserId),
        ))
    }
    // `authentication_requested` keeps its default: the request waits in the store, where
    // the device API lists it.
}

/// The device tokens of the users' apps: `(subject, token)`. A real server knows the user's
/// app through its own sign-in; here each user gets a random token at start.
#[derive(Clone)]
pub struct DeviceTokens(Arc<Vec<(String, String)>>);

impl std::fmt::Debug for DeviceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceTokens(..)")
    }
}

impl DeviceTokens {
    /// A fresh token (160 random bits) for each user of [`USERS`].
    pub fn generate() -> Result<DeviceTokens, BoxError> {
        let mut tokens = Vec::new();
        for (_, subject) in USERS {
            tokens.push((
                (*subject).to_owned(),
                random_identifier(&OsRandom, IDENTIFIER_BYTES)?,
            ));
        }
        Ok(DeviceTokens(Arc::new(tokens)))
    }

    /// The token of `subject`'s app.
    pub fn token_of(&self, subject: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(s, _)| s == subject)
            .map(|(_, t)| t.as_str())
    }

    /// The user whose app sent `Authorization: Bearer <token>` (compared in constant time).
    fn user(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let token = value.strip_prefix("Bearer ")?;
        let mut found = None;
        for (subject, expected) in self.0.iter() {
            if ct_eq(token.as_bytes(), expected.as_bytes()) {
                found = Some(subject.clone());
            }
        }
        found
    }
}

#[derive(Clone)]
struct AppState {
    ciba: AsHandle,
    devices: DeviceTokens,
}

/// The application's router: its own routes, the device API over `service`'s handle, and
/// `service` (built with `mount_path(MOUNT)`) nested under [`MOUNT`].
pub fn router(service: AuthorizationServer, devices: DeviceTokens) -> Router {
    let state = AppState {
        ciba: service.handle(),
        devices,
    };
    Router::new()
        .route("/", get(home))
        .route("/device/pending", get(pending))
        .route("/device/requests/{auth_req_id}/approve", post(approve))
        .route("/device/requests/{auth_req_id}/deny", post(deny))
        .nest_service(MOUNT, service)
        .with_state(state)
}

/// The running example: the app and what its users' devices need.
#[derive(Debug)]
pub struct AxumAs {
    /// The app on its listener.
    pub app: RunningApp,
    /// The public URLs of the CIBA endpoints.
    pub endpoints: Endpoints,
    /// The users' device tokens.
    pub devices: DeviceTokens,
}

/// Serves the example on `listener`; `push_endpoint` registers the push client with that
/// notification endpoint.
pub async fn serve(listener: TcpListener, push_endpoint: Option<&str>) -> Result<AxumAs, BoxError> {
    let base = format!("http://{}", listener.local_addr()?);
    let endpoints = Endpoints::under(&base, MOUNT);
    let server = provider::ciba_server(provider::server_config(&endpoints)?, push_endpoint)?;
    let service = AuthorizationServer::builder(server, Directory)
        .mount_path(MOUNT)
        .deliverer(provider::loopback_deliverer())
        .build();
    let devices = DeviceTokens::generate()?;
    let app = RunningApp::serve(listener, router(service, devices.clone()))?;
    Ok(AxumAs {
        app,
        endpoints,
        devices,
    })
}

async fn home() -> &'static str {
    "The application's own page. CIBA discovery: /oauth/.well-known/openid-configuration\n"
}

/// The signed-in user's requests waiting for a decision.
async fn pending(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    let user = state
        .devices
        .user(&headers)
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let requests = state
        .ciba
        .pending(Some(&user), 20)
        .await
        // The store is down: the device tries again later.
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let list: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "auth_req_id": r.auth_req_id,
                "client_id": r.client_id,
                "scopes": r.scopes,
                "binding_message": r.binding_message,
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn approve(
    state: State<AppState>,
    headers: HeaderMap,
    id: Path<String>,
) -> Result<Json<Value>, StatusCode> {
    decide(state, headers, id, true).await
}

async fn deny(
    state: State<AppState>,
    headers: HeaderMap,
    id: Path<String>,
) -> Result<Json<Value>, StatusCode> {
    decide(state, headers, id, false).await
}

/// Records the signed-in user's decision on one of their own requests.
async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(auth_req_id): Path<String>,
    approve: bool,
) -> Result<Json<Value>, StatusCode> {
    let user = state
        .devices
        .user(&headers)
        .ok_or(StatusCode::UNAUTHORIZED)?;
    // A text the server never mints names no request.
    let auth_req_id: AuthReqId = auth_req_id.parse().map_err(|_| StatusCode::NOT_FOUND)?;
    let request = state
        .ciba
        .pending_request(&auth_req_id)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        // Another user's request is as unknown as one that does not exist.
        .filter(|r| r.subject == user)
        .ok_or(StatusCode::NOT_FOUND)?;
    let result = if approve {
        AuthenticationResult::Authorized(Authorization::new(&request.subject))
    } else {
        AuthenticationResult::AccessDenied
    };
    match state.ciba.complete(&auth_req_id, result).await {
        Ok(delivery) => Ok(Json(json!({
            "recorded": if approve { "approved" } else { "denied" },
            // Poll clients are not notified: false for them.
            "notification_delivered": delivery.is_delivered(),
        }))),
        Err(ciba_server::CompleteError::Store(_)) => Err(StatusCode::SERVICE_UNAVAILABLE),
        Err(_) => Err(StatusCode::CONFLICT),
    }
}
