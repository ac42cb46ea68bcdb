//! What the server examples share: a [`CibaServer`] for loopback, its registered clients, its
//! ID token keys, and the users it knows.
//!
//! A real server loads its clients from its database (a [`ciba_server::ClientRegistry`] of
//! its own), its keys from its key store, and keeps its pending requests in a shared store
//! (ciba-redis) when it runs as several instances.

use std::sync::Arc;

use ciba_core::EndpointPolicy;
use ciba_core::jose::{Jwk, JwkSigner, Signer};
use ciba_core::random::OsRandom;
use ciba_hyper::server::NotificationDeliverer;
use ciba_server::{
    CIBA_GRANT_TYPE, CibaServer, ClientMetadata, DefaultTokenMinter, DeliveryMode, EgressPolicy,
    MemoryStore, ServerConfig, SigningKeySet, StaticClientRegistry,
};

use crate::BoxError;

/// The poll-mode client (`client_secret_basic`).
pub const POLL_CLIENT: &str = "rp-poll";
/// The push-mode client (`client_secret_basic`), registered when a notification endpoint is
/// given.
pub const PUSH_CLIENT: &str = "rp-push";
/// Both clients' secret (a demonstration value: each real client has its own).
pub const CLIENT_SECRET: &str = "example-client-secret-0123456789abcdef";

/// The users the examples know: `(login_hint, subject)`.
pub const USERS: &[(&str, &str)] = &[("alice@example.com", "alice"), ("bob@example.com", "bob")];

/// The subject the hint `login_hint` names, if it is a known user.
pub fn find_user(login_hint: &str) -> Option<&'static str> {
    USERS
        .iter()
        .find(|(hint, _)| *hint == login_hint)
        .map(|(_, subject)| *subject)
}

/// The public URLs of the server's endpoints.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The issuer identifier; discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The backchannel authentication endpoint.
    pub backchannel: String,
    /// The token endpoint.
    pub token: String,
    /// The JWK Set.
    pub jwks: String,
}

impl Endpoints {
    /// Every endpoint under `{base}{prefix}`: the issuer is `{base}{prefix}`, the others
    /// `/bc`, `/token` and `/jwks` below it.
    pub fn under(base: &str, prefix: &str) -> Endpoints {
        let issuer = format!("{base}{prefix}");
        Endpoints {
            backchannel: format!("{issuer}/bc"),
            token: format!("{issuer}/token"),
            jwks: format!("{issuer}/jwks"),
            issuer,
        }
    }
}

/// The configuration for `endpoints`: plain http and push notifications on loopback (the
/// explicit development opt-ins) and a 1-second polling interval (short for a
/// demonstration).
pub fn server_config(endpoints: &Endpoints) -> Result<ServerConfig, BoxError> {
    // Plain http on loopback, by the explicit opt-in.
    let mut config = ServerConfig::with_policy(
        endpoints.issuer.clone(),
        endpoints.token.clone(),
        endpoints.backchannel.clone(),
        EndpointPolicy::ALLOW_HTTP_LOOPBACK,
    )?;
    config.jwks_uri = Some(endpoints.jwks.clone());
    config.interval = 1;
    // Push notifications go to a loopback endpoint here: the explicit development opt-in.
    config.egress_policy = EgressPolicy::allow_loopback();
    Ok(config)
}

/// The server helper for `config`: the poll client, and the push client when
/// `push_endpoint` (its notification endpoint) is given; RS256 and Ed25519 ID token keys; the
/// memory store.
pub fn ciba_server(
    config: ServerConfig,
    push_endpoint: Option<&str>,
) -> Result<CibaServer, BoxError> {
    let mut registry = StaticClientRegistry::new();
    let mut poll = ClientMetadata::new(POLL_CLIENT);
    poll.client_secret = Some(CLIENT_SECRET.into());
    poll.grant_types = vec![CIBA_GRANT_TYPE.into()];
    poll.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    registry.register(poll, &config)?;
    if let Some(endpoint) = push_endpoint {
        let mut push = ClientMetadata::new(PUSH_CLIENT);
        push.client_secret = Some(CLIENT_SECRET.into());
        push.backchannel_token_delivery_mode = Some(DeliveryMode::Push);
        push.backchannel_client_notification_endpoint = Some(endpoint.to_owned());
        registry.register(push, &config)?;
    }

    // ID token keys: RS256 (every key set has one; ciba-core's test key here, where a real
    // server loads its own) and a fresh Ed25519 key.
    let rsa = Jwk::from_json(include_bytes!(
        "../../crates/ciba-core/testdata/rs256.jwk.json"
    ))?;
    let keys = SigningKeySet::new([
        Arc::new(JwkSigner::from_jwk(&rsa, None)?) as Arc<dyn Signer>,
        Arc::new(JwkSigner::generate_ed25519(&OsRandom, Some("ed-1".into()))?),
    ])?;
    Ok(CibaServer::try_new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(DefaultTokenMinter::new(Arc::new(keys))),
    )?)
}

/// The notification deliverer for loopback receivers: plain http, loopback allowed. A
/// deployed server keeps the default (`NotificationDeliverer::with_policy`, https).
pub fn loopback_deliverer() -> NotificationDeliverer {
    NotificationDeliverer::plain_http(EgressPolicy::allow_loopback())
}
