//! [`CibaClient`]: a ciba-core [`Client`] with an HTTP transport, a JWK Set cache and a random
//! source.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use ciba_core::auth_request::AuthRequest;
use ciba_core::id_token::{IdTokenError, IdTokenValidator};
use ciba_core::jose::{JwkSet, Signer};
use ciba_core::metadata::{ServerMetadata, discovery_request};
use ciba_core::notification::{
    NotificationError, NotificationOutcome, NotificationTokens, Ping, Push, receive_ping,
    receive_push,
};
use ciba_core::poll::PollConfig;
use ciba_core::token_response::ValidatedTokens;
use ciba_core::{AuthRequestAck, Client, ClientConfig, Limits};
use tracing::{info, warn};

use crate::error::Error;
use crate::jwks::{JwksCache, Refresh};
use crate::notification::NotificationSource;
use crate::options::ClientOptions;
use crate::transport::Transport;
use crate::wait::TokenWait;

/// An async CIBA client for one OP, over reqwest and tokio.
///
/// Cheap to clone (the state is shared) and safe to use from many tasks. It spawns no task:
/// every method does its work inside the returned future, and dropping that future stops it.
#[derive(Clone)]
pub struct CibaClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) core: Client,
    pub(crate) transport: Transport,
    pub(crate) jwks: JwksCache,
    pub(crate) options: ClientOptions,
}

impl fmt::Debug for CibaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CibaClient")
            .field("issuer", &self.inner.core.issuer())
            .field("client_id", &self.inner.core.client_id())
            .field("delivery_mode", &self.inner.core.delivery_mode())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

fn transport_for(config: &ClientConfig, options: &ClientOptions) -> Result<Transport, Error> {
    Transport::new(
        options.http_client.clone(),
        options.identity.clone(),
        config.endpoint_policy.allow_http_loopback,
        options.request_timeout,
        options
            .max_body_bytes
            .unwrap_or(config.limits.max_body_bytes),
    )
}

impl CibaClient {
    /// Fetches the OP's discovery document for `issuer`, checks that its `issuer` is exactly
    /// `issuer` (OIDC Discovery 4.3), and binds `config` to it (see [`Client::new`] for the
    /// checks: backchannel endpoint, delivery mode, token endpoint, endpoint policy). The JWK
    /// Set is fetched later, when first needed.
    pub async fn discover(
        issuer: &str,
        config: ClientConfig,
        options: ClientOptions,
    ) -> Result<CibaClient, Error> {
        let transport = transport_for(&config, &options)?;
        let request =
            discovery_request(issuer, options.discovery_document, &config.endpoint_policy)?;
        let response = transport.send(request).await?;
        let metadata = ServerMetadata::from_response(&response, issuer, &config.limits)?;
        info!(issuer, "discovered the OP's metadata");
        Self::with_transport(Client::new(config, metadata)?, options, transport)
    }

    /// A client for an OP whose metadata is already known (configured, or fetched earlier).
    pub fn new(client: Client, options: ClientOptions) -> Result<CibaClient, Error> {
        let transport = transport_for(client.config(), &options)?;
        Self::with_transport(client, options, transport)
    }

    fn with_transport(
        core: Client,
        options: ClientOptions,
        transport: Transport,
    ) -> Result<CibaClient, Error> {
        let jwks_uri = match core.metadata().jwks_uri.as_deref() {
            Some(raw) => Some(core.config().endpoint_policy.parse("jwks_uri", raw)?),
            None => None,
        };
        let jwks = JwksCache::new(jwks_uri, options.jwks_ttl, options.jwks_refresh_cooldown);
        Ok(CibaClient {
            inner: Arc::new(Inner {
                core,
                transport,
                jwks,
                options,
            }),
        })
    }

    /// The ciba-core client: configuration, metadata and the chosen endpoints.
    pub fn core(&self) -> &Client {
        &self.inner.core
    }

    /// The OP's metadata.
    pub fn metadata(&self) -> &ServerMetadata {
        self.inner.core.metadata()
    }

    /// Sends a backchannel authentication request with its parameters as form parameters and
    /// returns the OP's acknowledgement. An OAuth error from the OP is
    /// [`Error::Core`]`(`[`ciba_core::Error::OAuth`]`)`. The request is consumed so that a
    /// `user_code` is not kept (CIBA 7.1.2).
    pub async fn initiate(&self, request: AuthRequest) -> Result<AuthRequestAck, Error> {
        let now = SystemTime::now();
        let http_request = request.build(&self.inner.core, now, &*self.inner.options.rng)?;
        drop(request);
        self.acknowledge(http_request, now).await
    }

    /// Sends a signed backchannel authentication request (CIBA 7.1.1): every parameter inside
    /// a `request` object signed by `signer`.
    pub async fn initiate_signed(
        &self,
        request: AuthRequest,
        signer: &dyn Signer,
    ) -> Result<AuthRequestAck, Error> {
        let now = SystemTime::now();
        let http_request =
            request.build_signed(&self.inner.core, signer, now, &*self.inner.options.rng)?;
        drop(request);
        self.acknowledge(http_request, now).await
    }

    /// The acknowledgement's clock starts when the request was sent, so the client's deadline
    /// is never later than the OP's.
    async fn acknowledge(
        &self,
        request: http::Request<Vec<u8>>,
        sent_at: SystemTime,
    ) -> Result<AuthRequestAck, Error> {
        let response = self.inner.transport.send(request).await?;
        let ack = AuthRequestAck::from_response(&response, sent_at, self.limits())
            .inspect_err(|e| warn!(error = %e, "backchannel authentication request refused"))?;
        info!(
            auth_req_id = ?ack.auth_req_id,
            expires_in = ?ack.expires_in,
            interval = ?ack.interval,
            "backchannel authentication request acknowledged"
        );
        Ok(ack)
    }

