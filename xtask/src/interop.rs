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
//!   A128CBC-HS256 ([`ENCRYPTED_CELLS`]). Each cell also checks that the delivered ID token
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

pub(crate) mod json;
pub(crate) mod keycloak;
mod keycloak_cells;
pub(crate) mod nimbus;
pub(crate) mod support;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use json::{Json, quote};
use support::{Proc, TempDir, hold_free_port, http, random_hex, tail};

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
    let (mut cells, mut ports) = plan(&transports(bin)?, java)?;
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

// ---------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------

/// Node.js ≥ 20 and npm on PATH.
pub(crate) fn check_node() -> Result<(), String> {
    let version = tool_version("node")?;
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("cannot read the Node.js version {version:?}"))?;
    if major < NODE_MIN_MAJOR {
        return Err(format!(
            "Node.js {version} is too old: interop/ needs Node.js {NODE_MIN_MAJOR} or newer"
        ));
    }
    tool_version("npm")?;
    Ok(())
}

fn tool_version(tool: &str) -> Result<String, String> {
    let out = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{tool} is not available ({e}); interop/ needs Node.js and npm"))?;
    if !out.status.success() {
        return Err(format!("`{tool} --version` failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `<target dir>/debug/ciba`, the target dir as cargo sees it (CARGO_TARGET_DIR, config).
fn ciba_binary() -> Result<PathBuf, String> {
    let bin = target_dir()?
        .join("debug")
        .join(format!("ciba{}", std::env::consts::EXE_SUFFIX));
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{} is missing after the build", bin.display()))
    }
}

/// The target directory as cargo sees it (CARGO_TARGET_DIR, config).
pub(crate) fn target_dir() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(crate::ci::root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed ({})", out.status));
    }
    let meta = Json::parse(&String::from_utf8_lossy(&out.stdout))
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let target = meta
        .get("target_directory")
        .and_then(Json::as_str)
        .ok_or("cargo metadata has no target_directory")?;
    Ok(PathBuf::from(target))
}

/// Runs `npm ci --no-audit --no-fund` in interop/ when node_modules is missing, older than
/// the lockfile, or holds other versions than the pinned ones.
pub(crate) fn ensure_npm_packages(interop: &Path, deadline: Instant) -> Result<(), String> {
    let Some(why) = npm_packages_stale(interop) else {
        println!("\n==> interop/node_modules is up to date");
        return Ok(());
    };
    println!("\n==> npm ci --no-audit --no-fund (in interop/: {why})");
    let started = Instant::now();
    let mut npm = Proc::spawn(
        "npm ci",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(interop),
    )?;
    let timeout = NPM_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
    match npm.wait_timeout(timeout) {
        Some(status) if status.success() => {
            println!("<== npm ci ({:.1} s)", started.elapsed().as_secs_f64());
            match npm_packages_stale(interop) {
                None => Ok(()),
                Some(why) => Err(format!(
                    "after npm ci, interop/node_modules is still stale: {why}"
                )),
            }
        }
        Some(status) => Err(format!("`npm ci` in interop/ failed ({status})")),
        None => Err(format!("`npm ci` in interop/ took longer than {timeout:?}")),
    }
}

/// Why interop/node_modules needs `npm ci`, or `None` when it is fine.
fn npm_packages_stale(interop: &Path) -> Option<String> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let hidden = interop.join("node_modules").join(".package-lock.json");
    let Some(installed) = modified(&hidden) else {
        return Some("node_modules is missing".to_owned());
    };
    if modified(&interop.join("package-lock.json")).is_some_and(|lock| lock > installed) {
        return Some("package-lock.json is newer than node_modules".to_owned());
    }
    for (name, pinned) in PINNED {
        let file = interop.join("node_modules").join(name).join("package.json");
        let version = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| Json::parse(&t).ok())
            .and_then(|j| j.get("version").and_then(Json::as_str).map(str::to_owned));
        if version.as_deref() != Some(pinned) {
            return Some(format!(
                "{name} is {} instead of {pinned}",
                version.as_deref().unwrap_or("missing")
            ));
        }
    }
    None
}

/// Our client transports: ciba-reqwest always; ciba-hyper when `ciba login --transport`
/// exists.
fn transports(bin: &Path) -> Result<Vec<Transport>, String> {
    let out = Command::new(bin)
        .args(["login", "--help"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} login --help: {e}", bin.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    if help.contains("--transport") {
        Ok(vec![Transport::Reqwest, Transport::Hyper])
    } else {
        println!(
            "\nxtask: note: `ciba login` has no --transport option: the ciba-hyper client rows are left out"
        );
        Ok(vec![Transport::Default])
    }
}

// ---------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// `ciba login` without `--transport` (the CLI's default: ciba-reqwest).
    Default,
    Reqwest,
    Hyper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rp {
    Login(Transport),
    OpenidClient,
    Oauth4webapi,
    /// `ciba login` against Keycloak.
    KeycloakLogin(Transport),
    /// The Nimbus SDK driver (interop/nimbus) against `ciba serve`.
    Nimbus,
}

