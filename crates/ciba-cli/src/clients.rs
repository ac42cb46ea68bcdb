//! The clients a provider started by `ciba serve` or `ciba demo` knows: read from a
//! `--clients` file (a JSON array of client metadata under the standard names), or generated
//! demo clients, one per delivery mode.

use std::path::Path;

use ciba_core::random::{OsRandom, random_identifier};
use ciba_server::{
    CIBA_GRANT_TYPE, ClientMetadata, DeliveryMode, ServerConfig, StaticClientRegistry,
};

use crate::cli::Mode;
use crate::error::CliError;

/// A generated client, to print for the person who will use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoClient {
    /// `client_id`.
    pub(crate) client_id: String,
    /// `client_secret` (client_secret_basic).
    pub(crate) client_secret: String,
    /// The registered delivery mode.
    pub(crate) mode: Mode,
    /// Ping and push: the registered notification endpoint.
    pub(crate) notification_endpoint: Option<String>,
}

impl DemoClient {
    /// A client `demo-{mode}` with a fresh random secret.
    pub(crate) fn generate(
        mode: Mode,
        notification_endpoint: Option<String>,
    ) -> Result<DemoClient, CliError> {
        Ok(DemoClient {
            client_id: format!("demo-{mode}"),
            client_secret: random_secret()?,
            mode,
            notification_endpoint,
        })
    }

    /// Its registered metadata: client_secret_basic, the CIBA grant, its delivery mode.
    pub(crate) fn metadata(&self) -> ClientMetadata {
        let mut m = ClientMetadata::new(self.client_id.clone());
        m.client_secret = Some(ciba_server::Secret::new(self.client_secret.clone()));
        m.grant_types = vec![CIBA_GRANT_TYPE.to_owned()];
        m.backchannel_token_delivery_mode = Some(self.mode.delivery_mode());
        m.backchannel_client_notification_endpoint = self.notification_endpoint.clone();
        m
    }

    /// The line `ciba serve` prints for it.
    pub(crate) fn describe(&self) -> String {
        let mut line = format!(
            "client: client_id={} client_secret={} mode={}",
            self.client_id, self.client_secret, self.mode
        );
        if let Some(endpoint) = &self.notification_endpoint {
            line.push_str(&format!(" notification_endpoint={endpoint}"));
        }
        line
    }
}

/// 32 random bytes, base64url: a client secret or a `client_notification_token`. Never
/// starts with `-`, so that it can follow an option on a command line (`--client-secret
/// -x...` would read as an option).
pub(crate) fn random_secret() -> Result<String, CliError> {
    loop {
        let secret = random_identifier(&OsRandom, 32)
            .map_err(|e| CliError::error(format!("the system random source failed: {e}")))?;
        if !secret.starts_with('-') {
            return Ok(secret);
        }
    }
}

/// Reads a `--clients` file: a JSON array of client metadata objects.
pub(crate) fn load_clients_file(path: &Path) -> Result<Vec<ClientMetadata>, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the clients file {}: {e}",
            path.display()
        ))
    })?;
    parse_clients(&bytes)
        .map_err(|why| CliError::usage(format!("clients file {}: {why}", path.display())))
}

fn parse_clients(bytes: &[u8]) -> Result<Vec<ClientMetadata>, String> {
    let clients: Vec<ClientMetadata> = serde_json::from_slice(bytes)
        .map_err(|e| format!("expected a JSON array of client metadata objects ({e})"))?;
    if clients.is_empty() {
        return Err("the array is empty".to_owned());
    }
    Ok(clients)
}

/// Registers every client, checking each against what the provider supports. The error
/// names the client and what is wrong with it.
pub(crate) fn registry(
    clients: Vec<ClientMetadata>,
    config: &ServerConfig,
) -> Result<StaticClientRegistry, CliError> {
    let mut registry = StaticClientRegistry::new();
    for client in clients {
        let id = client.client_id.clone();
        let mode = client
            .backchannel_token_delivery_mode
            .map_or("none", DeliveryMode::as_str);
        registry.register(client, config).map_err(|e| {
            CliError::usage(format!(
                "client {id:?} (mode {mode}) cannot be registered: {e}"
            ))
        })?;
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_file_uses_the_standard_metadata_names() {
        let clients = parse_clients(
            br#"[{"client_id":"rp","client_secret":"s","token_endpoint_auth_method":"client_secret_post",
                 "grant_types":["urn:openid:params:grant-type:ciba"],
                 "backchannel_token_delivery_mode":"ping",
                 "backchannel_client_notification_endpoint":"http://127.0.0.1:9000/cb"}]"#,
        )
        .unwrap();
        assert_eq!(clients[0].client_id, "rp");
        assert_eq!(
            clients[0].backchannel_token_delivery_mode,
            Some(DeliveryMode::Ping)
        );
    }

    #[test]
    fn a_clients_file_must_be_a_non_empty_array() {
        assert!(parse_clients(br#"{"client_id":"rp"}"#).is_err());
        assert!(parse_clients(b"[]").is_err());
        assert!(parse_clients(b"not json").is_err());
    }

    #[test]
    fn random_secrets_can_follow_an_option_on_a_command_line() {
        for _ in 0..500 {
            assert!(!random_secret().unwrap().starts_with('-'));
        }
    }

    #[test]
    fn demo_clients_are_described_with_their_secret_and_mode() {
        let c = DemoClient::generate(Mode::Push, Some("http://127.0.0.1:1/cb".into())).unwrap();
        let line = c.describe();
        assert!(line.starts_with("client: client_id=demo-push client_secret="));
        assert!(line.ends_with("mode=push notification_endpoint=http://127.0.0.1:1/cb"));
        assert_eq!(
            c.metadata().backchannel_token_delivery_mode,
            Some(DeliveryMode::Push)
        );
    }
}
