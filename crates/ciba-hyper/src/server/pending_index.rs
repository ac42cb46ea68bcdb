//! The index of pending requests behind [`AsHandle::pending`](super::AsHandle::pending): by
//! `auth_req_id`, with an expiry queue so that dropping expired entries costs what expires
//! (an insert never walks the whole index).

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use super::handle::PendingRequest;

/// Pending requests by `auth_req_id`, and the same ids ordered by expiry.
#[derive(Default)]
pub(crate) struct PendingIndex {
    by_id: HashMap<String, PendingRequest>,
    by_expiry: BTreeSet<(SystemTime, String)>,
}

impl PendingIndex {
    /// Adds (or replaces) a request, after dropping whatever expired by `now`.
    pub(crate) fn insert(&mut self, request: PendingRequest, now: SystemTime) {
        self.sweep(now);
        let key = (request.expires_at, request.auth_req_id.clone());
        if let Some(old) = self.by_id.insert(request.auth_req_id.clone(), request) {
            self.by_expiry.remove(&(old.expires_at, old.auth_req_id));
        }
        self.by_expiry.insert(key);
    }

    /// Removes a request (completed or gone from the store).
    pub(crate) fn remove(&mut self, auth_req_id: &str) {
        if let Some(old) = self.by_id.remove(auth_req_id) {
            self.by_expiry.remove(&(old.expires_at, old.auth_req_id));
        }
    }

    /// The request, unless it expired by `now`.
    pub(crate) fn get(&self, auth_req_id: &str, now: SystemTime) -> Option<&PendingRequest> {
        self.by_id.get(auth_req_id).filter(|p| p.expires_at > now)
    }

    /// Every request not expired by `now` (dropping the expired ones), oldest first.
    pub(crate) fn live(&mut self, now: SystemTime) -> Vec<PendingRequest> {
        self.sweep(now);
        let mut list: Vec<PendingRequest> = self.by_id.values().cloned().collect();
        list.sort_by_key(|p| p.issued_at);
        list
    }

    /// How many requests the index holds (expired ones not yet swept included).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Drops the requests whose expiry is at or before `now`, front of the queue first.
    fn sweep(&mut self, now: SystemTime) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 > now {
                break;
            }
            if let Some((_, id)) = self.by_expiry.pop_first() {
                self.by_id.remove(&id);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request(id: &str, issued: u64, lifetime: u64) -> PendingRequest {
        PendingRequest::for_index_test(
            id,
            SystemTime::UNIX_EPOCH + Duration::from_secs(issued),
            lifetime,
        )
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn expired_requests_disappear_and_live_ones_stay_in_issue_order() {
        let mut index = PendingIndex::default();
        index.insert(request("b", 10, 100), at(10));
        index.insert(request("a", 20, 5), at(20));
        index.insert(request("c", 22, 100), at(22));
        assert_eq!(index.get("a", at(24)).unwrap().auth_req_id, "a");
        assert!(
            index.get("a", at(25)).is_none(),
            "expired at issued + lifetime"
        );
        let live: Vec<String> = index
            .live(at(26))
            .into_iter()
            .map(|p| p.auth_req_id)
            .collect();
        assert_eq!(live, ["b", "c"]);
        assert_eq!(index.len(), 2, "the sweep dropped the expired entry");
    }

    #[test]
    fn an_insert_sweeps_only_what_expired_and_replacing_keeps_one_entry() {
        let mut index = PendingIndex::default();
        for i in 0..100 {
            index.insert(request(&format!("r{i}"), i, 50), at(i));
        }
        // Each insert dropped what had expired: r50..r99 are left.
        assert_eq!(index.len(), 50);
        // At t = 100 r50 expires; "late" joins.
        index.insert(request("late", 100, 50), at(100));
        assert_eq!(index.len(), 50);
        index.insert(request("late", 101, 500), at(101));
        assert_eq!(index.len(), 49, "r51 expired; late replaced, not doubled");
        assert!(
            index.get("late", at(400)).is_some(),
            "the new lifetime counts"
        );
        index.remove("late");
        index.remove("unknown");
        assert!(index.get("late", at(101)).is_none());
        assert_eq!(index.by_expiry.len(), index.by_id.len());
    }
}
