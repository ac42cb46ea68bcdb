//! Test support: a scripted HTTP/1.1 server on loopback that records every request with its
//! arrival time, a scripted OP built on it, and token minting with the ciba-core test keys.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ciba_core::jose::hash::left_half_hash;
use ciba_core::jose::jws::sign_compact;
use ciba_core::jose::{Jwk, JwkSet, JwkSigner, Signer};
use ciba_core::time::unix_seconds;
use ciba_core::{ClientAuth, ClientConfig, ClientSecret, DeliveryMode, EndpointPolicy};
use ciba_reqwest::{CibaClient, ClientOptions};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A long enough `auth_req_id` for the scripted OP.
pub const AUTH_REQ_ID: &str = "1c266114-a1be-4252-8ad1-04986c5b9ac1";
pub const CLIENT_ID: &str = "client-1";
pub const CLIENT_SECRET: &str = "a-long-random-client-secret";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The request as an `http::Request`, for handing to ciba-server.
    pub fn to_http(&self) -> http::Request<Vec<u8>> {
        let mut b = http::Request::builder()
            .method(self.method.as_str())
            .uri(self.path.as_str());
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(self.body.clone()).unwrap()
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Write these bytes (a whole HTTP response) and close.
    Raw(Vec<u8>),
    /// Wait, then do the inner reply.
    Delay(Duration, Box<Reply>),
    /// Reset the connection without answering.
    Reset,
}

impl Reply {
    /// A response with a `Content-Length` and `Connection: close`.
    pub fn with(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut out = format!("HTTP/1.1 {status} Status\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        Reply::Raw(bytes)
    }

    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::with(
            status,
            &[
                ("content-type", "application/json"),
                ("cache-control", "no-store"),
            ],
            body.to_string().as_bytes(),
        )
    }

    pub fn error(status: u16, code: &str) -> Reply {
        Reply::json(status, &json!({ "error": code }))
    }

    pub fn pending() -> Reply {
        Reply::error(400, "authorization_pending")
    }

    pub fn from_http(resp: &http::Response<Vec<u8>>) -> Reply {
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| *k != http::header::CONTENT_LENGTH)
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Reply::with(resp.status().as_u16(), &refs, resp.body())
    }

    pub fn delayed(self, d: Duration) -> Reply {
        Reply::Delay(d, Box::new(self))
    }
}

/// The reply a handler gives, possibly later (an async server behind the handler).
pub type ReplyFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>;

type Handler = Arc<dyn Fn(&Recorded) -> ReplyFuture + Send + Sync>;

