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
//! ## Egress policy
//!
//! Every deliverer enforces a ciba-server [`EgressPolicy`] (default
//! [`EgressPolicy::STRICT`]): a literal address in the endpoint URL is checked before
//! anything is sent; a name is resolved by the deliverer's own resolver, which checks every
//! address the name resolved to and hands the connector only those, so the connection goes
//! to a checked address even if the name re-resolves elsewhere (DNS rebinding). TLS still
//! verifies the certificate against the host name of the URL. A refused destination is
//! [`DeliveryOutcome::NotAllowed`], never retried. Tests and development servers whose receivers
//! listen on loopback opt in with [`EgressPolicy::allow_loopback`].
//!
//! [`NotificationDeliverer::deliver_outcome`] also settles what ciba-server asks after a
//! failed push of tokens: they are revoked ([`CibaServer::push_undelivered`]).

use std::error::Error as _;
use std::fmt;
use std::time::{Duration, SystemTime};

use ciba_server::{CibaServer, CompleteOutcome, EgressError, EgressPolicy};
use http::StatusCode;
use tracing::Instrument as _;

use crate::error::{Error, endpoint_of};
use crate::server::egress::{GuardedResolver, check_uri, egress_refusal};
use crate::transport::{HttpClient, copy_request};

/// Counter: notifications by `mode` (`ping`, `push`) and `outcome` ([`DeliveryOutcome::label`]):
/// deliveries and failures.
pub const NOTIFICATIONS: &str = "ciba_notifications_total";

/// Gives the installed recorder the description of [`NOTIFICATIONS`] (Prometheus `# HELP`).
pub fn describe_metrics() {
    metrics::describe_counter!(
        NOTIFICATIONS,
        "ping and push notifications by mode and outcome"
    );
}

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
pub enum DeliveryOutcome {
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
    /// The egress policy refused the destination (before any connection); not retried.
    NotAllowed {
        /// Why.
        reason: EgressError,
    },
    /// Every attempt failed with a transient failure.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: DeliveryFailure,
    },
}

impl DeliveryOutcome {
    /// What became of the notification, as a metrics label: `delivered`, `refused` (a 4xx
    /// or 3xx answer), `gave_up` (retries exhausted or a final transport error),
    /// `not_allowed` (the egress policy), `not_needed`.
    pub fn label(&self) -> &'static str {
        match self {
            DeliveryOutcome::NotNeeded => "not_needed",
            DeliveryOutcome::Delivered { .. } => "delivered",
            DeliveryOutcome::Refused { .. } => "refused",
            DeliveryOutcome::NotAllowed { .. } => "not_allowed",
            DeliveryOutcome::GaveUp { .. } => "gave_up",
        }
    }

    /// True when the client's endpoint accepted the notification.
    pub fn is_delivered(&self) -> bool {
        matches!(self, DeliveryOutcome::Delivered { .. })
    }
}

/// Sends the notifications ciba-server builds (`CompleteOutcome`) over hyper, to the
/// destinations its [`EgressPolicy`] allows.
///
/// A literal address in the endpoint URL is checked before anything is sent; a name is
/// resolved by the deliverer's own resolver, which checks every address the name resolved to
/// and hands the connector only those, so the connection goes to a checked address even if
/// the name re-resolves elsewhere (DNS rebinding). TLS still verifies the certificate
/// against the host name of the URL. A refused destination is [`DeliveryOutcome::NotAllowed`],
/// never retried. Receivers on loopback (development, tests) need
/// [`EgressPolicy::allow_loopback`].
#[derive(Debug, Clone)]
pub struct NotificationDeliverer {
    http: HttpClient,
    egress: EgressPolicy,
    max_attempts: u32,
    retry_delay: Duration,
}

/// [`NotificationDeliverer::with_policy`] with [`EgressPolicy::STRICT`].
impl Default for NotificationDeliverer {
    fn default() -> Self {
        NotificationDeliverer::with_policy(EgressPolicy::STRICT)
    }
}

impl NotificationDeliverer {
    /// A deliverer for `https` (feature `tls`, the default: roots from the platform or
    /// `SSL_CERT_FILE`, see [`crate::tls`]; plain `http` without the feature) to the
    /// destinations `egress` allows, with a [`DEFAULT_DELIVERY_TIMEOUT`] per attempt, a
    /// 64 KiB cap on the answer, [`DEFAULT_MAX_ATTEMPTS`] and [`DEFAULT_RETRY_DELAY`].
    pub fn with_policy(egress: EgressPolicy) -> NotificationDeliverer {
        let resolver = GuardedResolver::new(egress);
        #[cfg(feature = "tls")]
        let http = HttpClient::https_resolving_with(resolver);
        #[cfg(not(feature = "tls"))]
        let http = HttpClient::http_resolving_with(resolver);
        NotificationDeliverer::over(http, egress)
    }

