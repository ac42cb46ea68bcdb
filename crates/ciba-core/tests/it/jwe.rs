//! JWE (feature `jwe`): encrypted ID tokens round trip for every supported alg/enc pair, and
//! every way a token can be wrong fails with its typed error.

#![cfg(feature = "jwe")]

use crate::support;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::DeliveryMode;
use ciba_core::id_token::{
    DecryptError, IdTokenClaims, IdTokenContext, IdTokenError, IdTokenValidator,
};
use ciba_core::jose::jwe::{
    CompactJwe, ContentEncryption, JweDecrypter, JweError, KeyManagementAlgorithm, encrypt_compact,
    select_encryption_key,
};
use ciba_core::jose::{Jwk, JwkSet};
use ciba_core::random::{Random, RandomError};
use proptest::prelude::*;
use support::*;

const RSA: KeyManagementAlgorithm = KeyManagementAlgorithm::RsaOaep256;
const ECDH: KeyManagementAlgorithm = KeyManagementAlgorithm::EcdhEsA256Kw;
const GCM: ContentEncryption = ContentEncryption::A256Gcm;
const CBC: ContentEncryption = ContentEncryption::A128CbcHs256;

fn enc_key(alg: KeyManagementAlgorithm) -> Jwk {
    key(match alg {
        KeyManagementAlgorithm::RsaOaep256 => "enc_rsa",
        _ => "enc_ec",
    })
}

fn other_key(alg: KeyManagementAlgorithm) -> Jwk {
    key(match alg {
        KeyManagementAlgorithm::RsaOaep256 => "enc_rsa_other",
        _ => "enc_ec_other",
    })
}

fn client_keys() -> JwkSet {
    JwkSet {
        keys: vec![key("enc_rsa"), key("enc_ec")],
    }
}

fn decrypter(alg: KeyManagementAlgorithm, enc: ContentEncryption) -> JweDecrypter {
    // Its own sequence, not the encrypting side's: a failed unwrap goes on with a random
    // CEK, which must not be the one the token was made with.
    JweDecrypter::new(&client_keys(), alg, enc, Arc::new(other_rng())).unwrap()
}

fn encrypt(plaintext: &[u8], alg: KeyManagementAlgorithm, enc: ContentEncryption) -> String {
    encrypt_compact(
        plaintext,
        &enc_key(alg).to_public(),
        alg,
        enc,
        Some("JWT"),
        &rng(),
    )
    .unwrap()
}

fn pairs() -> Vec<(KeyManagementAlgorithm, ContentEncryption)> {
    let mut out = Vec::new();
    for alg in KeyManagementAlgorithm::ALL {
        for enc in ContentEncryption::ALL {
            out.push((alg, enc));
        }
    }
    out
}

/// Flips one bit of the decoded part `index` (0 header .. 4 tag) and re-encodes it.
fn tamper(token: &str, index: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    parts[index] = URL_SAFE_NO_PAD.encode(bytes);
    parts.join(".")
}

fn with_header(token: &str, header: &serde_json::Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
    parts.join(".")
}

/// `token` with `name` set to `value` in its protected header (the rest as it was).
fn with_header_member(token: &str, name: &str, value: &str) -> String {
    let mut header = CompactJwe::parse(token, 1 << 16).unwrap().header.raw;
    header.insert(name.into(), value.into());
    with_header(token, &serde_json::Value::Object(header))
}

/// `token` validated by `v` as the token endpoint's answer to the request [`AUTH_REQ_ID`]
/// with the access token `at-1`.
fn at_token_endpoint(
    v: &IdTokenValidator,
    token: &str,
    now: std::time::SystemTime,
) -> Result<IdTokenClaims, IdTokenError> {
    v.validate(
        token,
        &IdTokenContext::token_endpoint(AUTH_REQ_ID, "at-1", None),
        now,
    )
}

#[test]
fn every_supported_pair_round_trips() {
    for (alg, enc) in pairs() {
        let token = encrypt(b"hello, nested world", alg, enc);
        let parsed = CompactJwe::parse(&token, 1 << 16).unwrap();
        assert_eq!(parsed.header.alg, alg.as_str());
        assert_eq!(parsed.header.enc, enc.as_str());
        assert_eq!(parsed.header.kid, enc_key(alg).kid);
        assert_eq!(parsed.header.cty.as_deref(), Some("JWT"));
        assert_eq!(parsed.header.epk.is_some(), alg == ECDH);
        let plaintext = decrypter(alg, enc).decrypt(&token).unwrap();
        assert_eq!(plaintext.as_slice(), b"hello, nested world", "{alg} {enc}");
    }
}

#[test]
fn encrypted_id_tokens_validate_for_every_pair() {
    let now = at(0);
    let client = client(DeliveryMode::Poll);
    for (alg, enc) in pairs() {
        let inner = id_token_for(now, "at-1", None);
        let token = encrypt(inner.as_bytes(), alg, enc);
        let v = validator(&client).decrypter(Arc::new(decrypter(alg, enc)));
        let claims = at_token_endpoint(&v, &token, now).unwrap();
        assert_eq!(claims.sub, "alice", "{alg} {enc}");
        // With decryption configured, the plain signed token is refused.
        assert_eq!(
            at_token_endpoint(&v, &inner, now),
            Err(IdTokenError::NotEncrypted)
        );
    }
}

