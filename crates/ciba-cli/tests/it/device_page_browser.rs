//! The authentication-device page of `ciba serve`, driven in a real headless Chromium through
//! the DevTools protocol: the page is opened with its device access secret (the printed
//! `?secret=` URL sets the cookie its requests then carry), a pending request appears on the
//! page, a hint with a right-to-left override is shown escaped, clicking Approve completes
//! the flow, clicking Deny makes the client end with access_denied. The test writes a
//! screenshot of the page with two pending requests to `docs/device-page.png`.
//!
//! Needs `/usr/bin/chromium` (Debian: `apt-get install -y chromium`). Under `CI=true` a missing
//! browser fails the test; elsewhere the test is skipped with a loud message.

#![allow(missing_docs)]

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use support::{ChildGuard, MANUAL, bc_authorize, eventually, http, login_args, serve};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Where the screenshot goes (committed, shown in the README).
const SCREENSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/device-page.png");

/// A headless Chromium showing one page, killed on drop.
struct Browser {
    _guard: ChildGuard,
    _profile: TempDir,
    page: Cdp,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    fn open(url: &str) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "ciba-cli-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut guard = ChildGuard::spawn(
            Command::new(CHROMIUM)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--disable-dev-shm-usage",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        );
        // Chromium announces its DevTools endpoint on stderr.
        let stderr = guard.child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("DevTools listening on ws://").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or_default().to_owned());
                }
            }
        });
        let devtools = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium did not announce its DevTools port");
        // The page target for our URL.
        let ws = eventually(Duration::from_secs(15), "the page target", || {
            let (status, body) = http("GET", &format!("http://{devtools}/json/list"), None);
            if status != 200 {
                return None;
            }
            let targets: Value = serde_json::from_str(&body).ok()?;
            targets.as_array()?.iter().find_map(|t| {
                (t["type"] == "page" && t["url"].as_str()?.contains("/device"))
                    .then(|| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))?
            })
        });
        Browser {
            _guard: guard,
            _profile: TempDir(profile),
            page: Cdp::connect(&ws),
        }
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its value.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.page.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("page script failed: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until a row for the user `subject` is on the page; returns its text.
    fn wait_for_row(&mut self, subject: &str) -> String {
        let script = format!(
            "(() => {{ const tr = [...document.querySelectorAll('#rows tr')]
                 .find(tr => tr.cells[0] && tr.cells[0].textContent === {hint});
               return tr ? tr.textContent : null; }})()",
            hint = json!(subject)
        );
        eventually(Duration::from_secs(15), "the request row", || {
            self.eval(&script).as_str().map(str::to_owned)
        })
    }

    /// A PNG of the page at 1000 x 360 CSS pixels.
    fn screenshot(&mut self) -> Vec<u8> {
        self.page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1000, "height": 360, "deviceScaleFactor": 1, "mobile": false}),
        );
        let shot = self
            .page
            .call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG")
    }

    /// Clicks the `approve` or `deny` button of the row of the user `subject`.
    fn click(&mut self, subject: &str, button: &str) {
        let script = format!(
            "(() => {{ const tr = [...document.querySelectorAll('#rows tr')]
                 .find(tr => tr.cells[0] && tr.cells[0].textContent === {hint});
               const b = tr && tr.querySelector('button.{button}');
               if (!b) return false; b.click(); return true; }})()",
            hint = json!(subject)
        );
        assert_eq!(self.eval(&script), json!(true), "no {button} button");
    }
}

/// A DevTools protocol session over a minimal websocket client (RFC 6455, client side:
/// masked text frames out, unmasked frames in).
struct Cdp {
    stream: TcpStream,
    next_id: u64,
}