    /// Waits for the tokens of `ack`: a [`TokenWait`] to configure (notifications, progress)
    /// and `.await`. Poll and ping clients poll the token endpoint as the core's poller
    /// directs; push clients wait for the delivery.
    pub fn wait_for_tokens<'a>(&'a self, ack: &'a AuthRequestAck) -> TokenWait<'a> {
        TokenWait::new(self, ack)
    }

    /// Polls the token endpoint until the tokens come (their ID token validated) or the
    /// request ends. Shorthand for `wait_for_tokens(ack).await`.
    ///
    /// Cancel-safe: dropping the future stops polling at once and no request follows.
    pub async fn poll(&self, ack: &AuthRequestAck) -> Result<ValidatedTokens, Error> {
        self.wait_for_tokens(ack).await
    }

    /// Like [`CibaClient::poll`], also listening to ping or push events from `source` (see
    /// [`crate::notification`]). Shorthand for `wait_for_tokens(ack).notifications(source)`.
    pub async fn poll_with_notifications<S: NotificationSource>(
        &self,
        ack: &AuthRequestAck,
        source: S,
    ) -> Result<ValidatedTokens, Error> {
        self.wait_for_tokens(ack).notifications(source).await
    }

    /// The OP's JWK Set: the cached one, or a fresh fetch when there is none yet or the cached
    /// one is older than [`ClientOptions::jwks_ttl`].
    pub async fn jwks(&self) -> Result<JwkSet, Error> {
        self.inner
            .jwks
            .current(&self.inner.transport, self.limits())
            .await
    }

    /// Number of JWK Set fetches so far (for monitoring and tests).
    pub async fn jwks_fetches(&self) -> u64 {
        self.inner.jwks.fetches().await
    }

    /// An ID token validator for this client over the current JWK Set, adjusted by
    /// [`ClientOptions::validator`].
    pub async fn id_token_validator(&self) -> Result<IdTokenValidator, Error> {
        let jwks = self.jwks().await?;
        Ok(self.inner.validator(jwks))
    }

    /// Checks a ping notification with the core (see
    /// [`receive_ping`]); `tokens` looks up the
    /// `client_notification_token` of each pending request.
    pub fn receive_ping<T>(
        &self,
        request: &http::Request<Vec<u8>>,
        tokens: &T,
    ) -> NotificationOutcome<Ping>
    where
        T: NotificationTokens + ?Sized,
    {
        receive_ping(request, &Adapter(tokens), self.limits())
    }

    /// Checks a push notification with the core (see
    /// [`receive_push`]), validating pushed ID tokens
    /// against the cached JWK Set, refetched once (subject to the cooldown) when the token
    /// names an unknown key. Fails only when no JWK Set can be had: answer the OP with a 5xx
    /// then, so that it may deliver again.
    pub async fn receive_push<T>(
        &self,
        request: &http::Request<Vec<u8>>,
        tokens: &T,
    ) -> Result<NotificationOutcome<Push>, Error>
    where
        T: NotificationTokens + Sync + ?Sized,
    {
        let limits = self.limits();
        let validator = self.id_token_validator().await?;
        let outcome = receive_push(
            request,
            &Adapter(tokens),
            &validator,
            SystemTime::now(),
            limits,
        );
        if !matches!(
            outcome.result,
            Err(NotificationError::IdToken(IdTokenError::KeyUnavailable(_)))
        ) {
            return Ok(outcome);
        }
        match self.inner.refresh_jwks().await {
            Some(jwks) => {
                let validator = self.inner.validator(jwks);
                Ok(receive_push(
                    request,
                    &Adapter(tokens),
                    &validator,
                    SystemTime::now(),
                    limits,
                ))
            }
            None => Ok(outcome),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        self.inner.core.limits()
    }
}

/// Lets an unsized `NotificationTokens` be passed where the core wants `&dyn`.
struct Adapter<'a, T: ?Sized>(&'a T);

impl<T: NotificationTokens + ?Sized> NotificationTokens for Adapter<'_, T> {
    fn client_notification_token(&self, auth_req_id: &str) -> Option<String> {
        self.0.client_notification_token(auth_req_id)
    }
}

impl Inner {
    /// The validator for `jwks`, with the caller's adjustments.
    pub(crate) fn validator(&self, jwks: JwkSet) -> IdTokenValidator {
        let v = IdTokenValidator::for_client(&self.core, jwks);
        match &self.options.validator_hook {
            Some(hook) => hook(v),
            None => v,
        }
    }

    /// The poll configuration for `jwks`: asking for keys on an unknown `kid` (this client
    /// answers from its cache), DPoP, and the caller's adjustments.
    pub(crate) fn poll_config(&self, jwks: JwkSet) -> PollConfig {
        let mut config = PollConfig::new(self.validator(jwks)).fetch_keys_on_unknown_kid(true);
        if let Some(key) = &self.options.dpop {
            config = config.dpop(key.clone());
        }
        match &self.options.poll_hook {
            Some(hook) => hook(config),
            None => config,
        }
    }

    /// Refetches the JWK Set after an unknown key, when the cooldown allows. `None` when
    /// nothing new was fetched.
    pub(crate) async fn refresh_jwks(&self) -> Option<JwkSet> {
        match self
            .jwks
            .refresh_for_unknown_key(&self.transport, self.core.limits())
            .await
        {
            Ok((Refresh::Fetched, jwks)) => Some(jwks),
            Ok((Refresh::CoolingDown, _)) => None,
            Err(e) => {
                warn!(error = %e, "refetching the JWKS failed");
                None
            }
        }
    }
}
