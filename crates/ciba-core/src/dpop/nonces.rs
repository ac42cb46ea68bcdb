//! The latest `DPoP-Nonce` of each server, shared by every flow that talks to it.

use std::collections::HashMap;
use std::fmt;

use url::Url;

use super::{is_nonce, nonce_from_response};

/// How many origins a [`DpopNonces`] remembers by default.
pub const DEFAULT_MAX_ORIGINS: usize = 64;

/// The latest `DPoP-Nonce` each server origin (scheme, host, port) handed out.
///
/// RFC 9449 section 8: a nonce belongs to the server, not to one request. A client that keeps
/// one `DpopNonces` for all its flows sends the nonce another flow learnt, and so skips the
/// `use_dpop_nonce` round trip each new flow would otherwise pay. Sans-I/O like the rest of the
/// crate: the caller owns it (behind its own lock when flows run in parallel) and feeds it:
///
/// - before a flow starts, [`DpopNonces::get`] for the token endpoint gives the initial nonce
///   ([`PollConfig::dpop_nonce`](crate::poll::PollConfig::dpop_nonce));
/// - after every response, [`DpopNonces::learn`] (or [`DpopNonces::insert`] with
///   [`Poller::dpop_nonce`](crate::poll::Poller::dpop_nonce)) keeps the newest one, and
///   [`Poller::set_dpop_nonce`](crate::poll::Poller::set_dpop_nonce) hands it to the other
///   flows.
///
/// Only values with the RFC 9449 nonce syntax are kept, only for origins that have one
/// (`https://…`, `http://…`), and at most `max_origins` of them: beyond that, one origin is
/// forgotten for each new one. `Debug` shows how many origins are known, not the nonces.
#[derive(Clone)]
pub struct DpopNonces {
    by_origin: HashMap<String, String>,
    max_origins: usize,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("origins", &self.by_origin.len())
            .field("max_origins", &self.max_origins)
            .finish()
    }
}

impl Default for DpopNonces {
    fn default() -> Self {
        DpopNonces::new()
    }
}

/// The key of `url`'s origin; `None` for an opaque origin (no host to share with).
fn origin_key(url: &Url) -> Option<String> {
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

impl DpopNonces {
    /// An empty cache for up to [`DEFAULT_MAX_ORIGINS`] origins.
    pub fn new() -> DpopNonces {
        DpopNonces::with_max_origins(DEFAULT_MAX_ORIGINS)
    }

    /// An empty cache for up to `max` origins (at least 1).
    pub fn with_max_origins(max: usize) -> DpopNonces {
        DpopNonces {
            by_origin: HashMap::new(),
            max_origins: max.max(1),
        }
    }

    /// The latest nonce of `url`'s origin, if any.
    pub fn get(&self, url: &Url) -> Option<&str> {
        self.by_origin.get(&origin_key(url)?).map(String::as_str)
    }

    /// Keeps `nonce` as the latest of `url`'s origin. Returns false (and keeps nothing) when
    /// the nonce does not have the RFC 9449 syntax or the origin is opaque.
    pub fn insert(&mut self, url: &Url, nonce: &str) -> bool {
        let Some(key) = origin_key(url).filter(|_| is_nonce(nonce)) else {
            return false;
        };
        if !self.by_origin.contains_key(&key) && self.by_origin.len() >= self.max_origins {
            let victim = self.by_origin.keys().next().cloned();
            if let Some(victim) = victim {
                self.by_origin.remove(&victim);
            }
        }
        self.by_origin.insert(key, nonce.to_owned());
        true
    }

    /// Keeps the `DPoP-Nonce` header of `resp`, a response from `url`, when it has one; returns
    /// it.
    pub fn learn<B>(&mut self, url: &Url, resp: &http::Response<B>) -> Option<&str> {
        let nonce = nonce_from_response(resp)?;
        if !self.insert(url, &nonce) {
            return None;
        }
        self.get(url)
    }

    /// Forgets the nonce of `url`'s origin.
    pub fn remove(&mut self, url: &Url) {
        if let Some(key) = origin_key(url) {
            self.by_origin.remove(&key);
        }
    }

    /// How many origins have a nonce.
    pub fn len(&self) -> usize {
        self.by_origin.len()
    }

    /// True when no origin has a nonce.
    pub fn is_empty(&self) -> bool {
        self.by_origin.is_empty()
    }
}
