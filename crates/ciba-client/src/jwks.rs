//! The OP's JWK Set, as every wait of a [`CibaClient`](crate::CibaClient) shares it.
//!
//! The policy, stated once:
//!
//! - **TTL.** A fetched set is used for [`ClientOptions::jwks_ttl`](crate::ClientOptions)
//!   (default [`DEFAULT_JWKS_TTL`]), then fetched again when next needed. When that fetch
//!   fails, the last good set goes on being used (and the next need tries again).
//! - **Unknown `kid`.** An ID token naming a key the set lacks always gets the freshest set
//!   there is. Every set carries a generation number; a wait asks with the generation it
//!   validated against, and when another wait has fetched a newer set meanwhile, that set is
//!   handed over without asking the OP again (reused, never refused).
//! - **Single-flight.** One fetch at a time: waits that need keys while a fetch runs queue
//!   behind it and take its result.
//! - **Rate bound.** Refetches caused by unknown keys are at least
//!   [`ClientOptions::jwks_min_refetch_interval`](crate::ClientOptions) apart (default
//!   [`DEFAULT_JWKS_MIN_REFETCH_INTERVAL`]), so a stream of bogus `kid`s cannot make the
//!   client hammer `jwks_uri`. A wait that needs a refetch inside that window waits for the
//!   window to end instead of being refused: a real key rotation costs a few seconds, never
//!   the flow. The first refetch after a rotation goes out at once (the TTL fetch does not
//!   count against the window).
//! - **Fallback.** A failed refetch hands back the last good set; validation then says what
//!   is still wrong.
//!
//! Where the two earlier copies disagreed: ciba-reqwest kept sets for an hour and refused a
//! refetch for 60 s after *any* fetch; ciba-hyper kept them 10 minutes and refused for 30 s.
//! Both lost a flow whose provider rotated its key within that window. Here: 10 minutes, and
//! a window that delays instead of refusing.

use std::time::Duration;

use ciba_core::jose::JwkSet;
use ciba_core::{ConfigError, Limits};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use url::Url;

use crate::error::Error;
use crate::send::HttpSend;

/// Default time a fetched JWK Set is used before it is fetched again: 10 minutes.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(600);

/// Default shortest time between two refetches caused by unknown keys: 10 seconds.
pub const DEFAULT_JWKS_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// A key set and its generation (one more for every successful fetch).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) set: JwkSet,
    pub(crate) generation: u64,
}

#[derive(Debug, Default)]
struct State {
    keys: Option<Keys>,
    /// The last successful fetch: the TTL counts from here.
    fetched_at: Option<Instant>,
    /// The last refetch for an unknown key: the rate bound counts from here.
    refetched_at: Option<Instant>,
    fetches: u64,
}

/// The shared cache of one client.
#[derive(Debug)]
pub(crate) struct JwksCache {
    uri: Option<Url>,
    limits: Limits,
    ttl: Duration,
    min_refetch: Duration,
    state: Mutex<State>,
}

impl JwksCache {
    pub(crate) fn new(
        uri: Option<Url>,
        limits: Limits,
        ttl: Duration,
        min_refetch: Duration,
    ) -> JwksCache {
        JwksCache {
            uri,
            limits,
            ttl,
            min_refetch,
            state: Mutex::new(State::default()),
        }
    }

    /// The cached set while fresh; else a fetched one, or the last good one when that fetch
    /// fails.
    pub(crate) async fn current<S: HttpSend>(&self, http: &S) -> Result<Keys, Error> {
        let mut state = self.state.lock().await;
        let fresh = state.fetched_at.is_some_and(|t| t.elapsed() < self.ttl);
        if let (true, Some(keys)) = (fresh, &state.keys) {
            return Ok(keys.clone());
        }
        match self.fetch(http, &mut state).await {
            Ok(keys) => Ok(keys),
            Err(e) => match &state.keys {
                Some(stale) => {
                    warn!(error = %e, "JWKS refetch failed; using the last good set");
                    Ok(stale.clone())
                }
                None => Err(e),
            },
        }
    }

    /// The freshest set for a wait whose ID token named an unknown key after validating
    /// against generation `seen`. `None` only when no set was ever had.
    pub(crate) async fn refetch_for_unknown_kid<S: HttpSend>(
        &self,
        http: &S,
        seen: u64,
    ) -> Option<Keys> {
        loop {
            let mut state = self.state.lock().await;
            if let Some(keys) = state.keys.as_ref().filter(|k| k.generation > seen) {
                debug!("unknown signing key: another wait fetched a newer JWKS");
                return Some(keys.clone());
            }
            let wait = state
                .refetched_at
                .map(|t| self.min_refetch.saturating_sub(t.elapsed()))
                .unwrap_or_default();
            if !wait.is_zero() {
                drop(state);
                debug!(
                    ?wait,
                    "unknown signing key: JWKS refetch waits for its window"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            info!("unknown signing key: refetching the JWKS");
            state.refetched_at = Some(Instant::now());
            return match self.fetch(http, &mut state).await {
                Ok(keys) => Some(keys),
                Err(e) => {
                    warn!(error = %e, "JWKS refetch failed; keeping the last good set");
                    state.keys.clone()
                }
            };
        }
    }

    /// Fetches made so far (successful or not).
    pub(crate) async fn fetches(&self) -> u64 {
        self.state.lock().await.fetches
    }

    async fn fetch<S: HttpSend>(&self, http: &S, state: &mut State) -> Result<Keys, Error> {
        let uri = self
            .uri
            .as_ref()
            .ok_or(ConfigError::MissingMetadata { member: "jwks_uri" })?;
        let request = http::Request::get(uri.as_str())
            .header(
                http::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .body(Vec::new())
            .map_err(|_| ConfigError::InvalidUrl { field: "jwks_uri" })?;
        state.fetches = state.fetches.saturating_add(1);
        let response = http.send(request).await?;
        let set = JwkSet::from_response(&response, &self.limits)?;
        debug!(keys = set.keys.len(), "fetched the OP's JWK Set");
        let generation = state
            .keys
            .as_ref()
            .map_or(1, |k| k.generation.saturating_add(1));
        let keys = Keys { set, generation };
        state.keys = Some(keys.clone());
        state.fetched_at = Some(Instant::now());
        Ok(keys)
    }
}
