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

/// The operating system's CSPRNG read in blocks: each thread keeps up to
/// [`BatchedOsRandom::BLOCK`] bytes from one `getrandom` call and hands them out in order,
/// wiping each byte as it goes, so minting an identifier costs a copy instead of a system
/// call. No byte is handed out twice. Requests larger than half a block go to the OS
/// directly. For servers that mint identifiers on every request.
#[cfg(feature = "os-rng")]
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchedOsRandom;

#[cfg(feature = "os-rng")]
impl BatchedOsRandom {
    /// Bytes read from the OS at a time.
    pub const BLOCK: usize = 512;
}

#[cfg(feature = "os-rng")]
pub(crate) struct Pool {
    pub(crate) bytes: zeroize::Zeroizing<[u8; BatchedOsRandom::BLOCK]>,
    /// How many of `bytes` were handed out (and wiped) already.
    pub(crate) used: usize,
}

#[cfg(feature = "os-rng")]
thread_local! {
    pub(crate) static POOL: std::cell::RefCell<Pool> = std::cell::RefCell::new(Pool {
        bytes: zeroize::Zeroizing::new([0u8; BatchedOsRandom::BLOCK]),
        // Empty: the first use fills it.
        used: BatchedOsRandom::BLOCK,
    });
}

#[cfg(feature = "os-rng")]
impl Random for BatchedOsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        if dest.len() > Self::BLOCK / 2 {
            return OsRandom.fill(dest);
        }
        POOL.with(|pool| {
            let Ok(mut pool) = pool.try_borrow_mut() else {
                // Not reached (nothing here re-enters); the OS is always right.
                return OsRandom.fill(dest);
            };
            let pool = &mut *pool;
            if Self::BLOCK - pool.used < dest.len() {
                OsRandom.fill(pool.bytes.as_mut_slice())?;
                pool.used = 0;
            }
            let end = pool.used + dest.len();
            let Some(taken) = pool.bytes.get_mut(pool.used..end) else {
                return OsRandom.fill(dest);
            };
            dest.copy_from_slice(taken);
            zeroize::Zeroize::zeroize(taken);
            pool.used = end;
            Ok(())
        })
    }
}
