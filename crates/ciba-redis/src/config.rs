//! [`RedisStoreConfig`]: key prefix, per-client bound, connections, timeouts, TLS trust,
//! the eviction check and the TTL margin.

use std::fmt;
use std::time::Duration;

/// What [`RedisStore::connect`](crate::RedisStore::connect) does when Redis's
/// `maxmemory-policy` lets it evict keys (any policy but `noeviction`: every key of the store
/// has a TTL, so the `volatile-*` policies can evict them too). An evicted request, `jti` or
/// revocation breaks one-time redemption or replay protection; see the crate docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvictionCheck {
    /// Log a warning (`tracing`, target `ciba_redis`) and go on (the default).
    #[default]
    Warn,
    /// Refuse to connect: [`RedisStoreError::EvictionPolicy`](crate::RedisStoreError::EvictionPolicy).
    Refuse,
    /// Do not ask.
    Ignore,
}

/// Settings of a [`RedisStore`](crate::RedisStore). Build one from
/// [`RedisStoreConfig::default()`] and assign the fields you change.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStoreConfig {
    /// Prepended to every key (default `ciba:`). Instances that share state must use the
    /// same prefix; deployments (or test runs) that must not, use different ones. It must
    /// not contain `{` or `}` (the keys' Redis Cluster hash tags follow it).
    pub key_prefix: String,
    /// The most entries one client may have at a time: tickets, requests (including
    /// finished ones kept as tombstones) and replay-cache entries together, as
    /// [`MemoryStoreConfig::max_entries_per_client`](ciba_server::store::MemoryStoreConfig::max_entries_per_client).
    /// Beyond it, inserts fail with
    /// [`StoreError::ClientLimitReached`](ciba_server::store::StoreError::ClientLimitReached),
    /// which the server answers with 503 `temporarily_unavailable`.
    pub max_entries_per_client: usize,
    /// How many multiplexed connections a store to one Redis spreads its commands over
    /// (default 2; at least 1). Each carries any number of concurrent commands; a second
    /// one keeps a large reply from delaying everything else. Redis Cluster stores keep one
    /// multiplexed connection per node and ignore this.
    pub max_connections: usize,
    /// How long connecting (TCP, TLS, the first `PING`) may take (default 1 s).
    pub connect_timeout: Duration,
    /// How long one step of an operation (a command, a script or a pipeline) may wait for
    /// Redis's answer, including a reconnection (default 2 s). Past it the operation fails
    /// with [`RedisStoreError::Timeout`](crate::RedisStoreError::Timeout).
    pub response_timeout: Duration,
    /// A CA certificate (PEM; several may follow one another) trusted for `rediss://`
    /// besides the platform's roots: for a Redis whose certificate comes from a private CA.
    pub tls_root_ca_pem: Option<Vec<u8>>,
    /// What to do when Redis may evict keys (default [`EvictionCheck::Warn`]).
    pub eviction_policy: EvictionCheck,
    /// Added to every key's TTL (default 30 s), so that an instance whose clock runs ahead
    /// of its peers' cannot make Redis drop a record its peers still count as live. Every
    /// decision still uses the stored deadlines and the caller's `now`.
    pub ttl_margin: Duration,
}

impl Default for RedisStoreConfig {
    /// Prefix `ciba:`, 10 000 entries per client, 2 connections, 1 s to connect, 2 s to
    /// answer, no extra CA, warn on eviction, 30 s of TTL margin.
    fn default() -> Self {
        RedisStoreConfig {
            key_prefix: "ciba:".to_owned(),
            max_entries_per_client: 10_000,
            max_connections: 2,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            tls_root_ca_pem: None,
            eviction_policy: EvictionCheck::Warn,
            ttl_margin: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for RedisStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreConfig")
            .field("key_prefix", &self.key_prefix)
            .field("max_entries_per_client", &self.max_entries_per_client)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field(
                "tls_root_ca_pem",
                &self.tls_root_ca_pem.as_ref().map(|pem| pem.len()),
            )
            .field("eviction_policy", &self.eviction_policy)
            .field("ttl_margin", &self.ttl_margin)
            .finish()
    }
}
