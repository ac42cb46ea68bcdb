//! Registration-time checks of client metadata against what the server supports
//! (CIBA Core section 4, RFC 7591 `invalid_client_metadata`).

use ciba_core::ConfigError;
use ciba_core::ErrorCode;
use ciba_core::jose::JwsAlgorithm;

use crate::client::{AuthMethod, ClientMetadata, DeliveryMode};
use crate::config::ServerConfig;
use crate::params::is_scope_token;

/// Why client metadata cannot be registered. Every variant is an RFC 7591
/// `invalid_client_metadata` error (see [`ClientMetadataError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientMetadataError {
    /// The client id is empty.
    #[error("client_id must not be empty")]
    EmptyClientId,
    /// A client with this id is already registered.
    #[error("client {client_id:?} is already registered")]
    DuplicateClientId {
        /// The id.
        client_id: String,
    },
    /// The delivery mode is not one the server offers.
    #[error("delivery mode {mode} is not supported by this server")]
    UnsupportedDeliveryMode {
        /// The mode.
        mode: DeliveryMode,
    },
    /// A ping or push client has no notification endpoint.
    #[error("{mode} clients must register backchannel_client_notification_endpoint")]
    MissingNotificationEndpoint {
        /// The mode.
        mode: DeliveryMode,
    },
    /// The notification endpoint is not an acceptable URL (https, or http on loopback by
    /// explicit opt-in).
    #[error("backchannel_client_notification_endpoint is not acceptable: {source}")]
    InvalidNotificationEndpoint {
        /// What is wrong with it.
        #[source]
        source: ConfigError,
    },
    /// A poll or ping client does not list the CIBA grant in `grant_types`.
    #[error("{mode} clients must list urn:openid:params:grant-type:ciba in grant_types")]
    MissingCibaGrant {
        /// The mode.
        mode: DeliveryMode,
    },
    /// The request signing algorithm is `none`, symmetric, unknown or not supported.
    #[error("backchannel_authentication_request_signing_alg {alg:?} is not allowed")]
    RequestSigningAlgNotAllowed {
        /// The value as registered (truncated).
        alg: String,
    },
    /// The assertion signing algorithm is unknown or not supported.
    #[error("token_endpoint_auth_signing_alg {alg:?} is not allowed")]
    AuthSigningAlgNotAllowed {
        /// The value as registered (truncated).
        alg: String,
    },
    /// The authentication method is unknown, not offered, or `none` for a CIBA client
    /// (CIBA requires client authentication).
    #[error("token_endpoint_auth_method {method} is not allowed")]
    AuthMethodNotAllowed {
        /// The method.
        method: AuthMethod,
    },
    /// The method needs a `client_secret` and none is registered.
    #[error("{method} needs a client_secret")]
    MissingClientSecret {
        /// The method.
        method: AuthMethod,
    },
    /// `private_key_jwt` or signed requests need `jwks`.
    #[error("jwks is required: {needed_for}")]
    MissingJwks {
        /// Which feature needs the keys.
        needed_for: &'static str,
    },
    /// `tls_client_auth` needs exactly one `tls_client_auth_*` identity member.
    #[error("tls_client_auth needs exactly one tls_client_auth_* member, found {found}")]
    TlsIdentity {
        /// How many were registered.
        found: usize,
    },
    /// The `scope` member is not a space-separated list of valid scope tokens.
    #[error("scope is malformed")]
    MalformedScope,
    /// A push client asked for `dpop_bound_access_tokens` or
    /// `tls_client_certificate_bound_access_tokens`: push mode has no token request, so
    /// there is no proof or certificate to bind the tokens to.
    #[error("push clients cannot have bound access tokens: push mode has no token request")]
    PushWithBoundTokens,
}

impl ClientMetadataError {
    /// The OAuth error code to answer a registration request with.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidClientMetadata
    }
}

