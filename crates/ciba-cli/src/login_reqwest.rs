//! `ciba login` through ciba-reqwest: discovery, the backchannel request, and the wait with
//! progress. Ping and push notifications reach the wait from ciba-hyper's notification
//! receiver: the request is registered with `NotificationRegistry::expect_ping` /
//! `expect_push`, and a task forwards what arrives as ciba-reqwest `NotificationEvent`s
//! (pushed tokens validated by ciba-reqwest's `CibaClient::receive_push` first, against its
//! cached JWK Set, and answered with ciba-core's response).

use ciba_core::ValidatedTokens;
use ciba_hyper::{Notification, NotificationRegistry, NotificationWaiter, PushDelivery};
use ciba_reqwest::{CibaClient, ClientOptions, NotificationEvent, PollProgress};
use tokio::sync::{mpsc, watch};

use crate::cli::Mode;
use crate::error::{CliError, chain};
use crate::login::{Flow, acknowledged, discovery_error, finish, is_insecure_endpoint, refused};
use crate::outcome::Outcome;
use crate::progress::{Progress, mirror};

/// Runs `flow` with ciba-reqwest.
pub(crate) async fn run(flow: Flow<'_>) -> Result<ValidatedTokens, CliError> {
    let mut options = ClientOptions::default();
    if let Some(key) = flow.dpop.clone() {
        options = options.dpop(key);
    }
    let client = CibaClient::discover(flow.issuer, flow.config.clone(), options)
        .await
        .map_err(|e| {
            let insecure =
                matches!(&e, ciba_reqwest::Error::Core(core) if is_insecure_endpoint(core));
            discovery_error(&flow, &e, insecure)
        })?;
    let registry = flow.receiver.map(|r| r.registry().clone());
    // A notification may arrive before the acknowledgement is read: the registry holds it
    // (for a few seconds) while this guard lives.
    let in_flight = registry
        .as_ref()
        .map(NotificationRegistry::begin_initiation);
    let ack = client
        .initiate(flow.request)
        .await
        .map_err(|e| refused(&e))?;
    let waiter = match (&registry, &flow.notification_token) {
        (Some(registry), Some(token)) => Some(match flow.mode {
            Mode::Push => registry.expect_push(&ack.auth_req_id, token.clone(), ack.expires_at),
            _ => registry.expect_ping(&ack.auth_req_id, token.clone(), ack.expires_at),
        }),
        _ => None,
    };
    drop(in_flight);
    acknowledged(ack.expires_in);

    let progress = Progress::start(flow.mode.as_str());
    let (progress_tx, progress_rx) = watch::channel(PollProgress::default());
    let mirror = tokio::spawn(mirror(progress_rx, progress.clone()));
    let wait = client.wait_for_tokens(&ack).progress(progress_tx);
    let result = match (waiter, flow.notification_token) {
        (Some(waiter), Some(token)) => {
            let (events_tx, mut events) = mpsc::unbounded_channel();
            let forward = tokio::spawn(forward(waiter, client.clone(), token, events_tx));
            let result = wait.notifications(&mut events).await;
            forward.abort();
            result
        }
        _ => wait.await,
    };
    mirror.abort();
    let _ = mirror.await;
    let result = result.map_err(|e| {
        let message = chain(&e);
        (Outcome::of_reqwest(&e, message.clone()), message)
    });
    finish(&progress, result)
}

/// Forwards the notifications for one request to the wait: pings as they are, pushes once
/// ciba-reqwest validated them (and the OP got ciba-core's answer).
async fn forward(
    mut waiter: NotificationWaiter,
    client: CibaClient,
    token: String,
    events: mpsc::UnboundedSender<NotificationEvent>,
) {
    while let Some(notification) = waiter.next().await {
        let event = match notification {
            Notification::Ping(ping) => Some(NotificationEvent::from(ping)),
            Notification::Push(delivery) => validate_push(&client, &token, *delivery).await,
            _ => None,
        };
        if let Some(event) = event
            && events.send(event).is_err()
        {
            break;
        }
    }
}

/// Validates a pushed delivery with ciba-reqwest and answers the OP.
async fn validate_push(
    client: &CibaClient,
    token: &str,
    delivery: PushDelivery,
) -> Option<NotificationEvent> {
    let id = delivery.auth_req_id().as_str().to_owned();
    let lookup = |asked: &str| (asked == id).then(|| token.to_owned());
    match client.receive_push(delivery.request(), &lookup).await {
        Ok(outcome) => {
            delivery.respond(outcome.response);
            match outcome.result {
                Ok(push) => Some(NotificationEvent::from(push)),
                Err(e) => {
                    tracing::warn!(error = %e, "push refused");
                    None
                }
            }
        }
        Err(e) => {
            // No JWK Set to validate with: 503, so that the OP delivers again.
            tracing::warn!(error = %e, "cannot validate the pushed tokens now");
            let mut unavailable = http::Response::new(Vec::new());
            *unavailable.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            delivery.respond(unavailable);
            None
        }
    }
}
