//! The authorization server service over loopback (and through tower, without a socket), and
//! the notification deliverer against a scripted endpoint and, over https, against a test
//! CA's endpoint (`as_tls/`).

// Notifications over https (feature `tls`).
#[cfg(feature = "tls")]
use crate::as_tls;
use crate::common;
#[cfg(feature = "tls")]
use as_tls::support::{TestCa, TlsEndpoint, capture_logs};
#[cfg(feature = "tls")]
use as_tls::{CNT, Op, TLS_SECRET, trusting};
#[cfg(feature = "tls")]
use ciba_hyper::tls::{client_config, rustls};
#[cfg(feature = "tls")]
use ciba_server::Store;
/// The scripted provider (a raw HTTP/1.1 server answering from scripts), here as a
/// notification endpoint for the deliverer: the script of `POST /token` answers.
use ciba_test::scripted;
#[cfg(feature = "tls")]
use std::time::SystemTime;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ciba_core::wire::basic_authorization;
use ciba_core::{DeliveryMode, ErrorCode};
use ciba_hyper::server::{
    AsHandle, AuthorizationHooks, BoxFuture, DeliveryFailure, DeliveryOutcome,
    NotificationDeliverer, PendingRequest,
};
use ciba_hyper::{Error, HttpClient, ServeOptions, TransportError, TransportErrorKind};
use ciba_server::{
    AuthenticationResult, Authorization, CompleteError, EgressPolicy, FailReason, MemoryStore,
    Ticket,
};
use common::slow_client::{Cutoff, post_head, trickle};
use common::slow_store::SlowStore;
use common::*;
use http_body_util::{BodyExt, Full};
use scripted::{Scripted, Step};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tower_service::Service;

