//! Ping and push deliveries, handed to a waiting poll by whatever receives them.
//!
//! This crate runs no HTTP server. The client notification endpoint lives in the application
//! (ciba-hyper's `NotificationReceiver`, an axum route, ...). It checks each notification with
//! the core ([`receive_ping`](ciba_core::notification::receive_ping), or
//! [`CibaClient::receive_push`](crate::CibaClient::receive_push) which validates pushed ID
//! tokens against the cached JWK Set), answers with the response the core built, and forwards
//! what it accepted as a [`NotificationEvent`] into a channel. A
//! [`TokenWait`](crate::TokenWait) given the receiving end via
//! [`TokenWait::notifications`](crate::TokenWait::notifications) reacts to the events for its
//! own `auth_req_id`:
//!
//! - **ping**: the next token request goes out at once instead of at the next interval;
//! - **push**: the delivered tokens (already validated) or the pushed error end the wait.
//!
//! ```no_run
//! # async fn demo(ping: ciba_core::notification::Ping) {
//! use ciba_reqwest::NotificationEvent;
//!
//! let (tx, mut rx) = tokio::sync::mpsc::channel::<NotificationEvent>(16);
//! // In the notification endpoint, after `receive_ping` accepted a request:
//! tx.send(NotificationEvent::from(ping)).await.ok();
//! // In the flow: `client.wait_for_tokens(&ack).notifications(&mut rx).await`.
//! # }
//! ```
//!
//! Events for other `auth_req_id`s are dropped (logged at debug level): give each concurrent
//! flow its own channel, or route events by `auth_req_id` before they reach the wait.

use std::future::Future;

use ciba_core::ack::AuthReqId;
use ciba_core::notification::{Ping, Push};
use tokio::sync::mpsc;

/// A notification the client notification endpoint accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotificationEvent {
    /// Ping mode: the result for `auth_req_id` is ready at the token endpoint.
    Ping {
        /// The request the ping is about.
        auth_req_id: AuthReqId,
    },
    /// Push mode: validated tokens, or the error the OP pushed.
    Push(Box<Push>),
}

impl NotificationEvent {
    /// The request the event is about.
    pub fn auth_req_id(&self) -> &AuthReqId {
        match self {
            NotificationEvent::Ping { auth_req_id } => auth_req_id,
            NotificationEvent::Push(push) => push.auth_req_id(),
        }
    }
}

impl From<Ping> for NotificationEvent {
    fn from(ping: Ping) -> Self {
        NotificationEvent::Ping {
            auth_req_id: ping.auth_req_id,
        }
    }
}

impl From<Push> for NotificationEvent {
    fn from(push: Push) -> Self {
        NotificationEvent::Push(Box::new(push))
    }
}

/// Where a [`TokenWait`](crate::TokenWait) gets notification events from.
///
/// Implemented for tokio's bounded and unbounded mpsc receivers of [`NotificationEvent`], for
/// `&mut` of any source, and for [`NoNotifications`]. Implement it for your own channel type
/// if needed.
pub trait NotificationSource: Send {
    /// The next event, or `None` once no more events can come. The returned future must be
    /// cancel-safe: dropping it before it completes must lose no event.
    fn next_event(&mut self) -> impl Future<Output = Option<NotificationEvent>> + Send;
}

impl NotificationSource for mpsc::Receiver<NotificationEvent> {
    fn next_event(&mut self) -> impl Future<Output = Option<NotificationEvent>> + Send {
        self.recv()
    }
}

impl NotificationSource for mpsc::UnboundedReceiver<NotificationEvent> {
    fn next_event(&mut self) -> impl Future<Output = Option<NotificationEvent>> + Send {
        self.recv()
    }
}

impl<S: NotificationSource + ?Sized> NotificationSource for &mut S {
    fn next_event(&mut self) -> impl Future<Output = Option<NotificationEvent>> + Send {
        (**self).next_event()
    }
}

/// No notifications: a source that is closed from the start. Poll and ping clients then poll
/// at the interval; a push client fails at once with
/// [`Error::NotificationsClosed`](crate::Error::NotificationsClosed).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifications;

impl NotificationSource for NoNotifications {
    fn next_event(&mut self) -> impl Future<Output = Option<NotificationEvent>> + Send {
        std::future::ready(None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_notifications_is_closed_from_the_start() {
        assert_eq!(NoNotifications.next_event().await, None);
    }

    #[tokio::test]
    async fn channel_receivers_are_sources() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let id = AuthReqId::new("1c266114-a1be-4252-8ad1-04986c5b9ac1");
        tx.send(NotificationEvent::Ping {
            auth_req_id: id.clone(),
        })
        .unwrap();
        drop(tx);
        // Through the `&mut S` implementation, as `TokenWait::notifications(&mut rx)` uses it.
        async fn next<S: NotificationSource>(mut source: S) -> Option<NotificationEvent> {
            source.next_event().await
        }
        let event = next(&mut rx).await.unwrap();
        assert_eq!(event.auth_req_id(), &id);
        assert_eq!(next(&mut rx).await, None);
    }
}
