//! [`MemoryStore`]: the embedded, single-process [`Store`].

use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::future::ready;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::random::IDENTIFIER_BYTES;

use super::expiry_queue::ExpiryQueue;
use super::records::{
    CompleteStatus, Completion, PollStatus, ReplayKey, RequestState, StoredRequest,
    TokenFingerprint,
};
use super::{BoxFuture, Store, StoreError};
use crate::auth_req_id::AuthReqId;
use crate::binding::Confirmation;
use crate::client::DeliveryMode;
use crate::secret::Secret;
use crate::ticket::Ticket;

/// Settings of a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

impl MemoryStoreConfig {
    /// These settings with `max` entries per client.
    pub fn with_max_entries_per_client(mut self, max: usize) -> MemoryStoreConfig {
        self.max_entries_per_client = max;
        self
    }
}

/// A [`Store`] in process memory, split into 64 shards with a mutex each.
///
/// An entry lives in the shard its key hashes to, so no operation ever locks, rehashes or
/// reallocates more than one shard's share of the store: as millions of requests
/// accumulate, a table that outgrows its capacity copies a 64th of them, not all of them,
/// and the other shards carry on meanwhile. Insert and lookup cost does not depend on how
/// many requests are pending. Each client's count of entries (for
/// [`MemoryStoreConfig::max_entries_per_client`]) is kept apart, under a lock held only to
/// count.
///
/// Every entry is scheduled in its shard's expiry queue, ordered by deadline, when it is
/// inserted, and every operation first removes the entries of the shard it locks whose
/// deadline is at or before its `now`. The work of that sweep is proportional to what
/// expired in one shard, never to what is stored. A client that reaches its limit has every
/// shard swept before it is refused, so entries expired in shards nobody touched never
/// count against it.
///
/// A pending request is kept compactly: under an identifier the server minted it is keyed
/// by the identifier's 20 bytes, and it shares its `client_id` and (usually) its scope list
/// with the client's other requests. About 300 bytes each at a million pending
/// (`cargo run --release -p ciba-bench --bin scale`).
///
/// Its `Debug` form shows the settings and how many entries of each kind are kept, never
/// the entries: their keys are `auth_req_id`s and token fingerprints.
pub struct MemoryStore {
    config: MemoryStoreConfig,
    shards: Box<[Mutex<Inner>; SHARDS]>,
    clients: Mutex<Clients>,
    /// The next expiry-queue sequence number, shared by the shards so that numbers order
    /// entries by when they were stored across the whole store.
    next_seq: AtomicU64,
    /// Picks the shard of a text key; keyed per store, so nobody can aim keys at one shard.
    hasher: RandomState,
}

/// How many shards a [`MemoryStore`] has (a power of two).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub const SHARDS: usize = 64;

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_config(MemoryStoreConfig::default())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (mut tickets, mut requests, mut jtis, mut revoked) = (0, 0, 0, 0);
        for shard in self.shards.iter() {
            let inner = lock(shard);
            tickets += inner.tickets.len();
            requests += inner.requests.len();
            jtis += inner.jtis.len();
            revoked += inner.revoked.len();
        }
        f.debug_struct("MemoryStore")
            .field("config", &self.config)
            .field("tickets", &tickets)
            .field("requests", &requests)
            .field("jtis", &jtis)
            .field("revoked", &revoked)
            .finish_non_exhaustive()
    }
}

/// Locks `mutex`. No operation panics while holding a store lock, so a poisoned lock still
/// guards consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What an expiry-queue deadline removes. Small (24 bytes): a request under a minted
/// identifier is named by the identifier's 20 bytes, not by a second copy of its text.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub enum Slot {
    /// A ticket, by its id.
    Ticket(Box<str>),
    /// A request under a minted identifier.
    Request(MintedId),
    /// A request under any other identifier.
    OtherRequest(Box<str>),
    /// A replay-cache entry.
    Jti(Box<ReplayKey>),
    /// A revoked token's fingerprint.
    Revoked(Box<str>),
    /// A token confirmation, by the token's fingerprint.
    Confirmation(Box<str>),
}

struct Kept<T> {
    value: T,
    seq: u64,
}

#[derive(Default)]
struct Inner {
    queue: ExpiryQueue<Slot>,
    tickets: HashMap<String, Kept<Ticket>>,
    requests: Requests,
    jtis: HashMap<ReplayKey, u64>,
    revoked: HashMap<String, u64>,
    confirmations: HashMap<String, (Confirmation, u64)>,
}

