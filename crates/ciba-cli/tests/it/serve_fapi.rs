//! `ciba serve --fapi` (the binary, over https with client certificates requested) against our
//! FAPI-CIBA client (ciba-client through ciba-hyper's https transport, `Profile::FapiCiba`):
//! poll and ping with DPoP-bound tokens (`private_key_jwt`), poll and ping with
//! certificate-bound tokens (`self_signed_tls_client_auth` over mutual TLS), and refusals from
//! the profile's negative list: an unsigned authentication request, and a certificate-bound
//! client without its certificate. The device answers `--auto approve:0`; the ping clients'
//! notification receiver is ciba-hyper's, on loopback. Certificates are made with `openssl`.

#![allow(missing_docs)]

use crate::support;
use crate::tls_support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::dpop::DpopKey;
use ciba_core::jose::CompactJws;
use ciba_core::jose::hash::sha256;
use ciba_core::{AuthRequest, ClientAuth, ClientConfig, DeliveryMode, Hint, Limits, TokenType};
use ciba_hyper::tls::{client_config, client_config_with_certificate};
use ciba_hyper::{ClientOptions, HttpClient, NotificationReceiver, NotificationRegistry};
use serde_json::{Value, json};
use support::{Served, ciba, serve_at};
use tls_support::{ClientCertificate, TestCa, poll_and_ping};

use ciba_test::keys::{jwk as testdata_jwk, signer as testdata_signer};

const DPOP_POLL: &str = "fapi-dpop-poll";
const DPOP_PING: &str = "fapi-dpop-ping";
const MTLS_POLL: &str = "fapi-mtls-poll";
const MTLS_PING: &str = "fapi-mtls-ping";
const LOGIN_HINT: &str = "alice@example.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A `ciba serve --fapi` with the four FAPI clients, its CA, the client's certificate and
/// the ping clients' notification receiver (stopped with the runtime).
struct FapiServe {
    served: Served,
    ca: TestCa,
    cert: ClientCertificate,
    receiver: NotificationReceiver,
}

fn fapi_serve(rt: &tokio::runtime::Runtime) -> FapiServe {
    let ca = TestCa::new();
    let cert = ClientCertificate::new(&ca.dir);
    let receiver = rt.block_on(async {
        NotificationReceiver::serve_with(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            NotificationRegistry::new(),
            ciba_hyper::ServeOptions::default(),
        )
        .unwrap()
    });
    let mut clients = Vec::new();
    for (id, mode) in [
        (DPOP_POLL, "poll"),
        (DPOP_PING, "ping"),
        (MTLS_POLL, "poll"),
        (MTLS_PING, "ping"),
    ] {
        let mtls = id.starts_with("fapi-mtls");
        let mut keys = vec![serde_json::to_value(testdata_jwk("ps256").to_public()).unwrap()];
        let mut client = json!({
            "client_id": id,
            "grant_types": ["urn:openid:params:grant-type:ciba"],
            "backchannel_token_delivery_mode": mode,
            "backchannel_authentication_request_signing_alg": "PS256",
            "id_token_signed_response_alg": "ES256",
        });
        if mtls {
            keys.push(serde_json::to_value(&cert.jwk).unwrap());
            client["token_endpoint_auth_method"] = json!("self_signed_tls_client_auth");
            client["tls_client_certificate_bound_access_tokens"] = json!(true);
        } else {
            client["token_endpoint_auth_method"] = json!("private_key_jwt");
            client["dpop_bound_access_tokens"] = json!(true);
        }
        client["jwks"] = json!({ "keys": keys });
        if mode == "ping" {
            client["backchannel_client_notification_endpoint"] = json!(receiver.url().as_str());
        }
        clients.push(client);
    }
    let clients_file = ca.dir.join("clients.json");
    std::fs::write(&clients_file, serde_json::to_vec(&clients).unwrap()).unwrap();
    let served = serve_at(
        "127.0.0.1:0",
        &[
            "--fapi",
            "--tls-cert",
            ca.dir.join("server.pem").to_str().unwrap(),
            "--tls-key",
            ca.dir.join("server.key").to_str().unwrap(),
            "--clients",
            clients_file.to_str().unwrap(),
            "--auto",
            "approve:0",
            "--interval",
            "1",
        ],
        0,
    );
    assert!(
        served.issuer.starts_with("https://127.0.0.1:"),
        "{}",
        served.issuer
    );
    FapiServe {
        served,
        ca,
        cert,
        receiver,
    }
}

fn alice() -> AuthRequest {
    AuthRequest::new(Hint::LoginHint(LOGIN_HINT.into()))
        .scope(["openid"])
        .binding_message("FAPI-42")
}

/// Our FAPI-CIBA client for `id` over `http`.
async fn fapi_client(
    op: &FapiServe,
    http: HttpClient,
    id: &str,
    mode: DeliveryMode,
    dpop: Option<DpopKey>,
) -> ciba_hyper::CibaClient {
    tls_support::fapi_client(http, &op.served.issuer, id, mode, &op.receiver, dpop).await
}

