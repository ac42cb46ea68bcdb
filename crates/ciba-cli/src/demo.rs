//! `ciba demo`: a provider and a client on loopback, through poll, ping and push.
//!
//! The provider is ciba-hyper's authorization server over ciba-server with a memory store
//! and a simulated authentication device that answers after `--approve-after` seconds. The
//! client is ciba-hyper's `CibaClient`; ping and push notifications reach it through
//! ciba-hyper's `NotificationReceiver` on loopback. Progress goes to stderr, a table per mode
//! to stdout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ciba_client::FlowProgress;
use ciba_core::{
    AuthRequest, ClientAuth, ClientConfig, ClientSecret, EndpointPolicy, Hint, ValidatedTokens,
};
use ciba_hyper::{CibaClient, ClientOptions, HttpClient, NotificationReceiver};
use ciba_server::MemoryStore;
use tokio::sync::{broadcast, watch};

use crate::cli::{DemoArgs, Mode};
use crate::clients::{DemoClient, registry};
use crate::device::{Decision, DecisionEvent};
use crate::error::{CliError, chain};
use crate::http_server;
use crate::keys;
use crate::outcome::Outcome;
use crate::output::{FlowReport, claims_json, render_reports};
use crate::progress::{Progress, mirror};
use crate::provider::{self, Backend, DeviceSettings, Provider};

/// The user every demo flow asks for.
const DEMO_USER: &str = "alice@example.com";

/// Runs `ciba demo`. Succeeds when every flow ended as expected.
pub(crate) async fn run(args: DemoArgs) -> Result<(), CliError> {
    if args.approve_after >= args.expires_in {
        return Err(CliError::usage(format!(
            "--approve-after ({} s) must be shorter than --expires-in ({} s)",
            args.approve_after, args.expires_in
        )));
    }
    let listener = http_server::bind(([127, 0, 0, 1], 0).into(), "demo provider").await?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::error(format!("cannot read the bound address: {e}")))?;
    let issuer = provider::issuer_for(addr, None)?;
    let keys = Arc::new(keys::generate_key_set()?);
    let config = provider::server_config(&issuer, args.interval, args.expires_in, &keys)?;

    let modes = args.mode.modes();
    let mut receivers = HashMap::new();
    let mut clients = Vec::new();
    for &mode in &modes {
        let endpoint = if mode == Mode::Poll {
            None
        } else {
            let receiver = NotificationReceiver::bind("127.0.0.1:0")
                .await
                .map_err(|e| {
                    CliError::error(format!("cannot start the notification receiver: {e}"))
                })?;
            let url = receiver.url().to_string();
            receivers.insert(mode, receiver);
            Some(url)
        };
        clients.push(DemoClient::generate(mode, endpoint)?);
    }
    let registry = registry(clients.iter().map(DemoClient::metadata).collect(), &config)?;
    let decision = if args.deny {
        Decision::Deny
    } else {
        Decision::Approve
    };
    let after = Duration::from_secs(args.approve_after);
    let backend = Backend {
        store: Arc::new(MemoryStore::new()),
        keys,
    };
    let provider = Provider::start(
        listener,
        ciba_hyper::ServeOptions::default(),
        None,
        config,
        registry,
        backend,
        DeviceSettings::loopback(Some((decision, after)), addr, &issuer)?,
    )?;
    eprintln!(
        "demo: provider at {issuer}; the simulated user {} after {} s; interval {} s",
        match decision {
            Decision::Approve => "approves",
            Decision::Deny => "denies",
        },
        args.approve_after,
        args.interval
    );

    let expected = if args.deny {
        Outcome::AccessDenied
    } else {
        Outcome::Tokens
    };
    let mut reports = Vec::new();
    for client in &clients {
        let receiver = receivers.get(&client.mode);
        let report = run_flow(&issuer, client, receiver, &provider, expected.clone()).await;
        reports.push(report);
    }

    print!("{}", render_reports(&reports, args.deny));
    provider.shutdown().await;
    for (_, receiver) in receivers {
        receiver.shutdown().await;
    }
    let failed = reports.iter().filter(|r| !r.as_expected()).count();
    if failed == 0 {
        Ok(())
    } else {
        Err(CliError::error(format!(
            "{failed} of {} flows did not end as expected",
            reports.len()
        )))
    }
}

