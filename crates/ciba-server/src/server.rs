//! [`CibaServer`]: the configuration, client registry, store and token minter, together.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use ciba_core::jose::JwsAlgorithm;
use ciba_core::jose::hash::sha256_b64;

use crate::auth_req_id::AuthReqId;
use crate::config::ServerConfig;
use crate::minter::TokenMinter;
use crate::observe::{self, LatencyClock};
use crate::registry::ClientRegistry;
use crate::store::{ObservedStore, Store, StoreError, StoredRequest};

/// Why [`CibaServer::try_new`] refused its parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerSetupError {
    /// The minter signs no RS256 ID tokens (OIDC Discovery section 3 requires RS256).
    #[error("the token minter has no RS256 key")]
    NoRs256Key,
    /// Clients may register an ID token algorithm the minter has no key for.
    #[error("id_token_signing_algs lists {alg}, which the token minter cannot sign")]
    NoKeyForAlgorithm {
        /// The algorithm.
        alg: JwsAlgorithm,
    },
}

/// The authorization-server helper. Cheap to share: wrap it in an `Arc` and call it from
/// any thread; all state lives in the [`Store`].
///
/// The endpoint methods live next to their logic:
/// [`authenticate_request`](CibaServer::authenticate_request),
/// [`issue`](CibaServer::issue), [`fail`](CibaServer::fail) (or, for an AS that identifies
/// the user within the request, [`authenticate_request_inline`](CibaServer::authenticate_request_inline),
/// [`issue_inline`](CibaServer::issue_inline) and [`fail_inline`](CibaServer::fail_inline)),
/// [`complete`](CibaServer::complete), [`token_request`](CibaServer::token_request),
/// [`discovery_document`](CibaServer::discovery_document) and
/// [`jwks_document`](CibaServer::jwks_document).
pub struct CibaServer {
    pub(crate) config: ServerConfig,
    pub(crate) registry: Arc<dyn ClientRegistry>,
    pub(crate) store: ObservedStore,
    pub(crate) minter: Arc<dyn TokenMinter>,
}

impl fmt::Debug for CibaServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CibaServer")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl CibaServer {
    /// A server over `config`, looking clients up in `registry`, keeping state in `store`
    /// and minting tokens with `minter`.
    pub fn new(
        config: ServerConfig,
        registry: Arc<dyn ClientRegistry>,
        store: Arc<dyn Store>,
        minter: Arc<dyn TokenMinter>,
    ) -> CibaServer {
        CibaServer {
            config,
            registry,
            store: ObservedStore::new(store),
            minter,
        }
    }

    /// Times every store operation with `clock` into the
    /// [`STORE_OPERATION_SECONDS`](crate::observe::STORE_OPERATION_SECONDS) histogram. Pass
    /// `std::time::Instant::now`. The clock is read for that figure only, never for a
    /// decision; without it (the default) this crate reads no clock at all.
    pub fn with_latency_clock(mut self, clock: LatencyClock) -> CibaServer {
        self.store.set_clock(clock);
        self
    }

    /// [`CibaServer::new`], after checking that the minter signs RS256 (OpenID Connect
    /// Discovery section 3) and every algorithm of
    /// [`ServerConfig::id_token_signing_algs`] (the algorithms clients may register).
    pub fn try_new(
        config: ServerConfig,
        registry: Arc<dyn ClientRegistry>,
        store: Arc<dyn Store>,
        minter: Arc<dyn TokenMinter>,
    ) -> Result<CibaServer, ServerSetupError> {
        let signed = minter.id_token_signing_algs();
        if !signed.contains(&JwsAlgorithm::RS256) {
            return Err(ServerSetupError::NoRs256Key);
        }
        if let Some(alg) = config
            .id_token_signing_algs
            .iter()
            .find(|a| !signed.contains(a))
        {
            return Err(ServerSetupError::NoKeyForAlgorithm { alg: *alg });
        }
        Ok(CibaServer::new(config, registry, store, minter))
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The request `auth_req_id` as stored (for the authentication device: binding message,
    /// scopes, acr values), or `None` once forgotten.
    pub async fn pending_request(
        &self,
        auth_req_id: &AuthReqId,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, StoreError> {
        self.store.request(auth_req_id, now).await
    }

    /// Up to `limit` requests still waiting for the user, soonest expiry first (only those
    /// of `subject` when given), from the [`Store`]: every server instance that shares the
    /// store lists the same requests, whichever instance issued them. This is what an
    /// authentication device shows before the user decides.
    pub async fn pending_requests(
        &self,
        subject: Option<&str>,
        limit: usize,
        now: SystemTime,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        self.store.pending_requests(subject, limit, now).await
    }

    /// Counts the requests waiting for the user in the store, up to `limit`, and sets the
    /// [`PENDING_REQUESTS`](crate::observe::PENDING_REQUESTS) gauge to that count (so it
    /// reads `limit` when at least that many wait). Call it before each scrape of the
    /// metrics: it lists the pending requests, so its cost grows with their number. Every
    /// instance sharing a store sees the same count; aggregate it with `max`, not `sum`.
    pub async fn record_pending_requests(
        &self,
        limit: usize,
        now: SystemTime,
    ) -> Result<usize, StoreError> {
        let count = self.store.pending_requests(None, limit, now).await?.len();
        observe::set_pending(count);
        Ok(count)
    }

    /// True when `token` (an access or refresh token this server issued) was revoked: because
    /// its `auth_req_id` was redeemed a second time, or because it was pushed and the push
    /// was not delivered ([`CibaServer::push_undelivered`]). Resource servers and the refresh grant
    /// should refuse revoked tokens.
    pub async fn is_revoked(&self, token: &str, now: SystemTime) -> Result<bool, StoreError> {
        match token_fingerprint(token) {
            Some(fp) => self.store.is_revoked(&fp, now).await,
            None => Ok(false),
        }
    }
}

/// The fingerprint under which a token's revocation is recorded: base64url(SHA-256(token)).
pub fn token_fingerprint(token: &str) -> Option<String> {
    sha256_b64(token).ok()
}
