//! [`CibaClient`]: ciba-core's client flow, driven over hyper.
//!
//! Every decision is ciba-core's: the discovery check, the request, the acknowledgement, the
//! `Poller` (when to send, what each answer means, backoff, `slow_down`, expiry), ID token
//! validation, and the notifications. This module sends what the core builds, sleeps until
//! the deadline it names, and feeds back what came (or the transport failure).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ciba_core::ack::AuthRequestAck;
use ciba_core::auth_request::AuthRequest;
use ciba_core::id_token::IdTokenValidator;
use ciba_core::jose::{JwkSet, Signer};
use ciba_core::metadata::{DiscoveryDocument, discovery_request};
use ciba_core::notification::Push;
use ciba_core::poll::{PollAction, PollConfig, PollError, Poller};
use ciba_core::random::{OsRandom, Random};
use ciba_core::token_response::ValidatedTokens;
use ciba_core::{ClientConfig, DeliveryMode, DpopKey, ServerMetadata};
use tokio::sync::{Notify, watch};

use crate::clock::FlowClock;
use crate::error::Error;
use crate::jwks::{DEFAULT_JWKS_MIN_REFRESH, DEFAULT_JWKS_TTL, JwksCache};
use crate::receiver::{BindingGuard, NotificationRegistry, PushSlot, Waker};
use crate::transport::HttpClient;
use ciba_core::progress::{PollPhase, PollProgress};

type PollTuning = Arc<dyn Fn(PollConfig) -> PollConfig + Send + Sync>;
type ValidatorTuning = Arc<dyn Fn(IdTokenValidator) -> IdTokenValidator + Send + Sync>;

/// Builds a [`CibaClient`]: from discovery ([`CibaClientBuilder::discover`]) or from metadata
/// already at hand ([`CibaClientBuilder::build`]).
pub struct CibaClientBuilder {
    config: ClientConfig,
    http: Option<HttpClient>,
    registry: Option<NotificationRegistry>,
    rng: Option<Arc<dyn Random>>,
    dpop: Option<DpopKey>,
    jwks_ttl: Duration,
    jwks_min_refresh: Duration,
    poll_tuning: Option<PollTuning>,
    validator_tuning: Option<ValidatorTuning>,
}

impl fmt::Debug for CibaClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CibaClientBuilder")
            .field("client_id", &self.config.client_id)
            .field("delivery_mode", &self.config.delivery_mode)
            .field("dpop", &self.dpop.is_some())
            .finish_non_exhaustive()
    }
}

