//! Registration-time checks of client metadata against what the server supports
//! (CIBA Core section 4, RFC 7591 `invalid_client_metadata`).
//!
//! Registration tells the truth: a member the server cannot honour is refused, never kept
//! and ignored. Every member [`ClientMetadata`] models, and how it is honoured:
//!
//! | member | honoured by | refused when |
//! |---|---|---|
//! | `client_id` | the registry key | empty, or already registered |
//! | `client_secret` | `client_secret_basic` / `_post` / `_jwt` | missing for those methods; shorter than the HMAC hash for `client_secret_jwt` (RFC 7518 3.2) |
//! | `token_endpoint_auth_method` | client authentication at both endpoints | unknown, not enabled, or `none` for a CIBA client |
//! | `token_endpoint_auth_signing_alg` | the only algorithm accepted for the client's assertions | not a JWT method, not enabled, or of the wrong family (HMAC for `private_key_jwt`, public-key for `client_secret_jwt`) |
//! | `id_token_signed_response_alg` | the ID token's signing key | no key of the server's key set for it ([`ServerConfig::id_token_signing_algs`]); under FAPI-CIBA, missing or neither PS256 nor ES256 |
//! | `id_token_encrypted_response_alg` | ID tokens are signed, then encrypted to the client's key (every mode: token endpoint and push) | not one of [`KeyManagementAlgorithm::ALL`]; no `jwks`, or no key in it that can receive it |
//! | `id_token_encrypted_response_enc` | the content encryption (default `A128CBC-HS256`) | not one of [`ContentEncryption::ALL`]; registered without the `_alg` |
//! | `jwks` | `private_key_jwt`, `self_signed_tls_client_auth`, signed requests, encrypted ID tokens | (required by them) |
//! | `grant_types` | the token endpoint's CIBA grant check | poll or ping without the CIBA grant |
//! | `backchannel_token_delivery_mode` | the mode | not offered by the server |
//! | `backchannel_client_notification_endpoint` | ping and push delivery | missing for ping/push; not https (or loopback http by opt-in); a destination the [`EgressPolicy`](crate::EgressPolicy) refuses; registered by a client that receives no notification |
//! | `backchannel_authentication_request_signing_alg` | signed request verification | symmetric, unknown, not enabled, or without `jwks` |
//! | `backchannel_user_code_parameter` | `user_code` handling | `true` when the server does not support user codes |
//! | `scope` | the scopes the client may request | malformed |
//! | `tls_client_auth_*` | `tls_client_auth` | not exactly one for that method; any for another method |
//! | `dpop_bound_access_tokens` | the token endpoint requires a DPoP proof and binds the tokens to its key | a push client (push has no token request) |
//! | `tls_client_certificate_bound_access_tokens` | the token endpoint binds the tokens to the client certificate (`cnf.x5t#S256`) | a push client |
//!
//! Other members stay in [`ClientMetadata::extra`]: those listed in [`UNSUPPORTED_MEMBERS`]
//! and a few values (see there) are refused; descriptive members and those of the AS's
//! other endpoints are kept for the host.

use ciba_core::ConfigError;
use ciba_core::ErrorCode;
use ciba_core::jose::JwsAlgorithm;
use ciba_core::jose::jwe::{ContentEncryption, KeyManagementAlgorithm, select_encryption_key};

use serde_json::Value;

use crate::client::{AuthMethod, ClientMetadata, DeliveryMode};
use crate::client_auth::min_hmac_secret_bytes;
use crate::config::ServerConfig;
use crate::egress::EgressError;
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
    /// The notification endpoint names a loopback, private, link-local, shared or cloud
    /// metadata destination that [`ServerConfig::egress_policy`] refuses.
    #[error("backchannel_client_notification_endpoint is refused: {source}")]
    NotificationEndpointRefused {
        /// Why.
        #[source]
        source: EgressError,
    },
    /// `id_token_signed_response_alg` is not an algorithm the server has a key for, or not
    /// one the server's profile allows (under FAPI-CIBA a missing value counts as RS256).
    #[error("id_token_signed_response_alg {alg:?} is not supported")]
    IdTokenSigningAlgNotSupported {
        /// The value as registered (truncated).
        alg: String,
    },
    /// `id_token_encrypted_response_alg` or `_enc` names an algorithm this server does not
    /// implement (see [`KeyManagementAlgorithm::ALL`] and [`ContentEncryption::ALL`]).
    #[error("{member} {value:?} is not supported")]
    IdTokenEncryptionNotSupported {
        /// The member.
        member: &'static str,
        /// The value as registered (truncated).
        value: String,
    },
    /// The client's `jwks` has no public key that can receive ID tokens encrypted with
    /// `id_token_encrypted_response_alg` (right type and curve, 2048-bit RSA at least,
    /// `use` absent or `enc`).
    #[error("jwks has no key for id_token_encrypted_response_alg {alg}")]
    NoEncryptionKey {
        /// The registered algorithm.
        alg: KeyManagementAlgorithm,
    },
    /// The `client_secret` of a `client_secret_jwt` client is shorter than RFC 7518
    /// section 3.2 requires for the HMAC algorithm it may use.
    #[error("client_secret must be at least {min_bytes} bytes for {alg}")]
    ClientSecretTooShort {
        /// The weakest HMAC algorithm the client may use.
        alg: JwsAlgorithm,
        /// The shortest secret allowed for it.
        min_bytes: usize,
    },
    /// A member this server cannot honour (see [`UNSUPPORTED_MEMBERS`]).
    #[error("{member} is not supported by this server")]
    UnsupportedMember {
        /// The member's name.
        member: &'static str,
    },
    /// A member that has no effect with the rest of the registration, so honouring it is
    /// impossible (for example `tls_client_auth_san_dns` without `tls_client_auth`).
    #[error("{member} cannot be honoured: {reason}")]
    InapplicableMember {
        /// The member's name.
        member: &'static str,
        /// Why it has no effect.
        reason: &'static str,
    },
}

