//! `ciba login`'s flow, once for every transport: discovery, the backchannel request, and the
//! wait with progress, through ciba-client's `CibaClient` over whichever `HttpSend` adapter
//! `--transport` picked. Ping and push notifications reach the wait through the registry of
//! ciba-hyper's notification receiver.

use ciba_client::{CibaClient, ClientOptions, FlowProgress, HttpSend};
use ciba_core::ValidatedTokens;
use tokio::sync::watch;

use crate::error::{CliError, chain};
use crate::login::{Flow, acknowledged, discovery_error, finish, is_insecure_endpoint, refused};
use crate::outcome::Outcome;
use crate::progress::{Progress, mirror};

/// Runs `flow` through `http`.
pub(crate) async fn run<S: HttpSend>(http: S, flow: Flow<'_>) -> Result<ValidatedTokens, CliError> {
    let mut options = ClientOptions::default();
    if let Some(receiver) = flow.receiver {
        options = options.notifications(receiver.registry().clone());
    }
    if let Some(key) = flow.dpop.clone() {
        options = options.dpop(key);
    }
    if let Some(decrypter) = flow.decrypter.clone() {
        // Every ID token (token endpoint and push) must then be encrypted to our key.
        options = options.validator(move |v| v.decrypter(decrypter.clone()));
    }
    let client = CibaClient::discover(http, flow.issuer, flow.config.clone(), options)
        .await
        .map_err(|e| {
            let insecure =
                matches!(&e, ciba_client::Error::Core(core) if is_insecure_endpoint(core));
            discovery_error(&flow, &e, insecure)
        })?;
    let ack = client
        .initiate(flow.request)
        .await
        .map_err(|e| refused(&e))?;
    acknowledged(ack.expires_in);

    let progress = Progress::start(flow.mode.as_str());
    let (progress_tx, progress_rx) = watch::channel(FlowProgress::default());
    let mirror = tokio::spawn(mirror(progress_rx, progress.clone()));
    let result = client.wait_for_tokens(&ack).progress(progress_tx).await;
    let _ = mirror.await;
    let result = result.map_err(|e| {
        let message = chain(&e);
        (Outcome::of_client(&e, message.clone()), message)
    });
    finish(&progress, result)
}
