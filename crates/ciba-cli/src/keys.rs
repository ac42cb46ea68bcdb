//! Private JWK files: `ciba login --private-key` (private_key_jwt), `ciba login
//! --decryption-key` (encrypted ID tokens) and `ciba serve --signing-key` (the provider's ID
//! token keys), and the provider's generated keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::encoding::{AsBigEndian as _, AsDer as _};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::jose::jwe::{ContentEncryption, JweDecrypter, KeyManagementAlgorithm};
use ciba_core::jose::{Jwk, JwkSet, JwkSigner, Signer, Zeroizing};
use ciba_core::random::OsRandom;
use ciba_server::{KeySetError, SigningKeySet};

use crate::error::CliError;

/// The key id of the generated Ed25519 provider key.
const GENERATED_KID: &str = "ciba-dev-1";
/// The key id of the generated RS256 provider key.
const GENERATED_RSA_KID: &str = "ciba-dev-rsa-1";
/// The key id of the generated ES256 provider key (`--fapi`).
const GENERATED_EC_KID: &str = "ciba-dev-ec-1";

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

/// `ciba login --decryption-key`: a decrypter for ID tokens encrypted to the private JWK in
/// `path` under `enc` (`--id-token-enc`). The key management algorithm is the key's `alg`
/// member, or follows from its type (RSA-OAEP-256 for RSA, ECDH-ES+A256KW for EC P-256).
pub(crate) fn load_decrypter(path: &Path, enc: &str) -> Result<JweDecrypter, CliError> {
    let enc: ContentEncryption = enc.parse().map_err(|_| {
        CliError::usage(format!(
            "--id-token-enc {enc:?} is not supported: use A128CBC-HS256 or A256GCM"
        ))
    })?;
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the decryption key file {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    let jwk = Jwk::from_json(&bytes)
        .map_err(|e| CliError::usage(format!("{} is not a private JWK: {e}", path.display())))?;
    if !jwk.is_private() {
        return Err(CliError::usage(format!(
            "{} holds a public key; decrypting ID tokens needs the private key",
            path.display()
        )));
    }
    let alg = match (jwk.alg.as_deref(), jwk.kty.as_str()) {
        (Some(alg), _) => alg.parse::<KeyManagementAlgorithm>().map_err(|_| {
            CliError::usage(format!(
                "the key in {} is for {alg}, not RSA-OAEP-256 or ECDH-ES+A256KW",
                path.display()
            ))
        })?,
        (None, "RSA") => KeyManagementAlgorithm::RsaOaep256,
        (None, "EC") => KeyManagementAlgorithm::EcdhEsA256Kw,
        (None, kty) => {
            return Err(CliError::usage(format!(
                "the key in {} is of type {kty}; ID token decryption needs RSA or EC P-256",
                path.display()
            )));
        }
    };
    let set = JwkSet { keys: vec![jwk] };
    JweDecrypter::new(&set, alg, enc, Arc::new(OsRandom)).map_err(|e| {
        CliError::usage(format!(
            "the key in {} cannot decrypt {alg} ID tokens: {e}",
            path.display()
        ))
    })
}

/// A fresh Ed25519 key for a provider started without `--signing-key`.
pub(crate) fn generate_signing_key() -> Result<JwkSigner, CliError> {
    JwkSigner::generate_ed25519(&OsRandom, Some(GENERATED_KID.to_owned()))
        .map_err(|e| CliError::error(format!("cannot generate the signing key: {e}")))
}

/// The key set of a provider started without `--signing-key`: a fresh RS256 key (2048 bits;
/// OpenID Connect Discovery requires RS256) and a fresh Ed25519 key.
pub(crate) fn generate_key_set() -> Result<SigningKeySet, CliError> {
    let rsa: Arc<dyn Signer> = Arc::new(generate_rs256_key()?);
    let ed: Arc<dyn Signer> = Arc::new(generate_signing_key()?);
    SigningKeySet::new([rsa, ed])
        .map_err(|e| CliError::error(format!("cannot build the signing key set: {e}")))
}

/// The key set of a FAPI-CIBA provider (`--fapi`) started without `--signing-key`: a fresh
/// RS256 key (OpenID Connect Discovery requires it) and a fresh ES256 key (FAPI ID tokens
/// are PS256 or ES256).
pub(crate) fn generate_fapi_key_set() -> Result<SigningKeySet, CliError> {
    let rsa: Arc<dyn Signer> = Arc::new(generate_rs256_key()?);
    let ec: Arc<dyn Signer> = Arc::new(generate_es256_key()?);
    SigningKeySet::new([rsa, ec])
        .map_err(|e| CliError::error(format!("cannot build the signing key set: {e}")))
}

/// A fresh P-256 key for ES256, from aws-lc-rs.
fn generate_es256_key() -> Result<JwkSigner, CliError> {
    let failed = |what: &str| CliError::error(format!("cannot generate the ES256 key: {what}"));
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| failed("key generation failed"))?;
    let d = pair
        .private_key()
        .as_be_bytes()
        .map_err(|_| failed("cannot encode the key"))?;
    // The uncompressed point: 0x04, then x and y (32 bytes each).
    let point = pair.public_key().as_ref();
    let (x, y) = match point.split_first() {
        Some((4, xy)) if xy.len() == 64 => xy.split_at(32),
        _ => return Err(failed("unexpected public key encoding")),
    };
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let jwk = Jwk {
        kty: "EC".into(),
        kid: Some(GENERATED_EC_KID.to_owned()),
        crv: Some("P-256".into()),
        x: Some(b64(x)),
        y: Some(b64(y)),
        d: Some(Zeroizing::new(b64(d.as_ref()))),
        ..Jwk::default()
    };
    JwkSigner::from_jwk(&jwk, Some(ciba_core::jose::JwsAlgorithm::ES256))
        .map_err(|e| failed(&e.to_string()))
}

