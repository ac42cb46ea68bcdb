//! Producing a compact JWE for a recipient's public key (the server's half).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::key_management::{RecipientKey, wrap};
use super::{ContentEncryption, JweError, KeyManagementAlgorithm, content, keys};
use crate::jose::{Jwk, JwkSet};
use crate::random::Random;

/// The key of `set` that receives JWEs under `alg`: a public key of the right type (and curve,
/// and strength) whose `use` is absent or `enc`, whose `alg` is absent or `alg`, and whose
/// `key_ops` (if any) allow it. A key marked `use: enc` is preferred; otherwise the first
/// usable key is taken. [`JweError::NoMatchingKey`] when there is none.
pub fn select_encryption_key(set: &JwkSet, alg: KeyManagementAlgorithm) -> Result<&Jwk, JweError> {
    let usable = || {
        set.keys
            .iter()
            .filter(move |k| keys::suits(k, alg) && RecipientKey::from_jwk(k, alg).is_ok())
    };
    usable()
        .find(|k| k.use_.as_deref() == Some("enc"))
        .or_else(|| usable().next())
        .ok_or(JweError::NoMatchingKey { kid: None })
}

/// Encrypts `plaintext` to `recipient` (a public JWK) as a compact JWE with a fresh content
/// key and IV from `rng`. The header carries `alg`, `enc`, the key's `kid` when it has one,
/// `cty` when given (`JWT` for a nested signed token) and `epk` for ECDH-ES.
pub fn encrypt_compact(
    plaintext: &[u8],
    recipient: &Jwk,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    cty: Option<&str>,
    rng: &dyn Random,
) -> Result<String, JweError> {
    if !keys::suits(recipient, alg) {
        return Err(JweError::InvalidKey {
            reason: "the key's kty, crv, use, alg or key_ops does not allow this algorithm",
        });
    }
    let key = RecipientKey::from_jwk(recipient, alg)?;
    let mut cek = Zeroizing::new(vec![0u8; enc.key_len()]);
    rng.fill(&mut cek)?;
    let wrapped = wrap(&key, &cek, rng)?;

    let mut header = Map::new();
    header.insert("alg".into(), alg.as_str().into());
    header.insert("enc".into(), enc.as_str().into());
    if let Some(kid) = &recipient.kid {
        header.insert("kid".into(), kid.clone().into());
    }
    if let Some(cty) = cty {
        header.insert("cty".into(), cty.into());
    }
    if let Some(epk) = &wrapped.epk {
        let epk = serde_json::to_value(epk).map_err(|_| JweError::EncryptionFailed {
            reason: "the epk header could not be serialized",
        })?;
        header.insert("epk".into(), epk);
    }
    let header =
        serde_json::to_vec(&Value::Object(header)).map_err(|_| JweError::EncryptionFailed {
            reason: "the header could not be serialized",
        })?;
    let protected = URL_SAFE_NO_PAD.encode(header);

    let mut iv = vec![0u8; enc.iv_len()];
    rng.fill(&mut iv)?;
    let sealed = content::seal(enc, &cek, &iv, protected.as_bytes(), plaintext)?;
    Ok(format!(
        "{protected}.{}.{}.{}.{}",
        URL_SAFE_NO_PAD.encode(&wrapped.encrypted_key),
        URL_SAFE_NO_PAD.encode(&iv),
        URL_SAFE_NO_PAD.encode(&sealed.ciphertext),
        URL_SAFE_NO_PAD.encode(&sealed.tag),
    ))
}
