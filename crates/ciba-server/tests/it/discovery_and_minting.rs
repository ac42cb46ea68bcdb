//! Discovery output, the public JWKS, the signing key set (rotation by kid), and ID tokens
//! signed with each client's registered algorithm.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use ciba_core::Limits;
use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::{CompactJws, HmacSigner, JwkSet, JwkSigner, JwsAlgorithm, Signer};
use ciba_core::random::OsRandom;
use ciba_server::store::Grant;
use ciba_server::{
    AccessTokenFormat, CibaServer, ClientMetadata, DefaultTokenMinter, DeliveryMode, KeySetError,
    MemoryStore, ServerSetupError, SigningKeySet, StaticClientRegistry, TokenOutcome,
};
use ciba_server::{MintError, MintRequest, TokenMinter};
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
    // The harness's key set: the RS256 key every set holds, and an EdDSA key.
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );
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
        Arc::new(minter(&["es256"])),
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
    let server = ciba_server::CibaServer::new(
        base_config(),
        Arc::new(ciba_server::StaticClientRegistry::new()),
        Arc::new(ciba_server::MemoryStore::new()),
        Arc::new(minter(&["es256"])),
    );
    let doc = server.jwks_document(t0());
    let set: JwkSet = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(set.keys.len(), 2);
    assert!(set.keys.iter().all(|k| !k.is_private()));
    for private in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"qi\""] {
        assert!(!doc.to_string().contains(private));
    }
}

/// A harness whose key set holds every supported algorithm, with one poll client per
/// algorithm registered with that `id_token_signed_response_alg`.
fn every_alg_harness() -> (Harness, Vec<(String, &'static str, JwsAlgorithm)>) {
    let keys = [
        ("rs256", JwsAlgorithm::RS256),
        ("ps256", JwsAlgorithm::PS256),
        ("es256", JwsAlgorithm::ES256),
        ("es384", JwsAlgorithm::ES384),
        ("eddsa", JwsAlgorithm::EdDSA),
    ];
    let set = key_set(&keys.map(|(k, _)| k));
    let mut config = base_config();
    config.id_token_signing_algs = set.algorithms();
    let mut registry = StaticClientRegistry::new();
    let mut wanted = Vec::new();
    for (key, alg) in keys {
        let mut c = ClientMetadata::new(format!("rp-{key}"));
        c.client_secret = Some(secret_of(POLL).into());
        c.grant_types = vec![ciba_server::CIBA_GRANT_TYPE.into()];
        c.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
        c.id_token_signed_response_alg = Some(alg.as_str().into());
        wanted.push((c.client_id.clone(), key, alg));
        registry.register(c, &config).unwrap();
    }
    let store = Arc::new(MemoryStore::new());
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        store.clone(),
        Arc::new(DefaultTokenMinter::new(set)),
    );
    let h = Harness {
        server,
        store,
        op_keys: public_set(&keys.map(|(k, _)| k)),
        rng: TestRng::new(3),
    };
    (h, wanted)
}

fn basic_form(client_id: &str, pairs: &[(&str, &str)]) -> Req {
    Req::form(pairs).basic(client_id, secret_of(POLL))
}

#[test]
fn id_tokens_are_signed_with_the_clients_registered_algorithm() {
    let (h, clients) = every_alg_harness();
    for (client_id, key, alg) in clients {
        let start = basic_form(
            &client_id,
            &[("scope", "openid"), ("login_hint", "alice@example.com")],
        );
        let ticket = h.ticket(&start, t0());
        let ack = h.issue(&ticket, t0());
        h.approve(&ack.auth_req_id, t0()).unwrap();
        let poll = basic_form(
            &client_id,
            &[
                ("grant_type", ciba_server::CIBA_GRANT_TYPE),
                ("auth_req_id", ack.auth_req_id.as_str()),
            ],
        );
        let TokenOutcome::Issued(g) = h.token(&poll, t0()) else {
            panic!("{client_id}: expected tokens")
        };
        let body = json_body(&g.response);
        let id_token = body["id_token"].as_str().unwrap();
        let jws = CompactJws::parse(id_token, &Limits::DEFAULT).unwrap();
        assert_eq!(jws.header.alg, alg.as_str(), "{client_id}");
        assert_eq!(jws.header.kid, jwk(key).kid, "{key}: kid in the header");
        let (_, claims) = verify_id_token(&h.op_keys, id_token);
        assert_eq!(
            claims["at_hash"],
            left_half_hash(alg, body["access_token"].as_str().unwrap()).unwrap(),
            "{client_id}: at_hash uses the ID token's algorithm"
        );
    }
    let d = h.server.discovery_document();
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "ES384", "EdDSA"])
    );
}

