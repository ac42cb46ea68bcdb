//! The client: its registration, the server's metadata, and the authenticated form POST that
//! every CIBA request is built on.

use std::time::SystemTime;

use url::Url;
use zeroize::Zeroizing;

use crate::body::{FORM_URLENCODED, encode_form};
use crate::client_auth::ClientAuth;
use crate::delivery_mode::DeliveryMode;
use crate::endpoint::EndpointPolicy;
use crate::error::{ConfigError, Error};
use crate::jose::JwsAlgorithm;
use crate::limits::Limits;
use crate::metadata::ServerMetadata;
use crate::profile::Profile;
use crate::random::Random;

/// What the client registered with the OP, plus local policy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The `client_id`.
    pub client_id: String,
    /// How the client authenticates at the backchannel and token endpoints.
    pub auth: ClientAuth,
    /// The registered `backchannel_token_delivery_mode`.
    pub delivery_mode: DeliveryMode,
    /// The registered `backchannel_client_notification_endpoint` (ping and push).
    pub notification_endpoint: Option<String>,
    /// Whether the client registered `backchannel_user_code_parameter`.
    pub user_code_parameter: bool,
    /// Which endpoint URLs are acceptable (https only by default).
    pub endpoint_policy: EndpointPolicy,
    /// Size limits for everything parsed on this client's behalf.
    pub limits: Limits,
    /// The registered `id_token_signed_response_alg` (OIDC Registration 2), if any. When set,
    /// [`IdTokenValidator::for_client`](crate::id_token::IdTokenValidator::for_client) accepts
    /// exactly this algorithm and refuses every other, whatever the OP advertises; unset, it
    /// accepts the asymmetric algorithms the OP advertises.
    pub id_token_signed_response_alg: Option<JwsAlgorithm>,
    /// The security profile (default [`Profile::Default`]). [`Profile::FapiCiba`] makes
    /// [`Client::new`] refuse push mode, client authentication other than `private_key_jwt`
    /// (PS256, ES256) or mutual TLS, and ID token algorithms other than PS256 and ES256;
    /// [`AuthRequest`](crate::AuthRequest) then only builds signed requests with a
    /// `binding_message`, and [`Poller`](crate::Poller) needs a DPoP key unless the client
    /// uses mutual TLS.
    pub profile: Profile,
}

impl ClientConfig {
    /// A configuration with secure defaults: https only, default limits, no notification
    /// endpoint, no user code, no registered ID token algorithm.
    pub fn new(
        client_id: impl Into<String>,
        auth: ClientAuth,
        delivery_mode: DeliveryMode,
    ) -> Self {
        ClientConfig {
            client_id: client_id.into(),
            auth,
            delivery_mode,
            notification_endpoint: None,
            user_code_parameter: false,
            endpoint_policy: EndpointPolicy::HTTPS_ONLY,
            limits: Limits::DEFAULT,
            id_token_signed_response_alg: None,
            profile: Profile::Default,
        }
    }
}

/// The clauses of the configuration's profile that the configuration itself must meet.
fn check_profile(config: &ClientConfig) -> Result<(), ConfigError> {
    if !config.profile.is_fapi() {
        return Ok(());
    }
    let refuse = |reason| Err(ConfigError::InvalidClient { reason });
    if config.delivery_mode == DeliveryMode::Push {
        return refuse("the FAPI-CIBA profile does not allow push mode");
    }
    match &config.auth {
        ClientAuth::PrivateKeyJwt(signer)
            if !config.profile.allows_algorithm(signer.algorithm()) =>
        {
            return refuse("the FAPI-CIBA profile allows only PS256 and ES256 client assertions");
        }
        ClientAuth::PrivateKeyJwt(_)
        | ClientAuth::TlsClientAuth
        | ClientAuth::SelfSignedTlsClientAuth => {}
        _ => {
            return refuse("the FAPI-CIBA profile requires private_key_jwt or mutual TLS");
        }
    }
    if config
        .id_token_signed_response_alg
        .is_some_and(|a| !config.profile.allows_algorithm(a))
    {
        return refuse("the FAPI-CIBA profile allows only PS256 and ES256 ID tokens");
    }
    Ok(())
}