/// Every client's count of entries across the shards, and what its requests share.
#[derive(Default)]
struct Clients {
    per_client: HashMap<Arc<str>, ClientEntry>,
}

/// One client's count of entries, and what its requests share.
struct ClientEntry {
    /// The interned `client_id`, shared by the client's kept requests.
    id: Arc<str>,
    count: usize,
    /// The scopes of the client's latest request, shared by every kept request that asked
    /// for the same list (clients usually ask for the same scopes every time).
    scopes: Option<Arc<[String]>>,
}

/// The 20 random bytes behind an identifier the server minted (27 characters of canonical
/// base64url, see [`ciba_core::random::random_identifier`]).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub type MintedId = [u8; IDENTIFIER_BYTES];

/// Length of the base64url text of a [`MintedId`].
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub const MINTED_ID_LEN: usize = 27;

/// The bytes behind `id` when `id` is the canonical base64url text of [`IDENTIFIER_BYTES`]
/// bytes; `None` for any other text. Only one text maps to given bytes, so keying by the
/// bytes never merges two identifiers.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn minted_id(id: &str) -> Option<MintedId> {
    if id.len() != MINTED_ID_LEN {
        return None;
    }
    // `decode_slice` wants room for its estimate (21 bytes), not the exact length.
    let mut decoded = [0u8; IDENTIFIER_BYTES + 1];
    let len = URL_SAFE_NO_PAD.decode_slice(id, &mut decoded).ok()?;
    if len != IDENTIFIER_BYTES {
        return None;
    }
    let bytes: MintedId = decoded.get(..IDENTIFIER_BYTES)?.try_into().ok()?;
    let mut text = [0u8; MINTED_ID_LEN];
    let written = URL_SAFE_NO_PAD.encode_slice(bytes, &mut text).ok()?;
    (text.get(..written)? == id.as_bytes()).then_some(bytes)
}

/// How a request identifier is looked up.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub enum RequestKey<'a> {
    /// An identifier the server minted, by its bytes.
    Minted(MintedId),
    /// Any other identifier, by its text.
    Other(&'a str),
}

impl RequestKey<'_> {
    /// The key of the identifier `id`.
    #[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
    pub fn of(id: &str) -> RequestKey<'_> {
        match minted_id(id) {
            Some(bytes) => RequestKey::Minted(bytes),
            None => RequestKey::Other(id),
        }
    }

    fn slot(&self) -> Slot {
        match self {
            RequestKey::Minted(bytes) => Slot::Request(*bytes),
            RequestKey::Other(id) => Slot::OtherRequest((*id).into()),
        }
    }

    /// The hash that picks the shard: a minted identifier's bytes are random already.
    fn shard_hash(&self, hasher: &RandomState) -> u64 {
        match self {
            RequestKey::Minted(bytes) => {
                let [a, b, c, d, e, f, g, h, ..] = *bytes;
                u64::from_le_bytes([a, b, c, d, e, f, g, h])
            }
            RequestKey::Other(id) => hasher.hash_one(id),
        }
    }
}

/// The kept requests: those under identifiers the server minted keyed by their 20 bytes,
/// any other identifier (a custom store user, tests) by its text.
#[derive(Default)]
struct Requests {
    minted: HashMap<MintedId, Box<Record>>,
    other: HashMap<Box<str>, Box<Record>>,
}

impl Requests {
    fn len(&self) -> usize {
        self.minted.len() + self.other.len()
    }

    fn get(&self, key: &RequestKey<'_>) -> Option<&Record> {
        match key {
            RequestKey::Minted(bytes) => self.minted.get(bytes),
            RequestKey::Other(id) => self.other.get(*id),
        }
        .map(|r| &**r)
    }

    fn get_mut(&mut self, key: &RequestKey<'_>) -> Option<&mut Record> {
        match key {
            RequestKey::Minted(bytes) => self.minted.get_mut(bytes),
            RequestKey::Other(id) => self.other.get_mut(*id),
        }
        .map(|r| &mut **r)
    }

    fn insert(&mut self, key: &RequestKey<'_>, record: Box<Record>) {
        match key {
            RequestKey::Minted(bytes) => {
                self.minted.insert(*bytes, record);
            }
            RequestKey::Other(id) => {
                self.other.insert((*id).into(), record);
            }
        }
    }
}

