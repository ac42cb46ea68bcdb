//! An axum authorization server with the CIBA endpoints under `/oauth` beside its own routes
//! (see `ciba_examples::axum_as`).
//!
//! ```text
//! cargo run -p ciba-examples --bin axum-as -- [ADDR] [PUSH_NOTIFICATION_ENDPOINT]
//! ```
//!
//! ADDR defaults to 127.0.0.1:8080. With a notification endpoint, the push client `rp-push`
//! is registered with it (run `push-rp` first). It prints the issuer and each user's device
//! token; approve a request with
//! `curl -X POST -H 'Authorization: Bearer TOKEN' ADDR/device/requests/ID/approve`.

use ciba_examples::provider::{CLIENT_SECRET, POLL_CLIENT, PUSH_CLIENT, USERS};
use ciba_examples::{BoxError, app, axum_as};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let push_endpoint = args.next();
    let running = axum_as::serve(TcpListener::bind(&addr).await?, push_endpoint.as_deref()).await?;
    println!("issuer: {}", running.endpoints.issuer);
    println!(
        "clients: {POLL_CLIENT} (poll), {PUSH_CLIENT} (push, if registered); secret {CLIENT_SECRET}"
    );
    for (hint, subject) in USERS {
        let token = running.devices.token_of(subject).unwrap_or_default();
        println!("user {hint}: device token {token}");
    }
    app::ctrl_c().await;
    running.app.shutdown().await?;
    Ok(())
}
