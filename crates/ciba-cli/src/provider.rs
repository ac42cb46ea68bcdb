//! The development authorization server behind `ciba serve` and `ciba demo`: ciba-hyper's
//! `AuthorizationServer` over ciba-server (with the store and signing key it is given: see
//! [`crate::store`] and [`crate::keys`]), a user directory ([`crate::users`]: any
//! `login_hint`, or the users of a `--users` file), the authentication device, and the device
//! page mounted beside the CIBA endpoints behind its access rules ([`crate::device_access`]).
//!
//! ```text
//! {issuer}/.well-known/openid-configuration   discovery        ┐
//! {issuer}/jwks                               JWK Set          │ ciba-hyper's
//! {issuer}/bc-authorize                       backchannel      │ AuthorizationServer
//! {issuer}/token                              token endpoint   ┘
//! {issuer}/device, /device/api/...            the authentication device (device_page)
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use ciba_core::EndpointPolicy;
use ciba_core::wire::is_loopback as url_is_loopback;
use ciba_hyper::server::{
    AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture, PendingRequest,
};
use ciba_hyper::tls::rustls;
use ciba_hyper::{RunningServer, ServeOptions, serve_fn_tls_with, serve_fn_with};
use ciba_server::store::Store;
use ciba_server::{
    AccessTokenFormat, CibaServer, DefaultTokenMinter, EgressPolicy, FailReason, ServerConfig,
    SigningKeySet, StaticClientRegistry, Ticket,
};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tower_service::Service as _;
use url::Url;

use crate::device::{self, Automatic, DecisionEvent, Device};
use crate::device_access::DeviceAccess;
use crate::device_page;
use crate::error::CliError;
use crate::http_server;
use crate::users::UserDirectory;

/// Path of the backchannel authentication endpoint under the issuer.
const BACKCHANNEL_PATH: &str = "/bc-authorize";
/// Path of the token endpoint under the issuer.
const TOKEN_PATH: &str = "/token";
/// Path of the JWK Set under the issuer.
const JWKS_PATH: &str = "/jwks";

/// True when the issuer's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(issuer: &str) -> bool {
    Url::parse(issuer).is_ok_and(|u| url_is_loopback(&u))
}

/// The issuer identifier: `--issuer` as given (https, or http on a loopback host), or
/// `http://<bound address>` (`127.0.0.1` when bound to every interface).
pub(crate) fn issuer_for(addr: SocketAddr, explicit: Option<&str>) -> Result<String, CliError> {
    issuer_with_scheme(addr, explicit, "http")
}

/// [`issuer_for`] of a provider serving https itself (`--fapi`): the default is
/// `https://<bound address>`.
pub(crate) fn https_issuer_for(
    addr: SocketAddr,
    explicit: Option<&str>,
) -> Result<String, CliError> {
    issuer_with_scheme(addr, explicit, "https")
}

