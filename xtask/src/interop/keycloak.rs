//! Keycloak as a CIBA provider peer (interop matrix and load benchmarks).
//!
//! - The server distribution (`org.keycloak:keycloak-quarkus-dist`, [`VERSION`]) comes from
//!   Maven Central through `mvn dependency:copy` (so it is cached in the local Maven
//!   repository) and is unpacked under `<target>/keycloak/`.
//! - [`Keycloak::start`] runs it in dev mode on 127.0.0.1 (port chosen by the OS), with an
//!   in-memory database and the realms written from the templates in `interop/keycloak/`.
//! - Keycloak's decoupled authentication goes through its HTTP authentication channel: it
//!   POSTs each request to a URL of ours with a bearer token, and the end-user's decision is
//!   sent back to its CIBA callback endpoint with that token. [`AuthChannel`] is that URL:
//!   a small loopback service that answers `201 Created` and remembers each token by the
//!   request's `binding_message`, so that [`Keycloak::decide`] can approve, deny, or let the
//!   request expire.
//!
//! Everything listens on 127.0.0.1 only; the process group is stopped when [`Keycloak`] is
//! dropped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod auth_channel;

pub(crate) use auth_channel::AuthChannel;

use super::support::{Proc, Response, tail};
use crate::json::{Json, quote};

/// The pinned Keycloak release.
pub(crate) const VERSION: &str = "26.7.3";
/// The Maven plugin that fetches it (pinned too).
const DEPENDENCY_PLUGIN: &str = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy";
/// Keycloak's documented Java baseline; an older default `java` is used only when no newer
/// JDK is found (Keycloak 26.7 still starts on 17).
const JAVA_MIN_MAJOR: u32 = 21;
/// Fetching and unpacking the distribution, at most.
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);
/// Dev-mode start-up (build step, schema, realm import) on a busy two-core machine.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(240);
/// A stopped Keycloak gets this long after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// A callback refused with 403 (the request not stored yet) is sent again, this often, this
/// far apart.
const CALLBACK_ATTEMPTS: u32 = 10;
const CALLBACK_RETRY: Duration = Duration::from_millis(300);

/// A realm written from `interop/keycloak/realm.json`.
pub(crate) struct RealmSpec<'a> {
    pub(crate) name: &'a str,
    /// `cibaExpiresIn`: lifetime of a request, seconds.
    pub(crate) expires_in: u32,
    /// `cibaInterval`: the polling interval handed out, seconds.
    pub(crate) interval: u32,
    /// The id of user `alice` (the `sub` of her ID tokens). Keycloak's user ids are unique
    /// across realms, so each realm needs its own.
    pub(crate) user_id: &'a str,
    pub(crate) clients: Vec<RealmClient>,
}

/// A CIBA client of a realm.
pub(crate) struct RealmClient {
    pub(crate) client_id: String,
    /// `poll` or `ping`.
    pub(crate) mode: String,
    /// client_secret_basic with this secret, or private_key_jwt (ES256) with this public JWK.
    pub(crate) auth: ClientAuth,
    /// Ping clients: where Keycloak sends the notification.
    pub(crate) notification_endpoint: Option<String>,
    /// `id.token.signed.response.alg`.
    pub(crate) id_token_alg: String,
}

/// How a realm client authenticates.
pub(crate) enum ClientAuth {
    Secret(String),
    PublicJwk(String),
}

