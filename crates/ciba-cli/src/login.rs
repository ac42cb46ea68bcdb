//! `ciba login`: one CIBA flow against any provider, through ciba-reqwest (TLS, discovery,
//! JWKS cache, polling). Progress on stderr; the validated token response and the ID token
//! claims as JSON on stdout.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;

use ciba_core::DpopKey;
use ciba_core::auth_request::check_client_notification_token;
use ciba_core::jose::{Jwk, JwkSigner, JwsAlgorithm};
use ciba_core::random::OsRandom;
use ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, EndpointPolicy, Hint};
use ciba_reqwest::{CibaClient, ClientOptions, PollPhase, PollProgress};
use tokio::sync::watch;

use crate::cli::{LoginArgs, Mode};
use crate::clients::random_secret;
use crate::error::{CliError, chain};
use crate::outcome::Outcome;
use crate::output::login_json;
use crate::progress::Progress;
use crate::receiver::LoginReceiver;

/// Runs `ciba login`.
pub(crate) async fn run(args: LoginArgs) -> Result<(), CliError> {
    let auth = client_auth(&args)?;
    let request = auth_request(&args)?;
    let notification_token = match (args.mode, &args.notification_token) {
        (Mode::Poll, _) => None,
        (_, Some(token)) => {
            check_client_notification_token(token)
                .map_err(|e| CliError::usage(format!("--notification-token is not usable: {e}")))?;
            Some(token.clone())
        }
        (_, None) => Some(random_secret()?),
    };
    let (request, mut receiver) = match notification_token {
        None => (request, None),
        Some(token) => {
            let receiver = LoginReceiver::bind(args.listen, args.mode, token.clone()).await?;
            eprintln!(
                "notification endpoint: {} (register it as the client's backchannel_client_notification_endpoint)",
                receiver.url()
            );
            (request.client_notification_token(token), Some(receiver))
        }
    };

    let mut config = ClientConfig::new(args.client_id.clone(), auth, args.mode.delivery_mode());
    config.endpoint_policy = if args.allow_insecure_loopback {
        EndpointPolicy::ALLOW_HTTP_LOOPBACK
    } else {
        EndpointPolicy::HTTPS_ONLY
    };
    config.notification_endpoint = receiver.as_ref().map(|r| r.url().to_owned());
    config.user_code_parameter = args.user_code.is_some();
    let mut options = ClientOptions::default();
    if args.dpop {
        let key = JwkSigner::generate_ed25519(&OsRandom, None)
            .map_err(|e| CliError::error(format!("cannot generate a DPoP key: {e}")))
            .and_then(|signer| {
                DpopKey::from_signer(signer)
                    .map_err(|e| CliError::error(format!("cannot use the DPoP key: {e}")))
            })?;
        options = options.dpop(key);
    }

    let client = CibaClient::discover(&args.issuer, config, options)
        .await
        .map_err(|e| discovery_error(&args, &e))?;
    let ack = client.initiate(request).await.map_err(|e| {
        CliError::error(format!(
            "the provider refused the authentication request: {}",
            chain(&e)
        ))
    })?;
    eprintln!(
        "authentication request accepted: expires in {} s; waiting for the user",
        ack.expires_in.as_secs()
    );
    if let Some(r) = &receiver {
        r.expect(client.clone(), ack.auth_req_id.as_str());
    }

    let progress = Progress::start(args.mode.as_str());
    let (progress_tx, progress_rx) = watch::channel(PollProgress::initial(&ack));
    let mirror = tokio::spawn(mirror_progress(progress_rx, progress.clone()));
    let wait = client.wait_for_tokens(&ack).progress(progress_tx);
    let result = match receiver.as_mut().and_then(LoginReceiver::events) {
        Some(mut events) => wait.notifications(&mut events).await,
        None => wait.await,
    };
    mirror.abort();
    let _ = mirror.await;
    if let Some(r) = receiver {
        r.shutdown().await;
    }
    match result {
        Ok(tokens) => {
            progress.finish(format!(
                "tokens received; ID token validated (sub {})",
                tokens.id_token.sub
            ));
            let json = serde_json::to_string_pretty(&login_json(&tokens))
                .map_err(|e| CliError::error(format!("cannot print the tokens: {e}")))?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}")
                .map_err(|e| CliError::error(format!("cannot write to stdout: {e}")))?;
            Ok(())
        }
        Err(e) => {
            let message = chain(&e);
            let outcome = Outcome::of_reqwest(&e, message.clone());
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

/// Shows ciba-reqwest's progress snapshots on the spinner.
async fn mirror_progress(mut rx: watch::Receiver<PollProgress>, progress: Progress) {
    loop {
        {
            let p = rx.borrow_and_update().clone();
            if p.phase != PollPhase::Finished {
                progress.update(|s| {
                    s.phase = match p.phase {
                        PollPhase::Requesting => "asking the token endpoint",
                        PollPhase::AwaitingPush => "waiting for the push delivery",
                        _ => "waiting for the user",
                    }
                    .to_owned();
                    s.expires_at = Some(p.expires_at);
                    s.interval = (p.phase != PollPhase::AwaitingPush && !p.interval.is_zero())
                        .then_some(p.interval);
                    s.token_requests = p.polls_sent;
                });
            }
        }
        if rx.changed().await.is_err() {
            break;
        }
    }
}

/// The client authentication method from `--client-secret`/`--private-key` and
/// `--auth-method`.
fn client_auth(args: &LoginArgs) -> Result<ClientAuth, CliError> {
    let method = args.auth_method.as_deref();
    match (&args.client_secret, &args.private_key) {
        (Some(secret), None) => {
            let secret = ClientSecret::new(secret.clone());
            match method.unwrap_or("client_secret_basic") {
                "client_secret_basic" => Ok(ClientAuth::SecretBasic(secret)),
                "client_secret_post" => Ok(ClientAuth::SecretPost(secret)),
                "client_secret_jwt" => ClientAuth::secret_jwt(JwsAlgorithm::HS256, &secret)
                    .map_err(|e| CliError::usage(format!("cannot use the client secret: {e}"))),
                "private_key_jwt" => Err(CliError::usage(
                    "--auth-method private_key_jwt needs --private-key FILE.jwk",
                )),
                other => Err(unknown_method(other)),
            }
        }
        (None, Some(path)) => match method.unwrap_or("private_key_jwt") {
            "private_key_jwt" => Ok(ClientAuth::private_key_jwt(load_signer(path)?)),
            "client_secret_basic" | "client_secret_post" | "client_secret_jwt" => {
                Err(CliError::usage(format!(
                    "--auth-method {} needs --client-secret",
                    method.unwrap_or_default()
                )))
            }
            other => Err(unknown_method(other)),
        },
        _ => Err(CliError::usage(
            "give exactly one of --client-secret and --private-key",
        )),
    }
}

fn unknown_method(name: &str) -> CliError {
    CliError::usage(format!(
        "unknown --auth-method {name:?}: use client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt"
    ))
}

/// A signer from a private JWK file (its `alg` member names the algorithm).
fn load_signer(path: &Path) -> Result<JwkSigner, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the private key file {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    let jwk = Jwk::from_json(&bytes)
        .map_err(|e| CliError::usage(format!("{} is not a private JWK: {e}", path.display())))?;
    if !jwk.is_private() {
        return Err(CliError::usage(format!(
            "{} holds a public key; private_key_jwt needs the private key",
            path.display()
        )));
    }
    JwkSigner::from_jwk(&jwk, None)
        .map_err(|e| CliError::usage(format!("the key in {} cannot sign: {e}", path.display())))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
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

/// A discovery failure, with a hint at the likely fix.
fn discovery_error(args: &LoginArgs, e: &ciba_reqwest::Error) -> CliError {
    let mut message = format!("discovery at {} failed: {}", args.issuer, chain(e));
    let insecure = matches!(
        e,
        ciba_reqwest::Error::Core(ciba_core::Error::Config(
            ciba_core::ConfigError::InsecureEndpoint { .. }
        ))
    );
    if insecure && !args.allow_insecure_loopback {
        message.push_str(" (add --allow-insecure-loopback for a provider on this machine)");
    } else if !message.contains("issuer mismatch") {
        message.push_str(" (check --issuer)");
    }
    CliError::error(message)
}
