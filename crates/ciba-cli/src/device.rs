//! The development provider's authentication device: it is told of every issued request
//! (ciba-hyper's `AuthorizationHooks::authentication_requested`), answers automatically
//! (`approve:SECS`, `deny`) or leaves the request to a person or a script, and records the
//! decision through ciba-hyper's `AsHandle`, which also sends the ping or push.
//!
//! The list of pending requests comes from the store (`AsHandle::pending`), and decisions
//! go through it: instances that share a store list, approve and deny the same requests,
//! whichever instance acknowledged them.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use ciba_hyper::server::{AsHandle, PendingRequest};
use ciba_server::store::StoreError;
use ciba_server::{
    AuthReqId, AuthenticationResult, Authorization, CompleteError, FailReason, Ticket, UserHint,
};
use tokio::sync::broadcast;

use crate::cli::AutoDecision;
use crate::escape::quoted;

/// The user's answer on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The user authenticated and approved.
    Approve,
    /// The user denied.
    Deny,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        })
    }
}

/// How the device answers without a person: a decision after a delay, or nothing.
pub(crate) type Automatic = Option<(Decision, Duration)>;

/// The automatic answer `--auto` asks for (`deny` answers at once).
pub(crate) fn automatic(auto: AutoDecision) -> Automatic {
    match auto {
        AutoDecision::Manual => None,
        AutoDecision::Deny => Some((Decision::Deny, Duration::ZERO)),
        AutoDecision::Approve(after) => Some((Decision::Approve, after)),
    }
}

/// The line `ciba serve` prints when a request arrives: the client, the hint, who it names
/// (or why it was refused) and the binding message, client-supplied text escaped
/// ([`crate::escape`]). An `id_token_hint` or `login_hint_token` is not printed (it is a
/// token), only its kind.
pub(crate) fn request_line(ticket: &Ticket, identified: &Result<String, FailReason>) -> String {
    let hint = match &ticket.hint {
        UserHint::LoginHint { value } => format!("login_hint {}", quoted(value)),
        UserHint::IdTokenHint { subject, .. } => format!("id_token_hint for {}", quoted(subject)),
        UserHint::LoginHintToken { .. } => "a login_hint_token".to_owned(),
    };
    let who = match identified {
        Ok(subject) => format!("user {}", quoted(subject)),
        Err(reason) => format!("refused ({reason})"),
    };
    format!(
        "device: request from {} with {hint}: {who}{}",
        quoted(&ticket.client_id),
        binding_suffix(ticket.binding_message.as_deref())
    )
}

/// The line `ciba serve` prints for a recorded decision, client-supplied text escaped.
pub(crate) fn decision_line(event: &DecisionEvent) -> String {
    let r = &event.request;
    decision_text(
        event.decision,
        &r.client_id,
        &r.subject,
        r.delivery_mode.as_str(),
        r.binding_message.as_deref(),
    )
}

fn decision_text(
    decision: Decision,
    client_id: &str,
    subject: &str,
    mode: &str,
    binding_message: Option<&str>,
) -> String {
    format!(
        "device: {decision} the request of {} for user {} (mode {mode}){}",
        quoted(client_id),
        quoted(subject),
        binding_suffix(binding_message)
    )
}

/// `, binding message "..."` (escaped), or nothing.
fn binding_suffix(binding_message: Option<&str>) -> String {
    binding_message.map_or_else(String::new, |m| format!(", binding message {}", quoted(m)))
}

/// Why a decision was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecisionError {
    /// No such pending request (unknown, already decided, or expired).
    NotPending,
    /// The store did not answer (a shared store that is unreachable or too slow); the
    /// text says why. Worth retrying.
    Unavailable(String),
    /// The authorization server refused or failed; the text says why.
    Failed(String),
}

/// The most pending requests the device lists at once.
pub(crate) const LIST_LIMIT: usize = 200;

/// A decision that was recorded.
#[derive(Debug, Clone)]
pub(crate) struct DecisionEvent {
    /// The request.
    pub(crate) request: PendingRequest,
    /// What the user answered.
    pub(crate) decision: Decision,
    /// When the user answered (before the notification, if any, was sent).
    pub(crate) at: Instant,
}

/// The authentication device over a running authorization server. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    handle: AsHandle,
    events: broadcast::Sender<DecisionEvent>,
}

impl Device {
    /// The device of the server `handle` belongs to; decisions are announced on `events`.
    pub(crate) fn new(handle: AsHandle, events: broadcast::Sender<DecisionEvent>) -> Device {
        Device { handle, events }
    }

    /// The authorization server this device answers for.
    pub(crate) fn handle(&self) -> &AsHandle {
        &self.handle
    }

