//! The Java peers' cells of the interop matrix (docs/interop.md):
//!
//! - `ciba login` (reqwest and hyper) against Keycloak ([`keycloak::VERSION`]): poll and
//!   ping, client_secret_basic and private_key_jwt, approve, deny and expire. One Keycloak
//!   serves two realms (`ciba`, and `ciba-short` with a short `cibaExpiresIn` for the expiry
//!   cells); it starts in the background while the other cells run; its cells wait at the
//!   end of the queue and go first once it is up.
//! - The Nimbus SDK driver ([`nimbus::VERSION`], interop/nimbus) against `ciba serve`: the
//!   same modes, methods and outcomes, on a `ciba serve` pair of its own that signs ID tokens
//!   with ES256 (Nimbus's ID token validator selects RSA and EC keys only, see
//!   docs/interop.md).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cells::{Auth, Cell, Expect, Mode, Plan, Rp, ServerKind, Transport};
use super::keycloak::{self, ClientAuth, Keycloak, RealmClient, RealmSpec};
use super::matrix::{Row, lock};
use super::servers::{Server, start_serve, write_clients};
use super::support::tail;
use super::{PENDING_TIMEOUT, SERVE_SHORT_EXPIRES_IN, nimbus};

/// Table labels (the versions are checked against the pinned ones in a test).
pub(super) const KEYCLOAK_LABEL: &str = "Keycloak 26.7.3";
pub(super) const NIMBUS_LABEL: &str = "Nimbus SDK 11.39";
/// The ID token algorithm of the Nimbus cells' `ciba serve` (and their registrations).
pub(super) const NIMBUS_ID_TOKEN_ALG: &str = "ES256";
/// The key (made by keygen.mjs with the client keys) that `ciba serve` signs with for Nimbus.
pub(super) const SIGNING_KEY: &str = "nimbus-serve-signing";

const REALM: &str = "ciba";
const SHORT_REALM: &str = "ciba-short";
/// Keycloak's request lifetime in the main realm and in the one for the expiry cells.
const KC_EXPIRES_IN: u32 = 60;
const KC_SHORT_EXPIRES_IN: u32 = 4;
/// Keycloak's polling interval (it answers `slow_down` to faster polls).
const KC_INTERVAL: u32 = 1;
/// Poll approvals at Keycloak wait this long, so the client sees `authorization_pending`.
const KC_POLL_APPROVE_DELAY: Duration = Duration::from_millis(2500);

/// Whether the Java peers run: `java` and `mvn` present. Missing under `CI=true` is an
/// error; elsewhere a loud warning, and their cells are left out.
pub(super) fn java_peers() -> Result<bool, String> {
    match keycloak::check_java_tools() {
        Ok(()) => Ok(true),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => Err(format!(
            "the Java peers (Keycloak, Nimbus) cannot run under CI=true: {why}"
        )),
        Err(why) => {
            eprintln!(
                "\nxtask: WARNING: {why}\nxtask: WARNING: the Keycloak and Nimbus cells are LEFT OUT; CI runs them\n"
            );
            Ok(false)
        }
    }
}

/// What the Java cells need before the servers start.
pub(super) struct JavaPeers {
    keycloak_home: PathBuf,
    nimbus_classpath: String,
}

/// Fetches Keycloak and builds the Nimbus driver (both cached between runs).
pub(super) fn prepare(
    java: bool,
    interop: &Path,
    deadline: Instant,
) -> Result<Option<JavaPeers>, String> {
    if !java {
        return Ok(None);
    }
    let keycloak_home = keycloak::ensure_distribution()?;
    let nimbus_classpath = nimbus::ensure_built(interop, deadline)?;
    Ok(Some(JavaPeers {
        keycloak_home,
        nimbus_classpath,
    }))
}

/// The Java cells: our clients × Keycloak and Nimbus × `ciba serve`, each mode ×
/// {client_secret_basic, private_key_jwt} × each outcome.
pub(super) fn plan(transports: &[Transport], plan: &mut Plan) -> Result<(), String> {
    let mut clients: Vec<Rp> = transports.iter().map(|t| Rp::KeycloakLogin(*t)).collect();
    clients.push(Rp::Nimbus);
    for client in clients {
        plan.grid(client, &[Auth::Basic, Auth::PrivateKeyJwt])?;
    }
    Ok(())
}

/// Queue order for the Java cells (higher starts earlier): the Keycloak cells last, as
/// Keycloak is still starting when the matrix begins.
pub(super) fn estimate(cell: &Cell) -> Option<u32> {
    match (cell.client, cell.mode, cell.expect) {
        (Rp::KeycloakLogin(_), _, _) => Some(0),
        (Rp::Nimbus, _, Expect::Expire) => Some(5),
        (Rp::Nimbus, Mode::Poll, Expect::Approve) => Some(4),
        (Rp::Nimbus, _, _) => Some(2),
        _ => None,
    }
}

