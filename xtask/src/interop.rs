//! `cargo xtask interop`: the interop matrix of our CIBA implementation against independent
//! JavaScript ones (`interop/`, see interop/README.md and docs/interop.md).
//!
//! - Our client (`ciba login`: ciba-client over ciba-reqwest and, when the CLI has
//!   `--transport`, over ciba-hyper) against oidc-provider (`interop/op.mjs`): poll and ping, each with approval
//!   (tokens and ID token claims checked), denial and expiry, each with client_secret_basic,
//!   client_secret_post and private_key_jwt.
//! - openid-client and oauth4webapi (`interop/rp-*.mjs`) against `ciba serve`: the same
//!   modes, outcomes and authentication methods; the drivers validate the ID token (claims
//!   and signature against the JWKS) themselves.
//! - Encrypted ID tokens (JWE, nested in a JWS): openid-client decrypts the ones `ciba serve`
//!   encrypts, and `ciba login --decryption-key` the ones oidc-provider (`features.encryption`)
//!   encrypts, in poll and ping, with RSA-OAEP-256 and ECDH-ES+A256KW, A256GCM and
//!   A128CBC-HS256 ([`cells::ENCRYPTED_CELLS`]). Each cell also checks that the delivered ID token
//!   was a five-part JWE.
//! - The Java family ([`keycloak_cells`]): `ciba login` against Keycloak, and the Nimbus SDK
//!   driver (`interop/nimbus`) against `ciba serve`, with client_secret_basic and
//!   private_key_jwt.
//!
//! Every cell has its own client registration, so cells run concurrently ([`WORKERS`] at a
//! time; most of their time is spent waiting for a poll interval). Ping cells get their own
//! notification port: picked by binding 127.0.0.1:0 and held until the cell's process
//! starts. Everything listens on 127.0.0.1 only. Every process started here is owned by a
//! guard that kills it when dropped, on success, failure or panic. The matrix is printed as
//! a table at the end, also when cells failed; any failure makes the command fail.
//!
//! Time: after the build of `ciba`, the whole run (npm ci, the Keycloak fetch and the Nimbus
//! build included) is bounded by
//! [`BUDGET`]; each cell by [`CELL_TIMEOUT`]; every wait on a peer has its own timeout.

mod cells;
mod checks;
mod end_user;
pub(crate) mod keycloak;
mod keycloak_cells;
mod matrix;
pub(crate) mod nimbus;
mod servers;
pub(crate) mod support;
mod table;
mod tools;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cells::{Plan, plan};
use matrix::{Matrix, not_run};
pub(crate) use servers::ready_line;
use table::print_table;
pub(crate) use tools::{check_node, ensure_npm_packages, target_dir};
use tools::{ciba_binary, transports};

/// How the error of a matrix that ran starts (its table is printed already).
const FAILED_CELLS: &str = "interop: ";
/// Names a prebuilt `ciba` binary to use instead of building ciba-cli (for debugging).
const BIN_VAR: &str = "CIBA_INTEROP_BIN";
/// Runs only the cells whose client_id contains this text, without the Java peers (local
/// debugging; refused under `CI=true`, where the whole matrix runs).
const ONLY_VAR: &str = "CIBA_INTEROP_ONLY";
/// The packages interop/package.json pins (checked in node_modules before running).
const PINNED: &[(&str, &str)] = &[
    ("oidc-provider", "9.13.3"),
    ("openid-client", "6.8.9"),
    ("oauth4webapi", "3.8.8"),
];
/// Oldest Node.js the JS side runs on.
const NODE_MIN_MAJOR: u32 = 20;
/// The whole run after the build of `ciba`: npm ci, start-up, every cell, teardown.
const BUDGET: Duration = Duration::from_secs(330);
/// Kept for stopping everything and printing the table.
const TEARDOWN: Duration = Duration::from_secs(15);
/// Cells running at once.
const WORKERS: usize = 8;
/// One cell, from start to its client's exit.
const CELL_TIMEOUT: Duration = Duration::from_secs(60);
/// A server printing its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// A request showing up in a server's pending list.
const PENDING_TIMEOUT: Duration = Duration::from_secs(20);
/// One admin/device API call (an approval of a ping request includes the ping).
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// npm ci, at most.
const NPM_TIMEOUT: Duration = Duration::from_secs(180);