/// A kept [`StoredRequest`] in the form that costs least while it is pending: the
/// identifier is the map key, the `client_id` and the scope list are shared with the
/// client's other requests, the state is boxed only once it leaves `Pending`, and the parts
/// a poll-mode request rarely has are boxed together and absent when empty.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub struct Record {
    /// The expiry-queue scheduling that removes this record.
    seq: u64,
    client_id: Arc<str>,
    subject: Box<str>,
    scopes: Arc<[String]>,
    issued_at: SystemTime,
    expires_at: SystemTime,
    last_poll: Option<SystemTime>,
    interval: u64,
    delivery_mode: DeliveryMode,
    /// `None` while pending.
    state: Option<Box<RequestState>>,
    /// `None` when the request has none of these.
    cold: Option<Box<ColdParts>>,
}

/// The parts of a request a poll-mode request usually does not have.
struct ColdParts {
    notification_endpoint: Option<String>,
    client_notification_token: Option<Secret>,
    acr_values: Vec<String>,
    binding_message: Option<String>,
}

impl Record {
    fn new(
        request: &StoredRequest,
        seq: u64,
        client_id: Arc<str>,
        scopes: Arc<[String]>,
    ) -> Record {
        let has_cold = request.notification_endpoint.is_some()
            || request.client_notification_token.is_some()
            || !request.acr_values.is_empty()
            || request.binding_message.is_some();
        let mut record = Record {
            seq,
            client_id,
            subject: request.subject.as_str().into(),
            scopes,
            issued_at: request.issued_at,
            expires_at: request.expires_at,
            last_poll: request.last_poll,
            interval: request.interval,
            delivery_mode: request.delivery_mode,
            state: None,
            cold: has_cold.then(|| {
                Box::new(ColdParts {
                    notification_endpoint: request.notification_endpoint.clone(),
                    client_notification_token: request.client_notification_token.clone(),
                    acr_values: request.acr_values.clone(),
                    binding_message: request.binding_message.clone(),
                })
            }),
        };
        record.set_state(request.state.clone());
        record
    }

    /// The request as the [`Store`] API hands it out, under `auth_req_id` (the text it was
    /// looked up by, which is the text it was stored under).
    fn to_stored(&self, auth_req_id: &str) -> StoredRequest {
        let cold = self.cold.as_deref();
        StoredRequest {
            auth_req_id: AuthReqId::from_stored(auth_req_id.to_owned()),
            client_id: self.client_id.as_ref().to_owned(),
            subject: self.subject.as_ref().to_owned(),
            delivery_mode: self.delivery_mode,
            notification_endpoint: cold.and_then(|c| c.notification_endpoint.clone()),
            client_notification_token: cold.and_then(|c| c.client_notification_token.clone()),
            scopes: self.scopes.to_vec(),
            acr_values: cold.map(|c| c.acr_values.clone()).unwrap_or_default(),
            binding_message: cold.and_then(|c| c.binding_message.clone()),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            interval: self.interval,
            last_poll: self.last_poll,
            state: self
                .state
                .as_deref()
                .cloned()
                .unwrap_or(RequestState::Pending),
        }
    }

    fn is_pending(&self) -> bool {
        matches!(self.state.as_deref(), None | Some(RequestState::Pending))
    }

    fn set_state(&mut self, state: RequestState) {
        self.state = match state {
            RequestState::Pending => None,
            other => Some(Box::new(other)),
        };
    }

    fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    fn poll_too_early(&self, now: SystemTime) -> bool {
        self.last_poll.is_some_and(|last| {
            last.checked_add(Duration::from_secs(self.interval))
                .is_none_or(|next| now < next)
        })
    }
}