impl CibaClientBuilder {
    /// Sends through `http` (default: [`HttpClient::http`], plain http only). Pass a client over
    /// a TLS connector for `https` OPs; its timeout and body cap apply to every request.
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Binds ping and push requests in `registry` (served by a
    /// [`NotificationReceiver`](crate::NotificationReceiver) or a
    /// [`NotificationService`](crate::NotificationService)), so notifications wake the flow.
    /// Required for push clients; without it a ping client simply polls.
    pub fn notifications(mut self, registry: NotificationRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The random source (default: the operating system's, `OsRandom`).
    pub fn rng(mut self, rng: Arc<dyn Random>) -> Self {
        self.rng = Some(rng);
        self
    }

    /// Sends a DPoP proof by `key` with every token request and expects DPoP-bound tokens
    /// (RFC 9449).
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// How long a fetched JWK Set is used before it is fetched again (default 10 minutes).
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// The shortest time between two JWK Set fetches caused by an ID token whose key is not in
    /// the cached set (default 30 s).
    pub fn jwks_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_min_refresh = interval;
        self
    }

    /// Adjusts the `PollConfig` of every flow (failure limits, backoff cap, extension
    /// parameters). Use [`CibaClientBuilder::dpop`] for DPoP.
    pub fn poll_config(
        mut self,
        tune: impl Fn(PollConfig) -> PollConfig + Send + Sync + 'static,
    ) -> Self {
        self.poll_tuning = Some(Arc::new(tune));
        self
    }

    /// Adjusts the `IdTokenValidator` (built with `IdTokenValidator::for_client` and the
    /// cached keys) of every flow: `acr_values`, `max_iat_age`, a registered algorithm, ...
    pub fn id_token_validator(
        mut self,
        tune: impl Fn(IdTokenValidator) -> IdTokenValidator + Send + Sync + 'static,
    ) -> Self {
        self.validator_tuning = Some(Arc::new(tune));
        self
    }

    /// Fetches `{issuer}/.well-known/openid-configuration`, checks it with ciba-core (the
    /// `issuer` member must equal `issuer` exactly) and builds the client.
    pub async fn discover(mut self, issuer: &str) -> Result<CibaClient, Error> {
        let http = self.http.get_or_insert_with(HttpClient::http).clone();
        let request = discovery_request(
            issuer,
            DiscoveryDocument::OpenIdConfiguration,
            &self.config.endpoint_policy,
        )?;
        let response = http.send(request).await?;
        let metadata = ServerMetadata::from_response(&response, issuer, &self.config.limits)?;
        tracing::info!(issuer, "discovered the OP");
        self.build(metadata)
    }

    /// Builds the client for `metadata` (checked by ciba-core's `Client::new`).
    pub fn build(self, metadata: ServerMetadata) -> Result<CibaClient, Error> {
        let http = self.http.unwrap_or_else(HttpClient::http);
        let policy = self.config.endpoint_policy;
        let limits = self.config.limits;
        let client = ciba_core::Client::new(self.config, metadata)?;
        if client.delivery_mode() == DeliveryMode::Push && self.registry.is_none() {
            return Err(Error::NoNotificationRegistry);
        }
        let jwks = JwksCache::new(
            http.clone(),
            client.metadata(),
            &policy,
            limits,
            self.jwks_ttl,
            self.jwks_min_refresh,
        )?;
        Ok(CibaClient {
            inner: Arc::new(Inner {
                client,
                http,
                jwks: Arc::new(jwks),
                registry: self.registry,
                rng: self.rng.unwrap_or_else(|| Arc::new(OsRandom)),
                dpop: self.dpop,
                poll_tuning: self.poll_tuning,
                validator_tuning: self.validator_tuning,
            }),
        })
    }
}

struct Inner {
    client: ciba_core::Client,
    http: HttpClient,
    jwks: Arc<JwksCache>,
    registry: Option<NotificationRegistry>,
    rng: Arc<dyn Random>,
    dpop: Option<DpopKey>,
    poll_tuning: Option<PollTuning>,
    validator_tuning: Option<ValidatorTuning>,
}

/// An async CIBA client for one OP over hyper. Cheap to clone (an `Arc` inside), `Send` and
/// `Sync`: keep one in your application state.
///
/// Every future it returns is cancel-safe in the sense that matters: dropping it stops the
/// flow (no task keeps polling) and forgets the flow's notification binding.
#[derive(Clone)]
pub struct CibaClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for CibaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CibaClient")
            .field("issuer", &self.inner.client.issuer())
            .field("client_id", &self.inner.client.client_id())
            .field("delivery_mode", &self.inner.client.delivery_mode())
            .field("http", &self.inner.http)
            .finish_non_exhaustive()
    }
}

impl CibaClient {
    /// A builder for the client `config` describes (set `config.endpoint_policy` to
    /// `EndpointPolicy::ALLOW_HTTP_LOOPBACK` for plain-http loopback OPs).
    pub fn builder(config: ClientConfig) -> CibaClientBuilder {
        CibaClientBuilder {
            config,
            http: None,
            registry: None,
            rng: None,
            dpop: None,
            jwks_ttl: DEFAULT_JWKS_TTL,
            jwks_min_refresh: DEFAULT_JWKS_MIN_REFRESH,
            poll_tuning: None,
            validator_tuning: None,
        }
    }

