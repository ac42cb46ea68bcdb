//! `ciba serve`: a development CIBA provider with an authentication-device page.
//!
//! Start-up output (stdout), in this order, so scripts and tests can read it:
//!
//! ```text
//! issuer: http://127.0.0.1:41234
//! device page: http://127.0.0.1:41234/device
//! client: client_id=demo-poll client_secret=... mode=poll
//! client: client_id=demo-ping client_secret=... mode=ping notification_endpoint=http://127.0.0.1:41235/ciba/notify
//! client: client_id=demo-push client_secret=... mode=push notification_endpoint=http://127.0.0.1:41236/ciba/notify
//! ```
//!
//! With `--fapi` the provider serves https (`--tls-cert`, `--tls-key`) under the FAPI-CIBA
//! profile, the issuer is `https://...`, and `--clients` is required.
//!
//! With a device access secret (`--device-secret`, required on a non-loopback `--addr`),
//! a generated one is in the device page line (`device page: .../device?secret=...`); one
//! given on the command line is not printed. Every request that arrives is printed on
//! stderr, client text escaped ([`crate::device::request_line`]).
//!
//! With `--metrics ADDR`, a last line `metrics: http://HOST:PORT/metrics` names the bound
//! metrics endpoint.
//!
//! The `client:` lines appear only without `--clients`. The demo ping and push clients are
//! registered with notification endpoints on the two ports after the provider's; run
//! `ciba login --listen <that address>` to receive their notifications.
//!
//! Several instances serve one issuer when they share `--store redis://...`, `--clients`,
//! `--signing-key` and `--issuer`: every instance advertises that issuer and its endpoint
//! URLs, and answers on their paths, so a request started on one instance can be polled and
//! redeemed on any other, and every instance's device page lists and decides it (the list
//! comes from the store).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use ciba_hyper::server::tls::{ClientCertificates, server_config};
use ciba_hyper::tls::rustls;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::broadcast;

use crate::cli::{Mode, ServeArgs, StoreArg};
use crate::clients::{DemoClient, load_clients_file, registry};
use crate::device::{self, DecisionEvent, automatic};
use crate::device_access::{DeviceAccess, DeviceSecret};
use crate::error::CliError;
use crate::http_server;
use crate::keys;
use crate::metrics_endpoint::{self, MetricsEndpoint};
use crate::provider::{self, Backend, DeviceSettings, Provider};
use crate::store;
use crate::users::UserDirectory;

/// The path of demo clients' notification endpoints.
const NOTIFY_PATH: &str = "/ciba/notify";

/// Runs `ciba serve` until Ctrl-C (or SIGTERM).
pub(crate) async fn run(args: ServeArgs) -> Result<(), CliError> {
    // Usage errors first, then the store check, before anything listens.
    let file_clients = args.clients.as_deref().map(load_clients_file).transpose()?;
    let users = match &args.users {
        Some(path) => UserDirectory::load(path)?,
        None => UserDirectory::EveryHint,
    };
    // A non-loopback bind without a secret stops here, before anything listens.
    let device_secret = DeviceSecret::for_bind(args.addr, args.device_secret.as_deref())?;
    let tls = if args.fapi {
        Some(Arc::new(tls_config(&args)?))
    } else {
        None
    };
    let keys = Arc::new(if !args.signing_keys.is_empty() {
        keys::load_key_set(&args.signing_keys)?
    } else if args.fapi {
        keys::generate_fapi_key_set()?
    } else {
        keys::generate_key_set()?
    });
    // Installed before anything is served, so no count is lost.
    let recorder = args
        .metrics
        .map(|_| metrics_endpoint::install_recorder())
        .transpose()?;
    let store = store::open(&args).await?;
    let listener = http_server::bind(args.addr, "provider").await?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::error(format!("cannot read the bound address: {e}")))?;
    let (issuer, mut config) = if args.fapi {
        let issuer = provider::https_issuer_for(addr, args.issuer.as_deref())?;
        let config = provider::fapi_server_config(&issuer, args.interval, args.expires_in, &keys)?;
        (issuer, config)
    } else {
        let issuer = provider::issuer_for(addr, args.issuer.as_deref())?;
        let config = provider::server_config(&issuer, args.interval, args.expires_in, &keys)?;
        (issuer, config)
    };
    config.user_code_supported = users.has_user_codes();
    let (clients, demo) = match file_clients {
        Some(clients) => (clients, Vec::new()),
        None => {
            let demo = demo_clients(addr, provider::is_loopback(&issuer))?;
            (demo.iter().map(DemoClient::metadata).collect(), demo)
        }
    };
    let registry = registry(clients, &config)?;
    let backend = Backend { store, keys };
    let settings = DeviceSettings {
        auto: automatic(args.auto),
        users,
        access: DeviceAccess::new(
            addr,
            &issuer,
            device_secret.secret().cloned(),
            tls.is_some(),
        )?,
        announce: true,
    };
    let provider = Provider::start(
        listener,
        args.serve_options(),
        tls,
        config,
        registry,
        backend,
        settings,
    )?;
    let metrics = match (args.metrics, recorder) {
        (Some(addr), Some(recorder)) => {
            Some(MetricsEndpoint::start(addr, recorder, provider.device().handle().clone()).await?)
        }
        _ => None,
    };
    let shutdown = install_shutdown_signal()?;

    println!("issuer: {issuer}");
    match &device_secret {
        DeviceSecret::Generated(secret) => {
            println!("device page: {issuer}/device?secret={}", secret.expose());
        }
        DeviceSecret::None | DeviceSecret::Given(_) => println!("device page: {issuer}/device"),
    }
    if device_secret.secret().is_some() {
        eprintln!(
            "ciba serve: the device page needs the device access secret: open the device page \
             URL with ?secret=<secret> once, or send the Ciba-Device-Secret header"
        );
    }
    for client in &demo {
        println!("{}", client.describe());
    }
    if let Some(metrics) = &metrics {
        println!("metrics: http://{}/metrics", metrics.local_addr());
    }
    eprintln!(
        "ciba serve: listening on {addr}; store: {}; the device answers: {}. Ctrl-C stops.",
        match args.store {
            StoreArg::Memory => "memory",
            StoreArg::Redis(_) => "redis",
        },
        args.auto
    );
    let log = tokio::spawn(log_decisions(provider.device().subscribe()));
    shutdown.await;
    log.abort();
    provider.shutdown().await;
    if let Some(metrics) = metrics {
        metrics.shutdown().await;
    }
    eprintln!("ciba serve: stopped");
    Ok(())
}

