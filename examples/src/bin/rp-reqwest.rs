//! A relying party signing a user in through the application's own `reqwest::Client` (see
//! `ciba_examples::rp_reqwest`).
//!
//! ```text
//! cargo run -p ciba-examples --bin rp-reqwest -- ISSUER [LOGIN_HINT]
//! ```
//!
//! It signs in as the examples' poll client (`rp-poll`); run `axum-as` or
//! `existing-token-endpoint` and pass the issuer they print. Plain `http` is accepted for a
//! loopback issuer only.

use ciba_examples::BoxError;
use ciba_examples::provider::{CLIENT_SECRET, POLL_CLIENT};
use ciba_examples::rp_reqwest::{SignIn, application_client, sign_in};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let issuer = args.next().ok_or("usage: rp-reqwest ISSUER [LOGIN_HINT]")?;
    let login_hint = args.next().unwrap_or_else(|| "alice@example.com".into());
    let request = SignIn {
        allow_http_loopback: issuer.starts_with("http://"),
        issuer,
        client_id: POLL_CLIENT.into(),
        client_secret: CLIENT_SECRET.into(),
        login_hint,
        binding_message: "W4-SCT".into(),
    };
    println!(
        "waiting for the user's approval (binding message {})",
        request.binding_message
    );
    let tokens = sign_in(application_client()?, &request).await?;
    println!(
        "signed in: sub={} iss={}",
        tokens.id_token.sub, tokens.id_token.iss
    );
    Ok(())
}
