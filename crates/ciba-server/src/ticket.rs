//! The ticket handed to the authorization server for the user identification step.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::DeliveryMode;
use crate::secret::Secret;

/// Which hint identified the user (CIBA Core section 7.1: exactly one is sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HintType {
    /// `login_hint`: an identifier the AS knows the user by (email, phone, ...).
    LoginHint,
    /// `id_token_hint`: an ID token this server issued earlier to the client.
    IdTokenHint,
    /// `login_hint_token`: a token, often signed by a third party, that identifies the user.
    LoginHintToken,
}

impl HintType {
    /// The parameter name.
    pub fn as_str(self) -> &'static str {
        match self {
            HintType::LoginHint => "login_hint",
            HintType::IdTokenHint => "id_token_hint",
            HintType::LoginHintToken => "login_hint_token",
        }
    }
}

/// The hint the client sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserHint {
    /// A `login_hint` value, to be resolved by the AS.
    LoginHint {
        /// The value as sent.
        value: String,
    },
    /// An `id_token_hint` whose signature, issuer and audience the helper has verified
    /// (expired ID tokens are accepted, as CIBA Core section 14 suggests).
    IdTokenHint {
        /// The ID token as sent.
        value: String,
        /// Its `sub` claim.
        subject: String,
    },
    /// A `login_hint_token` value. The helper does not interpret it: the AS checks its
    /// signature and expiry (answering `expired_login_hint_token` through
    /// [`FailReason::ExpiredLoginHintToken`](crate::FailReason::ExpiredLoginHintToken)).
    LoginHintToken {
        /// The token as sent.
        value: String,
    },
}

impl UserHint {
    /// Which kind of hint this is.
    pub fn kind(&self) -> HintType {
        match self {
            UserHint::LoginHint { .. } => HintType::LoginHint,
            UserHint::IdTokenHint { .. } => HintType::IdTokenHint,
            UserHint::LoginHintToken { .. } => HintType::LoginHintToken,
        }
    }

    /// The hint value as sent.
    pub fn value(&self) -> &str {
        match self {
            UserHint::LoginHint { value }
            | UserHint::IdTokenHint { value, .. }
            | UserHint::LoginHintToken { value } => value,
        }
    }
}

/// A validated backchannel authentication request, waiting for the AS to identify the user
/// and then call [`CibaServer::issue`](crate::CibaServer::issue) or
/// [`CibaServer::fail`](crate::CibaServer::fail).
///
/// The ticket is also kept in the store for [`ServerConfig::ticket_ttl`](crate::ServerConfig::ticket_ttl);
/// `issue` and `fail` use the stored copy, so changing these fields has no effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The ticket identifier (random, URL-safe).
    pub id: String,
    /// The authenticated client.
    pub client_id: String,
    /// The client's registered delivery mode.
    pub delivery_mode: DeliveryMode,
    /// The hint that names the user.
    pub hint: UserHint,
    /// Requested scopes (always including `openid`), without repeats.
    pub scopes: Vec<String>,
    /// Requested `acr_values`, in order of preference.
    pub acr_values: Vec<String>,
    /// The `binding_message` to show on the authentication device.
    pub binding_message: Option<String>,
    /// The `user_code`, when the server supports user codes and the client registered
    /// `backchannel_user_code_parameter`. The AS checks it (answering `invalid_user_code`
    /// through [`FailReason::InvalidUserCode`](crate::FailReason::InvalidUserCode)).
    pub user_code: Option<Secret>,
    /// True when a user code was required of this client.
    pub user_code_required: bool,
    /// `requested_expiry` in seconds, if sent.
    pub requested_expiry: Option<u64>,
    /// The `client_notification_token` (ping and push clients).
    pub client_notification_token: Option<Secret>,
    /// The client's notification endpoint (ping and push clients).
    pub notification_endpoint: Option<String>,
    /// True when the parameters came from a verified signed request object.
    pub signed_request: bool,
    /// Parameters this crate does not interpret (for example `request_context`,
    /// `authorization_details` or `resource`), for the AS to apply or refuse.
    pub extra: Map<String, Value>,
    /// When the ticket stops being usable.
    pub expires_at: SystemTime,
}

impl AsRef<str> for Ticket {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

/// A validated backchannel authentication request that was **not** stored, from
/// [`CibaServer::authenticate_request_inline`](crate::CibaServer::authenticate_request_inline):
/// for an AS that identifies the user within the same HTTP request, then calls
/// [`CibaServer::issue_inline`](crate::CibaServer::issue_inline) or
/// [`CibaServer::fail_inline`](crate::CibaServer::fail_inline).
///
/// Both take the ticket by value, and it is neither `Clone` nor serialisable, so each
/// inline ticket is issued or refused at most once: ownership does what the store's
/// take-once operation does for a stored [`Ticket`]. Its fields are readable through
/// `Deref` (for example `ticket.hint`), and it still stops being usable at `expires_at`.
///
/// There is no copy of one to issue twice (`clone` through `Deref` gives a [`Ticket`]):
///
/// ```compile_fail,E0308
/// # fn copy(ticket: &ciba_server::InlineTicket) {
/// let copy: ciba_server::InlineTicket = ticket.clone();
/// # }
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct InlineTicket {
    ticket: Ticket,
}

impl InlineTicket {
    pub(crate) fn new(ticket: Ticket) -> InlineTicket {
        InlineTicket { ticket }
    }

    /// The validated request.
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    pub(crate) fn into_inner(self) -> Ticket {
        self.ticket
    }
}

impl std::ops::Deref for InlineTicket {
    type Target = Ticket;

    fn deref(&self) -> &Ticket {
        &self.ticket
    }
}