#[test]
fn wrong_key_fails_to_decrypt() {
    for (alg, enc) in pairs() {
        let token = encrypt_compact(
            b"secret",
            &other_key(alg).to_public(),
            alg,
            enc,
            None,
            &rng(),
        )
        .unwrap();
        assert_eq!(
            decrypter(alg, enc).decrypt(&token),
            Err(JweError::DecryptionFailed),
            "{alg} {enc}"
        );
    }
}

#[test]
fn wrong_alg_and_wrong_enc_are_refused_before_any_cryptography() {
    let token = encrypt(b"x", ECDH, GCM);
    assert_eq!(
        decrypter(RSA, GCM).decrypt(&token),
        Err(JweError::AlgorithmNotAllowed {
            alg: "ECDH-ES+A256KW".into()
        })
    );
    assert_eq!(
        decrypter(ECDH, CBC).decrypt(&token),
        Err(JweError::EncryptionNotAllowed {
            enc: "A256GCM".into()
        })
    );
    // Algorithms nobody may use: RSA1_5, dir, none.
    for alg in ["RSA1_5", "dir", "none"] {
        let forged = with_header(&token, &serde_json::json!({"alg": alg, "enc": "A256GCM"}));
        assert!(matches!(
            decrypter(ECDH, GCM).decrypt(&forged),
            Err(JweError::AlgorithmNotAllowed { .. })
        ));
    }
}

#[test]
fn tampered_ciphertext_tag_iv_key_or_header_fail_cleanly() {
    for (alg, enc) in pairs() {
        let token = encrypt(b"the claims", alg, enc);
        let d = decrypter(alg, enc);
        for part in [1, 2, 3, 4] {
            assert_eq!(
                d.decrypt(&tamper(&token, part)),
                Err(JweError::DecryptionFailed),
                "{alg} {enc} part {part}"
            );
        }
        // The header is the AAD: a changed (still valid) header breaks the tag.
        let forged = with_header_member(&token, "typ", "JWT");
        assert_eq!(d.decrypt(&forged), Err(JweError::DecryptionFailed));
    }
}

#[test]
fn compressed_payloads_are_refused() {
    let token = encrypt(b"x", RSA, GCM);
    let zipped = with_header_member(&token, "zip", "DEF");
    assert_eq!(
        decrypter(RSA, GCM).decrypt(&zipped),
        Err(JweError::Compressed)
    );
    let v = validator(&client(DeliveryMode::Poll)).decrypter(Arc::new(decrypter(RSA, GCM)));
    assert_eq!(
        at_token_endpoint(&v, &zipped, at(0)),
        Err(IdTokenError::Decryption(DecryptError::Jwe(
            JweError::Compressed
        )))
    );
}

#[test]
fn nested_jws_with_a_bad_signature_is_refused_after_decryption() {
    let now = at(0);
    // Signed by the attacker's key, which carries the OP's kid.
    let inner = id_token_signed_by(&signer("attacker_rs256"), now, "at-1", None);
    let token = encrypt(inner.as_bytes(), ECDH, CBC);
    let v = validator(&client(DeliveryMode::Poll)).decrypter(Arc::new(decrypter(ECDH, CBC)));
    assert_eq!(
        at_token_endpoint(&v, &token, now),
        Err(IdTokenError::BadSignature)
    );
    // And a nested token whose signature bytes were altered.
    let good = id_token_for(now, "at-1", None);
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut sig = URL_SAFE_NO_PAD.decode(&parts[2]).unwrap();
    sig[0] ^= 0x01;
    parts[2] = URL_SAFE_NO_PAD.encode(sig);
    let token = encrypt(parts.join(".").as_bytes(), ECDH, CBC);
    assert_eq!(
        at_token_endpoint(&v, &token, now),
        Err(IdTokenError::BadSignature)
    );
}

#[test]
fn a_non_jwt_cty_is_refused_by_the_id_token_decrypter() {
    let token = encrypt_compact(
        b"{}",
        &enc_key(RSA).to_public(),
        RSA,
        GCM,
        Some("text/plain"),
        &rng(),
    )
    .unwrap();
    let v = validator(&client(DeliveryMode::Poll)).decrypter(Arc::new(decrypter(RSA, GCM)));
    assert!(matches!(
        at_token_endpoint(&v, &token, at(0)),
        Err(IdTokenError::Decryption(DecryptError::Jwe(
            JweError::Malformed { .. }
        )))
    ));
}

#[test]
fn oversized_tokens_and_unknown_kids_are_refused() {
    let token = encrypt(b"x", RSA, GCM);
    let d = decrypter(RSA, GCM).max_bytes(100);
    assert!(matches!(d.decrypt(&token), Err(JweError::TooLarge { .. })));
    let forged = with_header_member(&token, "kid", "somebody-else");
    assert_eq!(
        decrypter(RSA, GCM).decrypt(&forged),
        Err(JweError::NoMatchingKey {
            kid: Some("somebody-else".into())
        })
    );
}

