//! The peers' startup: the client registration files, and oidc-provider (`interop/op.mjs`)
//! and `ciba serve` started on 127.0.0.1 and waited for until they print their ready line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::cells::{Auth, Cell, Rp, ServerKind};
use super::support::{Proc, tail};
use super::{CIBA_GRANT, READY_TIMEOUT, SERVE_INTERVAL, keycloak_cells};
use crate::json::{Json, quote};

/// A running server.
pub(super) struct Server {
    pub(super) issuer: String,
    /// oidc-provider's admin API base; `None` for `ciba serve` (device API under issuer).
    pub(super) admin: Option<String>,
    pub(super) log: PathBuf,
    pub(super) label: String,
    /// `None` when the process is owned elsewhere (Keycloak serves two realms).
    pub(super) _proc: Option<Proc>,
}

/// The clients file of one server (standard client metadata names; oidc-provider wants
/// `response_types`/`redirect_uris` empty for a CIBA-only client).
pub(super) fn write_clients(
    path: &Path,
    cells: &[Cell],
    kind: ServerKind,
    keys: &Path,
) -> Result<(), String> {
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

pub(super) fn start_op(
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

pub(super) fn start_serve(
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
