//! Content encryption: AES-256-GCM and AES-128-CBC with HMAC-SHA-256 (RFC 7518 section 5).

use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce, Tag};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{ContentEncryption, JweError};
use crate::wire::ct_eq;

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Ciphertext and authentication tag.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub struct Sealed {
    /// The ciphertext, as long as the plaintext (GCM) or padded to whole blocks (CBC).
    pub ciphertext: Vec<u8>,
    /// The authentication tag (16 bytes).
    pub tag: Vec<u8>,
}

fn failed() -> JweError {
    JweError::DecryptionFailed
}

/// Splits a CBC-HMAC key into its MAC and encryption halves (RFC 7518 5.2.2.1).
fn halves(cek: &[u8]) -> Result<(&[u8], &[u8]), JweError> {
    if cek.len() != 32 {
        return Err(failed());
    }
    Ok(cek.split_at(16))
}

/// `HMAC-SHA-256(MAC_KEY, A || IV || E || AL)` truncated to 16 bytes, where AL is the bit
/// length of the additional authenticated data as a 64-bit big-endian integer.
fn cbc_tag(mac_key: &[u8], aad: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, JweError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(mac_key).map_err(|_| failed())?;
    let aad_bits = u64::try_from(aad.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or_else(failed)?;
    mac.update(aad);
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(&aad_bits.to_be_bytes());
    let full = mac.finalize().into_bytes();
    Ok(full.get(..16).ok_or_else(failed)?.to_vec())
}

/// Encrypts `plaintext` under `cek` and `iv`, authenticating `aad` too.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn seal(
    enc: ContentEncryption,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, JweError> {
    let broken = || JweError::EncryptionFailed {
        reason: "content encryption failed",
    };
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() {
        return Err(broken());
    }
    match enc {
        ContentEncryption::A256Gcm => {
            let cipher = Aes256Gcm::new_from_slice(cek).map_err(|_| broken())?;
            let nonce: [u8; 12] = iv.try_into().map_err(|_| broken())?;
            let mut buffer = plaintext.to_vec();
            let tag = cipher
                .encrypt_in_place_detached(&Nonce::from(nonce), aad, &mut buffer)
                .map_err(|_| broken())?;
            Ok(Sealed {
                ciphertext: buffer,
                tag: tag.to_vec(),
            })
        }
        ContentEncryption::A128CbcHs256 => {
            let (mac_key, enc_key) = halves(cek).map_err(|_| broken())?;
            let ciphertext = Aes128CbcEnc::new_from_slices(enc_key, iv)
                .map_err(|_| broken())?
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
            let tag = cbc_tag(mac_key, aad, iv, &ciphertext).map_err(|_| broken())?;
            Ok(Sealed { ciphertext, tag })
        }
    }
}

/// Checks the tag and decrypts. Every failure is [`JweError::DecryptionFailed`]; for
/// A128CBC-HS256 the tag is checked (in constant time) before anything is decrypted.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn open(
    enc: ContentEncryption,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, JweError> {
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
        return Err(failed());
    }
    match enc {
        ContentEncryption::A256Gcm => {
            let cipher = Aes256Gcm::new_from_slice(cek).map_err(|_| failed())?;
            let nonce: [u8; 12] = iv.try_into().map_err(|_| failed())?;
            let tag: [u8; 16] = tag.try_into().map_err(|_| failed())?;
            let mut buffer = Zeroizing::new(ciphertext.to_vec());
            cipher
                .decrypt_in_place_detached(&Nonce::from(nonce), aad, &mut buffer, &Tag::from(tag))
                .map_err(|_| failed())?;
            Ok(buffer)
        }
        ContentEncryption::A128CbcHs256 => {
            let (mac_key, enc_key) = halves(cek)?;
            let expected = cbc_tag(mac_key, aad, iv, ciphertext)?;
            if !ct_eq(&expected, tag) {
                return Err(failed());
            }
            Aes128CbcDec::new_from_slices(enc_key, iv)
                .map_err(|_| failed())?
                .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
                .map(Zeroizing::new)
                .map_err(|_| failed())
        }
    }
}
