//! Compact JWE parsing and decryption of arbitrary text: the header checks (zip, crit, alg,
//! enc), the key unwrap (RSA-OAEP-256 and ECDH-ES+A256KW) and both content decryptions must
//! fail cleanly, never panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use ciba_core::jose::jwe::{
    CompactJwe, ContentEncryption, DEFAULT_MAX_JWE_BYTES, JweDecrypter, KeyManagementAlgorithm,
};
use ciba_core::jose::{Jwk, JwkSet};
use ciba_core::random::OsRandom;
use libfuzzer_sys::fuzz_target;

fn decrypter(
    key: &str,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
) -> Option<JweDecrypter> {
    let jwk = Jwk::from_json(key.as_bytes()).ok()?;
    JweDecrypter::new(&JwkSet { keys: vec![jwk] }, alg, enc, Arc::new(OsRandom)).ok()
}

/// One decrypter per alg/enc pair, built once (RSA key set-up is slow).
fn decrypters() -> &'static [JweDecrypter] {
    static ALL: OnceLock<Vec<JweDecrypter>> = OnceLock::new();
    ALL.get_or_init(|| {
        let rsa = include_str!("../../crates/ciba-core/testdata/enc_rsa.jwk.json");
        let ec = include_str!("../../crates/ciba-core/testdata/enc_ec.jwk.json");
        let mut out = Vec::new();
        for enc in ContentEncryption::ALL {
            out.extend(decrypter(rsa, KeyManagementAlgorithm::RsaOaep256, enc));
            out.extend(decrypter(ec, KeyManagementAlgorithm::EcdhEsA256Kw, enc));
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = CompactJwe::parse(text, DEFAULT_MAX_JWE_BYTES);
    for d in decrypters() {
        let _ = d.decrypt(text);
    }
});
