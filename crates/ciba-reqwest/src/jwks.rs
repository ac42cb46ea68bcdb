//! The OP's JWK Set: fetched on first use, kept for a TTL, refetched early (at most once per
//! cooldown) when an ID token names a key the cached set lacks.

use std::time::Duration;

use ciba_core::jose::JwkSet;
use ciba_core::{ConfigError, Limits};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::error::Error;
use crate::transport::{Transport, redacted};

#[derive(Debug, Default)]
struct Cached {
    set: Option<JwkSet>,
    /// When the cached set was fetched (successful fetches only): the TTL counts from here.
    fetched_at: Option<Instant>,
    /// When the last fetch was attempted: the unknown-key cooldown counts from here.
    attempted_at: Option<Instant>,
    fetches: u64,
}

/// A shared, lazily filled JWK Set cache.
#[derive(Debug)]
pub(crate) struct JwksCache {
    uri: Option<url::Url>,
    ttl: Duration,
    cooldown: Duration,
    state: Mutex<Cached>,
}

/// What [`JwksCache::refresh_for_unknown_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// A fresh set was fetched.
    Fetched,
    /// The cooldown since the last fetch has not passed: nothing was fetched.
    CoolingDown,
}

impl JwksCache {
    pub(crate) fn new(uri: Option<url::Url>, ttl: Duration, cooldown: Duration) -> JwksCache {
        JwksCache {
            uri,
            ttl,
            cooldown,
            state: Mutex::new(Cached::default()),
        }
    }

    /// The cached set, fetched first when there is none or it is older than the TTL.
    pub(crate) async fn current(
        &self,
        transport: &Transport,
        limits: &Limits,
    ) -> Result<JwkSet, Error> {
        let mut state = self.state.lock().await;
        let fresh = state.fetched_at.is_some_and(|at| at.elapsed() < self.ttl);
        if let (true, Some(set)) = (fresh, &state.set) {
            return Ok(set.clone());
        }
        let set = self.fetch(transport, limits, &mut state).await?;
        Ok(set)
    }

    /// Refetches the set because a token named an unknown key, unless the last fetch is more
    /// recent than the cooldown.
    pub(crate) async fn refresh_for_unknown_key(
        &self,
        transport: &Transport,
        limits: &Limits,
    ) -> Result<(Refresh, JwkSet), Error> {
        let mut state = self.state.lock().await;
        let cooling = state
            .attempted_at
            .is_some_and(|at| at.elapsed() < self.cooldown);
        if let (true, Some(set)) = (cooling, &state.set) {
            debug!(cooldown = ?self.cooldown, "unknown signing key; JWKS refetch skipped (cooldown)");
            return Ok((Refresh::CoolingDown, set.clone()));
        }
        info!("unknown signing key; refetching the JWKS");
        let set = self.fetch(transport, limits, &mut state).await?;
        Ok((Refresh::Fetched, set))
    }

    /// Number of fetches made so far.
    pub(crate) async fn fetches(&self) -> u64 {
        self.state.lock().await.fetches
    }

    async fn fetch(
        &self,
        transport: &Transport,
        limits: &Limits,
        state: &mut Cached,
    ) -> Result<JwkSet, Error> {
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
        // Whatever happens, this was an attempt: the cooldown counts from it.
        state.attempted_at = Some(Instant::now());
        state.fetches = state.fetches.saturating_add(1);
        let response = transport.send(request).await?;
        let set = JwkSet::from_response(&response, limits)?;
        debug!(url = %redacted(uri), keys = set.keys.len(), "JWKS fetched");
        state.set = Some(set.clone());
        state.fetched_at = state.attempted_at;
        Ok(set)
    }
}
