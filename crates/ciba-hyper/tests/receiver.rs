//! The notification receiver over hyper: ciba-core's answers, the bearer token checked before
//! the body, the head timeout, and the connection cap. (The body timeout needs a registered
//! request: ciba-client's scenarios test it.)

#![allow(missing_docs)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use ciba_hyper::{NotificationReceiver, NotificationRegistry, ReceiverOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends `raw` on a fresh connection and reads the answer's status line (empty when the
/// connection closed without one).
async fn exchange(receiver: &NotificationReceiver, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(receiver.local_addr()).await.unwrap();
    stream.write_all(raw).await.unwrap();
    status_line(&mut stream).await
}

async fn status_line(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

async fn serve(options: ReceiverOptions) -> NotificationReceiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    NotificationReceiver::serve_with(listener, NotificationRegistry::new(), options).unwrap()
}

#[tokio::test]
async fn bad_notifications_get_core_answers_and_never_a_redirect() {
    let receiver = serve(ReceiverOptions::default()).await;
    let get = exchange(&receiver, b"GET /cb HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(get.contains(" 405 "), "{get}");
    let no_bearer = exchange(
        &receiver,
        b"POST /cb HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    )
    .await;
    assert!(no_bearer.contains(" 401 "), "{no_bearer}");
    receiver.shutdown().await;
}

#[tokio::test]
async fn an_unknown_bearer_is_refused_before_the_body_is_sent() {
    let receiver = serve(ReceiverOptions::default()).await;
    // The head announces a body that never comes: the answer must not wait for it.
    let status = tokio::time::timeout(
        Duration::from_secs(3),
        exchange(
            &receiver,
            b"POST /cb HTTP/1.1\r\nhost: x\r\nauthorization: Bearer nobody\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
        ),
    )
    .await
    .expect("the receiver waited for the body");
    assert!(status.contains(" 401 "), "{status}");
}

#[tokio::test]
async fn a_slow_head_is_cut_off() {
    let options = ReceiverOptions::default().header_timeout(Duration::from_millis(300));
    let receiver = serve(options).await;
    let mut stream = TcpStream::connect(receiver.local_addr()).await.unwrap();
    stream
        .write_all(b"POST /cb HTTP/1.1\r\nhost")
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), status_line(&mut stream))
        .await
        .expect("the connection stayed open past the header timeout");
    // hyper answers 408 or simply closes.
    assert!(answer.is_empty() || answer.contains(" 408 "), "{answer}");
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let receiver = serve(ReceiverOptions::default().max_connections(1)).await;
    let idle = TcpStream::connect(receiver.local_addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = TcpStream::connect(receiver.local_addr()).await.unwrap();
    second
        .write_all(b"GET /cb HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), status_line(&mut second)).await;
    assert!(early.is_err(), "served past the connection cap: {early:?}");
    drop(idle);
    let answer = tokio::time::timeout(Duration::from_secs(5), status_line(&mut second))
        .await
        .expect("not served once the slot was free");
    assert!(answer.contains(" 405 "), "{answer}");
}