impl Rp {
    fn label(self) -> &'static str {
        match self {
            Rp::Login(Transport::Default | Transport::Reqwest)
            | Rp::KeycloakLogin(Transport::Default | Transport::Reqwest) => "ciba login (reqwest)",
            Rp::Login(Transport::Hyper) | Rp::KeycloakLogin(Transport::Hyper) => {
                "ciba login (hyper)"
            }
            Rp::OpenidClient => "openid-client 6.8.9",
            Rp::Oauth4webapi => "oauth4webapi 3.8.8",
            Rp::Nimbus => keycloak_cells::NIMBUS_LABEL,
        }
    }

    fn server(self) -> ServerKind {
        match self {
            Rp::Login(_) => ServerKind::OidcProvider,
            Rp::OpenidClient | Rp::Oauth4webapi | Rp::Nimbus => ServerKind::CibaServe,
            Rp::KeycloakLogin(_) => ServerKind::Keycloak,
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Rp::Login(Transport::Default | Transport::Reqwest) => "rq",
            Rp::Login(Transport::Hyper) => "hy",
            Rp::OpenidClient => "oc",
            Rp::Oauth4webapi => "o4",
            Rp::KeycloakLogin(Transport::Default | Transport::Reqwest) => "kr",
            Rp::KeycloakLogin(Transport::Hyper) => "kh",
            Rp::Nimbus => "nb",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    OidcProvider,
    CibaServe,
    Keycloak,
}

impl ServerKind {
    fn label(self) -> &'static str {
        match self {
            ServerKind::OidcProvider => "oidc-provider 9.13.3",
            ServerKind::CibaServe => "ciba serve",
            ServerKind::Keycloak => keycloak_cells::KEYCLOAK_LABEL,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Poll,
    Ping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Basic,
    Post,
    PrivateKeyJwt,
}

impl Auth {
    fn method(self) -> &'static str {
        match self {
            Auth::Basic => "client_secret_basic",
            Auth::Post => "client_secret_post",
            Auth::PrivateKeyJwt => "private_key_jwt",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Auth::Basic => "basic",
            Auth::Post => "post",
            Auth::PrivateKeyJwt => "pkjwt",
        }
    }

    /// oidc-provider clients sign their ID tokens with different algorithms, so that our
    /// clients verify RS256, ES256 and PS256 (`ciba serve` signs EdDSA only).
    fn op_id_token_alg(self) -> &'static str {
        match self {
            Auth::Basic => "RS256",
            Auth::Post => "ES256",
            Auth::PrivateKeyJwt => "PS256",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Approve,
    Deny,
    Expire,
}

impl Expect {
    fn word(self) -> &'static str {
        match self {
            Expect::Approve => "approve",
            Expect::Deny => "deny",
            Expect::Expire => "expire",
        }
    }

    fn outcome(self) -> &'static str {
        match self {
            Expect::Approve => "tokens",
            Expect::Deny => "access_denied",
            Expect::Expire => "expired_token",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Poll => "poll",
            Mode::Ping => "ping",
        })
    }
}

/// One cell: one client registration, one flow, one expected outcome.
#[derive(Debug, Clone)]
struct Cell {
    n: usize,
    client: Rp,
    mode: Mode,
    auth: Auth,
    expect: Expect,
    client_id: String,
    secret: String,
    binding_message: String,
    notification_port: Option<u16>,
    /// The client sends DPoP proofs, is registered with `dpop_bound_access_tokens`, and
    /// must get `token_type` DPoP.
    dpop: bool,
    /// The client is registered with `id_token_encrypted_response_alg`/`_enc` (and an
    /// encryption key in its `jwks`), decrypts with its private key, and must have received
    /// a JWE.
    encryption: Option<Encryption>,
}

/// ID token encryption of a cell: `id_token_encrypted_response_alg` and `_enc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Encryption {
    alg: &'static str,
    enc: &'static str,
}

impl Encryption {
    /// The key type keygen.mjs makes for it.
    fn keygen_kind(self) -> &'static str {
        if self.alg.starts_with("RSA") {
            "enc-rsa"
        } else {
            "enc-ec"
        }
    }

    fn short(self) -> String {
        let alg = if self.alg.starts_with("RSA") {
            "rsa"
        } else {
            "ecdh"
        };
        let enc = if self.enc.contains("GCM") {
            "gcm"
        } else {
            "cbc"
        };
        format!("jwe-{alg}-{enc}")
    }
}

/// The encrypted ID token cells of each client that decrypts (openid-client against `ciba
/// serve`, `ciba login` against oidc-provider): one approved flow per mode with
/// client_secret_basic. Between the poll and ping cells and the two clients, both key
/// management algorithms meet both content encryptions.
const ENCRYPTED_CELLS: [(Rp, Mode, Encryption); 2] = [
    (
        Rp::OpenidClient,
        Mode::Poll,
        Encryption {
            alg: "ECDH-ES+A256KW",
            enc: "A256GCM",
        },
    ),
    (
        Rp::OpenidClient,
        Mode::Ping,
        Encryption {
            alg: "RSA-OAEP-256",
            enc: "A128CBC-HS256",
        },
    ),
];

/// [`ENCRYPTED_CELLS`] for `ciba login` (each transport).
const LOGIN_ENCRYPTED_CELLS: [(Mode, Encryption); 2] = [
    (
        Mode::Poll,
        Encryption {
            alg: "RSA-OAEP-256",
            enc: "A256GCM",
        },
    ),
    (
        Mode::Ping,
        Encryption {
            alg: "ECDH-ES+A256KW",
            enc: "A128CBC-HS256",
        },
    ),
];

impl Cell {
    /// The `token_type` an approved flow must end with.
    fn token_type(&self) -> &'static str {
        if self.dpop { "DPoP" } else { "Bearer" }
    }

    /// A rough duration, to start the long cells first.
    fn estimate(&self) -> u32 {
        if let Some(estimate) = keycloak_cells::estimate(self) {
            return estimate;
        }
        match (self.client.server(), self.mode, self.expect) {
            (ServerKind::OidcProvider, Mode::Poll, Expect::Approve) => 11,
            (ServerKind::OidcProvider, Mode::Poll, _) => 5,
            (_, _, Expect::Expire) => 5,
            (ServerKind::CibaServe, Mode::Poll, Expect::Approve) => 3,
            _ => 1,
        }
    }
}