impl Cdp {
    fn connect(url: &str) -> Cdp {
        let rest = url.strip_prefix("ws://").expect("ws URL");
        let (authority, path) = rest.split_at(rest.find('/').expect("path"));
        let mut stream = TcpStream::connect(authority).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "websocket refused: {head}"
        );
        Cdp { stream, next_id: 1 }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let message: Value = serde_json::from_str(&self.receive()).unwrap();
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
        }
    }

    fn send(&mut self, text: &str) {
        self.frame(0x1, text.as_bytes());
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    /// The next complete text message (control frames answered or skipped).
    fn receive(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).unwrap();
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).unwrap();
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.stream.read_exact(&mut payload).unwrap();
            match opcode {
                0x0 | 0x1 => {
                    message.extend_from_slice(&payload);
                    if fin {
                        return String::from_utf8(message).unwrap();
                    }
                }
                0x8 => panic!("the browser closed the DevTools connection"),
                0x9 => self.frame(0xA, &payload),
                _ => {}
            }
        }
    }
}

/// True when the browser exists; otherwise fails under CI and skips loudly elsewhere.
fn chromium_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{CHROMIUM} is missing and CI=true: install it (apt-get install -y chromium)"
    );
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED device_page_browser: {CHROMIUM} is not installed.                  !!!\n\
         !!! Install it with `apt-get install -y chromium` to run this test.            !!!\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    false
}

#[test]
fn clicking_approve_completes_the_flow_and_deny_yields_access_denied() {
    if !chromium_available() {
        return;
    }
    let served = serve(&[&MANUAL[..], &["--device-secret", "generate"]].concat(), 3);
    // Without the secret the page is refused; the printed URL carries it.
    assert_eq!(
        http("GET", &format!("{}/device", served.issuer), None).0,
        403
    );
    assert!(served.device_page.contains("/device?secret="));
    let mut browser = Browser::open(&served.device_page);
    // The page loads, with its empty list.
    eventually(Duration::from_secs(15), "the device page to load", || {
        let title = browser.eval("document.readyState === 'complete' && document.title");
        (title == json!("CIBA authentication device")).then_some(())
    });
    assert_eq!(
        browser.eval("document.getElementById('empty').hidden"),
        json!(false)
    );

    // Approve: a poll client waits while the request shows up on the page.
    let mut args = login_args(&served, "poll", "browser-alice");
    args.extend(["--binding-message".into(), "BRW-42".into()]);
    let login = ChildGuard::ciba(&args);
    let row = browser.wait_for_row("browser-alice");
    assert!(row.contains("BRW-42"), "binding message not shown: {row}");
    assert!(row.contains("demo-poll"), "client not shown: {row}");
    // The redirect took the secret out of the address bar; the cookie carries it.
    assert_eq!(
        browser.eval("location.pathname + location.search"),
        json!("/device")
    );

    // A hint with a right-to-left override (U+202E) is shown escaped, not reordered.
    let poll = served.client("poll");
    bc_authorize(
        &served.issuer,
        &poll.client_id,
        &poll.client_secret,
        "scope=openid&login_hint=eve%E2%80%AEgnp.exe&binding_message=EVE-1",
    );
    let escaped = r"eve\u{202e}gnp.exe";
    let row = browser.wait_for_row(escaped);
    assert!(
        !row.contains('\u{202e}'),
        "the override reached the page: {row}"
    );
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 10_000,
        "a nearly empty screenshot: {} bytes",
        png.len()
    );
    std::fs::write(SCREENSHOT, &png).expect("write docs/device-page.png");
    browser.click(escaped, "deny");

    browser.click("browser-alice", "approve");
    let out = login.output(Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "login failed: {stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["id_token_claims"]["sub"], "browser-alice");
    // The decided request leaves the page.
    eventually(Duration::from_secs(5), "the row to disappear", || {
        let left = browser.eval("document.querySelectorAll('#rows tr').length");
        (left == json!(0)).then_some(())
    });

    // Deny: a push client this time, so the denial travels to the client's receiver.
    let login = ChildGuard::ciba(login_args(&served, "push", "browser-bob"));
    browser.wait_for_row("browser-bob");
    browser.click("browser-bob", "deny");
    let out = login.output(Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "expected access_denied: {stderr}"
    );
    assert!(stderr.contains("access_denied"), "{stderr}");
    assert!(
        browser
            .eval("document.getElementById('status').textContent")
            .as_str()
            .is_some_and(|s| s.contains("denied")),
        "the page did not confirm the denial"
    );
}
