//! A relying party that signs a user in through the `reqwest::Client` it already has (its
//! connection pool, proxy and root certificates), with ciba-reqwest.
//!
//! ```text
//!  the application's reqwest::Client ─► ciba_reqwest::HttpClient::from_client
//!    ─► CibaClient::discover ─► initiate (poll mode) ─► wait_for_tokens ─► validated ID token
//! ```
//!
//! ciba needs one thing of that client: it must not follow redirects (a redirect at the
//! backchannel or token endpoint would carry the client's credentials elsewhere). The
//! adapter refuses any response that did not come from the URL it asked.

use std::time::Duration;

use ciba_core::EndpointPolicy;
use ciba_core::ValidatedTokens;
use ciba_core::{AuthRequest, ClientAuth, ClientConfig, ClientSecret, DeliveryMode, Hint};
use ciba_reqwest::{CibaClient, ClientOptions, HttpClient};

/// The reqwest client an application would build once and share: no redirects, a timeout.
pub fn application_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
}

/// Who signs in, where, as which client.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The OP's issuer identifier.
    pub issuer: String,
    /// The registered poll-mode client.
    pub client_id: String,
    /// Its secret (`client_secret_basic`).
    pub client_secret: String,
    /// The user's `login_hint`.
    pub login_hint: String,
    /// The short text the user sees on both devices.
    pub binding_message: String,
    /// Accept plain `http` for a loopback issuer (development only).
    pub allow_http_loopback: bool,
}

/// Runs a poll-mode CIBA flow through `http` and returns the validated tokens (the ID token's
/// signature, issuer, audience, expiry, `at_hash` and `auth_req_id` checked).
pub async fn sign_in(
    http: reqwest::Client,
    sign_in: &SignIn,
) -> Result<ValidatedTokens, ciba_reqwest::Error> {
    let auth = ClientAuth::SecretBasic(ClientSecret::new(sign_in.client_secret.clone()));
    let mut config = ClientConfig::new(sign_in.client_id.clone(), auth, DeliveryMode::Poll);
    if sign_in.allow_http_loopback {
        config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    }
    let client = CibaClient::discover(
        HttpClient::from_client(http),
        &sign_in.issuer,
        config,
        ClientOptions::default(),
    )
    .await?;
    let request = AuthRequest::new(Hint::LoginHint(sign_in.login_hint.clone()))
        .binding_message(sign_in.binding_message.clone());
    let ack = client.initiate(request).await?;
    // Sleeps between polls as the OP asks (interval, slow_down, Retry-After on 429/503,
    // backoff on 5xx), until tokens, a denial or the expiry.
    client.wait_for_tokens(&ack).await
}
