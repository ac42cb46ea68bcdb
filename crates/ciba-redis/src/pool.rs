//! A small pool of blocking Redis connections behind a mutex.
//!
//! At most `max_connections` connections are open at once; an operation that finds none
//! free waits for one (at most the connection timeout). A connection that saw an error is
//! closed rather than reused (a late reply could otherwise answer the next command), and an
//! I/O error or timeout also closes the idle ones, which most likely lead to the same dead
//! server: after Redis comes back, the next operations connect afresh.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::ConnectionLike as _;

use crate::error::{RedisStoreError, is_connection_error};

pub(crate) struct Pool {
    client: redis::Client,
    max_connections: usize,
    connect_timeout: Duration,
    response_timeout: Duration,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    idle: Vec<redis::Connection>,
    /// Connections handed out or idle, plus the ones being opened.
    open: usize,
}

impl Pool {
    pub(crate) fn new(
        client: redis::Client,
        max_connections: usize,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Pool {
        Pool {
            client,
            max_connections: max_connections.max(1),
            connect_timeout: nonzero(connect_timeout),
            response_timeout: nonzero(response_timeout),
            state: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, so a poisoned lock guards consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a pooled connection; `operation` names it in errors.
    pub(crate) fn run<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, RedisStoreError> {
        let mut connection = self.checkout()?;
        match f(&mut connection) {
            Ok(value) => {
                self.checkin(connection);
                Ok(value)
            }
            Err(source) => {
                self.discard(connection, is_connection_error(&source));
                Err(RedisStoreError::Command { operation, source })
            }
        }
    }

    fn checkout(&self) -> Result<redis::Connection, RedisStoreError> {
        let started = Instant::now();
        let mut state = self.lock();
        loop {
            if let Some(connection) = state.idle.pop() {
                return Ok(connection);
            }
            if state.open < self.max_connections {
                state.open += 1;
                drop(state);
                return self.connect().inspect_err(|_| self.release_slot());
            }
            let waited = started.elapsed();
            let Some(left) = self
                .connect_timeout
                .checked_sub(waited)
                .filter(|d| !d.is_zero())
            else {
                return Err(RedisStoreError::PoolExhausted { waited });
            };
            state = self
                .freed
                .wait_timeout(state, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn connect(&self) -> Result<redis::Connection, RedisStoreError> {
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)
            .map_err(|source| RedisStoreError::Connect { source })?;
        let timeout = Some(self.response_timeout);
        connection
            .set_read_timeout(timeout)
            .and_then(|()| connection.set_write_timeout(timeout))
            .map_err(|source| RedisStoreError::Connect { source })?;
        Ok(connection)
    }

    fn checkin(&self, connection: redis::Connection) {
        if !connection.is_open() {
            self.discard(connection, false);
            return;
        }
        self.lock().idle.push(connection);
        self.freed.notify_one();
    }

    /// Closes `connection` (and, after a connection error, every idle one).
    fn discard(&self, connection: redis::Connection, all_idle: bool) {
        let stale = {
            let mut state = self.lock();
            let stale = if all_idle {
                std::mem::take(&mut state.idle)
            } else {
                Vec::new()
            };
            state.open = state.open.saturating_sub(1 + stale.len());
            stale
        };
        self.freed.notify_all();
        drop(connection);
        drop(stale);
    }

    fn release_slot(&self) {
        let mut state = self.lock();
        state.open = state.open.saturating_sub(1);
        drop(state);
        self.freed.notify_one();
    }
}

/// Zero would mean "no timeout" to the socket options (and is an error there): use 1 ms.
fn nonzero(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}
