//! No secret or token in `Debug` output of ciba-server types (docs/security.md, "Secrets"):
//! client secrets, `client_notification_token`s, user codes, `auth_req_id`s, minted tokens,
//! the notification requests that carry them, and the signing key behind the server. None
//! of these types implements `Display` (checked at compile time).

use crate::common;

use ciba_server::store::{MemoryStoreConfig, Store, StoredRequest};
use ciba_server::{
    Acknowledgement, CibaServer, ClientMetadata, CompleteOutcome, DefaultTokenMinter, DpopNonceKey,
    MemoryStore, MintedTokens, Secret, ServerConfig, StaticClientRegistry, Ticket, TokenGrant,
    TokenOutcome,
};
use common::*;

/// Fails when `text` shows one of `secrets`, as text or as the decimal byte list that the
/// `Debug` of a `Vec<u8>` body would print.
fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
        let bytes = format!("{:?}", s.as_bytes());
        let bytes = bytes.trim_start_matches('[').trim_end_matches(']');
        assert!(
            !text.contains(bytes),
            "{what} prints the bytes of {s:?}: {text}"
        );
    }
}

/// Compiles only while `T` does not implement `Display`: with a `Display` impl both blanket
/// impls apply and the `_` below is ambiguous (the `static_assertions` technique).
trait NoDisplay<Marker> {
    fn check() {}
}
impl<T: ?Sized> NoDisplay<()> for T {}
#[allow(dead_code)]
struct HasDisplay;
impl<T: ?Sized + std::fmt::Display> NoDisplay<HasDisplay> for T {}

macro_rules! assert_no_display {
    ($($t:ty),+ $(,)?) => {
        $( <$t as NoDisplay<_>>::check(); )+
    };
}

#[test]
fn no_type_holding_a_secret_implements_display() {
    assert_no_display!(
        Secret,
        AuthReqId,
        ClientMetadata,
        Ticket,
        StoredRequest,
        Acknowledgement,
        MintedTokens,
        TokenGrant,
        TokenOutcome,
        CompleteOutcome,
        DefaultTokenMinter,
        CibaServer,
        MemoryStore,
        StaticClientRegistry,
        ServerConfig,
        DpopNonceKey,
    );
}

#[test]
fn the_dpop_nonce_key_never_prints_its_key() {
    let key = b"DPOP-NONCE-KEY-never-printed-0123456789";
    let nonce_key = DpopNonceKey::new(key, std::time::Duration::from_secs(60)).unwrap();
    let mut config = ServerConfig::new(ISSUER, TOKEN_ENDPOINT, BC_ENDPOINT).unwrap();
    config.dpop.nonce = Some(nonce_key.clone());
    let text = format!("{nonce_key:?} {nonce_key:#?} {config:?}");
    assert_hidden("DpopNonceKey", &text, &["DPOP-NONCE-KEY"]);
}

#[test]
fn secrets_and_client_metadata_never_print_a_secret() {
    let s = Secret::new("SECRET-server-secret-31337");
    assert_hidden("Secret", &format!("{s:?} {s:#?}"), &["SECRET-server"]);
    for c in clients() {
        let printed = format!("{c:?}");
        let secret = secret_of(&c.client_id);
        if !secret.is_empty() {
            assert_hidden("ClientMetadata", &printed, &[secret]);
        }
    }
}