/// A CIBA client bound to one OP: checked configuration and metadata, ready to build requests.
#[derive(Debug, Clone)]
pub struct Client {
    config: ClientConfig,
    metadata: ServerMetadata,
    backchannel_endpoint: Url,
    token_endpoint: Option<Url>,
}

impl Client {
    /// Checks `config` against `metadata`: the OP must publish a backchannel authentication
    /// endpoint, support the client's delivery mode, and (for poll and ping) a token endpoint;
    /// every endpoint must pass the endpoint policy; ping and push need an https notification
    /// endpoint (http only on loopback, by the same opt-in).
    pub fn new(config: ClientConfig, metadata: ServerMetadata) -> Result<Client, Error> {
        let policy = config.endpoint_policy;
        let mtls = config.auth.uses_mtls();
        let backchannel_endpoint =
            metadata.endpoint("backchannel_authentication_endpoint", mtls, &policy)?;
        if !metadata.supports_delivery_mode(config.delivery_mode) {
            return Err(ConfigError::InvalidClient {
                reason: "the OP does not support the client's token delivery mode",
            }
            .into());
        }
        let token_endpoint = if config.delivery_mode.uses_token_endpoint() {
            Some(metadata.endpoint("token_endpoint", mtls, &policy)?)
        } else {
            metadata.endpoint("token_endpoint", mtls, &policy).ok()
        };
        if config.delivery_mode.uses_notifications() {
            let raw =
                config
                    .notification_endpoint
                    .as_deref()
                    .ok_or(ConfigError::InvalidClient {
                        reason: "ping and push clients need a notification endpoint",
                    })?;
            policy.parse("backchannel_client_notification_endpoint", raw)?;
        }
        if config.client_id.is_empty() {
            return Err(ConfigError::InvalidClient {
                reason: "client_id is empty",
            }
            .into());
        }
        check_profile(&config)?;
        Ok(Client {
            config,
            metadata,
            backchannel_endpoint,
            token_endpoint,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The server metadata.
    pub fn metadata(&self) -> &ServerMetadata {
        &self.metadata
    }

    /// The `client_id`.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// The issuer identifier (the `aud` of client assertions and signed requests).
    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }

    /// The delivery mode.
    pub fn delivery_mode(&self) -> DeliveryMode {
        self.config.delivery_mode
    }

    /// The size limits.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The backchannel authentication endpoint (the mTLS alias when authenticating with mTLS).
    pub fn backchannel_endpoint(&self) -> &Url {
        &self.backchannel_endpoint
    }

    /// The token endpoint (the mTLS alias when authenticating with mTLS).
    pub fn token_endpoint(&self) -> Result<&Url, ConfigError> {
        self.token_endpoint
            .as_ref()
            .ok_or(ConfigError::MissingMetadata {
                member: "token_endpoint",
            })
    }

    /// Builds an authenticated `application/x-www-form-urlencoded` POST to `endpoint` carrying
    /// `params`, with the client's authentication applied and `extra_headers` added.
    pub fn authenticated_post(
        &self,
        endpoint: &Url,
        mut params: Vec<(String, String)>,
        extra_headers: http::HeaderMap,
        now: SystemTime,
        rng: &dyn Random,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let mut headers = extra_headers;
        self.config.auth.apply(
            &self.config.client_id,
            &self.metadata.issuer,
            now,
            rng,
            &mut headers,
            &mut params,
        )?;
        // The parameters may hold the client secret or a notification token: wiped on drop.
        let params = Zeroizing::new(params);
        let body = encode_form(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut req = http::Request::post(endpoint.as_str())
            .body(body)
            .map_err(|_| ConfigError::InvalidUrl { field: "endpoint" })?;
        let h = req.headers_mut();
        h.extend(headers);
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(FORM_URLENCODED),
        );
        h.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static(crate::body::APPLICATION_JSON),
        );
        Ok(req)
    }
}
