//! Decrypting compact JWEs with the client's private keys (the client's half).

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::key_management::{PrivateKey, unwrap};
use super::{
    CompactJwe, ContentEncryption, DEFAULT_MAX_JWE_BYTES, JweError, KeyManagementAlgorithm,
    content, keys,
};
use crate::id_token::{DecryptError, IdTokenDecrypter};
use crate::jose::JwkSet;
use crate::random::Random;

struct DecryptionKey {
    kid: Option<String>,
    key: PrivateKey,
}

/// Decrypts compact JWEs made for one registered `alg`/`enc` pair with the client's private
/// keys. Anything else is refused before any cryptography: another `alg`
/// ([`JweError::AlgorithmNotAllowed`]) or `enc` ([`JweError::EncryptionNotAllowed`]), a `zip`
/// header, a `crit` header, a token above the size limit.
///
/// As an [`IdTokenDecrypter`] (give it to
/// [`IdTokenValidator::decrypter`](crate::id_token::IdTokenValidator::decrypter)) it also
/// requires the plaintext to be text and the `cty`, when present, to be `JWT`.
pub struct JweDecrypter {
    keys: Vec<DecryptionKey>,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    max_bytes: usize,
    rng: Arc<dyn Random>,
}

impl fmt::Debug for JweDecrypter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JweDecrypter")
            .field("keys", &self.keys.len())
            .field("alg", &self.alg)
            .field("enc", &self.enc)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl JweDecrypter {
    /// A decrypter for JWEs under `alg` and `enc`, with the private keys of `keys` that suit
    /// `alg` (type, curve, `use` absent or `enc`, `alg` absent or equal). `rng` blinds RSA
    /// decryption. [`JweError::NoMatchingKey`] when no private key suits `alg`;
    /// [`JweError::InvalidKey`] when one that does is malformed or too weak.
    pub fn new(
        keys: &JwkSet,
        alg: KeyManagementAlgorithm,
        enc: ContentEncryption,
        rng: Arc<dyn Random>,
    ) -> Result<JweDecrypter, JweError> {
        let keys = keys
            .keys
            .iter()
            .filter(|k| k.is_private() && keys::suits(k, alg))
            .map(|k| {
                Ok(DecryptionKey {
                    kid: k.kid.clone(),
                    key: PrivateKey::from_jwk(k, alg)?,
                })
            })
            .collect::<Result<Vec<_>, JweError>>()?;
        if keys.is_empty() {
            return Err(JweError::NoMatchingKey { kid: None });
        }
        Ok(JweDecrypter {
            keys,
            alg,
            enc,
            max_bytes: DEFAULT_MAX_JWE_BYTES,
            rng,
        })
    }

    /// Sets the longest token accepted (default [`DEFAULT_MAX_JWE_BYTES`]).
    pub fn max_bytes(mut self, max_bytes: usize) -> JweDecrypter {
        self.max_bytes = max_bytes;
        self
    }

    /// Parses, checks and decrypts `token`, returning the plaintext.
    pub fn decrypt(&self, token: &str) -> Result<Zeroizing<Vec<u8>>, JweError> {
        self.decrypt_parsed(&CompactJwe::parse(token, self.max_bytes)?)
    }

    fn decrypt_parsed(&self, jwe: &CompactJwe) -> Result<Zeroizing<Vec<u8>>, JweError> {
        let header = &jwe.header;
        if header.alg != self.alg.as_str() {
            return Err(JweError::AlgorithmNotAllowed {
                alg: super::alg::clip(&header.alg),
            });
        }
        if header.enc != self.enc.as_str() {
            return Err(JweError::EncryptionNotAllowed {
                enc: super::alg::clip(&header.enc),
            });
        }
        if jwe.iv.len() != self.enc.iv_len() || jwe.tag.len() != self.enc.tag_len() {
            return Err(JweError::Malformed {
                reason: "the IV or tag length does not match enc",
            });
        }
        let kid = header.kid.as_deref();
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| match (kid, k.kid.as_deref()) {
                (Some(wanted), Some(have)) => wanted == have,
                _ => true,
            })
            .peekable();
        if candidates.peek().is_none() {
            return Err(JweError::NoMatchingKey {
                kid: kid.map(super::alg::clip),
            });
        }
        for candidate in candidates {
            let cek = match unwrap(
                &candidate.key,
                header,
                &jwe.encrypted_key,
                self.rng.as_ref(),
            ) {
                Ok(cek) if cek.len() == self.enc.key_len() => cek,
                // RFC 7516 section 11.5: a key that does not unwrap (or unwraps to the wrong
                // length) goes on as a random CEK, so it costs the same work as a bad tag and
                // the two failures cannot be told apart by their timing (no padding oracle).
                Ok(_) | Err(JweError::DecryptionFailed) => {
                    let mut random = Zeroizing::new(vec![0u8; self.enc.key_len()]);
                    self.rng.fill(&mut random)?;
                    random
                }
                Err(other) => return Err(other),
            };
            match content::open(
                self.enc,
                &cek,
                &jwe.iv,
                jwe.protected.as_bytes(),
                &jwe.ciphertext,
                &jwe.tag,
            ) {
                Ok(plaintext) => return Ok(plaintext),
                Err(JweError::DecryptionFailed) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(JweError::DecryptionFailed)
    }
}

impl IdTokenDecrypter for JweDecrypter {
    fn decrypt(&self, jwe: &str) -> Result<String, DecryptError> {
        let parsed = CompactJwe::parse(jwe, self.max_bytes)?;
        if parsed
            .header
            .cty
            .as_deref()
            .is_some_and(|cty| !cty.eq_ignore_ascii_case("JWT"))
        {
            return Err(JweError::Malformed {
                reason: "the cty of an encrypted ID token must be JWT",
            }
            .into());
        }
        let plaintext = self.decrypt_parsed(&parsed)?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| {
            DecryptError::from(JweError::Malformed {
                reason: "the decrypted ID token is not text",
            })
        })
    }
}
