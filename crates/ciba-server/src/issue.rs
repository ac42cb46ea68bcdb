//! After user identification: [`CibaServer::issue`] acknowledges the request with an
//! `auth_req_id` (CIBA Core section 7.3); [`CibaServer::fail`] refuses it with one of the
//! section 13 errors. [`CibaServer::issue_inline`] and [`CibaServer::fail_inline`] do the
//! same for an [`InlineTicket`] that was never stored.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use ciba_core::ErrorCode;
use ciba_core::random::{Random, RandomError};
use http::StatusCode;
use tracing::Instrument as _;

use crate::auth_req_id::AuthReqId;
use crate::observe::{code_label, endpoint_span, finish, record_auth_req, record_client};
use crate::response::{ProtocolError, Rejection, sanitize_description, serialized_response};
use crate::server::CibaServer;
use crate::store::{RequestState, StoreError, StoredRequest};
use crate::ticket::{InlineTicket, Ticket};

/// A successful acknowledgement. Its `Debug` form shows neither the `auth_req_id` (an
/// [`AuthReqId`]) nor the response body, which holds it.
pub struct Acknowledgement {
    /// The minted `auth_req_id` (160 random bits, base64url).
    pub auth_req_id: AuthReqId,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The polling interval, for poll and ping clients.
    pub interval: Option<u64>,
    /// The 200 response: `{"auth_req_id", "expires_in", "interval"}`, JSON, no-store.
    pub response: http::Response<Vec<u8>>,
}

/// The JSON body of an [`Acknowledgement`] (CIBA Core section 7.3), members in this order.
#[derive(serde::Serialize)]
struct AcknowledgementBody<'a> {
    auth_req_id: &'a str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<u64>,
}

impl std::fmt::Debug for Acknowledgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acknowledgement")
            .field("auth_req_id", &self.auth_req_id)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .field(
                "response",
                &crate::response::RedactedResponse(&self.response),
            )
            .finish()
    }
}

/// What [`CibaServer::issue`] decided.
#[derive(Debug)]
pub enum IssueOutcome {
    /// The request is acknowledged: send the response, then start the user's
    /// authentication on the authentication device.
    Issued(Acknowledgement),
    /// The ticket is unknown, already used or expired: a 500 `server_error` response (the
    /// client did nothing wrong).
    InvalidTicket(Rejection<IssueError>),
    /// The request could not be stored: 503 `temporarily_unavailable` with `Retry-After`
    /// when the client has too many requests in flight or the store backend failed, 500
    /// `server_error` otherwise.
    Refused(Rejection<IssueError>),
}