/// oidc-provider: request lifetime on the main OP, and on the one for the expiry cells.
const OP_EXPIRES_IN: u32 = 60;
const OP_SHORT_EXPIRES_IN: u32 = 4;
/// `ciba serve`: polling interval handed out, and the lifetime on the expiry server.
const SERVE_INTERVAL: u32 = 1;
const SERVE_SHORT_EXPIRES_IN: u32 = 3;
/// Poll approvals wait this long, so that the client first sees `authorization_pending`
/// (oidc-provider sends no `interval`: clients wait 5 s; `ciba serve` hands out 1 s).
const OP_POLL_APPROVE_DELAY: Duration = Duration::from_secs(6);
const SERVE_POLL_APPROVE_DELAY: Duration = Duration::from_millis(2500);

const LOGIN_HINT: &str = "alice";
const OP_EMAIL: &str = "alice@example.com";
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// `cargo xtask interop`.
pub(crate) fn run() -> Result<(), String> {
    check_node()?;
    let bin = match std::env::var_os(BIN_VAR) {
        Some(bin) => {
            println!(
                "\n==> using {BIN_VAR}={} (no build)",
                Path::new(&bin).display()
            );
            PathBuf::from(bin)
        }
        None => {
            crate::ci::cargo(&["build", "--locked", "-p", "ciba-cli"], &[])?;
            ciba_binary()?
        }
    };
    run_matrix(&bin)
}

/// The matrix with the `ciba` binary `bin`.
fn run_matrix(bin: &Path) -> Result<(), String> {
    let started = Instant::now();
    let deadline = started + BUDGET;
    let interop = crate::ci::root().join("interop");
    let only = only_filter()?;
    let java = only.is_none() && keycloak_cells::java_peers()?;
    let Plan {
        mut cells,
        mut ports,
    } = plan(&transports(bin)?, java)?;
    if let Some(only) = &only {
        let total = cells.len();
        cells.retain(|c| c.client_id.contains(only.as_str()));
        ports.retain(|id, _| id.contains(only.as_str()));
        println!(
            "\nxtask: NOTE: {ONLY_VAR}={only}: {} of {total} cells, no Java peers",
            cells.len()
        );
        if cells.is_empty() {
            return Err(format!("{ONLY_VAR}={only} matches no cell"));
        }
    }
    let result = ensure_npm_packages(&interop, deadline)
        .and_then(|()| keycloak_cells::prepare(java, &interop, deadline))
        .and_then(|java| Matrix::new(bin, &interop, cells.clone(), ports, deadline, java))
        .and_then(Matrix::run)
        .inspect_err(|e| {
            // A setup failure still shows the whole matrix, every cell not run.
            if !e.starts_with(FAILED_CELLS) {
                print_table(&not_run(cells, e));
            }
        });
    println!(
        "\ninterop: wall time {:.0} s (after the build)",
        started.elapsed().as_secs_f64()
    );
    result
}

/// [`ONLY_VAR`], refused under `CI=true`.
fn only_filter() -> Result<Option<String>, String> {
    let Ok(only) = std::env::var(ONLY_VAR) else {
        return Ok(None);
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Err(format!("{ONLY_VAR} is not allowed under CI=true"));
    }
    Ok(Some(only))
}

/// The hook of `cargo xtask ci`: runs the matrix with `bin`, the `ciba` its test build made
/// (no build here); without Node.js/npm it is an error under `CI=true` and a loud warning
/// (interop skipped) elsewhere.
pub(crate) fn run_in_ci(bin: &Path) -> Result<(), String> {
    if let Err(why) = check_node() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            return Err(format!("interop cannot run under CI=true: {why}"));
        }
        eprintln!(
            "\nxtask: WARNING: {why}\nxtask: WARNING: the interop matrix (cargo xtask interop) is SKIPPED; CI runs it\n"
        );
        return Ok(());
    }
    println!(
        "\n==> interop with {} (built by the workspace tests)",
        bin.display()
    );
    run_matrix(bin)
}
