//! The OP's JWK Set, fetched from `jwks_uri` and cached: refetched when its time to live has
//! passed, and on demand when an ID token names a key the cached set lacks, at most once per
//! refresh interval.

use std::fmt;
use std::time::Duration;

use ciba_core::body::{APPLICATION_JSON, APPLICATION_JWK_SET_JSON};
use ciba_core::jose::JwkSet;
use ciba_core::{Limits, ServerMetadata};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::Error;
use crate::transport::HttpClient;

/// Default time a fetched JWK Set is used before it is fetched again: 10 minutes.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(600);

/// Default shortest time between two fetches caused by an unknown key: 30 seconds.
pub const DEFAULT_JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Cached {
    keys: Option<JwkSet>,
    fetched_at: Option<Instant>,
}

/// A cached JWK Set for one OP.
pub(crate) struct JwksCache {
    http: HttpClient,
    uri: Option<Url>,
    limits: Limits,
    ttl: Duration,
    min_refresh: Duration,
    state: Mutex<Cached>,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("uri", &self.uri.as_ref().map(Url::as_str))
            .field("ttl", &self.ttl)
            .field("min_refresh", &self.min_refresh)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub(crate) fn new(
        http: HttpClient,
        metadata: &ServerMetadata,
        policy: &ciba_core::EndpointPolicy,
        limits: Limits,
        ttl: Duration,
        min_refresh: Duration,
    ) -> Result<JwksCache, Error> {
        let uri = match metadata.jwks_uri {
            Some(_) => Some(
                metadata
                    .endpoint("jwks_uri", false, policy)
                    .map_err(ciba_core::Error::from)?,
            ),
            None => None,
        };
        Ok(JwksCache {
            http,
            uri,
            limits,
            ttl,
            min_refresh,
            state: Mutex::new(Cached::default()),
        })
    }

    /// The cached set while it is fresh; otherwise a fetched one (or, when that fetch fails,
    /// the stale set if there is one). An OP without `jwks_uri` has an empty set.
    pub(crate) async fn current(&self) -> Result<JwkSet, Error> {
        let mut state = self.state.lock().await;
        let fresh = state.fetched_at.is_some_and(|t| t.elapsed() < self.ttl);
        if let (true, Some(keys)) = (fresh, &state.keys) {
            return Ok(keys.clone());
        }
        match self.fetch().await {
            Ok(keys) => Ok(store(&mut state, keys)),
            Err(e) => match &state.keys {
                Some(stale) => {
                    tracing::warn!(error = %e, "JWKS refetch failed; using the cached keys");
                    Ok(stale.clone())
                }
                None => Err(e),
            },
        }
    }

    /// After an ID token named an unknown key: a freshly fetched set, or `None` when the last
    /// fetch is more recent than the refresh interval (or the fetch failed).
    pub(crate) async fn refresh(&self) -> Option<JwkSet> {
        let mut state = self.state.lock().await;
        if state
            .fetched_at
            .is_some_and(|t| t.elapsed() < self.min_refresh)
        {
            tracing::debug!("JWKS refresh skipped: fetched too recently");
            return None;
        }
        match self.fetch().await {
            Ok(keys) => Some(store(&mut state, keys)),
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refresh failed");
                None
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, Error> {
        let Some(uri) = &self.uri else {
            return Ok(JwkSet::default());
        };
        let request = http::Request::get(uri.as_str())
            .header(
                http::header::ACCEPT,
                format!("{APPLICATION_JWK_SET_JSON}, {APPLICATION_JSON}"),
            )
            .body(Vec::new())
            .map_err(|_| {
                ciba_core::Error::from(ciba_core::ConfigError::InvalidUrl { field: "jwks_uri" })
            })?;
        let response = self.http.send(request).await?;
        let keys =
            JwkSet::from_response(&response, &self.limits).map_err(ciba_core::Error::from)?;
        tracing::debug!(keys = keys.keys.len(), "fetched the OP's JWK Set");
        Ok(keys)
    }
}

fn store(state: &mut Cached, keys: JwkSet) -> JwkSet {
    state.keys = Some(keys.clone());
    state.fetched_at = Some(Instant::now());
    keys
}
