//! [`TokenWait`]: one wait for the tokens of an acknowledged request, by poll, ping or push.
//!
//! Everything happens inside the one future: no task is spawned, so dropping it (with
//! `tokio::time::timeout` or `select!`) stops the wait at once; a request in flight is aborted
//! with it, no further request is sent, and the notification registration is removed.
//!
//! Poll and ping drive ciba-core's `Poller`: sleep until the deadline it names (or until the
//! registry reports a ping or a refused notification), send what it builds, hand back the
//! response or the transport failure, and answer `FetchKeys` from the JWK Set cache. Push
//! waits for the registry to accept a delivery, until the request expires.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use ciba_core::ValidatedTokens;
use ciba_core::notification::Push;
use ciba_core::observe::short_hash;
use ciba_core::poll::{PollAction, PollError, Poller};
use ciba_core::{AuthRequestAck, DeliveryMode};
use ciba_core::{PollPhase, PollProgress};
use tokio::sync::watch;
use tracing::field::Empty;
use tracing::{Instrument as _, debug, info, warn};

use crate::client::CibaClient;
use crate::clock::FlowClock;
use crate::error::Error;
use crate::progress::{FlowProgress, Reporter};
use crate::registry::{Registration, Slot};
use crate::send::HttpSend;

/// A wait for the tokens of one acknowledged request, made by
/// [`CibaClient::wait_for_tokens`]. Configure it, then `.await` it.
///
/// ```no_run
/// # async fn demo<S: ciba_client::HttpSend>(client: ciba_client::CibaClient<S>,
/// #     ack: ciba_core::AuthRequestAck) -> Result<(), ciba_client::Error> {
/// use ciba_client::FlowProgress;
///
/// let (progress, mut watch) = tokio::sync::watch::channel(FlowProgress::default());
/// let spinner = async move {
///     while watch.changed().await.is_ok() {
///         let p = watch.borrow().clone();
///         eprint!("\r{} polls, {:?} left", p.poll.polls_sent, p.poll.time_left);
///         if let Some(refused) = &p.last_refused {
///             eprint!(" ({refused})");
///         }
///     }
/// };
/// let wait = client.wait_for_tokens(&ack).progress(progress);
/// let (tokens, ()) = tokio::join!(wait.into_future(), spinner);
/// println!("{}", tokens?.id_token.sub);
/// # Ok(()) }
/// ```
#[must_use = "a TokenWait does nothing until awaited"]
pub struct TokenWait<'a, S> {
    client: &'a CibaClient<S>,
    ack: &'a AuthRequestAck,
    progress: Option<watch::Sender<FlowProgress>>,
}

impl<S> std::fmt::Debug for TokenWait<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenWait")
            .field("auth_req_id", &self.ack.auth_req_id)
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, S: HttpSend> TokenWait<'a, S> {
    pub(crate) fn new(client: &'a CibaClient<S>, ack: &'a AuthRequestAck) -> Self {
        TokenWait {
            client,
            ack,
            progress: None,
        }
    }

    /// Publishes a [`FlowProgress`] snapshot on `sender` at every step, and at once when a
    /// notification for this request is refused.
    pub fn progress(mut self, sender: watch::Sender<FlowProgress>) -> Self {
        self.progress = Some(sender);
        self
    }

    /// Runs the wait to its end: the tokens, their ID token validated, or an error.
    ///
    /// The wait runs in an `INFO` span named `ciba_client_wait` with the `client_id`, the
    /// `mode`, the request's `auth_req` (its short hash, never the `auth_req_id`) and the
    /// `outcome` (`ok` or [`Error::label`]); each token request in a `DEBUG` span named
    /// `ciba_client_token_request` with the poll's number.
    pub async fn run(self) -> Result<ValidatedTokens, Error> {
        let core = self.client.core();
        let span = tracing::info_span!(
            "ciba_client_wait",
            client_id = core.client_id(),
            mode = core.delivery_mode().as_str(),
            auth_req = %short_hash(self.ack.auth_req_id.as_str()),
            outcome = Empty
        );
        let result = self.run_unobserved().instrument(span.clone()).await;
        span.record(
            "outcome",
            match &result {
                Ok(_) => "ok",
                Err(e) => e.label(),
            },
        );
        result
    }

    async fn run_unobserved(self) -> Result<ValidatedTokens, Error> {
        let TokenWait {
            client,
            ack,
            progress,
        } = self;
        let clock = FlowClock::start();
        let start = PollProgress::from_ack(ack, PollPhase::Starting, clock.now());
        let mut flow = Flow {
            client,
            ack,
            clock,
            reporter: Reporter::new(progress, clock, start),
        };
        let registration = client
            .notifications()
            .and_then(|r| r.watch(client.core().issuer(), &ack.auth_req_id));
        let result = match (client.core().delivery_mode(), registration) {
            (DeliveryMode::Push, Some((slot, _registration))) => flow.push(&slot).await,
            (DeliveryMode::Push, None) => Err(Error::NotRegistered),
            (_, registration) => flow.poll(registration).await,
        };
        flow.reporter.phase(PollPhase::Finished);
        match &result {
            Ok(_) => info!("tokens received and validated"),
            Err(e) => warn!(error = %e, "waiting for tokens failed"),
        }
        result
    }
}

