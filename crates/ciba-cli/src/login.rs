//! `ciba login`: one CIBA flow against any provider. The options become a ciba-core
//! `ClientConfig` and `AuthRequest` here; the flow runs through ciba-client's one client
//! ([`crate::login_flow`]) over the reqwest adapter (TLS) or, with `--transport hyper`, the
//! hyper one. Ping and push notifications arrive at ciba-hyper's `NotificationReceiver` on
//! `--listen` either way. Progress on stderr; the validated token response and the ID token
//! claims as JSON on stdout.

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::Arc;

use ciba_core::jose::jwe::JweDecrypter;
use ciba_core::jose::{JwkSigner, JwsAlgorithm};
use ciba_core::random::OsRandom;
use ciba_core::wire::check_client_notification_token;
use ciba_core::{
    AuthRequest, ClientAuth, ClientConfig, ClientSecret, DpopKey, EndpointPolicy, Hint,
    ValidatedTokens,
};
use ciba_hyper::{NotificationReceiver, NotificationRegistry};
use url::Url;

use crate::cli::{LoginArgs, Mode, Transport};
use crate::error::{CliError, chain};
use crate::http_server;
use crate::keys::{KeyUse, load_decrypter, load_signer};
use crate::login_flow;
use crate::outcome::Outcome;
use crate::output::login_json;
use crate::progress::Progress;

/// The path printed in the notification endpoint URL (the receiver answers on every path;
/// `ciba serve` registers its demo clients with this one).
const NOTIFY_PATH: &str = "ciba/notify";

/// What a flow needs, whichever client runs it.
pub(crate) struct Flow<'a> {
    /// `--issuer`.
    pub(crate) issuer: &'a str,
    /// The client: id, authentication, mode, endpoint policy, notification endpoint.
    pub(crate) config: ClientConfig,
    /// The backchannel authentication request (with `--notification-token`, if given).
    pub(crate) request: AuthRequest,
    /// The DPoP key, with `--dpop`.
    pub(crate) dpop: Option<DpopKey>,
    /// The ID token decrypter, with `--decryption-key`.
    pub(crate) decrypter: Option<Arc<JweDecrypter>>,
    /// Ping and push: the running notification receiver.
    pub(crate) receiver: Option<&'a NotificationReceiver>,
    /// `--mode`.
    pub(crate) mode: Mode,
    /// `--allow-insecure-loopback` (for the hint in discovery errors).
    pub(crate) allow_insecure_loopback: bool,
}

