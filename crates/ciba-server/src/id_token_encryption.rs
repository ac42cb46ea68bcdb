//! Encrypted ID tokens (OpenID Connect Core section 10.2): when a client registered
//! `id_token_encrypted_response_alg` (and optionally `_enc`), the signed ID token the minter
//! produced is encrypted to the client's key, as a nested JWT (signed, then encrypted; `cty`
//! `JWT`). This happens after minting in every mode: the token endpoint's answer for poll
//! and ping, and the push delivery.
//!
//! The recipient key comes from the client's registered `jwks` (a registry that supports
//! `jwks_uri` fetches it and fills `jwks`: this crate does no I/O), chosen by
//! [`select_encryption_key`]. Registration refuses a client without such a key
//! ([`ClientMetadataError::NoEncryptionKey`](crate::ClientMetadataError::NoEncryptionKey)), so
//! a failure here means the registry's copy changed; it is a [`MintError::Encryption`], never
//! a silent plain ID token.

use ciba_core::jose::jwe::{
    ContentEncryption, JweError, KeyManagementAlgorithm, encrypt_compact, select_encryption_key,
};
use ciba_core::random::Random;

use crate::client::ClientMetadata;
use crate::minter::{MintError, MintedTokens};

/// The `alg` values of `id_token_encryption_alg_values_supported`.
pub const ALG_VALUES_SUPPORTED: [KeyManagementAlgorithm; 2] = KeyManagementAlgorithm::ALL;
/// The `enc` values of `id_token_encryption_enc_values_supported`.
pub const ENC_VALUES_SUPPORTED: [ContentEncryption; 2] = ContentEncryption::ALL;

/// Replaces `tokens.id_token` by its encryption to `client`'s key when `client` registered ID
/// token encryption; leaves it signed otherwise. `client` is `None` when the registry no
/// longer knows the client (then nothing is known of its registration either).
pub fn encrypt_id_token(
    client: Option<&ClientMetadata>,
    tokens: &mut MintedTokens,
    rng: &dyn Random,
) -> Result<(), MintError> {
    let Some(client) = client else {
        return Ok(());
    };
    if client.id_token_encrypted_response_alg.is_none() {
        return Ok(());
    }
    // Registered but not parseable (registration refuses such values): never fall back to a
    // plain ID token.
    let (alg, enc) = client.id_token_encryption().ok_or_else(|| {
        MintError::Encryption(JweError::AlgorithmNotAllowed {
            alg: client
                .id_token_encrypted_response_alg
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(32)
                .collect(),
        })
    })?;
    let jwks = client
        .jwks
        .as_ref()
        .ok_or(MintError::Encryption(JweError::NoMatchingKey { kid: None }))?;
    let key = select_encryption_key(jwks, alg)?;
    tokens.id_token = encrypt_compact(tokens.id_token.as_bytes(), key, alg, enc, Some("JWT"), rng)?;
    Ok(())
}
