//! What logs, traces and metrics may say about a request.
//!
//! An `auth_req_id` is a bearer credential until it is redeemed: whoever holds it can poll for
//! the tokens with the client's credentials. Traces therefore never carry it, only its
//! [`ShortHash`]: the first four bytes of its SHA-256, as eight hex digits. That is enough to
//! follow one request through the logs of every instance and crate, and useless to redeem it.
//!
//! ```
//! use ciba_core::observe::short_hash;
//!
//! let id = "kzpN8Yq0sL4k2bY3Tz9aRw";
//! let hash = short_hash(id).to_string();
//! assert_eq!(hash.len(), 8);
//! assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
//! assert!(!hash.contains(id));
//! assert_eq!(hash, short_hash(id).to_string()); // stable: the same request, the same hash
//! ```

use std::fmt;

use crate::jose::hash::sha256;

/// The first four bytes of a value's SHA-256, shown as eight lowercase hex digits (see the
/// module docs). `Display` and `Debug` print the same thing; neither can show the value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortHash(Option<[u8; 4]>);

/// The [`ShortHash`] of `value` (an `auth_req_id`, a ticket id).
pub fn short_hash(value: &str) -> ShortHash {
    let digest = sha256(value.as_bytes()).ok();
    ShortHash(
        digest
            .as_deref()
            .and_then(|d| d.get(..4))
            .and_then(|d| <[u8; 4]>::try_from(d).ok()),
    )
}

impl fmt::Display for ShortHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(bytes) => bytes.iter().try_for_each(|b| write!(f, "{b:02x}")),
            // The digest backend failed: say so rather than show anything of the value.
            None => f.write_str("--------"),
        }
    }
}

impl fmt::Debug for ShortHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