/// Keycloak with its two realms, as the cells see it.
struct KcPeer {
    main: Server,
    short: Server,
    kc: Keycloak,
}

/// The Java servers of one matrix run.
pub(super) struct JavaRun {
    nimbus_classpath: String,
    serve: Server,
    serve_short: Server,
    keycloak_start: Mutex<Option<JoinHandle<Result<KcPeer, String>>>>,
    keycloak: OnceLock<Result<KcPeer, String>>,
}

impl JavaRun {
    /// Starts Keycloak in the background (realms written from the cells' registrations)
    /// and the Nimbus cells' `ciba serve` pair.
    pub(super) fn start(
        peers: JavaPeers,
        bin: &Path,
        interop: &Path,
        cells: &[Cell],
        keys: &Path,
        tmp: &Path,
    ) -> Result<JavaRun, String> {
        let mut main = Vec::new();
        let mut short = Vec::new();
        for cell in cells
            .iter()
            .filter(|c| c.client.server() == ServerKind::Keycloak)
        {
            let auth = match cell.auth {
                Auth::PrivateKeyJwt => {
                    let file = keys.join(format!("{}.public.jwk", cell.client_id));
                    let jwk = std::fs::read_to_string(&file)
                        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                    ClientAuth::PublicJwk(jwk)
                }
                Auth::Basic | Auth::Post => ClientAuth::Secret(cell.secret.clone()),
            };
            let client = RealmClient {
                client_id: cell.client_id.clone(),
                mode: cell.mode.to_string(),
                auth,
                notification_endpoint: cell
                    .notification_port
                    .map(|port| format!("http://127.0.0.1:{port}/ciba/notify")),
                // Both of Keycloak's usual families: RSA for the secret clients, EC for
                // the private_key_jwt ones.
                id_token_alg: match cell.auth {
                    Auth::PrivateKeyJwt => "ES256",
                    Auth::Basic | Auth::Post => "RS256",
                }
                .to_owned(),
            };
            if cell.expect == Expect::Expire {
                short.push(client);
            } else {
                main.push(client);
            }
        }
        let realms = vec![
            (
                REALM.to_owned(),
                keycloak::realm_json(
                    interop,
                    &RealmSpec {
                        name: REALM,
                        expires_in: KC_EXPIRES_IN,
                        interval: KC_INTERVAL,
                        user_id: super::LOGIN_HINT,
                        clients: main,
                    },
                )?,
            ),
            (
                SHORT_REALM.to_owned(),
                keycloak::realm_json(
                    interop,
                    &RealmSpec {
                        name: SHORT_REALM,
                        expires_in: KC_SHORT_EXPIRES_IN,
                        interval: KC_INTERVAL,
                        // Only the expiry cells use this realm: no ID token, no `sub` to check.
                        user_id: "alice-short-realm",
                        clients: short,
                    },
                )?,
            ),
        ];
        let home = peers.keycloak_home.clone();
        let log = tmp.join("keycloak.log");
        println!(
            "\n==> starting Keycloak {} on 127.0.0.1 (in the background)",
            keycloak::VERSION
        );
        let handle = std::thread::spawn(move || {
            let kc = Keycloak::start(&home, &realms, &log, true)?;
            let server = |realm: &str, expires_in: u32| Server {
                issuer: kc.issuer(realm),
                admin: None,
                log: log.clone(),
                label: format!("keycloak realm {realm} (cibaExpiresIn {expires_in} s)"),
                _proc: None,
            };
            Ok(KcPeer {
                main: server(REALM, KC_EXPIRES_IN),
                short: server(SHORT_REALM, KC_SHORT_EXPIRES_IN),
                kc,
            })
        });
        let run = JavaRun {
            nimbus_classpath: peers.nimbus_classpath,
            keycloak_start: Mutex::new(Some(handle)),
            keycloak: OnceLock::new(),
            // Filled in below; a failure there still stops Keycloak (Drop joins it).
            serve: placeholder(),
            serve_short: placeholder(),
        };
        run.start_serves(bin, cells, keys, tmp)
    }

    fn start_serves(
        mut self,
        bin: &Path,
        cells: &[Cell],
        keys: &Path,
        tmp: &Path,
    ) -> Result<JavaRun, String> {
        let nimbus: Vec<Cell> = cells
            .iter()
            .filter(|c| c.client == Rp::Nimbus)
            .cloned()
            .collect();
        let file = tmp.join("serve-nimbus-clients.json");
        write_clients(&file, &nimbus, ServerKind::CibaServe, keys)?;
        // `ciba serve` requires an RS256 key beside the ES256 one it signs these clients'
        // ID tokens with (their registered `id_token_signed_response_alg`).
        let rs256 = crate::ci::root().join("crates/ciba-core/testdata/rs256.jwk.json");
        let es256 = keys.join(format!("{SIGNING_KEY}.private.jwk"));
        let key_files = [rs256.as_path(), es256.as_path()];
        self.serve = start_serve(bin, &file, None, "serve-nimbus", tmp, &key_files)?;
        self.serve_short = start_serve(
            bin,
            &file,
            Some(SERVE_SHORT_EXPIRES_IN),
            "serve-nimbus-short",
            tmp,
            &key_files,
        )?;
        for s in [&self.serve, &self.serve_short] {
            println!(
                "    {} (ID tokens {NIMBUS_ID_TOKEN_ALG}): {}",
                s.label, s.issuer
            );
        }
        Ok(self)
    }

