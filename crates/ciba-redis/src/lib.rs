//! # ciba-redis
//!
//! A Redis-backed [`Store`](ciba_server::Store) for ciba-server, so that several
//! authorization-server instances share their pending CIBA requests: a client may start a
//! flow on one instance, poll another, be approved on a third (whose device page lists
//! every pending request, see [`Store::pending_requests`](ciba_server::Store::pending_requests))
//! and redeem on a fourth.
//!
//! ```text
//!   AS instance A ─┐                                   ┌ {p}req:{auth_req_id}   hash
//!   AS instance B ─┼ RedisStore ── multiplexed ──► Redis ├ {p}tkt:{ticket id}     hash
//!   AS instance C ─┘  (async; each step one   connections │ {p}cli:{client_id}     zset
//!                      Lua script or command,  or Redis   │ {p}jti:{client_id}:..  string
//!                      bounded by a timeout;   Cluster    │ {p}pnd:{all}, sub:{..} zset
//!                      one script per operation          └ {p}rev:{fingerprint}   string
//!                      on one Redis)
//! ```
//!
//! ## Async design
//!
//! Every [`Store`](ciba_server::Store) method is async and never blocks its thread: it
//! sends commands over redis-rs's tokio connections and awaits the answers. One Redis is
//! reached through [`RedisStoreConfig::max_connections`] `ConnectionManager`s (default 2)
//! used in turn. We chose the connection manager over a pool (deadpool, bb8) and over a
//! bare multiplexed connection: a multiplexed connection already carries any number of
//! concurrent commands, pipelined on one socket, so a pool of them adds checkouts and
//! nothing else; and unlike the bare connection, the manager reconnects by itself, with
//! backoff, when Redis comes back after a restart or failover. A Redis Cluster is reached
//! through redis-rs's async `ClusterConnection` (one multiplexed connection per node; it
//! follows `MOVED`/`ASK` and refreshes the slot map after a failover).
//!
//! Each step of an operation (one command, one script) waits at most
//! [`RedisStoreConfig::response_timeout`]; connecting waits at most
//! [`RedisStoreConfig::connect_timeout`]. A timeout, a refused or dropped connection or an
//! unexpected answer fails the operation with a [`RedisStoreError`], which reaches
//! ciba-server as [`StoreError::Backend`](ciba_server::store::StoreError::Backend): the
//! server answers 503 `temporarily_unavailable` with `Retry-After` instead of guessing a
//! protocol answer. A command that never left (its connection had failed to open) is sent
//! once more; nothing else is retried blindly, see below.
//!
//! ## Keys
//!
//! Every key starts with [`RedisStoreConfig::key_prefix`] (`ciba:` by default; `{p}` here;
//! it may not contain braces) and carries a Redis Cluster hash tag (`{...}`; inside it `%`,
//! `{` and `}` are percent-encoded). Every script touches one key, or two keys of one
//! slot on a Redis Cluster (on one Redis, an operation's script may touch several slots:
//! see [below](#one-redis-one-script-per-operation)). Every key has a TTL: the record's
//! deadline, from the caller's `now`, plus [`RedisStoreConfig::ttl_margin`] (a sorted
//! set's TTL follows its latest member and never shrinks).
//!
//! | key | type | holds | slot (tag) | written by |
//! |---|---|---|---|---|
//! | `{p}tkt:{ticket id}` | hash | `b` the ticket as JSON, `c` its client, `x` its expiry (ms), `z` its client's set's key (one Redis only) | the ticket | `insert_ticket`, `take_ticket` scripts |
//! | `{p}req:{auth_req_id}` | hash | `b` the request's fixed part (a JSON array), `c` client, `p` `1` for a push request, `e` expiry (ms), `k` keep-until (ms), `i` interval (s), `l`/`lt` last poll (ms / exact), `s` state, `g` grant JSON, `t` token fingerprints, `r` `1` once a redeemed request was replayed (`p` and `r` are absent otherwise), `v` tokens to revoke after a replay, `n`/`nr` the completing call's nonce and answer, `u` its subject's pending index's key (one Redis only); empty fields are left out | the request | `insert_request` (or `insert_requests`, batched), `complete`, `poll`, `attach_tokens` scripts |
//! | `{p}cli:{client_id}` | sorted set | one member per entry of the client (`t:{id}`, `r:{id}`, `j:{ca\|ro}:{jti}`), scored by its deadline (ms) | the client | `charge` (or `insert_*`), `remember_jti`, `take_ticket` scripts; `ZREM` |
//! | `{p}jti:{client_id}:{ca\|ro}:{jti}` | string | the `jti`'s expiry (ms) | the client | `remember_jti` script (with the client's set) |
//! | `{p}pnd:{all}` | sorted set | every pending `auth_req_id`, scored by expiry (ms) | `all` | `index` (or `insert_requests`) script; `ZREM` (or `complete`) |
//! | `{p}sub:{subject}` | sorted set | the subject's pending `auth_req_id`s, scored by expiry | the subject | `index` (or `insert_requests`) script; `ZREM` (or `complete`) |
//! | `{p}rev:{fingerprint}` | string | the revoked token's expiry (ms) | the fingerprint | `SET PX` |
//!
//! The request's JSON (`b`) is serde's form of
//! [`StoredRequest`](ciba_server::store::StoredRequest), so fields it gains round-trip.
//!
//! ### One Redis: one script per operation
//!
//! On one Redis (not a Cluster) every operation below is a single script, atomic as a
//! whole, so it has no seams: inserting a ticket checks for a live duplicate and the
//! client's bound and writes both the ticket and its entry (or nothing); taking a ticket
//! deletes it and its entry; inserting a request writes the request, its entry and both
//! pending-index entries (or nothing); completing a request also removes it from both
//! pending indexes. These scripts reach keys of other slots (the ticket and request records
//! name them in `z` and `u`), which one Redis allows. A backchannel request thus costs three
//! round trips (insert, take, insert the request), a poll one. Two exceptions keep a second
//! step, as on a Cluster: writing the `rev:` keys after a replay, and the pending list's
//! reads. A record written without `z` or `u` (by a Cluster-style step) is still handled:
//! its entry is removed by a second step, or by the next listing.
//!
//! Request inserts, the busiest write, are also batched on one Redis. Most of an insert's
//! cost inside Redis is the script call and each command's own overhead, not the data, and
//! its three sorted-set additions go to sets that concurrent inserts share (the
//! deployment's pending index always; the client's set and the subject's index often). So
//! inserts that arrive while a batch is already in flight wait in a queue and go together:
//! one `insert_requests` script call per batch, one `ZADD` per set with every member. Each
//! insert keeps its own answer (stored, duplicate, or the client's bound reached, judged in
//! arrival order), its own all-or-nothing writes and its own deadline (the response
//! timeout from the moment it queued); an insert that finds no batch in flight goes at
//! once, so a quiet server waits for nothing. Measured with callgrind on redis-server 7.0
//! (instructions per insert, sets of 20,000 members): 180,000 for the former one-request
//! script, 93,000 in batches of 8, 76,500 in batches of 14 with the fixed-position
//! arguments (a request's fixed part is a positional JSON array; see the key table).
//!
//! ### The seams between steps (Redis Cluster)
//!
//! On a Redis Cluster an operation that spans slots runs as several steps, each atomic, in an order chosen so
//! that a failure (or a crash of the instance) between two steps is harmless:
//!
//! * **insert a ticket or a request**: (1) write the record, refusing a live duplicate;
//!   (2) charge the client's set, refusing past the bound (then (1) is deleted); (3) for a
//!   pending request, add it to both pending indexes (on failure (1) and (2) are undone).
//!   The client learns the `auth_req_id` only after every step succeeded, so a record left
//!   behind by a crash is one nobody knows: it counts against its client (one entry) until
//!   its deadline, and is never listed or redeemed. Two racing inserts can both pass (1)
//!   only with two different ids; (2) is atomic, so the bound holds.
//! * **take or remove a ticket**: (1) delete it; (2) `ZREM` its member. A failure at (2)
//!   keeps the entry counted until the ticket's deadline (the ticket itself is gone).
//! * **complete**: (1) the `complete` script, once; (2) `ZREM` from the pending indexes. A
//!   failure at (2) leaves a stale index entry, which the next listing skips and removes.
//! * **poll after redemption (a replay)**, **attach tokens to a replayed request**: (1) the
//!   script marks the replay and moves the tokens to revoke into `v`; (2) `SET` a `rev:` key
//!   per token. If (2) fails the client gets 503; every later replay answers `v` again and
//!   writes the revocations again, so a revocation is lost only if no one ever replays
//!   again and the instance died between (1) and (2).
//! * **remember a `jti`**: one script (the `jti` and the client's set share a slot).
//! * **pending list**: read the index (`ZRANGEBYSCORE` after `now`), read each request,
//!   keep those still pending and unexpired, `ZREM` the rest. Expired members are trimmed
//!   whenever a request is indexed.
//!
//! ### What a client sees when an answer is lost
//!
//! When Redis ran a script but its answer never came back (a timeout after sending, or
//! the connection dropped), the operation fails with 503 and the change stays made:
//!
//! * **token request that redeemed the grant**: the client gets 503 and retries; the retry
//!   is a replay, answered `invalid_grant` (CIBA Core and RFC 6749 §10.5 allow no second
//!   redemption, and no tokens were minted, so nothing needs revoking). The user must start
//!   again. A poll of a pending request is harmless to retry (at worst one `slow_down`).
//! * **complete**: each call carries a random nonce. After a dropped connection the store
//!   sends the same call once more; the script recognises its own nonce and answers as the
//!   first time, so the ping or push is still sent exactly once. If that retry fails too,
//!   the authorization server gets [`CompleteError::Store`](ciba_server::CompleteError);
//!   a later `complete` answers `AlreadyCompleted` if the first one had landed, and
//!   [`Store::request`](ciba_server::Store::request) shows the state.
//! * **backchannel request**, **issue**: the client gets 503 and sends a new request; what
//!   the lost step wrote is unknown to anyone and expires (see the seams above).
//! * **remember a `jti`**: the retried request carries the same assertion, which is now a
//!   replay: refused as `invalid_client`. The client signs a new assertion (a new `jti`).
//!
//! ## Time
//!
//! Every decision uses the caller's `now`, never Redis `TIME`: `now` goes into the scripts
//! as milliseconds since the Unix epoch, and expiry, tombstones, `slow_down` and replay
//! windows are decided against the deadlines stored beside each record, exactly as
//! `MemoryStore` decides them (at millisecond resolution).
//!
//! Keys expire in real time through TTLs set as durations (`PX`, `PEXPIRE`): deadline minus
//! the caller's `now`, plus [`RedisStoreConfig::ttl_margin`] (30 s by default). Durations
//! suit both servers on the real clock and tests on a virtual one; the margin keeps an
//! instance whose clock runs ahead of its peers' (by less than the margin) from making Redis
//! drop a record its peers still count as live. Records are logically gone at their
//! deadline whatever their TTL.
//!
//! ## The per-client bound
//!
//! As in `MemoryStore`, one client may have at most
//! [`RedisStoreConfig::max_entries_per_client`] tickets, requests (tombstones included)
//! and replay entries together. Each client's sorted set is scored by deadlines; a charge
//! drops the members whose deadline has come (by the caller's `now`), counts the rest, and
//! adds its own, in one script.
//!
//! ## TLS
//!
//! `rediss://` URLs use rustls (the redis crate's `tokio-rustls-comp`) and verify the
//! server's certificate and name against the platform's roots and, if given,
//! [`RedisStoreConfig::tls_root_ca_pem`]. When the process has installed no default rustls
//! crypto provider, the store installs aws-lc-rs's (the one ciba-core uses).
//!
//! ## Redis Cluster
//!
//! [`RedisStore::connect_cluster`] takes some of the cluster's nodes. The hash tags above
//! put each script's keys in one slot; the steps of one operation may run on different
//! nodes. The pending index `pnd:{all}` lives in one slot: the one hot key of a deployment
//! (one small `ZADD` per issued request, one `ZREM` per completion).
//!
//! ## Durability: eviction and failover
//!
//! One-time redemption and replay protection rest on Redis keeping what it acknowledged.
//!
//! * **Eviction.** Under memory pressure a `maxmemory-policy` other than `noeviction` may
//!   drop any of these keys (they all have TTLs, so `volatile-*` policies too): a dropped
//!   request answers `invalid_grant`, a dropped `jti` lets an assertion be replayed, a
//!   dropped revocation revives a token. At connect the store reads the policy (`CONFIG
//!   GET`; a Redis that refuses it, as managed services do, is accepted and logged) and
//!   warns, or refuses with [`EvictionCheck::Refuse`]. Run Redis with `maxmemory-policy
//!   noeviction`: a full Redis then refuses writes, which reach clients as 503.
//! * **Failover.** Redis replicates asynchronously. A primary that fails after
//!   acknowledging a write, but before a replica received it, loses the write when the
//!   replica is promoted: a redeemed grant becomes authorized again (a second redemption
//!   can succeed), a remembered `jti` is forgotten (a replayed assertion is accepted once
//!   more), a completion or revocation is undone. To make failover cost nothing, make
//!   every acknowledged write reach a replica before the primary answers: configure
//!   `min-replicas-to-write 1` with a small `min-replicas-max-lag` (Redis then refuses
//!   writes it cannot replicate), and make the failover promote only an up-to-date replica
//!   (Sentinel or Cluster with `replica-validity-factor`, or a managed service's synchronous
//!   mode). Redis's `WAIT` after each script narrows the window further but still does not
//!   make a write durable on a failed-over primary by itself; this store does not send it.
//!   For a single Redis that restarts, `appendonly yes` with `appendfsync always` keeps
//!   every acknowledged write across a crash (`everysec` may lose the last second).
//!   Without these, a failover may cost the guarantees above for the writes of its last
//!   moments; it never makes the store answer wrongly for older data.
//!
//! ## Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use ciba_core::jose::{Jwk, JwkSigner, Signer};
//! use ciba_redis::{RedisStore, RedisStoreConfig};
//! use ciba_server::{
//!     CibaServer, DefaultTokenMinter, ServerConfig, SigningKeySet, StaticClientRegistry,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::new(
//!     "https://op.example",
//!     "https://op.example/token",
//!     "https://op.example/bc-authorize",
//! )?;
//! // Every instance uses the same Redis and the same prefix.
//! let mut settings = RedisStoreConfig::default();
//! settings.key_prefix = "op-example:ciba:".into();
//! // Fails fast at start-up; later outages become 503 answers.
//! let store = RedisStore::connect("rediss://redis.internal:6380/0", settings).await?;
//! // Every instance signs with the same keys, loaded from configuration (one must be RS256).
//! let rsa = Jwk::from_json(&std::fs::read("/etc/op/rs256.jwk.json")?)?;
//! let keys = SigningKeySet::new([
//!     Arc::new(JwkSigner::from_jwk(&rsa, None)?) as Arc<dyn Signer>,
//! ])?;
//! let server = CibaServer::new(
//!     config,
//!     Arc::new(StaticClientRegistry::new()),
//!     Arc::new(store),
//!     Arc::new(DefaultTokenMinter::new(Arc::new(keys))),
//! );
//! # let _ = server;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub mod __internals;
mod batch;
mod body;
mod codec;
mod config;
mod connect;
mod error;
mod keys;
mod link;
mod scripts;
mod store;

pub use config::{EvictionCheck, RedisStoreConfig};
pub use error::RedisStoreError;
pub use store::{REDIS_FAILURES, RedisStore, describe_metrics};
