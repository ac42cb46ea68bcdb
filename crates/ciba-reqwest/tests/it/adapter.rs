//! The reqwest adapter's own policy: a supplied reqwest client that follows redirects is
//! caught, and bodies are capped. (The client's behaviour through this adapter is in
//! ciba-client's scenarios, run once per adapter.)

#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ciba_reqwest::{HttpClient, HttpSend, TransportErrorKind};
use http_body_util::Full;
use tokio::net::TcpListener;

/// A loopback server: `/redirect` answers 302 to `/target`, `/big` a 64 KiB body.
async fn server() -> (ciba_hyper::RunningServer, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let running = ciba_hyper::serve_fn(listener, |request: http::Request<_>| async move {
        let body = if request.uri().path() == "/big" {
            vec![b'x'; 64 * 1024]
        } else {
            Vec::new()
        };
        let mut response = http::Response::new(Full::new(body.into()));
        if request.uri().path() == "/redirect" {
            *response.status_mut() = http::StatusCode::FOUND;
            response
                .headers_mut()
                .insert("location", http::HeaderValue::from_static("/target"));
        }
        response
    })
    .unwrap();
    (running, base)
}

fn get(url: String) -> http::Request<Vec<u8>> {
    http::Request::get(url).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn a_supplied_client_that_follows_redirects_is_caught() {
    let (_server, base) = server().await;
    let follows = HttpClient::from_client(reqwest::Client::new());
    let e = follows
        .send(get(format!("{base}/redirect")))
        .await
        .unwrap_err();
    assert_eq!(e.kind, TransportErrorKind::Other);
    let own = HttpClient::new().unwrap();
    let response = own.send(get(format!("{base}/redirect"))).await.unwrap();
    assert_eq!(
        response.status(),
        302,
        "the adapter's own client never follows"
    );
}

#[tokio::test]
async fn bodies_past_the_cap_are_refused() {
    let (_server, base) = server().await;
    let capped = HttpClient::builder().max_body_bytes(1024).build().unwrap();
    let e = capped.send(get(format!("{base}/big"))).await.unwrap_err();
    assert_eq!(e.kind, TransportErrorKind::BodyTooLarge);
    assert_eq!(e.limit, Some(1024));
}

#[tokio::test]
async fn an_unsendable_request_is_a_transport_error() {
    let t = HttpClient::new().unwrap();
    let request = http::Request::get("/relative").body(Vec::new()).unwrap();
    let e = t.send(request).await.unwrap_err();
    assert_eq!(e.kind, TransportErrorKind::Other);
}

#[tokio::test]
async fn transport_errors_never_name_credentials_or_queries_of_the_url() {
    let t = HttpClient::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let request = http::Request::get("http://user:SECRET-pw@127.0.0.1:9/p?key=SECRET-q")
        .body(Vec::new())
        .unwrap();
    let e = t.send(request).await.unwrap_err();
    let shown = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("http://127.0.0.1:9/p"), "{shown}");
}
