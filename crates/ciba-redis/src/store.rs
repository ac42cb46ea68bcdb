//! [`RedisStore`]: ciba-server's [`Store`] over Redis.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use ciba_core::random::{IDENTIFIER_BYTES, OsRandom, random_identifier};
use ciba_server::store::{
    BoxFuture, CompleteStatus, Completion, PollStatus, ReplayKey, RequestState, Store, StoreError,
    StoredRequest, TokenFingerprint,
};
use ciba_server::{AuthReqId, Confirmation, Ticket};
use futures_util::future::join_all;
use tracing::Instrument as _;

use crate::batch::{InsertBatcher, InsertItem, Inserted};
use crate::codec::{
    FIXED_FIELDS, MAX_MILLIS, decode_request, encode_completion, encode_request, encode_tokens,
    exact, millis, revocations,
};
use crate::config::RedisStoreConfig;
use crate::error::RedisStoreError;
use crate::keys::{Keys, jti_member, request_member, ticket_member};
use crate::link::Link;
use crate::scripts::Scripts;

mod revoke;

/// A [`Store`] in Redis, shared by every server instance that uses the same Redis (or
/// Redis Cluster) and key prefix. Cheap to share behind an `Arc`; every operation is
/// async and bounded by the response timeout.
///
/// See the [crate documentation](crate) for the key layout, the time model, the per-client
/// bound and what each operation does when Redis fails.
pub struct RedisStore {
    config: RedisStoreConfig,
    keys: Keys,
    link: Arc<Link>,
    scripts: Scripts,
    margin: u64,
    /// One Redis only: concurrent request inserts go together (see `batch`).
    inserts: InsertBatcher,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: leave it out.
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .field("cluster", &self.link.is_cluster())
            .finish_non_exhaustive()
    }
}

/// What the charge script answered.
enum Charged {
    /// Counted now.
    New,
    /// Already counted (a retry, or the same entry stored again).
    Again,
    /// The client is at its bound.
    Limit,
}

impl RedisStore {
    pub(crate) fn new(link: Link, config: RedisStoreConfig) -> RedisStore {
        let link = Arc::new(link);
        let keys = Keys::new(&config.key_prefix);
        let scripts = Scripts::new();
        let inserts = InsertBatcher::new(
            Arc::clone(&link),
            scripts.insert_requests_one.clone(),
            keys.pending(),
            u64::try_from(config.max_entries_per_client)
                .unwrap_or(u64::MAX)
                .min(MAX_MILLIS),
            link.response_timeout(),
        );
        RedisStore {
            keys,
            margin: u64::try_from(config.ttl_margin.as_millis())
                .unwrap_or(MAX_MILLIS)
                .min(MAX_MILLIS),
            config,
            link,
            scripts,
            inserts,
        }
    }

    pub(crate) fn link(&self) -> &Link {
        &self.link
    }

    /// True on one Redis (not a Cluster): each operation is then one script.
    fn one_redis(&self) -> bool {
        !self.link.is_cluster()
    }

    /// The settings.
    pub fn config(&self) -> &RedisStoreConfig {
        &self.config
    }

    /// Checks that Redis answers (`PING`), and loads the scripts so the first requests need
    /// not send them.
    pub async fn ping(&self) -> Result<(), RedisStoreError> {
        self.link.query::<()>("ping", &redis::cmd("PING")).await?;
        for code in self.scripts.all() {
            let mut load = redis::cmd("SCRIPT");
            load.arg("LOAD").arg(code);
            self.link.query::<redis::Value>("ping", &load).await?;
        }
        Ok(())
    }

    /// How many entries `client_id` has (tickets, requests, replay entries) as of `now`:
    /// the count the per-client bound applies to.
    pub async fn client_entries(
        &self,
        client_id: &str,
        now: SystemTime,
    ) -> Result<usize, RedisStoreError> {
        let mut cmd = redis::cmd("ZCOUNT");
        cmd.arg(self.keys.client(client_id))
            .arg(format!("({}", millis(now)))
            .arg("+inf");
        self.link.query("client_entries", &cmd).await
    }