#[test]
fn a_client_without_a_registered_algorithm_gets_rs256() {
    let h = Harness::with(base_config(), Default::default(), "es256");
    let ack = h.start(POLL, t0());
    h.approve(&ack.auth_req_id, t0()).unwrap();
    let TokenOutcome::Issued(g) = h.poll(POLL, &ack.auth_req_id, t0()) else {
        panic!("expected tokens")
    };
    let body = json_body(&g.response);
    let jws = CompactJws::parse(body["id_token"].as_str().unwrap(), &Limits::DEFAULT).unwrap();
    assert_eq!(jws.header.alg, "RS256");
    assert_eq!(jws.header.kid, jwk("rs256").kid);
}

#[test]
fn a_key_set_without_rs256_is_a_typed_error() {
    let only_eddsa: Vec<Arc<dyn Signer>> = vec![Arc::new(signer("eddsa"))];
    assert_eq!(
        SigningKeySet::new(only_eddsa).unwrap_err(),
        KeySetError::NoRs256Key
    );
    let mut config = base_config();
    config.id_token_signing_algs = vec![JwsAlgorithm::EdDSA];
    assert!(matches!(
        config.validate(),
        Err(ciba_server::ServerConfigError::IdTokenSigningAlgs)
    ));
    // A server over a minter that cannot sign RS256, or every registrable algorithm.
    struct EdOnly(DefaultTokenMinter);
    impl TokenMinter for EdOnly {
        fn mint(
            &self,
            request: &MintRequest<'_>,
            now: std::time::SystemTime,
            rng: &dyn ciba_core::random::Random,
        ) -> Result<ciba_server::MintedTokens, MintError> {
            self.0.mint(request, now, rng)
        }
        fn public_jwks(&self, now: std::time::SystemTime) -> JwkSet {
            self.0.public_jwks(now)
        }
        fn id_token_signing_algs(&self) -> Vec<JwsAlgorithm> {
            vec![JwsAlgorithm::EdDSA]
        }
    }
    let build = |config, minter: Arc<dyn TokenMinter>| {
        CibaServer::try_new(
            config,
            Arc::new(StaticClientRegistry::new()),
            Arc::new(MemoryStore::new()),
            minter,
        )
    };
    assert_eq!(
        build(base_config(), Arc::new(EdOnly(minter(&["eddsa"])))).unwrap_err(),
        ServerSetupError::NoRs256Key
    );
    let mut config = base_config();
    config.id_token_signing_algs = vec![JwsAlgorithm::RS256, JwsAlgorithm::ES384];
    assert_eq!(
        build(config.clone(), Arc::new(minter(&["eddsa"]))).unwrap_err(),
        ServerSetupError::NoKeyForAlgorithm {
            alg: JwsAlgorithm::ES384
        }
    );
    assert!(build(config, Arc::new(minter(&["es384"]))).is_ok());
}

#[test]
fn key_set_refuses_keys_without_kid_duplicates_and_hmac() {
    let rs = || Arc::new(signer("rs256")) as Arc<dyn Signer>;
    let mut no_kid = jwk("es256");
    no_kid.kid = None;
    let no_kid: Arc<dyn Signer> = Arc::new(JwkSigner::from_jwk(&no_kid, None).unwrap());
    assert_eq!(
        SigningKeySet::new([rs(), no_kid]).unwrap_err(),
        KeySetError::MissingKeyId {
            alg: JwsAlgorithm::ES256
        }
    );
    // attacker_rs256 reuses the kid "rsa-1".
    let same_kid: Arc<dyn Signer> = Arc::new(signer("attacker_rs256"));
    assert!(matches!(
        SigningKeySet::new([rs(), same_kid]).unwrap_err(),
        KeySetError::DuplicateKeyId { .. }
    ));
    let hmac: Arc<dyn Signer> = Arc::new(HmacSigner::new(JwsAlgorithm::HS256, &[7u8; 32]).unwrap());
    assert_eq!(
        SigningKeySet::new([rs(), hmac]).unwrap_err(),
        KeySetError::NotAsymmetric {
            alg: JwsAlgorithm::HS256
        }
    );
}

