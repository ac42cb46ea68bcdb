//! Private JWK files: `ciba login --private-key` (private_key_jwt) and `ciba serve
//! --signing-key` (the provider's ID token key), and the provider's generated key.

use std::path::Path;

use ciba_core::jose::{Jwk, JwkSigner};
use ciba_core::random::OsRandom;

use crate::error::CliError;

/// The key id of a generated provider key.
const GENERATED_KID: &str = "ciba-dev-1";

/// What a key file is for, as the messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUse {
    /// `--private-key`: the client's private_key_jwt key.
    ClientAuthentication,
    /// `--signing-key`: the provider's ID token key.
    IdTokenSigning,
}

impl KeyUse {
    fn file(self) -> &'static str {
        match self {
            KeyUse::ClientAuthentication => "private key file",
            KeyUse::IdTokenSigning => "signing key file",
        }
    }

    fn purpose(self) -> &'static str {
        match self {
            KeyUse::ClientAuthentication => "private_key_jwt",
            KeyUse::IdTokenSigning => "signing ID tokens",
        }
    }
}

/// A signer from a private JWK file (its `alg` member names the algorithm). Every failure
/// is a usage error naming the file.
pub(crate) fn load_signer(path: &Path, key_use: KeyUse) -> Result<JwkSigner, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the {} {}: {}",
            key_use.file(),
            path.display(),
            io_reason(&e)
        ))
    })?;
    let jwk = Jwk::from_json(&bytes)
        .map_err(|e| CliError::usage(format!("{} is not a private JWK: {e}", path.display())))?;
    if !jwk.is_private() {
        return Err(CliError::usage(format!(
            "{} holds a public key; {} needs the private key",
            path.display(),
            key_use.purpose()
        )));
    }
    JwkSigner::from_jwk(&jwk, None)
        .map_err(|e| CliError::usage(format!("the key in {} cannot sign: {e}", path.display())))
}

/// A fresh Ed25519 key for a provider started without `--signing-key`.
pub(crate) fn generate_signing_key() -> Result<JwkSigner, CliError> {
    JwkSigner::generate_ed25519(&OsRandom, Some(GENERATED_KID.to_owned()))
        .map_err(|e| CliError::error(format!("cannot generate the signing key: {e}")))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciba_core::jose::Signer as _;

    #[test]
    fn a_missing_file_is_named_with_what_it_was_for() {
        let e = load_signer(Path::new("/nonexistent/op.jwk"), KeyUse::IdTokenSigning)
            .err()
            .map(|e| e.message);
        assert_eq!(
            e.as_deref(),
            Some("cannot read the signing key file /nonexistent/op.jwk: no such file")
        );
    }

    #[test]
    fn a_generated_key_has_the_development_key_id() {
        let key = generate_signing_key().ok();
        assert_eq!(key.as_ref().and_then(|k| k.key_id()), Some(GENERATED_KID));
    }
}
