//! A queue of deadlines, ordered by time, so expired entries are found without scanning the
//! live ones: sweeping costs time proportional to what expired (times the logarithm of what
//! is queued).
//!
//! It is a binary heap in one array: an entry costs its own size (48 bytes for the memory
//! store's slots) and no node overhead, and the array gives back memory as it empties.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::SystemTime;

/// Below this capacity the array is never shrunk.
const MIN_CAPACITY: usize = 1024;

/// Deadlines with a sequence number each (the caller's, unique among the entries it
/// schedules). An entry removed early keeps its deadline here; when that deadline comes,
/// the sequence number no longer matches and the slot is skipped.
pub(super) struct ExpiryQueue<K> {
    heap: BinaryHeap<Due<K>>,
}

struct Due<K> {
    at: SystemTime,
    seq: u64,
    key: K,
}

impl<K> PartialEq for Due<K> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}

impl<K> Eq for Due<K> {}

impl<K> PartialOrd for Due<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Due<K> {
    /// Reversed, so the max-heap pops the earliest deadline first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<K> Default for ExpiryQueue<K> {
    fn default() -> Self {
        ExpiryQueue {
            heap: BinaryHeap::new(),
        }
    }
}

impl<K> ExpiryQueue<K> {
    /// Schedules `key` to expire at `at`, under the sequence number `seq` that identifies
    /// this scheduling (and orders equal deadlines).
    pub(super) fn schedule(&mut self, at: SystemTime, seq: u64, key: K) {
        self.heap.push(Due { at, seq, key });
    }

    /// Removes and returns the earliest entry due at or before `now`.
    pub(super) fn pop_due(&mut self, now: SystemTime) -> Option<(u64, K)> {
        if self.heap.peek()?.at > now {
            return None;
        }
        let due = self.heap.pop()?;
        // Once three quarters are gone, halve the array, so a burst does not pin its peak.
        // The next shrink needs as many pops again, so each pop pays O(1) for this.
        let capacity = self.heap.capacity();
        if capacity > MIN_CAPACITY && self.heap.len() < capacity / 4 {
            self.heap.shrink_to(capacity / 2);
        }
        Some((due.seq, due.key))
    }

    /// Number of scheduled deadlines (including ones for entries already removed).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }

    /// How many deadlines the array has room for.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.heap.capacity()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

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
}