    fn limit(&self) -> u64 {
        u64::try_from(self.config.max_entries_per_client)
            .unwrap_or(u64::MAX)
            .min(MAX_MILLIS)
    }

    fn limit_reached(&self, client_id: &str) -> StoreError {
        StoreError::ClientLimitReached {
            client_id: client_id.to_owned(),
            limit: self.config.max_entries_per_client,
        }
    }

    /// Counts `member` against `client_id`'s bound until `deadline`.
    async fn charge(
        &self,
        operation: &'static str,
        client_id: &str,
        member: &str,
        deadline: SystemTime,
        now: SystemTime,
    ) -> Result<Charged, RedisStoreError> {
        let answer: String = self
            .scripts
            .charge
            .call(&[&self.keys.client(client_id)])
            .arg(millis(now))
            .arg(millis(deadline))
            .arg(self.limit())
            .arg(member)
            .arg(self.margin)
            .run(&self.link, operation)
            .await?;
        match answer.as_str() {
            "new" => Ok(Charged::New),
            "again" => Ok(Charged::Again),
            "limit" => Ok(Charged::Limit),
            _ => Err(RedisStoreError::Corrupt {
                what: "answer of the charge script",
            }),
        }
    }

    /// Stops counting `member` against `client_id` (best effort: a member left behind is
    /// forgotten at its deadline).
    async fn uncharge(&self, operation: &'static str, client_id: &str, member: &str) {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.keys.client(client_id)).arg(member);
        if let Err(e) = self.link.query::<i64>(operation, &cmd).await {
            tracing::debug!(target: "ciba_redis", error = %e, "a client entry stays counted until its deadline");
        }
    }

    /// Deletes `key` (best effort: an undo after a failed step).
    async fn forget(&self, operation: &'static str, key: &str) {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key);
        if let Err(e) = self.link.query::<i64>(operation, &cmd).await {
            tracing::debug!(target: "ciba_redis", error = %e, "a record stays until its TTL");
        }
    }

    /// Runs `take_ticket`: deletes the ticket, then gives its room back to its client.
    /// Returns the ticket's JSON and deadline.
    async fn delete_ticket(
        &self,
        operation: &'static str,
        id: &str,
    ) -> Result<Option<(String, u64)>, RedisStoreError> {
        let member = ticket_member(id);
        if self.one_redis() {
            let taken: Option<(String, String, String, String)> = self
                .scripts
                .take_ticket_one
                .call(&[&self.keys.ticket(id)])
                .arg(&member)
                .run(&self.link, operation)
                .await?;
            let Some((json, deadline, client_id, set)) = taken else {
                return Ok(None);
            };
            if set.is_empty() {
                // Written without its set's name (by a Cluster-style step): remove the
                // entry as a second step.
                self.uncharge(operation, &client_id, &member).await;
            }
            return Ok(Some((json, parse_deadline(&deadline)?)));
        }
        let taken: Option<(String, String, String)> = self
            .scripts
            .take_ticket
            .call(&[&self.keys.ticket(id)])
            .run(&self.link, operation)
            .await?;
        let Some((json, deadline, client_id)) = taken else {
            return Ok(None);
        };
        // The ticket is gone whatever happens next: a failure here only leaves it counted
        // until its deadline.
        self.uncharge(operation, &client_id, &member).await;
        Ok(Some((json, parse_deadline(&deadline)?)))
    }

    /// Writes the revocations in `tokens` (the scripts' `fp millis secs nanos;` list) that
    /// have not expired at `now`. Idempotent: a retry writes the same keys again.
    async fn revoke(
        &self,
        operation: &'static str,
        tokens: &str,
        now: SystemTime,
    ) -> Result<(), RedisStoreError> {
        let now = millis(now);
        let writes = revocations(tokens)?
            .into_iter()
            .filter(|(_, until)| *until > now)
            .map(|(fp, until)| {
                let mut cmd = redis::cmd("SET");
                cmd.arg(self.keys.revoked(fp))
                    .arg(until)
                    .arg("PX")
                    .arg(until - now + self.margin);
                cmd
            })
            .collect::<Vec<_>>();
        let done = join_all(
            writes
                .iter()
                .map(|cmd| self.link.query::<()>(operation, cmd)),
        )
        .await;
        done.into_iter().collect()
    }

