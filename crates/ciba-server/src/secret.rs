//! A string that must not leak: client secrets, notification tokens, user codes, tokens.

use std::fmt;

use ciba_core::ct::ct_eq;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string. `Debug` never prints it (and there is no `Display`), `==` compares in
/// constant time, and its bytes are overwritten with zeros when it is dropped.
///
/// Each clone is its own allocation and is wiped when it goes; text obtained through
/// [`Secret::expose`] and copied elsewhere is not.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
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
    }
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
        Secret(s)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::Secret;
    use zeroize::{Zeroize, ZeroizeOnDrop};

    #[test]
    fn debug_output_hides_the_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn zeroize_empties_the_secret_and_runs_on_drop() {
        let mut s = Secret::new("hunter2");
        s.zeroize();
        assert_eq!(s.expose(), "");
        assert!(s.matches(""));
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<Secret>();
        // A clone is independent: wiping one leaves the other intact.
        let a = Secret::new("hunter2");
        let mut b = a.clone();
        b.zeroize();
        assert_eq!(a.expose(), "hunter2");
    }

    #[test]
    fn equality_compares_the_values() {
        assert_eq!(Secret::new("a"), Secret::new("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert!(Secret::new("abc").matches("abc"));
        assert!(!Secret::new("abc").matches("abd"));
    }
}