    /// Like [`NotificationDeliverer::with_policy`], over `https` with your own rustls
    /// configuration (for example roots of your own).
    #[cfg(feature = "tls")]
    pub fn https_with_config(
        config: crate::tls::rustls::ClientConfig,
        egress: EgressPolicy,
    ) -> NotificationDeliverer {
        let resolver = GuardedResolver::new(egress);
        NotificationDeliverer::over(
            HttpClient::https_with_config_resolving_with(config, resolver),
            egress,
        )
    }

    /// Like [`NotificationDeliverer::with_policy`], over plain `http` only (for receivers
    /// on loopback in development and tests: pair it with [`EgressPolicy::allow_loopback`]).
    pub fn plain_http(egress: EgressPolicy) -> NotificationDeliverer {
        let resolver = GuardedResolver::new(egress);
        NotificationDeliverer::over(HttpClient::http_resolving_with(resolver), egress)
    }

    /// A deliverer over `http`, enforcing `egress` (also for this crate's tests, through
    /// `__internals`).
    pub(crate) fn over(http: HttpClient, egress: EgressPolicy) -> NotificationDeliverer {
        NotificationDeliverer {
            http: http
                .timeout(DEFAULT_DELIVERY_TIMEOUT)
                .max_body_bytes(64 * 1024),
            egress,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }

    /// The per-attempt timeout (default [`DEFAULT_DELIVERY_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.timeout(timeout);
        self
    }

    /// The policy this deliverer enforces.
    pub fn egress_policy(&self) -> EgressPolicy {
        self.egress
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
    /// logged; the returned [`DeliveryOutcome`] says what became of the notification either way).
    ///
    /// The delivery runs in an `INFO` span named `ciba_notification` with its `mode`
    /// (`ping`, `push`) and `outcome` ([`DeliveryOutcome::label`]), and is counted in
    /// [`NOTIFICATIONS`].
    pub async fn deliver_outcome(
        &self,
        server: &CibaServer,
        outcome: CompleteOutcome,
    ) -> DeliveryOutcome {
        let (request, pushed, mode) = match outcome {
            CompleteOutcome::NothingToSend => return DeliveryOutcome::NotNeeded,
            CompleteOutcome::Ping(request) => (request, Vec::new(), "ping"),
            CompleteOutcome::PushTokens { request, tokens } => (request, tokens, "push"),
            CompleteOutcome::PushError { request, .. } => (request, Vec::new(), "push"),
        };
        let span = tracing::info_span!("ciba_notification", mode, outcome = tracing::field::Empty);
        let endpoint = endpoint_of(request.uri());
        let delivery = self.deliver(request).instrument(span.clone()).await;
        span.record("outcome", delivery.label());
        metrics::counter!(NOTIFICATIONS, "mode" => mode, "outcome" => delivery.label())
            .increment(1);
        if !delivery.is_delivered() && !pushed.is_empty() {
            let revoked = server
                .push_undelivered(&pushed, SystemTime::now())
                .instrument(span.clone())
                .await;
            let _entered = span.enter();
            match revoked {
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
    pub async fn deliver(&self, request: http::Request<Vec<u8>>) -> DeliveryOutcome {
        let endpoint = endpoint_of(request.uri());
        if let Err(reason) = check_uri(&self.egress, request.uri()) {
            return not_allowed(&endpoint, reason);
        }
        let mut delay = self.retry_delay;
        let mut attempt = 1;
        loop {
            let failure = match self.http.send(copy_request(&request)).await {
                Ok(answer) if answer.status().is_success() => {
                    tracing::info!(%endpoint, status = answer.status().as_u16(), attempt,
                        "notification delivered");
                    return DeliveryOutcome::Delivered {
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
                    return DeliveryOutcome::Refused {
                        status: answer.status(),
                        attempts: attempt,
                    };
                }
                Err(e) if egress_refusal(&e).is_some() => {
                    let reason = egress_refusal(&e).cloned().unwrap_or(EgressError::NoHost);
                    return not_allowed(&endpoint, reason);
                }
                Err(e) if e.is_transient() => DeliveryFailure::Transport(e),
                Err(e) => {
                    let last = DeliveryFailure::Transport(e);
                    tracing::warn!(%endpoint, attempts = attempt, reason = %last,
                        "notification not delivered: not retried");
                    return DeliveryOutcome::GaveUp {
                        attempts: attempt,
                        last,
                    };
                }
            };
            if attempt >= self.max_attempts {
                tracing::warn!(%endpoint, attempts = attempt, reason = %failure,
                    "notification not delivered: giving up");
                return DeliveryOutcome::GaveUp {
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

fn not_allowed(endpoint: &str, reason: EgressError) -> DeliveryOutcome {
    tracing::warn!(%endpoint, %reason, "notification not sent: the egress policy refuses the destination");
    DeliveryOutcome::NotAllowed { reason }
}
