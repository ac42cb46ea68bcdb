//! Helpers shared by the integration tests: run the built `ciba` binary, kill every process
//! on drop, read `ciba serve`'s start-up lines, and speak minimal HTTP/1.1 on loopback.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod redis;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `ciba` binary cargo built for these tests.
pub fn ciba() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ciba"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// A child process killed (and reaped) when dropped.
pub struct ChildGuard {
    pub child: Child,
}

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        let child = cmd.spawn().expect("spawn");
        ChildGuard { child }
    }

    /// `ciba ARGS`, with no input and its output piped.
    pub fn ciba<I, S>(args: I) -> ChildGuard
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        ChildGuard::spawn(
            ciba()
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
    }

    /// Waits for the process to exit, at most `timeout`; kills it and panics after that.
    pub fn wait_timeout(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("process did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the exit and collects the remaining stdout and stderr.
    pub fn output(mut self, timeout: Duration) -> Output {
        let mut stdout = self.child.stdout.take();
        let mut stderr = self.child.stderr.take();
        let out = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        });
        let err = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        });
        let status = self.wait_timeout(timeout);
        Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ciba` with `args` to completion (at most `timeout`).
pub fn run_ciba(args: &[&str], timeout: Duration) -> Output {
    ChildGuard::ciba(args).output(timeout)
}

/// A backchannel authentication request at `issuer` by the `client_secret_basic` client
/// `client_id`, with the form `params`, which must be accepted: its `auth_req_id`.
pub fn bc_authorize(issuer: &str, client_id: &str, secret: &str, params: &str) -> String {
    let (status, body) = form_post(&format!("{issuer}/bc-authorize"), client_id, secret, params);
    assert_eq!(status, 200, "{body}");
    json(&body)["auth_req_id"].as_str().unwrap().to_owned()
}

/// `ciba serve` options: every request waits for the device page's decision, and clients
/// poll every second.
pub const MANUAL: [&str; 4] = ["--auto", "manual", "--interval", "1"];

/// The CIBA grant type, form-encoded.
pub const CIBA_GRANT: &str = "urn%3Aopenid%3Aparams%3Agrant-type%3Aciba";

/// `body` as JSON; a panic that shows it when it is not.
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// A demo client `ciba serve` printed.
#[derive(Debug, Clone)]
pub struct ServedClient {
    pub client_id: String,
    pub client_secret: String,
    pub mode: String,
    pub notification_endpoint: Option<String>,
}

/// A running `ciba serve`, killed on drop, with what it printed on start-up.
pub struct Served {
    pub guard: ChildGuard,
    pub issuer: String,
    /// The URL of the `device page:` line (with `?secret=...` when one was generated).
    pub device_page: String,
    pub clients: Vec<ServedClient>,
    pub stdout_lines: mpsc::Receiver<String>,
}

impl Served {
    pub fn client(&self, mode: &str) -> &ServedClient {
        self.clients
            .iter()
            .find(|c| c.mode == mode)
            .unwrap_or_else(|| panic!("no {mode} client in {:?}", self.clients))
    }

    /// `host:port` of the notification endpoint of the `mode` demo client.
    pub fn listen_addr(&self, mode: &str) -> String {
        let endpoint = self
            .client(mode)
            .notification_endpoint
            .clone()
            .expect("notification endpoint");
        let rest = endpoint.strip_prefix("http://").expect("http endpoint");
        rest.split('/').next().expect("authority").to_owned()
    }
}

/// Starts `ciba serve --addr 127.0.0.1:0 <extra>` and reads its start-up lines: the first one
/// is `issuer: URL`; with demo clients, waits for `expected_clients` `client:` lines.
///
/// The demo ping and push clients listen on the issuer's port + 1 and + 2, so the issuer's
/// port comes from [`free_port_block`], outside the range the OS hands out to outgoing
/// connections: no other test's connection can take those two ports in the meantime.
pub fn serve(extra: &[&str], expected_clients: usize) -> Served {
    let port = free_port_block(3);
    serve_at(&format!("127.0.0.1:{port}"), extra, expected_clients)
}

/// [`serve`] on `addr`.
pub fn serve_at(addr: &str, extra: &[&str], expected_clients: usize) -> Served {
    serve_at_with_env(addr, extra, expected_clients, &[])
}

/// [`serve`] with these environment variables set for `ciba serve` (for example
/// `SSL_CERT_FILE`).
pub fn serve_with_env(extra: &[&str], expected_clients: usize, env: &[(&str, &str)]) -> Served {
    let port = free_port_block(3);
    serve_at_with_env(&format!("127.0.0.1:{port}"), extra, expected_clients, env)
}

/// [`serve_at`] with these environment variables.
pub fn serve_at_with_env(
    addr: &str,
    extra: &[&str],
    expected_clients: usize,
    env: &[(&str, &str)],
) -> Served {
    let mut args = vec!["serve", "--addr", addr];
    args.extend_from_slice(extra);
    let mut guard = ChildGuard::spawn(
        ciba()
            .args(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    let stdout = guard.child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The next line, within `wait` seconds: `PREFIX URL`; the URL.
    let url_after = |prefix: &str, wait: u64, which: &str| {
        let line = rx
            .recv_timeout(Duration::from_secs(wait))
            .unwrap_or_else(|_| panic!("ciba serve printed no {which} line"));
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{which} line is not `{prefix}URL`: {line:?}"))
            .to_owned()
    };
    let issuer = url_after("issuer: ", 30, "first");
    let device_page = url_after("device page: ", 10, "second");
    let mut clients = Vec::new();
    while clients.len() < expected_clients {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("ciba serve stopped printing before listing its clients");
        if let Some(rest) = line.strip_prefix("client: ") {
            clients.push(parse_client(rest));
        }
    }
    Served {
        guard,
        issuer,
        device_page,
        clients,
        stdout_lines: rx,
    }
}

fn parse_client(rest: &str) -> ServedClient {
    let field = |name: &str| {
        rest.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    ServedClient {
        client_id: field("client_id").expect("client_id"),
        client_secret: field("client_secret").expect("client_secret"),
        mode: field("mode").expect("mode"),
        notification_endpoint: field("notification_endpoint"),
    }
}

/// `ciba login` arguments for a demo client of `served`.
pub fn login_args(served: &Served, mode: &str, login_hint: &str) -> Vec<String> {
    let client = served.client(mode);
    let mut args: Vec<String> = [
        "login",
        "--issuer",
        &served.issuer,
        "--client-id",
        &client.client_id,
        "--client-secret",
        &client.client_secret,
        "--login-hint",
        login_hint,
        "--mode",
        mode,
        "--allow-insecure-loopback",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if mode != "poll" {
        args.push("--listen".into());
        args.push(served.listen_addr(mode));
    }
    args
}

/// A minimal HTTP/1.1 exchange on loopback: `(status, body)`.
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    http_with(
        method,
        url,
        &[("Content-Type", "application/json")],
        body.unwrap_or(""),
    )
}

/// A form POST authenticated with HTTP Basic (`client_secret_basic`): `(status, body)`.
pub fn form_post(url: &str, client_id: &str, secret: &str, form: &str) -> (u16, String) {
    let credentials = basic(&format!("{client_id}:{secret}"));
    http_with(
        "POST",
        url,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &format!("Basic {credentials}")),
        ],
        form,
    )
}

/// A minimal HTTP/1.1 exchange on loopback with the given headers: `(status, body)`.
pub fn http_with(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut all = vec![("Host", authority)];
    all.extend_from_slice(headers);
    let (status, _, body) = exchange(authority, method, path, &all, body);
    (status, body)
}

/// One HTTP/1.1 exchange with the loopback server at `authority`, sending exactly `headers`
/// (a `Host` only if they hold one): `(status, lower-case head, body)`.
pub fn exchange(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    read_response_with_head(&mut stream)
}

/// Standard base64 (with padding), for a Basic credential.
fn basic(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A loopback port that was free a moment ago, from outside the OS's ephemeral range (see
/// [`free_port_block`]).
pub fn free_port() -> u16 {
    free_port_block(1)
}

/// The first of `n` consecutive loopback ports that the OS confirmed free a moment ago.
///
/// Candidates are drawn at random below Linux's ephemeral range (32768 and up by default), so
/// the source port of a connection some other test opens can never land on one; each
/// candidate block is bound (and released) to check it, and a busy one is skipped.
pub fn free_port_block(n: u16) -> u16 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    const LOW: u16 = 20_000;
    const HIGH: u16 = 32_000;
    let random = RandomState::new();
    for attempt in 0u32..1000 {
        let span = u64::from(HIGH - LOW - n);
        let offset = random.hash_one((attempt, std::process::id())) % span;
        let first = LOW + u16::try_from(offset).expect("offset fits");
        let held: Vec<_> = (first..first + n)
            .map_while(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return first;
        }
    }
    panic!("no block of {n} free loopback ports in {LOW}..{HIGH}");
}

/// Reads one response: the head, then a `Content-Length` body, a chunked body, or everything
/// until the peer closes (some servers, Chromium's DevTools among them, keep the connection
/// open after answering).
/// Returns `(status, lower-case head, body)`.
fn read_response_with_head(stream: &mut TcpStream) -> (u16, String, String) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&raw, b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed before the response head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    let chunked = head.contains("transfer-encoding: chunked");
    let mut body = raw[head_end + 4..].to_vec();
    loop {
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => find(&body, b"0\r\n\r\n").is_some(),
            None => false,
        };
        if complete {
            break;
        }
        let n = stream.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if let Some(n) = length {
        body.truncate(n);
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let body = if chunked { dechunk(&body) } else { body };
    (status, head, body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Calls `f` every 100 ms until it returns `Some`, at most `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A clients file with one poll client (`client_id`, `secret`), in a directory of this
