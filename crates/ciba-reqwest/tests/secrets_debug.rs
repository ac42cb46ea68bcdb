//! No secret, token or credential in the `Debug` (or `Display`) output of ciba-reqwest's public
//! types: the client and its options (client secret, mTLS identity, DPoP key), token waits,
//! tokens, notification outcomes and events, and errors (docs/security.md, "Secrets").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use ciba_core::dpop::DpopKey;
use ciba_core::{ClientAuth, ClientSecret, DeliveryMode};
use ciba_reqwest::{ClientOptions, NotificationEvent};
use common::*;
use serde_json::json;

/// A self-signed P-256 client certificate and its key, for `ClientOptions::identity`.
const IDENTITY_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUKRRRNsz9UFFRKBPD5V7e/1N8hskwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQY2liYS10ZXN0LWNsaWVudDAgFw0yNjExMjIwOTA3NDhaGA8y
MTI2MTAyOTA5MDc0OFowGzEZMBcGA1UEAwwQY2liYS10ZXN0LWNsaWVudDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABPf3/7odFQUgoB7Fg7U6I4phPm4QiqmHDmSh
2XA4SBHY6ik4bVf3IlPkatJNlqAuebCSBu0Kaoc3va3F31iHw2qjUzBRMB0GA1Ud
DgQWBBT/CpDsiHy+IiHD8h1n+DrlFeYayzAfBgNVHSMEGDAWgBT/CpDsiHy+IiHD
8h1n+DrlFeYayzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDV
04hkDZ80WqFQKFK0n7OFqMNwXi3sW29bAmgQ3RqYIAIgIPGyfAav8pu7XXsbTzNR
82cp/G7B8SViSEh+d3wCCNM=
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgl9naNIraIZE3Q9VD
nwWaHLUZw0KjthSNa/oD7htTAaChRANCAAT39/+6HRUFIKAexYO1OiOKYT5uEIqp
hw5kodlwOEgR2OopOG1X9yJT5GrSTZagLnmwkgbtCmqHN72txd9Yh8Nq
-----END PRIVATE KEY-----
";

/// Pieces of the private key above (the scalar sits in the first two lines).
const KEY_PARTS: [&str; 2] = ["l9naNIraIZE3Q9VD", "nwWaHLUZw0KjthSNa"];

const CNT: &str = "SECRET-notification-token-c0ffee";

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
    }
}

/// The auth_req_id beyond the 4 characters `AuthReqId`'s `Debug` may show.
fn hidden_id() -> &'static str {
    &AUTH_REQ_ID[4..]
}

#[tokio::test]
async fn client_and_options_never_print_the_secret_the_identity_or_the_dpop_key() {
    let op = ScriptedOp::start(1, 60).await;
    let es256 = jwk("es256");
    let d = es256.d.as_deref().unwrap().clone();
    let mut secrets = vec![CLIENT_SECRET, d.as_str()];
    secrets.extend(KEY_PARTS);

    let identity = reqwest::Identity::from_pem(IDENTITY_PEM.as_bytes()).unwrap();
    let dpop = DpopKey::new(Arc::new(signer("es256"))).unwrap();
    let options = ClientOptions::default()
        .identity(identity)
        .dpop(dpop)
        .rng(Arc::new(ciba_core::random::OsRandom));
    assert_hidden("ClientOptions", &format!("{options:?}"), &secrets);
    assert_hidden("ClientOptions {:#?}", &format!("{options:#?}"), &secrets);

    for auth in [
        ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET)),
        ClientAuth::SecretPost(ClientSecret::new(CLIENT_SECRET)),
        ClientAuth::secret_jwt(
            ciba_core::jose::JwsAlgorithm::HS256,
            &ClientSecret::new(CLIENT_SECRET),
        )
        .unwrap(),
    ] {
        let client = op
            .client_with(auth, DeliveryMode::Poll, options.clone())
            .await;
        assert_hidden("CibaClient", &format!("{client:?}"), &secrets);
        assert_hidden("CibaClient {:#?}", &format!("{client:#?}"), &secrets);
    }
}