/// The realm file of `spec`, from the templates in `interop/keycloak/`.
pub(crate) fn realm_json(interop: &Path, spec: &RealmSpec<'_>) -> Result<String, String> {
    let read = |name: &str| {
        let path = interop.join("keycloak").join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let basic = read("client-secret-basic.json")?;
    let pkjwt = read("client-private-key-jwt.json")?;
    let mut clients = Vec::new();
    for c in &spec.clients {
        let text = match &c.auth {
            ClientAuth::Secret(secret) => basic.replace("@@SECRET@@", &inner(secret)),
            ClientAuth::PublicJwk(jwk) => {
                Json::parse(jwk).map_err(|e| format!("{}: public JWK: {e}", c.client_id))?;
                let jwks = format!("{{\"keys\":[{}]}}", jwk.trim());
                pkjwt.replace("@@JWKS@@", &inner(&jwks))
            }
        };
        let text = text
            .replace("@@CLIENT_ID@@", &inner(&c.client_id))
            .replace("@@MODE@@", &inner(&c.mode))
            .replace(
                "@@NOTIFICATION_ENDPOINT@@",
                &inner(c.notification_endpoint.as_deref().unwrap_or("")),
            )
            .replace("@@ID_TOKEN_ALG@@", &inner(&c.id_token_alg));
        clients.push(text.trim().to_owned());
    }
    let realm = read("realm.json")?
        .replace("@@REALM@@", &inner(spec.name))
        .replace("@@EXPIRES_IN@@", &spec.expires_in.to_string())
        .replace("@@INTERVAL@@", &spec.interval.to_string())
        .replace("@@USER_ID@@", &inner(spec.user_id))
        .replace("@@CLIENTS@@", &clients.join(",\n"));
    Json::parse(&realm)
        .map_err(|e| format!("realm {}: not JSON after filling in: {e}", spec.name))?;
    Ok(realm)
}

/// `s` as the inside of a JSON string literal.
fn inner(s: &str) -> String {
    let q = quote(s);
    q.strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// Tools and the distribution
// ---------------------------------------------------------------------------------------

/// `mvn` and `java` on PATH (what the Java peers need).
pub(crate) fn check_java_tools() -> Result<(), String> {
    for (tool, arg) in [("java", "-version"), ("mvn", "--version")] {
        let status = Command::new(tool)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| {
                format!("{tool} is not available ({e}); the Java peers need a JDK and Maven")
            })?;
        if !status.success() {
            return Err(format!("`{tool} {arg}` failed ({status})"));
        }
    }
    Ok(())
}

/// The Keycloak home under `<target>/keycloak/`, fetched and unpacked when missing.
pub(crate) fn ensure_distribution() -> Result<PathBuf, String> {
    let dir = super::target_dir()?.join("keycloak");
    let home = dir.join(format!("keycloak-{VERSION}"));
    if home.join("bin/kc.sh").exists() && home.join("lib/quarkus-run.jar").exists() {
        println!("\n==> Keycloak {VERSION} is unpacked in {}", home.display());
        return Ok(home);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let started = Instant::now();
    println!("\n==> fetching Keycloak {VERSION} (mvn dependency:copy, cached in ~/.m2)");
    let artifact = format!("-Dartifact=org.keycloak:keycloak-quarkus-dist:{VERSION}:tar.gz");
    let out = format!("-DoutputDirectory={}", dir.display());
    run_bounded(
        "mvn dependency:copy",
        Command::new("mvn").args([
            "-B",
            "-q",
            "-Dstyle.color=never",
            DEPENDENCY_PLUGIN,
            &artifact,
            &out,
        ]),
        FETCH_TIMEOUT,
    )?;
    let tarball = dir.join(format!("keycloak-quarkus-dist-{VERSION}.tar.gz"));
    // Unpacked beside, then renamed: a half-unpacked home is never taken for a whole one.
    let unpack = dir.join("unpack");
    let _ = std::fs::remove_dir_all(&unpack);
    std::fs::create_dir_all(&unpack)
        .map_err(|e| format!("cannot create {}: {e}", unpack.display()))?;
    run_bounded(
        "tar",
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&unpack),
        FETCH_TIMEOUT,
    )?;
    let _ = std::fs::remove_dir_all(&home);
    std::fs::rename(unpack.join(format!("keycloak-{VERSION}")), &home)
        .map_err(|e| format!("cannot move the unpacked Keycloak into place: {e}"))?;
    let _ = std::fs::remove_dir_all(&unpack);
    let _ = std::fs::remove_file(&tarball);
    println!(
        "<== Keycloak {VERSION} in {} ({:.1} s)",
        home.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(home)
}

fn run_bounded(name: &str, cmd: &mut Command, timeout: Duration) -> Result<(), String> {
    let mut proc = Proc::spawn(name, cmd)?;
    match proc.wait_timeout(timeout) {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("{name} failed ({s})")),
        None => Err(format!("{name} took longer than {timeout:?}")),
    }
}

/// The JDK Keycloak runs on: `KEYCLOAK_JAVA_HOME` when set, else the newest JDK of at least
/// Java [`JAVA_MIN_MAJOR`] under /usr/lib/jvm (where Debian and the Temurin packages put
/// them), else `JAVA_HOME`, else the `java` on PATH.
pub(crate) fn java_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("KEYCLOAK_JAVA_HOME") {
        return Some(PathBuf::from(home));
    }
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir("/usr/lib/jvm") {
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.join("bin/java").exists() {
                continue;
            }
            let Some(major) = jdk_major(&path) else {
                continue;
            };
            if major >= JAVA_MIN_MAJOR && best.as_ref().is_none_or(|(m, _)| major > *m) {
                best = Some((major, path));
            }
        }
    }
    best.map(|(_, p)| p)
        .or_else(|| std::env::var_os("JAVA_HOME").map(PathBuf::from))
}