#[tokio::test]
async fn discovery_and_jwks_are_served() {
    let env = TestAs::start().await;
    let http = HttpClient::http();
    let get = |path: &str| {
        http::Request::get(format!("{}{path}", env.issuer))
            .body(Vec::new())
            .unwrap()
    };
    let discovery = http
        .send(get("/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    let doc: Value = serde_json::from_slice(discovery.body()).unwrap();
    assert_eq!(doc["issuer"], env.issuer.as_str());
    assert_eq!(
        doc["backchannel_authentication_endpoint"],
        format!("{}/bc", env.issuer)
    );
    let jwks = http.send(get("/jwks")).await.unwrap();
    let keys: Value = serde_json::from_slice(jwks.body()).unwrap();
    // The RS256 and EdDSA keys, without private members.
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    assert!(keys["keys"][0].get("d").is_none());
    assert!(keys["keys"][1].get("d").is_none());
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );
    assert_eq!(http.send(get("/nowhere")).await.unwrap().status(), 404);
    let post = json_post(
        &format!("{}/.well-known/openid-configuration", env.issuer),
        None,
        json!({}),
    );
    assert_eq!(http.send(post).await.unwrap().status(), 405);
    env.stop().await;
}

#[tokio::test]
async fn service_answers_through_tower_without_a_socket() {
    let env = TestAs::start().await;
    let mut service = env.service.clone();
    let request = http::Request::get("/.well-known/openid-configuration")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.call(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["token_endpoint"], format!("{}/token", env.issuer));

    // A token request with another grant type is unsupported_grant_type.
    let other_grant = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_authorization(POLL, SECRET).unwrap())
        .body(Full::new(Bytes::from_static(b"grant_type=password")))
        .unwrap();
    let response = service.call(other_grant).await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"], "unsupported_grant_type");

    // A body over the cap is a JSON invalid_request, not a bare 413.
    let huge = http::Request::post("/bc")
        .body(Full::new(Bytes::from(vec![b'x'; 1024 * 1024])))
        .unwrap();
    let response = service.call(huge).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"], "invalid_request");
    env.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Bounded HTTP: connection cap, head, body and whole-request timeouts; answers a client can
// act on.
// ---------------------------------------------------------------------------------------------

/// Limits small enough for a test: 2 s for the head and for the body.
fn test_limits() -> ServeOptions {
    ServeOptions::default()
        .max_connections(256)
        .header_timeout(secs(2))
        .body_timeout(secs(2))
        .request_timeout(secs(4))
}

/// Each slow connection must be closed within the body timeout plus this margin (a
/// correctness bound for a loaded machine, not a performance figure).
const CUTOFF_BOUND: Duration = Duration::from_secs(12);

/// Every slow connection ended within the bound, with a 408 or without an answer.
async fn assert_all_cut_off(mut slow: JoinSet<Option<Cutoff>>, expected: usize) {
    let mut ended = 0;
    while let Some(cutoff) = slow.join_next().await {
        let cutoff = cutoff
            .unwrap()
            .expect("a slow connection was still open past the bound");
        assert!(cutoff.after < CUTOFF_BOUND, "{cutoff:?}");
        assert!(
            cutoff.answer.is_empty() || cutoff.answer.starts_with("HTTP/1.1 408 "),
            "{cutoff:?}"
        );
        ended += 1;
    }
    assert_eq!(ended, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_a_normal_client_completes_a_flow() {
    let env = TestAs::with(AsOptions {
        limits: test_limits(),
        ..AsOptions::default()
    })
    .await;
    let addr = env.server.local_addr();
    let mut slow = JoinSet::new();
    for i in 0..200 {
        let path = if i % 2 == 0 { "/bc" } else { "/token" };
        let head = post_head(path, "application/x-www-form-urlencoded", "");
        slow.spawn(trickle(addr, head, CUTOFF_BOUND));
    }
    // Meanwhile a normal client goes through a whole poll flow.
    let client = env.client(DeliveryMode::Poll).await;
    let ack = client.initiate(alice()).await.unwrap();
    let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
    env.handle
        .complete(&sid(ack.auth_req_id.as_str()), approval)
        .await
        .unwrap();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_all_cut_off(slow, 200).await;
    // The server still answers once they are gone.
    assert_eq!(
        HttpClient::http()
            .send(
                http::Request::get(format!("{}/jwks", env.issuer))
                    .body(Vec::new())
                    .unwrap()
            )
            .await
            .unwrap()
            .status(),
        200
    );
    env.stop().await;
}

#[tokio::test]
async fn a_slow_body_gets_a_json_408_and_a_slow_head_a_closed_connection() {
    let limits = ServeOptions::default()
        .header_timeout(ms(300))
        .body_timeout(ms(300));
    let env = TestAs::with(AsOptions {
        limits,
        ..AsOptions::default()
    })
    .await;
    let addr = env.server.local_addr();
    // Half a body, then nothing.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = post_head("/token", "application/x-www-form-urlencoded", "");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"grant_type=").await.unwrap();
    let answer = tokio::time::timeout(secs(10), read_to_close(&mut stream))
        .await
        .expect("the connection stayed open past the body timeout");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 408 "), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let error: Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["error"], "invalid_request");
    assert_worded(&error);
    // Half a head, then nothing: closed without an answer (or hyper's bare 408).
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /token HTTP/1.1\r\nhost")
        .await
        .unwrap();
    let answer = tokio::time::timeout(secs(10), read_to_close(&mut stream))
        .await
        .expect("the connection stayed open past the head timeout");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408 "),
        "{answer}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_request_not_answered_in_time_has_its_connection_closed() {
    // A handler that never answers, in serve_fn's loop with a 300 ms request timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let limits = ServeOptions::default().request_timeout(ms(300));
    let server = ciba_hyper::serve_fn_with(listener, limits, |_request| async {
        std::future::pending::<http::Response<Full<Bytes>>>().await
    })
    .unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = tokio::time::timeout(secs(10), read_to_close(&mut stream))
        .await
        .expect("the connection stayed open past the request timeout");
    assert!(answer.is_empty(), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let env = TestAs::with(AsOptions {
        limits: ServeOptions::default().max_connections(1),
        ..AsOptions::default()
    })
    .await;
    let addr = env.server.local_addr();
    let idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(ms(100)).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    second
        .write_all(b"GET /jwks HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let early = tokio::time::timeout(ms(500), read_to_close(&mut second)).await;
    assert!(early.is_err(), "served past the connection cap: {early:?}");
    drop(idle);
    let answer = tokio::time::timeout(secs(10), read_to_close(&mut second))
        .await
        .expect("not served once the slot was free");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    env.stop().await;
}

/// Reads until the server closes the connection (EOF or reset).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// The error description is words: no identifier-like token such as `AlreadyUsed`.
fn assert_worded(error: &Value) {
    let Some(description) = error.get("error_description").and_then(Value::as_str) else {
        return;
    };
    for word in description.split(|c: char| !c.is_ascii_alphanumeric()) {
        let camel = word
            .as_bytes()
            .windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
        assert!(!camel, "{description:?} shows the identifier {word:?}");
    }
}

#[tokio::test]
async fn post_only_endpoints_answer_other_methods_405_with_allow_post() {
    let env = TestAs::start().await;
    let http = HttpClient::http();
    for path in ["/bc", "/token"] {
        for method in [
            http::Method::GET,
            http::Method::HEAD,
            http::Method::PUT,
            http::Method::OPTIONS,
        ] {
            let request = http::Request::builder()
                .method(method.clone())
                .uri(format!("{}{path}", env.issuer))
                .body(Vec::new())
                .unwrap();
            let response = http.send(request).await.unwrap();
            assert_eq!(response.status(), 405, "{method} {path}");
            assert_eq!(response.headers()["allow"], "POST", "{method} {path}");
            assert_eq!(response.headers()["cache-control"], "no-store");
            if method != http::Method::HEAD {
                let error: Value = serde_json::from_slice(response.body()).unwrap();
                assert_eq!(error["error"], "invalid_request", "{method} {path}");
                assert_worded(&error);
            }
        }
    }
    env.stop().await;
}

#[tokio::test]
async fn an_oversized_body_gets_a_json_413_with_no_store_over_the_socket() {
    let env = TestAs::start().await;
    let limit = env.handle.server().config().limits.max_body_bytes;
    for path in ["/bc", "/token"] {
        // Announced by content-length (refused before the body is sent) and chunked
        // (refused while reading): both the same answer.
        for chunked in [false, true] {
            let mut stream = TcpStream::connect(env.server.local_addr()).await.unwrap();
            let body = vec![b'x'; limit + 1];
            let framing = if chunked {
                "transfer-encoding: chunked".to_owned()
            } else {
                format!("content-length: {}", body.len())
            };
            let head = format!(
                "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n{framing}\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            if chunked {
                // The server answers and closes once past the limit, perhaps before the
                // whole chunk is sent.
                let _ = stream
                    .write_all(format!("{:x}\r\n", body.len()).as_bytes())
                    .await;
                let _ = stream.write_all(&body).await;
            }
            let answer = tokio::time::timeout(secs(10), read_to_close(&mut stream))
                .await
                .unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
            assert!(
                head.starts_with("HTTP/1.1 413 "),
                "{path} {chunked}: {head}"
            );
            assert!(head.contains("cache-control: no-store"), "{head}");
            assert!(head.contains("content-type: application/json"), "{head}");
            let error: Value = serde_json::from_str(body).unwrap();
            assert_eq!(error["error"], "invalid_request");
            assert!(
                error["error_description"]
                    .as_str()
                    .is_some_and(|d| d.contains(&limit.to_string())),
                "{error}"
            );
        }
    }
    env.stop().await;
}

#[tokio::test]
async fn token_errors_over_the_wire_are_worded() {
    let env = TestAs::start().await;
    let client = env.client(DeliveryMode::Ping).await;
    let theirs = client
        .initiate(alice().client_notification_token("a-notification-token-of-the-ping-client"))
        .await
        .unwrap();
    let http = HttpClient::http();
    // The poll client asks for an unknown id and for the ping client's: the same words.
    let unknown = http.send(token_request(&env, "no-such-id")).await.unwrap();
    let other = http
        .send(token_request(&env, theirs.auth_req_id.as_str()))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(unknown.body(), other.body());
    let error: Value = serde_json::from_slice(unknown.body()).unwrap();
    assert_eq!(error["error"], "invalid_grant");
    assert_worded(&error);
    env.stop().await;
}

#[tokio::test]
async fn full_store_answers_503_with_retry_after() {
    let env = TestAs::with(AsOptions {
        max_entries_per_client: 1,
        ..AsOptions::default()
    })
    .await;
    let client = env.client(DeliveryMode::Poll).await;
    client.initiate(alice()).await.unwrap();
    match client.initiate(alice()).await {
        Err(Error::Core(ciba_core::Error::OAuth(e))) => {
            assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
            assert_eq!(e.status, 503);
        }
        other => panic!("{other:?}"),
    }
    let raw = http::Request::post(format!("{}/bc", env.issuer))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_authorization(POLL, SECRET).unwrap())
        .body(b"scope=openid&login_hint=alice%40example.com".to_vec())
        .unwrap();
    let response = HttpClient::http().send(raw).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    env.stop().await;
}

#[tokio::test]
async fn completing_an_unknown_request_is_refused() {
    let env = TestAs::start().await;
    let result = env
        .handle
        .complete(&sid("no-such-request"), AuthenticationResult::AccessDenied)
        .await;
    assert!(
        matches!(result, Err(CompleteError::UnknownRequest)),
        "{result:?}"
    );
    env.stop().await;
}

/// A CIBA token request of the poll client for `auth_req_id`.
fn token_request(env: &TestAs, auth_req_id: &str) -> http::Request<Vec<u8>> {
    let form = ciba_core::wire::encode_form([
        ("grant_type", ciba_server::CIBA_GRANT_TYPE),
        ("auth_req_id", auth_req_id),
    ]);
    http::Request::post(format!("{}/token", env.issuer))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_authorization(POLL, SECRET).unwrap())
        .body(form)
        .unwrap()
}

fn error_code(response: &http::Response<Vec<u8>>) -> String {
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// The store's operations are awaited, never run on a worker's own time: with the store
/// stalled for 3 s under 16 token requests, on a runtime of 2 worker threads, discovery and
/// JWKS still answer at once, and the token requests answer correctly once the store does.
/// (The 1 s bound is a correctness bound: a blocked worker pool would take the full 3 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_holds_only_the_requests_that_need_it() {
    const IN_FLIGHT: usize = 16;
    let store = SlowStore::default();
    let env = TestAs::with_parts(AsOptions::default(), Arc::new(store.clone()), TestHooks).await;
    let client = env.client(DeliveryMode::Poll).await;
    let mut ids = Vec::new();
    for _ in 0..IN_FLIGHT {
        ids.push(client.initiate(alice()).await.unwrap().auth_req_id);
    }

    store.layer.stall(secs(3));
    let http = HttpClient::http().timeout(secs(30));
    let polls: Vec<_> = ids
        .iter()
        .map(|id| {
            let (http, request) = (http.clone(), token_request(&env, id.as_str()));
            tokio::spawn(async move { http.send(request).await })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + secs(10);
    while store.layer.waiting() < IN_FLIGHT {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the polls never reached the store"
        );
        tokio::time::sleep(ms(10)).await;
    }

    let started = tokio::time::Instant::now();
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let get = http::Request::get(format!("{}{path}", env.issuer))
            .body(Vec::new())
            .unwrap();
        assert_eq!(http.send(get).await.unwrap().status(), 200, "{path}");
    }
    let answered_in = started.elapsed();
    assert!(
        answered_in < secs(1),
        "discovery and JWKS took {answered_in:?}"
    );
    assert_eq!(
        store.layer.waiting(),
        IN_FLIGHT,
        "the polls are still waiting on the store"
    );

    for poll in polls {
        let response = poll.await.unwrap().unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(error_code(&response), "authorization_pending");
    }

    // Once the store answers promptly again, the flow ends as usual.
    store.layer.stall(secs(0));
    let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
    env.handle
        .complete(&sid(ids[0].as_str()), approval)
        .await
        .unwrap();
    tokio::time::sleep(ms(1100)).await; // the interval (1 s) since the last poll
    let redeemed = http
        .send(token_request(&env, ids[0].as_str()))
        .await
        .unwrap();
    assert_eq!(
        redeemed.status(),
        200,
        "{}",
        String::from_utf8_lossy(redeemed.body())
    );
    assert_eq!(env.pending().await.len(), IN_FLIGHT - 1);
    env.stop().await;
}

/// A question the directory hook puts to the test: the hint, and where to answer.
type Question = (String, oneshot::Sender<Option<String>>);

/// Hooks that wait on the network, as real ones do: `identify_user` asks a directory
/// (here the test, over a channel) and awaits its answer; `authentication_requested` hands
/// the request to the authentication device (the test, over another channel).
struct RemoteDirectory {
    questions: mpsc::Sender<Question>,
    device: mpsc::UnboundedSender<PendingRequest>,
}

impl AuthorizationHooks for RemoteDirectory {
    fn identify_user<'a>(
        &'a self,
        ticket: &'a Ticket,
    ) -> BoxFuture<'a, Result<String, FailReason>> {
        Box::pin(async move {
            let (answer, answered) = oneshot::channel();
            let question = (ticket.hint.value().to_owned(), answer);
            if self.questions.send(question).await.is_err() {
                return Err(FailReason::ServerError);
            }
            match answered.await {
                Ok(Some(subject)) => Ok(subject),
                Ok(None) => Err(FailReason::UnknownUserId),
                Err(_) => Err(FailReason::ServerError),
            }
        })
    }

    fn authentication_requested(
        &self,
        request: PendingRequest,
        _handle: AsHandle,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.device.send(request);
        })
    }
}