/// Runs `ciba login`.
pub(crate) async fn run(args: LoginArgs) -> Result<(), CliError> {
    check_transport(&args)?;
    let auth = client_auth(&args)?;
    let mut request = auth_request(&args)?;
    let notification_token = notification_token(&args)?;
    if let Some(token) = &notification_token {
        request = request.client_notification_token(token.clone());
    }
    let dpop = if args.dpop { Some(dpop_key()?) } else { None };
    let decrypter = match &args.decryption_key {
        Some(path) => Some(Arc::new(load_decrypter(path, &args.id_token_enc)?)),
        None => None,
    };
    let receiver = match args.mode {
        Mode::Poll => None,
        Mode::Ping | Mode::Push => Some(bind_receiver(&args).await?),
    };
    let endpoint = receiver
        .as_ref()
        .map(|r| format!("{}{NOTIFY_PATH}", r.url()));
    if let Some(url) = &endpoint {
        eprintln!(
            "notification endpoint: {url} (register it as the client's backchannel_client_notification_endpoint)"
        );
    }

    let mut config = ClientConfig::new(args.client_id.clone(), auth, args.mode.delivery_mode());
    config.endpoint_policy = if args.allow_insecure_loopback {
        EndpointPolicy::ALLOW_HTTP_LOOPBACK
    } else {
        EndpointPolicy::HTTPS_ONLY
    };
    config.notification_endpoint = endpoint;
    config.user_code_parameter = args.user_code.is_some();
    let flow = Flow {
        issuer: &args.issuer,
        config,
        request,
        dpop,
        decrypter,
        receiver: receiver.as_ref(),
        mode: args.mode,
        allow_insecure_loopback: args.allow_insecure_loopback,
    };
    let result = match args.transport {
        Transport::Reqwest => match ciba_reqwest::HttpClient::new() {
            Ok(http) => login_flow::run(http, flow).await,
            Err(e) => Err(CliError::error(format!(
                "cannot build the HTTP client: {}",
                chain(&e)
            ))),
        },
        Transport::Hyper => login_flow::run(ciba_hyper::HttpClient::http(), flow).await,
    };
    if let Some(r) = receiver {
        r.shutdown().await;
    }
    let json = serde_json::to_string_pretty(&login_json(&result?))
        .map_err(|e| CliError::error(format!("cannot print the tokens: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}").map_err(|e| CliError::error(format!("cannot write to stdout: {e}")))
}

/// Checks the options `--transport` rules out: the hyper adapter has no TLS connector in
/// this command.
fn check_transport(args: &LoginArgs) -> Result<(), CliError> {
    if args.transport != Transport::Hyper {
        return Ok(());
    }
    if Url::parse(&args.issuer).is_ok_and(|u| u.scheme() == "https") {
        return Err(CliError::usage(format!(
            "--transport hyper cannot reach {}: the hyper transport in this CLI has no TLS connector (use an http issuer, or --transport reqwest)",
            args.issuer
        )));
    }
    Ok(())
}

/// Ping and push: `--notification-token`, checked; without it the client generates one.
fn notification_token(args: &LoginArgs) -> Result<Option<String>, CliError> {
    match (args.mode, &args.notification_token) {
        (Mode::Poll, _) | (_, None) => Ok(None),
        (_, Some(token)) => {
            check_client_notification_token(token)
                .map_err(|e| CliError::usage(format!("--notification-token is not usable: {e}")))?;
            Ok(Some(token.clone()))
        }
    }
}

/// A fresh DPoP key (`--dpop`).
fn dpop_key() -> Result<DpopKey, CliError> {
    let signer = JwkSigner::generate_ed25519(&OsRandom, None)
        .map_err(|e| CliError::error(format!("cannot generate a DPoP key: {e}")))?;
    DpopKey::from_signer(signer)
        .map_err(|e| CliError::error(format!("cannot use the DPoP key: {e}")))
}

/// ciba-hyper's notification receiver on `--listen`.
async fn bind_receiver(args: &LoginArgs) -> Result<NotificationReceiver, CliError> {
    let listener = http_server::bind(args.listen, "notification endpoint").await?;
    NotificationReceiver::serve(listener, NotificationRegistry::new())
        .map_err(|e| CliError::error(format!("cannot start the notification endpoint: {e}")))
}

/// Prints the acknowledgement on stderr.
pub(crate) fn acknowledged(expires_in: std::time::Duration) {
    eprintln!(
        "authentication request accepted: expires in {} s; waiting for the user",
        expires_in.as_secs()
    );
}

/// Ends the spinner with the result, and turns a failure into the error to exit with.
pub(crate) fn finish(
    progress: &Progress,
    result: Result<ValidatedTokens, (Outcome, String)>,
) -> Result<ValidatedTokens, CliError> {
    match result {
        Ok(tokens) => {
            progress.finish(format!(
                "tokens received; ID token validated (sub {})",
                tokens.id_token.sub
            ));
            Ok(tokens)
        }
        Err((outcome, message)) => {
            progress.finish(format!("ended without tokens: {}", outcome.label()));
            let text = match &outcome {
                Outcome::AccessDenied => format!("access_denied: {message}"),
                Outcome::Expired => format!("expired_token: {message}"),
                _ => message,
            };
            Err(CliError::new(outcome.failure(), text))
        }
    }
}

/// The provider refused the backchannel authentication request.
pub(crate) fn refused(e: &(dyn std::error::Error + 'static)) -> CliError {
    CliError::error(format!(
        "the provider refused the authentication request: {}",
        chain(e)
    ))
}

/// A discovery failure, with a hint at the likely fix. `insecure`: ciba-core refused a plain
/// http endpoint.
pub(crate) fn discovery_error(
    flow: &Flow<'_>,
    e: &(dyn std::error::Error + 'static),
    insecure: bool,
) -> CliError {
    let mut message = format!("discovery at {} failed: {}", flow.issuer, chain(e));
    if insecure && !flow.allow_insecure_loopback {
        message.push_str(" (add --allow-insecure-loopback for a provider on this machine)");
    } else if !message.contains("issuer mismatch") {
        message.push_str(" (check --issuer)");
    }
    CliError::error(message)
}

/// True when ciba-core refused an endpoint for being plain http.
pub(crate) fn is_insecure_endpoint(e: &ciba_core::Error) -> bool {
    matches!(
        e,
        ciba_core::Error::Config(ciba_core::ConfigError::InsecureEndpoint { .. })
    )
}

/// The environment variable `ciba login` reads the client secret from.
pub(crate) const CLIENT_SECRET_ENV: &str = "CIBA_CLIENT_SECRET";

/// The client secret: `--client-secret-file`, `--client-secret` (with a warning: the process
/// list shows it), or the `CIBA_CLIENT_SECRET` environment variable, in that order. `None`
/// when none is given.
fn client_secret(args: &LoginArgs) -> Result<Option<ClientSecret>, CliError> {
    if let Some(path) = &args.client_secret_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!(
                "cannot read --client-secret-file {}: {e}",
                path.display()
            ))
        })?;
        let secret = text.trim_end_matches(['\r', '\n']);
        if secret.is_empty() {
            return Err(CliError::usage(format!(
                "--client-secret-file {} is empty",
                path.display()
            )));
        }
        return Ok(Some(ClientSecret::new(secret)));
    }
    if let Some(secret) = &args.client_secret {
        eprintln!(
            "warning: --client-secret is visible to other users in the process list; prefer --client-secret-file or {CLIENT_SECRET_ENV}"
        );
        return Ok(Some(ClientSecret::new(secret.clone())));
    }
    if args.private_key.is_some() {
        return Ok(None);
    }
    Ok(std::env::var(CLIENT_SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new))
}

