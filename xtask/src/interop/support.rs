//! Plumbing of the interop runner: child processes that are always stopped, a loopback-only
//! HTTP/1.0 client, held free ports, a temporary folder, random strings. std only.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process that is killed (and reaped) when this is dropped, whatever happened.
pub(crate) struct Proc {
    name: String,
    child: Child,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` with stdin closed.
    pub(crate) fn spawn(name: &str, cmd: &mut Command) -> Result<Proc, String> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            status: None,
        })
    }

    /// Spawns `cmd` with stdout and stderr going to `out` and `err`.
    pub(crate) fn spawn_logged(
        name: &str,
        cmd: &mut Command,
        out: &Path,
        err: &Path,
    ) -> Result<Proc, String> {
        let file =
            |p: &Path| File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()));
        Proc::spawn(name, cmd.stdout(file(out)?).stderr(file(err)?))
    }

    /// The exit status, if it has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits until it exits or `timeout` passes; then it is killed and `None` returned.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Kills and reaps it (nothing when it has already exited).
    pub(crate) fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Takes its piped stdout (when spawned with `Stdio::piped()`), reads it on a thread
    /// and hands over whole lines; the thread keeps draining until the process ends.
    pub(crate) fn stdout_lines(&mut self) -> Option<mpsc::Receiver<String>> {
        let stdout = self.child.stdout.take()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        Some(rx)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The operating system's process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh folder under the system temporary folder, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(prefix: &str) -> Result<TempDir, String> {
        let dir =
            std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), random_hex(4)));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `bytes` random bytes as hex (std's per-process random hash keys; good enough for test
/// secrets and names, not for anything else).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut out = String::new();
    let mut counter = 0u64;
    while out.len() < bytes * 2 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(counter);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
        counter += 1;
    }
    out.truncate(bytes * 2);
    out
}

/// A listener on 127.0.0.1 with an OS-chosen port. Holding it keeps the port from being
/// handed out again (to another bind or as an outgoing connection's source port) until it
/// is dropped right before the process that needs the port starts.
pub(crate) fn hold_free_port() -> Result<(u16, TcpListener), String> {
    // A port the OS hands out for port 0 (or as the source port of an outgoing connection)
    // comes from the ephemeral range, so between this listener's release and the cell's own
    // bind another process of the run could take it. A free port below that range, found
    // by binding, cannot be taken that way.
    let below = ephemeral_start().unwrap_or(32768);
    let span = u64::from(below.saturating_sub(PORTS_FROM).max(1));
    for attempt in 0..256u64 {
        let pick = u64::from_str_radix(&random_hex(8), 16).unwrap_or(attempt) % span;
        let port = PORTS_FROM.saturating_add(u16::try_from(pick).unwrap_or(0));
        if let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            return Ok((port, listener));
        }
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound port: {e}"))?
        .port();
    Ok((port, listener))
}

/// The lowest port [`hold_free_port`] tries (above the well-known and common service ports).
const PORTS_FROM: u16 = 20000;

/// The first port of the OS's ephemeral range (Linux: `ip_local_port_range`).
fn ephemeral_start() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// An HTTP response: status and body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// One HTTP/1.0 request to `url`, which must be `http://127.0.0.1:PORT/...` (loopback
/// only, by construction). HTTP/1.0 keeps the body un-chunked and ends it at close.
pub(crate) fn http(method: &str, url: &str, timeout: Duration) -> Result<Response, String> {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .ok_or_else(|| format!("{url} is not an http://127.0.0.1 URL"))?;
    let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
    let port: u16 = port.parse().map_err(|_| format!("bad port in {url}"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let fail = |e: std::io::Error| format!("{method} {url}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    write!(
        stream,
        "{method} /{path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n"
    )
    .map_err(fail)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(fail)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{method} {url}: malformed response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {url}: no status line"))?;
    Ok(Response {
        status,
        body: body.to_owned(),
    })
}

/// The last `n` lines of a file (for failure reports).
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    lines
        .iter()
        .skip(skip)
        .map(|l| format!("    {l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_has_the_asked_length_and_varies() {
        let a = random_hex(8);
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(8));
    }

    #[test]
    fn held_ports_come_from_below_the_ephemeral_range() {
        let (port, listener) = hold_free_port().unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), port);
        assert!(
            port >= PORTS_FROM && port < ephemeral_start().unwrap_or(32768),
            "{port}"
        );
    }

    #[test]
    fn http_refuses_anything_but_loopback() {
        assert!(http("GET", "http://example.com/", Duration::from_secs(1)).is_err());
        assert!(http("GET", "https://127.0.0.1:1/", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn http_talks_to_a_loopback_server() {
        let (port, listener) = hold_free_port().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // The request may arrive in several segments: read up to the end of its head.
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "connection closed before the end of the head");
                head.extend_from_slice(&buf[..n]);
            }
            assert!(head.starts_with(b"POST /a/b HTTP/1.0\r\n"));
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"ok\":1}")
                .unwrap();
        });
        let r = http(
            "POST",
            &format!("http://127.0.0.1:{port}/a/b"),
            Duration::from_secs(5),
        )
        .unwrap();
        server.join().unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{\"ok\":1}"));
    }
}
