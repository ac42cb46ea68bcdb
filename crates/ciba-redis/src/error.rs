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
    /// The Redis URL given to [`RedisStore::open`](crate::RedisStore::open) is not valid.
    #[error("invalid Redis URL: {source}")]
    InvalidUrl {
        /// The parser's error.
        source: redis::RedisError,
    },
    /// No connection to Redis could be made within the connection timeout.
    #[error("cannot connect to Redis: {source}")]
    Connect {
        /// The connection error.
        source: redis::RedisError,
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
    /// Every pooled connection stayed busy for the whole connection timeout.
    #[error("no Redis connection became free within {waited:?}")]
    PoolExhausted {
        /// How long the operation waited.
        waited: Duration,
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
            RedisStoreError::Connect { .. } | RedisStoreError::PoolExhausted { .. } => true,
            RedisStoreError::Command { source, .. } => is_connection_error(source),
            _ => false,
        }
    }
}

/// True for errors after which a connection must not be reused, and the other idle
/// connections are likely broken too (I/O errors, timeouts, dropped connections).
pub(crate) fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}

impl From<RedisStoreError> for StoreError {
    fn from(e: RedisStoreError) -> StoreError {
        StoreError::Backend {
            source: Arc::new(e),
        }
    }
}