/// A finished cell.
struct Row {
    cell: Cell,
    outcome: String,
    secs: f64,
    problems: Vec<String>,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// A running server.
struct Server {
    issuer: String,
    /// oidc-provider's admin API base; `None` for `ciba serve` (device API under issuer).
    admin: Option<String>,
    log: PathBuf,
    label: String,
    /// `None` when the process is owned elsewhere (Keycloak serves two realms).
    _proc: Option<Proc>,
}

/// Every cell: our clients x oidc-provider and the JS drivers x `ciba serve`, each in
/// poll and ping, with each authentication method and each outcome. Ping cells get a
/// notification port, held (bound) until the cell starts.
fn plan(
    transports: &[Transport],
    java: bool,
) -> Result<(Vec<Cell>, HashMap<String, TcpListener>), String> {
    let mut clients: Vec<Rp> = transports.iter().map(|t| Rp::Login(*t)).collect();
    clients.extend([Rp::OpenidClient, Rp::Oauth4webapi]);
    let mut cells = Vec::new();
    let mut ports = HashMap::new();
    for client in clients {
        for mode in [Mode::Poll, Mode::Ping] {
            for auth in [Auth::Basic, Auth::Post, Auth::PrivateKeyJwt] {
                for expect in [Expect::Approve, Expect::Deny, Expect::Expire] {
                    let n = cells.len() + 1;
                    let client_id = format!(
                        "{}-{mode}-{}-{}",
                        client.id_prefix(),
                        auth.short(),
                        expect.word()
                    );
                    let notification_port = match mode {
                        Mode::Poll => None,
                        Mode::Ping => {
                            let (port, listener) = hold_free_port()?;
                            ports.insert(client_id.clone(), listener);
                            Some(port)
                        }
                    };
                    cells.push(Cell {
                        n,
                        client,
                        mode,
                        auth,
                        expect,
                        secret: format!("{client_id}-{}", random_hex(16)),
                        client_id,
                        binding_message: format!("cell-{n}"),
                        notification_port,
                        dpop: false,
                        encryption: None,
                    });
                }
            }
        }
        // DPoP-bound tokens (RFC 9449): one approved flow per mode, client_secret_basic.
        for mode in [Mode::Poll, Mode::Ping] {
            let n = cells.len() + 1;
            let client_id = format!("{}-{mode}-basic-dpop", client.id_prefix());
            let notification_port = match mode {
                Mode::Poll => None,
                Mode::Ping => {
                    let (port, listener) = hold_free_port()?;
                    ports.insert(client_id.clone(), listener);
                    Some(port)
                }
            };
            cells.push(Cell {
                n,
                client,
                mode,
                auth: Auth::Basic,
                expect: Expect::Approve,
                secret: format!("{client_id}-{}", random_hex(16)),
                client_id,
                binding_message: format!("cell-{n}"),
                notification_port,
                dpop: true,
                encryption: None,
            });
        }
        // Encrypted ID tokens: one approved flow per listed mode, client_secret_basic.
        let encrypted: Vec<(Mode, Encryption)> = match client {
            Rp::Login(_) => LOGIN_ENCRYPTED_CELLS.to_vec(),
            _ => ENCRYPTED_CELLS
                .iter()
                .filter(|(rp, _, _)| *rp == client)
                .map(|(_, mode, e)| (*mode, *e))
                .collect(),
        };
        for (mode, encryption) in encrypted {
            let n = cells.len() + 1;
            let client_id = format!("{}-{mode}-basic-{}", client.id_prefix(), encryption.short());
            let notification_port = match mode {
                Mode::Poll => None,
                Mode::Ping => {
                    let (port, listener) = hold_free_port()?;
                    ports.insert(client_id.clone(), listener);
                    Some(port)
                }
            };
            cells.push(Cell {
                n,
                client,
                mode,
                auth: Auth::Basic,
                expect: Expect::Approve,
                secret: format!("{client_id}-{}", random_hex(16)),
                client_id,
                binding_message: format!("cell-{n}"),
                notification_port,
                dpop: false,
                encryption: Some(encryption),
            });
        }
    }
    if java {
        keycloak_cells::plan(transports, &mut cells, &mut ports)?;
    }
    Ok((cells, ports))
}

/// The rows of a matrix that could not run.
fn not_run(cells: Vec<Cell>, why: &str) -> Vec<Row> {
    let first_line = why.lines().next().unwrap_or_default();
    cells
        .into_iter()
        .map(|cell| Row {
            cell,
            outcome: "-".to_owned(),
            secs: 0.0,
            problems: vec![format!("not run: {first_line}")],
            stdout: PathBuf::new(),
            stderr: PathBuf::new(),
        })
        .collect()
}

struct Matrix<'a> {
    bin: &'a Path,
    interop: &'a Path,
    deadline: Instant,
    cells: Vec<Cell>,
    /// Notification ports, held until the cell that uses one starts.
    ports: Mutex<HashMap<String, TcpListener>>,
    // Declared before `tmp`, so the servers stop before their folder goes.
    op: Server,
    op_short: Server,
    serve: Server,
    serve_short: Server,
    /// Keycloak and the `ciba serve` pair of the Nimbus cells, when the Java peers run.
    java: Option<keycloak_cells::JavaRun>,
    tmp: TempDir,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<'a> Matrix<'a> {
    /// Writes the client registrations and starts the four servers.
    fn new(
        bin: &'a Path,
        interop: &'a Path,
        cells: Vec<Cell>,
        ports: HashMap<String, TcpListener>,
        deadline: Instant,
        java: Option<keycloak_cells::JavaPeers>,
    ) -> Result<Matrix<'a>, String> {
        let tmp = TempDir::new("ciba-interop")?;
        let keys = tmp.path().join("keys");
        let mut pkjwt: Vec<&str> = cells
            .iter()
            .filter(|c| c.auth == Auth::PrivateKeyJwt)
            .map(|c| c.client_id.as_str())
            .collect();
        if java.is_some() {
            pkjwt.push(keycloak_cells::SIGNING_KEY);
        }
        // Encryption keys: `enc-rsa:ID` / `enc-ec:ID` (keygen.mjs writes ID.enc.*.jwk).
        let enc_keys: Vec<String> = cells
            .iter()
            .filter_map(|c| {
                c.encryption
                    .map(|e| format!("{}:{}", e.keygen_kind(), c.client_id))
            })
            .collect();
        pkjwt.extend(enc_keys.iter().map(String::as_str));
        let mut keygen = Proc::spawn(
            "node keygen.mjs",
            Command::new("node")
                .arg("keygen.mjs")
                .arg(&keys)
                .args(&pkjwt)
                .current_dir(interop),
        )?;
        match keygen.wait_timeout(Duration::from_secs(30)) {
            Some(s) if s.success() => {}
            other => return Err(format!("node keygen.mjs failed ({other:?})")),
        }

        let op_file = tmp.path().join("op-clients.json");
        let serve_file = tmp.path().join("serve-clients.json");
        write_clients(&op_file, &cells, ServerKind::OidcProvider, &keys)?;
        let js_cells: Vec<Cell> = cells
            .iter()
            .filter(|c| c.client != Rp::Nimbus)
            .cloned()
            .collect();
        write_clients(&serve_file, &js_cells, ServerKind::CibaServe, &keys)?;
        // Keycloak starts first (in the background: it takes the longest).
        let java = match java {
            Some(peers) => Some(keycloak_cells::JavaRun::start(
                peers,
                bin,
                interop,
                &cells,
                &keys,
                tmp.path(),
            )?),
            None => None,
        };

        println!("\n==> starting oidc-provider (op.mjs) x2 and ciba serve x2 on 127.0.0.1");
        let op = start_op(interop, &op_file, OP_EXPIRES_IN, "op-main", tmp.path())?;
        let op_short = start_op(
            interop,
            &op_file,
            OP_SHORT_EXPIRES_IN,
            "op-short",
            tmp.path(),
        )?;
        let serve = start_serve(bin, &serve_file, None, "serve-main", tmp.path(), &[])?;
        let serve_short = start_serve(
            bin,
            &serve_file,
            Some(SERVE_SHORT_EXPIRES_IN),
            "serve-short",
            tmp.path(),
            &[],
        )?;
        for s in [&op, &op_short, &serve, &serve_short] {
            println!("    {}: {}", s.label, s.issuer);
        }
        std::fs::create_dir_all(tmp.path().join("cells"))
            .map_err(|e| format!("cannot create the cells folder: {e}"))?;
        Ok(Matrix {
            bin,
            interop,
            deadline,
            cells,
            ports: Mutex::new(ports),
            op,
            op_short,
            serve,
            serve_short,
            java,
            tmp,
        })
    }