    /// The requests waiting for a decision (at most [`LIST_LIMIT`]), soonest expiry first,
    /// from the store.
    pub(crate) async fn pending(&self) -> Result<Vec<PendingRequest>, StoreError> {
        self.handle.pending(None, LIST_LIMIT).await
    }

    /// Decisions as they are recorded.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<DecisionEvent> {
        self.events.subscribe()
    }

    /// Records the user's decision for `auth_req_id` and notifies the client (ping, push).
    pub(crate) async fn decide(
        &self,
        auth_req_id: &AuthReqId,
        decision: Decision,
    ) -> Result<(), DecisionError> {
        let request = self
            .handle
            .pending_request(auth_req_id)
            .await
            .map_err(|e| DecisionError::Unavailable(e.to_string()))?
            .ok_or(DecisionError::NotPending)?;
        let now = SystemTime::now();
        let result = match decision {
            Decision::Approve => {
                let mut authorization = Authorization::new(request.subject.clone());
                authorization.auth_time = Some(now);
                authorization.amr = vec!["user".to_owned()];
                AuthenticationResult::Authorized(authorization)
            }
            Decision::Deny => AuthenticationResult::AccessDenied,
        };
        let at = Instant::now();
        match self.handle.complete(auth_req_id, result).await {
            Ok(delivery) => {
                tracing::debug!(?delivery, "decision recorded");
                let _ = self.events.send(DecisionEvent {
                    request,
                    decision,
                    at,
                });
                Ok(())
            }
            Err(
                CompleteError::UnknownRequest
                | CompleteError::AlreadyCompleted
                | CompleteError::Expired,
            ) => Err(DecisionError::NotPending),
            Err(e) => Err(DecisionError::Failed(e.to_string())),
        }
    }

    /// Answers `auth_req_id` as `auto` says, after its delay.
    pub(crate) async fn answer_automatically(&self, auth_req_id: &AuthReqId, auto: Automatic) {
        let Some((decision, after)) = auto else {
            return;
        };
        tokio::time::sleep(after).await;
        if let Err(DecisionError::Failed(why) | DecisionError::Unavailable(why)) =
            self.decide(auth_req_id, decision).await
        {
            tracing::warn!(error = %why, "the automatic decision was not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(hint: UserHint, binding_message: Option<&str>) -> Ticket {
        Ticket {
            id: "t".to_owned(),
            client_id: "rp\u{1b}[0m".to_owned(),
            delivery_mode: ciba_server::DeliveryMode::Poll,
            hint,
            scopes: vec!["openid".to_owned()],
            acr_values: Vec::new(),
            binding_message: binding_message.map(str::to_owned),
            user_code: None,
            user_code_required: false,
            requested_expiry: None,
            client_notification_token: None,
            notification_endpoint: None,
            signed_request: false,
            extra: serde_json::Map::new(),
            expires_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn request_and_decision_lines_escape_client_text() {
        let hint = UserHint::LoginHint {
            value: "eve\u{202e}gnp.exe\n".to_owned(),
        };
        let t = ticket(hint, Some("PAY \"42\""));
        let line = request_line(&t, &Ok("eve\u{202e}gnp.exe".to_owned()));
        assert_eq!(
            line,
            r#"device: request from "rp\u{001b}[0m" with login_hint "eve\u{202e}gnp.exe\n": user "eve\u{202e}gnp.exe", binding message "PAY \"42\"""#
        );
        let refused = request_line(&t, &Err(FailReason::UnknownUserId));
        assert!(
            refused.contains("refused (the hint identifies no known user)"),
            "{refused}"
        );
        // A token hint is named, not printed.
        let token = ticket(
            UserHint::IdTokenHint {
                value: "eyJhbGciOi.secret.token".to_owned(),
                subject: "sub\u{200b}1".to_owned(),
            },
            None,
        );
        let line = request_line(&token, &Ok("sub\u{200b}1".to_owned()));
        assert!(!line.contains("eyJ"), "{line}");
        assert!(
            line.contains(r#"id_token_hint for "sub\u{200b}1""#),
            "{line}"
        );
        let decided = decision_text(Decision::Deny, "rp", "a\tb", "push", Some("\u{2066}x"));
        assert_eq!(
            decided,
            r#"device: denied the request of "rp" for user "a\tb" (mode push), binding message "\u{2066}x""#
        );
        for l in [&line, &decided, &refused] {
            let hidden = |c: char| c.is_control() || ('\u{2000}'..='\u{206f}').contains(&c);
            assert!(!l.chars().any(hidden), "{l}");
        }
    }
}