/// A loopback HTTP/1.1 server answering from a handler and recording every request.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts a server; `make` receives the base URL (`http://127.0.0.1:PORT`).
    pub async fn start<F, H>(make: F) -> TestServer
    where
        F: FnOnce(&str) -> H,
        H: Fn(&Recorded) -> Reply + Send + Sync + 'static,
    {
        TestServer::start_async(move |base| {
            let handler = make(base);
            move |r: &Recorded| -> ReplyFuture { Box::pin(std::future::ready(handler(r))) }
        })
        .await
    }

    /// Starts a server whose handler answers asynchronously.
    pub async fn start_async<F, H>(make: F) -> TestServer
    where
        F: FnOnce(&str) -> H,
        H: Fn(&Recorded) -> ReplyFuture + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let handler: Handler = Arc::new(make(&base));
        let log = Arc::new(Mutex::new(Vec::new()));
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection task.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let log = task_log.clone();
                connections.spawn(serve(stream, handler, log));
                while connections.try_join_next().is_some() {}
            }
        });
        TestServer {
            addr,
            base,
            log,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn serve(mut stream: TcpStream, handler: Handler, log: Arc<Mutex<Vec<Recorded>>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    log.lock().unwrap().push(request.clone());
    let mut reply = handler(&request).await;
    loop {
        match reply {
            Reply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                reply = *inner;
            }
            Reply::Reset => {
                let _ = stream.set_zero_linger();
                drop(stream);
                return;
            }
            Reply::Raw(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some(Recorded {
        at,
        method,
        path,
        headers,
        body,
    })
}

/// A private test key from ciba-core's test data.
pub fn jwk(name: &str) -> Jwk {
    let path = format!(
        "{}/../ciba-core/testdata/{name}.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    );
    Jwk::from_json(&std::fs::read(path).unwrap()).unwrap()
}

pub fn signer(name: &str) -> JwkSigner {
    JwkSigner::from_jwk(&jwk(name), None).unwrap()
}

pub fn public_set(keys: &[&Jwk]) -> Value {
    serde_json::to_value(JwkSet {
        keys: keys.iter().map(|k| k.to_public()).collect(),
    })
    .unwrap()
}

/// A token response body with an ID token for `client_id` and `auth_req_id`, signed by
/// `signer`.
pub fn token_body(
    issuer: &str,
    client_id: &str,
    auth_req_id: &str,
    signer: &dyn Signer,
    token_type: &str,
) -> Value {
    let now = unix_seconds(SystemTime::now());
    let access_token = format!("at-{now}-{}", auth_req_id.len());
    let claims = json!({
        "iss": issuer, "sub": "alice", "aud": client_id, "iat": now, "exp": now + 300,
        "at_hash": left_half_hash(signer.algorithm(), &access_token).unwrap(),
        "urn:openid:params:jwt:claim:auth_req_id": auth_req_id,
    });
    let id_token = sign_compact(Map::new(), claims.as_object().unwrap(), signer).unwrap();
    json!({
        "access_token": access_token, "token_type": token_type, "expires_in": 3600,
        "id_token": id_token,
    })
}

/// Assert that consecutive arrivals are at least `min` apart, give or take `TOLERANCE`.
pub const TOLERANCE: Duration = Duration::from_millis(60);

pub fn gaps(requests: &[Recorded]) -> Vec<Duration> {
    requests
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .collect()
}

pub fn assert_min_gaps(requests: &[Recorded], min: &[Duration]) {
    let g = gaps(requests);
    assert_eq!(g.len(), min.len(), "gaps {g:?}");
    for (i, (got, want)) in g.iter().zip(min).enumerate() {
        assert!(
            *got + TOLERANCE >= *want,
            "gap {i} is {got:?}, expected at least {want:?} (all gaps {g:?})"
        );
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A scripted OP: discovery, JWKS, a backchannel endpoint that acknowledges with
/// [`AUTH_REQ_ID`], and a token endpoint answering from a queue (then `authorization_pending`).
pub struct ScriptedOp {
    pub server: TestServer,
    pub token_replies: Arc<Mutex<VecDeque<Reply>>>,
    pub bc_replies: Arc<Mutex<VecDeque<Reply>>>,
    pub discovery: Arc<Mutex<Value>>,
    pub jwks: Arc<Mutex<Value>>,
}

impl ScriptedOp {
    /// An OP whose acknowledgements carry `interval` and `expires_in` (seconds).
    pub async fn start(interval: u64, expires_in: u64) -> ScriptedOp {
        let token_replies: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let bc_replies: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let discovery = Arc::new(Mutex::new(Value::Null));
        let jwks = Arc::new(Mutex::new(public_set(&[&jwk("es256")])));
        let (t, b, d, j) = (
            token_replies.clone(),
            bc_replies.clone(),
            discovery.clone(),
            jwks.clone(),
        );
        let server = TestServer::start(move |base| {
            *d.lock().unwrap() = json!({
                "issuer": base,
                "token_endpoint": format!("{base}/token"),
                "backchannel_authentication_endpoint": format!("{base}/bc"),
                "jwks_uri": format!("{base}/jwks"),
                "backchannel_token_delivery_modes_supported": ["poll", "ping", "push"],
                "backchannel_authentication_request_signing_alg_values_supported": ["ES256", "PS256"],
                "id_token_signing_alg_values_supported": ["ES256", "EdDSA"],
                "mtls_endpoint_aliases": {
                    "token_endpoint": format!("{base}/mtls/token"),
                    "backchannel_authentication_endpoint": format!("{base}/mtls/bc"),
                },
            });
            move |r: &Recorded| match r.path.as_str() {
                "/.well-known/openid-configuration" => Reply::json(200, &d.lock().unwrap()),
                "/jwks" => Reply::json(200, &j.lock().unwrap()),
                "/bc" | "/mtls/bc" => b.lock().unwrap().pop_front().unwrap_or_else(|| {
                    Reply::json(
                        200,
                        &json!({"auth_req_id": AUTH_REQ_ID, "expires_in": expires_in,
                                "interval": interval}),
                    )
                }),
                "/token" | "/mtls/token" => t
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(Reply::pending),
                _ => Reply::error(404, "not_found"),
            }
        })
        .await;
        ScriptedOp {
            server,
            token_replies,
            bc_replies,
            discovery,
            jwks,
        }
    }

    pub fn issuer(&self) -> String {
        self.server.base.clone()
    }

    pub fn script_token(&self, replies: impl IntoIterator<Item = Reply>) {
        self.token_replies.lock().unwrap().extend(replies);
    }

    /// A 200 token response for the scripted request, signed by the OP's ES256 key.
    pub fn tokens(&self) -> Reply {
        self.tokens_signed_by(&signer("es256"), "Bearer")
    }

    pub fn tokens_signed_by(&self, signer: &dyn Signer, token_type: &str) -> Reply {
        Reply::json(
            200,
            &token_body(&self.issuer(), CLIENT_ID, AUTH_REQ_ID, signer, token_type),
        )
    }

    pub fn token_requests(&self) -> Vec<Recorded> {
        self.server.requests_to("/token")
    }

    /// A poll client (client_secret_basic) discovered from this OP.
    pub async fn client(&self, options: ClientOptions) -> CibaClient {
        self.client_with(
            ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
            DeliveryMode::Poll,
            options,
        )
        .await
    }

    pub async fn client_with(
        &self,
        auth: ClientAuth,
        mode: DeliveryMode,
        options: ClientOptions,
    ) -> CibaClient {
        let mut config = ClientConfig::new(CLIENT_ID, auth, mode);
        config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
        if mode != DeliveryMode::Poll {
            config.notification_endpoint = Some("http://127.0.0.1:9/cb".into());
        }
        CibaClient::discover(&self.issuer(), config, options)
            .await
            .unwrap()
    }
}

/// The standard authentication request of these tests.
pub fn alice() -> ciba_core::AuthRequest {
    ciba_core::AuthRequest::new(ciba_core::Hint::LoginHint("alice@example.com".into()))
        .binding_message("W4SCT")
}