/// The https configuration of `--fapi`: the `--tls-cert` chain and `--tls-key` key (PEM);
/// client certificates are requested but optional, and any certificate whose private key
/// the client proves is accepted (ciba-server then matches it against the client's
/// registered keys for `self_signed_tls_client_auth`). Every failure is a usage error naming
/// the file.
fn tls_config(args: &ServeArgs) -> Result<rustls::ServerConfig, CliError> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Err(CliError::usage("--fapi needs --tls-cert and --tls-key"));
    };
    let unreadable = |path: &std::path::Path, what: &str, e: &dyn std::fmt::Display| {
        CliError::usage(format!("cannot read the {what} {}: {e}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| unreadable(cert, "TLS certificate file", &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(cert, "TLS certificate file", &e))?;
    if chain.is_empty() {
        return Err(CliError::usage(format!(
            "the TLS certificate file {} holds no certificate",
            cert.display()
        )));
    }
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| unreadable(key, "TLS key file", &e))?;
    server_config(chain, private, ClientCertificates::SelfSigned).map_err(|e| {
        CliError::usage(format!(
            "{} and {} cannot serve https: {e}",
            cert.display(),
            key.display()
        ))
    })
}

/// One demo client per mode; ping and push get notification endpoints on the next two
/// ports (loopback issuers only: elsewhere notification endpoints must be https).
fn demo_clients(addr: SocketAddr, loopback: bool) -> Result<Vec<DemoClient>, CliError> {
    let mut clients = vec![DemoClient::generate(Mode::Poll, None)?];
    if !loopback {
        eprintln!(
            "ciba serve: only the poll demo client is registered (ping and push need https notification endpoints; use --clients)"
        );
        return Ok(clients);
    }
    let host = if addr.ip().is_unspecified() || !addr.ip().is_loopback() {
        "127.0.0.1".to_owned()
    } else {
        match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    };
    for (offset, mode) in [(1u16, Mode::Ping), (2, Mode::Push)] {
        let Some(port) = addr.port().checked_add(offset) else {
            continue;
        };
        let endpoint = format!("http://{host}:{port}{NOTIFY_PATH}");
        clients.push(DemoClient::generate(mode, Some(endpoint))?);
    }
    Ok(clients)
}

/// Prints each decision on stderr.
async fn log_decisions(mut events: broadcast::Receiver<DecisionEvent>) {
    loop {
        match events.recv().await {
            Ok(e) => eprintln!("{}", device::decision_line(&e)),
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// Waits for Ctrl-C (or SIGTERM on Unix). The handlers are installed when this is called,
/// before the start-up lines are printed, so a signal sent right after them is not lost.
fn install_shutdown_signal() -> Result<Pin<Box<dyn Future<Output = ()> + Send>>, CliError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| {
            signal(kind)
                .map_err(|e| CliError::error(format!("cannot install the signal handler: {e}")))
        };
        let mut interrupt = install(SignalKind::interrupt())?;
        let mut terminate = install(SignalKind::terminate())?;
        Ok(Box::pin(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }
}