#[tokio::test]
async fn async_hooks_identify_the_user_and_start_the_device_step() {
    let (questions, mut asked) = mpsc::channel(4);
    let (device, mut on_device) = mpsc::unbounded_channel();
    let hooks = RemoteDirectory { questions, device };
    let env = TestAs::with_parts(AsOptions::default(), Arc::new(MemoryStore::new()), hooks).await;
    let client = env.client(DeliveryMode::Poll).await;

    // The backchannel request waits while the directory thinks; the server does not.
    let initiated = tokio::spawn({
        let client = client.clone();
        async move { client.initiate(alice()).await }
    });
    let (hint, answer) = asked.recv().await.unwrap();
    assert_eq!(hint, "alice@example.com");
    let get = http::Request::get(format!("{}/jwks", env.issuer))
        .body(Vec::new())
        .unwrap();
    assert_eq!(HttpClient::http().send(get).await.unwrap().status(), 200);
    assert!(!initiated.is_finished());
    answer.send(Some("alice-in-the-directory".into())).unwrap();
    let ack = initiated.await.unwrap().unwrap();

    // The device step got the request as issued, and the store lists it.
    let requested = on_device.recv().await.unwrap();
    assert_eq!(requested.auth_req_id, ack.auth_req_id.as_str());
    assert_eq!(requested.subject, "alice-in-the-directory");
    assert_eq!(requested.binding_message.as_deref(), Some("W4SCT"));
    assert_eq!(env.pending().await, vec![requested.clone()]);

    // The device approves; the client gets tokens for the subject the directory named.
    let approval = AuthenticationResult::Authorized(Authorization::new(&requested.subject));
    env.handle
        .complete(&requested.auth_req_id, approval)
        .await
        .unwrap();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice-in-the-directory");

    // A hint the directory does not know is unknown_user_id, and reaches no device.
    let refused = tokio::spawn({
        let client = client.clone();
        async move { client.initiate(alice()).await }
    });
    let (_, answer) = asked.recv().await.unwrap();
    answer.send(None).unwrap();
    match refused.await.unwrap() {
        Err(Error::Core(ciba_core::Error::OAuth(e))) => {
            assert_eq!(e.code, ErrorCode::UnknownUserId)
        }
        other => panic!("{other:?}"),
    }
    assert!(env.pending().await.is_empty());
    assert!(on_device.try_recv().is_err());
    env.stop().await;
}