/// Checks `metadata` against what `config` supports. A client without a
/// `backchannel_token_delivery_mode` is not a CIBA client; only its general members are
/// checked.
pub fn validate_client_metadata(
    metadata: &ClientMetadata,
    config: &ServerConfig,
) -> Result<(), ClientMetadataError> {
    if metadata.client_id.is_empty() {
        return Err(ClientMetadataError::EmptyClientId);
    }
    check_auth_method(metadata, config)?;
    if let Some(scope) = &metadata.scope
        && !scope
            .split(' ')
            .filter(|t| !t.is_empty())
            .all(is_scope_token)
    {
        return Err(ClientMetadataError::MalformedScope);
    }
    if let Some(endpoint) = &metadata.backchannel_client_notification_endpoint {
        config
            .endpoint_policy
            .parse("backchannel_client_notification_endpoint", endpoint)
            .map_err(|source| ClientMetadataError::InvalidNotificationEndpoint { source })?;
    }
    if let Some(alg) = &metadata.backchannel_authentication_request_signing_alg {
        let allowed = alg
            .parse::<JwsAlgorithm>()
            .is_ok_and(|a| !a.is_symmetric() && config.request_signing_algs.contains(&a));
        if !allowed {
            return Err(ClientMetadataError::RequestSigningAlgNotAllowed {
                alg: alg.chars().take(32).collect(),
            });
        }
        if metadata.jwks.is_none() {
            return Err(ClientMetadataError::MissingJwks {
                needed_for: "signed authentication requests",
            });
        }
    }
    let Some(mode) = metadata.backchannel_token_delivery_mode else {
        return Ok(());
    };
    check_push_binding(metadata, mode)?;
    if !config.delivery_modes.contains(&mode) {
        return Err(ClientMetadataError::UnsupportedDeliveryMode { mode });
    }
    if mode.uses_notifications() && metadata.backchannel_client_notification_endpoint.is_none() {
        return Err(ClientMetadataError::MissingNotificationEndpoint { mode });
    }
    if mode.uses_token_endpoint() && !metadata.has_ciba_grant() {
        return Err(ClientMetadataError::MissingCibaGrant { mode });
    }
    if metadata.token_endpoint_auth_method == AuthMethod::None {
        return Err(ClientMetadataError::AuthMethodNotAllowed {
            method: AuthMethod::None,
        });
    }
    Ok(())
}

/// Push mode delivers tokens without a token request, so they cannot be bound to a DPoP key
/// or a certificate presented there.
fn check_push_binding(
    metadata: &ClientMetadata,
    mode: DeliveryMode,
) -> Result<(), ClientMetadataError> {
    let bound =
        metadata.dpop_bound_access_tokens || metadata.tls_client_certificate_bound_access_tokens;
    if mode == DeliveryMode::Push && bound {
        return Err(ClientMetadataError::PushWithBoundTokens);
    }
    Ok(())
}

fn check_auth_method(
    metadata: &ClientMetadata,
    config: &ServerConfig,
) -> Result<(), ClientMetadataError> {
    let method = &metadata.token_endpoint_auth_method;
    let known = AuthMethod::SUPPORTED.contains(method) || *method == AuthMethod::None;
    if !known || (*method != AuthMethod::None && !config.auth_methods.contains(method)) {
        return Err(ClientMetadataError::AuthMethodNotAllowed {
            method: method.clone(),
        });
    }
    if let Some(alg) = &metadata.token_endpoint_auth_signing_alg {
        let ok = alg
            .parse::<JwsAlgorithm>()
            .is_ok_and(|a| config.auth_signing_algs.contains(&a));
        if !ok {
            return Err(ClientMetadataError::AuthSigningAlgNotAllowed {
                alg: alg.chars().take(32).collect(),
            });
        }
    }
    match method {
        AuthMethod::ClientSecretBasic
        | AuthMethod::ClientSecretPost
        | AuthMethod::ClientSecretJwt
            if metadata
                .client_secret
                .as_ref()
                .is_none_or(|s| s.expose().is_empty()) =>
        {
            Err(ClientMetadataError::MissingClientSecret {
                method: method.clone(),
            })
        }
        AuthMethod::PrivateKeyJwt if metadata.jwks.is_none() => {
            Err(ClientMetadataError::MissingJwks {
                needed_for: "private_key_jwt",
            })
        }
        AuthMethod::SelfSignedTlsClientAuth if metadata.jwks.is_none() => {
            Err(ClientMetadataError::MissingJwks {
                needed_for: "self_signed_tls_client_auth",
            })
        }
        AuthMethod::TlsClientAuth => {
            let found = [
                &metadata.tls_client_auth_subject_dn,
                &metadata.tls_client_auth_san_dns,
                &metadata.tls_client_auth_san_uri,
                &metadata.tls_client_auth_san_ip,
                &metadata.tls_client_auth_san_email,
            ]
            .iter()
            .filter(|m| m.is_some())
            .count();
            if found == 1 {
                Ok(())
            } else {
                Err(ClientMetadataError::TlsIdentity { found })
            }
        }
        _ => Ok(()),
    }
}