    /// Adds a pending request to the deployment's and its subject's pending indexes.
    async fn index(&self, request: &StoredRequest, now: SystemTime) -> Result<(), RedisStoreError> {
        let member = request.auth_req_id.as_str();
        let expiry = millis(request.expires_at);
        let all = self.keys.pending();
        let subject = self.keys.subject(&request.subject);
        let calls = [all.as_str(), subject.as_str()].map(|key| {
            self.scripts
                .index
                .call(&[key])
                .arg(millis(now))
                .arg(expiry)
                .arg(member)
                .arg(self.margin)
        });
        let done = join_all(
            calls
                .iter()
                .map(|c| c.run::<i64>(&self.link, "insert_request")),
        )
        .await;
        done.into_iter().try_for_each(|r| r.map(|_| ()))
    }

    /// Removes a request from the pending indexes (best effort: listings skip and remove
    /// what is no longer pending, and entries go at their expiry).
    async fn unindex(&self, auth_req_id: &AuthReqId, subject: &str) {
        let mut all = redis::cmd("ZREM");
        all.arg(self.keys.pending()).arg(auth_req_id.as_str());
        let mut own = redis::cmd("ZREM");
        own.arg(self.keys.subject(subject))
            .arg(auth_req_id.as_str());
        let (a, b) = futures_util::future::join(
            self.link.query::<i64>("complete", &all),
            self.link.query::<i64>("complete", &own),
        )
        .await;
        if let Err(e) = a.and(b) {
            tracing::debug!(target: "ciba_redis", error = %e, "a finished request stays in a pending index until listed");
        }
    }

    async fn insert_ticket_async(
        &self,
        ticket: &Ticket,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(ticket).map_err(|source| RedisStoreError::Encode { source })?;
        let key = self.keys.ticket(&ticket.id);
        let member = ticket_member(&ticket.id);
        if self.one_redis() {
            let answer: String = self
                .scripts
                .insert_ticket_one
                .call(&[&key, &self.keys.client(&ticket.client_id)])
                .arg(millis(now))
                .arg(millis(ticket.expires_at))
                .arg(self.margin)
                .arg(&ticket.client_id)
                .arg(&json)
                .arg(self.limit())
                .arg(&member)
                .run(&self.link, "insert_ticket")
                .await?;
            return match answer.as_str() {
                "ok" => Ok(()),
                "duplicate" => Err(StoreError::DuplicateKey),
                "limit" => Err(self.limit_reached(&ticket.client_id)),
                _ => Err(unexpected("answer of the insert_ticket script")),
            };
        }
        let answer: String = self
            .scripts
            .insert_ticket
            .call(&[&key])
            .arg(millis(now))
            .arg(millis(ticket.expires_at))
            .arg(self.margin)
            .arg(&ticket.client_id)
            .arg(&json)
            .run(&self.link, "insert_ticket")
            .await?;
        match answer.as_str() {
            "ok" => {}
            "duplicate" => return Err(StoreError::DuplicateKey),
            _ => return Err(unexpected("answer of the insert_ticket script")),
        }
        match self
            .charge(
                "insert_ticket",
                &ticket.client_id,
                &member,
                ticket.expires_at,
                now,
            )
            .await
        {
            Ok(Charged::New | Charged::Again) => Ok(()),
            Ok(Charged::Limit) => {
                self.forget("insert_ticket", &key).await;
                Err(self.limit_reached(&ticket.client_id))
            }
            Err(e) => {
                self.forget("insert_ticket", &key).await;
                Err(e.into())
            }
        }
    }

