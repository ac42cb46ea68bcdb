//! `ciba login --transport hyper`: the same flow through ciba-hyper's `CibaClient` (plain
//! http: this command gives it no TLS connector). Ping and push notifications reach it through
//! the receiver's registry (`CibaClientBuilder::notifications`); the client generates the
//! `client_notification_token` and validates pushed tokens itself.

use ciba_core::ValidatedTokens;
use ciba_hyper::{CibaClient, PollProgress};
use tokio::sync::watch;

use crate::error::{CliError, chain};
use crate::login::{Flow, acknowledged, discovery_error, finish, is_insecure_endpoint, refused};
use crate::outcome::Outcome;
use crate::progress::{Progress, mirror};

/// Runs `flow` with ciba-hyper's client.
pub(crate) async fn run(flow: Flow<'_>) -> Result<ValidatedTokens, CliError> {
    let mut builder = CibaClient::builder(flow.config.clone());
    if let Some(receiver) = flow.receiver {
        builder = builder.notifications(receiver.registry().clone());
    }
    if let Some(key) = flow.dpop.clone() {
        builder = builder.dpop(key);
    }
    let client = builder.discover(flow.issuer).await.map_err(|e| {
        let insecure = matches!(&e, ciba_hyper::Error::Core(core) if is_insecure_endpoint(core));
        discovery_error(&flow, &e, insecure)
    })?;
    let ack = client
        .initiate(flow.request)
        .await
        .map_err(|e| refused(&e))?;
    acknowledged(ack.expires_in);

    let progress = Progress::start(flow.mode.as_str());
    let (progress_tx, progress_rx) = watch::channel(PollProgress::default());
    let mirror = tokio::spawn(mirror(progress_rx, progress.clone()));
    let result = client.tokens_with_progress(&ack, &progress_tx).await;
    mirror.abort();
    let _ = mirror.await;
    let result = result.map_err(|e| {
        let message = chain(&e);
        (Outcome::of_hyper(&e, message.clone()), message)
    });
    finish(&progress, result)
}
