//! [`TokenWait`]: drives the core's [`Poller`] with tokio timers and the transport, or waits
//! for a push delivery.
//!
//! Everything happens inside the one future: no task is spawned, so dropping the future
//! (for example with `tokio::time::timeout` or `select!`) stops the wait at once. A request in
//! flight is aborted with it and no further request is sent.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use ciba_core::notification::Push;
use ciba_core::poll::{PollAction, PollError, Poller};
use ciba_core::token_response::ValidatedTokens;
use ciba_core::{AuthRequestAck, DeliveryMode};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::client::CibaClient;
use crate::error::Error;
use crate::notification::{NoNotifications, NotificationEvent, NotificationSource};
use ciba_core::progress::{PollPhase, PollProgress};

/// A wait for the tokens of one acknowledged request; made by
/// [`CibaClient::wait_for_tokens`]. Configure it, then `.await` it.
///
/// ```no_run
/// # async fn demo(client: ciba_reqwest::CibaClient, ack: ciba_core::AuthRequestAck,
/// #               mut events: tokio::sync::mpsc::Receiver<ciba_reqwest::NotificationEvent>)
/// # -> Result<(), ciba_reqwest::Error> {
/// use ciba_reqwest::PollProgress;
///
/// let (progress, mut watch) = tokio::sync::watch::channel(PollProgress::default());
/// let spinner = async move {
///     while watch.changed().await.is_ok() {
///         let p = watch.borrow().clone();
///         eprint!("\rpolls: {}  every {:?}  {:?} left", p.polls_sent, p.interval, p.time_left);
///     }
/// };
/// let wait = client.wait_for_tokens(&ack).notifications(&mut events).progress(progress);
/// let (tokens, ()) = tokio::join!(wait.into_future(), spinner);
/// println!("{}", tokens?.id_token.sub);
/// # Ok(()) }
/// ```
#[must_use = "a TokenWait does nothing until awaited"]
pub struct TokenWait<'a, S = NoNotifications> {
    client: &'a CibaClient,
    ack: &'a AuthRequestAck,
    source: S,
    progress: Option<watch::Sender<PollProgress>>,
}

impl<S> std::fmt::Debug for TokenWait<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenWait")
            .field("auth_req_id", &self.ack.auth_req_id)
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> TokenWait<'a> {
    pub(crate) fn new(client: &'a CibaClient, ack: &'a AuthRequestAck) -> Self {
        TokenWait {
            client,
            ack,
            source: NoNotifications,
            progress: None,
        }
    }
}

impl<'a, S: NotificationSource> TokenWait<'a, S> {
    /// Listens to ping or push events from `source` (for example `&mut rx` of a
    /// `tokio::sync::mpsc` channel fed by the notification endpoint; see
    /// [`crate::notification`]). A ping for this request makes the next token request go out
    /// at once; a push for it ends the wait. Push clients need a source.
    pub fn notifications<T: NotificationSource>(self, source: T) -> TokenWait<'a, T> {
        TokenWait {
            client: self.client,
            ack: self.ack,
            source,
            progress: self.progress,
        }
    }

    /// Publishes a [`PollProgress`] snapshot on `sender` at every step (create it with
    /// `watch::channel(PollProgress::default())`).
    pub fn progress(mut self, sender: watch::Sender<PollProgress>) -> Self {
        self.progress = Some(sender);
        self
    }

    /// Runs the wait to its end: the tokens, with their ID token validated, or an error.
    ///
    /// Poll and ping clients take the JWK Set from the cache (fetching it if needed) before
    /// the first request; when it cannot be had, the wait fails at once with that error.
    pub async fn run(self) -> Result<ValidatedTokens, Error> {
        let TokenWait {
            client,
            ack,
            mut source,
            progress,
        } = self;
        let mut reporter = Reporter {
            sender: progress,
            snapshot: PollProgress::from_ack(ack, PollPhase::Starting, SystemTime::now()),
        };
        let result = if client.core().delivery_mode() == DeliveryMode::Push {
            wait_for_push(ack, &mut source, &mut reporter).await
        } else {
            drive_poller(client, ack, &mut source, &mut reporter).await
        };
        match &result {
            Ok(_) => info!(auth_req_id = ?ack.auth_req_id, "tokens received and validated"),
            Err(e) => {
                warn!(auth_req_id = ?ack.auth_req_id, error = %e, "waiting for tokens failed")
            }
        }
        reporter.set(PollPhase::Finished, None);
        result
    }
}

impl<'a, S: NotificationSource + 'a> IntoFuture for TokenWait<'a, S> {
    type Output = Result<ValidatedTokens, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Publishes progress snapshots when someone asked for them.
struct Reporter {
    sender: Option<watch::Sender<PollProgress>>,
    snapshot: PollProgress,
}

impl Reporter {
    /// A snapshot of the poller, computed by the core.
    fn update(&mut self, poller: &Poller, phase: PollPhase, next: Option<SystemTime>) {
        self.snapshot = poller.progress(phase, next, SystemTime::now());
        self.publish();
    }

    /// The last snapshot in a new phase (push waits, the end).
    fn set(&mut self, phase: PollPhase, next: Option<SystemTime>) {
        self.snapshot.phase = phase;
        self.snapshot.next_request_at = next;
        self.snapshot.time_left = self
            .snapshot
            .expires_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        self.publish();
    }

