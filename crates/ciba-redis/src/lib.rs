//! # ciba-redis
//!
//! A Redis-backed [`Store`](ciba_server::Store) for ciba-server, so that several
//! authorization-server instances share their pending CIBA requests: a client may start a
//! flow on one instance, poll another, and be completed and redeemed on a third.
//!
//! ```text
//!   AS instance A ─┐                         ┌─ ciba:req:{auth_req_id}  (hash)
//!   AS instance B ─┼─ RedisStore ─ pool ─► Redis ─ ciba:tkt:{ticket id}    (hash)
//!   AS instance C ─┘   (Lua scripts:         ├─ ciba:jti:...             (string)
//!                        one atomic step     ├─ ciba:rev:{fingerprint}   (string)
//!                        per operation)      └─ ciba:cli:{client_id}     (sorted set)
//! ```
//!
//! Every [`Store`](ciba_server::Store) operation is one atomic step in Redis: a Lua script
//! (`EVALSHA`, loaded again automatically after a Redis restart) wherever the operation
//! reads, decides and writes: insert (refusing duplicates and clients over their bound),
//! take a ticket once, complete once, record a poll and decide `slow_down`, redeem once,
//! attach tokens or revoke them after a replay, remember a `jti` once. Its semantics are
//! those of ciba-server's `MemoryStore`; the same behaviour suite runs against both.
//!
//! ## Keys
//!
//! Every key starts with [`RedisStoreConfig::key_prefix`] (`ciba:` by default; shown here
//! as `{p}`). Every key has a TTL, so nothing outlives its use:
//!
//! | key | type | holds | TTL |
//! |---|---|---|---|
//! | `{p}tkt:{ticket id}` | hash | `b` the ticket as JSON, `c` its client, `x` its expiry (ms) | until the ticket expires |
//! | `{p}req:{auth_req_id}` | hash | `b` the request as JSON (its fixed part), `c` client, `p` push or not, `e` expiry (ms), `k` keep-until (ms), `i` interval (s), `l`/`lt` last poll (ms / exact), `s` state, `g` grant JSON, `t` token fingerprints, `r` replayed | until the expiry plus the tombstone period (`keep_until`) |
//! | `{p}jti:{ca\|ro}:{len}:{client_id}:{jti}` | string | the `jti`'s expiry (ms); `ca` client assertion, `ro` request object; `len` is the length of the client id, so ids with `:` cannot collide | until the JWT expires |
//! | `{p}rev:{fingerprint}` | string | the revoked token's expiry (ms) | until the token expires |
//! | `{p}cli:{client_id}` | sorted set | one member per entry of the client (`t:{id}`, `r:{id}`, `j:{ca\|ro}:{jti}`), scored by its deadline (ms) | until the client's last entry goes |
//!
//! The scripts build the `rev:` and `cli:` keys of a request from the prefix themselves,
//! so the store needs one Redis (a primary, with replicas if you like), not Redis Cluster.
//! Secrets in a request (the `client_notification_token`) are stored as they are: protect
//! Redis like the rest of the server's state.
//!
//! ## Time
//!
//! Every decision uses the caller's `now`, never Redis `TIME`: `now` goes into the scripts
//! as milliseconds since the Unix epoch, and expiry, tombstones, `slow_down` and replay
//! windows are decided against the deadlines stored beside each record, exactly as
//! `MemoryStore` decides them (at millisecond rather than nanosecond resolution: two
//! instants in the same millisecond compare equal).
//!
//! Keys still expire in real time, through TTLs set as **durations** (`PX`, `PEXPIRE`):
//! deadline minus the caller's `now`. Durations, rather than absolute `PEXPIREAT` instants,
//! are right for both kinds of caller:
//!
//! * a server on the real clock gets keys that expire when their records do, whatever the
//!   skew between its clock and Redis's;
//! * a test on a virtual clock (say, one that starts in 2023) would see `PEXPIREAT` keys
//!   vanish at once, since their instants are in Redis's past; with durations they live as
//!   long as the test's clock says, and once the test moves its clock past a deadline the
//!   record counts as gone even though its key has not expired yet (the scripts then
//!   overwrite or ignore it).
//!
//! A caller whose clock runs slower than real time (a test holding its virtual clock still
//! for longer than a record's lifetime) would see records vanish early; real clocks and
//! tests that take less than the lifetimes they set up never do.
//!
//! ## The per-client bound
//!
//! As in `MemoryStore`, one client may have at most
//! [`RedisStoreConfig::max_entries_per_client`] tickets, requests (tombstones included)
//! and replay entries together. Each client has a sorted set of its entries scored by
//! their deadlines; an insert first drops the members whose deadline has come (by the
//! caller's `now`), counts the rest, and adds its own, all in the insert's script. The
//! count is exact as long as Redis does not evict keys on its own (a `maxmemory` policy
//! other than `noeviction` can drop a record and leave its member counted until the
//! record's deadline), and a caller whose clock runs behind its peers' counts entries a
//! little longer.
//!
//! ## Connections and failures
//!
//! A store keeps a small pool of blocking connections
//! ([`RedisStoreConfig::max_connections`]), each with bounded connect and response
//! timeouts. When Redis cannot be reached, does not answer in time, or answers with
//! something unexpected, the operation fails with a [`RedisStoreError`], which reaches
//! ciba-server as [`StoreError::Backend`](ciba_server::store::StoreError::Backend): the
//! server answers 503 `temporarily_unavailable` with `Retry-After` instead of guessing a
//! protocol answer. A connection that failed is closed along with the idle ones, so once
//! Redis is back the next operations reconnect.
//!
//! ## Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use ciba_core::jose::JwkSigner;
//! use ciba_core::random::OsRandom;
//! use ciba_redis::{RedisStore, RedisStoreConfig};
//! use ciba_server::{CibaServer, DefaultTokenMinter, ServerConfig, StaticClientRegistry};
//!
//! let config = ServerConfig::new(
//!     "https://op.example",
//!     "https://op.example/token",
//!     "https://op.example/bc-authorize",
//! )?;
//! // Every instance uses the same Redis and the same prefix.
//! let store = RedisStore::with_config(
//!     "redis://127.0.0.1:6379/0",
//!     RedisStoreConfig {
//!         key_prefix: "op-example:ciba:".into(),
//!         ..RedisStoreConfig::default()
//!     },
//! )?;
//! store.ping()?; // fail fast at start-up; later outages become 503 answers
//! let key = JwkSigner::generate_ed25519(&OsRandom, Some("op-key-1".into()))?;
//! let server = CibaServer::new(
//!     config,
//!     Arc::new(StaticClientRegistry::new()),
//!     Arc::new(store),
//!     Arc::new(DefaultTokenMinter::new(Arc::new(key))),
//! );
//! # let _ = server;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (In production every instance signs with the same keys, loaded from configuration,
//! rather than a freshly generated one.)

#![forbid(unsafe_code)]

mod codec;
mod config;
mod error;
mod keys;
mod pool;
mod scripts;
mod store;

pub use config::RedisStoreConfig;
pub use error::RedisStoreError;
pub use store::RedisStore;