    /// The sans-I/O client: configuration and metadata.
    pub fn core(&self) -> &ciba_core::Client {
        &self.inner.client
    }

    /// The HTTP client requests go through.
    pub fn http_client(&self) -> &HttpClient {
        &self.inner.http
    }

    /// The notification registry, when configured.
    pub fn notifications(&self) -> Option<&NotificationRegistry> {
        self.inner.registry.as_ref()
    }

    /// The OP's JWK Set: cached, or fetched when the cache is older than its time to live.
    pub async fn jwks(&self) -> Result<JwkSet, Error> {
        self.inner.jwks.current().await
    }

    /// The ID token validator flows use, with the current keys.
    pub async fn id_token_validator(&self) -> Result<IdTokenValidator, Error> {
        let keys = self.inner.jwks.current().await?;
        let validator = IdTokenValidator::for_client(&self.inner.client, keys);
        Ok(match &self.inner.validator_tuning {
            Some(tune) => tune(validator),
            None => validator,
        })
    }

    /// Sends the backchannel authentication request (CIBA 7.1) and returns the OP's
    /// acknowledgement. For ping and push clients the `client_notification_token` set on
    /// `request` is sent, or a fresh one (160 bits) when none is set, and the `auth_req_id` is
    /// bound to that token in the notification registry before this returns.
    pub async fn initiate(&self, request: AuthRequest) -> Result<AuthRequestAck, Error> {
        self.initiate_with(request, None).await
    }

    /// Like [`CibaClient::initiate`], with the parameters in a request object signed by
    /// `signer` (CIBA 7.1.1).
    pub async fn initiate_signed(
        &self,
        request: AuthRequest,
        signer: &dyn Signer,
    ) -> Result<AuthRequestAck, Error> {
        self.initiate_with(request, Some(signer)).await
    }

    async fn initiate_with(
        &self,
        request: AuthRequest,
        signer: Option<&dyn Signer>,
    ) -> Result<AuthRequestAck, Error> {
        let inner = &*self.inner;
        let mode = inner.client.delivery_mode();
        let rng: &dyn Random = &*inner.rng;
        let request = request
            .ensure_client_notification_token(&inner.client, rng)
            .map_err(ciba_core::Error::from)?;
        let token = request
            .get_client_notification_token()
            .filter(|_| mode.uses_notifications())
            .map(str::to_owned);
        // A push may arrive as soon as the OP answers: its validator must be ready first.
        let push_validator = match mode {
            DeliveryMode::Push => Some(self.id_token_validator().await?),
            _ => None,
        };
        let registry = inner.registry.as_ref().filter(|_| token.is_some());
        let _in_flight = registry.map(NotificationRegistry::begin_initiation);
        let now = SystemTime::now();
        let http_request = match signer {
            Some(signer) => request.build_signed(&inner.client, signer, now, rng)?,
            None => request.build(&inner.client, now, rng)?,
        };
        // CIBA 7.1.2: the user code is not kept once the request is built.
        drop(request);
        let response = inner.http.send(http_request).await?;
        let ack =
            AuthRequestAck::from_response(&response, SystemTime::now(), inner.client.limits())?;
        tracing::info!(
            auth_req_id = ?ack.auth_req_id,
            expires_in = ack.expires_in.as_secs(),
            interval = ack.interval.as_secs(),
            "authentication request acknowledged"
        );
        if let (Some(registry), Some(token)) = (registry, token) {
            let waker = match push_validator {
                Some(validator) => Waker::Push(Arc::new(PushSlot {
                    validator,
                    keys: inner.jwks.clone(),
                    result: watch::channel(None).0,
                })),
                None => Waker::Ping(Arc::new(Notify::new())),
            };
            registry.bind(&ack.auth_req_id, token, ack.expires_at, waker);
        }
        Ok(ack)
    }