    fn publish(&self) {
        if let Some(sender) = &self.sender {
            sender.send_replace(self.snapshot.clone());
        }
    }
}

/// The tokio instant matching the wall-clock `deadline` (now when it has passed). The core
/// never names a deadline after the request's expiry; the cap only guards the arithmetic.
fn instant_at(deadline: SystemTime) -> Instant {
    const CAP: Duration = Duration::from_secs(366 * 24 * 60 * 60);
    let wait = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .min(CAP);
    Instant::now() + wait
}

/// Poll and ping: the core's poller decides when to send, what to send and when to stop.
async fn drive_poller<S: NotificationSource>(
    client: &CibaClient,
    ack: &AuthRequestAck,
    source: &mut S,
    reporter: &mut Reporter,
) -> Result<ValidatedTokens, Error> {
    let inner = &client.inner;
    let jwks = client.jwks().await?;
    let mut poller = Poller::new(&inner.core, ack, inner.poll_config(jwks), SystemTime::now())?;
    let rng = &*inner.options.rng;
    let mut listening = true;
    loop {
        match poller.next(SystemTime::now(), rng) {
            PollAction::Wait(deadline) => {
                reporter.update(&poller, PollPhase::Waiting, Some(deadline));
                let sleep = tokio::time::sleep_until(instant_at(deadline));
                if !listening {
                    sleep.await;
                    continue;
                }
                tokio::select! {
                    () = sleep => {}
                    event = source.next_event() => match event {
                        None => {
                            debug!("notification source closed; polling on");
                            listening = false;
                        }
                        Some(event) => on_event(&mut poller, ack, event),
                    },
                }
            }
            PollAction::Send(request) => {
                reporter.update(&poller, PollPhase::Requesting, None);
                debug!(auth_req_id = ?ack.auth_req_id, poll = poller.polls_sent(), interval = ?poller.interval(), "token request");
                match inner.transport.send(request).await {
                    Ok(response) => poller.on_response(response, SystemTime::now()),
                    Err(e) if e.is_transient_transport() => {
                        warn!(auth_req_id = ?ack.auth_req_id, error = %e, "token request failed; the poller decides on a retry");
                        poller.on_transport_error(SystemTime::now());
                    }
                    Err(e) => return Err(e),
                }
            }
            PollAction::FetchKeys => {
                // The cache decides whether the OP may be asked again (its cooldown).
                reporter.update(&poller, PollPhase::FetchingKeys, None);
                match inner.refresh_jwks().await {
                    Some(jwks) => poller.keys_refreshed(jwks, SystemTime::now()),
                    None => poller.keys_unavailable(),
                }
            }
            PollAction::Done(tokens) => return Ok(*tokens),
            PollAction::Failed(e) => return Err(e.into()),
            PollAction::AwaitingResponse => {
                return Err(Error::UnexpectedPollState {
                    what: "a request was left unanswered",
                });
            }
            PollAction::Finished => {
                return Err(Error::UnexpectedPollState {
                    what: "the poller had already finished",
                });
            }
            _ => {
                return Err(Error::UnexpectedPollState {
                    what: "an unknown poll action",
                });
            }
        }
    }
}

fn on_event(poller: &mut Poller, ack: &AuthRequestAck, event: NotificationEvent) {
    match event {
        NotificationEvent::Ping { auth_req_id } if auth_req_id == ack.auth_req_id => {
            debug!(auth_req_id = ?ack.auth_req_id, "ping received");
            poller.ping_received();
        }
        other => {
            debug!(auth_req_id = ?other.auth_req_id(), "ignoring a notification for another request or mode");
        }
    }
}

/// Push: nothing to send; wait for the delivery for this request until it expires.
async fn wait_for_push<S: NotificationSource>(
    ack: &AuthRequestAck,
    source: &mut S,
    reporter: &mut Reporter,
) -> Result<ValidatedTokens, Error> {
    reporter.set(PollPhase::AwaitingPush, None);
    loop {
        if ack.is_expired(SystemTime::now()) {
            return Err(PollError::ExpiredLocally {
                expires_at: ack.expires_at,
            }
            .into());
        }
        tokio::select! {
            () = tokio::time::sleep_until(instant_at(ack.expires_at)) => {}
            event = source.next_event() => match event {
                None => return Err(Error::NotificationsClosed),
                Some(NotificationEvent::Push(push)) if push.auth_req_id() == &ack.auth_req_id => {
                    return match *push {
                        Push::Tokens { tokens, .. } => Ok(*tokens),
                        Push::Error { error, .. } => Err(Error::Push(error)),
                        _ => Err(Error::UnexpectedPollState { what: "an unknown push delivery" }),
                    };
                }
                Some(other) => {
                    debug!(auth_req_id = ?other.auth_req_id(), "ignoring a notification for another request or mode");
                }
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn past_deadlines_are_now_and_far_ones_are_capped() {
        let before = Instant::now();
        let past = instant_at(SystemTime::UNIX_EPOCH);
        assert!(past >= before && past <= Instant::now());
        let far = instant_at(SystemTime::now() + Duration::from_secs(u32::MAX.into()));
        assert!(far <= Instant::now() + Duration::from_secs(366 * 24 * 60 * 60));
    }
}
