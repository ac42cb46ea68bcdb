//! Batched request inserts on one Redis.
//!
//! Issuing an `auth_req_id` writes the request and adds it to three sorted sets (its
//! client's set, the deployment's pending index, its subject's pending index). Redis spends
//! most of that script's time on the script call and on each command's own overhead, not
//! on the data. So inserts that arrive while earlier ones are still in flight wait in a
//! queue and go together, as one `insert_requests` script call: one `ZADD` per set for the
//! whole batch instead of one per request.
//!
//! One batch is in flight at a time. An insert that finds none starts a batch at once, so
//! a quiet server adds no delay; under load the queue fills while Redis works, and batches
//! grow with the load (up to [`MAX_BATCH`] requests). Measured on loopback, a second batch
//! in flight made batches half as large and cost more than the overlap gained (0.37x the
//! MemoryStore's backchannel rate with two, 0.43x with one). Each batch runs in its own task, so a
//! caller that goes away (its client disconnected) never strands the others queued with
//! it. Each caller still waits at most the response timeout.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ciba_server::store::StoreError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::RedisStoreError;
use crate::link::Link;
use crate::scripts::Lua;

/// The most requests one script call carries.
pub(crate) const MAX_BATCH: usize = 64;

/// What the script answered for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Written, counted and listed.
    Ok,
    /// A live request already has this `auth_req_id`: nothing written.
    Duplicate,
    /// Its client is at its bound: nothing written.
    Limit,
}

/// One request's part of a batch.
pub(crate) struct InsertItem {
    /// The caller's clock (ms since the epoch). A batch trims expired set entries, and
    /// judges whether an existing record is still live, by the newest clock among its
    /// requests.
    pub(crate) now: u64,
    /// The request's key, its client's set, its subject's pending index.
    pub(crate) keys: [String; 3],
    /// keep-until, TTL, expiry, index TTL, auth_req_id, the `b`, `c`, `i` and `s` fields,
    /// the count of further pairs, those pairs (see the `insert_requests` script).
    pub(crate) args: Vec<String>,
}

type Answer = Result<Inserted, StoreError>;

struct Queued {
    item: InsertItem,
    /// When its caller stops waiting.
    deadline: Instant,
    answer: oneshot::Sender<Answer>,
}

struct Queue {
    waiting: Vec<Queued>,
    /// A batch's task is running.
    in_flight: bool,
}

struct Shared {
    link: Arc<Link>,
    script: Lua,
    pending_index: String,
    /// The per-client bound, as the script's second argument.
    limit: String,
    /// How long a caller waits for its answer, queueing included.
    timeout: Duration,
    queue: Mutex<Queue>,
}

/// The queue of inserts and the tasks that send them.
pub(crate) struct InsertBatcher {
    shared: Arc<Shared>,
}

impl InsertBatcher {
    /// `pending_index` is the deployment's pending index key (every batch's first key);
    /// `limit` is the most requests one client may have stored; each caller waits at most
    /// `timeout` for its answer, from the moment it queues.
    pub(crate) fn new(
        link: Arc<Link>,
        script: Lua,
        pending_index: String,
        limit: u64,
        timeout: Duration,
    ) -> InsertBatcher {
        InsertBatcher {
            shared: Arc::new(Shared {
                link,
                script,
                pending_index,
                limit: limit.to_string(),
                timeout,
                queue: Mutex::new(Queue {
                    waiting: Vec::new(),
                    in_flight: false,
                }),
            }),
        }
    }

    /// Inserts one request in the next batch, waiting at most the timeout for the answer.
    ///
    /// The caller holds no timer of its own: the task that sends its batch answers it by
    /// its deadline, or at once when the batch starts after it. Queues are served in
    /// arrival order and every caller has the same timeout, so a batch never waits on one
    /// whose callers' deadlines are later than its own.
    pub(crate) async fn insert(&self, item: InsertItem) -> Answer {
        let (answer, answered) = oneshot::channel();
        let deadline = Instant::now() + self.shared.timeout;
        let start = {
            let mut queue = lock(&self.shared.queue);
            queue.waiting.push(Queued {
                item,
                deadline,
                answer,
            });
            if !queue.in_flight {
                queue.in_flight = true;
                Some(take_batch(&mut queue))
            } else {
                None
            }
        };
        if let Some(batch) = start {
            tokio::spawn(run(Slot::new(&self.shared), batch));
        }
        // The batch's task ended without an answer only if it panicked: the insert may or
        // may not have happened.
        answered
            .await
            .unwrap_or_else(|_| Err(self.shared.timed_out()))
    }
}

