//! The limits of every server this crate runs ([`ServeOptions`]), and the request body type
//! its accept loop hands to services ([`RequestBody`]: hyper's body under the body timeout).
//!
//! | limit | default | past it |
//! |---|---|---|
//! | connections open at once | [`DEFAULT_MAX_CONNECTIONS`] (512) | new connections wait in the listen backlog, unaccepted |
//! | request head (and idle keep-alive) | [`DEFAULT_HEADER_TIMEOUT`] (10 s) | the connection is closed |
//! | request body, from the end of the head | [`DEFAULT_BODY_TIMEOUT`] (10 s) | 408 with a JSON error, then the connection is closed |
//! | whole request, from the end of the head to the response | [`DEFAULT_REQUEST_TIMEOUT`] (30 s) | the connection is closed without an answer |
//!
//! A client that trickles its head or its body (slow loris) is therefore cut off within
//! `header_timeout` + `request_timeout`, and costs one connection slot meanwhile; nothing
//! waits on a worker thread (every timer is an async one).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

use crate::error::BoxError;

/// Default cap on connections open at once: 512.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default time a client may take to send a request head, or to start the next request on
/// a kept-alive connection: 10 seconds.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client may take to send the body once the head is read: 10 seconds.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time from the end of a request head to the response, body and handling
/// included: 30 seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits of a server run by this crate: [`AuthorizationServer::serve_with`],
/// [`NotificationReceiver::serve_with`] and [`serve_fn_with`](crate::serve_fn_with).
///
/// ```
/// use std::time::Duration;
/// use ciba_hyper::ServeOptions;
///
/// let options = ServeOptions::default()
///     .max_connections(2_000)
///     .body_timeout(Duration::from_secs(5));
/// # let _ = options;
/// ```
///
/// Connections past `max_connections` are not refused: they wait, unaccepted, in the
/// operating system's listen backlog until a connection closes (a client's own connect or
/// request timeout ends the wait). Accepted connections are served with a head timeout (that
/// also closes idle kept-alive connections), a body timeout (answered 408) and a whole-request
/// timeout (the connection is closed). Keep `request_timeout` above `body_timeout`, and above
/// the time your store and hooks may take, or slow requests are cut off without an answer.
///
/// [`AuthorizationServer::serve_with`]: crate::server::AuthorizationServer::serve_with
/// [`NotificationReceiver::serve_with`]: crate::NotificationReceiver::serve_with
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeOptions {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

/// The notification receiver's limits: the same [`ServeOptions`] as every server here.
pub type ReceiverOptions = ServeOptions;

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl ServeOptions {
    /// Connections open at once (default [`DEFAULT_MAX_CONNECTIONS`], at least 1). Past it,
    /// new connections wait in the listen backlog.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Time allowed for a request head, and for the next head on a kept-alive connection
    /// (default [`DEFAULT_HEADER_TIMEOUT`]); a client that takes longer has its connection
    /// closed.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Time allowed for the body, counted from the end of the head (default
    /// [`DEFAULT_BODY_TIMEOUT`]); a client that takes longer gets 408 and its connection is
    /// closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Time allowed from the end of a request head to its response, reading the body and
    /// handling included (default [`DEFAULT_REQUEST_TIMEOUT`]); past it the connection is
    /// closed without an answer.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

/// The body did not arrive within the body timeout (the error a [`RequestBody`] yields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive within the body timeout")]
pub struct BodyTimedOut;

/// The body of a request served by this crate's accept loop: hyper's body, ending in
/// [`BodyTimedOut`] when it is not complete within [`ServeOptions::body_timeout`].
pub struct RequestBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("size_hint", &self.inner.size_hint())
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, timeout: Duration) -> RequestBody {
        RequestBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
