//! A slow-loris client: it sends a request head, then trickles the body one byte a second,
//! and reports when and how the server ended the connection.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a trickling connection ended.
#[derive(Debug)]
pub struct Cutoff {
    /// From the end of the head to the end of the connection (EOF, reset or a failed write).
    pub after: Duration,
    /// What the server sent before closing (empty when it closed without an answer).
    pub answer: String,
}

/// Connects to `addr`, sends `head` (which announces a body of 1000 bytes), then one body
/// byte a second until the server closes the connection. Gives up after `give_up`: `None`
/// means the connection was still open then.
pub async fn trickle(addr: SocketAddr, head: String, give_up: Duration) -> Option<Cutoff> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    let mut writing = true;
    let ended = tokio::time::timeout(give_up, async {
        loop {
            if writing && stream.write_all(b"x").await.is_err() {
                return;
            }
            tokio::select! {
                read = stream.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        // An answer came: stop sending, read on until the close.
                        answer.extend_from_slice(chunk.get(..n).unwrap_or_default());
                        writing = false;
                    }
                },
                _ = tokio::time::sleep(Duration::from_secs(1)), if writing => {}
            }
        }
    })
    .await;
    ended.ok().map(|()| Cutoff {
        after: start.elapsed(),
        answer: String::from_utf8_lossy(&answer).into_owned(),
    })
}

/// The head of a `POST` to `path` announcing a 1000-byte body of `content_type`, with
/// `extra` header lines (each ending in `\r\n`).
pub fn post_head(path: &str, content_type: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: {content_type}\r\ncontent-length: 1000\r\n{extra}\r\n"
    )
}
