//! [`RedisStoreConfig`]: key prefix, per-client bound, pool size and timeouts.

use std::time::Duration;

/// Settings of a [`RedisStore`](crate::RedisStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStoreConfig {
    /// Prepended to every key (default `ciba:`). Instances that share state must use the
    /// same prefix; deployments (or test runs) that must not, use different ones.
    pub key_prefix: String,
    /// The most entries one client may have at a time: tickets, requests (including
    /// finished ones kept as tombstones) and replay-cache entries together, as
    /// [`MemoryStoreConfig::max_entries_per_client`](ciba_server::store::MemoryStoreConfig::max_entries_per_client).
    /// Beyond it, inserts fail with
    /// [`StoreError::ClientLimitReached`](ciba_server::store::StoreError::ClientLimitReached),
    /// which the server answers with 503 `temporarily_unavailable`.
    pub max_entries_per_client: usize,
    /// The most connections one store opens at once (default 8). An operation that finds
    /// them all busy waits for one, at most `connect_timeout`.
    pub max_connections: usize,
    /// How long connecting to Redis may take (default 1 s).
    pub connect_timeout: Duration,
    /// How long Redis may take to accept a command and to answer it (default 2 s).
    pub response_timeout: Duration,
}

impl Default for RedisStoreConfig {
    /// Prefix `ciba:`, 10 000 entries per client, 8 connections, 1 s to connect, 2 s to
    /// answer.
    fn default() -> Self {
        RedisStoreConfig {
            key_prefix: "ciba:".to_owned(),
            max_entries_per_client: 10_000,
            max_connections: 8,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
        }
    }
}