#[test]
fn tickets_requests_notifications_and_grants_never_print_secrets() {
    let h = Harness::new();
    let now = t0();

    // A user code sits in the ticket.
    let uc = h.ticket(
        &bc_request(USER_CODE, &[("user_code", "SECRET-user-code-8086")]),
        now,
    );
    assert!(uc.user_code.is_some());
    assert_hidden("Ticket", &format!("{uc:?}"), &["SECRET-user-code-8086"]);

    // A ping client's notification token travels from ticket to stored request to the ping.
    let ticket = h.ticket(&bc_request(PING, &[]), now);
    assert_hidden("Ticket", &format!("{ticket:?}"), &[CNT, PING_SECRET]);
    let ack = h.issue(&ticket, now);
    let id = ack.auth_req_id.clone();
    assert_hidden("Acknowledgement", &format!("{ack:?}"), &[id.as_str(), CNT]);
    let stored = block_on(h.store.request(&id, now)).unwrap().unwrap();
    assert_hidden("StoredRequest", &format!("{stored:?}"), &[id.as_str(), CNT]);

    let done = h.approve(&id, now + secs(1)).unwrap();
    assert!(matches!(done, CompleteOutcome::Ping(_)));
    assert_hidden(
        "CompleteOutcome::Ping",
        &format!("{done:?}"),
        &[CNT, id.as_str()],
    );

    let TokenOutcome::Issued(grant) = h.poll(PING, &id, now + secs(2)) else {
        panic!("expected tokens")
    };
    let tokens = grant.tokens.clone();
    let at = tokens.access_token.expose().to_owned();
    let rt = tokens.refresh_token.as_ref().map(|t| t.expose().to_owned());
    let mut secrets = vec![at.as_str(), tokens.id_token.as_str(), id.as_str()];
    if let Some(rt) = &rt {
        secrets.push(rt);
    }
    assert_hidden("MintedTokens", &format!("{tokens:?}"), &secrets);
    assert_hidden("TokenGrant", &format!("{grant:?}"), &secrets);
    // Hidden, not blank: the grant still says whose it is and what it holds.
    let shown = format!("{grant:?}");
    for part in [
        "TokenGrant { client_id: \"ping-client\", auth_req_id: AuthReqId(<redacted>, 27 bytes), tokens: ",
        "response: Response { status: 200",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    let outcome = TokenOutcome::Issued(grant);
    assert_hidden("TokenOutcome", &format!("{outcome:?}"), &secrets);
}

#[test]
fn client_metadata_hides_its_secret_and_any_private_key_it_was_given() {
    let mut c = ClientMetadata::new("careless");
    c.client_secret = Some("SECRET-client-secret-4711".into());
    // A registration that wrongly carries a private key.
    let private = jwk("es256");
    let d = private.d.clone().unwrap();
    c.jwks = Some(ciba_core::jose::JwkSet {
        keys: vec![private],
    });
    let printed = format!("{c:?} {c:#?}");
    assert_hidden(
        "ClientMetadata",
        &printed,
        &["SECRET-client-secret-4711", &d],
    );
}

#[test]
fn push_notifications_never_print_the_tokens_they_carry() {
    let h = Harness::new();
    let now = t0();
    let ack = h.start(PUSH, now);
    let id = ack.auth_req_id.clone();
    let done = h.approve(&id, now + secs(1)).unwrap();
    let CompleteOutcome::PushTokens { request, .. } = &done else {
        panic!("expected a push, got {done:?}")
    };
    let body = json_body(&http::Response::new(request.body().clone()));
    let at = body["access_token"].as_str().unwrap();
    let rt = body["refresh_token"].as_str().unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    let printed = format!("{done:?} {done:#?}");
    assert_hidden(
        "CompleteOutcome::PushTokens",
        &printed,
        &[at, rt, id_token, id.as_str(), CNT],
    );
    assert!(
        printed.contains(PUSH_ENDPOINT),
        "the target stays visible: {printed}"
    );

    let ack = h.start(PUSH, now);
    let denied = h.deny(&ack.auth_req_id, now + secs(1)).unwrap();
    assert!(matches!(denied, CompleteOutcome::PushError { .. }));
    assert_hidden(
        "CompleteOutcome::PushError",
        &format!("{denied:?}"),
        &[ack.auth_req_id.as_str(), CNT],
    );
}

#[test]
fn server_store_registry_minter_and_config_never_print_keys_or_request_ids() {
    let h = Harness::new();
    let now = t0();
    let ack = h.start(PING, now);
    let uc = h.ticket(
        &bc_request(USER_CODE, &[("user_code", "SECRET-user-code-1999")]),
        now,
    );
    let op_private = jwk("eddsa").d.unwrap();

    // The store holds the auth_req_id (its key), the ticket (its id and user code) and the CNT.
    let store = format!("{:?} {:#?}", h.store, h.store);
    assert_hidden(
        "MemoryStore",
        &store,
        &[
            ack.auth_req_id.as_str(),
            &uc.id,
            "SECRET-user-code-1999",
            CNT,
        ],
    );
    assert!(
        store.contains("requests: 1"),
        "counts stay visible: {store}"
    );

    // The server holds the signing key (through the minter) and the client secrets.
    let server = format!("{:?} {:#?}", h.server, h.server);
    let mut secrets: Vec<&str> = clients()
        .iter()
        .map(|c| secret_of(&c.client_id))
        .filter(|s| !s.is_empty())
        .collect();
    secrets.push(&op_private);
    assert_hidden("CibaServer", &server, &secrets);

    let minter = minter(&["eddsa"]);
    assert_hidden(
        "DefaultTokenMinter",
        &format!("{minter:?} {minter:#?}"),
        &[&op_private],
    );

    let mut registry = StaticClientRegistry::new();
    for c in clients() {
        registry.register(c, &base_config()).unwrap();
    }
    assert_hidden("StaticClientRegistry", &format!("{registry:?}"), &secrets);

    // The configuration holds no secret of its own; its Debug must stay that way.
    let config = base_config();
    assert_hidden("ServerConfig", &format!("{config:?}"), &secrets);

    let empty = MemoryStore::with_config(MemoryStoreConfig::default());
    assert!(format!("{empty:?}").contains("requests: 0"));
}