fn status(code: u16) -> Step {
    Step::Raw(code, Vec::new(), Vec::new())
}

async fn deliver(
    script: Vec<Step>,
    deliverer: NotificationDeliverer,
) -> (DeliveryOutcome, Scripted) {
    let endpoint = Scripted::start(script).await;
    let request = json_post(
        &format!("{}/token", endpoint.base),
        Some("Bearer cnt"),
        json!({"auth_req_id": "x"}),
    );
    (deliverer.deliver(request).await, endpoint)
}

fn fast_deliverer() -> NotificationDeliverer {
    NotificationDeliverer::plain_http(EgressPolicy::allow_loopback())
        .timeout(ms(500))
        .retry_delay(ms(50))
}

#[tokio::test]
async fn deliverer_retries_server_errors_and_resets() {
    let (delivery, endpoint) = deliver(
        vec![status(500), Step::Reset, status(204)],
        fast_deliverer(),
    )
    .await;
    assert!(
        matches!(delivery, DeliveryOutcome::Delivered { attempts: 3, .. }),
        "{delivery:?}"
    );
    assert_eq!(endpoint.seen("POST /token").len(), 3);
}

#[tokio::test]
async fn deliverer_takes_any_2xx_as_delivered_and_ignores_the_body() {
    // CIBA Core 10.2: the client answers 204 No Content, but any 2xx means the
    // notification arrived; the body the client sends with a 200 is not read.
    for (code, body) in [
        (200, b"{\"whatever\":true}".to_vec()),
        (202, Vec::new()),
        (200, b"not json".to_vec()),
    ] {
        let (delivery, endpoint) = deliver(
            vec![Step::Raw(code, Vec::new(), body), status(500)],
            fast_deliverer(),
        )
        .await;
        match delivery {
            DeliveryOutcome::Delivered { status, attempts } => {
                assert_eq!(status, code);
                assert_eq!(attempts, 1, "a 2xx must not be retried");
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(endpoint.seen("POST /token").len(), 1);
    }
}

#[tokio::test]
async fn deliverer_gives_up_after_its_attempts() {
    let (delivery, endpoint) = deliver(
        vec![status(503), status(502), status(500)],
        fast_deliverer().max_attempts(2),
    )
    .await;
    match delivery {
        DeliveryOutcome::GaveUp {
            attempts: 2,
            last: DeliveryFailure::Status(s),
        } => assert_eq!(s, 502),
        other => panic!("{other:?}"),
    }
    assert_eq!(endpoint.seen("POST /token").len(), 2);

    let (delivery, _) = deliver(
        vec![Step::Delay(secs(2), Box::new(status(204)))],
        fast_deliverer().max_attempts(1),
    )
    .await;
    assert!(
        matches!(
            delivery,
            DeliveryOutcome::GaveUp {
                attempts: 1,
                last: DeliveryFailure::Transport(Error::Transport(TransportError {
                    kind: TransportErrorKind::Timeout,
                    ..
                }))
            }
        ),
        "{delivery:?}"
    );
}

#[tokio::test]
async fn deliverer_never_retries_4xx_nor_follows_redirects() {
    let (delivery, endpoint) = deliver(vec![status(401), status(204)], fast_deliverer()).await;
    assert!(
        matches!(delivery, DeliveryOutcome::Refused { attempts: 1, .. }),
        "{delivery:?}"
    );
    assert_eq!(endpoint.seen("POST /token").len(), 1);

    let redirect = Step::Raw(307, vec![("location", "/elsewhere".into())], Vec::new());
    let (delivery, endpoint) = deliver(vec![redirect], fast_deliverer()).await;
    match delivery {
        DeliveryOutcome::Refused { status, attempts } => {
            assert_eq!(status, 307);
            assert_eq!(attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(endpoint.requests(), 1, "the redirect was followed");
}

// ---- notifications over https (feature `tls`) -----------------------------------------

#[cfg(feature = "tls")]
#[tokio::test]
async fn ping_and_push_reach_an_https_endpoint_over_http2() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 204).await;
    let op = Op::new(&endpoint.url, trusting(&ca));

    let ping = op.start("ping").await;
    let delivery = op.approve(&ping).await;
    assert!(
        matches!(delivery, DeliveryOutcome::Delivered { attempts: 1, .. }),
        "{delivery:?}"
    );
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(delivery.is_delivered(), "{delivery:?}");

    let seen = endpoint.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for s in &seen {
        assert_eq!(s.version, http::Version::HTTP_2, "ALPN chose h2");
        assert_eq!(s.authorization, format!("Bearer {CNT}"));
    }
    assert_eq!(seen[0].body["auth_req_id"], ping.as_str());
    assert_eq!(seen[1].body["auth_req_id"], push.as_str());
    let access = seen[1].body["access_token"].as_str().unwrap();
    let refresh = seen[1].body["refresh_token"].as_str().unwrap();
    let server = op.handle.server();
    assert!(!server.is_revoked(access, SystemTime::now()).await.unwrap());
    assert!(!server.is_revoked(refresh, SystemTime::now()).await.unwrap());
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn a_push_answered_500_until_the_deliverer_gives_up_leaves_no_usable_token() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 500).await;
    let op = Op::new(&endpoint.url, trusting(&ca));
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(
        matches!(
            delivery,
            DeliveryOutcome::GaveUp {
                attempts: 2,
                last: DeliveryFailure::Status(s)
            } if s == 500
        ),
        "{delivery:?}"
    );
    // The endpoint received the tokens (and answered 500): they must not be usable.
    let seen = endpoint.seen();
    assert_eq!(seen.len(), 2);
    let access = seen[0].body["access_token"].as_str().unwrap();
    let refresh = seen[0].body["refresh_token"].as_str().unwrap();
    let server = op.handle.server();
    assert!(server.is_revoked(access, SystemTime::now()).await.unwrap());
    assert!(server.is_revoked(refresh, SystemTime::now()).await.unwrap());
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn a_push_refused_with_4xx_or_never_connected_is_revoked() {
    let ca = TestCa::new();
    // Refused: not retried, revoked at once.
    let endpoint = TlsEndpoint::start(&ca, 400).await;
    let op = Op::new(&endpoint.url, trusting(&ca));
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(
        matches!(delivery, DeliveryOutcome::Refused { attempts: 1, .. }),
        "{delivery:?}"
    );
    let access = endpoint.seen()[0].body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        op.handle
            .server()
            .is_revoked(&access, SystemTime::now())
            .await
            .unwrap()
    );

    // Nobody listens: no one ever saw the tokens; the store's fingerprints are revoked.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let op = Op::new(&format!("https://localhost:{port}/cb"), trusting(&ca));
    let push = op.start("push").await;
    let delivery = op.approve(&push).await;
    assert!(
        matches!(delivery, DeliveryOutcome::GaveUp { attempts: 2, .. }),
        "{delivery:?}"
    );
    let fingerprints = op.pushed_fingerprints(&push).await;
    assert_eq!(fingerprints.len(), 2, "access and refresh token");
    for fp in &fingerprints {
        assert!(op.store.is_revoked(fp, SystemTime::now()).await.unwrap());
    }
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn an_untrusted_certificate_is_a_failed_delivery_logged_without_the_tokens() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 204).await;
    // This deliverer trusts no root at all: the endpoint's certificate is refused.
    let deliverer = NotificationDeliverer::https_with_config(
        client_config(rustls::RootCertStore::empty()).unwrap(),
        EgressPolicy::allow_loopback(),
    )
    .timeout(secs(5))
    .retry_delay(ms(20))
    .max_attempts(3);
    let op = Op::new(&endpoint.url, deliverer);
    let push = op.start("push").await;

    let logs = capture_logs();
    let delivery = op.approve(&push).await;
    assert!(
        matches!(
            delivery,
            DeliveryOutcome::GaveUp {
                attempts: 3,
                last: DeliveryFailure::Transport(_)
            }
        ),
        "{delivery:?}"
    );
    assert!(
        endpoint.seen().is_empty(),
        "nothing crossed the TLS handshake"
    );
    let logs = logs.text();
    let gave_up = logs
        .lines()
        .find(|l| l.contains("notification not delivered") && l.contains(&endpoint.url))
        .unwrap_or_else(|| panic!("no final failure logged:\n{logs}"));
    assert!(gave_up.contains(&endpoint.url), "{gave_up}");
    assert!(gave_up.contains("attempts=3"), "{gave_up}");
    assert!(
        gave_up.to_lowercase().contains("certificate"),
        "the reason: {gave_up}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains("tokens are revoked") && l.contains(&endpoint.url)),
        "the revocation is logged:\n{logs}"
    );
    assert!(!logs.contains(CNT), "the bearer token leaked:\n{logs}");
    assert!(
        !logs.contains(TLS_SECRET),
        "the client secret leaked:\n{logs}"
    );
    assert!(!logs.contains("eyJ"), "a JWT leaked:\n{logs}");
    let fingerprints = op.pushed_fingerprints(&push).await;
    for fp in &fingerprints {
        assert!(op.store.is_revoked(fp, SystemTime::now()).await.unwrap());
    }
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn a_failed_delivery_logs_endpoint_attempts_and_reason_but_not_the_bearer_token() {
    let ca = TestCa::new();
    let endpoint = TlsEndpoint::start(&ca, 503).await;
    let op = Op::new(&endpoint.url, trusting(&ca));
    let push = op.start("push").await;
    let logs = capture_logs();
    let delivery = op.approve(&push).await;
    assert!(!delivery.is_delivered());
    let seen = endpoint.seen();
    let access = seen[0].body["access_token"].as_str().unwrap();
    let refresh = seen[0].body["refresh_token"].as_str().unwrap();
    let logs = logs.text();
    let gave_up = logs
        .lines()
        .find(|l| l.contains("notification not delivered") && l.contains(&endpoint.url))
        .unwrap_or_else(|| panic!("no final failure logged:\n{logs}"));
    assert!(gave_up.contains(&endpoint.url), "{gave_up}");
    assert!(gave_up.contains("attempts=2"), "{gave_up}");
    assert!(gave_up.contains("503"), "the reason: {gave_up}");
    for secret in [CNT, access, refresh] {
        assert!(!logs.contains(secret), "{secret} leaked:\n{logs}");
    }
}

/// A FAPI-CIBA client (ciba-client, `Profile::FapiCiba`) completes poll and ping flows
/// against a FAPI-CIBA authorization server over https, with DPoP-bound tokens.
#[cfg(feature = "tls")]
#[tokio::test]
async fn fapi_client_gets_dpop_bound_tokens_by_poll_and_ping_over_https() {
    as_tls::fapi::dpop_bound_flows().await;
}

/// The same with certificate-bound tokens: `self_signed_tls_client_auth` over a real
/// mutual-TLS handshake, tokens bound to the certificate (`cnf.x5t#S256`).
#[cfg(feature = "tls")]
#[tokio::test]
async fn fapi_client_gets_certificate_bound_tokens_by_poll_and_ping_over_mutual_tls() {
    as_tls::fapi::certificate_bound_flows().await;
}

/// A `self_signed_tls_client_auth` client without its certificate, or with a certificate
/// whose key it did not register, is `invalid_client`.
#[cfg(feature = "tls")]
#[tokio::test]
async fn a_self_signed_mtls_client_without_its_certificate_is_refused_over_https() {
    as_tls::fapi::refused_without_its_certificate().await;
}

/// A registry that hands out its clients as they are, without registration checks (a client
/// registered before the policy changed, or one whose name now resolves elsewhere).
struct UncheckedClients(Vec<Arc<ciba_server::ClientMetadata>>);

impl ciba_server::ClientRegistry for UncheckedClients {
    fn client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ciba_server::ClientMetadata>>, ciba_server::RegistryError>>
    {
        let found = self.0.iter().find(|c| c.client_id == client_id).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }
}

#[tokio::test]
async fn the_default_deliverer_enforces_the_servers_egress_policy() {
    for (policy, delivered) in [
        (EgressPolicy::STRICT, false),
        (EgressPolicy::allow_loopback(), true),
    ] {
        let endpoint = Scripted::start(vec![status(204)]).await;
        let mut config = ciba_server::ServerConfig::with_policy(
            "https://op.example",
            "https://op.example/token",
            "https://op.example/bc",
            ciba_core::EndpointPolicy::ALLOW_HTTP_LOOPBACK,
        )
        .unwrap();
        config.egress_policy = policy;
        let mut ping = ciba_server::ClientMetadata::new("ping");
        ping.client_secret = Some(SECRET.into());
        ping.grant_types = vec![ciba_server::CIBA_GRANT_TYPE.into()];
        ping.backchannel_token_delivery_mode = Some(DeliveryMode::Ping);
        ping.backchannel_client_notification_endpoint = Some(format!("{}/token", endpoint.base));
        let server = ciba_server::CibaServer::new(
            config,
            Arc::new(UncheckedClients(vec![Arc::new(ping)])),
            Arc::new(MemoryStore::new()),
            Arc::new(ciba_server::DefaultTokenMinter::new(op_key_set("op"))),
        );
        // No deliverer given: the server's policy governs.
        let service = ciba_hyper::server::AuthorizationServer::new(server, TestHooks);
        let start = http::Request::post("https://op.example/bc")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic_authorization("ping", SECRET).unwrap())
            .body(
                b"scope=openid&login_hint=alice%40example.com&client_notification_token=cnt-cnt-cnt"
                    .to_vec(),
            )
            .unwrap();
        let answer = service.handle_request(start).await;
        assert_eq!(answer.status(), 200);
        let ack: Value = serde_json::from_slice(answer.body()).unwrap();
        let id = ack["auth_req_id"].as_str().unwrap();
        let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
        let delivery = service.handle().complete(&sid(id), approval).await.unwrap();
        assert_eq!(
            delivery.is_delivered(),
            delivered,
            "{policy:?}: {delivery:?}"
        );
        if !delivered {
            assert!(
                matches!(delivery, DeliveryOutcome::NotAllowed { .. }),
                "{delivery:?}"
            );
        }
        assert_eq!(
            endpoint.seen("POST /token").len(),
            usize::from(delivered),
            "{policy:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Under a path prefix (axum's `nest_service` removes the prefix before the service sees it).
// ---------------------------------------------------------------------------------------------

/// A server whose endpoints are all under `/oauth` except, when `own_token` is set, the
/// token endpoint, which the application serves itself at `/app/token`.
fn prefixed_service(own_token: bool) -> ciba_hyper::server::AuthorizationServer {
    use ciba_core::EndpointPolicy;
    use ciba_hyper::server::AuthorizationServer;
    use ciba_server::{
        CibaServer, ClientMetadata, DefaultTokenMinter, ServerConfig, StaticClientRegistry,
    };
    let issuer = "http://127.0.0.1:8080/oauth";
    let token = if own_token {
        "http://127.0.0.1:8080/app/token".to_owned()
    } else {
        format!("{issuer}/token")
    };
    let mut config = ServerConfig::with_policy(
        issuer,
        token,
        format!("{issuer}/bc"),
        EndpointPolicy::ALLOW_HTTP_LOOPBACK,
    )
    .unwrap();
    config.jwks_uri = Some(format!("{issuer}/jwks"));
    let mut registry = StaticClientRegistry::new();
    let mut poll = ClientMetadata::new(POLL);
    poll.client_secret = Some(SECRET.into());
    poll.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
    poll.grant_types = vec![ciba_server::CIBA_GRANT_TYPE.into()];
    registry.register(poll, &config).unwrap();
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(DefaultTokenMinter::new(op_key_set("op-key-1"))),
    );
    AuthorizationServer::builder(server, TestHooks)
        .mount_path("/oauth/")
        .build()
}

async fn call(
    service: &ciba_hyper::server::AuthorizationServer,
    request: http::Request<Vec<u8>>,
) -> (u16, Value) {
    let response = service
        .clone()
        .call(request.map(|b| Full::new(Bytes::from(b))))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn service_under_a_mount_path_answers_the_paths_relative_to_it() {
    let service = prefixed_service(false);
    let get = |path: &str| http::Request::get(path).body(Vec::new()).unwrap();
    // Discovery at the path the prefix was taken from, advertising the full public URLs.
    let (status, doc) = call(&service, get("/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], "http://127.0.0.1:8080/oauth");
    assert_eq!(doc["token_endpoint"], "http://127.0.0.1:8080/oauth/token");
    assert_eq!(
        doc["backchannel_authentication_endpoint"],
        "http://127.0.0.1:8080/oauth/bc"
    );
    assert_eq!(doc["jwks_uri"], "http://127.0.0.1:8080/oauth/jwks");
    let (status, jwks) = call(&service, get("/jwks")).await;
    assert_eq!(status, 200);
    assert!(jwks["keys"].is_array());

    // The backchannel endpoint answers at /bc: a request from alice's client is acknowledged.
    let form =
        ciba_core::wire::encode_form([("scope", "openid"), ("login_hint", "alice@example.com")]);
    let backchannel = http::Request::post("/bc")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_authorization(POLL, SECRET).unwrap())
        .body(form)
        .unwrap();
    let (status, ack) = call(&service, backchannel).await;
    assert_eq!(status, 200, "{ack}");
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();

    // The token endpoint answers at /token: the request is pending.
    let poll = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_authorization(POLL, SECRET).unwrap())
        .body(ciba_core::wire::encode_form([
            ("grant_type", ciba_server::CIBA_GRANT_TYPE),
            ("auth_req_id", auth_req_id.as_str()),
        ]))
        .unwrap();
    let (status, error) = call(&service, poll).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "authorization_pending");

    // The full paths are not the service's any more (the prefix was removed before it).
    for path in [
        "/oauth/.well-known/openid-configuration",
        "/oauth/jwks",
        "/oauthx/jwks",
    ] {
        assert_eq!(call(&service, get(path)).await.0, 404, "{path}");
    }
}

#[tokio::test]
async fn an_endpoint_outside_the_mount_path_is_left_to_the_application() {
    let service = prefixed_service(true);
    let get = |path: &str| http::Request::get(path).body(Vec::new()).unwrap();
    let (status, doc) = call(&service, get("/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["token_endpoint"], "http://127.0.0.1:8080/app/token");
    for path in ["/token", "/app/token"] {
        let post = http::Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"grant_type=client_credentials".to_vec())
            .unwrap();
        assert_eq!(call(&service, post).await.0, 404, "{path}");
    }
}
