//! A client registry that cannot answer (its database is down or too slow) is answered with
//! 503 `temporarily_unavailable` and `Retry-After` at both endpoints, whatever credentials
//! the client presents: never 401 `invalid_client`, which would tell a legitimate client its
//! credentials are wrong.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ciba_server::BackchannelError;
use ciba_server::ClientAuthError;
use ciba_server::TokenError;
use ciba_server::{
    BackchannelOutcome, BoxFuture, CibaServer, ClientMetadata, ClientRegistry, MemoryStore,
    RegistryError, TokenOutcome,
};
use common::*;

#[derive(Debug, thiserror::Error)]
#[error("client database unreachable")]
struct Unreachable;

/// Fails every lookup.
struct Down;

impl ClientRegistry for Down {
    fn client<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ClientMetadata>>, RegistryError>> {
        Box::pin(std::future::ready(Err(RegistryError::new(Unreachable))))
    }
}

/// Fails every lookup, after a real wait (as a database that times out does), and counts
/// the lookups.
type DownRegistry = WaitingRegistry<Down>;

fn server_over_a_down_registry() -> (CibaServer, Arc<DownRegistry>) {
    let registry = Arc::new(WaitingRegistry::new(Down));
    let minter = minter(&["eddsa"]);
    let server = CibaServer::new(
        base_config(),
        registry.clone(),
        Arc::new(MemoryStore::new()),
        Arc::new(minter),
    );
    (server, registry)
}

fn assert_unavailable(what: &str, response: &http::Response<Vec<u8>>) {
    assert_eq!(response.status(), 503, "{what}");
    assert_eq!(
        json_body(response)["error"],
        "temporarily_unavailable",
        "{what}"
    );
    assert_eq!(response.headers()["retry-after"], "5", "{what}");
    assert!(
        !response.headers().contains_key("www-authenticate"),
        "{what}: no authentication challenge"
    );
    assert_no_store_json(response);
}

/// Every way a client authenticates, and a client the registry would not know: each needs
/// the registry, so each is answered 503.
const CLIENTS: [&str; 9] = [
    POLL,       // client_secret_basic
    PING,       // client_secret_post
    PUSH,       // private_key_jwt
    SECRET_JWT, // client_secret_jwt
    SIGNED,     // private_key_jwt, signed request
    TLS,        // tls_client_auth
    USER_CODE, PUBLIC,    // none
    "unknown", // client_id only
];

/// The error and response of an outcome that refuses, or the description of any other.
macro_rules! refusal {
    ($outcome:expr, $kind:ident) => {
        match $outcome {
            $kind::Respond(r) => Ok((r.error, r.response)),
            other => Err(format!("{other:?}")),
        }
    };
}

/// Sends one request per client of [`CLIENTS`] through `send`, which answers with the
/// refusal's error and response (or, when the outcome is no refusal, its description), and
/// checks each is a registry failure answered 503 after one lookup per request.
fn assert_each_client_refused_503<E: std::fmt::Debug>(
    send: impl Fn(&CibaServer, &str, &TestRng) -> Result<(E, http::Response<Vec<u8>>), String>,
    is_registry_failure: impl Fn(&E) -> bool,
) {
    let (server, registry) = server_over_a_down_registry();
    let rng = TestRng::new(1);
    for client in CLIENTS {
        let (error, response) = send(&server, client, &rng)
            .unwrap_or_else(|other| panic!("{client}: expected 503, got {other}"));
        assert!(is_registry_failure(&error), "{client}: {error:?}");
        assert_unavailable(client, &response);
    }
    assert_eq!(registry.lookups.load(Ordering::Relaxed), CLIENTS.len());
}

#[test]
fn a_failing_registry_is_answered_with_503_at_the_backchannel_endpoint() {
    assert_each_client_refused_503(
        |server, client, rng| {
            let req = bc_request(client, &[]);
            refusal!(
                block_on(server.authenticate_request(&req.incoming(), t0(), rng)),
                BackchannelOutcome
            )
        },
        |e| {
            matches!(
                e,
                BackchannelError::ClientAuth(ClientAuthError::Registry(_))
            )
        },
    );
}

#[test]
fn a_failing_registry_is_answered_with_503_at_the_token_endpoint() {
    assert_each_client_refused_503(
        |server, client, rng| {
            let req = token_request(client, "some-auth-req-id", t0());
            refusal!(
                block_on(server.token_request(&req.incoming(), t0(), rng)),
                TokenOutcome
            )
        },
        |e| matches!(e, TokenError::ClientAuth(ClientAuthError::Registry(_))),
    );
}

#[test]
fn a_request_that_needs_no_client_is_still_answered_without_the_registry() {
    // Requests refused before client authentication (wrong method, not a CIBA grant) do not
    // depend on the registry, so its failure does not turn them into 503s.
    let (server, registry) = server_over_a_down_registry();
    let rng = TestRng::new(1);
    let other_grant = Req::form(&[("grant_type", "authorization_code"), ("code", "x")]);
    assert!(matches!(
        block_on(server.token_request(&other_grant.incoming(), t0(), &rng)),
        TokenOutcome::NotCibaGrant { .. }
    ));
    assert_eq!(registry.lookups.load(Ordering::Relaxed), 0);
}
