//! The Concat KDF of NIST SP 800-56A section 5.8.1 with SHA-256, as RFC 7518 section 4.6.2
//! uses it to turn an ECDH-ES shared secret into a key.
//!
//! `OtherInfo` is `AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo`, each of the first
//! three prefixed with its length as a 32-bit big-endian integer, and `SuppPubInfo` being the
//! key length in bits (32-bit big-endian). For the key wrap variants (`ECDH-ES+A256KW`) the
//! `AlgorithmID` is the `alg` value; for direct `ECDH-ES` it would be the `enc` value.
//! Every key derived here is at most 256 bits, so one SHA-256 round (counter 1) is enough.

use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::JweError;

fn length_prefixed(hasher: &mut Sha256, data: &[u8]) -> Result<(), JweError> {
    let len = u32::try_from(data.len()).map_err(|_| JweError::Malformed {
        reason: "apu or apv is too long",
    })?;
    hasher.update(len.to_be_bytes());
    hasher.update(data);
    Ok(())
}

/// Derives `key_bits` bits (a multiple of 8, at most 256) from the shared secret `z`.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn derive(
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    key_bits: u32,
) -> Result<Zeroizing<Vec<u8>>, JweError> {
    if key_bits == 0 || key_bits > 256 || !key_bits.is_multiple_of(8) {
        return Err(JweError::EncryptionFailed {
            reason: "Concat KDF key length must be 8..=256 bits",
        });
    }
    let mut hasher = Sha256::new();
    hasher.update(1u32.to_be_bytes());
    hasher.update(z);
    length_prefixed(&mut hasher, algorithm_id.as_bytes())?;
    length_prefixed(&mut hasher, apu)?;
    length_prefixed(&mut hasher, apv)?;
    hasher.update(key_bits.to_be_bytes());
    let digest = Zeroizing::new(hasher.finalize().to_vec());
    let len = (key_bits / 8) as usize;
    Ok(Zeroizing::new(
        digest.get(..len).unwrap_or(&digest[..]).to_vec(),
    ))
}
