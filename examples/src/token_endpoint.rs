//! A token endpoint the application already has, that now hands the CIBA grant to
//! ciba-server and keeps its other grants.
//!
//! ```text
//!  POST /token        the application's handler: body read under ciba-server's cap
//!                     ─► CibaServer::token_request
//!                          ├─ Issued / Respond ─► ciba-server's response, copied out
//!                          └─ NotCibaGrant { grant_type } ─► the application's grants
//!                               (client_credentials here; anything else unsupported_grant_type)
//!  *    /oauth/...    ciba-hyper's service for discovery, JWKS and the backchannel endpoint;
//!                     the token endpoint lies outside its mount path, so it leaves it to the app
//! ```
//!
//! The discovery document advertises `http://{addr}/token` as the token endpoint and lists
//! `client_credentials` beside the CIBA grant (`ServerConfig::other_grant_types`). The
//! hooks approve every known user at once: the user's part is the subject of
//! [`crate::axum_as`].

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ciba_core::ErrorCode;
use ciba_core::random::{IDENTIFIER_BYTES, OsRandom, random_identifier};
use ciba_core::wire::ct_eq;
use ciba_hyper::server::{
    AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture, PendingRequest,
};
use ciba_server::{
    AuthenticationResult, Authorization, BodyError, CibaServer, FailReason, IncomingRequest,
    Ticket, TokenOutcome,
};
use ciba_server::{error_body, json_response};
use http::StatusCode;
use serde_json::json;
use tokio::net::TcpListener;

use crate::BoxError;
use crate::app::RunningApp;
use crate::provider::{self, Endpoints};

/// Where the other CIBA endpoints are mounted.
pub const MOUNT: &str = "/oauth";
/// The application's own client, which uses `client_credentials` (`client_secret_post`).
pub const SERVICE_CLIENT: &str = "reporting-job";
/// Its secret (a demonstration value).
pub const SERVICE_SECRET: &str = "reporting-job-secret-0123456789abcdef";

/// Identifies the known users and approves at once (a stand-in for the user's device).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApproveAtOnce;

impl AuthorizationHooks for ApproveAtOnce {
    fn identify_user<'a>(
        &'a self,
        ticket: &'a Ticket,
    ) -> BoxFuture<'a, Result<String, FailReason>> {
        let subject = provider::find_user(ticket.hint.value());
        Box::pin(std::future::ready(
            subject.map(str::to_owned).ok_or(FailReason::UnknownUserId),
        ))
    }

    fn authentication_requested(
        &self,
        request: PendingRequest,
        handle: AsHandle,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let approval = AuthenticationResult::Authorized(Authorization::new(&request.subject));
            // A failure leaves the request pending until it expires: the client is told
            // `expired_token`, never tokens it should not have.
            let _ = handle.complete(&request.auth_req_id, approval).await;
        })
    }
}

/// The running example.
#[derive(Debug)]
pub struct ExistingTokenEndpoint {
    /// The app on its listener.
    pub app: RunningApp,
    /// The public URLs (the token endpoint is the application's `/token`).
    pub endpoints: Endpoints,
}

/// Serves the example on `listener`.
pub async fn serve(listener: TcpListener) -> Result<ExistingTokenEndpoint, BoxError> {
    let base = format!("http://{}", listener.local_addr()?);
    let mut endpoints = Endpoints::under(&base, MOUNT);
    endpoints.token = format!("{base}/token");
    let mut config = provider::server_config(&endpoints)?;
    // Discovery lists the application's own grant beside the CIBA grant.
    config.other_grant_types = vec!["client_credentials".into()];
    let server = Arc::new(provider::ciba_server(config, None)?);
    let service = AuthorizationServer::builder(Arc::clone(&server), ApproveAtOnce)
        .mount_path(MOUNT)
        .build();
    let router = Router::new()
        .route("/token", post(token))
        .with_state(server)
        .nest_service(MOUNT, service);
    Ok(ExistingTokenEndpoint {
        app: RunningApp::serve(listener, router)?,
        endpoints,
    })
}

/// The application's token endpoint.
async fn token(State(server): State<Arc<CibaServer>>, request: Request) -> Response {
    let limit = server.config().limits.max_body_bytes;
    let (parts, body) = request.into_parts();
    // Read under ciba-server's cap. (A deployed server also bounds the time a body may take,
    // for example with a timeout layer, and answers BodyError::TimedOut.)
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let error = if is_length_limit(&e) {
                BodyError::TooLarge { limit }
            } else {
                BodyError::Unreadable
            };
            return reply(server.refuse_body(error).response);
        }
    };
    let request = http::Request::from_parts(parts, bytes.to_vec());
    let outcome = server
        .token_request(
            &IncomingRequest::from_http(&request),
            SystemTime::now(),
            &OsRandom,
        )
        .await;
    let response = match outcome {
        TokenOutcome::Issued(grant) => grant.response,
        TokenOutcome::Respond(refusal) => refusal.response,
        TokenOutcome::NotCibaGrant { grant_type } if grant_type == "client_credentials" => {
            client_credentials(&server, request.body())
        }
        TokenOutcome::NotCibaGrant { .. } => json_response(
            StatusCode::BAD_REQUEST,
            &error_body(&ErrorCode::UnsupportedGrantType, None),
        ),
    };
    reply(response)
}

/// The grant the application had before CIBA: its own client, its own tokens.
fn client_credentials(server: &CibaServer, body: &[u8]) -> http::Response<Vec<u8>> {
    let limits = server.config().limits;
    let form = ciba_core::wire::parse_form(body, limits.max_body_bytes, 32).unwrap_or_default();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let known = ct_eq(field("client_id").as_bytes(), SERVICE_CLIENT.as_bytes())
        & ct_eq(field("client_secret").as_bytes(), SERVICE_SECRET.as_bytes());
    if !known {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &error_body(&ErrorCode::InvalidClient, None),
        );
    }
    match random_identifier(&OsRandom, IDENTIFIER_BYTES) {
        Ok(access_token) => json_response(
            StatusCode::OK,
            &json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 600}),
        ),
        Err(_) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &error_body(&ErrorCode::TemporarilyUnavailable, None),
        ),
    }
}

/// True when `error` (from `axum::body::to_bytes`) is the body passing the limit.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// An `http::Response<Vec<u8>>` from ciba-server as axum's response.
fn reply(response: http::Response<Vec<u8>>) -> Response {
    response.map(Body::from).into_response()
}