fn issuer_with_scheme(
    addr: SocketAddr,
    explicit: Option<&str>,
    scheme: &str,
) -> Result<String, CliError> {
    let Some(raw) = explicit else {
        let host = match addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => "127.0.0.1".to_owned(),
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) if a.ip().is_unspecified() => "[::1]".to_owned(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        return Ok(format!("{scheme}://{host}:{}", addr.port()));
    };
    let url = Url::parse(raw)
        .map_err(|e| CliError::usage(format!("--issuer {raw:?} is not a URL: {e}")))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(CliError::usage(
            "--issuer must not have a query, a fragment or user information",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if url_is_loopback(&url) => {}
        "http" => {
            return Err(CliError::usage(format!(
                "--issuer {raw} must be https (plain http is allowed only on loopback hosts); terminate TLS in front of ciba serve"
            )));
        }
        other => {
            return Err(CliError::usage(format!(
                "--issuer must be an https URL, not {other}:"
            )));
        }
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// The server configuration for `issuer`: endpoints under it, all three delivery modes,
/// `interval` and `expires_in` as given, user codes not supported (a `--users` file with
/// codes turns them on: `ServerConfig::user_code_supported`). On a loopback issuer plain
/// http endpoints and loopback notification endpoints are allowed; elsewhere https is
/// required.
pub(crate) fn server_config(
    issuer: &str,
    interval: u64,
    expires_in: u64,
    keys: &SigningKeySet,
) -> Result<ServerConfig, CliError> {
    config_for(issuer, interval, expires_in, keys, false)
}

/// [`server_config`] under the FAPI-CIBA profile (`ServerConfig::fapi_ciba`: poll and ping,
/// signed requests, PS256 or ES256, `private_key_jwt` or mutual TLS). On a loopback issuer
/// plain http notification endpoints on loopback stay allowed (the development opt-in);
/// the provider's own endpoints are https.
pub(crate) fn fapi_server_config(
    issuer: &str,
    interval: u64,
    expires_in: u64,
    keys: &SigningKeySet,
) -> Result<ServerConfig, CliError> {
    config_for(issuer, interval, expires_in, keys, true)
}

fn config_for(
    issuer: &str,
    interval: u64,
    expires_in: u64,
    keys: &SigningKeySet,
    fapi: bool,
) -> Result<ServerConfig, CliError> {
    let invalid = |e: &dyn std::fmt::Display| {
        CliError::usage(format!("the provider cannot use issuer {issuer}: {e}"))
    };
    let url = Url::parse(issuer).map_err(|e| invalid(&e))?;
    let policy = if (url.scheme() == "http" || fapi) && url_is_loopback(&url) {
        EndpointPolicy::ALLOW_HTTP_LOOPBACK
    } else {
        EndpointPolicy::HTTPS_ONLY
    };
    let mut config = ServerConfig::with_policy(
        issuer,
        format!("{issuer}{TOKEN_PATH}"),
        format!("{issuer}{BACKCHANNEL_PATH}"),
        policy,
    )
    .map_err(|e| invalid(&e))?;
    config.jwks_uri = Some(format!("{issuer}{JWKS_PATH}"));
    config.id_token_signing_algs = keys.algorithms();
    if url_is_loopback(&url) {
        // The development opt-in: a provider on a loopback issuer accepts (and delivers to)
        // notification endpoints on loopback. Private, link-local and cloud metadata
        // destinations stay refused.
        config.egress_policy = EgressPolicy::allow_loopback();
    }
    config.interval = interval;
    config.default_expires_in = expires_in;
    config.max_expires_in = config.max_expires_in.max(expires_in);
    config.user_code_supported = false;
    if fapi {
        config = config.fapi_ciba().map_err(|e| invalid(&e))?;
    }
    Ok(config)
}

/// How the provider's authentication device behaves, and who it knows.
#[derive(Debug)]
pub(crate) struct DeviceSettings {
    /// The automatic answer, if any.
    pub(crate) auto: Automatic,
    /// Who the hints may name.
    pub(crate) users: UserDirectory,
    /// Who may reach the device page.
    pub(crate) access: DeviceAccess,
    /// Print a line on stderr for every request that arrives ([`device::request_line`]).
    pub(crate) announce: bool,
}

impl DeviceSettings {
    /// A quiet device answering as `auto` says, on a provider bound to the loopback `addr`
    /// for `issuer`, where every hint is a user (`ciba demo`).
    pub(crate) fn loopback(
        auto: Automatic,
        addr: SocketAddr,
        issuer: &str,
    ) -> Result<DeviceSettings, CliError> {
        Ok(DeviceSettings {
            auto,
            users: UserDirectory::EveryHint,
            access: DeviceAccess::new(addr, issuer, None, false)?,
            announce: false,
        })
    }
}

/// The development user directory and the device hook.
struct DevHooks {
    auto: Automatic,
    users: UserDirectory,
    announce: bool,
    events: broadcast::Sender<DecisionEvent>,
}

impl AuthorizationHooks for DevHooks {
    /// The user directory answers ([`UserDirectory::identify`]): without `--users`, any
    /// `login_hint` names a user (the subject is the hint) and an `id_token_hint` names the
    /// subject of the ID token (ciba-server verified it); with it, only listed users exist
    /// and their user codes are checked. `login_hint_token`s are not understood here:
    /// `unknown_user_id`.
    fn identify_user<'a>(
        &'a self,
        ticket: &'a Ticket,
    ) -> BoxFuture<'a, Result<String, FailReason>> {
        let subject = self.users.identify(
            &ticket.hint,
            ticket.user_code.as_ref(),
            ticket.user_code_required,
        );
        if self.announce {
            eprintln!("{}", device::request_line(ticket, &subject));
        }
        Box::pin(std::future::ready(subject))
    }

    /// Answers as `--auto` says (in the hook's own task: the acknowledgement has gone).
    fn authentication_requested(
        &self,
        request: PendingRequest,
        handle: AsHandle,
    ) -> BoxFuture<'_, ()> {
        let device = Device::new(handle, self.events.clone());
        Box::pin(async move {
            device
                .answer_automatically(&request.auth_req_id, self.auto)
                .await;
        })
    }
}

/// Where a provider keeps its state and what it signs with: what instances serving one
/// issuer share.
pub(crate) struct Backend {
    /// Pending requests (memory or Redis).
    pub(crate) store: Arc<dyn Store>,
    /// The ID token signing keys, published at `{issuer}/jwks`.
    pub(crate) keys: Arc<SigningKeySet>,
}

/// A running development provider.
#[derive(Debug)]
pub(crate) struct Provider {
    server: RunningServer,
    device: Device,
}

