//! A [`Store`] that answers like a remote store that stalls: each operation first sleeps
//! asynchronously (`tokio::time::sleep`, never blocking a thread) for the delay set with
//! [`SlowStore::stall`], then runs on a `MemoryStore`. It counts the operations waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use ciba_server::store::{
    CompleteStatus, Completion, PollStatus, ReplayKey, StoreError, StoredRequest, TokenFingerprint,
};
use ciba_server::{AuthReqId, BoxFuture, Confirmation, MemoryStore, Store, Ticket};

/// A `MemoryStore` behind an adjustable delay. Cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct SlowStore {
    inner: Arc<MemoryStore>,
    delay_ms: Arc<AtomicU64>,
    waiting: Arc<AtomicUsize>,
}

/// Counts an operation as waiting until dropped (also when its future is dropped).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SlowStore {
    pub fn new() -> SlowStore {
        SlowStore::default()
    }

    /// Every later operation first waits `delay` (zero: none).
    pub fn stall(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many operations are waiting out the delay right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Waits out the delay, then runs `op` on the memory store.
    fn slow<'a, T: Send + 'a>(
        &'a self,
        op: impl FnOnce(&'a MemoryStore) -> BoxFuture<'a, T> + Send + 'a,
    ) -> BoxFuture<'a, T> {
        let delay = Duration::from_millis(self.delay_ms.load(Ordering::SeqCst));
        Box::pin(async move {
            if !delay.is_zero() {
                self.waiting.fetch_add(1, Ordering::SeqCst);
                let _waiting = Waiting(self.waiting.clone());
                tokio::time::sleep(delay).await;
            }
            op(&self.inner).await
        })
    }
}

impl Store for SlowStore {
    fn insert_ticket<'a>(
        &'a self,
        ticket: &'a Ticket,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.slow(move |s| s.insert_ticket(ticket, now))
    }

    fn take_ticket<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Ticket>, StoreError>> {
        self.slow(move |s| s.take_ticket(id, now))
    }

    fn insert_request<'a>(
        &'a self,
        request: &'a StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.slow(move |s| s.insert_request(request, keep_until, now))
    }

    fn request<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<StoredRequest>, StoreError>> {
        self.slow(move |s| s.request(auth_req_id, now))
    }

    fn pending_requests<'a>(
        &'a self,
        subject: Option<&'a str>,
        limit: usize,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<StoredRequest>, StoreError>> {
        self.slow(move |s| s.pending_requests(subject, limit, now))
    }

    fn complete<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        result: Completion,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<CompleteStatus, StoreError>> {
        self.slow(move |s| s.complete(auth_req_id, result, now))
    }

    fn poll<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        client_id: &'a str,
        interval_increment: u64,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<PollStatus, StoreError>> {
        self.slow(move |s| s.poll(auth_req_id, client_id, interval_increment, now))
    }

    fn attach_tokens<'a>(
        &'a self,
        auth_req_id: &'a AuthReqId,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.slow(move |s| s.attach_tokens(auth_req_id, tokens, now))
    }

    fn revoke_tokens<'a>(
        &'a self,
        tokens: &'a [TokenFingerprint],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.slow(move |s| s.revoke_tokens(tokens, now))
    }

    fn is_revoked<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.slow(move |s| s.is_revoked(fingerprint, now))
    }

    fn record_confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        confirmation: &'a Confirmation,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.slow(move |s| s.record_confirmation(fingerprint, confirmation, expires_at, now))
    }

    fn confirmation<'a>(
        &'a self,
        fingerprint: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Confirmation>, StoreError>> {
        self.slow(move |s| s.confirmation(fingerprint, now))
    }

    fn remember_jti<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.slow(move |s| s.remember_jti(key, expires_at, now))
    }

    fn remove_ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.slow(move |s| s.remove_ticket(id))
    }
}
