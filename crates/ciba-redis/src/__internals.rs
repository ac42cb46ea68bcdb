//! Internals for this crate's own integration tests (feature `test-internals`). Not part of
//! the API: anything here may change in any release. Each item forwards to a private one, so
//! the modules themselves stay private.

use std::time::SystemTime;

use ciba_server::store::{ReplayKey, StoredRequest, TokenFingerprint};

use crate::RedisStoreError;

/// A stored request as the text kept under its key.
pub fn encode_body(request: &StoredRequest) -> Result<String, RedisStoreError> {
    crate::body::encode_body(request)
}

/// The stored request that text holds.
pub fn decode_body(text: &str) -> Result<StoredRequest, RedisStoreError> {
    crate::body::decode_body(text)
}

/// The largest millisecond value written (scores stay exact in a double).
pub const MAX_MILLIS: u64 = crate::codec::MAX_MILLIS;

/// An instant in milliseconds since 1970, clamped to `0..=MAX_MILLIS`.
pub fn millis(t: SystemTime) -> u64 {
    crate::codec::millis(t)
}

/// An instant written exactly (seconds and nanoseconds).
pub fn exact(t: SystemTime) -> String {
    crate::codec::exact(t)
}

/// The instant [`exact`] wrote, if the text is one.
pub fn parse_exact(text: &str) -> Option<SystemTime> {
    crate::codec::parse_exact(text)
}

/// A list of issued-token fingerprints as stored.
pub fn encode_tokens(tokens: &[TokenFingerprint]) -> Result<String, RedisStoreError> {
    crate::codec::encode_tokens(tokens)
}

/// The fingerprints [`encode_tokens`] wrote.
pub fn decode_tokens(text: &str) -> Result<Vec<TokenFingerprint>, RedisStoreError> {
    crate::codec::decode_tokens(text)
}

/// The key names of a store with one prefix.
pub struct Keys(crate::keys::Keys);

impl Keys {
    /// The keys under `prefix`.
    pub fn new(prefix: &str) -> Keys {
        Keys(crate::keys::Keys::new(prefix))
    }

    /// The key of a replay entry.
    pub fn jti(&self, key: &ReplayKey) -> String {
        self.0.jti(key)
    }

    /// The key of a client's set of replay entries.
    pub fn client(&self, client_id: &str) -> String {
        self.0.client(client_id)
    }
}
