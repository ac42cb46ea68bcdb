//! An application's existing token endpoint that hands the CIBA grant to ciba-server and
//! keeps `client_credentials` (see `ciba_examples::token_endpoint`).
//!
//! ```text
//! cargo run -p ciba-examples --bin existing-token-endpoint -- [ADDR]
//! curl -d client_id=reporting-job -d client_secret=... -d grant_type=client_credentials ADDR/token
//! ```
//!
//! Every known user is approved at once, so `rp-reqwest` gets tokens on its first poll.

use ciba_examples::token_endpoint::{SERVICE_CLIENT, SERVICE_SECRET};
use ciba_examples::{BoxError, app, token_endpoint};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let running = token_endpoint::serve(TcpListener::bind(&addr).await?).await?;
    println!("issuer: {}", running.endpoints.issuer);
    println!("token endpoint: {}", running.endpoints.token);
    println!("client_credentials client: {SERVICE_CLIENT}, secret {SERVICE_SECRET}");
    app::ctrl_c().await;
    running.app.shutdown().await?;
    Ok(())
}
