//! Key management: delivering the content encryption key (CEK) to the recipient with
//! RSA-OAEP-256 (RFC 7518 4.3) or ECDH-ES+A256KW (RFC 7518 4.6).

use aes_kw::KekAes256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::{PublicKey, SecretKey};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::rng::RngAdapter;
use super::{JweError, JweHeader, KeyManagementAlgorithm, concat_kdf, keys};
use crate::jose::Jwk;
use crate::random::Random;

/// A recipient's public key, ready to receive a CEK.
pub(super) enum RecipientKey {
    Rsa(RsaPublicKey),
    Ec(PublicKey),
}

/// A recipient's private key, ready to recover a CEK.
pub(super) enum PrivateKey {
    Rsa(Box<RsaPrivateKey>),
    Ec(SecretKey),
}

impl RecipientKey {
    /// The key of `jwk` for `alg`.
    pub(super) fn from_jwk(jwk: &Jwk, alg: KeyManagementAlgorithm) -> Result<Self, JweError> {
        match alg {
            KeyManagementAlgorithm::RsaOaep256 => keys::rsa_public(jwk).map(RecipientKey::Rsa),
            KeyManagementAlgorithm::EcdhEsA256Kw => keys::ec_public(jwk).map(RecipientKey::Ec),
        }
    }
}

impl PrivateKey {
    /// The key of `jwk` for `alg`.
    pub(super) fn from_jwk(jwk: &Jwk, alg: KeyManagementAlgorithm) -> Result<Self, JweError> {
        match alg {
            KeyManagementAlgorithm::RsaOaep256 => {
                keys::rsa_private(jwk).map(Box::new).map(PrivateKey::Rsa)
            }
            KeyManagementAlgorithm::EcdhEsA256Kw => keys::ec_private(jwk).map(PrivateKey::Ec),
        }
    }
}

/// The CEK as delivered: the JWE Encrypted Key, and the `epk` header for ECDH-ES.
pub(super) struct Wrapped {
    pub(super) encrypted_key: Vec<u8>,
    pub(super) epk: Option<Jwk>,
}

/// The ECDH-ES+A256KW key encryption key from a shared secret (no `apu`/`apv` when sending).
fn kek(z: &[u8], apu: &[u8], apv: &[u8]) -> Result<KekAes256, JweError> {
    let derived = concat_kdf::derive(
        z,
        KeyManagementAlgorithm::EcdhEsA256Kw.as_str(),
        apu,
        apv,
        256,
    )?;
    let bytes: [u8; 32] = derived
        .as_slice()
        .try_into()
        .map_err(|_| JweError::DecryptionFailed)?;
    Ok(KekAes256::from(bytes))
}

/// A fresh P-256 scalar from the caller's randomness (retrying the rare out-of-range draw).
fn ephemeral(rng: &dyn Random) -> Result<SecretKey, JweError> {
    for _ in 0..8 {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut_slice())?;
        if let Ok(key) = SecretKey::from_slice(bytes.as_slice()) {
            return Ok(key);
        }
    }
    Err(JweError::EncryptionFailed {
        reason: "no valid ephemeral key from the random source",
    })
}

/// Encrypts (or wraps) `cek` for `recipient`.
pub(super) fn wrap(
    recipient: &RecipientKey,
    cek: &[u8],
    rng: &dyn Random,
) -> Result<Wrapped, JweError> {
    match recipient {
        RecipientKey::Rsa(public) => {
            let mut adapter = RngAdapter::new(rng);
            let encrypted = public.encrypt(&mut adapter, Oaep::new::<Sha256>(), cek);
            adapter.finish()?;
            let encrypted_key = encrypted.map_err(|_| JweError::EncryptionFailed {
                reason: "RSA-OAEP encryption failed",
            })?;
            Ok(Wrapped {
                encrypted_key,
                epk: None,
            })
        }
        RecipientKey::Ec(public) => {
            let secret = ephemeral(rng)?;
            let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
            let kek = kek(AsRef::<[u8]>::as_ref(shared.raw_secret_bytes()), &[], &[])?;
            let encrypted_key = kek.wrap_vec(cek).map_err(|_| JweError::EncryptionFailed {
                reason: "AES key wrap failed",
            })?;
            Ok(Wrapped {
                encrypted_key,
                epk: Some(keys::ec_public_jwk(&secret.public_key())?),
            })
        }
    }
}

fn party_info(value: &Option<String>) -> Result<Vec<u8>, JweError> {
    match value {
        None => Ok(Vec::new()),
        Some(s) => URL_SAFE_NO_PAD.decode(s).map_err(|_| JweError::Malformed {
            reason: "apu or apv is not base64url",
        }),
    }
}

/// Recovers the CEK of `header`'s JWE with `key`. `rng` blinds the RSA operation.
pub(super) fn unwrap(
    key: &PrivateKey,
    header: &JweHeader,
    encrypted_key: &[u8],
    rng: &dyn Random,
) -> Result<Zeroizing<Vec<u8>>, JweError> {
    match key {
        PrivateKey::Rsa(private) => {
            let mut adapter = RngAdapter::new(rng);
            let cek = private.decrypt_blinded(&mut adapter, Oaep::new::<Sha256>(), encrypted_key);
            adapter.finish()?;
            cek.map(Zeroizing::new)
                .map_err(|_| JweError::DecryptionFailed)
        }
        PrivateKey::Ec(secret) => {
            let epk = header.epk.as_ref().ok_or(JweError::Malformed {
                reason: "ECDH-ES needs an epk header",
            })?;
            let epk = keys::ec_public(epk).map_err(|_| JweError::Malformed {
                reason: "epk is not a P-256 public key",
            })?;
            let apu = party_info(&header.apu)?;
            let apv = party_info(&header.apv)?;
            let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), epk.as_affine());
            let kek = kek(AsRef::<[u8]>::as_ref(shared.raw_secret_bytes()), &apu, &apv)?;
            kek.unwrap_vec(encrypted_key)
                .map(Zeroizing::new)
                .map_err(|_| JweError::DecryptionFailed)
        }
    }
}
