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
pub const MIN_CAPACITY: usize = 1024;

/// Deadlines with a sequence number each (the caller's, unique among the entries it
/// schedules). An entry removed early keeps its deadline here; when that deadline comes,
/// the sequence number no longer matches and the slot is skipped.
pub struct ExpiryQueue<K> {
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
    pub fn schedule(&mut self, at: SystemTime, seq: u64, key: K) {
        self.heap.push(Due { at, seq, key });
    }

    /// Removes and returns the earliest entry due at or before `now`.
    pub fn pop_due(&mut self, now: SystemTime) -> Option<(u64, K)> {
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
    #[cfg(feature = "test-internals")]
    #[allow(clippy::len_without_is_empty)] // only the tests count the entries
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// How many deadlines the array has room for.
    #[cfg(feature = "test-internals")]
    pub fn capacity(&self) -> usize {
        self.heap.capacity()
    }
}