    /// Runs every cell, prints the table, fails when a cell failed.
    fn run(self) -> Result<(), String> {
        let total = self.cells.len();
        println!(
            "\n==> interop matrix: {total} cells, {WORKERS} at a time (oidc-provider sends no interval: its polls are 5 s apart)"
        );
        let mut order = self.cells.clone();
        order.sort_by_key(|c| std::cmp::Reverse(c.estimate()));
        let queue = Mutex::new(VecDeque::from(order));
        let rows = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..WORKERS {
                s.spawn(|| {
                    while let Some(cell) = self.next_cell(&queue) {
                        let row = self.run_cell(cell);
                        let mut rows = lock(&rows);
                        rows.push(row);
                        if let Some(r) = rows.last() {
                            println!(
                                "    [{:>2}/{total}] {} {} {} {} {} ({:.1} s)",
                                rows.len(),
                                if r.problems.is_empty() {
                                    "PASS"
                                } else {
                                    "FAIL"
                                },
                                r.cell.client.label(),
                                r.cell.mode,
                                r.cell.auth.short(),
                                r.cell.expect.word(),
                                r.secs
                            );
                        }
                    }
                });
            }
        });
        let mut rows = rows
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rows.sort_by_key(|r| r.cell.n);
        let failed = rows.iter().filter(|r| !r.problems.is_empty()).count();
        if failed > 0 {
            self.print_failures(&rows);
        }
        print_table(&rows);
        if failed == 0 && rows.len() == total {
            println!("interop: all {total} cells passed");
            Ok(())
        } else {
            Err(format!(
                "{FAILED_CELLS}{failed} of {total} cells failed (see the table above)"
            ))
        }
    }

    /// The next cell to run: the queue's first, or, once Keycloak is up, its first cell
    /// still queued (they wait at the end of the queue while it starts).
    fn next_cell(&self, queue: &Mutex<VecDeque<Cell>>) -> Option<Cell> {
        let mut queue = lock(queue);
        if self
            .java
            .as_ref()
            .is_some_and(keycloak_cells::JavaRun::keycloak_ready)
            && let Some(i) = queue
                .iter()
                .position(|c| c.client.server() == ServerKind::Keycloak)
        {
            return queue.remove(i);
        }
        queue.pop_front()
    }

    fn print_failures(&self, rows: &[Row]) {
        for r in rows.iter().filter(|r| !r.problems.is_empty()) {
            println!(
                "\n--- FAIL #{} {} -> {} {} {} {} ({}): {}",
                r.cell.n,
                r.cell.client.label(),
                r.cell.client.server().label(),
                r.cell.mode,
                r.cell.auth.method(),
                r.cell.expect.word(),
                r.cell.client_id,
                r.problems.join("; ")
            );
            println!("  stdout (last lines):\n{}", tail(&r.stdout, 15));
            println!("  stderr (last lines):\n{}", tail(&r.stderr, 30));
        }
        for s in [&self.op, &self.op_short, &self.serve, &self.serve_short] {
            println!("\n--- {} log (last lines):\n{}", s.label, tail(&s.log, 40));
        }
        if let Some(java) = &self.java {
            java.print_logs(rows);
        }
    }

    fn server_for(&self, cell: &Cell) -> Result<&Server, String> {
        if matches!(cell.client, Rp::Nimbus | Rp::KeycloakLogin(_)) {
            let java = self.java.as_ref().ok_or("the Java peers are not running")?;
            return java.server_for(cell);
        }
        Ok(match (cell.client.server(), cell.expect) {
            (ServerKind::OidcProvider, Expect::Expire) => &self.op_short,
            (ServerKind::OidcProvider, _) => &self.op,
            (ServerKind::CibaServe, Expect::Expire) => &self.serve_short,
            (ServerKind::CibaServe | ServerKind::Keycloak, _) => &self.serve,
        })
    }

    fn run_cell(&self, cell: Cell) -> Row {
        // A Keycloak cell first waits for Keycloak's start (outside its own time).
        if let Some(java) = &self.java {
            drop(java.server_for(&cell));
        }
        let started = Instant::now();
        let dir = self.tmp.path().join("cells");
        let stdout = dir.join(format!("{:02}.stdout", cell.n));
        let stderr = dir.join(format!("{:02}.stderr", cell.n));
        let cell_deadline = (started + CELL_TIMEOUT)
            .min(self.deadline.checked_sub(TEARDOWN).unwrap_or(self.deadline));
        let mut row = Row {
            outcome: "-".to_owned(),
            secs: 0.0,
            problems: Vec::new(),
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            cell,
        };
        // Whatever happens, the notification port is released now.
        drop(lock(&self.ports).remove(&row.cell.client_id));
        if cell_deadline.saturating_duration_since(started) < Duration::from_secs(5) {
            row.problems
                .push("not run: the time budget is spent".to_owned());
            return row;
        }
        let server = match self.server_for(&row.cell) {
            Ok(server) => server,
            Err(e) => {
                let first = e.lines().next().unwrap_or_default().to_owned();
                row.problems.push(format!("not run: {first}"));
                return row;
            }
        };
        let mut cmd = self.command(&row.cell, server);
        let mut proc = match Proc::spawn_logged(&row.cell.client_id, &mut cmd, &stdout, &stderr) {
            Ok(p) => p,
            Err(e) => {
                row.problems.push(e);
                return row;
            }
        };
        if row.cell.expect != Expect::Expire {
            let decided = match (&self.java, row.cell.client.server()) {
                (Some(java), ServerKind::Keycloak) => java.decide(server, &row.cell, cell_deadline),
                _ => decide(server, &row.cell, &mut proc, cell_deadline),
            };
            if let Err(e) = decided {
                row.problems.push(e);
            }
        }
        let status = proc.wait_timeout(cell_deadline.saturating_duration_since(Instant::now()));
        row.secs = started.elapsed().as_secs_f64();
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&stderr).unwrap_or_default();
        let (outcome, problems) = match row.cell.client {
            Rp::Login(_) | Rp::KeycloakLogin(_) => {
                check_login(&row.cell, server, status, &out, &err)
            }
            Rp::OpenidClient | Rp::Oauth4webapi | Rp::Nimbus => {
                check_driver(&row.cell, server, status, &out)
            }
        };
        row.outcome = outcome;
        row.problems.extend(problems);
        if status.is_none() {
            row.problems
                .push(format!("{} timed out and was killed", proc.name()));
        }
        row
    }

    /// The client process of a cell.
    fn command(&self, cell: &Cell, server: &Server) -> Command {
        let (mut cmd, scope) = match cell.client {
            Rp::Login(transport) | Rp::KeycloakLogin(transport) => {
                let mut cmd = Command::new(self.bin);
                cmd.arg("login");
                match transport {
                    Transport::Default => {}
                    Transport::Reqwest => {
                        cmd.args(["--transport", "reqwest"]);
                    }
                    Transport::Hyper => {
                        cmd.args(["--transport", "hyper"]);
                    }
                }
                cmd.arg("--allow-insecure-loopback");
                if let Some(port) = cell.notification_port {
                    cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
                }
                (cmd, "openid email")
            }
            Rp::Nimbus => {
                let classpath = self.java.as_ref().map_or("", |j| j.nimbus_classpath());
                let mut cmd = nimbus::command(classpath);
                cmd.args([
                    "--id-token-alg",
                    keycloak_cells::NIMBUS_ID_TOKEN_ALG,
                    "--expect",
                    cell.expect.word(),
                ]);
                if let Some(port) = cell.notification_port {
                    cmd.args(["--notification-port", &port.to_string()]);
                }
                (cmd, "openid")
            }
            Rp::OpenidClient | Rp::Oauth4webapi => {
                let script = if cell.client == Rp::OpenidClient {
                    "rp-openid-client.mjs"
                } else {
                    "rp-oauth4webapi.mjs"
                };
                let mut cmd = Command::new("node");
                cmd.arg(script).current_dir(self.interop);
                cmd.args(["--id-token-alg", "EdDSA", "--expect", cell.expect.word()]);
                if let Some(port) = cell.notification_port {
                    cmd.args(["--notification-port", &port.to_string()]);
                }
                (cmd, "openid")
            }
        };
        cmd.args(["--issuer", &server.issuer, "--client-id", &cell.client_id]);
        cmd.args(["--auth-method", cell.auth.method()]);
        match cell.auth {
            Auth::Basic | Auth::Post => cmd.args(["--client-secret", &cell.secret]),
            Auth::PrivateKeyJwt => cmd
                .arg("--private-key")
                .arg(private_key(&self.tmp.path().join("keys"), &cell.client_id)),
        };
        cmd.args(["--login-hint", LOGIN_HINT, "--scope", scope]);
        cmd.args(["--binding-message", &cell.binding_message]);
        cmd.args(["--mode", &cell.mode.to_string()]);
        if cell.dpop {
            cmd.arg("--dpop");
        }
        if let Some(encryption) = cell.encryption {
            cmd.arg("--decryption-key").arg(decryption_key(
                &self.tmp.path().join("keys"),
                &cell.client_id,
            ));
            cmd.args(["--id-token-enc", encryption.enc]);
        }
        cmd
    }
}