#[tokio::test]
async fn waits_tokens_and_notifications_never_print_tokens() {
    let op = ScriptedOp::start(1, 60).await;
    let client = op.client(ClientOptions::default()).await;
    let ack = client.initiate(alice()).await.unwrap();
    let base = [CLIENT_SECRET, CNT, AUTH_REQ_ID, hidden_id()];
    assert_hidden("AuthRequestAck", &format!("{ack:?}"), &base);
    let wait = client.wait_for_tokens(&ack);
    assert_hidden("TokenWait", &format!("{wait:?}"), &base);
    drop(wait);

    op.script_token([op.tokens()]);
    let tokens = client.poll(&ack).await.unwrap();
    let access = tokens.response.access_token.clone();
    let id_token = tokens.response.id_token.clone().unwrap();
    let mut secrets = base.to_vec();
    secrets.extend([access.as_str(), id_token.as_str()]);
    assert_hidden("ValidatedTokens", &format!("{tokens:?}"), &secrets);

    // A push delivery of the same kind of tokens, and a ping, through the client.
    let mut body = token_body(
        &op.issuer(),
        CLIENT_ID,
        AUTH_REQ_ID,
        &signer("es256"),
        "Bearer",
    );
    body["auth_req_id"] = json!(AUTH_REQ_ID);
    let pushed_access = body["access_token"].as_str().unwrap().to_owned();
    let pushed_id_token = body["id_token"].as_str().unwrap().to_owned();
    secrets.extend([pushed_access.as_str(), pushed_id_token.as_str()]);
    let lookup = |id: &str| (id == AUTH_REQ_ID).then(|| CNT.to_owned());
    let request = |body: &serde_json::Value| {
        http::Request::post("https://client.example/cb")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {CNT}"))
            .body(body.to_string().into_bytes())
            .unwrap()
    };

    let pushed = client.receive_push(&request(&body), &lookup).await.unwrap();
    assert_eq!(pushed.response.status(), 204, "{:?}", pushed.result);
    assert_hidden("push outcome", &format!("{pushed:?}"), &secrets);
    let event = NotificationEvent::from(pushed.result.unwrap());
    assert_hidden("NotificationEvent::Push", &format!("{event:?}"), &secrets);

    let pinged = client.receive_ping(&request(&json!({"auth_req_id": AUTH_REQ_ID})), &lookup);
    assert_eq!(pinged.response.status(), 204);
    assert_hidden("ping outcome", &format!("{pinged:?}"), &secrets);
    let event = NotificationEvent::from(pinged.result.unwrap());
    assert_hidden("NotificationEvent::Ping", &format!("{event:?}"), &secrets);

    // A refused notification: the error and the 401 name neither token.
    let wrong = client.receive_ping(
        &http::Request::post("https://client.example/cb")
            .header("content-type", "application/json")
            .header("authorization", "Bearer SECRET-a-guessed-token")
            .body(json!({"auth_req_id": AUTH_REQ_ID}).to_string().into_bytes())
            .unwrap(),
        &lookup,
    );
    let refusal = wrong.result.unwrap_err();
    secrets.push("SECRET-a-guessed-token");
    assert_hidden("refusal", &format!("{refusal} {refusal:?}"), &secrets);
    assert_hidden("401", &format!("{:?}", wrong.response), &secrets);
}

#[tokio::test]
async fn errors_never_print_the_client_secret() {
    // The OP refuses the client: the error keeps the OP's answer, never the credentials sent.
    let op = ScriptedOp::start(1, 60).await;
    op.bc_replies.lock().unwrap().push_back(Reply::json(
        401,
        &json!({"error": "invalid_client", "error_description": "bad secret"}),
    ));
    let client = op.client(ClientOptions::default()).await;
    let e = client.initiate(alice()).await.unwrap_err();
    assert_hidden("Error", &format!("{e} {e:?}"), &[CLIENT_SECRET, CNT]);
    // A failed poll ends with the core's PollError, which names no token.
    op.script_token([Reply::error(400, "access_denied")]);
    let ack = client.initiate(alice()).await.unwrap();
    let e = client.poll(&ack).await.unwrap_err();
    assert_hidden(
        "poll Error",
        &format!("{e} {e:?}"),
        &[CLIENT_SECRET, AUTH_REQ_ID, hidden_id()],
    );
}
