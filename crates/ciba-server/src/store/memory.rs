//! [`MemoryStore`]: the embedded, single-process [`Store`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::expiry_queue::ExpiryQueue;
use super::records::{
    CompleteStatus, Completion, PollStatus, ReplayKey, RequestState, StoredRequest,
    TokenFingerprint,
};
use super::{Store, StoreError};
use crate::client::DeliveryMode;
use crate::ticket::Ticket;

/// Settings of a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStoreConfig {
    /// The most entries one client may have at a time: tickets, requests (including
    /// finished ones kept as tombstones) and replay-cache entries together. Beyond it,
    /// inserts fail with [`StoreError::ClientLimitReached`], which the server answers with
    /// 503 `temporarily_unavailable`, so one client cannot exhaust memory.
    pub max_entries_per_client: usize,
}

impl Default for MemoryStoreConfig {
    /// 10 000 entries per client.
    fn default() -> Self {
        MemoryStoreConfig {
            max_entries_per_client: 10_000,
        }
    }
}

/// A [`Store`] in process memory, behind one mutex.
///
/// Every entry is scheduled in an expiry queue ordered by deadline when it is inserted, and
/// every operation first removes the entries whose deadline is at or before its `now`. The
/// work of that sweep is proportional to what expired, never to what is stored.
#[derive(Debug, Default)]
pub struct MemoryStore {
    config: MemoryStoreConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
enum Slot {
    Ticket(String),
    Request(String),
    Jti(ReplayKey),
    Revoked(String),
}

#[derive(Debug)]
struct Kept<T> {
    value: T,
    seq: u64,
}

#[derive(Debug, Default)]
struct Inner {
    queue: ExpiryQueue<Slot>,
    tickets: HashMap<String, Kept<Ticket>>,
    requests: HashMap<String, Kept<StoredRequest>>,
    jtis: HashMap<ReplayKey, u64>,
    revoked: HashMap<String, u64>,
    per_client: HashMap<String, usize>,
}

impl MemoryStore {
    /// An empty store with the default settings.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store with `config`.
    pub fn with_config(config: MemoryStoreConfig) -> MemoryStore {
        MemoryStore {
            config,
            inner: Mutex::default(),
        }
    }

    /// How many entries `client_id` has (tickets, requests, replay entries) as of `now`.
    pub fn client_entries(&self, client_id: &str, now: SystemTime) -> usize {
        let mut inner = self.lock();
        inner.sweep(now);
        inner.per_client.get(client_id).copied().unwrap_or(0)
    }

    /// Total number of kept entries (tickets, requests, replay entries, revocations) as of
    /// `now`.
    pub fn len(&self, now: SystemTime) -> usize {
        let mut inner = self.lock();
        inner.sweep(now);
        inner.tickets.len() + inner.requests.len() + inner.jtis.len() + inner.revoked.len()
    }

    /// True when nothing is kept as of `now`.
    pub fn is_empty(&self, now: SystemTime) -> bool {
        self.len(now) == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No operation panics while holding the lock, so a poisoned lock still guards
        // consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn locked(&self, now: SystemTime) -> MutexGuard<'_, Inner> {
        let mut inner = self.lock();
        inner.sweep(now);
        inner
    }
}

impl Inner {
    fn sweep(&mut self, now: SystemTime) {
        while let Some((seq, slot)) = self.queue.pop_due(now) {
            match slot {
                Slot::Ticket(id) => {
                    if let Entry::Occupied(e) = self.tickets.entry(id)
                        && e.get().seq == seq
                    {
                        let kept = e.remove();
                        release(&mut self.per_client, &kept.value.client_id);
                    }
                }
                Slot::Request(id) => {
                    if let Entry::Occupied(e) = self.requests.entry(id)
                        && e.get().seq == seq
                    {
                        let kept = e.remove();
                        release(&mut self.per_client, &kept.value.client_id);
                    }
                }
                Slot::Jti(key) => {
                    if self.jtis.get(&key) == Some(&seq) {
                        self.jtis.remove(&key);
                        release(&mut self.per_client, &key.client_id);
                    }
                }
                Slot::Revoked(fp) => {
                    if self.revoked.get(&fp) == Some(&seq) {
                        self.revoked.remove(&fp);
                    }
                }
            }
        }
    }