/// The interval after a `slow_down`: `interval + increment`, but never past the request's
/// remaining lifetime in whole seconds (rounded up), and never below `interval`. A burst
/// of early polls thus cannot push the interval beyond the request's expiry.
fn slowed_interval(interval: u64, increment: u64, expires_at: SystemTime, now: SystemTime) -> u64 {
    let left = expires_at.duration_since(now).unwrap_or(Duration::ZERO);
    let left = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    interval.saturating_add(increment).min(left.max(interval))
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
            shards: Box::new(std::array::from_fn(|_| Mutex::default())),
            clients: Mutex::default(),
            next_seq: AtomicU64::new(0),
            hasher: RandomState::new(),
        }
    }

    /// How many entries `client_id` has (tickets, requests, replay entries) as of `now`.
    pub fn client_entries(&self, client_id: &str, now: SystemTime) -> usize {
        self.sweep_all(now);
        lock(&self.clients)
            .per_client
            .get(client_id)
            .map_or(0, |c| c.count)
    }

    /// Total number of kept entries (tickets, requests, replay entries, revocations) as of
    /// `now`.
    pub fn len(&self, now: SystemTime) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut inner = lock(shard);
                inner.sweep(now, &self.clients);
                inner.tickets.len()
                    + inner.requests.len()
                    + inner.jtis.len()
                    + inner.revoked.len()
                    + inner.confirmations.len()
            })
            .sum()
    }

    /// True when nothing is kept as of `now`.
    pub fn is_empty(&self, now: SystemTime) -> bool {
        self.len(now) == 0
    }

    /// The shard of a text key.
    fn shard_of<K: Hash + ?Sized>(&self, key: &K) -> usize {
        self.shard_at(self.hasher.hash_one(key))
    }

    /// The shard of a request identifier.
    fn request_shard(&self, key: &RequestKey<'_>) -> usize {
        self.shard_at(key.shard_hash(&self.hasher))
    }

    fn shard_at(&self, hash: u64) -> usize {
        // Truncation intended: only the low bits choose.
        (hash as usize) & (SHARDS - 1)
    }

    /// Shard `index`, locked and swept as of `now`.
    fn locked(&self, index: usize, now: SystemTime) -> MutexGuard<'_, Inner> {
        let mut inner = self.lock_shard(index);
        inner.sweep(now, &self.clients);
        inner
    }

    fn lock_shard(&self, index: usize) -> MutexGuard<'_, Inner> {
        // `index` comes masked from `shard_at`, so `get` finds it; the first shard is only
        // the type's fallback.
        let [first, ..] = &*self.shards;
        lock(self.shards.get(index).unwrap_or(first))
    }

    /// Sweeps every shard in turn, one lock at a time.
    fn sweep_all(&self, now: SystemTime) {
        for shard in self.shards.iter() {
            lock(shard).sweep(now, &self.clients);
        }
    }

    fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs `insert` on shard `index` (locked and swept as of `now`). `insert` checks for a
    /// duplicate, then charges the client through [`Clients::charge`] before changing
    /// anything. When the client is at its limit, every shard is swept (with no lock held)
    /// and `insert` runs once more, so entries that expired in shards nobody touched since
    /// never count against the client.
    fn charged<T>(
        &self,
        index: usize,
        now: SystemTime,
        mut insert: impl FnMut(&mut Inner, &mut Clients) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut swept = false;
        loop {
            let mut inner = self.locked(index, now);
            let mut clients = lock(&self.clients);
            match insert(&mut inner, &mut clients) {
                Err(StoreError::ClientLimitReached { .. }) if !swept => {
                    drop(clients);
                    drop(inner);
                    self.sweep_all(now);
                    swept = true;
                }
                other => return other,
            }
        }
    }

    /// Remembers the revocation of each of `tokens`, each in its fingerprint's shard.
    fn revoke(&self, tokens: &[TokenFingerprint], now: SystemTime) {
        for t in tokens {
            if t.expires_at > now {
                let mut inner = self.locked(self.shard_of(t.fingerprint.as_str()), now);
                let seq = self.next_seq();
                inner.queue.schedule(
                    t.expires_at,
                    seq,
                    Slot::Revoked(t.fingerprint.as_str().into()),
                );
                inner.revoked.insert(t.fingerprint.clone(), seq);
            }
        }
    }
}

impl Inner {
    /// Removes what is due as of `now`, giving back each removed entry's count to its
    /// client (the clients' lock is taken only when something counted is removed).
    fn sweep(&mut self, now: SystemTime, clients: &Mutex<Clients>) {
        let mut counts: Option<MutexGuard<'_, Clients>> = None;
        let mut release = |client_id: &str| {
            counts
                .get_or_insert_with(|| lock(clients))
                .release(client_id);
        };
        while let Some((seq, slot)) = self.queue.pop_due(now) {
            match slot {
                Slot::Ticket(id) => {
                    if self.tickets.get(&*id).is_some_and(|k| k.seq == seq)
                        && let Some(kept) = self.tickets.remove(&*id)
                    {
                        release(&kept.value.client_id);
                    }
                }
                Slot::Request(bytes) => {
                    if let Entry::Occupied(e) = self.requests.minted.entry(bytes)
                        && e.get().seq == seq
                    {
                        let record = e.remove();
                        release(&record.client_id);
                    }
                }
                Slot::OtherRequest(id) => {
                    if let Entry::Occupied(e) = self.requests.other.entry(id)
                        && e.get().seq == seq
                    {
                        let record = e.remove();
                        release(&record.client_id);
                    }
                }
                Slot::Jti(key) => {
                    if self.jtis.get(&*key) == Some(&seq) {
                        self.jtis.remove(&*key);
                        release(&key.client_id);
                    }
                }
                Slot::Revoked(fp) => {
                    if self.revoked.get(&*fp) == Some(&seq) {
                        self.revoked.remove(&*fp);
                    }
                }
                Slot::Confirmation(fp) => {
                    if self.confirmations.get(&*fp).is_some_and(|(_, s)| *s == seq) {
                        self.confirmations.remove(&*fp);
                    }
                }
            }
        }
    }
}