    async fn take_ticket_async(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<Ticket>, StoreError> {
        let Some((json, deadline)) = self.delete_ticket("take_ticket", id).await? else {
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

    async fn insert_request_async(
        &self,
        request: &StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let mut fields = encode_request(request, keep_until)?;
        let key = self.keys.request(&request.auth_req_id);
        let listed = request.state == RequestState::Pending && request.expires_at > now;
        if self.one_redis() {
            let now_ms = millis(now);
            let ttl = |deadline: u64| {
                if deadline > now_ms {
                    (deadline - now_ms).saturating_add(self.margin)
                } else {
                    0
                }
            };
            let keep = millis(keep_until);
            let expiry = millis(request.expires_at);
            // Empty fields are left out: a missing field reads as empty.
            let more: Vec<(&str, String)> = fields
                .split_off(FIXED_FIELDS)
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let fixed = <[(&str, String); FIXED_FIELDS]>::try_from(fields)
                .map_err(|_| unexpected("fields of a new request"))?;
            let [
                (_, body),
                (_, client),
                (_, expiry_text),
                (_, keep_text),
                (_, interval),
                (_, state),
            ] = fixed;
            let mut args = Vec::with_capacity(10 + 2 * more.len());
            args.extend([
                keep_text,
                ttl(keep).to_string(),
                expiry_text,
                if listed { ttl(expiry) } else { 0 }.to_string(),
                request.auth_req_id.as_str().to_owned(),
                body,
                client,
                interval,
                state,
                more.len().to_string(),
            ]);
            for (name, value) in more {
                args.push(name.to_owned());
                args.push(value);
            }
            let item = InsertItem {
                now: now_ms,
                keys: [
                    key,
                    self.keys.client(&request.client_id),
                    self.keys.subject(&request.subject),
                ],
                args,
            };
            return match self.inserts.insert(item).await? {
                Inserted::Ok => Ok(()),
                Inserted::Duplicate => Err(StoreError::DuplicateKey),
                Inserted::Limit => Err(self.limit_reached(&request.client_id)),
            };
        }
        let mut call = self
            .scripts
            .insert_request
            .call(&[&key])
            .arg(millis(now))
            .arg(millis(keep_until))
            .arg(self.margin);
        let member = request_member(&request.auth_req_id);
        // Empty fields are left out: a missing field reads as empty.
        for (name, value) in fields.iter().filter(|(_, v)| !v.is_empty()) {
            call = call.arg(*name).arg(value);
        }
        let answer: String = call.run(&self.link, "insert_request").await?;
        match answer.as_str() {
            "ok" => {}
            "duplicate" => return Err(StoreError::DuplicateKey),
            _ => return Err(unexpected("answer of the insert_request script")),
        }
        let charged = self
            .charge(
                "insert_request",
                &request.client_id,
                &member,
                keep_until,
                now,
            )
            .await;
        let undo_charge = match charged {
            Ok(Charged::New) => true,
            Ok(Charged::Again) => false,
            Ok(Charged::Limit) => {
                self.forget("insert_request", &key).await;
                return Err(self.limit_reached(&request.client_id));
            }
            Err(e) => {
                self.forget("insert_request", &key).await;
                return Err(e.into());
            }
        };
        if listed && let Err(e) = self.index(request, now).await {
            // Not listed, the user could not approve it: undo, and let the client retry.
            self.forget("insert_request", &key).await;
            if undo_charge {
                self.uncharge("insert_request", &request.client_id, &member)
                    .await;
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// The request under `key`, if kept at `now`.
    async fn read_request(
        &self,
        operation: &'static str,
        key: &str,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, RedisStoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(key);
        let pairs: Vec<String> = self.link.query(operation, &cmd).await?;
        if pairs.is_empty() {
            return Ok(None);
        }
        let keep: u64 =
            field(&pairs, "k")
                .and_then(|k| k.parse().ok())
                .ok_or(RedisStoreError::Corrupt {
                    what: "keep-until of a request",
                })?;
        if millis(now) >= keep {
            return Ok(None);
        }
        Ok(Some(decode_request(&pairs)?))
    }

    async fn pending_async(
        &self,
        subject: Option<&str>,
        limit: usize,
        now: SystemTime,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        const BATCH: usize = 64;
        let index = subject.map_or_else(|| self.keys.pending(), |s| self.keys.subject(s));
        let mut found = Vec::new();
        let mut stale = Vec::new();
        let mut offset = 0usize;
        while found.len() < limit {
            let want = (limit - found.len()).clamp(1, BATCH);
            let mut range = redis::cmd("ZRANGEBYSCORE");
            range
                .arg(&index)
                .arg(format!("({}", millis(now)))
                .arg("+inf")
                .arg("LIMIT")
                .arg(offset)
                .arg(want);
            let ids: Vec<String> = self.link.query("pending_requests", &range).await?;
            offset += ids.len();
            let keys: Vec<String> = ids
                .iter()
                .map(|id| self.keys.request(&AuthReqId::from_stored(id.as_str())))
                .collect();
            let read = join_all(
                keys.iter()
                    .map(|key| self.read_request("pending_requests", key, now)),
            )
            .await;
            for (id, request) in ids.iter().zip(read) {
                match request? {
                    Some(r)
                        if r.state == RequestState::Pending
                            && r.expires_at > now
                            && subject.is_none_or(|s| r.subject == s) =>
                    {
                        found.push(r)
                    }
                    _ => stale.push(id.clone()),
                }
            }
            if ids.len() < want {
                break;
            }
        }
        if !stale.is_empty() {
            let mut clean = redis::cmd("ZREM");
            clean.arg(&index).arg(&stale);
            if let Err(e) = self.link.query::<i64>("pending_requests", &clean).await {
                tracing::debug!(target: "ciba_redis", error = %e, "stale pending-index entries stay until their expiry");
            }
        }
        found.sort_by(|a, b| {
            (a.expires_at, a.auth_req_id.as_str()).cmp(&(b.expires_at, b.auth_req_id.as_str()))
        });
        found.truncate(limit);
        Ok(found)
    }

    async fn complete_async(
        &self,
        auth_req_id: &AuthReqId,
        result: Completion,
        now: SystemTime,
    ) -> Result<CompleteStatus, StoreError> {
        let state = encode_completion(&result)?;
        // Names this call, so that the retry below, after an answer lost with the
        // connection, is recognised as the call that completed the request.
        let nonce = random_identifier(&OsRandom, IDENTIFIER_BYTES)
            .map_err(|_| unexpected("random source"))?;
        let one = self.one_redis();
        let key = self.keys.request(auth_req_id);
        let pending = self.keys.pending();
        let call = if one {
            self.scripts.complete_one.call(&[&key, &pending])
        } else {
            self.scripts.complete.call(&[&key])
        }
        .arg(millis(now))
        .arg(state.tag)
        .arg(&state.grant)
        .arg(&state.tokens)
        .arg(&nonce)
        .arg(auth_req_id.as_str());
        let reply: Vec<String> = match call.run(&self.link, "complete").await {
            Err(e) if retry_safe(&e) => call.run(&self.link, "complete").await?,
            other => other?,
        };
        let (status, before) = split_status(&reply);
        let finished = |before: &[String]| -> Result<Box<StoredRequest>, StoreError> {
            let mut request = decode_request(before)?;
            // The answer describes the request as the completion found it: pending (a
            // retry's reply shows the stored result in the hash).
            request.state = RequestState::Pending;
            Ok(Box::new(request))
        };
        let outcome = match status {
            "unknown" => return Ok(CompleteStatus::Unknown),
            "already" => return Ok(CompleteStatus::AlreadyCompleted),
            "completed" => CompleteStatus::Completed(finished(before)?),
            "expired" => CompleteStatus::Expired(finished(before)?),
            _ => return Err(unexpected("answer of the complete script")),
        };
        if !one && let CompleteStatus::Completed(r) | CompleteStatus::Expired(r) = &outcome {
            self.unindex(auth_req_id, &r.subject).await;
        }
        Ok(outcome)
    }

    async fn poll_async(
        &self,
        auth_req_id: &AuthReqId,
        client_id: &str,
        interval_increment: u64,
        now: SystemTime,
    ) -> Result<PollStatus, StoreError> {
        let reply: Vec<String> = self
            .scripts
            .poll
            .call(&[&self.keys.request(auth_req_id)])
            .arg(millis(now))
            .arg(client_id)
            .arg(interval_increment.min(MAX_MILLIS))
            .arg(exact(now))
            .run(&self.link, "poll")
            .await?;
        let (status, rest) = split_status(&reply);
        Ok(match status {
            "unknown" => PollStatus::Unknown,
            "used" => {
                if let Some(tokens) = rest.first() {
                    // A replay: revoke what the redemption issued. Should this fail, the
                    // client gets 503, and its retry (a replay again) revokes once more.
                    self.revoke("poll", tokens, now).await?;
                }
                PollStatus::AlreadyUsed
            }
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

    async fn attach_tokens_async(
        &self,
        auth_req_id: &AuthReqId,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let tokens = encode_tokens(tokens)?;
        let revoke: String = self
            .scripts
            .attach_tokens
            .call(&[&self.keys.request(auth_req_id)])
            .arg(millis(now))
            .arg(&tokens)
            .run(&self.link, "attach_tokens")
            .await?;
        if !revoke.is_empty() {
            self.revoke("attach_tokens", &revoke, now).await?;
        }
        Ok(())
    }

    async fn is_revoked_async(
        &self,
        fingerprint: &str,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.keys.revoked(fingerprint));
        let until: Option<String> = self.link.query("is_revoked", &cmd).await?;
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

    async fn record_confirmation_async(
        &self,
        fingerprint: &str,
        confirmation: &Confirmation,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let (now, until) = (millis(now), millis(expires_at));
        if until <= now {
            return Ok(());
        }
        let json = serde_json::to_string(confirmation)
            .map_err(|source| RedisStoreError::Encode { source })?;
        // "until json": the lookup compares its own now with until, as is_revoked does.
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.confirmation(fingerprint))
            .arg(format!("{until} {json}"))
            .arg("PX")
            .arg(until - now + self.margin);
        Ok(self.link.query::<()>("record_confirmation", &cmd).await?)
    }

    async fn confirmation_async(
        &self,
        fingerprint: &str,
        now: SystemTime,
    ) -> Result<Option<Confirmation>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.keys.confirmation(fingerprint));
        let kept: Option<String> = self.link.query("confirmation", &cmd).await?;
        let Some(kept) = kept else {
            return Ok(None);
        };
        let corrupt = || unexpected("confirmation of a bound token");
        let (until, json) = kept.split_once(' ').ok_or_else(corrupt)?;
        let until: u64 = until.parse().map_err(|_| corrupt())?;
        if millis(now) >= until {
            return Ok(None);
        }
        serde_json::from_str(json).map(Some).map_err(|_| corrupt())
    }

    async fn remember_jti_async(
        &self,
        key: &ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let answer: String = self
            .scripts
            .remember_jti
            .call(&[&self.keys.jti(key), &self.keys.client(&key.client_id)])
            .arg(millis(now))
            .arg(millis(expires_at))
            .arg(self.limit())
            .arg(jti_member(key))
            .arg(self.margin)
            .run(&self.link, "remember_jti")
            .await?;
        match answer.as_str() {
            "ok" => Ok(true),
            "replay" => Ok(false),
            "limit" => Err(self.limit_reached(&key.client_id)),
            _ => Err(unexpected("answer of the remember_jti script")),
        }
    }
}

/// True when an error says the connection went away before an answer came (not a timeout:
/// that already spent the operation's time), so one more try, under the same nonce, may
/// reach Redis through a new connection.
fn retry_safe(e: &RedisStoreError) -> bool {
    matches!(e, RedisStoreError::Command { source, .. }
        if source.is_connection_dropped() || source.is_io_error() || source.is_connection_refusal())
}

fn parse_deadline(text: &str) -> Result<u64, RedisStoreError> {
    text.parse().map_err(|_| RedisStoreError::Corrupt {
        what: "deadline of a ticket",
    })
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

impl Store for RedisStore {
    fn insert_ticket<'a>(
        &'a self,
        ticket: &'a Ticket,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        traced("insert_ticket", self.insert_ticket_async(ticket, now))
    }

    fn take_ticket<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Ticket>, StoreError>> {
        traced("take_ticket", self.take_ticket_async(id, now))
    }

    fn insert_request<'a>(
        &'a self,
        request: &'a StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        traced(
            "insert_request",
            self.insert_request_async(request, keep_until, now),
        )
    }

    fn request<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<StoredRequest>, StoreError>> {
        traced("request", async move {
            let key = self.keys.request(auth_req_id);
            Ok(self.read_request("request", &key, now).await?)
        })
    }

    fn pending_requests<'a>(
        &'a self,
        subject: Option<&'a str>,
        limit: usize,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<StoredRequest>, StoreError>> {
        traced("pending_requests", self.pending_async(subject, limit, now))
    }

    fn complete<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        result: Completion,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CompleteStatus, StoreError>> {
        traced("complete", self.complete_async(auth_req_id, result, now))
    }

    fn poll<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        client_id: &'a str,
        interval_increment: u64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<PollStatus, StoreError>> {
        traced(
            "poll",
            self.poll_async(auth_req_id, client_id, interval_increment, now),
        )
    }

    fn attach_tokens<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        traced(
            "attach_tokens",
            self.attach_tokens_async(auth_req_id, tokens, now),
        )
    }

    fn revoke_tokens<'a>(
        &'a self,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        traced("revoke_tokens", self.revoke_tokens_async(tokens, now))
    }

    fn is_revoked<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        traced("is_revoked", self.is_revoked_async(fingerprint, now))
    }

    fn remember_jti<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        traced(
            "remember_jti",
            self.remember_jti_async(key, expires_at, now),
        )
    }