/// The key set of the `--signing-key` files: one key per algorithm, each with its own `kid`,
/// one of them RS256.
pub(crate) fn load_key_set(paths: &[PathBuf]) -> Result<SigningKeySet, CliError> {
    let mut signers: Vec<Arc<dyn Signer>> = Vec::new();
    for path in paths {
        signers.push(Arc::new(load_signer(path, KeyUse::IdTokenSigning)?));
    }
    SigningKeySet::new(signers).map_err(|e| match e {
        KeySetError::NoRs256Key => CliError::usage(
            "the --signing-key files hold no RS256 key; OpenID Connect requires one (add an RS256 key file)",
        ),
        other => CliError::usage(format!("the --signing-key files cannot be used together: {other}")),
    })
}

/// A fresh 2048-bit RSA key for RS256, from aws-lc-rs.
fn generate_rs256_key() -> Result<JwkSigner, CliError> {
    let failed = |what: &str| CliError::error(format!("cannot generate the RS256 key: {what}"));
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("key generation failed"))?;
    let pkcs8 = pair.as_der().map_err(|_| failed("cannot encode the key"))?;
    let members = rsa_members(pkcs8.as_ref()).ok_or_else(|| failed("unexpected key encoding"))?;
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let private = |bytes: &[u8]| Some(Zeroizing::new(b64(bytes)));
    let [n, e, d, p, q, dp, dq, qi] = members;
    let jwk = Jwk {
        kty: "RSA".into(),
        kid: Some(GENERATED_RSA_KID.to_owned()),
        n: Some(b64(n)),
        e: Some(b64(e)),
        d: private(d),
        p: private(p),
        q: private(q),
        dp: private(dp),
        dq: private(dq),
        qi: private(qi),
        ..Jwk::default()
    };
    JwkSigner::from_jwk(&jwk, Some(ciba_core::jose::JwsAlgorithm::RS256))
        .map_err(|e| failed(&e.to_string()))
}