fn private_key(keys: &Path, client_id: &str) -> PathBuf {
    keys.join(format!("{client_id}.private.jwk"))
}

fn decryption_key(keys: &Path, client_id: &str) -> PathBuf {
    keys.join(format!("{client_id}.enc.private.jwk"))
}

/// Plays the end-user: finds the cell's request (by its binding_message) in the server's
/// pending list, waits (poll approvals), then approves or denies it.
fn decide(server: &Server, cell: &Cell, proc: &mut Proc, deadline: Instant) -> Result<(), String> {
    let list_url = match &server.admin {
        Some(admin) => format!("{admin}/pending"),
        None => format!("{}/device/api/pending", server.issuer),
    };
    let until = deadline.min(Instant::now() + PENDING_TIMEOUT);
    // Every call ends by the cell's deadline (give or take a second).
    let timeout = || {
        HTTP_TIMEOUT
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_secs(1))
    };
    let id = loop {
        if let Some(status) = proc.exited() {
            return Err(format!(
                "the client exited ({status}) before its request was pending"
            ));
        }
        let r = http("GET", &list_url, timeout())?;
        if r.status != 200 {
            return Err(format!("GET {list_url}: {} {}", r.status, r.body));
        }
        let list = Json::parse(&r.body).map_err(|e| format!("GET {list_url}: {e}"))?;
        let items = match &server.admin {
            Some(_) => list.as_array(),
            None => list.get("pending").and_then(Json::as_array),
        }
        .unwrap_or_default();
        let found = items
            .iter()
            .find(|p| {
                p.get("binding_message").and_then(Json::as_str)
                    == Some(cell.binding_message.as_str())
            })
            .and_then(|p| p.get("auth_req_id").and_then(Json::as_str));
        if let Some(id) = found {
            break id.to_owned();
        }
        if Instant::now() >= until {
            return Err(format!(
                "no pending request with binding_message {} within {PENDING_TIMEOUT:?}",
                cell.binding_message
            ));
        }
        std::thread::sleep(Duration::from_millis(150));
    };
    if cell.expect == Expect::Approve && cell.mode == Mode::Poll {
        std::thread::sleep(match server.admin {
            Some(_) => OP_POLL_APPROVE_DELAY,
            None => SERVE_POLL_APPROVE_DELAY,
        });
    }
    let action = cell.expect.word();
    let url = match &server.admin {
        Some(admin) => format!("{admin}/{action}/{}", url_segment(&id)),
        None => format!("{}/device/api/{}/{action}", server.issuer, url_segment(&id)),
    };
    let r = http("POST", &url, timeout())?;
    if (200..300).contains(&r.status) {
        Ok(())
    } else {
        Err(format!("{action} answered {}: {}", r.status, r.body.trim()))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `ciba login`: exit code 0 with the token response and validated claims on stdout, 3
/// with `access_denied`, 4 with `expired_token`.
fn check_login(
    cell: &Cell,
    server: &Server,
    status: Option<ExitStatus>,
    out: &str,
    err: &str,
) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let code = status.and_then(|s| s.code());
    let outcome = match code {
        Some(0) => "tokens".to_owned(),
        Some(3) => "access_denied".to_owned(),
        Some(4) => "expired_token".to_owned(),
        Some(1) => "error".to_owned(),
        Some(c) => format!("exit {c}"),
        None if status.is_some() => "killed".to_owned(),
        None => "timeout".to_owned(),
    };
    if outcome != cell.expect.outcome() {
        problems.push(format!("expected {}", cell.expect.outcome()));
        return (outcome, problems);
    }
    match cell.expect {
        Expect::Approve => match Json::parse(out) {
            Ok(json) => {
                check_claims(
                    json.get("id_token_claims"),
                    cell,
                    server,
                    Some(OP_EMAIL),
                    &mut problems,
                );
                let tr = json.get("token_response");
                for member in ["access_token", "id_token"] {
                    if tr
                        .and_then(|t| t.get(member))
                        .and_then(Json::as_str)
                        .is_none()
                    {
                        problems.push(format!("token_response has no {member}"));
                    }
                }
                let token_type = tr.and_then(|t| t.get("token_type")).and_then(Json::as_str);
                if !token_type.is_some_and(|t| t.eq_ignore_ascii_case(cell.token_type())) {
                    problems.push(format!("token_type is {token_type:?}"));
                }
                let id_token = tr.and_then(|t| t.get("id_token")).and_then(Json::as_str);
                check_encrypted(cell, id_token.map(|t| t.split('.').count()), &mut problems);
            }
            Err(e) => problems.push(format!("stdout is not the token JSON: {e}")),
        },
        Expect::Deny | Expect::Expire => {
            if !out.trim().is_empty() {
                problems.push("something was printed on stdout".to_owned());
            }
            if !err.contains(cell.expect.outcome()) {
                problems.push(format!("stderr does not say {}", cell.expect.outcome()));
            }
        }
    }
    (outcome, problems)
}

