//! Randomness comes in from the caller.
//!
//! ciba-core keeps no random state of its own. Whatever needs fresh bytes (a `jti`, a DPoP proof,
//! a generated `client_notification_token`) takes a [`Random`] source. [`OsRandom`] (feature
//! `os-rng`, on by default) reads the operating system's CSPRNG; tests pass a deterministic source.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The random source failed to produce bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the random source failed: {reason}")]
pub struct RandomError {
    /// What the source reported.
    pub reason: &'static str,
}

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    /// Fills `dest` entirely with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

impl<R: Random + ?Sized> Random for &R {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(dest)
    }
}

/// Number of random bytes behind every identifier ciba mints (160 bits, above the 128-bit floor).
pub const IDENTIFIER_BYTES: usize = 20;

/// A fresh URL-safe identifier (base64url, no padding) of `bytes` random bytes.
pub fn random_identifier(rng: &dyn Random, bytes: usize) -> Result<String, RandomError> {
    // The raw bytes of what may become a secret (a notification token): wiped on drop.
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    rng.fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf.as_slice()))
}

/// The operating system's CSPRNG (getrandom).
#[cfg(feature = "os-rng")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

#[cfg(feature = "os-rng")]
impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(dest).map_err(|_| RandomError {
            reason: "the operating system random source failed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter;
    impl Random for Counter {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
            for (i, b) in dest.iter_mut().enumerate() {
                *b = i as u8;
            }
            Ok(())
        }
    }

    #[test]
    fn identifier_is_base64url_of_the_requested_length() {
        let id = random_identifier(&Counter, IDENTIFIER_BYTES).unwrap();
        assert_eq!(id.len(), 27);
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[cfg(feature = "os-rng")]
    #[test]
    fn os_random_gives_distinct_identifiers() {
        let a = random_identifier(&OsRandom, IDENTIFIER_BYTES).unwrap();
        let b = random_identifier(&OsRandom, IDENTIFIER_BYTES).unwrap();
        assert_ne!(a, b);
    }
}
