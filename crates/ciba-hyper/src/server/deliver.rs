//! Delivering ping and push notifications to the client's notification endpoint, with bounded
//! retries: network errors, timeouts and 5xx answers are retried; 4xx answers and redirects
//! are final (a redirect is never followed).
//!
//! By default (feature `tls`) notifications go out over https, trusting the platform's roots
//! or `SSL_CERT_FILE` (see [`crate::tls`]). Every failed attempt, and the final failure, is
//! logged (warning) with the endpoint (without its query), the attempt count and the reason;
//! never with the request's headers or body, which hold the bearer
//! `client_notification_token` and, for a push, the tokens.
//!
//! [`NotificationDeliverer::deliver_outcome`] also settles what ciba-server asks after a
//! failed push of tokens: they are revoked ([`CibaServer::push_undelivered`]).

use std::error::Error as _;
use std::fmt;
use std::time::{Duration, SystemTime};

use ciba_server::{CibaServer, CompleteOutcome};
use http::StatusCode;

use crate::error::{Error, endpoint_of};
use crate::transport::{HttpClient, copy_request};

/// Default number of attempts per notification: 3.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default wait before the first retry (doubled before each later one): 1 second.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Default per-attempt timeout of the deliverer's own HTTP client: 10 seconds.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a notification was not delivered, after the last attempt.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeliveryFailure {
    /// The endpoint answered with this 5xx status.
    Status(StatusCode),
    /// No usable answer: connection error, timeout, oversized answer.
    Transport(Error),
}

impl fmt::Display for DeliveryFailure {
    /// The reason, with the chain of causes (no header or body of the request).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryFailure::Status(status) => write!(f, "the endpoint answered {status}"),
            DeliveryFailure::Transport(e) => {
                write!(f, "{e}")?;
                let mut cause = e.source();
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                Ok(())
            }
        }
    }
}

/// What became of a notification.
#[derive(Debug)]
#[non_exhaustive]
pub enum Delivery {
    /// Poll mode: there was nothing to send.
    NotNeeded,
    /// The endpoint accepted it (2xx).
    Delivered {
        /// The status answered.
        status: StatusCode,
        /// Attempts made.
        attempts: u32,
    },
    /// The endpoint refused it (4xx) or redirected (3xx, not followed); not retried.
    Refused {
        /// The status answered.
        status: StatusCode,
        /// Attempts made.
        attempts: u32,
    },
    /// Every attempt failed with a transient failure.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: DeliveryFailure,
    },
}

impl Delivery {
    /// True when the client's endpoint accepted the notification.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Delivery::Delivered { .. })
    }
}

/// Sends the notifications ciba-server builds (`CompleteOutcome`) over hyper.
#[derive(Debug, Clone)]
pub struct NotificationDeliverer {
    http: HttpClient,
    max_attempts: u32,
    retry_delay: Duration,
}

/// Over [`HttpClient::default`]: https and http with the feature `tls` (the default; roots
/// from the platform or `SSL_CERT_FILE`, see [`crate::tls`]), plain http without it; a
/// [`DEFAULT_DELIVERY_TIMEOUT`] per attempt and a 64 KiB cap on the answer.
impl Default for NotificationDeliverer {
    fn default() -> Self {
        NotificationDeliverer::new(
            HttpClient::default()
                .timeout(DEFAULT_DELIVERY_TIMEOUT)
                .max_body_bytes(64 * 1024),
        )
    }
}

impl NotificationDeliverer {
    /// A deliverer sending through `http` (its timeout bounds each attempt), with
    /// [`DEFAULT_MAX_ATTEMPTS`] and [`DEFAULT_RETRY_DELAY`]. Notification endpoints are
    /// `https` in production: give it [`HttpClient::https`] or
    /// [`HttpClient::https_with_config`] (feature `tls`), or a client over a TLS connector of
    /// your own.
    pub fn new(http: HttpClient) -> NotificationDeliverer {
        NotificationDeliverer {
            http,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }

    /// Attempts per notification (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Wait before the first retry; doubled before each later retry.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Sends what [`CibaServer::complete`] asked for, and revokes pushed tokens that were not
    /// delivered: when the push of [`CompleteOutcome::PushTokens`] is refused or given up
    /// on, its tokens go to [`CibaServer::push_undelivered`] (a store failure there is
    /// logged; the returned [`Delivery`] says what became of the notification either way).
    pub async fn deliver_outcome(&self, server: &CibaServer, outcome: CompleteOutcome) -> Delivery {
        let (request, pushed) = match outcome {
            CompleteOutcome::NothingToSend => return Delivery::NotNeeded,
            CompleteOutcome::Ping(request) => (request, Vec::new()),
            CompleteOutcome::PushTokens { request, tokens } => (request, tokens),
            CompleteOutcome::PushError { request, .. } => (request, Vec::new()),
        };
        let endpoint = endpoint_of(request.uri());
        let delivery = self.deliver(request).await;
        if !delivery.is_delivered() && !pushed.is_empty() {
            match server.push_undelivered(&pushed, SystemTime::now()).await {
                Ok(()) => tracing::warn!(%endpoint, revoked = pushed.len(),
                    "push not delivered: its tokens are revoked"),
                Err(e) => tracing::error!(%endpoint, error = %e,
                    "push not delivered, and its tokens could not be revoked"),
            }
        }
        delivery
    }

    /// Sends `request`, retrying transient failures. Failed attempts and the final failure
    /// are logged with the endpoint, the attempt count and the reason.
    pub async fn deliver(&self, request: http::Request<Vec<u8>>) -> Delivery {
        let endpoint = endpoint_of(request.uri());
        let mut delay = self.retry_delay;
        let mut attempt = 1;
        loop {
            let failure = match self.http.send(copy_request(&request)).await {
                Ok(answer) if answer.status().is_success() => {
                    tracing::info!(%endpoint, status = answer.status().as_u16(), attempt,
                        "notification delivered");
                    return Delivery::Delivered {
                        status: answer.status(),
                        attempts: attempt,
                    };
                }
                Ok(answer) if answer.status().is_server_error() => {
                    DeliveryFailure::Status(answer.status())
                }
                Ok(answer) => {
                    tracing::warn!(%endpoint, status = answer.status().as_u16(),
                        attempts = attempt, "notification refused: not retried");
                    return Delivery::Refused {
                        status: answer.status(),
                        attempts: attempt,
                    };
                }
                Err(e) if e.is_transient() => DeliveryFailure::Transport(e),
                Err(e) => {
                    let last = DeliveryFailure::Transport(e);
                    tracing::warn!(%endpoint, attempts = attempt, reason = %last,
                        "notification not delivered: not retried");
                    return Delivery::GaveUp {
                        attempts: attempt,
                        last,
                    };
                }
            };
            if attempt >= self.max_attempts {
                tracing::warn!(%endpoint, attempts = attempt, reason = %failure,
                    "notification not delivered: giving up");
                return Delivery::GaveUp {
                    attempts: attempt,
                    last: failure,
                };
            }
            tracing::info!(%endpoint, attempt, reason = %failure, retry_in = ?delay,
                "notification attempt failed");
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
            attempt += 1;
        }
    }
}
