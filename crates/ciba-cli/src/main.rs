//! # ciba
//!
//! The `ciba` command: OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core
//! 1.0) from a terminal.
//!
//! ```text
//! ciba demo   provider + client on loopback, through poll, ping and push; a table per mode
//! ciba serve  a development provider with an authentication-device page at /device
//! ciba login  one CIBA flow against any provider; validated tokens as JSON on stdout
//! ```
//!
//! The provider side is `ciba-hyper`'s authorization-server service over `ciba-server`, with
//! this crate's development pieces around it: a user directory (any login hint, or `--users`),
//! an authentication device (automatic, or a web page and a JSON API), demo clients, and a
//! store in memory or in Redis (`ciba-redis`, so several instances can serve one issuer). The
//! client side is `ciba-client` over the `ciba-reqwest` adapter (TLS) or, with `--transport
//! hyper`, the `ciba-hyper` one; either way ping and push notifications arrive at
//! `ciba-hyper`'s notification receiver.
//!
//! Exit codes: 0 success, 1 error, 2 usage error, 3 access denied, 4 request expired. Errors
//! are one line on stderr, `error: ...`.
//!
//! Modules, one job each: [`cli`] (options and help texts), [`demo`], [`serve`], [`login`]
//! (the subcommands), [`login_flow`] (`ciba login`'s flow, one code path for both
//! transports), [`provider`] (the development authorization server), [`store`] (memory or
//! Redis), [`keys`] (private JWK files, the generated signing key), [`device`] (the
//! authentication device: decisions, automatic answers), [`device_page`] (its web page and
//! JSON API), [`device_access`] (who may reach the page: `Host`, the device access secret),
//! [`users`] (the user directory of `--users`), [`escape`] (client text made safe to print),
//! [`clients`] (client files and demo clients), [`http_server`] (binding
//! listeners), [`outcome`] (how a flow ended), [`output`] (tables and
//! JSON), [`progress`] (the spinner), [`error`] (messages and exit codes).

#![forbid(unsafe_code)]

mod cli;
mod clients;
mod demo;
mod device;
mod device_access;
mod device_page;
mod error;
mod escape;
mod http_server;
mod keys;
mod login;
mod login_flow;
mod metrics_endpoint;
mod outcome;
mod output;
mod progress;
mod provider;
mod serve;
mod store;
mod users;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&CliError::error(format!("cannot start the runtime: {e}"))),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Login(args) => login::run(*args).await,
        }
    });
    // Background tasks (servers, receivers) must not delay the exit.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &CliError) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {e}");
    e.exit_code()
}

/// Logs go to stderr: none by default (errors are reported once, as `error: ...`), more
/// with `-v`/`-vv`, or as RUST_LOG says. Colours only when stderr is a terminal: a file or a
/// pipe gets no escape codes.
fn init_tracing(verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "off",
        1 => {
            "info,ciba_core=debug,ciba_server=debug,ciba_client=debug,ciba_hyper=debug,ciba_reqwest=debug"
        }
        _ => {
            "debug,ciba_core=trace,ciba_server=trace,ciba_client=trace,ciba_hyper=trace,ciba_reqwest=trace"
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