/// One flow: a signed request, the device's approval, the tokens; returns the access
/// token's claims (`ciba serve --fapi` issues JWT access tokens) and its `token_type`.
async fn flow(
    op: &FapiServe,
    http: HttpClient,
    id: &str,
    mode: DeliveryMode,
    dpop: Option<DpopKey>,
) -> (serde_json::Map<String, Value>, TokenType) {
    let client = fapi_client(op, http, id, mode, dpop).await;
    let ack = client
        .initiate_signed(alice(), &testdata_signer("ps256"))
        .await
        .unwrap();
    let tokens = tokio::time::timeout(Duration::from_secs(30), client.wait_for_tokens(&ack))
        .await
        .expect("no tokens within 30 s")
        .unwrap();
    assert_eq!(tokens.id_token.sub, LOGIN_HINT, "{id}");
    let claims = CompactJws::parse(tokens.response.access_token.as_str(), &Limits::DEFAULT)
        .unwrap()
        .claims(&Limits::DEFAULT)
        .unwrap();
    assert_eq!(claims["iss"], op.served.issuer.as_str(), "{id}");
    (claims, tokens.response.token_type)
}

#[test]
fn fapi_serve_dpop_bound_poll_and_ping() {
    let rt = runtime();
    let op = fapi_serve(&rt);
    let key = DpopKey::from_signer(testdata_signer("es256")).unwrap();
    rt.block_on(async {
        let https = || HttpClient::https_with_config(client_config(op.ca.roots()).unwrap());
        let jkt = key.thumbprint();
        let run = async |http, id: &str, mode, dpop| flow(&op, http, id, mode, dpop).await;
        let (ids, dpop) = ([DPOP_POLL, DPOP_PING], Some(key.clone()));
        poll_and_ping(ids, https, dpop, TokenType::DPoP, ("jkt", jkt), run).await;
    });
}

#[test]
fn fapi_serve_certificate_bound_poll_and_ping() {
    let rt = runtime();
    let op = fapi_serve(&rt);
    let x5t = URL_SAFE_NO_PAD.encode(sha256(op.cert.chain[0].as_ref()).unwrap());
    rt.block_on(async {
        let mutual_tls = || {
            let (chain, key) = (op.cert.chain.clone(), op.cert.key.clone_key());
            HttpClient::https_with_config(
                client_config_with_certificate(op.ca.roots(), chain, key).unwrap(),
            )
        };
        let cnf = ("x5t#S256", x5t.as_str());
        let run = async |http, id: &str, mode, dpop| flow(&op, http, id, mode, dpop).await;
        let ids = [MTLS_POLL, MTLS_PING];
        poll_and_ping(ids, mutual_tls, None, TokenType::Bearer, cnf, run).await;
    });
}

#[test]
fn fapi_serve_refuses_unsigned_requests_and_clients_without_their_certificate() {
    let rt = runtime();
    let op = fapi_serve(&rt);
    rt.block_on(async {
        // An unsigned authentication request (built without the FAPI profile, whose guard
        // would refuse to send it): invalid_request.
        let http = HttpClient::https_with_config(client_config(op.ca.roots()).unwrap());
        let config = ClientConfig::new(
            DPOP_POLL,
            ClientAuth::private_key_jwt(testdata_signer("ps256")),
            DeliveryMode::Poll,
        );
        let client = ciba_hyper::CibaClient::discover(
            http,
            &op.served.issuer,
            config,
            ClientOptions::default(),
        )
        .await
        .unwrap();
        let err = client.initiate(alice()).await.unwrap_err();
        assert!(err.to_string().contains("invalid_request"), "{err}");
        // The same request signed is accepted: the refusal was for the missing signature.
        client
            .initiate_signed(alice(), &testdata_signer("ps256"))
            .await
            .unwrap();

        // A certificate-bound client over TLS without its certificate: invalid_client.
        let no_certificate = HttpClient::https_with_config(client_config(op.ca.roots()).unwrap());
        let client = fapi_client(&op, no_certificate, MTLS_POLL, DeliveryMode::Poll, None).await;
        let err = client
            .initiate_signed(alice(), &testdata_signer("ps256"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("invalid_client"), "{err}");
    });
}

#[test]
fn fapi_without_tls_files_or_clients_is_a_usage_error() {
    for args in [
        vec!["serve", "--addr", "127.0.0.1:0", "--fapi"],
        vec![
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--fapi",
            "--clients",
            "clients.json",
        ],
        vec![
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--fapi",
            "--tls-cert",
            "op.pem",
            "--tls-key",
            "op.key",
        ],
    ] {
        let out = ciba().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("required"), "{args:?}: {stderr}");
    }
}
