//! Local policy for a [`CibaClient`](crate::CibaClient): timeouts, size caps, JWKS caching,
//! mTLS identity, DPoP, and hooks into the core's validator and poll configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ciba_core::dpop::DpopKey;
use ciba_core::id_token::IdTokenValidator;
use ciba_core::metadata::DiscoveryDocument;
use ciba_core::poll::PollConfig;
use ciba_core::random::{OsRandom, Random};

/// Default per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default lifetime of a fetched JWK Set before it is fetched again.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(60 * 60);
/// Default minimum time between two JWK Set fetches caused by an unknown key.
pub const DEFAULT_JWKS_REFRESH_COOLDOWN: Duration = Duration::from_secs(60);

type ValidatorHook = Arc<dyn Fn(IdTokenValidator) -> IdTokenValidator + Send + Sync>;
type PollHook = Arc<dyn Fn(PollConfig) -> PollConfig + Send + Sync>;

/// Options for [`CibaClient::discover`](crate::CibaClient::discover) and
/// [`CibaClient::new`](crate::CibaClient::new). Start from [`ClientOptions::default`] and
/// chain the setters.
#[derive(Clone)]
pub struct ClientOptions {
    pub(crate) request_timeout: Duration,
    pub(crate) max_body_bytes: Option<usize>,
    pub(crate) jwks_ttl: Duration,
    pub(crate) jwks_refresh_cooldown: Duration,
    pub(crate) discovery_document: DiscoveryDocument,
    pub(crate) identity: Option<reqwest::Identity>,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) dpop: Option<DpopKey>,
    pub(crate) rng: Arc<dyn Random>,
    pub(crate) validator_hook: Option<ValidatorHook>,
    pub(crate) poll_hook: Option<PollHook>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body_bytes: None,
            jwks_ttl: DEFAULT_JWKS_TTL,
            jwks_refresh_cooldown: DEFAULT_JWKS_REFRESH_COOLDOWN,
            discovery_document: DiscoveryDocument::OpenIdConfiguration,
            identity: None,
            http_client: None,
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
            .field("request_timeout", &self.request_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("jwks_ttl", &self.jwks_ttl)
            .field("jwks_refresh_cooldown", &self.jwks_refresh_cooldown)
            .field("discovery_document", &self.discovery_document)
            .field("identity", &self.identity.as_ref().map(|_| "<set>"))
            .field("http_client", &self.http_client.as_ref().map(|_| "<set>"))
            .field("dpop", &self.dpop)
            .field("validator_hook", &self.validator_hook.is_some())
            .field("poll_hook", &self.poll_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// Timeout of each HTTP exchange, from sending the request to the last byte of the body
    /// (default 30 s). While polling, a timeout is a transient failure reported to the core's
    /// poller, which decides whether and when to retry.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Largest response body read, in bytes (default: the client's
    /// [`Limits::max_body_bytes`](ciba_core::Limits), 256 KiB). Bodies are read chunk by chunk
    /// and reading stops as soon as the cap is passed, whatever `Content-Length` says.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = Some(limit);
        self
    }

    /// How long a fetched JWK Set is used before it is fetched again (default 1 hour).
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// Minimum time between a JWK Set fetch and a refetch caused by an ID token signed with a
    /// key the cached set does not have (default 60 s). Within it, such a token is refused
    /// without asking the OP again, so a stream of bogus `kid`s cannot make the client hammer
    /// the `jwks_uri`.
    pub fn jwks_refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_refresh_cooldown = cooldown;
        self
    }

    /// Which well-known document [`CibaClient::discover`](crate::CibaClient::discover) asks
    /// for (default OpenID Connect Discovery).
    pub fn discovery_document(mut self, document: DiscoveryDocument) -> Self {
        self.discovery_document = document;
        self
    }

    /// The TLS client certificate for mutual TLS (`tls_client_auth` or
    /// `self_signed_tls_client_auth`, RFC 8705). This is one of the two places where a reqwest
    /// type enters this crate's API; build it with `reqwest::Identity::from_pem`. The core
    /// already sends mTLS clients to the OP's `mtls_endpoint_aliases`.
    ///
    /// Ignored when [`ClientOptions::http_client`] supplies the HTTP client: configure the
    /// identity on that client instead.
    pub fn identity(mut self, identity: reqwest::Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Use this `reqwest::Client` instead of building one (for custom root certificates,
    /// proxies, or sharing a connection pool). This is one of the two places where a reqwest
    /// type enters this crate's API.
    ///
    /// The client **must** be built with `redirect(reqwest::redirect::Policy::none())`: CIBA
    /// responses are never followed to another URL. A response that arrives from another URL
    /// than the one requested is refused with [`Error::RedirectFollowed`](crate::Error). The
    /// per-request timeout and body cap of these options still apply;
    /// [`ClientOptions::identity`] does not.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Binds tokens to `key` with DPoP (RFC 9449): every token request carries a fresh proof
    /// and `DPoP` tokens are expected. Same as `poll_config(|c| c.dpop(key))`.
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// The random source for `jti`s, assertions and DPoP proofs (default: the operating
    /// system's, [`OsRandom`]).
    pub fn rng(mut self, rng: Arc<dyn Random>) -> Self {
        self.rng = rng;
        self
    }

    /// Adjusts the ID token validator the client builds from the discovered metadata and the
    /// cached JWK Set (for example `|v| v.acr_values(["loa3"]).require_auth_time(true)`).
    pub fn validator(
        mut self,
        hook: impl Fn(IdTokenValidator) -> IdTokenValidator + Send + Sync + 'static,
    ) -> Self {
        self.validator_hook = Some(Arc::new(hook));
        self
    }

    /// Adjusts the core's poll configuration for every poll (for example
    /// `|c| c.max_consecutive_failures(3).param("resource", "https://api.example")`).
    pub fn poll_config(
        mut self,
        hook: impl Fn(PollConfig) -> PollConfig + Send + Sync + 'static,
    ) -> Self {
        self.poll_hook = Some(Arc::new(hook));
        self
    }
}