impl Clients {
    /// Counts one more entry for `client_id`, or fails when it has `limit` already.
    fn charge(&mut self, client_id: &str, limit: usize) -> Result<(), StoreError> {
        let count = self.per_client.get(client_id).map_or(0, |c| c.count);
        if count >= limit {
            return Err(StoreError::ClientLimitReached {
                client_id: client_id.to_owned(),
                limit,
            });
        }
        match self.per_client.get_mut(client_id) {
            Some(c) => c.count += 1,
            None => {
                let id: Arc<str> = client_id.into();
                self.per_client.insert(
                    Arc::clone(&id),
                    ClientEntry {
                        id,
                        count: 1,
                        scopes: None,
                    },
                );
            }
        }
        Ok(())
    }

    /// The shared `client_id` and scope list for a new request of a charged client.
    fn interned(&mut self, request: &StoredRequest) -> (Arc<str>, Arc<[String]>) {
        let Some(client) = self.per_client.get_mut(request.client_id.as_str()) else {
            // Not reached: the client was charged for this request.
            return (
                request.client_id.as_str().into(),
                request.scopes.as_slice().into(),
            );
        };
        let scopes = match &client.scopes {
            Some(s) if s.as_ref() == request.scopes.as_slice() => Arc::clone(s),
            _ => {
                let s: Arc<[String]> = request.scopes.as_slice().into();
                client.scopes = Some(Arc::clone(&s));
                s
            }
        };
        (Arc::clone(&client.id), scopes)
    }

    /// Counts one entry fewer for `client_id`.
    fn release(&mut self, client_id: &str) {
        if let Some(c) = self.per_client.get_mut(client_id) {
            c.count = c.count.saturating_sub(1);
            if c.count == 0 {
                self.per_client.remove(client_id);
            }
        }
    }
}

/// The store operations, each completed under the lock before it returns.
impl MemoryStore {
    fn insert_ticket_now(&self, ticket: &Ticket, now: SystemTime) -> Result<(), StoreError> {
        let limit = self.config.max_entries_per_client;
        self.charged(self.shard_of(ticket.id.as_str()), now, |inner, clients| {
            if inner.tickets.contains_key(&ticket.id) {
                return Err(StoreError::DuplicateKey);
            }
            clients.charge(&ticket.client_id, limit)?;
            let seq = self.next_seq();
            inner.queue.schedule(
                ticket.expires_at,
                seq,
                Slot::Ticket(ticket.id.as_str().into()),
            );
            inner.tickets.insert(
                ticket.id.clone(),
                Kept {
                    value: ticket.clone(),
                    seq,
                },
            );
            Ok(())
        })
    }

    fn take_ticket_now(&self, id: &str, now: SystemTime) -> Result<Option<Ticket>, StoreError> {
        let mut inner = self.locked(self.shard_of(id), now);
        let Some(kept) = inner.tickets.remove(id) else {
            return Ok(None);
        };
        lock(&self.clients).release(&kept.value.client_id);
        Ok(Some(kept.value))
    }

    fn remove_ticket_now(&self, id: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock_shard(self.shard_of(id));
        let Some(kept) = inner.tickets.remove(id) else {
            return Ok(false);
        };
        lock(&self.clients).release(&kept.value.client_id);
        Ok(true)
    }

    fn insert_request_now(
        &self,
        request: &StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let key = RequestKey::of(request.auth_req_id.as_str());
        let limit = self.config.max_entries_per_client;
        self.charged(self.request_shard(&key), now, |inner, clients| {
            if inner.requests.get(&key).is_some() {
                return Err(StoreError::DuplicateKey);
            }
            clients.charge(&request.client_id, limit)?;
            let (client_id, scopes) = clients.interned(request);
            let seq = self.next_seq();
            inner.queue.schedule(keep_until, seq, key.slot());
            let record = Record::new(request, seq, client_id, scopes);
            inner.requests.insert(&key, Box::new(record));
            Ok(())
        })
    }

