//! Size bounds applied to everything ciba-core parses.
//!
//! Every parser checks its input against one of these limits before it does any work, so a
//! hostile or broken peer cannot make the library allocate without bound. The defaults are
//! generous for real CIBA traffic; [`Limits`] lets an application tighten or widen them.

use std::time::Duration;

/// Upper bounds on input sizes, and on the one lifetime a peer sets for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest response or notification body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest compact JWT accepted (ID tokens, request objects, DPoP proofs), in bytes.
    pub max_jwt_bytes: usize,
    /// Largest `auth_req_id` accepted, in bytes. CIBA sets no length; providers that make it
    /// a self-contained encrypted token (Keycloak's is a JWE of 1–2 KiB) need more than a
    /// random handle would, so the default leaves room for several KiB.
    pub max_auth_req_id_bytes: usize,
    /// Largest number of keys accepted in a JWK Set.
    pub max_jwks_keys: usize,
    /// Largest header value (for example `WWW-Authenticate` or `Authorization`), in bytes.
    pub max_header_bytes: usize,
    /// Longest acknowledgement `expires_in` honoured (CIBA 7.3). A longer one (an absurd
    /// `1e300`, a year) is shortened to this, so a client never waits on a request longer than
    /// it chose to: the request then expires locally at `received_at + max_ack_expires_in`.
    /// Default: one day.
    pub max_ack_expires_in: Duration,
}

impl Limits {
    /// The defaults used throughout the crate.
    pub const DEFAULT: Limits = Limits {
        max_body_bytes: 256 * 1024,
        max_jwt_bytes: 64 * 1024,
        max_auth_req_id_bytes: 8 * 1024,
        max_jwks_keys: 64,
        max_header_bytes: 8 * 1024,
        max_ack_expires_in: Duration::from_secs(24 * 60 * 60),
    };

    /// These limits with the largest HTTP body parsed set to `value` (see [`Limits::max_body_bytes`]).
    #[must_use]
    pub const fn with_max_body_bytes(mut self, value: usize) -> Limits {
        self.max_body_bytes = value;
        self
    }

    /// These limits with the largest JWT parsed set to `value` (see [`Limits::max_jwt_bytes`]).
    #[must_use]
    pub const fn with_max_jwt_bytes(mut self, value: usize) -> Limits {
        self.max_jwt_bytes = value;
        self
    }

    /// These limits with the longest `auth_req_id` accepted set to `value` (see [`Limits::max_auth_req_id_bytes`]).
    #[must_use]
    pub const fn with_max_auth_req_id_bytes(mut self, value: usize) -> Limits {
        self.max_auth_req_id_bytes = value;
        self
    }

    /// These limits with the most keys a JWK Set may hold set to `value` (see [`Limits::max_jwks_keys`]).
    #[must_use]
    pub const fn with_max_jwks_keys(mut self, value: usize) -> Limits {
        self.max_jwks_keys = value;
        self
    }

    /// These limits with the longest header value read set to `value` (see [`Limits::max_header_bytes`]).
    #[must_use]
    pub const fn with_max_header_bytes(mut self, value: usize) -> Limits {
        self.max_header_bytes = value;
        self
    }

    /// These limits with the longest acknowledgement `expires_in` honoured set to `value` (see [`Limits::max_ack_expires_in`]).
    #[must_use]
    pub const fn with_max_ack_expires_in(mut self, value: Duration) -> Limits {
        self.max_ack_expires_in = value;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Longest `client_notification_token` allowed by CIBA Core section 7.1.
pub const MAX_CLIENT_NOTIFICATION_TOKEN_CHARS: usize = 1024;