impl<'a, S: HttpSend> IntoFuture for TokenWait<'a, S> {
    type Output = Result<ValidatedTokens, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

struct Flow<'a, S> {
    client: &'a CibaClient<S>,
    ack: &'a AuthRequestAck,
    clock: FlowClock,
    reporter: Reporter,
}

impl<S: HttpSend> Flow<'_, S> {
    /// Poll and ping: ciba-core's poller decides when to send, what to send and when to stop.
    async fn poll(
        &mut self,
        registration: Option<(Arc<Slot>, Registration)>,
    ) -> Result<ValidatedTokens, Error> {
        let inner = &*self.client.inner;
        let (clock, ack) = (self.clock, self.ack);
        let slot = registration.as_ref().map(|(slot, _)| slot.clone());
        let keys = inner.jwks.current(&inner.http).await?;
        let mut generation = keys.generation;
        let config = inner.poll_config(keys.set);
        let mut poller = Poller::new(&inner.core, ack, config, clock.now())?;
        let rng = &*inner.options.rng;
        let dpop_url = inner
            .options
            .dpop
            .is_some()
            .then(|| inner.core.token_endpoint().ok().cloned())
            .flatten();
        loop {
            if let Some(slot) = &slot {
                self.take_notifications(slot, Some(&mut poller));
            }
            if let Some(url) = &dpop_url
                && let Some(nonce) = inner.nonces().get(url)
            {
                // The newest nonce any wait of this client learnt from that server.
                poller.set_dpop_nonce(nonce);
            }
            match poller.next(clock.now(), rng) {
                PollAction::Wait(deadline) => {
                    self.reporter
                        .poller(&poller, PollPhase::Waiting, Some(deadline));
                    let sleep = tokio::time::sleep_until(clock.instant_at(deadline));
                    match &slot {
                        Some(slot) => tokio::select! {
                            () = sleep => {}
                            () = slot.changed() => {}
                        },
                        None => sleep.await,
                    }
                }
                PollAction::Send(request) => {
                    self.reporter.poller(&poller, PollPhase::Requesting, None);
                    let span = tracing::debug_span!(
                        "ciba_client_token_request",
                        poll = poller.polls_sent(),
                        status = Empty
                    );
                    debug!(parent: &span, "token request");
                    let sent = inner.http.send(request).instrument(span.clone()).await;
                    if let Ok(response) = &sent {
                        span.record("status", response.status().as_u16());
                    }
                    match sent {
                        Ok(response) => {
                            if let Some(url) = &dpop_url {
                                inner.nonces().learn(url, &response);
                            }
                            poller.on_response(response, clock.now());
                        }
                        Err(e) if e.is_transient() => {
                            warn!(error = %e, "token request failed; the poller decides on a retry");
                            poller.on_transport_error(clock.now());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                PollAction::FetchKeys => {
                    self.reporter.poller(&poller, PollPhase::FetchingKeys, None);
                    match inner
                        .jwks
                        .refetch_for_unknown_kid(&inner.http, generation)
                        .await
                    {
                        Some(keys) => {
                            generation = keys.generation;
                            poller.keys_refreshed(keys.set, clock.now());
                        }
                        None => poller.keys_unavailable(),
                    }
                }
                PollAction::Done(tokens) => return Ok(*tokens),
                PollAction::Failed(error) => {
                    if let Some(slot) = &slot {
                        self.take_notifications(slot, None);
                    }
                    return Err(Error::Poll {
                        error,
                        last_refused: self.reporter.last_refused().map(Box::new),
                    });
                }
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
            }
        }
    }

    /// Push: nothing to send; wait for the registry to accept the delivery.
    async fn push(&mut self, slot: &Slot) -> Result<ValidatedTokens, Error> {
        self.reporter.phase(PollPhase::AwaitingPush);
        let expiry = self.clock.instant_at(self.ack.expires_at);
        loop {
            if let Some(push) = self.take_notifications(slot, None) {
                return match push {
                    Push::Tokens { tokens, .. } => Ok(*tokens),
                    Push::Error { error, .. } => Err(Error::Pushed(error)),
                };
            }
            if self.clock.now() >= self.ack.expires_at {
                return Err(Error::Poll {
                    error: PollError::ExpiredLocally {
                        expires_at: self.ack.expires_at,
                    },
                    last_refused: self.reporter.last_refused().map(Box::new),
                });
            }
            tokio::select! {
                () = tokio::time::sleep_until(expiry) => {}
                () = slot.changed() => {}
            }
        }
    }

    /// Takes what the registry gathered: pings go to `poller`, refusals to the progress, and
    /// an accepted push is returned.
    fn take_notifications(&mut self, slot: &Slot, poller: Option<&mut Poller>) -> Option<Push> {
        let mut state = slot.state();
        if let Some(poller) = poller {
            for _ in 0..std::mem::take(&mut state.pings).min(1) {
                debug!("ping received");
                poller.ping_received();
            }
        }
        self.reporter
            .refused(state.refused, state.last_refused.clone());
        state.pushed.take()
    }
}