    fn request_now(
        &self,
        auth_req_id: &AuthReqId,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, StoreError> {
        let key = RequestKey::of(auth_req_id.as_str());
        let inner = self.locked(self.request_shard(&key), now);
        Ok(inner
            .requests
            .get(&key)
            .map(|r| r.to_stored(auth_req_id.as_str())))
    }

    fn complete_now(
        &self,
        auth_req_id: &AuthReqId,
        result: Completion,
        now: SystemTime,
    ) -> Result<CompleteStatus, StoreError> {
        let key = RequestKey::of(auth_req_id.as_str());
        let mut inner = self.locked(self.request_shard(&key), now);
        let Some(record) = inner.requests.get_mut(&key) else {
            return Ok(CompleteStatus::Unknown);
        };
        if !record.is_pending() {
            return Ok(CompleteStatus::AlreadyCompleted);
        }
        let before = Box::new(record.to_stored(auth_req_id.as_str()));
        if record.is_expired(now) {
            if record.delivery_mode == DeliveryMode::Push {
                record.set_state(RequestState::Delivered { tokens: Vec::new() });
            }
            return Ok(CompleteStatus::Expired(before));
        }
        record.set_state(match result {
            Completion::Authorized(grant) => RequestState::Authorized(grant),
            Completion::Denied => RequestState::Denied,
            Completion::Failed => RequestState::Failed,
            Completion::Delivered(tokens) => RequestState::Delivered { tokens },
        });
        Ok(CompleteStatus::Completed(before))
    }

    fn poll_now(
        &self,
        auth_req_id: &AuthReqId,
        client_id: &str,
        interval_increment: u64,
        now: SystemTime,
    ) -> Result<PollStatus, StoreError> {
        let key = RequestKey::of(auth_req_id.as_str());
        let mut inner = self.locked(self.request_shard(&key), now);
        let Some(record) = inner.requests.get_mut(&key) else {
            return Ok(PollStatus::Unknown);
        };
        if record.client_id.as_ref() != client_id {
            return Ok(PollStatus::Unknown);
        }
        let mut to_revoke = Vec::new();
        let expired = record.is_expired(now);
        let status = match record.state.as_deref_mut() {
            Some(RequestState::Redeemed { tokens, replayed }) => {
                *replayed = true;
                to_revoke = std::mem::take(tokens);
                PollStatus::AlreadyUsed
            }
            Some(RequestState::Delivered { .. } | RequestState::Consumed) => {
                PollStatus::AlreadyUsed
            }
            _ if expired => PollStatus::Expired,
            None | Some(RequestState::Pending) => {
                let early = record.poll_too_early(now);
                record.last_poll = Some(now);
                if early {
                    record.interval = slowed_interval(
                        record.interval,
                        interval_increment,
                        record.expires_at,
                        now,
                    );
                    PollStatus::SlowDown {
                        interval: record.interval,
                    }
                } else {
                    PollStatus::Pending
                }
            }
            Some(RequestState::Authorized(_)) => {
                let before = Box::new(record.to_stored(auth_req_id.as_str()));
                record.set_state(RequestState::Redeemed {
                    tokens: Vec::new(),
                    replayed: false,
                });
                record.last_poll = Some(now);
                PollStatus::Authorized(before)
            }
            Some(RequestState::Denied) => {
                record.set_state(RequestState::Consumed);
                PollStatus::Denied
            }
            Some(RequestState::Failed) => {
                record.set_state(RequestState::Consumed);
                PollStatus::Failed
            }
        };
        drop(inner);
        self.revoke(&to_revoke, now);
        Ok(status)
    }

    fn attach_tokens_now(
        &self,
        auth_req_id: &AuthReqId,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let key = RequestKey::of(auth_req_id.as_str());
        let mut inner = self.locked(self.request_shard(&key), now);
        let Some(record) = inner.requests.get_mut(&key) else {
            // Forgotten already: nothing can replay it any more.
            return Ok(());
        };
        let revoke_now = match record.state.as_deref_mut() {
            Some(RequestState::Redeemed {
                tokens: kept_tokens,
                replayed,
            }) => {
                if *replayed {
                    true
                } else {
                    kept_tokens.extend_from_slice(tokens);
                    false
                }
            }
            _ => false,
        };
        drop(inner);
        if revoke_now {
            self.revoke(tokens, now);
        }
        Ok(())
    }

    fn revoke_tokens_now(
        &self,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.revoke(tokens, now);
        Ok(())
    }

    fn is_revoked_now(&self, fingerprint: &str, now: SystemTime) -> Result<bool, StoreError> {
        let inner = self.locked(self.shard_of(fingerprint), now);
        Ok(inner.revoked.contains_key(fingerprint))
    }

    fn record_confirmation_now(
        &self,
        fingerprint: &str,
        confirmation: &Confirmation,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        if expires_at <= now {
            return Ok(());
        }
        let mut inner = self.locked(self.shard_of(fingerprint), now);
        let seq = self.next_seq();
        inner
            .queue
            .schedule(expires_at, seq, Slot::Confirmation(fingerprint.into()));
        inner
            .confirmations
            .insert(fingerprint.to_owned(), (confirmation.clone(), seq));
        Ok(())
    }

    fn confirmation_now(
        &self,
        fingerprint: &str,
        now: SystemTime,
    ) -> Result<Option<Confirmation>, StoreError> {
        let inner = self.locked(self.shard_of(fingerprint), now);
        Ok(inner.confirmations.get(fingerprint).map(|(c, _)| c.clone()))
    }

    fn remember_jti_now(
        &self,
        key: &ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let limit = self.config.max_entries_per_client;
        self.charged(self.shard_of(key), now, |inner, clients| {
            if inner.jtis.contains_key(key) {
                return Ok(false);
            }
            clients.charge(&key.client_id, limit)?;
            let seq = self.next_seq();
            inner
                .queue
                .schedule(expires_at, seq, Slot::Jti(Box::new(key.clone())));
            inner.jtis.insert(key.clone(), seq);
            Ok(true)
        })
    }

    /// The pending, unexpired requests (of `subject` when given), soonest expiry first (in
    /// insertion order among equal expiries), at most `limit`.
    ///
    /// One pass over each shard's kept requests in turn, one shard locked at a time,
    /// holding only the `limit` soonest of the shard (in a heap, by reference): it costs a
    /// comparison per kept request and `limit` entries of scratch. Only a shard's soonest
    /// are copied out, and merged with the other shards' into the `limit` soonest overall.
    /// A deadline-ordered walk of the expiry queues could stop sooner, but a queue holds
    /// requests at the end of their tombstone period, so every expired request still kept
    /// comes first in it.
    fn pending_now(
        &self,
        subject: Option<&str>,
        limit: usize,
        now: SystemTime,
    ) -> Vec<StoredRequest> {
        if limit == 0 {
            return Vec::new();
        }
        // The soonest so far of the shards already seen; the latest of them on top.
        let mut merged: BinaryHeap<Listed> = BinaryHeap::new();
        for index in 0..SHARDS {
            let inner = self.locked(index, now);
            for listed in inner.soonest_pending(subject, limit, now) {
                if merged.len() < limit {
                    merged.push(listed);
                } else if merged.peek().is_some_and(|latest| listed < *latest) {
                    merged.pop();
                    merged.push(listed);
                }
            }
        }
        merged
            .into_sorted_vec()
            .into_iter()
            .map(|l| l.request)
            .collect()
    }
}

impl Inner {
    /// This shard's pending, unexpired requests (of `subject` when given), at most
    /// `limit` of the soonest to expire, copied out.
    fn soonest_pending(&self, subject: Option<&str>, limit: usize, now: SystemTime) -> Vec<Listed> {
        let wanted = |r: &Record| {
            r.is_pending() && !r.is_expired(now) && subject.is_none_or(|s| *r.subject == *s)
        };
        let kept = self
            .requests
            .minted
            .iter()
            .map(|(bytes, r)| (KeptId::Minted(bytes), &**r))
            .chain(
                self.requests
                    .other
                    .iter()
                    .map(|(id, r)| (KeptId::Other(id), &**r)),
            );
        // The soonest so far; the latest of them on top, to be displaced.
        let mut soonest: BinaryHeap<Candidate<'_>> = BinaryHeap::new();
        for (id, record) in kept {
            if !wanted(record) {
                continue;
            }
            let candidate = Candidate { record, id };
            if soonest.len() < limit {
                soonest.push(candidate);
            } else if soonest.peek().is_some_and(|latest| candidate < *latest) {
                soonest.pop();
                soonest.push(candidate);
            }
        }
        soonest
            .into_iter()
            .map(|c| Listed {
                rank: c.rank(),
                request: match c.id {
                    KeptId::Minted(bytes) => c.record.to_stored(&URL_SAFE_NO_PAD.encode(bytes)),
                    KeptId::Other(id) => c.record.to_stored(id),
                },
            })
            .collect()
    }
}

/// A request copied out for [`MemoryStore::pending_now`], ordered like a [`Candidate`].
struct Listed {
    rank: (SystemTime, u64),
    request: StoredRequest,
}

impl PartialEq for Listed {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}

impl Eq for Listed {}

impl PartialOrd for Listed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Listed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

/// The identifier a listed request is kept under.
enum KeptId<'a> {
    Minted(&'a MintedId),
    Other(&'a str),
}

/// A request [`MemoryStore::pending_now`] may list, ordered by expiry, then by when it was
/// stored (its expiry-queue sequence number, unique).
struct Candidate<'a> {
    record: &'a Record,
    id: KeptId<'a>,
}

impl Candidate<'_> {
    fn rank(&self) -> (SystemTime, u64) {
        (self.record.expires_at, self.record.seq)
    }
}

