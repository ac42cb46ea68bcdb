//! Encrypted ID tokens: a client that registered `id_token_encrypted_response_alg` (and `_enc`)
//! gets its ID token signed, then encrypted to its key, in poll, ping and push modes, for every
//! supported alg/enc pair; registration validates the members; discovery lists the values.

use crate::common;

use std::sync::Arc;

use ciba_core::jose::JwkSet;
use ciba_core::jose::jwe::{
    CompactJwe, ContentEncryption, JweDecrypter, JweError, KeyManagementAlgorithm,
};
use ciba_server::MintError;
use ciba_server::TokenOutcome;
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{ClientMetadata, ClientMetadataError, CompleteOutcome, validate_client_metadata};
use common::*;
use serde_json::{Map, Value};

fn enc_key_name(alg: KeyManagementAlgorithm) -> &'static str {
    match alg {
        KeyManagementAlgorithm::RsaOaep256 => "enc_rsa",
        _ => "enc_ec",
    }
}

fn pairs() -> Vec<(KeyManagementAlgorithm, ContentEncryption)> {
    KeyManagementAlgorithm::ALL
        .into_iter()
        .flat_map(|a| ContentEncryption::ALL.into_iter().map(move |e| (a, e)))
        .collect()
}

/// Registers encryption for the poll, ping and push clients (adding both encryption keys
/// to their `jwks`, next to any key they already have).
fn encrypting(
    alg: KeyManagementAlgorithm,
    enc: Option<ContentEncryption>,
) -> impl FnOnce(&mut Vec<ClientMetadata>) {
    move |clients| {
        for c in clients
            .iter_mut()
            .filter(|c| [POLL, PING, PUSH].contains(&c.client_id.as_str()))
        {
            let mut keys = c.jwks.take().unwrap_or(JwkSet { keys: Vec::new() });
            keys.keys.push(jwk("enc_rsa").to_public());
            keys.keys.push(jwk("enc_ec").to_public());
            c.jwks = Some(keys);
            c.id_token_encrypted_response_alg = Some(alg.as_str().into());
            c.id_token_encrypted_response_enc = enc.map(|e| e.as_str().to_owned());
        }
    }
}

fn harness(alg: KeyManagementAlgorithm, enc: Option<ContentEncryption>) -> Harness {
    Harness::with_clients(
        base_config(),
        MemoryStoreConfig::default(),
        "es256",
        encrypting(alg, enc),
    )
}

/// Decrypts the `id_token` of `body` with the client's private key (checking the JWE header)
/// and puts the nested signed token in its place.
fn decrypt_in_place(
    body: &mut Map<String, Value>,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
) {
    let jwe = body["id_token"].as_str().unwrap().to_owned();
    assert_eq!(jwe.split('.').count(), 5, "the ID token is a JWE");
    let header = CompactJwe::parse(&jwe, 1 << 16).unwrap().header;
    assert_eq!(header.alg, alg.as_str());
    assert_eq!(header.enc, enc.as_str());
    assert_eq!(header.cty.as_deref(), Some("JWT"));
    let keys = JwkSet {
        keys: vec![jwk(enc_key_name(alg))],
    };
    let d = JweDecrypter::new(&keys, alg, enc, Arc::new(TestRng::new(3))).unwrap();
    let inner = String::from_utf8(d.decrypt(&jwe).unwrap().to_vec()).unwrap();
    assert_eq!(inner.split('.').count(), 3, "a signed token inside");
    body.insert("id_token".into(), inner.into());
}

/// Redeems `auth_req_id` for `client` at `at`, and checks the token response once its ID
/// token is decrypted (`alg`, `enc`).
fn redeem_decrypted(
    h: &Harness,
    client: &str,
    auth_req_id: &AuthReqId,
    at: std::time::SystemTime,
    (alg, enc): (KeyManagementAlgorithm, ContentEncryption),
) {
    let TokenOutcome::Issued(grant) = h.poll(client, auth_req_id, at) else {
        panic!("expected tokens ({alg} {enc})")
    };
    let mut body = json_body(&grant.response);
    decrypt_in_place(&mut body, alg, enc);
    check_token_response(&h.op_keys, &body, client, at);
}

fn approve(
    h: &Harness,
    auth_req_id: &(impl IdArg + ?Sized),
    at: std::time::SystemTime,
) -> CompleteOutcome {
    h.approve(auth_req_id, at).unwrap()
}

