//! A pending request as a store holds it, and a [`Store`] that runs every operation of a `MemoryStore` through a [`Layer`]: the tests'
//! stores that wait for another thread, stall, or fail are each one layer, not a copy of the
//! fourteen operations.

use std::sync::Arc;
use std::time::SystemTime;

use ciba_server::store::{
    CompleteStatus, Completion, PollStatus, ReplayKey, RequestState, StoreError, StoredRequest,
    TokenFingerprint,
};
use ciba_server::{AuthReqId, BoxFuture, Confirmation, DeliveryMode, MemoryStore, Store, Ticket};

/// A request as a store holds it while it waits for the user: `alice`'s, by `client`, in
/// poll mode, for `openid`, with an interval of 5 s, never polled yet.
pub fn pending_request(
    auth_req_id: AuthReqId,
    client: &str,
    issued_at: SystemTime,
    expires_at: SystemTime,
) -> StoredRequest {
    StoredRequest {
        auth_req_id,
        client_id: client.into(),
        subject: "alice".into(),
        delivery_mode: DeliveryMode::Poll,
        notification_endpoint: None,
        client_notification_token: None,
        scopes: vec!["openid".into()],
        acr_values: vec![],
        binding_message: None,
        issued_at,
        expires_at,
        interval: 5,
        last_poll: None,
        state: RequestState::Pending,
    }
}

/// What a [`LayeredStore`] does around each operation.
pub trait Layer: Send + Sync {
    /// Answers for `op`, the operation on the memory store, which has not started yet: the
    /// layer may start it at once, later, or never.
    fn around<'a, T: Send + 'a>(
        &'a self,
        op: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>>;
}

/// A `MemoryStore` whose every operation goes through `layer`. Cheap to clone when the layer
/// is (the memory store is shared).
#[derive(Clone, Default)]
pub struct LayeredStore<L> {
    /// The store the operations run on.
    pub memory: Arc<MemoryStore>,
    /// What happens around each operation.
    pub layer: L,
}

impl<L> LayeredStore<L> {
    /// `layer` over a new, empty `MemoryStore`.
    pub fn new(layer: L) -> LayeredStore<L> {
        LayeredStore {
            memory: Arc::new(MemoryStore::new()),
            layer,
        }
    }
}

/// Implements [`Store`] for [`LayeredStore`]: each operation, listed by its signature (its
/// output without the `BoxFuture<'a, Result<_, StoreError>>` around it), runs the memory
/// store's operation of the same name through the layer.
macro_rules! through_the_layer {
    ($(fn $op:ident<$a:lifetime>($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        impl<L: Layer> Store for LayeredStore<L> {
            $(
                fn $op<$a>(
                    &$a self,
                    $($arg: $ty),*
                ) -> BoxFuture<$a, Result<$out, StoreError>> {
                    self.layer.around(move || self.memory.$op($($arg),*))
                }
            )*
        }
    };
}

through_the_layer! {
    fn insert_ticket<'a>(ticket: &'a Ticket, now: SystemTime) -> ();
    fn take_ticket<'a>(id: &'a str, now: SystemTime) -> Option<Ticket>;
    fn insert_request<'a>(request: &'a StoredRequest, keep_until: SystemTime, now: SystemTime)
        -> ();
    fn request<'a>(auth_req_id: &'a AuthReqId, now: SystemTime) -> Option<StoredRequest>;
    fn pending_requests<'a>(subject: Option<&'a str>, limit: usize, now: SystemTime)
        -> Vec<StoredRequest>;
    fn complete<'a>(auth_req_id: &'a AuthReqId, result: Completion, now: SystemTime)
        -> CompleteStatus;
    fn poll<'a>(
        auth_req_id: &'a AuthReqId,
        client_id: &'a str,
        interval_increment: u64,
        now: SystemTime
    ) -> PollStatus;
    fn attach_tokens<'a>(
        auth_req_id: &'a AuthReqId,
        tokens: &'a [TokenFingerprint],
        now: SystemTime
    ) -> ();
    fn revoke_tokens<'a>(tokens: &'a [TokenFingerprint], now: SystemTime) -> ();
    fn is_revoked<'a>(fingerprint: &'a str, now: SystemTime) -> bool;
    fn record_confirmation<'a>(
        fingerprint: &'a str,
        confirmation: &'a Confirmation,
        expires_at: SystemTime,
        now: SystemTime
    ) -> ();
    fn confirmation<'a>(fingerprint: &'a str, now: SystemTime) -> Option<Confirmation>;
    fn remember_jti<'a>(key: &'a ReplayKey, expires_at: SystemTime, now: SystemTime) -> bool;
    fn remove_ticket<'a>(id: &'a str) -> bool;
}
