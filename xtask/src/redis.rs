//! A Redis for the tests of ciba-redis: the one named by `CIBA_TEST_REDIS_URL`, or a
//! `redis-server` started here on a free loopback port (installed from Debian's packages
//! when missing and running as root), stopped again when the guard is dropped, whether the
//! run passed or failed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable the tests read.
pub(crate) const URL_VAR: &str = "CIBA_TEST_REDIS_URL";
const BINARY: &str = "/usr/bin/redis-server";
const PACKAGE: &str = "redis-server";
const STARTUP: Duration = Duration::from_secs(10);

/// The Redis the tests use while this lives; stops the server it started on drop.
pub(crate) struct TestRedis {
    url: Option<String>,
    child: Option<Child>,
}

impl TestRedis {
    /// `name=value` for the test runs' environment, when there is a Redis.
    pub(crate) fn env(&self) -> Vec<(&'static str, &str)> {
        self.url.iter().map(|u| (URL_VAR, u.as_str())).collect()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            println!("<== redis-server stopped");
        }
    }
}

/// Makes a Redis available. Under `CI=true` a Redis that cannot be had is an error;
/// elsewhere a warning (the tests that need one then fail loudly).
pub(crate) fn ensure() -> Result<TestRedis, String> {
    if let Ok(url) = std::env::var(URL_VAR)
        && !url.is_empty()
    {
        println!("\n==> using the Redis at {URL_VAR}");
        return Ok(TestRedis {
            url: Some(url),
            child: None,
        });
    }
    crate::services::ensure_debian_binary(BINARY, PACKAGE)?;
    if !Path::new(BINARY).exists() {
        return Ok(TestRedis {
            url: None,
            child: None,
        });
    }
    let mut last = String::new();
    for _ in 0..3 {
        match start(free_port()?) {
            Ok(redis) => return Ok(redis),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A port that was free a moment ago (bound on 127.0.0.1:0, then released).
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn start(port: u16) -> Result<TestRedis, String> {
    println!("\n==> starting redis-server on 127.0.0.1:{port}");
    let child = Command::new(BINARY)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {BINARY}: {e}"))?;
    // From here on the guard stops it, whatever happens.
    let mut redis = TestRedis {
        url: Some(format!("redis://127.0.0.1:{port}/")),
        child: Some(child),
    };
    let started = Instant::now();
    while started.elapsed() < STARTUP {
        if answers_ping(port) {
            return Ok(redis);
        }
        if let Some(Ok(Some(status))) = redis.child.as_mut().map(Child::try_wait) {
            redis.child = None;
            return Err(format!("redis-server on port {port} exited: {status}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "redis-server on port {port} did not answer PING within {STARTUP:?}"
    ))
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
