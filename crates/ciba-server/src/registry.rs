//! Where the server finds a client's registered metadata.

use std::collections::HashMap;
use std::sync::Arc;

use crate::client::ClientMetadata;
use crate::config::ServerConfig;
use crate::registration::{ClientMetadataError, validate_client_metadata};

/// Looks up registered clients. Implement it over a database or a dynamic registration
/// service; [`StaticClientRegistry`] is the in-memory default.
pub trait ClientRegistry: Send + Sync {
    /// The metadata registered for `client_id`, or `None` for an unknown client.
    fn client(&self, client_id: &str) -> Option<Arc<ClientMetadata>>;
}

/// A fixed set of clients held in memory, each validated when registered.
#[derive(Debug, Default, Clone)]
pub struct StaticClientRegistry {
    clients: HashMap<String, Arc<ClientMetadata>>,
}

impl StaticClientRegistry {
    /// An empty registry.
    pub fn new() -> StaticClientRegistry {
        StaticClientRegistry::default()
    }

    /// Validates `metadata` against `config` (see
    /// [`validate_client_metadata`]) and adds
    /// it. A second client with the same id is refused.
    pub fn register(
        &mut self,
        metadata: ClientMetadata,
        config: &ServerConfig,
    ) -> Result<(), ClientMetadataError> {
        validate_client_metadata(&metadata, config)?;
        if self.clients.contains_key(&metadata.client_id) {
            return Err(ClientMetadataError::DuplicateClientId {
                client_id: metadata.client_id,
            });
        }
        self.clients
            .insert(metadata.client_id.clone(), Arc::new(metadata));
        Ok(())
    }

    /// Number of registered clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// True when no client is registered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

impl ClientRegistry for StaticClientRegistry {
    fn client(&self, client_id: &str) -> Option<Arc<ClientMetadata>> {
        self.clients.get(client_id).cloned()
    }
}