    /// Whether Keycloak's start has ended (up, or failed: either way its cells can go).
    pub(super) fn keycloak_ready(&self) -> bool {
        self.keycloak.get().is_some()
            || lock(&self.keycloak_start)
                .as_ref()
                .is_some_and(JoinHandle::is_finished)
    }

    pub(super) fn nimbus_classpath(&self) -> &str {
        &self.nimbus_classpath
    }

    /// Keycloak once started (the first caller waits for the start; a failed start is
    /// reported once and fails every Keycloak cell).
    fn keycloak(&self) -> Result<&KcPeer, String> {
        self.keycloak
            .get_or_init(|| {
                // Taken out first: the lock is not held while the start is waited for.
                let handle = lock(&self.keycloak_start).take();
                let started = match handle {
                    Some(handle) => handle
                        .join()
                        .unwrap_or_else(|_| Err("the Keycloak start panicked".to_owned())),
                    None => Err("Keycloak was not started".to_owned()),
                };
                if let Err(e) = &started {
                    eprintln!("\nxtask: Keycloak did not start: {e}\n");
                }
                started
            })
            .as_ref()
            .map_err(|e| format!("Keycloak did not start: {e}"))
    }

    pub(super) fn server_for(&self, cell: &Cell) -> Result<&Server, String> {
        match (cell.client, cell.expect) {
            (Rp::Nimbus, Expect::Expire) => Ok(&self.serve_short),
            (Rp::Nimbus, _) => Ok(&self.serve),
            (_, Expect::Expire) => Ok(&self.keycloak()?.short),
            _ => Ok(&self.keycloak()?.main),
        }
    }

    /// Plays the end-user at Keycloak for `cell` (through the authentication channel).
    pub(super) fn decide(
        &self,
        server: &Server,
        cell: &Cell,
        deadline: Instant,
    ) -> Result<(), String> {
        let peer = self.keycloak()?;
        let delay = if cell.expect == Expect::Approve && cell.mode == Mode::Poll {
            KC_POLL_APPROVE_DELAY
        } else {
            Duration::ZERO
        };
        peer.kc.decide(
            &server.issuer,
            &cell.binding_message,
            cell.expect == Expect::Approve,
            delay,
            deadline.min(Instant::now() + PENDING_TIMEOUT),
            deadline,
        )
    }

    /// The logs of the Java servers, when one of their cells failed.
    pub(super) fn print_logs(&self, rows: &[Row]) {
        let failed = |kind: fn(&Rp) -> bool| {
            rows.iter()
                .any(|r| !r.problems.is_empty() && kind(&r.cell.client))
        };
        if failed(|c| matches!(c, Rp::Nimbus)) {
            for s in [&self.serve, &self.serve_short] {
                println!("\n--- {} log (last lines):\n{}", s.label, tail(&s.log, 40));
            }
        }
        if failed(|c| matches!(c, Rp::KeycloakLogin(_)))
            && let Some(Ok(peer)) = self.keycloak.get()
        {
            println!(
                "\n--- Keycloak {} log (last lines):\n{}",
                keycloak::VERSION,
                tail(&peer.kc.log, 60)
            );
        }
    }
}

impl Drop for JavaRun {
    /// A Keycloak still starting is waited for, so that it is stopped too.
    fn drop(&mut self) {
        let handle = lock(&self.keycloak_start).take();
        if let Some(handle) = handle {
            drop(handle.join());
        }
    }
}

/// A server slot not filled in yet.
fn placeholder() -> Server {
    Server {
        issuer: String::new(),
        admin: None,
        log: PathBuf::new(),
        label: String::new(),
        _proc: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_pinned_versions() {
        assert!(KEYCLOAK_LABEL.ends_with(keycloak::VERSION));
        assert!(NIMBUS_LABEL.ends_with(nimbus::VERSION));
    }

    #[test]
    fn the_java_plan_covers_every_combination_once() {
        let mut java = Plan::default();
        plan(&[Transport::Reqwest, Transport::Hyper], &mut java).unwrap();
        let Plan { cells, ports } = java;
        // (2 transports + Nimbus) x 2 modes x 2 methods x 3 outcomes.
        assert_eq!(cells.len(), 36);
        assert_eq!(ports.len(), 18);
        let mut ids: Vec<&str> = cells.iter().map(|c| c.client_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 36);
        assert!(cells.iter().all(|c| c.auth != Auth::Post));
    }
}
