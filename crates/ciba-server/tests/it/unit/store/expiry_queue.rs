//! The memory store's queue of deadlines (src/store/expiry_queue.rs).

use std::time::{Duration, UNIX_EPOCH};

use ciba_server::__internals::{ExpiryQueue, MIN_CAPACITY};

#[test]
fn entries_come_out_in_deadline_order_and_only_when_due() {
    let t = |s| UNIX_EPOCH + Duration::from_secs(s);
    let mut q = ExpiryQueue::default();
    q.schedule(t(30), 0, "c");
    q.schedule(t(10), 1, "a");
    q.schedule(t(20), 2, "b");
    assert_eq!(q.pop_due(t(5)), None);
    assert_eq!(q.pop_due(t(25)).map(|e| e.1), Some("a"));
    assert_eq!(q.pop_due(t(25)).map(|e| e.1), Some("b"));
    assert_eq!(q.pop_due(t(25)), None);
    assert_eq!(q.len(), 1);
}

#[test]
fn equal_deadlines_come_out_in_scheduling_order() {
    let at = UNIX_EPOCH + Duration::from_secs(10);
    let mut q = ExpiryQueue::default();
    let seqs: Vec<u64> = (0..5u64).map(|k| 10 + k).collect();
    for (k, seq) in seqs.iter().enumerate() {
        q.schedule(at, *seq, i32::try_from(k).unwrap());
    }
    let popped: Vec<(u64, i32)> = std::iter::from_fn(|| q.pop_due(at)).collect();
    assert_eq!(popped, seqs.into_iter().zip(0..5).collect::<Vec<_>>());
}

#[test]
fn the_array_shrinks_as_deadlines_pass() {
    let t = |s| UNIX_EPOCH + Duration::from_secs(s);
    let mut q = ExpiryQueue::default();
    for k in 0..100_000 {
        q.schedule(t(k), k, ());
    }
    let peak = q.capacity();
    while q.pop_due(t(99_990)).is_some() {}
    assert_eq!(q.len(), 9);
    assert!(
        q.capacity() <= MIN_CAPACITY * 2,
        "{} of {peak}",
        q.capacity()
    );
}