/// Registered client metadata members (OIDC Dynamic Client Registration, RFC 7591, RFC 9101,
/// RFC 9396) that would change how tokens, ID tokens or requests are handled, and that this
/// server does not implement. A registration carrying any of them is refused with
/// `invalid_client_metadata` rather than accepted and silently ignored.
///
/// Three more are refused only for the values this server cannot honour: `subject_type`
/// other than `public`, `require_auth_time: true`, and `jwks_uri` without `jwks` (this crate
/// does not fetch; a registry that resolves `jwks_uri` fills `jwks`).
///
/// Members that concern the authorization server's other endpoints (`redirect_uris`,
/// `response_types`, `userinfo_*`, `request_object_signing_alg`, logout URIs, ...) and purely
/// descriptive ones (`client_name`, `logo_uri`, `contacts`, ...) are kept in
/// [`ClientMetadata::extra`] for the host, as are names this crate does not know (RFC 7591
/// section 2).
pub const UNSUPPORTED_MEMBERS: [&str; 7] = [
    "request_object_encryption_alg",
    "request_object_encryption_enc",
    "default_max_age",
    "default_acr_values",
    "sector_identifier_uri",
    "software_statement",
    "authorization_details_types",
];

fn check_extra_members(metadata: &ClientMetadata) -> Result<(), ClientMetadataError> {
    for member in UNSUPPORTED_MEMBERS {
        if metadata.extra.contains_key(member) {
            return Err(ClientMetadataError::UnsupportedMember { member });
        }
    }
    match metadata.extra.get("subject_type") {
        None => {}
        Some(Value::String(s)) if s == "public" => {}
        Some(_) => {
            return Err(ClientMetadataError::UnsupportedMember {
                member: "subject_type",
            });
        }
    }
    match metadata.extra.get("require_auth_time") {
        None | Some(Value::Bool(false)) => {}
        Some(_) => {
            return Err(ClientMetadataError::UnsupportedMember {
                member: "require_auth_time",
            });
        }
    }
    if metadata.extra.contains_key("jwks_uri") && metadata.jwks.is_none() {
        return Err(ClientMetadataError::UnsupportedMember { member: "jwks_uri" });
    }
    Ok(())
}

fn check_id_token_alg(
    metadata: &ClientMetadata,
    config: &ServerConfig,
) -> Result<(), ClientMetadataError> {
    // FAPI-CIBA ID tokens are PS256 or ES256, so a FAPI client must register one of them:
    // without a registration, its ID tokens would be RS256 (the OpenID Connect default).
    let fapi = config.profile.is_fapi();
    let alg = match &metadata.id_token_signed_response_alg {
        Some(alg) => alg.as_str(),
        None if fapi => JwsAlgorithm::RS256.as_str(),
        None => return Ok(()),
    };
    let supported = alg.parse::<JwsAlgorithm>().is_ok_and(|a| {
        config.id_token_signing_algs.contains(&a) && config.profile.allows_algorithm(a)
    });
    if supported {
        Ok(())
    } else {
        Err(ClientMetadataError::IdTokenSigningAlgNotSupported {
            alg: alg.chars().take(32).collect(),
        })
    }
}

/// OIDC Dynamic Client Registration section 2: `_enc` without `_alg` is meaningless, and `_enc`
/// defaults to A128CBC-HS256 when only `_alg` is registered.
fn check_id_token_encryption(metadata: &ClientMetadata) -> Result<(), ClientMetadataError> {
    let clip = |s: &str| s.chars().take(32).collect::<String>();
    let alg = match (
        &metadata.id_token_encrypted_response_alg,
        &metadata.id_token_encrypted_response_enc,
    ) {
        (None, None) => return Ok(()),
        (None, Some(_)) => {
            return Err(ClientMetadataError::InapplicableMember {
                member: "id_token_encrypted_response_enc",
                reason: "id_token_encrypted_response_alg is not registered",
            });
        }
        (Some(alg), enc) => {
            let parsed = alg.parse::<KeyManagementAlgorithm>().map_err(|_| {
                ClientMetadataError::IdTokenEncryptionNotSupported {
                    member: "id_token_encrypted_response_alg",
                    value: clip(alg),
                }
            })?;
            if let Some(enc) = enc
                && enc.parse::<ContentEncryption>().is_err()
            {
                return Err(ClientMetadataError::IdTokenEncryptionNotSupported {
                    member: "id_token_encrypted_response_enc",
                    value: clip(enc),
                });
            }
            parsed
        }
    };
    let Some(jwks) = &metadata.jwks else {
        return Err(ClientMetadataError::MissingJwks {
            needed_for: "encrypted ID tokens",
        });
    };
    select_encryption_key(jwks, alg)
        .map(|_| ())
        .map_err(|_| ClientMetadataError::NoEncryptionKey { alg })
}

