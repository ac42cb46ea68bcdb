//! [`CibaClient`]: ciba-core's client flow over any [`HttpSend`]: discovery, initiation, the
//! JWK Set cache, and push validation for the notification registry.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::SystemTime;

use ciba_core::AuthRequest;
use ciba_core::dpop::DpopNonces;
use ciba_core::id_token::IdTokenValidator;
use ciba_core::jose::{JwkSet, Signer};
use ciba_core::notification::{NotificationOutcome, Push, receive_push};
use ciba_core::observe::short_hash;
use ciba_core::poll::PollConfig;
use ciba_core::{AuthRequestAck, Client, ClientConfig, DeliveryMode, Limits};
use ciba_core::{ServerMetadata, discovery_request};
use tracing::field::Empty;
use tracing::{Instrument as _, info, warn};

use crate::error::Error;
use crate::jwks::JwksCache;
use crate::options::ClientOptions;
use crate::registry::{NotificationRegistry, PushCheck};
use crate::send::HttpSend;
use crate::wait::TokenWait;

/// An async CIBA client for one OP, over the transport `S`.
///
/// Cheap to clone (the state is shared) and safe to use from many tasks. It spawns no task:
/// every method works inside the future it returns, and dropping that future stops the work
/// (no request is sent after). Transport crates name it with their adapter:
/// `ciba_reqwest::CibaClient` is `CibaClient<ciba_reqwest::HttpClient>`, and likewise for
/// ciba-hyper.
pub struct CibaClient<S> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S> Clone for CibaClient<S> {
    fn clone(&self) -> Self {
        CibaClient {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) struct Inner<S> {
    pub(crate) core: Client,
    pub(crate) http: S,
    pub(crate) jwks: JwksCache,
    /// The latest `DPoP-Nonce` per origin, shared by every wait of this client.
    pub(crate) nonces: Mutex<DpopNonces>,
    pub(crate) options: ClientOptions,
}

impl<S> fmt::Debug for CibaClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = &self.inner.core;
        f.debug_struct("CibaClient")
            .field("issuer", &core.issuer())
            .field("client_id", &core.client_id())
            .field("delivery_mode", &core.delivery_mode())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl<S: HttpSend> CibaClient<S> {
    /// Fetches the OP's discovery document for `issuer` through `http`, checks that its
    /// `issuer` is exactly `issuer` (OIDC Discovery 4.3), and binds `config` to it (see
    /// ciba-core's `Client::new` for the checks). The JWK Set is fetched when first needed.
    pub async fn discover(
        http: S,
        issuer: &str,
        config: ClientConfig,
        options: ClientOptions,
    ) -> Result<CibaClient<S>, Error> {
        let request =
            discovery_request(issuer, options.discovery_document, &config.endpoint_policy)?;
        let response = http.send(request).await?;
        let metadata = ServerMetadata::from_response(&response, issuer, &config.limits)?;
        info!(issuer, "discovered the OP's metadata");
        CibaClient::new(http, Client::new(config, metadata)?, options)
    }

    /// A client for an OP whose metadata is already known. Push clients need a notification
    /// registry ([`ClientOptions::notifications`]).
    pub fn new(http: S, core: Client, options: ClientOptions) -> Result<CibaClient<S>, Error> {
        if core.delivery_mode() == DeliveryMode::Push && options.registry.is_none() {
            return Err(Error::NoNotificationRegistry);
        }
        let jwks_uri = match core.metadata().jwks_uri {
            Some(_) => Some(core.metadata().endpoint(
                "jwks_uri",
                false,
                &core.config().endpoint_policy,
            )?),
            None => None,
        };
        let jwks = JwksCache::new(
            jwks_uri,
            *core.limits(),
            options.jwks_ttl,
            options.jwks_min_refetch,
        );
        Ok(CibaClient {
            inner: Arc::new(Inner {
                core,
                http,
                jwks,
                nonces: Mutex::new(DpopNonces::new()),
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

    /// The transport requests go through.
    pub fn http(&self) -> &S {
        &self.inner.http
    }

    /// The notification registry, when configured.
    pub fn notifications(&self) -> Option<&NotificationRegistry> {
        self.inner.options.registry.as_ref()
    }

    /// Sends a backchannel authentication request (CIBA 7.1) and returns the OP's
    /// acknowledgement; the OP's OAuth errors are [`Error::Core`]. Ping and push requests
    /// carry the `client_notification_token` set on `request`, or a fresh one (160 bits), and
    /// are registered in the notification registry, when there is one, before this returns.
    /// The request is consumed so that a `user_code` is not kept (CIBA 7.1.2).
    pub async fn initiate(&self, request: AuthRequest) -> Result<AuthRequestAck, Error> {
        self.initiate_with(request, None).await
    }

    /// Like [`CibaClient::initiate`], with every parameter in a request object signed by
    /// `signer` (CIBA 7.1.1).
    pub async fn initiate_signed(
        &self,
        request: AuthRequest,
        signer: &dyn Signer,
    ) -> Result<AuthRequestAck, Error> {
        self.initiate_with(request, Some(signer)).await
    }

    /// Runs in an `INFO` span named `ciba_client_initiate` with the `client_id`, the `mode`,
    /// the acknowledged request's `auth_req` (its short hash) and the `outcome`
    /// ([`Error::label`] or `ok`).
    async fn initiate_with(
        &self,
        request: AuthRequest,
        signer: Option<&dyn Signer>,
    ) -> Result<AuthRequestAck, Error> {
        let core = &self.inner.core;
        let span = tracing::info_span!(
            "ciba_client_initiate",
            client_id = core.client_id(),
            mode = core.delivery_mode().as_str(),
            auth_req = Empty,
            outcome = Empty
        );
        let result = self
            .initiate_unobserved(request, signer)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(ack) if !span.is_disabled() => {
                span.record(
                    "auth_req",
                    tracing::field::display(short_hash(ack.auth_req_id.as_str())),
                );
                span.record("outcome", "ok");
            }
            Ok(_) => {}
            Err(e) => {
                span.record("outcome", e.label());
            }
        }
        result
    }

    async fn initiate_unobserved(
        &self,
        request: AuthRequest,
        signer: Option<&dyn Signer>,
    ) -> Result<AuthRequestAck, Error> {
        let inner = &*self.inner;
        let rng = &*inner.options.rng;
        let request = request
            .ensure_client_notification_token(&inner.core, rng)
            .map_err(ciba_core::Error::from)?;
        let token = request.get_client_notification_token().map(str::to_owned);
        let registry = self.notifications().filter(|_| token.is_some());
        let push = inner.core.delivery_mode() == DeliveryMode::Push;
        if push && registry.is_some() {
            // A push may arrive as soon as the OP answers: have its keys ready.
            self.jwks().await?;
        }
        let _in_flight = registry.map(NotificationRegistry::begin_initiation);
        let now = SystemTime::now();
        let http_request = match signer {
            Some(signer) => request.build_signed(&inner.core, signer, now, rng)?,
            None => request.build(&inner.core, now, rng)?,
        };
        drop(request);
        // The acknowledgement's clock starts when the request was sent, so the client's
        // deadline is never later than the OP's.
        let response = inner.http.send(http_request).await?;
        let ack = AuthRequestAck::from_response(&response, now, self.limits())
            .inspect_err(|e| warn!(error = %e, "backchannel authentication request refused"))?;
        info!(
            auth_req = %short_hash(ack.auth_req_id.as_str()),
            expires_in = ?ack.expires_in,
            interval = ?ack.interval,
            "backchannel authentication request acknowledged"
        );
        if let (Some(registry), Some(token)) = (registry, token) {
            let check = push.then(|| {
                Arc::new(PushValidation {
                    inner: Arc::downgrade(&self.inner),
                }) as Arc<dyn PushCheck>
            });
            registry.register(
                inner.core.issuer(),
                &ack.auth_req_id,
                token,
                ack.expires_at,
                check,
            )?;
        }
        Ok(ack)
    }

    /// Waits for the tokens of `ack`: a [`TokenWait`] to configure (progress) and `.await`.
    /// Poll and ping clients poll the token endpoint as ciba-core's `Poller` directs (a ping
    /// sends the next request at once); push clients wait for the delivery.
    pub fn wait_for_tokens<'a>(&'a self, ack: &'a AuthRequestAck) -> TokenWait<'a, S> {
        TokenWait::new(self, ack)
    }

    /// The OP's JWK Set: the cached one, or a fresh fetch when there is none yet or it is
    /// older than [`ClientOptions::jwks_ttl`] (the last good set when that fetch fails).
    pub async fn jwks(&self) -> Result<JwkSet, Error> {
        Ok(self.inner.jwks.current(&self.inner.http).await?.set)
    }

    /// JWK Set fetches made so far, successful or not (for monitoring and tests).
    pub async fn jwks_fetches(&self) -> u64 {
        self.inner.jwks.fetches().await
    }

    /// The ID token validator waits use, over the current JWK Set.
    pub async fn id_token_validator(&self) -> Result<IdTokenValidator, Error> {
        let keys = self.jwks().await?;
        Ok(self.inner.validator(keys))
    }

    pub(crate) fn limits(&self) -> &Limits {
        self.inner.core.limits()
    }
}

impl<S> Inner<S> {
    /// The validator for `jwks`, with the caller's adjustments.
    pub(crate) fn validator(&self, jwks: JwkSet) -> IdTokenValidator {
        let v = IdTokenValidator::for_client(&self.core, jwks);
        match &self.options.validator_hook {
            Some(hook) => hook(v),
            None => v,
        }
    }

    /// The shared DPoP nonces.
    pub(crate) fn nonces(&self) -> MutexGuard<'_, DpopNonces> {
        self.nonces.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The poll configuration for `jwks`: keys asked for on an unknown `kid` (the cache
    /// answers), DPoP (with the token endpoint's latest nonce, learnt by any wait), and the
    /// caller's adjustments.
    pub(crate) fn poll_config(&self, jwks: JwkSet) -> PollConfig {
        let mut config = PollConfig::new(self.validator(jwks)).fetch_keys_on_unknown_kid(true);
        if let Some(key) = &self.options.dpop {
            config = config.dpop(key.clone());
            let nonce = self
                .core
                .token_endpoint()
                .ok()
                .and_then(|url| self.nonces().get(url).map(str::to_owned));
            if let Some(nonce) = nonce {
                config = config.dpop_nonce(nonce);
            }
        }
        match &self.options.poll_hook {
            Some(hook) => hook(config),
            None => config,
        }
    }
}

/// Validates pushes for a client's registrations: ciba-core's `receive_push` against the
/// cached JWK Set, refetched (by the cache's policy) when the ID token names an unknown key.
struct PushValidation<S> {
    /// Weak: the registry lives in the client's options.
    inner: Weak<Inner<S>>,
}

impl<S: HttpSend> PushCheck for PushValidation<S> {
    fn check<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<NotificationOutcome<Push>, Error>> + Send + 'a>> {
        Box::pin(async move {
            let inner = self.inner.upgrade().ok_or(Error::NotRegistered)?;
            let lookup = |_: &str| Some(token.to_owned());
            let limits = *inner.core.limits();
            let keys = inner.jwks.current(&inner.http).await?;
            let validator = inner.validator(keys.set);
            let outcome = receive_push(request, &lookup, &validator, SystemTime::now(), &limits);
            let unknown_kid = matches!(
                &outcome.result,
                Err(ciba_core::NotificationRefusal::IdToken(e)) if e.is_unknown_kid()
            );
            if !unknown_kid {
                return Ok(outcome);
            }
            match inner
                .jwks
                .refetch_for_unknown_kid(&inner.http, keys.generation)
                .await
            {
                Some(fresh) => {
                    let validator = inner.validator(fresh.set);
                    Ok(receive_push(
                        request,
                        &lookup,
                        &validator,
                        SystemTime::now(),
                        &limits,
                    ))
                }
                None => Ok(outcome),
            }
        })
    }
}
