//! [`RedisStoreError`]: why a Redis store operation failed.

use std::sync::Arc;
use std::time::Duration;

use ciba_server::store::StoreError;

/// A Redis store operation failed. Every variant reaches ciba-server as
/// [`StoreError::Backend`], which the server answers with 503 `temporarily_unavailable` and
/// `Retry-After` rather than with a protocol answer it could not check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// A Redis URL given to [`RedisStore::connect`](crate::RedisStore::connect) or
    /// [`RedisStore::connect_cluster`](crate::RedisStore::connect_cluster) is not valid.
    #[error("invalid Redis URL: {source}")]
    InvalidUrl {
        /// The parser's error.
        source: redis::RedisError,
    },
    /// No connection to Redis could be made.
    #[error("cannot connect to Redis: {source}")]
    Connect {
        /// The connection error.
        source: redis::RedisError,
    },
    /// Redis did not answer in time: connecting took longer than
    /// [`RedisStoreConfig::connect_timeout`](crate::RedisStoreConfig::connect_timeout), or
    /// one step of an operation longer than
    /// [`RedisStoreConfig::response_timeout`](crate::RedisStoreConfig::response_timeout).
    #[error("Redis {operation} did not answer within {after:?}")]
    Timeout {
        /// The store operation (`"connect"`, `"poll"`, `"complete"`, ...).
        operation: &'static str,
        /// The timeout that ran out.
        after: Duration,
    },
    /// The configuration cannot be used.
    #[error("invalid Redis store configuration: {what}")]
    InvalidConfig {
        /// What is wrong.
        what: &'static str,
    },
    /// Redis may evict keys (its `maxmemory-policy` is not `noeviction`) and
    /// [`EvictionCheck::Refuse`](crate::EvictionCheck::Refuse) was asked for.
    #[error("Redis may evict keys (maxmemory-policy {policy}); set it to noeviction")]
    EvictionPolicy {
        /// The policy Redis reported.
        policy: String,
    },
    /// A command or script failed: Redis went away, did not answer within the response
    /// timeout, or answered with an error.
    #[error("Redis {operation} failed: {source}")]
    Command {
        /// The store operation (`"poll"`, `"complete"`, ...).
        operation: &'static str,
        /// The error.
        source: redis::RedisError,
    },
    /// A record could not be serialized.
    #[error("cannot encode a record: {source}")]
    Encode {
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// A record read from Redis is not valid JSON of the expected shape.
    #[error("cannot decode a record: {source}")]
    Decode {
        /// The deserializer's error.
        source: serde_json::Error,
    },
    /// A record or a script's answer read from Redis is not in the expected form (written
    /// by something else under the same key prefix, or by an incompatible version).
    #[error("unexpected data in Redis: {what}")]
    Corrupt {
        /// What was malformed.
        what: &'static str,
    },
    /// A token fingerprint is empty or contains whitespace or `;` (the fingerprints
    /// ciba-server computes, base64url, never do).
    #[error("a token fingerprint is empty or contains whitespace or ';'")]
    InvalidFingerprint,
    /// A variant of a ciba-server type this version of the crate does not know.
    #[error("unsupported {what}")]
    Unsupported {
        /// Which type.
        what: &'static str,
    },
}

impl RedisStoreError {
    /// True when Redis could not be reached or did not answer in time (as opposed to data
    /// or script errors): retrying later may succeed.
    pub fn is_unreachable(&self) -> bool {
        match self {
            RedisStoreError::Connect { .. } | RedisStoreError::Timeout { .. } => true,
            RedisStoreError::Command { source, .. } => is_connection_error(source),
            _ => false,
        }
    }
}

/// True for errors that say Redis could not be reached (I/O errors, timeouts, dropped or
/// refused connections, a cluster that lost slots), rather than that it refused a command.
pub(crate) fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || e.is_cluster_error()
}

impl From<RedisStoreError> for StoreError {
    fn from(e: RedisStoreError) -> StoreError {
        StoreError::Backend {
            source: Arc::new(e),
        }
    }
}