    fn charge(&mut self, client_id: &str, limit: usize) -> Result<(), StoreError> {
        let count = self.per_client.entry(client_id.to_owned()).or_insert(0);
        if *count >= limit {
            return Err(StoreError::ClientLimitReached {
                client_id: client_id.to_owned(),
                limit,
            });
        }
        *count += 1;
        Ok(())
    }

    fn revoke(&mut self, tokens: &[TokenFingerprint], now: SystemTime) {
        for t in tokens {
            if t.expires_at > now {
                let seq = self
                    .queue
                    .schedule(t.expires_at, Slot::Revoked(t.fingerprint.clone()));
                self.revoked.insert(t.fingerprint.clone(), seq);
            }
        }
    }
}

fn release(per_client: &mut HashMap<String, usize>, client_id: &str) {
    if let Entry::Occupied(mut e) = per_client.entry(client_id.to_owned()) {
        *e.get_mut() = e.get().saturating_sub(1);
        if *e.get() == 0 {
            e.remove();
        }
    }
}

fn poll_too_early(request: &StoredRequest, now: SystemTime) -> bool {
    request.last_poll.is_some_and(|last| {
        last.checked_add(Duration::from_secs(request.interval))
            .is_none_or(|next| now < next)
    })
}

impl Store for MemoryStore {
    fn insert_ticket(&self, ticket: &Ticket, now: SystemTime) -> Result<(), StoreError> {
        let mut inner = self.locked(now);
        if inner.tickets.contains_key(&ticket.id) {
            return Err(StoreError::DuplicateKey);
        }
        inner.charge(&ticket.client_id, self.config.max_entries_per_client)?;
        let seq = inner
            .queue
            .schedule(ticket.expires_at, Slot::Ticket(ticket.id.clone()));
        inner.tickets.insert(
            ticket.id.clone(),
            Kept {
                value: ticket.clone(),
                seq,
            },
        );
        Ok(())
    }

    fn take_ticket(&self, id: &str, now: SystemTime) -> Result<Option<Ticket>, StoreError> {
        let mut inner = self.locked(now);
        let Some(kept) = inner.tickets.remove(id) else {
            return Ok(None);
        };
        release(&mut inner.per_client, &kept.value.client_id);
        Ok(Some(kept.value))
    }

    fn remove_ticket(&self, id: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(kept) = inner.tickets.remove(id) else {
            return Ok(false);
        };
        release(&mut inner.per_client, &kept.value.client_id);
        Ok(true)
    }

    fn insert_request(
        &self,
        request: &StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let mut inner = self.locked(now);
        if inner.requests.contains_key(&request.auth_req_id) {
            return Err(StoreError::DuplicateKey);
        }
        inner.charge(&request.client_id, self.config.max_entries_per_client)?;
        let seq = inner
            .queue
            .schedule(keep_until, Slot::Request(request.auth_req_id.clone()));
        inner.requests.insert(
            request.auth_req_id.clone(),
            Kept {
                value: request.clone(),
                seq,
            },
        );
        Ok(())
    }

