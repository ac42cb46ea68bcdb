//! Discovery output, the public JWKS, and ID tokens signed with each supported algorithm.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use ciba_core::Limits;
use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::{CompactJws, JwkSet, JwsAlgorithm};
use ciba_core::random::OsRandom;
use ciba_server::minter::{MintRequest, TokenMinter};
use ciba_server::store::Grant;
use ciba_server::{
    AuthenticationResult, Authorization, DefaultTokenMinter, DeliveryMode, TokenOutcome,
};
use common::*;
use serde_json::{Map, json};

#[test]
fn discovery_document_advertises_ciba() {
    let h = Harness::new();
    let d = h.server.discovery_document();
    assert_eq!(d["issuer"], ISSUER);
    assert_eq!(d["token_endpoint"], TOKEN_ENDPOINT);
    assert_eq!(d["backchannel_authentication_endpoint"], BC_ENDPOINT);
    assert_eq!(d["jwks_uri"], "https://op.example/jwks");
    assert_eq!(
        d["backchannel_token_delivery_modes_supported"],
        json!(["poll", "ping", "push"])
    );
    assert_eq!(
        d["backchannel_authentication_request_signing_alg_values_supported"],
        json!(["PS256", "ES256", "RS256", "EdDSA"])
    );
    assert_eq!(d["backchannel_user_code_parameter_supported"], true);
    assert!(
        d["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:openid:params:grant-type:ciba"))
    );
    assert!(
        d["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt"))
    );
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["EdDSA"]));
    let resp = h.server.discovery_response();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
}

#[test]
fn push_only_servers_do_not_advertise_the_ciba_grant_and_extra_members_are_added() {
    let mut config = base_config();
    config.delivery_modes = vec![DeliveryMode::Push];
    config.request_signing_algs.clear();
    config.scopes_supported = Some(vec!["openid".into()]);
    config
        .extra_metadata
        .insert("issuer".into(), json!("https://evil.example"));
    config
        .extra_metadata
        .insert("response_types_supported".into(), json!(["id_token"]));
    let registry = ciba_server::StaticClientRegistry::new();
    let server = ciba_server::CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(ciba_server::MemoryStore::new()),
        Arc::new(DefaultTokenMinter::new(Arc::new(signer("es256")))),
    );
    let d = server.discovery_document();
    assert_eq!(d["grant_types_supported"], json!([]));
    assert!(
        d.get("backchannel_authentication_request_signing_alg_values_supported")
            .is_none()
    );
    assert_eq!(d["scopes_supported"], json!(["openid"]));
    assert_eq!(
        d["issuer"], ISSUER,
        "computed members win over extra_metadata"
    );
    assert_eq!(d["response_types_supported"], json!(["id_token"]));
}

#[test]
fn jwks_document_holds_only_public_keys() {
    let minter = DefaultTokenMinter::new(Arc::new(signer("es256"))).publish_key(&jwk("rs256"));
    let server = ciba_server::CibaServer::new(
        base_config(),
        Arc::new(ciba_server::StaticClientRegistry::new()),
        Arc::new(ciba_server::MemoryStore::new()),
        Arc::new(minter),
    );
    let doc = server.jwks_document();
    let set: JwkSet = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(set.keys.len(), 2);
    assert!(set.keys.iter().all(|k| !k.is_private()));
    for private in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"qi\""] {
        assert!(!doc.to_string().contains(private));
    }
}

#[test]
fn id_tokens_verify_for_every_signing_algorithm() {
    for (key, alg) in [
        ("rs256", JwsAlgorithm::RS256),
        ("ps256", JwsAlgorithm::PS256),
        ("es256", JwsAlgorithm::ES256),
        ("eddsa", JwsAlgorithm::EdDSA),
    ] {
        let h = Harness::with(base_config(), Default::default(), key);
        let ack = h.start(POLL, t0());
        h.complete(
            &ack.auth_req_id,
            AuthenticationResult::Authorized(Authorization::new("alice")),
            t0(),
        )
        .unwrap();
        let TokenOutcome::Issued(g) = h.poll(POLL, &ack.auth_req_id, t0()) else {
            panic!("expected tokens")
        };
        let body = json_body(&g.response);
        check_token_response(&h.op_keys, &body, POLL, t0());
        let jws = CompactJws::parse(body["id_token"].as_str().unwrap(), &Limits::DEFAULT).unwrap();
        assert_eq!(jws.header.alg, alg.as_str());
        assert_eq!(jws.header.kid, jwk(key).kid, "{key}: kid in the header");
    }
}

#[test]
fn without_refresh_tokens_there_is_no_rt_hash() {
    let mut minter = DefaultTokenMinter::new(Arc::new(signer("es256")));
    minter.refresh_token_ttl = None;
    let grant = Grant {
        subject: "alice".into(),
        scopes: vec!["openid".into()],
        acr: None,
        amr: vec![],
        auth_time: None,
        claims: Map::new(),
    };
    let tokens = minter
        .mint(
            &MintRequest {
                issuer: ISSUER,
                client_id: PUSH,
                auth_req_id: "req-1",
                delivery_mode: DeliveryMode::Push,
                grant: &grant,
                confirmation: &ciba_server::Confirmation::bearer(),
            },
            t0(),
            &OsRandom,
        )
        .unwrap();
    assert!(tokens.refresh_token.is_none());
    let (_, claims) = verify_id_token(&public_set(&["es256"]), &tokens.id_token);
    assert!(claims.get("urn:openid:params:jwt:claim:rt_hash").is_none());
    assert_eq!(claims["urn:openid:params:jwt:claim:auth_req_id"], "req-1");
    assert_eq!(
        claims["at_hash"],
        left_half_hash(JwsAlgorithm::ES256, tokens.access_token.expose()).unwrap()
    );
    assert!(!format!("{tokens:?}").contains(tokens.access_token.expose()));
}