    /// Waits for the tokens of `ack`, as the client's delivery mode says: polling (poll),
    /// polling woken by pings (ping), or the pushed delivery (push).
    pub async fn tokens(&self, ack: &AuthRequestAck) -> Result<ValidatedTokens, Error> {
        self.run(ack, None).await
    }

    /// [`CibaClient::tokens`], publishing progress (polls sent, interval, time left) to
    /// `progress`.
    pub async fn tokens_with_progress(
        &self,
        ack: &AuthRequestAck,
        progress: &watch::Sender<PollProgress>,
    ) -> Result<ValidatedTokens, Error> {
        self.run(ack, Some(progress)).await
    }

    /// Polls the token endpoint for `ack` with ciba-core's `Poller` until tokens or a final
    /// answer: sleeps until each deadline the poller names, sends what it builds, and reports
    /// responses and transport failures (timeouts included) back to it. A ping client with a
    /// notification registry also sends its token request as soon as a ping arrives.
    pub async fn poll(&self, ack: &AuthRequestAck) -> Result<ValidatedTokens, Error> {
        self.poll_flow(ack, None).await
    }

    /// Waits for the OP to push the tokens of `ack` to the notification receiver (push mode),
    /// until the request expires.
    pub async fn wait_for_push(&self, ack: &AuthRequestAck) -> Result<ValidatedTokens, Error> {
        self.push_flow(ack, None).await
    }

    async fn run(
        &self,
        ack: &AuthRequestAck,
        progress: Option<&watch::Sender<PollProgress>>,
    ) -> Result<ValidatedTokens, Error> {
        match self.inner.client.delivery_mode() {
            DeliveryMode::Push => self.push_flow(ack, progress).await,
            _ => self.poll_flow(ack, progress).await,
        }
    }

    /// The flow's poll configuration: asking for keys on an unknown `kid` (answered from the
    /// JWK Set cache), DPoP, and the caller's tuning.
    fn poll_config(&self, validator: IdTokenValidator) -> PollConfig {
        let mut config = PollConfig::new(validator).fetch_keys_on_unknown_kid(true);
        if let Some(key) = &self.inner.dpop {
            config = config.dpop(key.clone());
        }
        match &self.inner.poll_tuning {
            Some(tune) => tune(config),
            None => config,
        }
    }

    async fn poll_flow(
        &self,
        ack: &AuthRequestAck,
        progress: Option<&watch::Sender<PollProgress>>,
    ) -> Result<ValidatedTokens, Error> {
        let inner = &*self.inner;
        let clock = FlowClock::start();
        let auth_req_id = ack.auth_req_id.as_str();
        let (ping, _binding) = match &inner.registry {
            Some(registry) => match registry.waker(auth_req_id) {
                Some(Waker::Ping(notify)) => (
                    Some(notify),
                    Some(BindingGuard {
                        registry: registry.clone(),
                        auth_req_id: auth_req_id.to_owned(),
                    }),
                ),
                _ => (None, None),
            },
            None => (None, None),
        };
        let validator = self.id_token_validator().await?;
        let mut poller = Poller::new(&inner.client, ack, self.poll_config(validator), clock.now())?;
        let report = Reporter { progress, clock };
        let result = loop {
            match poller.next(clock.now(), &*inner.rng) {
                PollAction::Wait(deadline) => {
                    report.poller(&poller, PollPhase::Waiting, Some(deadline));
                    let sleep = tokio::time::sleep_until(clock.instant_at(deadline));
                    match &ping {
                        Some(notify) => tokio::select! {
                            () = sleep => {}
                            () = notify.notified() => poller.ping_received(),
                        },
                        None => sleep.await,
                    }
                }
                PollAction::Send(request) => {
                    report.poller(&poller, PollPhase::Requesting, None);
                    tracing::debug!(
                        auth_req_id = ?ack.auth_req_id,
                        poll = poller.polls_sent(),
                        "token request"
                    );
                    match inner.http.send(request).await {
                        Ok(response) => poller.on_response(response, clock.now()),
                        Err(e) if e.is_transient() => {
                            tracing::warn!(auth_req_id = ?ack.auth_req_id, error = %e,
                                "token request failed");
                            poller.on_transport_error(clock.now());
                        }
                        Err(e) => break Err(e),
                    }
                }
                PollAction::FetchKeys => {
                    // The cache decides whether the OP may be asked again (its refresh
                    // interval).
                    report.poller(&poller, PollPhase::FetchingKeys, None);
                    match inner.jwks.refresh().await {
                        Some(keys) => {
                            tracing::info!("ID token key not in the cached JWK Set: refetched it");
                            poller.keys_refreshed(keys, clock.now());
                        }
                        None => poller.keys_unavailable(),
                    }
                }
                PollAction::Done(tokens) => break Ok(*tokens),
                PollAction::Failed(e) => break Err(Error::Poll(e)),
                _ => break Err(Error::UnknownOutcome),
            }
        };
        report.poller(&poller, PollPhase::Finished, None);
        match &result {
            Ok(_) => tracing::info!(auth_req_id = ?ack.auth_req_id, polls = poller.polls_sent(),
                "tokens received"),
            Err(e) => tracing::info!(auth_req_id = ?ack.auth_req_id, error = %e, "flow ended"),
        }
        result
    }

