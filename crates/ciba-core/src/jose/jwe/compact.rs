//! Splitting and decoding the five parts of a compact JWE (RFC 7516 section 7.1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{JweError, JweHeader};
use crate::body::parse_json_object;
use crate::limits::Limits;

/// Default upper bound on a compact JWE, in bytes (the same as ciba's JWT limit).
pub const DEFAULT_MAX_JWE_BYTES: usize = 64 * 1024;

/// A parsed, not yet decrypted, compact JWE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactJwe {
    /// The protected header.
    pub header: JweHeader,
    /// The encoded protected header: its ASCII bytes are the additional authenticated data.
    pub protected: String,
    /// The encrypted content encryption key.
    pub encrypted_key: Vec<u8>,
    /// The initialization vector.
    pub iv: Vec<u8>,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
    /// The authentication tag.
    pub tag: Vec<u8>,
}

fn decode(part: &str, reason: &'static str) -> Result<Vec<u8>, JweError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JweError::Malformed { reason })
}

impl CompactJwe {
    /// Splits and decodes `token`, refusing anything longer than `max_bytes`. Checks the
    /// shape, the base64url of every part and the header (see [`JweHeader::from_map`]).
    /// Decrypts nothing.
    pub fn parse(token: &str, max_bytes: usize) -> Result<CompactJwe, JweError> {
        if token.len() > max_bytes {
            return Err(JweError::TooLarge {
                limit: max_bytes,
                actual: token.len(),
            });
        }
        let mut parts = token.split('.');
        let (Some(h), Some(k), Some(iv), Some(c), Some(t), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(JweError::Malformed {
                reason: "a compact JWE has exactly five parts",
            });
        };
        let header_bytes = decode(h, "header is not base64url")?;
        let raw = parse_json_object(&header_bytes, &Limits::default()).map_err(|_| {
            JweError::Malformed {
                reason: "header is not a JSON object (or repeats a member)",
            }
        })?;
        let header = JweHeader::from_map(raw)?;
        Ok(CompactJwe {
            header,
            protected: h.to_owned(),
            encrypted_key: decode(k, "encrypted key is not base64url")?,
            iv: decode(iv, "IV is not base64url")?,
            ciphertext: decode(c, "ciphertext is not base64url")?,
            tag: decode(t, "tag is not base64url")?,
        })
    }
}
