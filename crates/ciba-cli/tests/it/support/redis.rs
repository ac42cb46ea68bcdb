//! A Redis for the tests that need one: `CIBA_TEST_REDIS_URL` (`cargo xtask ci` sets it), or
//! a `redis-server` this test starts on a free loopback port (no persistence), stopped on
//! drop. Under `CI=true` without `CIBA_TEST_REDIS_URL`, and when `/usr/bin/redis-server` is
//! missing, the test fails loudly: it never skips. (The same rules as ciba-redis's tests.)

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ciba_test::services::answers_ping;

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// The Redis a test uses.
pub struct TestRedis {
    url: String,
    own: Option<Child>,
}

impl TestRedis {
    pub fn new() -> TestRedis {
        if let Ok(url) = std::env::var("CIBA_TEST_REDIS_URL")
            && !url.is_empty()
        {
            return TestRedis { url, own: None };
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CIBA_TEST_REDIS_URL is not set and CI=true: run the tests through \
                 `cargo xtask ci`, which starts a Redis and sets it"
            );
        }
        TestRedis::dedicated()
    }

    /// A `redis-server` of this test's own on a free loopback port, whatever
    /// `CIBA_TEST_REDIS_URL` says (for tests whose assertions need a Redis nobody else
    /// writes to). Fails loudly when `/usr/bin/redis-server` is missing.
    pub fn dedicated() -> TestRedis {
        assert!(
            Path::new(REDIS_SERVER).exists(),
            "{REDIS_SERVER} is missing: install Debian's redis-server (apt-get install \
             redis-server)"
        );
        let mut last = String::new();
        for _ in 0..5 {
            match start_on(super::free_port()) {
                Ok((child, port)) => {
                    return TestRedis {
                        url: format!("redis://127.0.0.1:{port}/"),
                        own: Some(child),
                    };
                }
                Err(e) => last = e,
            }
        }
        panic!("cannot start {REDIS_SERVER}: {last}");
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.own.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `redis-server` on `port` and waits (at most 10 s) until it answers PING.
fn start_on(port: u16) -> Result<(Child, u16), String> {
    let mut child = Command::new(REDIS_SERVER)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {REDIS_SERVER}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if answers_ping(port) {
            return Ok((child, port));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("redis-server on port {port} exited: {status}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!(
        "redis-server on port {port} did not answer PING in 10 s"
    ))
}