impl PartialEq for Candidate<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}

impl Eq for Candidate<'_> {}

impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl Store for MemoryStore {
    fn insert_ticket<'a>(
        &'a self,
        ticket: &'a Ticket,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.insert_ticket_now(ticket, now)))
    }

    fn take_ticket<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Ticket>, StoreError>> {
        Box::pin(ready(self.take_ticket_now(id, now)))
    }

    fn insert_request<'a>(
        &'a self,
        request: &'a StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.insert_request_now(request, keep_until, now)))
    }

    fn request<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<StoredRequest>, StoreError>> {
        Box::pin(ready(self.request_now(auth_req_id, now)))
    }

    fn pending_requests<'a>(
        &'a self,
        subject: Option<&'a str>,
        limit: usize,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<StoredRequest>, StoreError>> {
        Box::pin(ready(Ok(self.pending_now(subject, limit, now))))
    }

    fn complete<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        result: Completion,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CompleteStatus, StoreError>> {
        Box::pin(ready(self.complete_now(auth_req_id, result, now)))
    }

    fn poll<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        client_id: &'a str,
        interval_increment: u64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<PollStatus, StoreError>> {
        Box::pin(ready(self.poll_now(
            auth_req_id,
            client_id,
            interval_increment,
            now,
        )))
    }

    fn attach_tokens<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.attach_tokens_now(auth_req_id, tokens, now)))
    }

    fn revoke_tokens<'a>(
        &'a self,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.revoke_tokens_now(tokens, now)))
    }

    fn is_revoked<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(ready(self.is_revoked_now(fingerprint, now)))
    }

    fn remember_jti<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(ready(self.remember_jti_now(key, expires_at, now)))
    }

    fn remove_ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(ready(self.remove_ticket_now(id)))
    }

    fn record_confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        confirmation: &'a Confirmation,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.record_confirmation_now(
            fingerprint,
            confirmation,
            expires_at,
            now,
        )))
    }

    fn confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Confirmation>, StoreError>> {
        Box::pin(ready(self.confirmation_now(fingerprint, now)))
    }
}