/// One DER element: its tag, its contents, and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// n, e, d, p, q, dp, dq, qi of a PKCS#8 RSA private key, as unsigned big-endian bytes.
fn rsa_members(pkcs8: &[u8]) -> Option<[&[u8]; 8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    let (SEQUENCE, info, _) = der_element(pkcs8)? else {
        return None;
    };
    let (INTEGER, _version, rest) = der_element(info)? else {
        return None;
    };
    let (SEQUENCE, _algorithm, rest) = der_element(rest)? else {
        return None;
    };
    let (OCTET_STRING, private_key, _) = der_element(rest)? else {
        return None;
    };
    let (SEQUENCE, mut fields, _) = der_element(private_key)? else {
        return None;
    };
    let mut ints: Vec<&[u8]> = Vec::with_capacity(9);
    while !fields.is_empty() && ints.len() < 9 {
        let (INTEGER, value, rest) = der_element(fields)? else {
            return None;
        };
        // Unsigned: drop the sign octet DER adds before a high bit.
        let trimmed = match value.split_first() {
            Some((0, tail)) if !tail.is_empty() => tail,
            _ => value,
        };
        ints.push(trimmed);
        fields = rest;
    }
    // ints[0] is the version.
    let members: [&[u8]; 8] = ints.get(1..9)?.try_into().ok()?;
    Some(members)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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

    fn testdata(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ciba-core/testdata/{name}.jwk.json"))
    }

    #[test]
    fn decryption_keys_load_for_their_algorithm_and_bad_ones_are_usage_errors() {
        let rsa = load_decrypter(&testdata("enc_rsa"), "A256GCM").unwrap();
        assert!(format!("{rsa:?}").contains("RsaOaep256"));
        let ec = load_decrypter(&testdata("enc_ec"), "A128CBC-HS256").unwrap();
        assert!(format!("{ec:?}").contains("EcdhEsA256Kw"));
        let message = |path: &Path, enc: &str| load_decrypter(path, enc).err().map(|e| e.message);
        assert!(
            message(&testdata("enc_rsa"), "A128GCM")
                .unwrap()
                .contains("--id-token-enc \"A128GCM\" is not supported")
        );
        // A signing key (alg RS256, use sig) is not a decryption key.
        assert!(
            message(&testdata("rs256"), "A256GCM")
                .unwrap()
                .contains("not RSA-OAEP-256 or ECDH-ES+A256KW")
        );
        assert!(
            message(Path::new("/nonexistent/dec.jwk"), "A256GCM")
                .unwrap()
                .contains("cannot read the decryption key file")
        );
    }

    #[test]
    fn the_generated_key_set_signs_rs256_and_eddsa() {
        let set = generate_key_set().unwrap();
        assert_eq!(
            set.algorithms(),
            [
                ciba_core::jose::JwsAlgorithm::RS256,
                ciba_core::jose::JwsAlgorithm::EdDSA
            ]
        );
        let rsa = set.signer(ciba_core::jose::JwsAlgorithm::RS256).unwrap();
        assert_eq!(rsa.key_id(), Some(GENERATED_RSA_KID));
        let public = rsa.public_jwk().unwrap();
        assert!(!public.is_private());
        // 2048-bit modulus.
        let n = URL_SAFE_NO_PAD.decode(public.n.unwrap()).unwrap();
        assert_eq!(n.len(), 256);
    }

    #[test]
    fn the_generated_fapi_key_set_signs_rs256_and_es256() {
        let set = generate_fapi_key_set().unwrap();
        assert_eq!(
            set.algorithms(),
            [
                ciba_core::jose::JwsAlgorithm::RS256,
                ciba_core::jose::JwsAlgorithm::ES256
            ]
        );
        let ec = set.signer(ciba_core::jose::JwsAlgorithm::ES256).unwrap();
        assert_eq!(ec.key_id(), Some(GENERATED_EC_KID));
        let public = ec.public_jwk().unwrap();
        assert!(!public.is_private());
        assert_eq!(public.crv.as_deref(), Some("P-256"));
    }

    #[test]
    fn signing_key_files_without_rs256_are_a_usage_error() {
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ciba-core/testdata");
        let e = load_key_set(&[testdata.join("eddsa.jwk.json")])
            .err()
            .unwrap();
        assert!(e.message.contains("no RS256 key"), "{}", e.message);
        let set = load_key_set(&[
            testdata.join("eddsa.jwk.json"),
            testdata.join("rs256.jwk.json"),
            testdata.join("es384.jwk.json"),
        ])
        .unwrap();
        assert_eq!(set.algorithms().len(), 3);
    }

    #[test]
    fn a_generated_key_has_the_development_key_id() {
        let key = generate_signing_key().ok();
        assert_eq!(key.as_ref().and_then(|k| k.key_id()), Some(GENERATED_KID));
    }
}
