//! An https notification endpoint for the TLS tests: a test CA and a certificate for
//! `localhost` / 127.0.0.1 made with the `openssl` command (the `services` module's
//! `make_certificates`), served by tokio-rustls and hyper (HTTP/2 or HTTP/1.1 by ALPN),
//! recording what it receives and answering a fixed status.
//!
//! Used by ciba-hyper's deliverer tests and ciba-cli's `ciba serve` tests. Needs a tokio
//! runtime with I/O enabled.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use ciba_core::dpop::DpopKey;
use ciba_core::jose::Jwk;
use ciba_core::{ClientAuth, ClientConfig, DeliveryMode, EndpointPolicy, Profile, TokenType};
use ciba_hyper::{CibaClient, ClientOptions, HttpClient, NotificationReceiver};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use ciba_hyper::tls::rustls;

use crate::services;

/// A client's self-signed P-256 certificate and key, and its public key as a JWK.
pub struct ClientCertificate {
    /// The certificate (`/CN=fapi-client`), alone in its chain.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
    /// Its public key (the last 64 bytes of the SubjectPublicKeyInfo: x then y).
    pub jwk: Jwk,
}

impl ClientCertificate {
    /// A new certificate and key, made with `openssl` in `dir` (`client.pem`, `client.key`).
    ///
    /// # Panics
    /// When `openssl` fails: the test cannot run.
    pub fn new(dir: &Path) -> ClientCertificate {
        let made = services::new_p256_key(
            dir,
            &["-x509"],
            "client.key",
            &[
                "-out",
                "client.pem",
                "-days",
                "2",
                "-subj",
                "/CN=fapi-client",
            ],
        )
        .and_then(|()| {
            services::openssl(
                dir,
                &[
                    "pkey",
                    "-in",
                    "client.key",
                    "-pubout",
                    "-outform",
                    "DER",
                    "-out",
                    "client.spki",
                ],
            )
        });
        made.unwrap_or_else(|e| panic!("client certificate: {e}"));
        let spki = std::fs::read(dir.join("client.spki")).unwrap();
        let point = &spki[spki.len() - 64..];
        ClientCertificate {
            chain: CertificateDer::pem_file_iter(dir.join("client.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap(),
            key: PrivateKeyDer::from_pem_file(dir.join("client.key")).unwrap(),
            jwk: Jwk {
                kty: "EC".into(),
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&point[..32])),
                y: Some(URL_SAFE_NO_PAD.encode(&point[32..])),
                ..Jwk::default()
            },
        }
    }
}

/// The FAPI-CIBA test client `id` of the authorization server `issuer`, over `http`, found
/// by discovery. A `fapi-mtls-*` client authenticates with its self-signed certificate, any
/// other with `private_key_jwt` over the test key `ps256`. A ping client is notified at
/// `receiver` (plain http on loopback, the development opt-in); with `dpop`, the tokens are
/// bound to that key.
///
/// # Panics
/// When discovery fails.
pub async fn fapi_client(
    http: HttpClient,
    issuer: &str,
    id: &str,
    mode: DeliveryMode,
    receiver: &NotificationReceiver,
    dpop: Option<DpopKey>,
) -> CibaClient {
    let auth = if id.starts_with("fapi-mtls") {
        ClientAuth::SelfSignedTlsClientAuth
    } else {
        ClientAuth::private_key_jwt(crate::keys::signer("ps256"))
    };
    let mut config = ClientConfig::new(id, auth, mode);
    config.profile = Profile::FapiCiba;
    config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
    if mode == DeliveryMode::Ping {
        config.notification_endpoint = Some(receiver.url().to_string());
    }
    let mut options = ClientOptions::default().notifications(receiver.registry().clone());
    if let Some(key) = dpop {
        options = options.dpop(key);
    }
    CibaClient::discover(http, issuer, config, options)
        .await
        .unwrap()
}

/// What one FAPI flow gives: the access token's claims and its `token_type`.
pub type FlowTokens = (serde_json::Map<String, serde_json::Value>, TokenType);

/// Runs `flow` (over `http`, for client `id` in `mode`, with `dpop`) for the poll and the
/// ping client of `ids`, each over a new `http()`, and checks the tokens are of
/// `token_type` and bound as `cnf` says (the member of the `cnf` claim, its value).
pub async fn poll_and_ping(
    ids: [&str; 2],
    http: impl Fn() -> HttpClient,
    dpop: Option<DpopKey>,
    token_type: TokenType,
    (member, value): (&str, &str),
    flow: impl AsyncFn(HttpClient, &str, DeliveryMode, Option<DpopKey>) -> FlowTokens,
) {
    for (id, mode) in ids
        .into_iter()
        .zip([DeliveryMode::Poll, DeliveryMode::Ping])
    {
        let (claims, got) = flow(http(), id, mode, dpop.clone()).await;
        assert_eq!(got, token_type, "{id}");
        assert_eq!(claims["cnf"][member], value, "{id}");
    }
}

/// A directory holding `ca.pem`, `server.pem` and `server.key`, removed on drop.
#[derive(Debug)]
pub struct TestCa {
    /// The directory.
    pub dir: PathBuf,
}

impl TestCa {
    /// A fresh CA and server certificate in a new directory under the system's temporary one.
    ///
    /// # Panics
    /// When the directory cannot be made or `openssl` fails: the test cannot run.
    #[allow(clippy::new_without_default)]
    pub fn new() -> TestCa {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ciba-hyper-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        services::make_certificates(&dir).unwrap_or_else(|e| panic!("test CA: {e}"));
        TestCa { dir }
    }

    /// The CA certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Roots that trust this CA only.
    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.ca_file()).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        roots
    }

    fn server_config(&self) -> rustls::ServerConfig {
        let certs = CertificateDer::pem_file_iter(self.dir.join("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.dir.join("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The HTTP version it came over.
    pub version: http::Version,
    /// Its `Authorization` header (empty when absent).
    pub authorization: String,
    /// Its body as JSON (`null` when it is not JSON).
    pub body: serde_json::Value,
}

/// The https endpoint, stopped on drop.
pub struct TlsEndpoint {
    /// `https://localhost:{port}/cb`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl TlsEndpoint {
    /// Serves `ca`'s server certificate on a free loopback port, answering `status`.
    pub async fn start(ca: &TestCa, status: u16) -> TlsEndpoint {
        TlsEndpoint::start_with(ca.server_config(), status).await
    }

    async fn start_with(config: rustls::ServerConfig, status: u16) -> TlsEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    // A client that refuses our certificate ends here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let record = Arc::clone(&record);
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body.collect().await?.to_bytes();
                                record.lock().unwrap().push(Seen {
                                    version: parts.version,
                                    authorization: parts
                                        .headers
                                        .get("authorization")
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or_default()
                                        .to_owned(),
                                    body: serde_json::from_slice(&body)
                                        .unwrap_or(serde_json::Value::Null),
                                });
                                let mut answer = http::Response::new(Full::new(Bytes::new()));
                                *answer.status_mut() = http::StatusCode::from_u16(status).unwrap();
                                Ok::<_, hyper::Error>(answer)
                            }
                        });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsEndpoint {
            url: format!("https://localhost:{port}/cb"),
            seen,
            task,
        }
    }

    /// What it received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TlsEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}