/// For every pair of algorithms: a server that encrypts the ID tokens of its clients with
/// it, and a request of `client` the user approved at 3 s; `check` gets the harness, the
/// request's id, the server's answer to the approval and the pair.
fn for_every_pair(
    client: &str,
    check: impl Fn(&Harness, &AuthReqId, CompleteOutcome, (KeyManagementAlgorithm, ContentEncryption)),
) {
    for (alg, enc) in pairs() {
        let h = harness(alg, Some(enc));
        let ack = h.start(client, t0());
        let done = approve(&h, &ack.auth_req_id, t0() + secs(3));
        check(&h, &ack.auth_req_id, done, (alg, enc));
    }
}

#[test]
fn poll_mode_delivers_encrypted_id_tokens_for_every_pair() {
    for_every_pair(POLL, |h, id, _, pair| {
        redeem_decrypted(h, POLL, id, t0() + secs(5), pair);
    });
}

#[test]
fn ping_mode_delivers_encrypted_id_tokens_for_every_pair() {
    for_every_pair(PING, |h, id, done, pair| {
        assert!(matches!(done, CompleteOutcome::Ping(_)));
        redeem_decrypted(h, PING, id, t0() + secs(4), pair);
    });
}

#[test]
fn push_mode_delivers_encrypted_id_tokens_for_every_pair() {
    for_every_pair(PUSH, |h, id, done, (alg, enc)| {
        let CompleteOutcome::PushTokens { request, .. } = done else {
            panic!("expected a push ({alg} {enc})")
        };
        let mut body: Map<String, Value> = serde_json::from_slice(request.body()).unwrap();
        decrypt_in_place(&mut body, alg, enc);
        let claims = check_token_response(&h.op_keys, &body, PUSH, t0() + secs(3));
        assert_eq!(
            claims["urn:openid:params:jwt:claim:auth_req_id"],
            id.as_str()
        );
    });
}

#[test]
fn enc_defaults_to_a128cbc_hs256_when_only_alg_is_registered() {
    let alg = KeyManagementAlgorithm::EcdhEsA256Kw;
    let h = harness(alg, None);
    let ack = h.start(POLL, t0());
    approve(&h, &ack.auth_req_id, t0() + secs(3));
    let TokenOutcome::Issued(grant) = h.poll(POLL, &ack.auth_req_id, t0() + secs(5)) else {
        panic!("expected tokens")
    };
    let mut body = json_body(&grant.response);
    decrypt_in_place(&mut body, alg, ContentEncryption::A128CbcHs256);
}

#[test]
fn clients_without_encryption_still_get_signed_id_tokens() {
    let h = harness(KeyManagementAlgorithm::RsaOaep256, None);
    let ack = h.start(SCOPED, t0());
    approve(&h, &ack.auth_req_id, t0() + secs(3));
    let at = t0() + secs(5);
    let TokenOutcome::Issued(grant) = h.poll(SCOPED, &ack.auth_req_id, at) else {
        panic!("expected tokens")
    };
    let body = json_body(&grant.response);
    assert_eq!(body["id_token"].as_str().unwrap().split('.').count(), 3);
}

fn poll_client_with(alg: Option<&str>, enc: Option<&str>, keys: Option<&[&str]>) -> ClientMetadata {
    let mut m = clients().into_iter().find(|c| c.client_id == POLL).unwrap();
    m.id_token_encrypted_response_alg = alg.map(str::to_owned);
    m.id_token_encrypted_response_enc = enc.map(str::to_owned);
    m.jwks = keys.map(|k| JwkSet {
        keys: k.iter().map(|n| jwk(n).to_public()).collect(),
    });
    m
}

