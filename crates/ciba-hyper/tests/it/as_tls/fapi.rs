//! A FAPI-CIBA client (ours: ciba-client over this crate's https transport) against a
//! FAPI-CIBA authorization server served over https with client certificates requested: poll
//! and ping flows with DPoP-bound tokens (`private_key_jwt`) and with certificate-bound tokens
//! (`self_signed_tls_client_auth`, a client certificate made for the test), over real TLS
//! handshakes on loopback.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::EndpointPolicy;
use ciba_core::dpop::DpopKey;
use ciba_core::jose::hash::sha256;
use ciba_core::jose::{CompactJws, Jwk, JwkSet, JwsAlgorithm, Signer};
use ciba_core::{
    AuthRequest, ClientAuth, ClientConfig, DeliveryMode, Hint, Limits, Profile, TokenType,
};
use ciba_hyper::server::tls::{ClientCertificates, server_config};
use ciba_hyper::server::{AuthorizationServer, NotificationDeliverer};
use ciba_hyper::tls::{client_config, client_config_with_certificate, rustls};
use ciba_hyper::{
    ClientOptions, HttpClient, NotificationReceiver, NotificationRegistry, RunningServer,
};
use ciba_server::{
    AccessTokenFormat, AuthMethod, AuthenticationResult, Authorization, CIBA_GRANT_TYPE,
    CibaServer, ClientMetadata, DefaultTokenMinter, EgressPolicy, MemoryStore, ServerConfig,
    SigningKeySet, StaticClientRegistry,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use tokio::net::TcpListener;

use super::support::{ClientCertificate, TestCa, fapi_client, poll_and_ping};
use crate::common::{TestHooks, secs};

use ciba_test::keys::{jwk as testdata_jwk, signer as testdata_signer};

const DPOP_POLL: &str = "fapi-dpop-poll";
const DPOP_PING: &str = "fapi-dpop-ping";
const MTLS_POLL: &str = "fapi-mtls-poll";
const MTLS_PING: &str = "fapi-mtls-ping";

struct FapiAs {
    issuer: String,
    server: RunningServer,
    service: AuthorizationServer,
    receiver: NotificationReceiver,
}

async fn fapi_as(ca: &TestCa, client_jwk: &Jwk) -> FapiAs {
    let receiver = NotificationReceiver::serve_with(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        NotificationRegistry::new(),
        ciba_hyper::ServeOptions::default(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    // https endpoints; the notification receiver stays plain http on loopback (opt-in).
    let mut config = ServerConfig::with_policy(
        issuer.clone(),
        format!("{issuer}/token"),
        format!("{issuer}/bc"),
        EndpointPolicy::ALLOW_HTTP_LOOPBACK,
    )
    .unwrap()
    .fapi_ciba()
    .unwrap();
    config.jwks_uri = Some(format!("{issuer}/jwks"));
    config.interval = 1;
    // FAPI ID tokens are PS256 or ES256; every key set also has RS256.
    config.id_token_signing_algs = vec![JwsAlgorithm::RS256, JwsAlgorithm::ES256];
    // The ping clients' receiver listens on loopback: an explicit opt-in.
    config.egress_policy = EgressPolicy::allow_loopback();
    let mut registry = StaticClientRegistry::new();
    for (id, mode) in [
        (DPOP_POLL, DeliveryMode::Poll),
        (DPOP_PING, DeliveryMode::Ping),
        (MTLS_POLL, DeliveryMode::Poll),
        (MTLS_PING, DeliveryMode::Ping),
    ] {
        let mut m = ClientMetadata::new(id);
        let mtls = id.starts_with("fapi-mtls");
        let mut keys = vec![testdata_jwk("ps256").to_public()];
        if mtls {
            m.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth;
            m.tls_client_certificate_bound_access_tokens = true;
            keys.push(client_jwk.clone());
        } else {
            m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
            m.dpop_bound_access_tokens = true;
        }
        m.jwks = Some(JwkSet { keys });
        m.backchannel_authentication_request_signing_alg = Some("PS256".into());
        m.id_token_signed_response_alg = Some("ES256".into());
        m.grant_types = vec![CIBA_GRANT_TYPE.into()];
        m.backchannel_token_delivery_mode = Some(mode);
        if mode == DeliveryMode::Ping {
            m.backchannel_client_notification_endpoint = Some(receiver.url().to_string());
        }
        registry.register(m, &config).unwrap();
    }
    let keys = SigningKeySet::new([
        Arc::new(testdata_signer("rs256")) as Arc<dyn Signer>,
        Arc::new(testdata_signer("es256")),
    ])
    .unwrap();
    let mut minter = DefaultTokenMinter::new(Arc::new(keys));
    minter.access_token_format = AccessTokenFormat::Jwt {
        audience: "https://api.example".into(),
    };
    let server = CibaServer::new(
        config,
        Arc::new(registry),
        Arc::new(MemoryStore::new()),
        Arc::new(minter),
    );
    let service = AuthorizationServer::builder(server, TestHooks)
        .deliverer(
            NotificationDeliverer::plain_http(EgressPolicy::allow_loopback()).timeout(secs(2)),
        )
        .build();
    let chain = CertificateDer::pem_file_iter(ca.dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(ca.dir.join("server.key")).unwrap();
    let tls = server_config(chain, key, ClientCertificates::SelfSigned).unwrap();
    let server = service.clone().serve_tls(listener, Arc::new(tls)).unwrap();
    FapiAs {
        issuer,
        server,
        service,
        receiver,
    }
}

fn alice() -> AuthRequest {
    AuthRequest::new(Hint::LoginHint("alice@example.com".into()))
        .scope(["openid"])
        .binding_message("FAPI-42")
}

/// One flow: a signed request, the user's approval, the tokens; returns the access token's
/// claims and its `token_type`.
async fn flow(
    op: &FapiAs,
    http: HttpClient,
    id: &str,
    mode: DeliveryMode,
    dpop: Option<DpopKey>,
) -> (serde_json::Map<String, Value>, TokenType) {
    let client = fapi_client(http, &op.issuer, id, mode, &op.receiver, dpop).await;
    let ack = client
        .initiate_signed(alice(), &testdata_signer("ps256"))
        .await
        .unwrap();
    let approval = AuthenticationResult::Authorized(Authorization::new("alice"));
    op.service
        .handle()
        .complete(&crate::common::sid(ack.auth_req_id.as_str()), approval)
        .await
        .unwrap();
    let tokens = client.wait_for_tokens(&ack).await.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    let at = tokens.response.access_token.as_str();
    let claims = CompactJws::parse(at, &Limits::DEFAULT)
        .unwrap()
        .claims(&Limits::DEFAULT)
        .unwrap();
    (claims, tokens.response.token_type)
}

/// Poll and ping with DPoP-bound tokens over https.
pub async fn dpop_bound_flows() {
    let ca = TestCa::new();
    let cert = ClientCertificate::new(&ca.dir);
    let op = fapi_as(&ca, &cert.jwk).await;
    let key = DpopKey::from_signer(testdata_signer("es256")).unwrap();
    let https = || HttpClient::https_with_config(client_config(ca.roots()).unwrap());
    let jkt = key.thumbprint();
    let run = async |http, id: &str, mode, dpop| flow(&op, http, id, mode, dpop).await;
    let (ids, dpop) = ([DPOP_POLL, DPOP_PING], Some(key.clone()));
    poll_and_ping(ids, https, dpop, TokenType::DPoP, ("jkt", jkt), run).await;
    op.server.shutdown().await;
    op.receiver.shutdown().await;
}

/// Poll and ping with certificate-bound tokens over mutual TLS.
pub async fn certificate_bound_flows() {
    let ca = TestCa::new();
    let cert = ClientCertificate::new(&ca.dir);
    let op = fapi_as(&ca, &cert.jwk).await;
    let x5t = URL_SAFE_NO_PAD.encode(sha256(cert.chain[0].as_ref()).unwrap());
    let mutual_tls = || {
        let tls =
            client_config_with_certificate(ca.roots(), cert.chain.clone(), cert.key.clone_key());
        HttpClient::https_with_config(tls.unwrap())
    };
    let cnf = ("x5t#S256", x5t.as_str());
    let run = async |http, id: &str, mode, dpop| flow(&op, http, id, mode, dpop).await;
    let ids = [MTLS_POLL, MTLS_PING];
    poll_and_ping(ids, mutual_tls, None, TokenType::Bearer, cnf, run).await;
    op.server.shutdown().await;
    op.receiver.shutdown().await;
}

/// The self-signed mTLS poll client, over `http`, is refused with `invalid_client`.
async fn assert_refused(op: &FapiAs, http: HttpClient) {
    let mut config = ClientConfig::new(
        MTLS_POLL,
        ClientAuth::SelfSignedTlsClientAuth,
        DeliveryMode::Poll,
    );
    config.profile = Profile::FapiCiba;
    let client =
        ciba_hyper::CibaClient::discover(http, &op.issuer, config, ClientOptions::default())
            .await
            .unwrap();
    let err = client
        .initiate_signed(alice(), &testdata_signer("ps256"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

/// A self-signed mTLS client without its certificate, or with another one, is refused.
pub async fn refused_without_its_certificate() {
    let ca = TestCa::new();
    let cert = ClientCertificate::new(&ca.dir);
    let op = fapi_as(&ca, &cert.jwk).await;
    let http = HttpClient::https_with_config(client_config(ca.roots()).unwrap());
    assert_refused(&op, http).await;
    // Another certificate (the server's own key is not registered) is refused too.
    let other = client_config_with_certificate(
        ca.roots(),
        CertificateDer::pem_file_iter(ca.dir.join("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap(),
        PrivateKeyDer::from_pem_file(ca.dir.join("server.key")).unwrap(),
    )
    .unwrap();
    assert_refused(&op, HttpClient::https_with_config(other)).await;
    op.server.shutdown().await;
    op.receiver.shutdown().await;
}
