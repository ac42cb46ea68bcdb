//! Delivering ping and push notifications to the client's notification endpoint, with bounded
//! retries: network errors, timeouts and 5xx answers are retried; 4xx answers and redirects
//! are final (a redirect is never followed).

use std::time::Duration;

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

impl Default for NotificationDeliverer {
    fn default() -> Self {
        NotificationDeliverer::new(
            HttpClient::http()
                .timeout(DEFAULT_DELIVERY_TIMEOUT)
                .max_body_bytes(64 * 1024),
        )
    }
}

impl NotificationDeliverer {
    /// A deliverer sending through `http` (its timeout bounds each attempt), with
    /// [`DEFAULT_MAX_ATTEMPTS`] and [`DEFAULT_RETRY_DELAY`]. Notification endpoints are
    /// `https` in production: give it a client over a TLS connector.
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

    /// Sends `request`, retrying transient failures.
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
                    tracing::warn!(%endpoint, status = answer.status().as_u16(), attempt,
                        "notification refused");
                    return Delivery::Refused {
                        status: answer.status(),
                        attempts: attempt,
                    };
                }
                Err(e) if e.is_transient() => DeliveryFailure::Transport(e),
                Err(e) => {
                    return Delivery::GaveUp {
                        attempts: attempt,
                        last: DeliveryFailure::Transport(e),
                    };
                }
            };
            tracing::warn!(%endpoint, attempt, failure = ?failure, "notification attempt failed");
            if attempt >= self.max_attempts {
                return Delivery::GaveUp {
                    attempts: attempt,
                    last: failure,
                };
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
            attempt += 1;
        }
    }
}
