//! Where the server finds a client's registered metadata.

use std::collections::HashMap;
use std::sync::Arc;

use crate::client::ClientMetadata;
use crate::config::ServerConfig;
use crate::registration::{ClientMetadataError, validate_client_metadata};
use crate::store::BoxFuture;

/// Looks up registered clients. Implement it over a database or a dynamic registration
/// service; [`StaticClientRegistry`] is the in-memory default.
///
/// The lookup is async, since a client database usually sits across a network; it returns
/// a [`BoxFuture`] so that the trait stays usable as `Arc<dyn ClientRegistry>`. A registry
/// that can wait on the network bounds that wait itself and answers
/// [`RegistryError`] when it cannot answer; the server then answers 503
/// `temporarily_unavailable` (never `invalid_client`, which would tell a legitimate client
/// its credentials are wrong).
pub trait ClientRegistry: Send + Sync {
    /// The metadata registered for `client_id`, `Ok(None)` for an unknown client.
    fn client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ClientMetadata>>, RegistryError>>;
}

/// A [`ClientRegistry`] could not answer (its database is unreachable or too slow).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the client registry failed: {source}")]
pub struct RegistryError {
    /// The backend's error.
    pub source: Arc<dyn std::error::Error + Send + Sync>,
}

impl RegistryError {
    /// Wraps a backend error.
    pub fn new(source: impl std::error::Error + Send + Sync + 'static) -> RegistryError {
        RegistryError {
            source: Arc::new(source),
        }
    }
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

impl StaticClientRegistry {
    /// The metadata registered for `client_id`, at once.
    pub fn get(&self, client_id: &str) -> Option<Arc<ClientMetadata>> {
        self.clients.get(client_id).cloned()
    }
}

impl ClientRegistry for StaticClientRegistry {
    fn client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ClientMetadata>>, RegistryError>> {
        Box::pin(std::future::ready(Ok(self.get(client_id))))
    }
}