/// test's own (`name` and the process id). Returns the directory (to remove afterwards) and
/// the file.
pub fn poll_clients_file(
    name: &str,
    client_id: &str,
    secret: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ciba-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("clients.json");
    std::fs::write(
        &file,
        format!(
            r#"[{{"client_id": "{client_id}", "client_secret": "{secret}",
                 "grant_types": ["urn:openid:params:grant-type:ciba"],
                 "backchannel_token_delivery_mode": "poll"}}]"#
        ),
    )
    .unwrap();
    (dir, file)
}

/// Two `ciba serve` instances on one store, as a deployment runs them: the same `--store`,
/// `--clients` file and signing keys, a manual device and a 1 s interval; B advertises A's
/// issuer (and so A's endpoint URLs) and answers on the same paths. Returns A, B and B's
/// base URL.
pub fn two_instances(store: &str, clients: &std::path::Path) -> (Served, Served, String) {
    let rsa = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ciba-core/testdata/rs256.jwk.json"
    );
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ciba-core/testdata/eddsa.jwk.json"
    );
    let shared = [
        "--store",
        store,
        "--clients",
        clients.to_str().unwrap(),
        "--signing-key",
        rsa,
        "--signing-key",
        key,
        "--auto",
        "manual",
        "--interval",
        "1",
    ];
    let a = serve(&shared, 0);
    let b_addr = format!("127.0.0.1:{}", free_port());
    let mut b_args = shared.to_vec();
    b_args.extend(["--issuer", a.issuer.as_str()]);
    let b = serve_at(&b_addr, &b_args, 0);
    (a, b, format!("http://{b_addr}"))
}
