//! The server's view of its [`Store`]: every operation in a `ciba_store` span, and timed
//! into [`STORE_OPERATION_SECONDS`] when the host gave a latency clock.

use std::sync::Arc;
use std::time::SystemTime;

use tracing::Instrument as _;
use tracing::field::Empty;

use super::{
    BoxFuture, CompleteStatus, Completion, PollStatus, ReplayKey, Store, StoreError, StoredRequest,
    TokenFingerprint,
};
use crate::auth_req_id::AuthReqId;
use crate::binding::Confirmation;
use crate::observe::{LatencyClock, STORE_OPERATION_SECONDS};
use crate::ticket::Ticket;

/// A [`Store`] with spans and latency; the methods mirror the trait's.
pub(crate) struct ObservedStore {
    inner: Arc<dyn Store>,
    clock: Option<LatencyClock>,
}

impl ObservedStore {
    pub(crate) fn new(inner: Arc<dyn Store>) -> ObservedStore {
        ObservedStore { inner, clock: None }
    }

    pub(crate) fn set_clock(&mut self, clock: LatencyClock) {
        self.clock = Some(clock);
    }

    /// Runs one operation in its span, records its outcome and, with a clock, its latency.
    async fn run<T>(
        &self,
        op: &'static str,
        operation: BoxFuture<'_, Result<T, StoreError>>,
        outcome: fn(&T) -> &'static str,
    ) -> Result<T, StoreError> {
        let span = tracing::debug_span!("ciba_store", op, outcome = Empty);
        let started = self.clock.map(|now| now());
        let result = operation.instrument(span.clone()).await;
        if let (Some(started), Some(now)) = (started, self.clock) {
            metrics::histogram!(STORE_OPERATION_SECONDS, "operation" => op)
                .record(now().saturating_duration_since(started));
        }
        span.record(
            "outcome",
            match &result {
                Ok(value) => outcome(value),
                Err(StoreError::ClientLimitReached { .. }) => "client_limit",
                Err(StoreError::DuplicateKey) => "duplicate_key",
                Err(_) => "backend_error",
            },
        );
        result
    }

    pub(crate) async fn insert_ticket(
        &self,
        ticket: &Ticket,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.run("insert_ticket", self.inner.insert_ticket(ticket, now), ok)
            .await
    }

    pub(crate) async fn take_ticket(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<Ticket>, StoreError> {
        self.run("take_ticket", self.inner.take_ticket(id, now), found)
            .await
    }

    pub(crate) async fn insert_request(
        &self,
        request: &StoredRequest,
        keep_until: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let operation = self.inner.insert_request(request, keep_until, now);
        self.run("insert_request", operation, ok).await
    }

    pub(crate) async fn request(
        &self,
        auth_req_id: &AuthReqId,
        now: SystemTime,
    ) -> Result<Option<StoredRequest>, StoreError> {
        self.run("request", self.inner.request(auth_req_id, now), found)
            .await
    }

    pub(crate) async fn pending_requests(
        &self,
        subject: Option<&str>,
        limit: usize,
        now: SystemTime,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let operation = self.inner.pending_requests(subject, limit, now);
        self.run("pending_requests", operation, ok).await
    }

    pub(crate) async fn complete(
        &self,
        auth_req_id: &AuthReqId,
        result: Completion,
        now: SystemTime,
    ) -> Result<CompleteStatus, StoreError> {
        let operation = self.inner.complete(auth_req_id, result, now);
        self.run("complete", operation, |status| match status {
            CompleteStatus::Completed(_) => "completed",
            CompleteStatus::Expired(_) => "expired",
            CompleteStatus::AlreadyCompleted => "already_completed",
            _ => "unknown",
        })
        .await
    }

    pub(crate) async fn poll(
        &self,
        auth_req_id: &AuthReqId,
        client_id: &str,
        interval_increment: u64,
        now: SystemTime,
    ) -> Result<PollStatus, StoreError> {
        let operation = self
            .inner
            .poll(auth_req_id, client_id, interval_increment, now);
        self.run("poll", operation, |status| match status {
            PollStatus::Unknown => "unknown",
            PollStatus::Pending => "pending",
            PollStatus::SlowDown { .. } => "slow_down",
            PollStatus::Expired => "expired",
            PollStatus::Denied => "denied",
            PollStatus::Failed => "failed",
            PollStatus::Authorized(_) => "authorized",
            PollStatus::AlreadyUsed => "already_used",
        })
        .await
    }

    pub(crate) async fn attach_tokens(
        &self,
        auth_req_id: &AuthReqId,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let operation = self.inner.attach_tokens(auth_req_id, tokens, now);
        self.run("attach_tokens", operation, ok).await
    }

    pub(crate) async fn revoke_tokens(
        &self,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        self.run("revoke_tokens", self.inner.revoke_tokens(tokens, now), ok)
            .await
    }

    pub(crate) async fn is_revoked(
        &self,
        fingerprint: &str,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let operation = self.inner.is_revoked(fingerprint, now);
        self.run("is_revoked", operation, |revoked| {
            if *revoked { "revoked" } else { "not_revoked" }
        })
        .await
    }

    pub(crate) async fn remember_jti(
        &self,
        key: &ReplayKey,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let operation = self.inner.remember_jti(key, expires_at, now);
        self.run("remember_jti", operation, |fresh| {
            if *fresh { "fresh" } else { "replay" }
        })
        .await
    }

    pub(crate) async fn remove_ticket(&self, id: &str) -> Result<bool, StoreError> {
        self.run("remove_ticket", self.inner.remove_ticket(id), |removed| {
            if *removed { "removed" } else { "absent" }
        })
        .await
    }

    pub(crate) async fn record_confirmation(
        &self,
        fingerprint: &str,
        confirmation: &Confirmation,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let operation = self
            .inner
            .record_confirmation(fingerprint, confirmation, expires_at, now);
        self.run("record_confirmation", operation, ok).await
    }

    pub(crate) async fn confirmation(
        &self,
        fingerprint: &str,
        now: SystemTime,
    ) -> Result<Option<Confirmation>, StoreError> {
        self.run(
            "confirmation",
            self.inner.confirmation(fingerprint, now),
            found,
        )
        .await
    }
}

fn ok<T>(_: &T) -> &'static str {
    "ok"
}

fn found<T>(value: &Option<T>) -> &'static str {
    if value.is_some() { "found" } else { "none" }
}
