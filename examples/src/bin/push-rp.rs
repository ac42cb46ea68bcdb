//! A push-mode relying party with its notification endpoint inside its axum app (see
//! `ciba_examples::push_rp`).
//!
//! ```text
//! cargo run -p ciba-examples --bin push-rp -- ADDR ISSUER [LOGIN_HINT]
//! ```
//!
//! It serves `http://ADDR/ciba/notify`, prints it, and waits for Enter before it signs in:
//! start `axum-as` with that endpoint as its second argument, pass its issuer here, press
//! Enter, then approve from the device API.

use ciba_examples::provider::{CLIENT_SECRET, PUSH_CLIENT};
use ciba_examples::{BoxError, push_rp};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: push-rp ADDR ISSUER [LOGIN_HINT]";
    let addr = args.next().ok_or(usage)?;
    let issuer = args.next().ok_or(usage)?;
    let login_hint = args.next().unwrap_or_else(|| "alice@example.com".into());
    let rp = push_rp::serve(TcpListener::bind(&addr).await?)?;
    println!("notification endpoint: {}", rp.notification_endpoint());
    println!("press Enter once the OP has registered it");
    let mut line = String::new();
    tokio::io::BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await?;
    let loopback = issuer.starts_with("http://");
    let tokens = rp
        .sign_in(&issuer, PUSH_CLIENT, CLIENT_SECRET, &login_hint, loopback)
        .await?;
    println!("pushed tokens for sub={}", tokens.id_token.sub);
    rp.app.shutdown().await?;
    Ok(())
}
