//! The key layout (documented in the crate docs): every key starts with the configured
//! prefix, so several deployments or test runs can share one Redis.

use ciba_server::store::{ReplayKey, ReplayPurpose};

pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}tkt:{ticket id}`: a hash.
    pub(crate) fn ticket(&self, id: &str) -> String {
        format!("{}tkt:{id}", self.prefix)
    }

    /// `{prefix}req:{auth_req_id}`: a hash.
    pub(crate) fn request(&self, auth_req_id: &str) -> String {
        format!("{}req:{auth_req_id}", self.prefix)
    }

    /// `{prefix}jti:{ca|ro}:{length of client_id}:{client_id}:{jti}`: a string. The length
    /// keeps client ids and jtis that contain `:` apart.
    pub(crate) fn jti(&self, key: &ReplayKey) -> String {
        format!(
            "{}jti:{}:{}:{}:{}",
            self.prefix,
            purpose(key.purpose),
            key.client_id.len(),
            key.client_id,
            key.jti
        )
    }

    /// `{prefix}rev:{fingerprint}`: a string. The scripts build it too (see `revoke`).
    pub(crate) fn revoked(&self, fingerprint: &str) -> String {
        format!("{}rev:{fingerprint}", self.prefix)
    }

    /// `{prefix}cli:{client_id}`: a sorted set. The scripts build it too (`take_ticket`).
    pub(crate) fn client(&self, client_id: &str) -> String {
        format!("{}cli:{client_id}", self.prefix)
    }
}

fn purpose(p: ReplayPurpose) -> &'static str {
    match p {
        ReplayPurpose::ClientAssertion => "ca",
        ReplayPurpose::RequestObject => "ro",
    }
}

/// The member of a ticket in its client's set.
pub(crate) fn ticket_member(id: &str) -> String {
    format!("t:{id}")
}

/// The member of a request in its client's set.
pub(crate) fn request_member(auth_req_id: &str) -> String {
    format!("r:{auth_req_id}")
}

/// The member of a replay-cache entry in its client's set.
pub(crate) fn jti_member(key: &ReplayKey) -> String {
    format!("j:{}:{}", purpose(key.purpose), key.jti)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn replay_keys_with_colons_do_not_collide() {
        let keys = Keys::new("ciba:");
        let a = ReplayKey {
            client_id: "a:b".into(),
            purpose: ReplayPurpose::ClientAssertion,
            jti: "c".into(),
        };
        let b = ReplayKey {
            client_id: "a".into(),
            purpose: ReplayPurpose::ClientAssertion,
            jti: "b:c".into(),
        };
        assert_ne!(keys.jti(&a), keys.jti(&b));
        assert_eq!(keys.jti(&a), "ciba:jti:ca:3:a:b:c");
    }
}