/// One flow: discovery, the backchannel request, the wait with progress; the report.
async fn run_flow(
    issuer: &str,
    client: &DemoClient,
    receiver: Option<&NotificationReceiver>,
    provider: &Provider,
    expected: Outcome,
) -> FlowReport {
    let started = Instant::now();
    let mut decisions = provider.device().subscribe();
    let progress = Progress::start(client.mode.as_str());
    let (tx, rx) = watch::channel(FlowProgress::default());
    let mirror = tokio::spawn(mirror(rx.clone(), progress.clone()));
    let result = flow(issuer, client, receiver, tx).await;
    let ended = Instant::now();
    mirror.abort();
    let _ = mirror.await;
    let token_requests = rx.borrow().poll.polls_sent;

    let auth_req_id = result
        .as_ref()
        .ok()
        .map(|(id, _)| id.clone())
        .or_else(|| match &result {
            Err(FlowError { auth_req_id, .. }) => auth_req_id.clone(),
            Ok(_) => None,
        });
    let decided_at = match auth_req_id.as_deref() {
        Some(id) => decision_time(&mut decisions, id).await,
        None => None,
    };
    let decision_to_result = decided_at.map(|at| ended.saturating_duration_since(at));

    let (outcome, claims) = match result {
        Ok((_, tokens)) => (Outcome::Tokens, Some(claims_json(&tokens.id_token))),
        Err(e) => (e.outcome, None),
    };
    let summary = match &outcome {
        Outcome::Tokens => "tokens received; ID token validated".to_owned(),
        other => format!("ended: {}", other.label()),
    };
    progress.finish(summary);
    FlowReport {
        mode: client.mode,
        outcome,
        expected,
        decision_to_result,
        token_requests,
        claims,
        total: ended.saturating_duration_since(started),
    }
}

/// Why a flow ended without tokens, and its `auth_req_id` when it got that far.
struct FlowError {
    outcome: Outcome,
    auth_req_id: Option<String>,
}

impl FlowError {
    fn setup(what: &str, e: &ciba_hyper::Error) -> FlowError {
        FlowError {
            outcome: Outcome::Failed(format!("{what}: {}", chain(e))),
            auth_req_id: None,
        }
    }
}

async fn flow(
    issuer: &str,
    client: &DemoClient,
    receiver: Option<&NotificationReceiver>,
    progress: watch::Sender<FlowProgress>,
) -> Result<(String, ValidatedTokens), FlowError> {
    let secret = ClientSecret::new(client.client_secret.clone());
    let mut config = ClientConfig::new(
        client.client_id.clone(),
        ClientAuth::SecretBasic(secret),
        client.mode.delivery_mode(),
    );
    // The issuer is loopback: plain http is allowed there, by this explicit opt-in.
    config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    config.notification_endpoint = client.notification_endpoint.clone();
    let mut options = ClientOptions::default();
    if let Some(receiver) = receiver {
        options = options.notifications(receiver.registry().clone());
    }
    let ciba = CibaClient::discover(HttpClient::http(), issuer, config, options)
        .await
        .map_err(|e| FlowError::setup("discovery", &e))?;
    let request = AuthRequest::new(Hint::LoginHint(DEMO_USER.to_owned()))
        .scope(["openid", "profile"])
        .binding_message(format!("DEMO {}", client.mode.as_str().to_uppercase()));
    let ack = ciba
        .initiate(request)
        .await
        .map_err(|e| FlowError::setup("backchannel authentication request", &e))?;
    let auth_req_id = ack.auth_req_id.as_str().to_owned();
    match ciba.wait_for_tokens(&ack).progress(progress).await {
        Ok(tokens) => Ok((auth_req_id, tokens)),
        Err(e) => Err(FlowError {
            outcome: Outcome::of_client(&e, chain(&e)),
            auth_req_id: Some(auth_req_id),
        }),
    }
}

/// When the simulated user answered `auth_req_id`. The device announces a decision once it
/// is recorded, which for push may be just after the client already has the tokens: wait a
/// moment for it.
async fn decision_time(
    events: &mut broadcast::Receiver<DecisionEvent>,
    id: &str,
) -> Option<Instant> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(e)) if e.request.auth_req_id == id => return Some(e.at),
            Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return None,
        }
    }
}
