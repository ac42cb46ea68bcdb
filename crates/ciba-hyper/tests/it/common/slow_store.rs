//! A [`Store`] that answers like a remote store that stalls: each operation first sleeps
//! asynchronously (`tokio::time::sleep`, never blocking a thread) for the delay set with
//! [`Stall::stall`], then runs on a `MemoryStore`. It counts the operations waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ciba_server::BoxFuture;
use ciba_server::store::StoreError;
use ciba_test::store::{Layer, LayeredStore};

/// A `MemoryStore` behind an adjustable delay. Cheap to clone (shared state).
pub type SlowStore = LayeredStore<Stall>;

/// The delay before each operation, and how many operations wait it out.
#[derive(Clone, Default)]
pub struct Stall {
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

impl Stall {
    /// Every later operation first waits `delay` (zero: none).
    pub fn stall(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many operations are waiting out the delay right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

impl Layer for Stall {
    /// Waits out the delay, then runs `op` on the memory store.
    fn around<'a, T: Send + 'a>(
        &'a self,
        op: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        let delay = Duration::from_millis(self.delay_ms.load(Ordering::SeqCst));
        Box::pin(async move {
            if !delay.is_zero() {
                self.waiting.fetch_add(1, Ordering::SeqCst);
                let _waiting = Waiting(self.waiting.clone());
                tokio::time::sleep(delay).await;
            }
            op().await
        })
    }
}
