//! `ciba login`'s client notification endpoint (ping and push): a small HTTP server on
//! `--listen` that checks each notification with ciba-core (through ciba-reqwest, which
//! validates pushed ID tokens against the OP's cached JWK Set) and hands what it accepted to
//! the waiting flow.
//!
//! The endpoint URL has to be known before discovery (the client configuration names it),
//! the client only after discovery, and the `auth_req_id` only after the acknowledgement; a
//! notification that arrives before both are known waits for them for a few seconds.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ciba_reqwest::{CibaClient, NotificationEvent};
use tokio::sync::{mpsc, watch};

use crate::cli::Mode;
use crate::error::CliError;
use crate::http_server::{self, FullResponse, HttpServer};

/// How long an early notification waits for the flow to learn its `auth_req_id`.
const BINDING_GRACE: Duration = Duration::from_secs(5);
/// Largest notification body read.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the endpoint needs to check a notification.
#[derive(Clone)]
struct Binding {
    client: CibaClient,
    auth_req_id: String,
}

struct State {
    mode: Mode,
    token: String,
    binding: watch::Sender<Option<Binding>>,
    /// Set once a push was accepted: later deliveries find no token (401).
    done: Mutex<bool>,
    events: mpsc::UnboundedSender<NotificationEvent>,
}

impl State {
    fn done(&self) -> MutexGuard<'_, bool> {
        self.done
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running notification endpoint for one flow.
pub(crate) struct LoginReceiver {
    state: Arc<State>,
    server: HttpServer,
    url: String,
    events: Option<mpsc::UnboundedReceiver<NotificationEvent>>,
}

impl LoginReceiver {
    /// Listens on `addr` for notifications bearing `token`.
    pub(crate) async fn bind(
        addr: SocketAddr,
        mode: Mode,
        token: String,
    ) -> Result<LoginReceiver, CliError> {
        let listener = http_server::bind(addr, "notification endpoint").await?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            mode,
            token,
            binding: watch::Sender::new(None),
            done: Mutex::new(false),
            events: events_tx,
        });
        let handler_state = state.clone();
        let server = http_server::spawn(listener, move |request| {
            let state = handler_state.clone();
            async move { handle(&state, request).await }
        })?;
        let url = format!("http://{}/ciba/notify", server.local_addr());
        Ok(LoginReceiver {
            state,
            server,
            url,
            events: Some(events_rx),
        })
    }

    /// The URL to register as `backchannel_client_notification_endpoint`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Starts accepting notifications for `auth_req_id`, checked by `client`.
    pub(crate) fn expect(&self, client: CibaClient, auth_req_id: &str) {
        self.state.binding.send_replace(Some(Binding {
            client,
            auth_req_id: auth_req_id.to_owned(),
        }));
    }

    /// The accepted notifications, for `TokenWait::notifications` (once).
    pub(crate) fn events(&mut self) -> Option<mpsc::UnboundedReceiver<NotificationEvent>> {
        self.events.take()
    }

    /// Stops the endpoint.
    pub(crate) async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn handle(state: &State, request: http::Request<hyper::body::Incoming>) -> FullResponse {
    let request = match http_server::collect(request, MAX_BODY_BYTES).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let mut bound = state.binding.subscribe();
    let binding = match tokio::time::timeout(BINDING_GRACE, bound.wait_for(Option::is_some)).await {
        Ok(Ok(binding)) => binding.clone(),
        _ => None,
    };
    let expected = binding.as_ref().map(|b| b.auth_req_id.clone());
    let lookup =
        |id: &str| (expected.as_deref() == Some(id) && !*state.done()).then(|| state.token.clone());
    let Some(Binding { client, .. }) = binding else {
        // Nothing is pending: ciba-core answers 401 for an unknown auth_req_id. Any
        // client can say so; none exists yet, so answer the same way by hand.
        return http_server::status(http::StatusCode::UNAUTHORIZED);
    };
    match state.mode {
        Mode::Push => match client.receive_push(&request, &lookup).await {
            Ok(outcome) => {
                if let Ok(push) = outcome.result {
                    *state.done() = true;
                    let _ = state.events.send(NotificationEvent::from(push));
                }
                http_server::full(outcome.response)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot validate the pushed tokens now");
                http_server::status(http::StatusCode::SERVICE_UNAVAILABLE)
            }
        },
        _ => {
            let outcome = client.receive_ping(&request, &lookup);
            if let Ok(ping) = outcome.result {
                let _ = state.events.send(NotificationEvent::from(ping));
            }
            http_server::full(outcome.response)
        }
    }
}