    fn request(
        &self,
        auth_req_id: &str,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, StoreError> {
        let inner = self.locked(now);
        Ok(inner.requests.get(auth_req_id).map(|k| k.value.clone()))
    }

    fn complete(
        &self,
        auth_req_id: &str,
        result: Completion,
        now: SystemTime,
    ) -> Result<CompleteStatus, StoreError> {
        let mut inner = self.locked(now);
        let Some(kept) = inner.requests.get_mut(auth_req_id) else {
            return Ok(CompleteStatus::Unknown);
        };
        let request = &mut kept.value;
        if request.state != RequestState::Pending {
            return Ok(CompleteStatus::AlreadyCompleted);
        }
        let before = Box::new(request.clone());
        if request.is_expired(now) {
            if request.delivery_mode == DeliveryMode::Push {
                request.state = RequestState::Delivered { tokens: Vec::new() };
            }
            return Ok(CompleteStatus::Expired(before));
        }
        request.state = match result {
            Completion::Authorized(grant) => RequestState::Authorized(grant),
            Completion::Denied => RequestState::Denied,
            Completion::Failed => RequestState::Failed,
            Completion::Delivered(tokens) => RequestState::Delivered { tokens },
        };
        Ok(CompleteStatus::Completed(before))
    }

    fn poll(
        &self,
        auth_req_id: &str,
        client_id: &str,
        interval_increment: u64,
        now: SystemTime,
    ) -> Result<PollStatus, StoreError> {
        let mut inner = self.locked(now);
        let Some(kept) = inner.requests.get_mut(auth_req_id) else {
            return Ok(PollStatus::Unknown);
        };
        let request = &mut kept.value;
        if request.client_id != client_id {
            return Ok(PollStatus::Unknown);
        }
        let mut to_revoke = Vec::new();
        let expired = request.is_expired(now);
        let status = match &mut request.state {
            RequestState::Redeemed { tokens, replayed } => {
                *replayed = true;
                to_revoke = std::mem::take(tokens);
                PollStatus::AlreadyUsed
            }
            RequestState::Delivered { .. } | RequestState::Consumed => PollStatus::AlreadyUsed,
            _ if expired => PollStatus::Expired,
            RequestState::Pending => {
                let early = poll_too_early(request, now);
                request.last_poll = Some(now);
                if early {
                    request.interval = request.interval.saturating_add(interval_increment);
                    PollStatus::SlowDown {
                        interval: request.interval,
                    }
                } else {
                    PollStatus::Pending
                }
            }
            RequestState::Authorized(_) => {
                let before = Box::new(request.clone());
                request.state = RequestState::Redeemed {
                    tokens: Vec::new(),
                    replayed: false,
                };
                request.last_poll = Some(now);
                PollStatus::Authorized(before)
            }
            RequestState::Denied => {
                request.state = RequestState::Consumed;
                PollStatus::Denied
            }
            RequestState::Failed => {
                request.state = RequestState::Consumed;
                PollStatus::Failed
            }
        };
        inner.revoke(&to_revoke, now);
        Ok(status)
    }

    fn attach_tokens(
        &self,
        auth_req_id: &str,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let mut inner = self.locked(now);
        let Some(kept) = inner.requests.get_mut(auth_req_id) else {
            // Forgotten already: nothing can replay it any more.
            return Ok(());
        };
        let revoke_now = match &mut kept.value.state {
            RequestState::Redeemed {
                tokens: kept_tokens,
                replayed,
            } => {
                if *replayed {
                    true
                } else {
                    kept_tokens.extend_from_slice(tokens);
                    false
                }
            }
            _ => false,
        };
        if revoke_now {
            inner.revoke(tokens, now);
        }
        Ok(())
    }

    fn is_revoked(&self, fingerprint: &str, now: SystemTime) -> Result<bool, StoreError> {
        let inner = self.locked(now);
        Ok(inner.revoked.contains_key(fingerprint))
    }

    fn remember_jti(
        &self,
        key: &ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let mut inner = self.locked(now);
        if inner.jtis.contains_key(key) {
            return Ok(false);
        }
        inner.charge(&key.client_id, self.config.max_entries_per_client)?;
        let seq = inner.queue.schedule(expires_at, Slot::Jti(key.clone()));
        inner.jtis.insert(key.clone(), seq);
        Ok(true)
    }
}
