//! Running a future to completion without a runtime, for the runtime-agnostic crates
//! (ciba-server and its stores) and the `pair`: the futures of a memory store are ready on
//! their first poll, and one that really waits wakes the parked thread when it is done.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread parked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the calling thread: polls it, and parks the thread while it
/// is pending until its waker is called.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            // A wake-up before `park` makes it return at once; a spurious return polls again.
            Poll::Pending => thread::park(),
        }
    }
}
