//! Redis services for tests, std only: one plain `redis-server`, one with TLS (a CA and a
//! server certificate made with the `openssl` command), and a three-master Redis Cluster,
//! each on free loopback ports, stopped when the returned [`Service`] drops.
//!
//! Used by ciba-redis's and ciba-cli's tests (which start their own when the environment
//! names none), by the `tls` module's test CA, and by xtask, which starts them for
//! `cargo xtask ci` and passes them on as `CIBA_TEST_REDIS_URL`, `CIBA_TEST_REDIS_TLS_URL`
//! with `CIBA_TEST_REDIS_TLS_CA`, and `CIBA_TEST_REDIS_CLUSTER_NODES`.
//!
//! The certificates are made with the `openssl` command rather than a Rust crate: it is on
//! every Debian machine that has redis-server's TLS support, and xtask (which takes this
//! module alone, without default features) stays free of dependencies.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the server.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";
/// Where Debian installs the client (package redis-tools).
pub const REDIS_CLI: &str = "/usr/bin/redis-cli";
const STARTUP: Duration = Duration::from_secs(15);

/// Running redis-server processes, and the files they use.
pub struct Service {
    children: Vec<Child>,
    dir: Option<PathBuf>,
    /// `redis://...` or `rediss://...` for one server; the first node for a cluster.
    pub url: String,
    /// A cluster's nodes (`redis://127.0.0.1:PORT`).
    pub nodes: Vec<String>,
    /// The CA certificate (PEM) a TLS server's certificate chains to.
    pub ca_file: Option<PathBuf>,
}

