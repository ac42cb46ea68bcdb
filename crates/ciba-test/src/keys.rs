//! The test keys: the private JWKs in `crates/ciba-core/testdata/<name>.jwk.json`
//! (`rs256`, `ps256`, `es256`, `es384`, `eddsa`, `attacker_rs256`, `enc_ec`, `enc_ec_other`,
//! `enc_rsa`, `enc_rsa_other`). Never use them outside tests.

use ciba_core::jose::{Jwk, JwkSet, JwkSigner};

/// The folder that holds the test keys.
pub const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ciba-core/testdata");

/// The test key `name` (private parts included).
///
/// # Panics
/// When the file is missing or is not a JWK: the test cannot run.
pub fn jwk(name: &str) -> Jwk {
    let path = format!("{TESTDATA}/{name}.jwk.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    Jwk::from_json(&bytes).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// A signer over the test key `name`, without a `kid` override.
///
/// # Panics
/// When the key does not load or cannot sign.
pub fn signer(name: &str) -> JwkSigner {
    JwkSigner::from_jwk(&jwk(name), None).expect("a test key that signs")
}

/// The public halves of the test keys `names`, as a JWK Set.
///
/// # Panics
/// When a key does not load.
pub fn public_set(names: &[&str]) -> JwkSet {
    JwkSet {
        keys: names.iter().map(|n| jwk(n).to_public()).collect(),
    }
}