/// What a kept request shares with its client's other requests, and whether it is kept in
/// the compact form of a pending request (for this crate's tests, `__internals`).
#[cfg(feature = "test-internals")]
#[derive(Debug)]
pub struct SharedParts {
    /// The interned `client_id`.
    pub client_id: Arc<str>,
    /// The (possibly shared) scope list.
    pub scopes: Arc<[String]>,
    /// Whether the record holds a boxed state (it has left `Pending`).
    pub has_state: bool,
    /// Whether the record holds the boxed parts a poll-mode request rarely has.
    pub has_cold_parts: bool,
}

/// The shared parts of the request `auth_req_id` kept in `store`, read under its shard's
/// lock (for this crate's tests, `__internals`).
#[cfg(feature = "test-internals")]
pub fn shared_parts(store: &MemoryStore, auth_req_id: &str) -> Option<SharedParts> {
    let key = RequestKey::of(auth_req_id);
    let inner = store.lock_shard(store.request_shard(&key));
    let record = inner.requests.get(&key)?;
    Some(SharedParts {
        client_id: Arc::clone(&record.client_id),
        scopes: Arc::clone(&record.scopes),
        has_state: record.state.is_some(),
        has_cold_parts: record.cold.is_some(),
    })
}

/// How many requests each shard of `store` keeps, expired or not (for this crate's tests,
/// `__internals`).
#[cfg(feature = "test-internals")]
pub fn requests_per_shard(store: &MemoryStore) -> Vec<usize> {
    store
        .shards
        .iter()
        .map(|s| lock(s).requests.len())
        .collect()
}