    fn remove_ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        traced("remove_ticket", async move {
            Ok(self.delete_ticket("remove_ticket", id).await?.is_some())
        })
    }

    fn record_confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        confirmation: &'a Confirmation,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        traced(
            "record_confirmation",
            self.record_confirmation_async(fingerprint, confirmation, expires_at, now),
        )
    }

    fn confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Confirmation>, StoreError>> {
        traced("confirmation", self.confirmation_async(fingerprint, now))
    }
}

/// Counter: store operations that failed on Redis (timeouts, lost connections, refused
/// scripts), by `operation`. Their latency is ciba-server's `ciba_store_operation_seconds`.
pub const REDIS_FAILURES: &str = "ciba_redis_failures_total";

/// Gives the installed recorder the description of [`REDIS_FAILURES`] (Prometheus `# HELP`).
pub fn describe_metrics() {
    metrics::describe_counter!(REDIS_FAILURES, "store operations that failed on Redis");
}

/// Runs one store operation in a `DEBUG` span named `ciba_redis` with its `op` and
/// `outcome` (`ok` or `error`), counting failures in [`REDIS_FAILURES`]. Keys, members and
/// values (which hold identifiers and tokens' fingerprints) are never recorded.
fn traced<'a, T: Send + 'a>(
    op: &'static str,
    operation: impl Future<Output = Result<T, StoreError>> + Send + 'a,
) -> BoxFuture<'a, Result<T, StoreError>> {
    Box::pin(async move {
        // Created when first polled, so that it nests in the caller's span of the moment
        // (ciba-server's `ciba_store`).
        let span = tracing::debug_span!("ciba_redis", op, outcome = tracing::field::Empty);
        let result = operation.instrument(span.clone()).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(StoreError::ClientLimitReached { .. }) => "client_limit",
            Err(_) => {
                metrics::counter!(REDIS_FAILURES, "operation" => op).increment(1);
                "error"
            }
        };
        span.record("outcome", outcome);
        result
    })
}
