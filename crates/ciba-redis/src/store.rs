//! [`RedisStore`]: ciba-server's [`Store`] over Redis.

use std::fmt;
use std::future::ready;
use std::time::SystemTime;

use ciba_server::Ticket;
use ciba_server::store::BoxFuture;
use ciba_server::store::{
    CompleteStatus, Completion, PollStatus, ReplayKey, Store, StoreError, StoredRequest,
    TokenFingerprint,
};

use crate::codec::{
    MAX_MILLIS, decode_request, encode_completion, encode_request, encode_tokens, exact, millis,
};
use crate::config::RedisStoreConfig;
use crate::error::RedisStoreError;
use crate::keys::{Keys, jti_member, request_member, ticket_member};
use crate::pool::Pool;
use crate::scripts::Scripts;

/// A [`Store`] in Redis, shared by every server instance that uses the same Redis and key
/// prefix. Cheap to share behind an `Arc`; it holds a small connection pool.
///
/// See the [crate documentation](crate) for the key layout, the time model and the
/// per-client bound.
pub struct RedisStore {
    config: RedisStoreConfig,
    keys: Keys,
    pool: Pool,
    scripts: Scripts,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: leave it out.
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What an insert script answered.
enum Inserted {
    Ok,
    Duplicate,
    Limit,
}

impl RedisStore {
    /// A store for the Redis at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `redis+unix:///path`) with the default settings. No connection is made yet: the
    /// first operation connects, so a server can start while Redis is down (and answer 503
    /// until it is up). Use [`RedisStore::ping`] to check the connection at start-up.
    pub fn open(url: &str) -> Result<RedisStore, RedisStoreError> {
        RedisStore::with_config(url, RedisStoreConfig::default())
    }

    /// A store for the Redis at `url` with `config`.
    pub fn with_config(url: &str, config: RedisStoreConfig) -> Result<RedisStore, RedisStoreError> {
        let client =
            redis::Client::open(url).map_err(|source| RedisStoreError::InvalidUrl { source })?;
        let pool = Pool::new(
            client,
            config.max_connections,
            config.connect_timeout,
            config.response_timeout,
        );
        Ok(RedisStore {
            keys: Keys::new(&config.key_prefix),
            config,
            pool,
            scripts: Scripts::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RedisStoreConfig {
        &self.config
    }

    /// Checks that Redis answers, and loads the scripts so the first requests do not have
    /// to.
    pub fn ping(&self) -> Result<(), RedisStoreError> {
        self.pool.run("ping", |c| {
            redis::cmd("PING").query::<()>(c)?;
            for script in self.scripts.all() {
                script.load(c)?;
            }
            Ok(())
        })
    }

    /// How many entries `client_id` has (tickets, requests, replay entries) as of `now`:
    /// the count the per-client bound applies to.
    pub fn client_entries(
        &self,
        client_id: &str,
        now: SystemTime,
    ) -> Result<usize, RedisStoreError> {
        let key = self.keys.client(client_id);
        let after_now = format!("({}", millis(now));
        self.pool.run("client_entries", |c| {
            redis::cmd("ZCOUNT")
                .arg(&key)
                .arg(&after_now)
                .arg("+inf")
                .query::<usize>(c)
        })
    }

    fn limit(&self) -> u64 {
        u64::try_from(self.config.max_entries_per_client)
            .unwrap_or(u64::MAX)
            .min(MAX_MILLIS)
    }

    fn inserted(&self, answer: &str, client_id: &str) -> Result<(), StoreError> {
        match parse_inserted(answer)? {
            Inserted::Ok => Ok(()),
            Inserted::Duplicate => Err(StoreError::DuplicateKey),
            Inserted::Limit => Err(StoreError::ClientLimitReached {
                client_id: client_id.to_owned(),
                limit: self.config.max_entries_per_client,
            }),
        }
    }

    /// Runs `take_ticket`: deletes the ticket and returns it with its deadline.
    fn delete_ticket(
        &self,
        operation: &'static str,
        id: &str,
    ) -> Result<Option<(String, u64)>, RedisStoreError> {
        let key = self.keys.ticket(id);
        let taken: Option<(String, String)> = self.pool.run(operation, |c| {
            self.scripts
                .take_ticket
                .key(&key)
                .arg(self.keys.prefix())
                .arg(ticket_member(id))
                .invoke(c)
        })?;
        taken
            .map(|(json, deadline)| {
                let deadline = deadline.parse().map_err(|_| RedisStoreError::Corrupt {
                    what: "deadline of a ticket",
                })?;
                Ok((json, deadline))
            })
            .transpose()
    }
}

fn parse_inserted(answer: &str) -> Result<Inserted, RedisStoreError> {
    match answer {
        "ok" => Ok(Inserted::Ok),
        "duplicate" => Ok(Inserted::Duplicate),
        "limit" => Ok(Inserted::Limit),
        _ => Err(RedisStoreError::Corrupt {
            what: "answer of an insert script",
        }),
    }
}

/// Splits a script's `{status, field, value, ...}` answer.
fn split_status(reply: &[String]) -> (&str, &[String]) {
    match reply.split_first() {
        Some((status, rest)) => (status.as_str(), rest),
        None => ("", &[]),
    }
}

fn field<'a>(pairs: &'a [String], name: &str) -> Option<&'a str> {
    pairs.chunks_exact(2).find_map(|kv| match kv {
        [k, v] if k == name => Some(v.as_str()),
        _ => None,
    })
}

fn unexpected(what: &'static str) -> StoreError {
    RedisStoreError::Corrupt { what }.into()
}

/// The store operations over blocking connections (interim: made async by the redis rework).
impl RedisStore {
    fn insert_ticket_blocking(&self, ticket: &Ticket, now: SystemTime) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(ticket).map_err(|source| RedisStoreError::Encode { source })?;
        let answer: String = self.pool.run("insert_ticket", |c| {
            self.scripts
                .insert_ticket
                .key(self.keys.ticket(&ticket.id))
                .key(self.keys.client(&ticket.client_id))
                .arg(millis(now))
                .arg(millis(ticket.expires_at))
                .arg(self.limit())
                .arg(ticket_member(&ticket.id))
                .arg(&ticket.client_id)
                .arg(&json)
                .invoke(c)
        })?;
        self.inserted(&answer, &ticket.client_id)
    }