#[test]
fn registration_validates_the_encryption_members() {
    let config = base_config();
    let ok = |m: &ClientMetadata| validate_client_metadata(m, &config);
    for (alg, enc) in pairs() {
        let m = poll_client_with(
            Some(alg.as_str()),
            Some(enc.as_str()),
            Some(&[enc_key_name(alg)]),
        );
        ok(&m).unwrap();
        assert_eq!(m.id_token_encryption(), Some((alg, enc)));
    }
    // The default enc.
    let m = poll_client_with(Some("RSA-OAEP-256"), None, Some(&["enc_rsa"]));
    ok(&m).unwrap();
    assert_eq!(
        m.id_token_encryption(),
        Some((
            KeyManagementAlgorithm::RsaOaep256,
            ContentEncryption::A128CbcHs256
        ))
    );
    // Unsupported values.
    for (alg, enc, member) in [
        ("RSA1_5", None, "id_token_encrypted_response_alg"),
        ("dir", None, "id_token_encrypted_response_alg"),
        (
            "RSA-OAEP-256",
            Some("A128GCM"),
            "id_token_encrypted_response_enc",
        ),
    ] {
        let m = poll_client_with(Some(alg), enc, Some(&["enc_rsa"]));
        assert!(
            matches!(
                ok(&m),
                Err(ClientMetadataError::IdTokenEncryptionNotSupported { member: got, .. }) if got == member
            ),
            "{alg} {enc:?}"
        );
    }
    // enc without alg.
    let m = poll_client_with(None, Some("A256GCM"), Some(&["enc_rsa"]));
    assert!(matches!(
        ok(&m),
        Err(ClientMetadataError::InapplicableMember {
            member: "id_token_encrypted_response_enc",
            ..
        })
    ));
    // No jwks, or no key that can receive the algorithm (signing keys do not count).
    let m = poll_client_with(Some("RSA-OAEP-256"), None, None);
    assert!(matches!(
        ok(&m),
        Err(ClientMetadataError::MissingJwks { .. })
    ));
    let m = poll_client_with(Some("RSA-OAEP-256"), None, Some(&["rs256", "enc_ec"]));
    assert!(matches!(
        ok(&m),
        Err(ClientMetadataError::NoEncryptionKey {
            alg: KeyManagementAlgorithm::RsaOaep256
        })
    ));
    let m = poll_client_with(Some("ECDH-ES+A256KW"), None, Some(&["es256"]));
    assert!(matches!(
        ok(&m),
        Err(ClientMetadataError::NoEncryptionKey { .. })
    ));
}

#[test]
fn a_registry_copy_without_a_usable_key_is_an_encryption_error_not_a_plain_token() {
    let mut client = poll_client_with(Some("RSA-OAEP-256"), None, Some(&["enc_rsa"]));
    client.jwks = Some(JwkSet {
        keys: vec![jwk("rs256").to_public()],
    });
    let mut tokens = sample_tokens();
    let err =
        ciba_server::encrypt_id_token(Some(&client), &mut tokens, &TestRng::new(1)).unwrap_err();
    assert!(matches!(
        err,
        MintError::Encryption(JweError::NoMatchingKey { .. })
    ));
    assert_eq!(tokens.id_token, "a.b.c", "the token is left as it was");
}

fn sample_tokens() -> ciba_server::MintedTokens {
    let h = Harness::new();
    let ack = h.start(POLL, t0());
    approve(&h, &ack.auth_req_id, t0() + secs(3));
    let TokenOutcome::Issued(grant) = h.poll(POLL, &ack.auth_req_id, t0() + secs(5)) else {
        panic!("expected tokens")
    };
    let mut tokens = grant.tokens.clone();
    tokens.id_token = "a.b.c".into();
    tokens
}

#[test]
fn discovery_lists_the_supported_encryption_values() {
    let h = Harness::new();
    let doc = h.server.discovery_document();
    assert_eq!(
        doc["id_token_encryption_alg_values_supported"],
        serde_json::json!(["RSA-OAEP-256", "ECDH-ES+A256KW"])
    );
    assert_eq!(
        doc["id_token_encryption_enc_values_supported"],
        serde_json::json!(["A128CBC-HS256", "A256GCM"])
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_encryption_members_never_panic_registration(
        alg in "\\PC{0,24}",
        enc in proptest::option::of("\\PC{0,24}"),
        keys in 0usize..4,
    ) {
        let sets: [&[&str]; 4] = [&[], &["enc_ec"], &["enc_rsa"], &["rs256", "es256"]];
        let m = poll_client_with(Some(&alg), enc.as_deref(), Some(sets[keys]));
        if validate_client_metadata(&m, &base_config()).is_ok() {
            // Whatever registration accepts, the server can encrypt for.
            proptest::prop_assert!(m.id_token_encryption().is_some());
        }
    }
}