/// The major version in a JDK's `release` file (`JAVA_VERSION="25.0.3"`).
fn jdk_major(home: &Path) -> Option<u32> {
    let release = std::fs::read_to_string(home.join("release")).ok()?;
    let line = release
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_VERSION="))?;
    let version = line.trim_matches('"');
    let first = version.split(['.', '-', '+']).next()?;
    first.parse().ok()
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/// A running Keycloak (dev mode, in-memory database) and its authentication channel.
pub(crate) struct Keycloak {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    pub(crate) log: PathBuf,
    pub(crate) channel: AuthChannel,
    proc: Proc,
}

impl Keycloak {
    /// Writes `realms` (JSON texts) for import and starts Keycloak; returns once it listens
    /// and the first realm's discovery document answers. `record` keeps the channel's
    /// tokens (the matrix); the load runs leave it off.
    pub(crate) fn start(
        home: &Path,
        realms: &[(String, String)],
        log: &Path,
        record: bool,
    ) -> Result<Keycloak, String> {
        let started = Instant::now();
        let import = home.join("data").join("import");
        let _ = std::fs::remove_dir_all(&import);
        std::fs::create_dir_all(&import)
            .map_err(|e| format!("cannot create {}: {e}", import.display()))?;
        for (name, text) in realms {
            let file = import.join(format!("{name}-realm.json"));
            std::fs::write(&file, text)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        }
        let channel = AuthChannel::start(record)?;
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
        let mut cmd = Command::new(home.join("bin/kc.sh"));
        cmd.args([
            "start-dev",
            "--http-host=127.0.0.1",
            "--http-port=0",
            "--db=dev-mem",
            "--import-realm",
            "--hostname-strict=false",
            "--health-enabled=false",
            "--metrics-enabled=false",
        ])
        .arg(format!(
            "--spi-ciba-auth-channel--ciba-http-auth-channel--http-authentication-channel-uri={}",
            channel.url
        ))
        .stdout(log_file)
        .stderr(err_file)
        // Its own process group: kc.sh runs java as a child, and both are stopped together.
        .process_group(0);
        if let Some(java) = java_home() {
            cmd.env("JAVA_HOME", java);
        }
        let proc = Proc::spawn("keycloak", &mut cmd)?;
        let mut kc = Keycloak {
            base: String::new(),
            log: log.to_owned(),
            channel,
            proc,
        };
        kc.base = kc.wait_listening(started + START_TIMEOUT)?;
        if let Some((first, _)) = realms.first() {
            let url = format!("{}/.well-known/openid-configuration", kc.issuer(first));
            let r = super::support::http("GET", &url, Duration::from_secs(30))?;
            if r.status != 200 {
                return Err(format!("GET {url}: {}", r.status));
            }
        }
        println!(
            "    Keycloak {VERSION} listens on {} ({:.1} s to start)",
            kc.base,
            started.elapsed().as_secs_f64()
        );
        Ok(kc)
    }

    /// Reads the log until Keycloak says where it listens.
    fn wait_listening(&mut self, until: Instant) -> Result<String, String> {
        const MARK: &str = "Listening on: http://127.0.0.1:";
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(at) = text.find(MARK) {
                let port: String = text[at + MARK.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(port) = port.parse::<u16>()
                    && port != 0
                {
                    return Ok(format!("http://127.0.0.1:{port}"));
                }
            }
            if let Some(status) = self.proc.exited() {
                return Err(format!(
                    "Keycloak exited ({status}) before listening; its log:\n{}",
                    tail(&self.log, 30)
                ));
            }
            if Instant::now() >= until {
                return Err(format!(
                    "Keycloak did not listen within {START_TIMEOUT:?}; its log:\n{}",
                    tail(&self.log, 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The issuer of `realm`.
    pub(crate) fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.base)
    }

    /// The Java process (kc.sh runs it as its child, or execs it after a re-build), for
    /// CPU accounting.
    pub(crate) fn java_pid(&self) -> u32 {
        let pid = self.proc.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or(pid)
    }

    /// Plays the end-user for the request whose `binding_message` is given: waits for
    /// Keycloak's call on the authentication channel, waits `delay`, then sends the
    /// decision (`approve`: SUCCEED, `deny`: UNAUTHORIZED) to the callback endpoint of
    /// `issuer` with the channel's bearer token. The channel is waited for until
    /// `wait_until`; the callback ends by `deadline` (give or take a second).
    pub(crate) fn decide(
        &self,
        issuer: &str,
        binding_message: &str,
        approve: bool,
        delay: Duration,
        wait_until: Instant,
        deadline: Instant,
    ) -> Result<(), String> {
        let token = self
            .channel
            .wait_for(binding_message, wait_until)
            .ok_or_else(|| {
                format!("Keycloak did not call the authentication channel for {binding_message}")
            })?;
        std::thread::sleep(delay);
        let status = if approve { "SUCCEED" } else { "UNAUTHORIZED" };
        let url = format!("{issuer}/protocol/openid-connect/ext/ciba/auth/callback");
        let body = format!("{{\"status\":{}}}", quote(status));
        let mut attempt = 1;
        loop {
            let timeout = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_secs(1), Duration::from_secs(15));
            let r = post_json(&url, &token, &body, timeout)?;
            if (200..300).contains(&r.status) {
                return Ok(());
            }
            // Keycloak calls the channel before it stores the request: a decision sent at
            // once can find nothing yet and get 403 invalid_token (docs/interop.md). The
            // device tries again a little later, as a person would.
            if r.status != 403 || attempt >= CALLBACK_ATTEMPTS || Instant::now() >= deadline {
                return Err(format!(
                    "callback {status} answered {} (attempt {attempt}): {}",
                    r.status,
                    r.body.trim()
                ));
            }
            attempt += 1;
            std::thread::sleep(CALLBACK_RETRY);
        }
    }
}

impl Drop for Keycloak {
    fn drop(&mut self) {
        if self.proc.exited().is_some() {
            return;
        }
        // SIGTERM to the whole group (kc.sh and its java), then SIGKILL if need be.
        let group = format!("-{}", self.proc.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        if self.proc.wait_timeout(STOP_TIMEOUT).is_none() {
            signal("-KILL");
        }
        // The group leader may be gone while java still stops: give it a moment.
        signal("-KILL");
    }
}

/// One HTTP/1.0 POST of a JSON body with a bearer token to an `http://127.0.0.1:PORT/...`
/// URL (loopback only, by construction).
pub(crate) fn post_json(
    url: &str,
    bearer: &str,
    body: &str,
    timeout: Duration,
) -> Result<Response, String> {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .ok_or_else(|| format!("{url} is not an http://127.0.0.1 URL"))?;
    let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
    let port: u16 = port.parse().map_err(|_| format!("bad port in {url}"))?;
    let fail = |e: std::io::Error| format!("POST {url}: {e}");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    write!(
        stream,
        "POST /{path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(fail)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(fail)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("POST {url}: malformed response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("POST {url}: no status line"))?;
    Ok(Response {
        status,
        body: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_templates_fill_in_to_json() {
        let interop = crate::ci::root().join("interop");
        let spec = RealmSpec {
            name: "ciba-test",
            expires_in: 4,
            interval: 1,
            user_id: "alice",
            clients: vec![
                RealmClient {
                    client_id: "a\"b".to_owned(),
                    mode: "poll".to_owned(),
                    auth: ClientAuth::Secret("s".to_owned()),
                    notification_endpoint: None,
                    id_token_alg: "RS256".to_owned(),
                },
                RealmClient {
                    client_id: "c".to_owned(),
                    mode: "ping".to_owned(),
                    auth: ClientAuth::PublicJwk("{\"kty\":\"EC\",\"crv\":\"P-256\"}".to_owned()),
                    notification_endpoint: Some("http://127.0.0.1:9/n".to_owned()),
                    id_token_alg: "ES256".to_owned(),
                },
            ],
        };
        let text = realm_json(&interop, &spec).unwrap();
        let json = Json::parse(&text).unwrap();
        assert_eq!(json.get("realm").and_then(Json::as_str), Some("ciba-test"));
        let clients = json.get("clients").and_then(Json::as_array).unwrap();
        assert_eq!(
            clients[0].get("clientId").and_then(Json::as_str),
            Some("a\"b")
        );
        let attrs = clients[1].get("attributes").unwrap();
        let jwks = attrs.get("jwks.string").and_then(Json::as_str).unwrap();
        assert!(Json::parse(jwks).unwrap().get("keys").is_some());
        assert_eq!(
            attrs
                .get("ciba.backchannel.client.notification.endpoint")
                .and_then(Json::as_str),
            Some("http://127.0.0.1:9/n")
        );
    }

    #[test]
    fn jdk_major_reads_the_release_file() {
        let dir = super::super::support::TempDir::new("xtask-jdk").unwrap();
        std::fs::write(
            dir.path().join("release"),
            "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"25.0.3\"\n",
        )
        .unwrap();
        assert_eq!(jdk_major(dir.path()), Some(25));
    }
}
