//! Security profiles: which rules beyond CIBA Core 1.0 a client or a server enforces.
//!
//! [`Profile::FapiCiba`] is the FAPI Client Initiated Backchannel Authentication Profile
//! (on top of FAPI 1.0 Advanced): signed authentication requests, PS256 or ES256 only,
//! `private_key_jwt` or mutual TLS client authentication, sender-constrained access tokens
//! (DPoP or certificate-bound), poll or ping but never push, a request object valid for at
//! most 60 minutes (`exp - nbf`) whose `nbf` is at most 60 minutes old, `aud` equal to the
//! issuer, and a `binding_message` with every request. docs/fapi-ciba.md lists each clause
//! with the test that proves it.

use crate::jose::JwsAlgorithm;

/// The signing algorithms FAPI allows (FAPI 1.0 Advanced section 8.6).
pub const FAPI_ALGORITHMS: [JwsAlgorithm; 2] = [JwsAlgorithm::PS256, JwsAlgorithm::ES256];

/// The longest a FAPI-CIBA request object may be valid, and the oldest its `nbf` may be, in
/// seconds (60 minutes).
pub const FAPI_MAX_REQUEST_OBJECT_SECS: i64 = 3600;

/// Which profile a client or server follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// CIBA Core 1.0 with this project's secure defaults.
    #[default]
    Default,
    /// The FAPI-CIBA profile (see the module docs).
    FapiCiba,
}

impl Profile {
    /// True for [`Profile::FapiCiba`].
    pub fn is_fapi(self) -> bool {
        self == Profile::FapiCiba
    }

    /// Whether this profile lets `alg` sign requests, assertions, proofs and tokens.
    pub fn allows_algorithm(self, alg: JwsAlgorithm) -> bool {
        match self {
            Profile::Default => true,
            Profile::FapiCiba => FAPI_ALGORITHMS.contains(&alg),
        }
    }
}
