//! The connections a store sends its commands over, and the timeout every step runs under.
//!
//! One Redis: [`max_connections`](crate::RedisStoreConfig::max_connections) redis-rs
//! `ConnectionManager`s used in turn. Each is one multiplexed connection (any number of
//! commands in flight, answered in order) that reconnects by itself, with backoff, once
//! Redis is back. Redis Cluster: redis-rs's async `ClusterConnection`, one multiplexed
//! connection per node, following slot moves and failovers.
//!
//! Every step (one command or script) runs under [`Link::step`]: it waits at most the
//! response timeout, then answers [`RedisStoreError::Timeout`]. Dropping a step's future
//! leaves the connection usable: its late answer is read and discarded.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisFuture, Value};

use crate::error::RedisStoreError;

/// What the store talks to.
pub(crate) struct Link {
    kind: Kind,
    next: AtomicUsize,
    response_timeout: Duration,
}

enum Kind {
    /// Never empty: the first manager, then the others.
    Single(ConnectionManager, Vec<ConnectionManager>),
    Cluster(ClusterConnection),
}

/// One connection, for one step (cheap to make: a clone of a handle).
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Link {
    pub(crate) fn single(
        first: ConnectionManager,
        more: Vec<ConnectionManager>,
        response_timeout: Duration,
    ) -> Link {
        Link {
            kind: Kind::Single(first, more),
            next: AtomicUsize::new(0),
            response_timeout,
        }
    }

    pub(crate) fn cluster(connection: ClusterConnection, response_timeout: Duration) -> Link {
        Link {
            kind: Kind::Cluster(connection),
            next: AtomicUsize::new(0),
            response_timeout,
        }
    }

    /// How long one step may wait for Redis.
    pub(crate) fn response_timeout(&self) -> std::time::Duration {
        self.response_timeout
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster(_))
    }

    /// A connection for the next step (the single-Redis ones in turn).
    pub(crate) fn conn(&self) -> Conn {
        match &self.kind {
            Kind::Cluster(c) => Conn::Cluster(c.clone()),
            Kind::Single(first, more) => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % (more.len() + 1);
                let manager = i.checked_sub(1).and_then(|j| more.get(j)).unwrap_or(first);
                Conn::Single(manager.clone())
            }
        }
    }

    /// Runs one step of `operation` under the response timeout.
    pub(crate) async fn step<T, F>(
        &self,
        operation: &'static str,
        step: F,
    ) -> Result<T, RedisStoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.response_timeout, step).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) if source.is_timeout() => Err(RedisStoreError::Timeout {
                operation,
                after: self.response_timeout,
            }),
            Ok(Err(source)) => Err(RedisStoreError::Command { operation, source }),
            Err(_elapsed) => Err(RedisStoreError::Timeout {
                operation,
                after: self.response_timeout,
            }),
        }
    }

    /// One command as one step.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: &Cmd,
    ) -> Result<T, RedisStoreError> {
        let mut conn = self.conn();
        self.step(operation, async {
            match cmd.query_async(&mut conn).await {
                Err(e) if never_sent(&e) => cmd.query_async(&mut conn).await,
                other => other,
            }
        })
        .await
    }
}

/// True when the command never reached Redis: the connection it was to use had failed to
/// open (a reconnection attempted while Redis was down). Sending it again is safe, and the
/// second try waits for the reconnection that the failure started.
pub(crate) fn never_sent(e: &redis::RedisError) -> bool {
    e.is_connection_refusal()
}
