//! The matrix runner: starts the servers, runs the cells on a few worker threads, plays the
//! end-user for each, checks the outcome and prints the table.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cells::{Auth, Cell, Expect, Rp, ServerKind, Transport};
use super::checks::{check_driver, check_login};
use super::end_user::decide;
use super::servers::{Server, start_op, start_serve, write_clients};
use super::support::{Proc, TempDir, tail};
use super::table::print_table;
use super::{
    CELL_TIMEOUT, FAILED_CELLS, LOGIN_HINT, OP_EXPIRES_IN, OP_SHORT_EXPIRES_IN,
    SERVE_SHORT_EXPIRES_IN, TEARDOWN, WORKERS, keycloak_cells, nimbus,
};

/// A finished cell.
pub(super) struct Row {
    pub(super) cell: Cell,
    pub(super) outcome: String,
    pub(super) secs: f64,
    pub(super) problems: Vec<String>,
    pub(super) stdout: PathBuf,
    pub(super) stderr: PathBuf,
}

/// The rows of a matrix that could not run.
pub(super) fn not_run(cells: Vec<Cell>, why: &str) -> Vec<Row> {
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

pub(super) struct Matrix<'a> {
    pub(super) bin: &'a Path,
    pub(super) interop: &'a Path,
    pub(super) deadline: Instant,
    pub(super) cells: Vec<Cell>,
    /// Notification ports, held until the cell that uses one starts.
    pub(super) ports: Mutex<HashMap<String, TcpListener>>,
    // Declared before `tmp`, so the servers stop before their folder goes.
    pub(super) op: Server,
    pub(super) op_short: Server,
    pub(super) serve: Server,
    pub(super) serve_short: Server,
    /// Keycloak and the `ciba serve` pair of the Nimbus cells, when the Java peers run.
    pub(super) java: Option<keycloak_cells::JavaRun>,
    pub(super) tmp: TempDir,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<'a> Matrix<'a> {
    /// Writes the client registrations and starts the four servers.
    pub(super) fn new(
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
    pub(super) fn run(self) -> Result<(), String> {
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
    pub(super) fn next_cell(&self, queue: &Mutex<VecDeque<Cell>>) -> Option<Cell> {
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

    pub(super) fn print_failures(&self, rows: &[Row]) {
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

    pub(super) fn server_for(&self, cell: &Cell) -> Result<&Server, String> {
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

    pub(super) fn run_cell(&self, cell: Cell) -> Row {
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
    pub(super) fn command(&self, cell: &Cell, server: &Server) -> Command {
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

pub(super) fn private_key(keys: &Path, client_id: &str) -> PathBuf {
    keys.join(format!("{client_id}.private.jwk"))
}

pub(super) fn decryption_key(keys: &Path, client_id: &str) -> PathBuf {
    keys.join(format!("{client_id}.enc.private.jwk"))
}