#[test]
fn key_selection_and_decrypter_construction() {
    let public = JwkSet {
        keys: vec![key("es256").to_public(), key("enc_ec").to_public()],
    };
    // The signing key (use: sig) is never chosen for encryption.
    assert_eq!(
        select_encryption_key(&public, ECDH).unwrap().kid.as_deref(),
        Some("enc-ec-1")
    );
    assert_eq!(
        select_encryption_key(&public, RSA),
        Err(JweError::NoMatchingKey { kid: None })
    );
    // Public keys cannot decrypt; signing keys are not encryption keys.
    assert!(matches!(
        JweDecrypter::new(&public, ECDH, GCM, Arc::new(rng())),
        Err(JweError::NoMatchingKey { .. })
    ));
    // Encrypting to a signing key is refused.
    assert!(matches!(
        encrypt_compact(b"x", &key("rs256").to_public(), RSA, GCM, None, &rng()),
        Err(JweError::InvalidKey { .. })
    ));
}

use ciba_test::random::Broken;

#[test]
fn a_failing_random_source_is_an_error_not_a_weak_token() {
    for (alg, enc) in pairs() {
        assert!(matches!(
            encrypt_compact(b"x", &enc_key(alg).to_public(), alg, enc, None, &Broken),
            Err(JweError::Random(_))
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_the_parser_or_decrypter(s in "[A-Za-z0-9_.-]{0,400}") {
        let _ = CompactJwe::parse(&s, 1 << 16);
        let _ = decrypter(ECDH, GCM).decrypt(&s);
    }

    #[test]
    fn arbitrary_parts_after_a_valid_header_never_panic(
        k in proptest::collection::vec(any::<u8>(), 0..300),
        iv in proptest::collection::vec(any::<u8>(), 0..20),
        c in proptest::collection::vec(any::<u8>(), 0..64),
        t in proptest::collection::vec(any::<u8>(), 0..20),
        alg_ecdh in any::<bool>(),
    ) {
        let (alg, header) = if alg_ecdh {
            let epk = enc_key(ECDH).to_public();
            (ECDH, serde_json::json!({"alg": "ECDH-ES+A256KW", "enc": "A128CBC-HS256", "epk": epk}))
        } else {
            (RSA, serde_json::json!({"alg": "RSA-OAEP-256", "enc": "A128CBC-HS256"}))
        };
        let token = [
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(k),
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(c),
            URL_SAFE_NO_PAD.encode(t),
        ]
        .join(".");
        prop_assert!(decrypter(alg, CBC).decrypt(&token).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Registered client keys are input too: garbage members never panic key selection or
    /// encryption, and are never used.
    #[test]
    fn arbitrary_recipient_keys_never_panic_encryption(
        kty in prop_oneof![Just("RSA"), Just("EC"), Just("oct"), Just("OKP")],
        crv in prop_oneof![Just("P-256"), Just("P-384"), Just("X25519")],
        a in proptest::collection::vec(any::<u8>(), 0..300),
        b in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let jwk = Jwk {
            kty: kty.into(),
            crv: Some(crv.into()),
            n: Some(URL_SAFE_NO_PAD.encode(&a)),
            e: Some(URL_SAFE_NO_PAD.encode(&b)),
            x: Some(URL_SAFE_NO_PAD.encode(&a)),
            y: Some(URL_SAFE_NO_PAD.encode(&b)),
            ..Jwk::default()
        };
        let set = JwkSet { keys: vec![jwk.clone()] };
        for alg in KeyManagementAlgorithm::ALL {
            let _ = select_encryption_key(&set, alg);
            let _ = encrypt_compact(b"x", &jwk, alg, GCM, None, &rng());
        }
    }
}

/// Records the length of every fill it serves (from a fixed pattern).
struct Recording(std::sync::Mutex<Vec<usize>>);

impl Random for Recording {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.lock().unwrap().push(dest.len());
        for (i, b) in dest.iter_mut().enumerate() {
            *b = 0xA5 ^ i as u8;
        }
        Ok(())
    }
}

#[test]
fn a_key_that_does_not_unwrap_goes_on_with_a_random_cek_like_a_bad_tag() {
    // RFC 7516 section 11.5: an encrypted key that fails to unwrap must cost the same work
    // as a bad tag, so the content decryption runs with a random CEK of the right length.
    for (alg, enc) in pairs() {
        let token = encrypt(b"the claims", alg, enc);
        let recording = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
        let d = JweDecrypter::new(&client_keys(), alg, enc, recording.clone()).unwrap();
        assert!(d.decrypt(&token).is_ok(), "{alg} {enc}");
        let before = recording.0.lock().unwrap().len();
        assert_eq!(
            d.decrypt(&tamper(&token, 1)),
            Err(JweError::DecryptionFailed),
            "{alg} {enc}"
        );
        let fills = recording.0.lock().unwrap().clone();
        assert_eq!(
            fills.get(before..).and_then(|f| f.last()).copied(),
            Some(enc.key_len()),
            "{alg} {enc}: a random CEK of {} bytes was drawn after the failed unwrap",
            enc.key_len()
        );
    }
}