/// The JS drivers: exit 0 (they compare with `--expect` themselves) and a result line
/// whose claims, poll count and ping flag are checked here too.
fn check_driver(
    cell: &Cell,
    server: &Server,
    status: Option<ExitStatus>,
    out: &str,
) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let line = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let result = match Json::parse(line) {
        Ok(j) => j,
        Err(e) => {
            problems.push(format!("no JSON result line ({e})"));
            let outcome = if status.is_none() { "timeout" } else { "-" };
            return (outcome.to_owned(), problems);
        }
    };
    let outcome = result
        .get("outcome")
        .and_then(Json::as_str)
        .unwrap_or("-")
        .to_owned();
    if outcome != cell.expect.outcome() {
        let error = result.get("error").and_then(Json::as_str).unwrap_or("");
        problems.push(format!("expected {} ({error})", cell.expect.outcome()));
    }
    if let Some(code) = status.and_then(|s| s.code())
        && code != 0
    {
        problems.push(format!("exit {code}"));
    }
    if outcome == "tokens" {
        check_claims(result.get("claims"), cell, server, None, &mut problems);
        let token_type = result.get("token_type").and_then(Json::as_str);
        if !token_type.is_some_and(|t| t.eq_ignore_ascii_case(cell.token_type())) {
            problems.push(format!("token_type is {token_type:?}"));
        }
        let parts = result.get("id_token_parts").and_then(Json::as_f64);
        check_encrypted(cell, parts.map(|p| p as usize), &mut problems);
    }
    if cell.mode == Mode::Poll && cell.expect == Expect::Approve {
        let polls = result.get("polls").and_then(Json::as_f64).unwrap_or(0.0);
        if polls < 2.0 {
            problems.push(format!(
                "{polls} token requests: authorization_pending was never seen"
            ));
        }
    }
    if cell.mode == Mode::Ping
        && cell.expect != Expect::Expire
        && result.get("notified") != Some(&Json::Bool(true))
    {
        problems.push("the ping notification did not arrive".to_owned());
    }
    (outcome, problems)
}