    fn take_ticket_blocking(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<Ticket>, StoreError> {
        let Some((json, deadline)) = self.delete_ticket("take_ticket", id)? else {
            return Ok(None);
        };
        if millis(now) >= deadline {
            // Expired: forgotten, as MemoryStore's sweep would have.
            return Ok(None);
        }
        let ticket =
            serde_json::from_str(&json).map_err(|source| RedisStoreError::Decode { source })?;
        Ok(Some(ticket))
    }

    fn remove_ticket_blocking(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.delete_ticket("remove_ticket", id)?.is_some())
    }

    fn insert_request_blocking(
        &self,
        request: &StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let fields = encode_request(request, keep_until)?;
        let answer: String = self.pool.run("insert_request", |c| {
            let mut call = self.scripts.insert_request.prepare_invoke();
            call.key(self.keys.request(&request.auth_req_id))
                .key(self.keys.client(&request.client_id))
                .arg(millis(now))
                .arg(millis(keep_until))
                .arg(self.limit())
                .arg(request_member(&request.auth_req_id));
            for (name, value) in &fields {
                call.arg(*name).arg(value);
            }
            call.invoke(c)
        })?;
        self.inserted(&answer, &request.client_id)
    }

    fn request_blocking(
        &self,
        auth_req_id: &str,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, StoreError> {
        let key = self.keys.request(auth_req_id);
        let pairs: Vec<String> = self
            .pool
            .run("request", |c| redis::cmd("HGETALL").arg(&key).query(c))?;
        if pairs.is_empty() {
            return Ok(None);
        }
        let keep: u64 = field(&pairs, "k")
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| unexpected("keep-until of a request"))?;
        if millis(now) >= keep {
            return Ok(None);
        }
        Ok(Some(decode_request(&pairs)?))
    }

    fn complete_blocking(
        &self,
        auth_req_id: &str,
        result: Completion,
        now: SystemTime,
    ) -> Result<CompleteStatus, StoreError> {
        let state = encode_completion(&result)?;
        let reply: Vec<String> = self.pool.run("complete", |c| {
            self.scripts
                .complete
                .key(self.keys.request(auth_req_id))
                .arg(millis(now))
                .arg(state.tag)
                .arg(&state.grant)
                .arg(&state.tokens)
                .invoke(c)
        })?;
        let (status, before) = split_status(&reply);
        Ok(match status {
            "unknown" => CompleteStatus::Unknown,
            "already" => CompleteStatus::AlreadyCompleted,
            "completed" => CompleteStatus::Completed(Box::new(decode_request(before)?)),
            "expired" => CompleteStatus::Expired(Box::new(decode_request(before)?)),
            _ => return Err(unexpected("answer of the complete script")),
        })
    }

