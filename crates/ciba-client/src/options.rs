//! [`ClientOptions`]: the local policy of a [`CibaClient`](crate::CibaClient), whatever the
//! transport: JWKS caching, notifications, DPoP, randomness, and hooks into ciba-core's
//! validator and poll configuration. Timeouts and body caps belong to the transport.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ciba_core::DiscoveryDocument;
use ciba_core::dpop::DpopKey;
use ciba_core::id_token::IdTokenValidator;
use ciba_core::poll::PollConfig;
use ciba_core::random::{OsRandom, Random};

use crate::jwks::{DEFAULT_JWKS_MIN_REFETCH_INTERVAL, DEFAULT_JWKS_TTL};
use crate::registry::NotificationRegistry;

type ValidatorHook = Arc<dyn Fn(IdTokenValidator) -> IdTokenValidator + Send + Sync>;
type PollHook = Arc<dyn Fn(PollConfig) -> PollConfig + Send + Sync>;

/// Options for [`CibaClient::discover`](crate::CibaClient::discover) and
/// [`CibaClient::new`](crate::CibaClient::new). Start from [`ClientOptions::default`] and
/// chain the setters.
#[derive(Clone)]
pub struct ClientOptions {
    pub(crate) jwks_ttl: Duration,
    pub(crate) jwks_min_refetch: Duration,
    pub(crate) discovery_document: DiscoveryDocument,
    pub(crate) registry: Option<NotificationRegistry>,
    pub(crate) dpop: Option<DpopKey>,
    pub(crate) rng: Arc<dyn Random>,
    pub(crate) validator_hook: Option<ValidatorHook>,
    pub(crate) poll_hook: Option<PollHook>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            jwks_ttl: DEFAULT_JWKS_TTL,
            jwks_min_refetch: DEFAULT_JWKS_MIN_REFETCH_INTERVAL,
            discovery_document: DiscoveryDocument::OpenIdConfiguration,
            registry: None,
            dpop: None,
            rng: Arc::new(OsRandom),
            validator_hook: None,
            poll_hook: None,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("jwks_ttl", &self.jwks_ttl)
            .field("jwks_min_refetch", &self.jwks_min_refetch)
            .field("discovery_document", &self.discovery_document)
            .field("registry", &self.registry)
            .field("dpop", &self.dpop)
            .field("validator_hook", &self.validator_hook.is_some())
            .field("poll_hook", &self.poll_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// How long a fetched JWK Set is used before it is fetched again (default 10 minutes).
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// The shortest time between two JWK Set refetches caused by ID tokens naming unknown
    /// keys (default 10 s). A refetch needed sooner waits for the window (see the
    /// crate docs, [the policies](crate#the-policies)).
    pub fn jwks_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_min_refetch = interval;
        self
    }

    /// Which well-known document discovery asks for (default OpenID Connect Discovery).
    pub fn discovery_document(mut self, document: DiscoveryDocument) -> Self {
        self.discovery_document = document;
        self
    }

    /// Receives ping and push notifications through `registry` (fed by a notification
    /// endpoint, such as ciba-hyper's `NotificationReceiver`, or your own route calling
    /// [`NotificationRegistry::handle`]). Required for push clients; without it a ping client
    /// simply polls.
    pub fn notifications(mut self, registry: NotificationRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Binds tokens to `key` with DPoP (RFC 9449): every token request carries a fresh proof
    /// and `DPoP` tokens are expected.
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// The random source for `jti`s, assertions, notification tokens and DPoP proofs
    /// (default: the operating system's, `OsRandom`).
    pub fn rng(mut self, rng: Arc<dyn Random>) -> Self {
        self.rng = rng;
        self
    }

    /// Adjusts the ID token validator built from the metadata and the cached JWK Set (for
    /// example `|v| v.acr_values(["loa3"])`).
    pub fn validator(
        mut self,
        hook: impl Fn(IdTokenValidator) -> IdTokenValidator + Send + Sync + 'static,
    ) -> Self {
        self.validator_hook = Some(Arc::new(hook));
        self
    }

    /// Adjusts ciba-core's poll configuration of every wait (for example
    /// `|c| c.max_consecutive_failures(3).param("resource", "https://api.example")`).
    pub fn poll_config(
        mut self,
        hook: impl Fn(PollConfig) -> PollConfig + Send + Sync + 'static,
    ) -> Self {
        self.poll_hook = Some(Arc::new(hook));
        self
    }
}