/// An encrypted cell's ID token arrived as a JWE (five parts), a plain one's as a JWS (three):
/// a client that silently accepted a plain token in an encrypted cell would pass otherwise.
fn check_encrypted(cell: &Cell, id_token_parts: Option<usize>, problems: &mut Vec<String>) {
    let expected = if cell.encryption.is_some() { 5 } else { 3 };
    match id_token_parts {
        Some(n) if n == expected => {}
        // Only the encrypted cells insist on knowing (older drivers do not report it).
        None if cell.encryption.is_none() => {}
        other => problems.push(format!(
            "the delivered ID token has {other:?} parts, expected {expected}{}",
            if expected == 5 { " (a JWE)" } else { "" }
        )),
    }
}

/// The ID token claims: sub, aud, iss (and email from oidc-provider's `email` scope).
fn check_claims(
    claims: Option<&Json>,
    cell: &Cell,
    server: &Server,
    email: Option<&str>,
    problems: &mut Vec<String>,
) {
    let Some(claims) = claims else {
        problems.push("no ID token claims".to_owned());
        return;
    };
    let str_claim = |name: &str| claims.get(name).and_then(Json::as_str);
    if str_claim("sub") != Some(LOGIN_HINT) {
        problems.push(format!("sub is {:?}, not {LOGIN_HINT}", str_claim("sub")));
    }
    if !claims
        .get("aud")
        .is_some_and(|a| a.is_or_contains(&cell.client_id))
    {
        problems.push("aud does not name the client".to_owned());
    }
    if str_claim("iss") != Some(server.issuer.as_str()) {
        problems.push(format!("iss is {:?}", str_claim("iss")));
    }
    if let Some(email) = email
        && str_claim("email") != Some(email)
    {
        problems.push(format!("email is {:?}", str_claim("email")));
    }
}

// ---------------------------------------------------------------------------------------
// Servers and their client registrations
// ---------------------------------------------------------------------------------------

/// The clients file of one server (standard client metadata names; oidc-provider wants
/// `response_types`/`redirect_uris` empty for a CIBA-only client).
fn write_clients(path: &Path, cells: &[Cell], kind: ServerKind, keys: &Path) -> Result<(), String> {
    let mut entries = Vec::new();
    for cell in cells.iter().filter(|c| c.client.server() == kind) {
        let mut m = vec![
            format!("\"client_id\":{}", quote(&cell.client_id)),
            format!("\"grant_types\":[{}]", quote(CIBA_GRANT)),
            format!(
                "\"token_endpoint_auth_method\":{}",
                quote(cell.auth.method())
            ),
            format!(
                "\"backchannel_token_delivery_mode\":{}",
                quote(&cell.mode.to_string())
            ),
        ];
        match kind {
            ServerKind::OidcProvider => {
                m.push("\"response_types\":[],\"redirect_uris\":[]".to_owned());
                m.push(format!(
                    "\"id_token_signed_response_alg\":{}",
                    quote(cell.auth.op_id_token_alg())
                ));
            }
            ServerKind::CibaServe | ServerKind::Keycloak => {
                let alg = if cell.client == Rp::Nimbus {
                    keycloak_cells::NIMBUS_ID_TOKEN_ALG
                } else {
                    "EdDSA"
                };
                m.push(format!("\"id_token_signed_response_alg\":{}", quote(alg)));
            }
        }
        if cell.dpop {
            m.push("\"dpop_bound_access_tokens\":true".to_owned());
        }
        let mut jwks = Vec::new();
        if let Some(encryption) = cell.encryption {
            m.push(format!(
                "\"id_token_encrypted_response_alg\":{},\"id_token_encrypted_response_enc\":{}",
                quote(encryption.alg),
                quote(encryption.enc)
            ));
            jwks.push(read_jwk(
                &keys.join(format!("{}.enc.public.jwk", cell.client_id)),
            )?);
        }
        if let Some(port) = cell.notification_port {
            m.push(format!(
                "\"backchannel_client_notification_endpoint\":{}",
                quote(&format!("http://127.0.0.1:{port}/ciba/notify"))
            ));
        }
        match cell.auth {
            Auth::Basic | Auth::Post => {
                m.push(format!("\"client_secret\":{}", quote(&cell.secret)));
            }
            Auth::PrivateKeyJwt => {
                jwks.push(read_jwk(
                    &keys.join(format!("{}.public.jwk", cell.client_id)),
                )?);
                m.push("\"token_endpoint_auth_signing_alg\":\"ES256\"".to_owned());
            }
        }
        if !jwks.is_empty() {
            m.push(format!("\"jwks\":{{\"keys\":[{}]}}", jwks.join(",")));
        }
        entries.push(format!("  {{{}}}", m.join(",")));
    }
    let text = format!("[\n{}\n]\n", entries.join(",\n"));
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A public JWK file of keygen.mjs, checked to be JSON, as text.
fn read_jwk(file: &Path) -> Result<String, String> {
    let jwk = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Json::parse(&jwk).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(jwk.trim().to_owned())
}

/// Waits for the first stdout line of a server that `is_ready` accepts.
pub(crate) fn ready_line(
    proc: &mut Proc,
    log: &Path,
    is_ready: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let lines = proc
        .stdout_lines()
        .ok_or_else(|| format!("{}: no stdout", proc.name()))?;
    let until = Instant::now() + READY_TIMEOUT;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if is_ready(&line) => return Ok(line),
            Ok(_) => {}
            Err(e) => {
                let state = match e {
                    // stdout closed: it is exiting (or closed stdout, and is stopped here).
                    mpsc::RecvTimeoutError::Disconnected => {
                        match proc.wait_timeout(Duration::from_secs(2)) {
                            Some(status) => format!("exited ({status}) without a ready line"),
                            None => "closed its stdout without a ready line".to_owned(),
                        }
                    }
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("printed no ready line within {READY_TIMEOUT:?}")
                    }
                };
                return Err(format!(
                    "{} {state}; its log:\n{}",
                    proc.name(),
                    tail(log, 30)
                ));
            }
        }
    }
}