/// The client authentication method from the secret (see [`client_secret`]) or
/// `--private-key`, and `--auth-method`.
fn client_auth(args: &LoginArgs) -> Result<ClientAuth, CliError> {
    let method = args.auth_method.as_deref();
    match (client_secret(args)?, &args.private_key) {
        (Some(secret), None) => match method.unwrap_or("client_secret_basic") {
            "client_secret_basic" => Ok(ClientAuth::SecretBasic(secret)),
            "client_secret_post" => Ok(ClientAuth::SecretPost(secret)),
            "client_secret_jwt" => ClientAuth::secret_jwt(JwsAlgorithm::HS256, &secret)
                .map_err(|e| CliError::usage(format!("cannot use the client secret: {e}"))),
            "private_key_jwt" => Err(CliError::usage(
                "--auth-method private_key_jwt needs --private-key FILE.jwk",
            )),
            other => Err(unknown_method(other)),
        },
        (None, Some(path)) => match method.unwrap_or("private_key_jwt") {
            "private_key_jwt" => Ok(ClientAuth::private_key_jwt(load_signer(
                path,
                KeyUse::ClientAuthentication,
            )?)),
            "client_secret_basic" | "client_secret_post" | "client_secret_jwt" => {
                Err(CliError::usage(format!(
                    "--auth-method {} needs --client-secret",
                    method.unwrap_or_default()
                )))
            }
            other => Err(unknown_method(other)),
        },
        _ => Err(CliError::usage(format!(
            "give exactly one of --client-secret-file, {CLIENT_SECRET_ENV}, --client-secret and --private-key"
        ))),
    }
}

fn unknown_method(name: &str) -> CliError {
    CliError::usage(format!(
        "unknown --auth-method {name:?}: use client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt"
    ))
}

/// The backchannel authentication request from the options.
fn auth_request(args: &LoginArgs) -> Result<AuthRequest, CliError> {
    let hint = match (
        &args.login_hint,
        &args.id_token_hint,
        &args.login_hint_token,
    ) {
        (Some(h), None, None) => Hint::LoginHint(h.clone()),
        (None, Some(h), None) => Hint::IdTokenHint(h.clone()),
        (None, None, Some(h)) => Hint::LoginHintToken(h.clone()),
        _ => {
            return Err(CliError::usage(
                "give exactly one of --login-hint, --id-token-hint and --login-hint-token",
            ));
        }
    };
    let scopes: Vec<&str> = args.scope.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        return Err(CliError::usage("--scope must include openid"));
    }
    let mut request = AuthRequest::new(hint).scope(scopes);
    if let Some(m) = &args.binding_message {
        request = request.binding_message(m.clone());
    }
    if let Some(c) = &args.user_code {
        request = request.user_code(c.clone());
    }
    if let Some(n) = args.requested_expiry.and_then(NonZeroU32::new) {
        request = request.requested_expiry(n);
    }
    Ok(request)
}
