//! The key layout (documented in the crate docs' key table). Every key starts with the
//! configured prefix, so several deployments or test runs can share one Redis, and carries
//! a Redis Cluster hash tag (`{...}`), so that each script touches one slot:
//!
//! * a request, a ticket: tagged by its own identifier;
//! * a client's sorted set and its replay-cache (`jti`) entries: tagged by the client, so
//!   that remembering a `jti` and counting it against the client's bound is one script;
//! * a subject's pending index: tagged by the subject; the deployment's pending index by
//!   `all`; a revocation: its own key.
//!
//! Inside a tag, `%`, `{` and `}` are percent-encoded, so an identifier can never end a tag
//! early (two identifiers always get two keys, and the keys of one client one slot); the
//! empty identifier's tag is `%`.

use ciba_server::AuthReqId;
use ciba_server::store::{ReplayKey, ReplayPurpose};

pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// `prefix` must not contain `{` or `}` (checked by the store's constructors).
    pub(crate) fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    fn tagged(&self, kind: &str, tag: &str, rest: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + kind.len() + tag.len() + 8);
        key.push_str(&self.prefix);
        key.push_str(kind);
        key.push_str(":{");
        escape_into(&mut key, tag);
        key.push('}');
        key.push_str(rest);
        key
    }

    /// `{prefix}tkt:{ticket id}`: a hash.
    pub(crate) fn ticket(&self, id: &str) -> String {
        self.tagged("tkt", id, "")
    }

    /// `{prefix}req:{auth_req_id}`: a hash.
    pub(crate) fn request(&self, auth_req_id: &AuthReqId) -> String {
        self.tagged("req", auth_req_id.as_str(), "")
    }

    /// `{prefix}jti:{client_id}:{ca|ro}:{jti}`: a string, in its client's slot. The client
    /// id is escaped, so the first `}` ends it and ids with `:` cannot collide.
    pub(crate) fn jti(&self, key: &ReplayKey) -> String {
        let rest = format!(":{}:{}", purpose(key.purpose), key.jti);
        self.tagged("jti", &key.client_id, &rest)
    }

    /// `{prefix}rev:{fingerprint}`: a string.
    pub(crate) fn revoked(&self, fingerprint: &str) -> String {
        self.tagged("rev", fingerprint, "")
    }

    /// `{prefix}cnf:{fingerprint}`: a string, the JSON confirmation of a bound access token.
    pub(crate) fn confirmation(&self, fingerprint: &str) -> String {
        self.tagged("cnf", fingerprint, "")
    }

    /// `{prefix}cli:{client_id}`: a sorted set (the per-client bound).
    pub(crate) fn client(&self, client_id: &str) -> String {
        self.tagged("cli", client_id, "")
    }

    /// `{prefix}pnd:{all}`: a sorted set of every pending request, scored by expiry.
    pub(crate) fn pending(&self) -> String {
        self.tagged("pnd", "all", "")
    }

    /// `{prefix}sub:{subject}`: a sorted set of the subject's pending requests.
    pub(crate) fn subject(&self, subject: &str) -> String {
        self.tagged("sub", subject, "")
    }
}

/// Escapes `text` for use inside a tag. The empty text becomes `%` (which no other text
/// escapes to), since Redis Cluster ignores an empty tag.
fn escape_into(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push('%');
    }
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            c => out.push(c),
        }
    }
}

fn purpose(p: ReplayPurpose) -> &'static str {
    match p {
        ReplayPurpose::ClientAssertion => "ca",
        ReplayPurpose::RequestObject => "ro",
        ReplayPurpose::DpopProof => "dp",
    }
}

/// The member of a ticket in its client's set.
pub(crate) fn ticket_member(id: &str) -> String {
    format!("t:{id}")
}

/// The member of a request in its client's set.
pub(crate) fn request_member(auth_req_id: &AuthReqId) -> String {
    format!("r:{}", auth_req_id.as_str())
}

/// The member of a replay-cache entry in its client's set.
pub(crate) fn jti_member(key: &ReplayKey) -> String {
    format!("j:{}:{}", purpose(key.purpose), key.jti)
}