fn start_op(
    interop: &Path,
    clients: &Path,
    expires_in: u32,
    label: &str,
    tmp: &Path,
) -> Result<Server, String> {
    let log = tmp.join(format!("{label}.log"));
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut proc = Proc::spawn(
        label,
        Command::new("node")
            .arg("op.mjs")
            .arg("--clients")
            .arg(clients)
            .args(["--expires-in", &expires_in.to_string()])
            .current_dir(interop)
            .stdout(Stdio::piped())
            .stderr(log_file),
    )?;
    let line = ready_line(&mut proc, &log, |l| l.starts_with('{'))?;
    let ready = Json::parse(&line).map_err(|e| format!("{label}: ready line: {e}"))?;
    let field = |name: &str| {
        ready
            .get(name)
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{label}: the ready line has no {name}"))
    };
    Ok(Server {
        issuer: field("issuer")?,
        admin: Some(field("admin")?),
        log,
        label: format!("{label} (oidc-provider, CIBA_EXPIRES_IN={expires_in})"),
        _proc: Some(proc),
    })
}

fn start_serve(
    bin: &Path,
    clients: &Path,
    expires_in: Option<u32>,
    label: &str,
    tmp: &Path,
    signing_keys: &[&Path],
) -> Result<Server, String> {
    let log = tmp.join(format!("{label}.log"));
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--auto", "manual"])
        .args(["--interval", &SERVE_INTERVAL.to_string()])
        .arg("--clients")
        .arg(clients);
    if let Some(s) = expires_in {
        cmd.args(["--expires-in", &s.to_string()]);
    }
    for key in signing_keys {
        cmd.arg("--signing-key").arg(key);
    }
    let mut proc = Proc::spawn(label, cmd.stdout(Stdio::piped()).stderr(log_file))?;
    let line = ready_line(&mut proc, &log, |l| l.starts_with("issuer: "))?;
    let issuer = line.trim_start_matches("issuer: ").trim().to_owned();
    Ok(Server {
        issuer,
        admin: None,
        log,
        label: format!(
            "{label} (ciba serve, interval {SERVE_INTERVAL} s{})",
            expires_in.map_or(String::new(), |s| format!(", expires_in {s} s"))
        ),
        _proc: Some(proc),
    })
}

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------

fn print_table(rows: &[Row]) {
    let header = [
        "#", "client", "server", "mode", "auth", "expect", "outcome", "secs", "result",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.cell.n.to_string(),
                r.cell.client.label().to_owned(),
                r.cell.client.server().label().to_owned(),
                r.cell.mode.to_string(),
                match (r.cell.dpop, r.cell.encryption) {
                    (true, _) => format!("{} + DPoP", r.cell.auth.method()),
                    (false, Some(e)) => {
                        format!("{} + JWE {}/{}", r.cell.auth.method(), e.alg, e.enc)
                    }
                    (false, None) => r.cell.auth.method().to_owned(),
                },
                r.cell.expect.word().to_owned(),
                r.outcome.clone(),
                format!("{:.1}", r.secs),
                if r.problems.is_empty() {
                    "PASS".to_owned()
                } else {
                    format!("FAIL: {}", r.problems.join("; "))
                },
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // The result column is last and not padded (failures can be long).
    if let Some(last) = width.last_mut() {
        *last = 0;
    }
    let line = |row: &[String]| {
        row.iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_owned()
    };
    let passed = rows.iter().filter(|r| r.problems.is_empty()).count();
    println!(
        "\n==> interop matrix ({passed} passed, {} failed)\n",
        rows.len() - passed
    );
    println!("{}", line(&header.map(str::to_owned)));
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    println!("{}-{}", rule.join("-|-"), "-".repeat(5));
    for row in &cells {
        println!("{}", line(row));
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_segments_are_percent_encoded() {
        assert_eq!(url_segment("aZ0-._~"), "aZ0-._~");
        assert_eq!(url_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn stale_node_modules_are_detected() {
        let dir = TempDir::new("xtask-interop-test").unwrap();
        assert!(npm_packages_stale(dir.path()).unwrap().contains("missing"));
    }
}