impl Shared {
    fn timed_out(&self) -> StoreError {
        RedisStoreError::Timeout {
            operation: "insert_request",
            after: self.timeout,
        }
        .into()
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // Nothing under the lock can panic halfway: a poisoned queue is still consistent.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

fn take_batch(queue: &mut Queue) -> Vec<Queued> {
    let n = queue.waiting.len().min(MAX_BATCH);
    queue.waiting.drain(..n).collect()
}

/// The task's in-flight slot: given back when the queue is found empty (under the lock, so
/// that an insert queued right after sees the free slot and starts a task of its own), or
/// when the task ends in any other way.
struct Slot {
    shared: Arc<Shared>,
    held: bool,
}

impl Slot {
    fn new(shared: &Arc<Shared>) -> Slot {
        Slot {
            shared: Arc::clone(shared),
            held: true,
        }
    }

    /// The next batch, or `None` (and the slot given back) when nothing waits.
    fn next_batch(&mut self) -> Option<Vec<Queued>> {
        let mut queue = lock(&self.shared.queue);
        if queue.waiting.is_empty() {
            queue.in_flight = false;
            self.held = false;
            return None;
        }
        Some(take_batch(&mut queue))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.held {
            let mut queue = lock(&self.shared.queue);
            queue.in_flight = false;
        }
    }
}

/// Sends `batch`, then whatever queued meanwhile, until the queue is empty.
async fn run(mut slot: Slot, first: Vec<Queued>) {
    let mut batch = first;
    loop {
        send(&slot.shared, batch).await;
        match slot.next_batch() {
            Some(next) => batch = next,
            None => return,
        }
    }
}

async fn send(shared: &Shared, mut batch: Vec<Queued>) {
    // Callers whose deadline passed while they queued are answered now, unsent.
    let started = Instant::now();
    if batch.iter().any(|q| q.deadline <= started) {
        let (late, on_time): (Vec<Queued>, Vec<Queued>) =
            batch.into_iter().partition(|q| q.deadline <= started);
        for queued in late {
            let _ = queued.answer.send(Err(shared.timed_out()));
        }
        batch = on_time;
    }
    let Some(until) = batch.iter().map(|q| q.deadline).min() else {
        return;
    };
    let now = batch.iter().map(|q| q.item.now).max().unwrap_or(0);
    let mut keys: Vec<&str> = Vec::with_capacity(1 + 3 * batch.len());
    keys.push(&shared.pending_index);
    for queued in &batch {
        keys.extend(queued.item.keys.iter().map(String::as_str));
    }
    let mut call = shared.script.call(&keys).arg(now).arg(&shared.limit);
    for queued in &batch {
        for arg in &queued.item.args {
            call = call.arg(arg);
        }
    }
    // Within the link's own response timeout, and by the first caller's deadline.
    let result: Result<Vec<u8>, RedisStoreError> =
        match tokio::time::timeout_at(until, call.run(&shared.link, "insert_request")).await {
            Ok(result) => result,
            Err(_) => Err(RedisStoreError::Timeout {
                operation: "insert_request",
                after: shared.timeout,
            }),
        };
    let corrupt = || -> StoreError {
        RedisStoreError::Corrupt {
            what: "answer of the insert_requests script",
        }
        .into()
    };
    match result {
        Ok(answers) if answers.len() == batch.len() => {
            for (queued, answer) in batch.into_iter().zip(answers) {
                let answer = match answer {
                    b'o' => Ok(Inserted::Ok),
                    b'd' => Ok(Inserted::Duplicate),
                    b'l' => Ok(Inserted::Limit),
                    _ => Err(corrupt()),
                };
                // A caller that gave up no longer listens.
                let _ = queued.answer.send(answer);
            }
        }
        other => {
            let error = match other {
                Err(e) => StoreError::from(e),
                Ok(_) => corrupt(),
            };
            for queued in batch {
                let _ = queued.answer.send(Err(error.clone()));
            }
        }
    }
}
