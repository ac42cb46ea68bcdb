//! Shared set-up for the server fuzz targets: one CibaServer with a few registered clients.

use std::sync::{Arc, OnceLock};

use ciba_core::jose::JwkSigner;
use ciba_core::random::OsRandom;
use ciba_server::{
    CIBA_GRANT_TYPE, CibaServer, ClientMetadata, DefaultTokenMinter, DeliveryMode, MemoryStore,
    ServerConfig, StaticClientRegistry,
};

/// The server every server target drives (built once per process).
pub fn server() -> &'static CibaServer {
    static SERVER: OnceLock<CibaServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let config =
            ServerConfig::new("https://op.example", "https://op.example/token", "https://op.example/bc")
                .expect("static configuration is valid");
        let mut registry = StaticClientRegistry::new();
        for (id, mode) in [("poll", DeliveryMode::Poll), ("ping", DeliveryMode::Ping)] {
            let mut client = ClientMetadata::new(id);
            client.client_secret = Some("secret".into());
            client.grant_types = vec![CIBA_GRANT_TYPE.into()];
            client.backchannel_token_delivery_mode = Some(mode);
            if mode == DeliveryMode::Ping {
                client.backchannel_client_notification_endpoint =
                    Some("https://rp.example/cb".into());
            }
            registry.register(client, &config).expect("static client is valid");
        }
        let key = JwkSigner::generate_ed25519(&OsRandom, Some("k".into())).expect("key");
        CibaServer::new(
            config,
            Arc::new(registry),
            Arc::new(MemoryStore::new()),
            Arc::new(DefaultTokenMinter::new(Arc::new(key))),
        )
    })
}

/// A form POST built from fuzz input: the first byte says how much of the rest is the
/// `Authorization` header value; the remainder is the body.
pub fn request(data: &[u8]) -> Option<http::Request<Vec<u8>>> {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (auth, body) = data.split_at(split);
    let mut builder = http::Request::post("https://op.example/bc")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Ok(value) = http::HeaderValue::from_bytes(auth) {
        builder = builder.header("authorization", value);
    }
    builder.body(body.to_vec()).ok()
}