impl Service {
    /// The processes' ids (for a watchdog, or signals).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Kills every process (SIGKILL) and removes the files.
    pub fn stop(&mut self) {
        for mut child in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Makes sure the processes die with this one even if it never drops `self` (a service
    /// kept in a `static` by a test binary): a small shell loop polls this process's id
    /// and kills them once it is gone.
    pub fn die_with_this_process(&self) {
        let pids: Vec<String> = self.pids().iter().map(u32::to_string).collect();
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.5; done; kill -9 {} 2>/dev/null; {}",
            std::process::id(),
            pids.join(" "),
            self.dir
                .as_ref()
                .map(|d| format!("rm -rf '{}'", d.display()))
                .unwrap_or_default()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, release it.
pub fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn need(binary: &str, package: &str) -> Result<(), String> {
    if Path::new(binary).exists() {
        Ok(())
    } else {
        Err(format!(
            "{binary} is missing: install Debian's {package} (apt-get install {package}) or \
             run through `cargo xtask ci`"
        ))
    }
}

fn spawn(args: &[String]) -> Result<Child, String> {
    Command::new(REDIS_SERVER)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {REDIS_SERVER}: {e}"))
}

fn base_args(port: u16) -> Vec<String> {
    [
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// True once the plain port answers `PING` with `PONG`.
pub fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Waits until `ready` or a process exits or STARTUP passes.
fn wait_until(service: &mut Service, what: &str, ready: impl Fn() -> bool) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < STARTUP {
        if ready() {
            return Ok(());
        }
        for child in &mut service.children {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{what}: redis-server exited: {status}"));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{what} was not ready within {STARTUP:?}"))
}

fn temp_dir(kind: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "ciba-redis-{kind}-{}-{}",
        std::process::id(),
        free_port()?
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// One plain redis-server on a free port.
pub fn start_single() -> Result<Service, String> {
    need(REDIS_SERVER, "redis-server")?;
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        let mut service = Service {
            children: vec![spawn(&base_args(port))?],
            dir: None,
            url: format!("redis://127.0.0.1:{port}/"),
            nodes: Vec::new(),
            ca_file: None,
        };
        match wait_until(&mut service, "redis-server", || answers_ping(port)) {
            Ok(()) => return Ok(service),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Runs `openssl ARGS` in `dir`.
pub(crate) fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `openssl req` in `dir` with a new, unencrypted P-256 key written to `key_file`:
/// `before` comes right after `req` (`-x509` for a self-signed certificate), `after` last.
pub(crate) fn new_p256_key(
    dir: &Path,
    before: &[&str],
    key_file: &str,
    after: &[&str],
) -> Result<(), String> {
    let mut args = vec!["req"];
    args.extend_from_slice(before);
    args.extend_from_slice(&[
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key_file,
    ]);
    args.extend_from_slice(after);
    openssl(dir, &args)
}

/// A CA, and a server certificate it signed for `localhost` and 127.0.0.1, in `dir`:
/// `ca.pem`, `server.pem`, `server.key`.
pub fn make_certificates(dir: &Path) -> Result<(), String> {
    new_p256_key(
        dir,
        &["-x509"],
        "ca.key",
        &[
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ciba test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )?;
    new_p256_key(
        dir,
        &[],
        "server.key",
        &["-out", "server.csr", "-subj", "/CN=localhost"],
    )?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
         basicConstraints=CA:FALSE\n",
    )
    .map_err(|e| format!("cannot write server.ext: {e}"))?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    )
}

/// One redis-server that speaks only TLS, with a certificate from a CA made here.
pub fn start_tls() -> Result<Service, String> {
    need(REDIS_SERVER, "redis-server")?;
    let dir = temp_dir("tls")?;
    make_certificates(&dir)?;
    let port = free_port()?;
    let path = |f: &str| dir.join(f).display().to_string();
    let mut args = base_args(0);
    args.extend([
        "--tls-port".to_owned(),
        port.to_string(),
        "--tls-cert-file".to_owned(),
        path("server.pem"),
        "--tls-key-file".to_owned(),
        path("server.key"),
        "--tls-ca-cert-file".to_owned(),
        path("ca.pem"),
        "--tls-auth-clients".to_owned(),
        "no".to_owned(),
    ]);
    let mut service = Service {
        children: vec![spawn(&args)?],
        url: format!("rediss://localhost:{port}/"),
        nodes: Vec::new(),
        ca_file: Some(dir.join("ca.pem")),
        dir: Some(dir),
    };
    wait_until(&mut service, "redis-server with TLS", || accepts(port))?;
    Ok(service)
}

/// Three redis-server masters joined into a cluster with `redis-cli --cluster create`.
pub fn start_cluster() -> Result<Service, String> {
    need(REDIS_SERVER, "redis-server")?;
    need(REDIS_CLI, "redis-tools")?;
    let dir = temp_dir("cluster")?;
    let mut service = Service {
        children: Vec::new(),
        url: String::new(),
        nodes: Vec::new(),
        ca_file: None,
        dir: Some(dir.clone()),
    };
    let mut ports = Vec::new();
    for _ in 0..3 {
        let port = free_port()?;
        let mut args = base_args(port);
        args.extend([
            "--cluster-enabled".to_owned(),
            "yes".to_owned(),
            "--cluster-config-file".to_owned(),
            dir.join(format!("nodes-{port}.conf")).display().to_string(),
            "--cluster-node-timeout".to_owned(),
            "2000".to_owned(),
        ]);
        service.children.push(spawn(&args)?);
        ports.push(port);
    }
    wait_until(&mut service, "cluster nodes", || {
        ports.iter().all(|p| answers_ping(*p))
    })?;
    let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out = Command::new(REDIS_CLI)
        .arg("--cluster")
        .arg("create")
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {REDIS_CLI}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    wait_until(&mut service, "the cluster", || {
        ports.iter().all(|p| cluster_ok(*p))
    })?;
    service.nodes = ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    service.url = service.nodes.first().cloned().unwrap_or_default();
    Ok(service)
}

fn cluster_ok(port: u16) -> bool {
    Command::new(REDIS_CLI)
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
        .unwrap_or(false)
}
