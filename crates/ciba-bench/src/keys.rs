//! The signing keys the benchmarks use: ciba-core's test keys (`crates/ciba-core/testdata`),
//! embedded at compile time so the programs run from any directory.
//!
//! RS256 and PS256 are 2048-bit RSA keys, ES256 is P-256, EdDSA is Ed25519. Each key carries
//! its own `kid`, so a JWK Set holding all four selects the right one.

use std::sync::Arc;

use ciba_core::jose::{Jwk, JwkSet, JwkSigner, JwsAlgorithm, Signer};
use ciba_server::SigningKeySet;

use crate::BenchError;

/// The ID token algorithms the benchmarks measure, in report order.
pub const ID_TOKEN_ALGS: [JwsAlgorithm; 4] = [
    JwsAlgorithm::RS256,
    JwsAlgorithm::PS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::EdDSA,
];

/// The private JWK (JSON text) of the test key for `alg`, or `None` for an algorithm without
/// a test key here.
pub fn private_jwk_json(alg: JwsAlgorithm) -> Option<&'static str> {
    match alg {
        JwsAlgorithm::RS256 => Some(include_str!("../../ciba-core/testdata/rs256.jwk.json")),
        JwsAlgorithm::PS256 => Some(include_str!("../../ciba-core/testdata/ps256.jwk.json")),
        JwsAlgorithm::ES256 => Some(include_str!("../../ciba-core/testdata/es256.jwk.json")),
        JwsAlgorithm::EdDSA => Some(include_str!("../../ciba-core/testdata/eddsa.jwk.json")),
        _ => None,
    }
}

/// The private test key for `alg`.
pub fn private_jwk(alg: JwsAlgorithm) -> Result<Jwk, BenchError> {
    let json = private_jwk_json(alg).ok_or_else(|| format!("no test key for {alg}"))?;
    Ok(Jwk::from_json(json.as_bytes())?)
}

/// A signer over the test key for `alg` (the OP's ID token key, or a client's assertion key).
pub fn signer(alg: JwsAlgorithm) -> Result<JwkSigner, BenchError> {
    Ok(JwkSigner::from_jwk(&private_jwk(alg)?, Some(alg))?)
}

/// The OP's published JWK Set: the public halves of every key in [`ID_TOKEN_ALGS`].
pub fn public_jwks() -> Result<JwkSet, BenchError> {
    let keys = ID_TOKEN_ALGS
        .iter()
        .map(|&alg| private_jwk(alg).map(|k| k.to_public()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JwkSet { keys })
}

/// The OP's signing key set: the RS256 test key (every set has one) and the test key for
/// `alg`.
pub fn key_set(alg: JwsAlgorithm) -> Result<Arc<SigningKeySet>, BenchError> {
    let mut signers: Vec<Arc<dyn Signer>> = vec![Arc::new(signer(JwsAlgorithm::RS256)?)];
    if alg != JwsAlgorithm::RS256 {
        signers.push(Arc::new(signer(alg)?));
    }
    Ok(Arc::new(SigningKeySet::new(signers)?))
}
