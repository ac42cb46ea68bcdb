//! A string that must not leak: client secrets, notification tokens, user codes, tokens.

use std::fmt;
use std::sync::OnceLock;

use ciba_core::jose::hash::sha256;
use ciba_core::wire::ct_eq;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string. `Debug` never prints it (and there is no `Display`), `==` compares in
/// constant time, and its bytes are overwritten with zeros when it is dropped.
///
/// Each clone is its own allocation and is wiped when it goes; text obtained through
/// [`Secret::expose`] and copied elsewhere is not.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(
    String,
    /// SHA-256 of the value, computed on first use by [`Secret::matches_by_digest`] (a
    /// registered client secret is compared on every request it authenticates).
    #[serde(skip)]
    OnceLock<Option<[u8; 32]>>,
);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into(), OnceLock::new())
    }

    /// The secret value, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret equals `candidate`; the comparison time does not depend on where
    /// the two differ.
    pub fn matches(&self, candidate: &str) -> bool {
        ct_eq(self.0.as_bytes(), candidate.as_bytes())
    }

    /// True when `candidate` is the value, compared by SHA-256 digest in constant time, so
    /// that the time taken depends neither on where the two differ nor on the value's
    /// length. The value's own digest is computed once and kept; each call digests only
    /// `candidate`. Falls back to [`Secret::matches`] if a digest cannot be computed.
    pub fn matches_by_digest(&self, candidate: &str) -> bool {
        let own = self.1.get_or_init(|| digest(self.0.as_bytes()));
        match (own, digest(candidate.as_bytes())) {
            (Some(a), Some(b)) => ct_eq(a, &b),
            _ => self.matches(candidate),
        }
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for Secret {}

impl Zeroize for Secret {
    /// Overwrites the whole buffer (its capacity, not only its length) with zeros and
    /// leaves the secret empty.
    fn zeroize(&mut self) {
        self.0.zeroize();
        // The kept digest goes too: it was the old value's.
        if let Some(Some(d)) = self.1.get_mut() {
            d.zeroize();
        }
        self.1 = OnceLock::new();
    }
}

/// SHA-256 of `data`.
fn digest(data: &[u8]) -> Option<[u8; 32]> {
    sha256(data).ok()?.try_into().ok()
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s, OnceLock::new())
    }
}
