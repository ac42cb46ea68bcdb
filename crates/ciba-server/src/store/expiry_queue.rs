//! A queue of deadlines, ordered by time, so expired entries are found without scanning the
//! live ones: sweeping costs time proportional to what expired.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// Deadlines with a sequence number each. An entry removed early keeps its deadline here;
/// when that deadline comes, the sequence number no longer matches and the slot is skipped.
#[derive(Debug)]
pub(super) struct ExpiryQueue<K> {
    deadlines: BTreeMap<(SystemTime, u64), K>,
    next_seq: u64,
}

impl<K> Default for ExpiryQueue<K> {
    fn default() -> Self {
        ExpiryQueue {
            deadlines: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K> ExpiryQueue<K> {
    /// Schedules `key` to expire at `at`; returns the sequence number identifying this
    /// scheduling.
    pub(super) fn schedule(&mut self, at: SystemTime, key: K) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.deadlines.insert((at, seq), key);
        seq
    }

    /// Removes and returns the earliest entry due at or before `now`.
    pub(super) fn pop_due(&mut self, now: SystemTime) -> Option<(u64, K)> {
        let entry = self.deadlines.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let ((_, seq), key) = entry.remove_entry();
        Some((seq, key))
    }

    /// Number of scheduled deadlines (including ones for entries already removed).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.deadlines.len()
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
        q.schedule(t(30), "c");
        q.schedule(t(10), "a");
        q.schedule(t(20), "b");
        assert_eq!(q.pop_due(t(5)), None);
        assert_eq!(q.pop_due(t(25)).map(|e| e.1), Some("a"));
        assert_eq!(q.pop_due(t(25)).map(|e| e.1), Some("b"));
        assert_eq!(q.pop_due(t(25)), None);
        assert_eq!(q.len(), 1);
    }
}