/// An RS256 key with a new `kid`: the attacker test key, renamed.
fn next_rs256(kid: &str) -> Arc<dyn Signer> {
    let mut key = jwk("attacker_rs256");
    key.kid = Some(kid.into());
    Arc::new(JwkSigner::from_jwk(&key, None).unwrap())
}

#[test]
fn a_retired_key_stays_published_until_its_tokens_expire() {
    let lifetime = Duration::from_secs(3600);
    let set = Arc::new(
        SigningKeySet::new([Arc::new(signer("rs256")) as Arc<dyn Signer>])
            .unwrap()
            .with_max_token_lifetime(lifetime),
    );
    let minter = DefaultTokenMinter::new(set.clone());
    let kids = |now| -> Vec<String> {
        minter
            .public_jwks(now)
            .keys
            .into_iter()
            .filter_map(|k| k.kid)
            .collect()
    };
    let grant = grant();
    let request = MintRequest {
        issuer: ISSUER,
        client_id: POLL,
        auth_req_id: &aid("req-1"),
        delivery_mode: DeliveryMode::Poll,
        grant: &grant,
        confirmation: &ciba_server::Confirmation::bearer(),
        id_token_alg: None,
    };
    let old = minter.mint(&request, t0(), &OsRandom).unwrap();
    let rotated_at = t0() + Duration::from_secs(60);
    set.rotate(next_rs256("rsa-2"), rotated_at).unwrap();
    let new = minter.mint(&request, rotated_at, &OsRandom).unwrap();
    let header_kid = |t: &str| CompactJws::parse(t, &Limits::DEFAULT).unwrap().header.kid;
    assert_eq!(header_kid(&old.id_token).as_deref(), Some("rsa-1"));
    assert_eq!(header_kid(&new.id_token).as_deref(), Some("rsa-2"));
    // Both keys are published while a token signed by the old one may be valid ...
    assert_eq!(kids(rotated_at), ["rsa-2", "rsa-1"]);
    let before_end = rotated_at + lifetime - Duration::from_secs(1);
    assert_eq!(kids(before_end), ["rsa-2", "rsa-1"]);
    let published = minter.public_jwks(before_end);
    verify_id_token(&published, &old.id_token);
    verify_id_token(&published, &new.id_token);
    // ... and the old key drops out once they have all expired.
    assert_eq!(kids(rotated_at + lifetime), ["rsa-2"]);
    assert_eq!(
        set.retired_key_ids(rotated_at + lifetime),
        Vec::<String>::new()
    );
    // A rotation may not reuse a published kid, nor bring an algorithm the set lacks.
    assert!(matches!(
        set.rotate(next_rs256("rsa-1"), rotated_at),
        Err(KeySetError::DuplicateKeyId { .. })
    ));
    assert!(matches!(
        set.rotate(Arc::new(signer("es256")), rotated_at),
        Err(KeySetError::NothingToRotate { .. })
    ));
}

#[test]
fn tokens_may_not_outlive_the_key_sets_retention() {
    let set = Arc::new(
        SigningKeySet::new([Arc::new(signer("rs256")) as Arc<dyn Signer>])
            .unwrap()
            .with_max_token_lifetime(Duration::from_secs(600)),
    );
    let minter = DefaultTokenMinter::new(set); // ID tokens live 3600 s by default
    let grant = grant();
    let request = MintRequest {
        issuer: ISSUER,
        client_id: POLL,
        auth_req_id: &aid("req-1"),
        delivery_mode: DeliveryMode::Poll,
        grant: &grant,
        confirmation: &ciba_server::Confirmation::bearer(),
        id_token_alg: None,
    };
    assert!(matches!(
        minter.mint(&request, t0(), &OsRandom),
        Err(MintError::LifetimeExceedsKeySet { .. })
    ));
    let request = MintRequest {
        id_token_alg: Some(JwsAlgorithm::ES384),
        ..request
    };
    let minter = minter_with_ttl(Duration::from_secs(600));
    assert!(matches!(
        minter.mint(&request, t0(), &OsRandom),
        Err(MintError::NoKeyForAlgorithm {
            alg: JwsAlgorithm::ES384
        })
    ));
}

