//! Conformance checks that are not defects of a request: what the server issues.

use super::*;

use base64::Engine as _;
use ciba_core::jose::JwsAlgorithm;

/// A random source that repeats one byte: what it yields shows through in the identifiers.
use ciba_test::random::Constant as ConstantRng;

/// S-ACK-1 and S-ACK-2 (CIBA 7.3): every `auth_req_id` is exactly `IDENTIFIER_BYTES` (at
/// least 20, i.e. 160 bits) of the caller's random source, in unpadded base64url, so only
/// `A-Z a-z 0-9 - _` appear.
#[test]
fn auth_req_ids_are_160_random_bits_in_unpadded_base64url() {
    let bytes = ciba_core::random::IDENTIFIER_BYTES;
    assert!(bytes >= 20, "at least 160 bits, got {bytes} bytes");
    for (fill, alphabet_edge) in [(0x00, "A"), (0xFF, "_"), (0xFB, "-")] {
        let h = Harness::new();
        let rng = ConstantRng(fill);
        let req = bc_request(POLL, &[]);
        let BackchannelOutcome::UserIdentification(ticket) =
            block_on(h.server.authenticate_request(&req.incoming(), t0(), &rng))
        else {
            panic!("refused")
        };
        let ciba_server::IssueOutcome::Issued(ack) =
            block_on(h.server.issue(&*ticket, "alice", t0(), &rng))
        else {
            panic!("not issued")
        };
        assert_eq!(
            ack.auth_req_id.as_str(),
            URL_SAFE_NO_PAD.encode(vec![fill; bytes]),
            "the id is the random bytes, nothing else"
        );
        assert!(
            ack.auth_req_id.as_str().contains(alphabet_edge),
            "{}",
            ack.auth_req_id.as_str()
        );
    }
    let h = Harness::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let id = h.start(POLL, t0()).auth_req_id.into_string();
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{id}"
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&id).unwrap().len(), bytes);
        assert!(seen.insert(id), "an auth_req_id repeated");
    }
}

/// Checklist 3.8: ID tokens are signed with an asymmetric algorithm, name their key in `kid`,
/// and carry no `nonce`, `c_hash` or `s_hash` (CIBA has no nonce, code or state).
#[test]
fn id_tokens_name_their_key_and_carry_no_nonce_c_hash_or_s_hash() {
    let h = Harness::new();
    // The test clients registered no id_token_signed_response_alg: RS256, the default.
    let kid = jwk("rs256").kid.expect("the test key has a kid");
    let poll_id = h.start(POLL, t0()).auth_req_id.into_string();
    approve(&h, &poll_id, 1).unwrap();
    let TokenOutcome::Issued(grant) = h.poll(POLL, &poll_id, t0() + secs(5)) else {
        panic!("no tokens")
    };
    let push_id = h.start(PUSH, t0()).auth_req_id.into_string();
    let pushed = h.approve(&push_id, t0() + secs(1)).unwrap();
    let pushed: Value = serde_json::from_slice(pushed.notification().unwrap().body()).unwrap();
    for id_token in [
        grant.tokens.id_token.as_str(),
        pushed["id_token"].as_str().unwrap(),
    ] {
        let jws =
            ciba_core::jose::CompactJws::parse(id_token, &ciba_core::Limits::DEFAULT).unwrap();
        assert_eq!(jws.header.kid.as_deref(), Some(kid.as_str()));
        let alg: JwsAlgorithm = jws.header.alg.parse().unwrap();
        assert!(!alg.is_symmetric(), "{alg:?}");
        let (_, claims) = verify_id_token(&h.op_keys, id_token);
        for absent in ["nonce", "c_hash", "s_hash"] {
            assert!(claims.get(absent).is_none(), "{absent} in {claims:?}");
        }
    }
}