/// Why [`CibaServer::issue`] did not acknowledge the request.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The ticket is unknown, already used or expired.
    #[error("the ticket is unknown, used or expired")]
    InvalidTicket,
    /// The subject is empty.
    #[error("the subject must not be empty")]
    EmptySubject,
    /// The client has too many requests in flight.
    #[error("too many requests in flight for this client")]
    TooManyRequests,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl ProtocolError for IssueError {
    fn code(&self) -> ErrorCode {
        match self {
            IssueError::TooManyRequests => ErrorCode::TemporarilyUnavailable,
            IssueError::Store(e) if e.retry_after().is_some() => ErrorCode::TemporarilyUnavailable,
            _ => ErrorCode::ServerError,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            IssueError::TooManyRequests => StatusCode::SERVICE_UNAVAILABLE,
            IssueError::Store(e) if e.retry_after().is_some() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn description(&self) -> Cow<'static, str> {
        match self {
            IssueError::TooManyRequests => {
                // The words of the backchannel endpoint's refusal for the same bound.
                Cow::Borrowed("too many requests in flight for this client")
            }
            _ => Cow::Borrowed("the server could not process the request"),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            IssueError::TooManyRequests => Some(60),
            IssueError::Store(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// The reasons an AS may refuse a request after the user identification step, with the
/// CIBA Core section 13 error each one sends. Its `Display` is a worded reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// 400 `expired_login_hint_token`.
    ExpiredLoginHintToken,
    /// 400 `unknown_user_id`: the hint does not identify a user.
    UnknownUserId,
    /// 400 `unauthorized_client`: a rule of the AS forbids this client.
    UnauthorizedClient,
    /// 400 `missing_user_code`: a user code is required (for example by a per-user rule).
    MissingUserCode,
    /// 400 `invalid_user_code`.
    InvalidUserCode,
    /// 400 `invalid_binding_message`.
    InvalidBindingMessage,
    /// 400 `invalid_target` (RFC 8707 `resource`).
    InvalidTarget,
    /// 403 `access_denied`: refused without asking the user.
    AccessDenied,
    /// 500 `server_error`.
    ServerError,
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailReason::ExpiredLoginHintToken => "the login hint token has expired",
            FailReason::UnknownUserId => "the hint identifies no known user",
            FailReason::UnauthorizedClient => "the client may not make this request",
            FailReason::MissingUserCode => "a user code is required",
            FailReason::InvalidUserCode => "the user code is not valid",
            FailReason::InvalidBindingMessage => "the binding message is not acceptable",
            FailReason::InvalidTarget => "the requested resource is not valid",
            FailReason::AccessDenied => "access was denied",
            FailReason::ServerError => "the server could not process the request",
        })
    }
}

impl FailReason {
    /// Every reason.
    pub const ALL: [FailReason; 9] = [
        FailReason::ExpiredLoginHintToken,
        FailReason::UnknownUserId,
        FailReason::UnauthorizedClient,
        FailReason::MissingUserCode,
        FailReason::InvalidUserCode,
        FailReason::InvalidBindingMessage,
        FailReason::InvalidTarget,
        FailReason::AccessDenied,
        FailReason::ServerError,
    ];
}

/// A refusal by the AS: the reason and an optional description for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request was refused: {reason}")]
pub struct Failure {
    /// The reason.
    pub reason: FailReason,
    /// The `error_description` sent (characters RFC 6749 forbids removed).
    pub description: Option<String>,
}

impl ProtocolError for Failure {
    fn code(&self) -> ErrorCode {
        match self.reason {
            FailReason::ExpiredLoginHintToken => ErrorCode::ExpiredLoginHintToken,
            FailReason::UnknownUserId => ErrorCode::UnknownUserId,
            FailReason::UnauthorizedClient => ErrorCode::UnauthorizedClient,
            FailReason::MissingUserCode => ErrorCode::MissingUserCode,
            FailReason::InvalidUserCode => ErrorCode::InvalidUserCode,
            FailReason::InvalidBindingMessage => ErrorCode::InvalidBindingMessage,
            FailReason::InvalidTarget => ErrorCode::InvalidTarget,
            FailReason::AccessDenied => ErrorCode::AccessDenied,
            FailReason::ServerError => ErrorCode::ServerError,
        }
    }

    fn status(&self) -> StatusCode {
        match self.reason {
            FailReason::AccessDenied => StatusCode::FORBIDDEN,
            FailReason::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> Cow<'static, str> {
        Cow::Owned(self.description.clone().unwrap_or_default())
    }
}

impl CibaServer {
    /// Acknowledges the request of `ticket` for the user `subject` the AS identified from the
    /// hint: mints the `auth_req_id` from `rng`, stores the pending request and returns the
    /// 200 response. `expires_in` is the client's `requested_expiry` capped at
    /// [`ServerConfig::max_expires_in`](crate::ServerConfig::max_expires_in), or the default;
    /// poll and ping clients also get the `interval`.
    ///
    /// `ticket` is a [`Ticket`] or its id. Each ticket is used once.
    pub async fn issue<T: AsRef<str> + ?Sized>(
        &self,
        ticket: &T,
        subject: &str,
        now: SystemTime,
        rng: &dyn Random,
    ) -> IssueOutcome {
        let span = endpoint_span("issue");
        let outcome = async {
            let reject = |e| Rejection::new(e, &self.config.issuer);
            let ticket = match self.store.take_ticket(ticket.as_ref(), now).await {
                Ok(Some(t)) => t,
                Ok(None) => return IssueOutcome::InvalidTicket(reject(IssueError::InvalidTicket)),
                Err(e) => return IssueOutcome::Refused(reject(IssueError::Store(e))),
            };
            self.issue_taken(ticket, subject, now, rng).await
        }
        .instrument(span.clone())
        .await;
        count_issue(&span, &outcome);
        outcome
    }

    /// [`issue`](CibaServer::issue) for an [`InlineTicket`] from
    /// [`authenticate_request_inline`](CibaServer::authenticate_request_inline): the same
    /// checks, request and response, without taking a ticket from the store. The ticket is
    /// consumed, so it cannot be issued twice; one that expired as of `now` answers
    /// [`IssueOutcome::InvalidTicket`], as a stored one would. The client's bound on entries
    /// in the store is enforced here (503 `temporarily_unavailable`, as the backchannel
    /// endpoint answers it for a stored ticket).
    ///
    /// Issuing the same ticket twice does not compile:
    ///
    /// ```compile_fail,E0382
    /// # use std::time::SystemTime;
    /// # use ciba_core::random::Random;
    /// # use ciba_server::{CibaServer, InlineTicket};
    /// # async fn twice(server: &CibaServer, ticket: InlineTicket, now: SystemTime, rng: &dyn Random) {
    /// server.issue_inline(ticket, "alice", now, rng).await;
    /// server.issue_inline(ticket, "alice", now, rng).await; // use of moved value
    /// # }
    /// ```
    pub async fn issue_inline(
        &self,
        ticket: InlineTicket,
        subject: &str,
        now: SystemTime,
        rng: &dyn Random,
    ) -> IssueOutcome {
        let span = endpoint_span("issue");
        let ticket = ticket.into_inner();
        let outcome = if ticket.expires_at <= now {
            let rejection = Rejection::new(IssueError::InvalidTicket, &self.config.issuer);
            IssueOutcome::InvalidTicket(rejection)
        } else {
            self.issue_taken(ticket, subject, now, rng)
                .instrument(span.clone())
                .await
        };
        count_issue(&span, &outcome);
        outcome
    }

    /// Issues the request of a ticket that is no longer in the store.
    async fn issue_taken(
        &self,
        ticket: Ticket,
        subject: &str,
        now: SystemTime,
        rng: &dyn Random,
    ) -> IssueOutcome {
        let reject = |e| Rejection::new(e, &self.config.issuer);
        let span = tracing::Span::current();
        record_client(&span, &ticket.client_id);
        if subject.is_empty() {
            return IssueOutcome::Refused(reject(IssueError::EmptySubject));
        }
        let auth_req_id = match AuthReqId::mint(rng) {
            Ok(id) => id,
            Err(e) => return IssueOutcome::Refused(reject(IssueError::Random(e))),
        };
        let expires_in = self.config.expires_in_for(ticket.requested_expiry);
        let interval = ticket
            .delivery_mode
            .uses_token_endpoint()
            .then_some(self.config.interval);
        let expires_at = now
            .checked_add(Duration::from_secs(expires_in))
            .unwrap_or(now);
        let keep_until = expires_at
            .checked_add(self.config.tombstone_ttl)
            .unwrap_or(expires_at);
        let stored = StoredRequest {
            auth_req_id: auth_req_id.clone(),
            client_id: ticket.client_id,
            subject: subject.to_owned(),
            delivery_mode: ticket.delivery_mode,
            notification_endpoint: ticket.notification_endpoint,
            client_notification_token: ticket.client_notification_token,
            scopes: ticket.scopes,
            acr_values: ticket.acr_values,
            binding_message: ticket.binding_message,
            issued_at: now,
            expires_at,
            interval: self.config.interval,
            last_poll: None,
            state: RequestState::Pending,
        };
        match self.store.insert_request(&stored, keep_until, now).await {
            Ok(()) => {}
            Err(StoreError::ClientLimitReached { .. }) => {
                return IssueOutcome::Refused(reject(IssueError::TooManyRequests));
            }
            Err(e) => return IssueOutcome::Refused(reject(IssueError::Store(e))),
        }
        record_auth_req(&span, auth_req_id.as_str());
        let response = serialized_response(
            StatusCode::OK,
            &AcknowledgementBody {
                auth_req_id: auth_req_id.as_str(),
                expires_in,
                interval,
            },
        );
        IssueOutcome::Issued(Acknowledgement {
            auth_req_id,
            expires_in,
            interval,
            response,
        })
    }

    /// Refuses the request of `ticket` with the error for `reason` (CIBA Core section 13:
    /// 403 for `access_denied`, 500 for `server_error`, 400 otherwise) and an optional
    /// `description`. The ticket is discarded; an unknown ticket still yields the response.
    pub async fn fail<T: AsRef<str> + ?Sized>(
        &self,
        ticket: &T,
        reason: FailReason,
        description: Option<&str>,
    ) -> Rejection<Failure> {
        // The response does not depend on the ticket, so a store failure here only leaves a
        // ticket to expire on its own.
        let span = endpoint_span("fail");
        let _ = self
            .store
            .remove_ticket(ticket.as_ref())
            .instrument(span.clone())
            .await;
        let rejection = self.failure(reason, description);
        finish(&span, "backchannel", code_label(&rejection.code()));
        rejection
    }

    /// [`fail`](CibaServer::fail) for an [`InlineTicket`]: the same response, and no store
    /// call, since the ticket was never stored. The ticket is consumed.
    pub fn fail_inline(
        &self,
        ticket: InlineTicket,
        reason: FailReason,
        description: Option<&str>,
    ) -> Rejection<Failure> {
        let span = endpoint_span("fail");
        record_client(&span, &ticket.client_id);
        drop(ticket);
        let rejection = self.failure(reason, description);
        finish(&span, "backchannel", code_label(&rejection.code()));
        rejection
    }

    fn failure(&self, reason: FailReason, description: Option<&str>) -> Rejection<Failure> {
        let failure = Failure {
            reason,
            description: description
                .map(sanitize_description)
                .filter(|d| !d.is_empty()),
        };
        Rejection::new(failure, &self.config.issuer)
    }
}

/// Counts an issue call as the end of its backchannel request.
fn count_issue(span: &tracing::Span, outcome: &IssueOutcome) {
    let label = match outcome {
        IssueOutcome::Issued(_) => "ok",
        IssueOutcome::InvalidTicket(r) => code_label(&r.code()),
        IssueOutcome::Refused(r) => code_label(&r.code()),
    };
    finish(span, "backchannel", label);
}