    async fn push_flow(
        &self,
        ack: &AuthRequestAck,
        progress: Option<&watch::Sender<PollProgress>>,
    ) -> Result<ValidatedTokens, Error> {
        let registry = self
            .inner
            .registry
            .as_ref()
            .ok_or(Error::NoNotificationRegistry)?;
        let auth_req_id = ack.auth_req_id.as_str();
        let Some(Waker::Push(slot)) = registry.waker(auth_req_id) else {
            return Err(Error::NotBound);
        };
        let _binding = BindingGuard {
            registry: registry.clone(),
            auth_req_id: auth_req_id.to_owned(),
        };
        let clock = FlowClock::start();
        let report = Reporter { progress, clock };
        report.push(ack, PollPhase::AwaitingPush);
        let mut delivered = slot.result.subscribe();
        let outcome = tokio::select! {
            outcome = async {
                delivered.wait_for(Option::is_some).await.ok().and_then(|v| v.clone())
            } => outcome,
            () = tokio::time::sleep_until(clock.instant_at(ack.expires_at)) => None,
        };
        report.push(ack, PollPhase::Finished);
        let result = match outcome {
            None => Err(Error::Poll(PollError::ExpiredLocally {
                expires_at: ack.expires_at,
            })),
            Some(Ok(Push::Tokens { tokens, .. })) => Ok(*tokens),
            Some(Ok(Push::Error { error, .. })) => Err(Error::Pushed(error)),
            Some(Ok(_)) => Err(Error::UnknownOutcome),
            Some(Err(e)) => Err(Error::Core(e.into())),
        };
        match &result {
            Ok(_) => tracing::info!(auth_req_id = ?ack.auth_req_id, "pushed tokens received"),
            Err(e) => tracing::info!(auth_req_id = ?ack.auth_req_id, error = %e, "flow ended"),
        }
        result
    }
}

/// Publishes progress snapshots, when someone listens.
struct Reporter<'a> {
    progress: Option<&'a watch::Sender<PollProgress>>,
    clock: FlowClock,
}

impl Reporter<'_> {
    fn poller(&self, poller: &Poller, phase: PollPhase, next: Option<SystemTime>) {
        if let Some(tx) = self.progress {
            tx.send_replace(poller.progress(phase, next, self.clock.now()));
        }
    }

    fn push(&self, ack: &AuthRequestAck, phase: PollPhase) {
        if let Some(tx) = self.progress {
            tx.send_replace(PollProgress::from_ack(ack, phase, self.clock.now()));
        }
    }
}