fn minter_with_ttl(ttl: Duration) -> DefaultTokenMinter {
    let mut m = minter(&[]);
    m.id_token_ttl = ttl;
    m
}

fn grant() -> Grant {
    Grant {
        subject: "alice".into(),
        scopes: vec!["openid".into()],
        acr: None,
        amr: vec![],
        auth_time: None,
        claims: Map::new(),
    }
}

#[test]
fn without_refresh_tokens_there_is_no_rt_hash() {
    let mut minter = minter(&["es256"]);
    minter.refresh_token_ttl = None;
    let grant = grant();
    let tokens = minter
        .mint(
            &MintRequest {
                issuer: ISSUER,
                client_id: PUSH,
                auth_req_id: &aid("req-1"),
                delivery_mode: DeliveryMode::Push,
                grant: &grant,
                confirmation: &ciba_server::Confirmation::bearer(),
                id_token_alg: Some(JwsAlgorithm::ES256),
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

/// The server honours DPoP proofs and certificate-bound tokens, so discovery says so
/// (RFC 9449 section 5.1, RFC 8705 section 3.3), with the profile's proof algorithms.
#[test]
fn discovery_advertises_dpop_algorithms_and_certificate_bound_tokens() {
    let h = Harness::new();
    let d = h.server.discovery_document();
    assert_eq!(
        d["dpop_signing_alg_values_supported"],
        json!(["ES256", "PS256", "ES384", "RS256", "EdDSA"])
    );
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
    let fapi = CibaServer::new(
        base_config().fapi_ciba().unwrap(),
        Arc::new(StaticClientRegistry::new()),
        Arc::new(MemoryStore::new()),
        Arc::new(minter(&[])),
    );
    let d = fapi.discovery_document();
    assert_eq!(
        d["dpop_signing_alg_values_supported"],
        json!(["PS256", "ES256"])
    );
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
}

/// A JWT access token is signed by the key set, with the algorithm of the client's ID
/// tokens, and may not outlive the key set's retention any more than an ID token may.
#[test]
fn jwt_access_tokens_use_the_id_token_key_and_the_key_sets_lifetime_bound() {
    let set = Arc::new(
        SigningKeySet::new([
            Arc::new(signer("rs256")) as Arc<dyn Signer>,
            Arc::new(signer("es256")),
        ])
        .unwrap()
        .with_max_token_lifetime(Duration::from_secs(600)),
    );
    let mut minter = DefaultTokenMinter::new(set);
    minter.id_token_ttl = Duration::from_secs(600);
    minter.access_token_ttl = Duration::from_secs(600);
    minter.access_token_format = AccessTokenFormat::Jwt {
        audience: "https://api.example".into(),
    };
    let grant = grant();
    let request = MintRequest {
        issuer: ISSUER,
        client_id: POLL,
        auth_req_id: &aid("req-1"),
        delivery_mode: DeliveryMode::Poll,
        grant: &grant,
        confirmation: &ciba_server::Confirmation::bearer(),
        id_token_alg: Some(JwsAlgorithm::ES256),
    };
    let header_alg = |t: &str| CompactJws::parse(t, &Limits::DEFAULT).unwrap().header.alg;
    let es = minter.mint(&request, t0(), &OsRandom).unwrap();
    assert_eq!(header_alg(es.access_token.expose()), "ES256");
    assert_eq!(header_alg(&es.id_token), "ES256");
    let (_, claims) = verify_id_token(&public_set(&["es256"]), es.access_token.expose());
    assert_eq!(claims["aud"], "https://api.example");
    let rs_request = MintRequest {
        id_token_alg: None,
        ..request
    };
    let rs = minter.mint(&rs_request, t0(), &OsRandom).unwrap();
    assert_eq!(header_alg(rs.access_token.expose()), "RS256");
    // An access token living longer than the retention is refused like an ID token ...
    minter.access_token_ttl = Duration::from_secs(601);
    assert!(matches!(
        minter.mint(&request, t0(), &OsRandom),
        Err(MintError::LifetimeExceedsKeySet {
            ttl_secs: 601,
            max_secs: 600
        })
    ));
    // ... but an opaque one is not signed, so the key set does not bound it.
    minter.access_token_format = AccessTokenFormat::Opaque;
    assert!(minter.mint(&request, t0(), &OsRandom).is_ok());
}