    fn poll_blocking(
        &self,
        auth_req_id: &str,
        client_id: &str,
        interval_increment: u64,
        now: SystemTime,
    ) -> Result<PollStatus, StoreError> {
        let reply: Vec<String> = self.pool.run("poll", |c| {
            self.scripts
                .poll
                .key(self.keys.request(auth_req_id))
                .arg(self.keys.prefix())
                .arg(millis(now))
                .arg(client_id)
                .arg(interval_increment.min(MAX_MILLIS))
                .arg(exact(now))
                .invoke(c)
        })?;
        let (status, rest) = split_status(&reply);
        Ok(match status {
            "unknown" => PollStatus::Unknown,
            "used" => PollStatus::AlreadyUsed,
            "expired" => PollStatus::Expired,
            "pending" => PollStatus::Pending,
            "slow_down" => PollStatus::SlowDown {
                interval: rest
                    .first()
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| unexpected("interval of a slow_down answer"))?,
            },
            "denied" => PollStatus::Denied,
            "failed" => PollStatus::Failed,
            "authorized" => PollStatus::Authorized(Box::new(decode_request(rest)?)),
            _ => return Err(unexpected("answer of the poll script")),
        })
    }

    fn attach_tokens_blocking(
        &self,
        auth_req_id: &str,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let tokens = encode_tokens(tokens)?;
        let _redeemed: i64 = self.pool.run("attach_tokens", |c| {
            self.scripts
                .attach_tokens
                .key(self.keys.request(auth_req_id))
                .arg(self.keys.prefix())
                .arg(millis(now))
                .arg(&tokens)
                .invoke(c)
        })?;
        Ok(())
    }

    fn is_revoked_blocking(&self, fingerprint: &str, now: SystemTime) -> Result<bool, StoreError> {
        let key = self.keys.revoked(fingerprint);
        let until: Option<String> = self
            .pool
            .run("is_revoked", |c| redis::cmd("GET").arg(&key).query(c))?;
        match until {
            None => Ok(false),
            Some(until) => {
                let until: u64 = until
                    .parse()
                    .map_err(|_| unexpected("expiry of a revocation"))?;
                Ok(millis(now) < until)
            }
        }
    }

    fn remember_jti_blocking(
        &self,
        key: &ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let answer: String = self.pool.run("remember_jti", |c| {
            self.scripts
                .remember_jti
                .key(self.keys.jti(key))
                .key(self.keys.client(&key.client_id))
                .arg(millis(now))
                .arg(millis(expires_at))
                .arg(self.limit())
                .arg(jti_member(key))
                .invoke(c)
        })?;
        match answer.as_str() {
            "replay" => Ok(false),
            other => self.inserted(other, &key.client_id).map(|()| true),
        }
    }
}

// INTERIM (branch issue15-base only): the blocking operations wrapped in ready futures so the
// workspace compiles against the async `Store`; the ciba-redis rework replaces all of this.
impl Store for RedisStore {
    fn insert_ticket<'a>(
        &'a self,
        ticket: &'a Ticket,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.insert_ticket_blocking(ticket, now)))
    }

    fn take_ticket<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Ticket>, StoreError>> {
        Box::pin(ready(self.take_ticket_blocking(id, now)))
    }

    fn insert_request<'a>(
        &'a self,
        request: &'a StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(
            self.insert_request_blocking(request, keep_until, now),
        ))
    }

    fn request<'a>(
        &'a self,
        auth_req_id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<StoredRequest>, StoreError>> {
        Box::pin(ready(self.request_blocking(auth_req_id, now)))
    }

    fn pending_requests<'a>(
        &'a self,
        _subject: Option<&'a str>,
        _limit: usize,
        _now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<StoredRequest>, StoreError>> {
        Box::pin(ready(Ok(Vec::new())))
    }

    fn complete<'a>(
        &'a self,
        auth_req_id: &'a str,
        result: Completion,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CompleteStatus, StoreError>> {
        Box::pin(ready(self.complete_blocking(auth_req_id, result, now)))
    }

    fn poll<'a>(
        &'a self,
        auth_req_id: &'a str,
        client_id: &'a str,
        interval_increment: u64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<PollStatus, StoreError>> {
        Box::pin(ready(self.poll_blocking(
            auth_req_id,
            client_id,
            interval_increment,
            now,
        )))
    }

    fn attach_tokens<'a>(
        &'a self,
        auth_req_id: &'a str,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.attach_tokens_blocking(auth_req_id, tokens, now)))
    }

    fn is_revoked<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(ready(self.is_revoked_blocking(fingerprint, now)))
    }

    fn remember_jti<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(ready(self.remember_jti_blocking(key, expires_at, now)))
    }

    fn remove_ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(ready(self.remove_ticket_blocking(id)))
    }
}