impl Provider {
    /// Serves `config`'s endpoints and the device page on `listener`, for the clients of
    /// `registry`, keeping state in `store` and signing ID tokens with `key`; the device
    /// answers, identifies users and admits page requests as `settings` says. The HTTP
    /// server runs within `limits`, over https with `tls` when it is given (client
    /// certificates reach the endpoints for mutual TLS). Under the
    /// FAPI-CIBA profile access tokens are RFC 9068 JWTs for the issuer (so their `cnf`
    /// binding can be read); otherwise they are opaque.
    pub(crate) fn start(
        listener: TcpListener,
        limits: ServeOptions,
        tls: Option<Arc<rustls::ServerConfig>>,
        config: ServerConfig,
        registry: StaticClientRegistry,
        backend: Backend,
        settings: DeviceSettings,
    ) -> Result<Provider, CliError> {
        let mut minter = DefaultTokenMinter::new(backend.keys);
        if config.profile.is_fapi() {
            minter.access_token_format = AccessTokenFormat::Jwt {
                audience: config.issuer.clone(),
            };
        }
        let ciba = CibaServer::try_new(config, Arc::new(registry), backend.store, Arc::new(minter))
            .map_err(|e| CliError::error(format!("cannot start the provider: {e}")))?
            .with_latency_clock(std::time::Instant::now);
        let events = broadcast::Sender::new(64);
        let hooks = DevHooks {
            auto: settings.auto,
            users: settings.users,
            announce: settings.announce,
            events: events.clone(),
        };
        let access = Arc::new(settings.access);
        let endpoints = AuthorizationServer::new(ciba, hooks);
        let device = Device::new(endpoints.handle(), events);
        let routed = device.clone();
        let handler = move |request: http::Request<_>| {
            let device = routed.clone();
            let access = Arc::clone(&access);
            let mut endpoints = endpoints.clone();
            async move {
                if device_page::is_device_path(request.uri().path()) {
                    // Boxed: the rarely taken branch does not size every request's future.
                    let response = Box::pin(device_page::handle(
                        &device,
                        &access,
                        request.method(),
                        request.uri(),
                        request.headers(),
                    ))
                    .await;
                    return http_server::full(response);
                }
                match endpoints.call(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        };
        let server = match tls {
            Some(tls) => serve_fn_tls_with(listener, limits, tls, handler),
            None => serve_fn_with(listener, limits, handler),
        }
        .map_err(|e| CliError::error(format!("cannot serve the provider: {e}")))?;
        Ok(Provider { server, device })
    }

    /// The authentication device.
    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    /// Stops serving.
    pub(crate) async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_issuer_is_the_bound_address() {
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(issuer_for(addr, None).unwrap(), "http://127.0.0.1:8080");
        let any: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(issuer_for(any, None).unwrap(), "http://127.0.0.1:9000");
    }

    #[test]
    fn a_non_loopback_issuer_must_be_https() {
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(issuer_for(addr, Some("http://op.example")).is_err());
        assert_eq!(
            issuer_for(addr, Some("https://op.example/")).unwrap(),
            "https://op.example"
        );
        assert!(issuer_for(addr, Some("http://localhost:8080")).is_ok());
    }

    #[test]
    fn a_loopback_issuer_allows_http_endpoints_and_loopback_notifications() {
        let keys = crate::keys::generate_key_set().unwrap();
        let config = server_config("http://127.0.0.1:8080", 2, 60, &keys).unwrap();
        assert_eq!(config.token_endpoint, "http://127.0.0.1:8080/token");
        assert_eq!(config.endpoint_policy, EndpointPolicy::ALLOW_HTTP_LOOPBACK);
        assert_eq!(config.egress_policy, EgressPolicy::allow_loopback());
        assert_eq!(config.interval, 2);
        let remote = server_config("https://op.example", 2, 60, &keys).unwrap();
        assert_eq!(remote.endpoint_policy, EndpointPolicy::HTTPS_ONLY);
        assert_eq!(remote.egress_policy, EgressPolicy::STRICT);
    }

    #[test]
    fn a_fapi_provider_is_https_with_the_profile_and_keeps_loopback_notifications() {
        let addr: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        let issuer = https_issuer_for(addr, None).unwrap();
        assert_eq!(issuer, "https://127.0.0.1:8443");
        let keys = crate::keys::generate_fapi_key_set().unwrap();
        let config = fapi_server_config(&issuer, 1, 60, &keys).unwrap();
        assert!(config.profile.is_fapi());
        assert_eq!(
            config.backchannel_authentication_endpoint,
            "https://127.0.0.1:8443/bc-authorize"
        );
        assert!(
            !config
                .delivery_modes
                .contains(&ciba_server::DeliveryMode::Push)
        );
        assert_eq!(config.endpoint_policy, EndpointPolicy::ALLOW_HTTP_LOOPBACK);
        assert_eq!(config.egress_policy, EgressPolicy::allow_loopback());
        assert_eq!(
            config.id_token_signing_algs,
            [
                ciba_core::jose::JwsAlgorithm::RS256,
                ciba_core::jose::JwsAlgorithm::ES256
            ]
        );
        let plain = crate::keys::generate_key_set().unwrap();
        // Without --fapi an https loopback issuer keeps its https-only endpoint policy.
        let https = server_config(&issuer, 1, 60, &plain).unwrap();
        assert_eq!(https.endpoint_policy, EndpointPolicy::HTTPS_ONLY);
    }

    #[test]
    fn the_default_key_set_puts_rs256_in_discovery() {
        let keys = crate::keys::generate_key_set().unwrap();
        let config = server_config("http://127.0.0.1:8080", 2, 60, &keys).unwrap();
        assert_eq!(
            config.id_token_signing_algs,
            [
                ciba_core::jose::JwsAlgorithm::RS256,
                ciba_core::jose::JwsAlgorithm::EdDSA
            ]
        );
    }
}