fn check_notification_endpoint(
    metadata: &ClientMetadata,
    config: &ServerConfig,
) -> Result<(), ClientMetadataError> {
    let Some(endpoint) = &metadata.backchannel_client_notification_endpoint else {
        return Ok(());
    };
    let url = config
        .endpoint_policy
        .parse("backchannel_client_notification_endpoint", endpoint)
        .map_err(|source| ClientMetadataError::InvalidNotificationEndpoint { source })?;
    config
        .egress_policy
        .check_url(&url)
        .map_err(|source| ClientMetadataError::NotificationEndpointRefused { source })?;
    if !metadata
        .backchannel_token_delivery_mode
        .is_some_and(|m| m.uses_notifications())
    {
        return Err(ClientMetadataError::InapplicableMember {
            member: "backchannel_client_notification_endpoint",
            reason: "only ping and push clients receive notifications",
        });
    }
    Ok(())
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
    check_extra_members(metadata)?;
    check_id_token_alg(metadata, config)?;
    check_id_token_encryption(metadata)?;
    check_notification_endpoint(metadata, config)?;
    if metadata.backchannel_user_code_parameter && !config.user_code_supported {
        return Err(ClientMetadataError::InapplicableMember {
            member: "backchannel_user_code_parameter",
            reason: "the server does not support user codes",
        });
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
    let registered_alg = match &metadata.token_endpoint_auth_signing_alg {
        None => None,
        Some(_)
            if !matches!(
                method,
                AuthMethod::ClientSecretJwt | AuthMethod::PrivateKeyJwt
            ) =>
        {
            return Err(ClientMetadataError::InapplicableMember {
                member: "token_endpoint_auth_signing_alg",
                reason: "only client_secret_jwt and private_key_jwt sign assertions",
            });
        }
        Some(alg) => {
            // The algorithm must suit the method: HMAC for client_secret_jwt, a public-key
            // algorithm for private_key_jwt.
            let parsed = alg.parse::<JwsAlgorithm>().ok().filter(|a| {
                config.auth_signing_algs.contains(a)
                    && a.is_symmetric() == (*method == AuthMethod::ClientSecretJwt)
            });
            match parsed {
                Some(a) => Some(a),
                None => {
                    return Err(ClientMetadataError::AuthSigningAlgNotAllowed {
                        alg: alg.chars().take(32).collect(),
                    });
                }
            }
        }
    };
    let tls_members = [
        (
            "tls_client_auth_subject_dn",
            &metadata.tls_client_auth_subject_dn,
        ),
        ("tls_client_auth_san_dns", &metadata.tls_client_auth_san_dns),
        ("tls_client_auth_san_uri", &metadata.tls_client_auth_san_uri),
        ("tls_client_auth_san_ip", &metadata.tls_client_auth_san_ip),
        (
            "tls_client_auth_san_email",
            &metadata.tls_client_auth_san_email,
        ),
    ];
    if *method != AuthMethod::TlsClientAuth
        && let Some((member, _)) = tls_members.iter().find(|(_, v)| v.is_some())
    {
        return Err(ClientMetadataError::InapplicableMember {
            member,
            reason: "only tls_client_auth clients are identified by their certificate",
        });
    }
    if *method == AuthMethod::ClientSecretJwt {
        check_hmac_secret(metadata, config, registered_alg)?;
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

/// A `client_secret_jwt` secret must be at least as long as the hash of every HMAC algorithm
/// the client may use (RFC 7518 section 3.2): the registered one, else each HMAC algorithm
/// the server accepts for assertions.
fn check_hmac_secret(
    metadata: &ClientMetadata,
    config: &ServerConfig,
    registered: Option<JwsAlgorithm>,
) -> Result<(), ClientMetadataError> {
    let len = metadata
        .client_secret
        .as_ref()
        .map_or(0, |s| s.expose().len());
    let usable: Vec<JwsAlgorithm> = match registered {
        Some(alg) => vec![alg],
        None => config
            .auth_signing_algs
            .iter()
            .copied()
            .filter(|a| a.is_symmetric())
            .collect(),
    };
    for alg in usable {
        if let Some(min_bytes) = min_hmac_secret_bytes(alg)
            && len > 0
            && len < min_bytes
        {
            return Err(ClientMetadataError::ClientSecretTooShort { alg, min_bytes });
        }
    }
    Ok(())
}
