//! A whole CIBA flow through each example, on loopback port 0.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use std::time::Duration;

use ciba_core::ErrorCode;
use ciba_core::poll::PollError;
use ciba_examples::axum_as::{self, AxumAs};
use ciba_examples::provider::{CLIENT_SECRET, POLL_CLIENT, PUSH_CLIENT};
use ciba_examples::push_rp;
use ciba_examples::rp_reqwest::{self, SignIn};
use ciba_examples::token_endpoint::{self, SERVICE_CLIENT, SERVICE_SECRET};
use serde_json::Value;
use tokio::net::TcpListener;

async fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

fn sign_in_as_alice(issuer: &str) -> SignIn {
    SignIn {
        issuer: issuer.to_owned(),
        client_id: POLL_CLIENT.into(),
        client_secret: CLIENT_SECRET.into(),
        login_hint: "alice@example.com".into(),
        binding_message: "W4-SCT".into(),
        allow_http_loopback: true,
    }
}

/// The user's app: the device API of the axum example.
struct Device {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Device {
    fn of(server: &AxumAs, subject: &str) -> Device {
        Device {
            http: reqwest::Client::new(),
            base: server.app.base_url(),
            token: server.devices.token_of(subject).unwrap().to_owned(),
        }
    }

    async fn pending(&self) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/device/pending", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let list: Value = response.json().await.unwrap();
        list.as_array().unwrap().clone()
    }

    /// The first request that shows up, within 10 s.
    async fn wait_for_request(&self) -> Value {
        for _ in 0..200 {
            if let Some(first) = self.pending().await.into_iter().next() {
                return first;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no request reached the device");
    }

    async fn decide(&self, auth_req_id: &str, decision: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!(
                "{}/device/requests/{auth_req_id}/{decision}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn axum_as_serves_ciba_under_its_prefix_beside_its_own_routes() {
    let server = axum_as::serve(loopback().await, None).await.unwrap();
    let base = server.app.base_url();
    let http = reqwest::Client::new();

    // The application's own page, and discovery under /oauth with the full public URLs.
    let home = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("own page"));
    let doc: Value = http
        .get(format!("{base}/oauth/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], format!("{base}/oauth"));
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(
        doc["backchannel_authentication_endpoint"],
        format!("{base}/oauth/bc")
    );
    let jwks = http.get(format!("{base}/oauth/jwks")).send().await.unwrap();
    assert_eq!(jwks.status(), 200);
    // Outside the prefix the CIBA paths are not served.
    let outside = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await;
    assert_eq!(outside.unwrap().status(), 404);

    // The device API wants the user's device token.
    let anonymous = http
        .get(format!("{base}/device/pending"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A whole flow: the RP polls while alice approves on her device.
    let issuer = server.endpoints.issuer.clone();
    let rp = tokio::spawn(async move {
        let http = rp_reqwest::application_client().unwrap();
        rp_reqwest::sign_in(http, &sign_in_as_alice(&issuer)).await
    });
    let alice = Device::of(&server, "alice");
    let request = alice.wait_for_request().await;
    assert_eq!(request["client_id"], POLL_CLIENT);
    assert_eq!(request["binding_message"], "W4-SCT");
    let auth_req_id = request["auth_req_id"].as_str().unwrap();
    // Bob's device neither lists nor approves alice's request.
    let bob = Device::of(&server, "bob");
    assert!(bob.pending().await.is_empty());
    assert_eq!(bob.decide(auth_req_id, "approve").await.0, 404);
    let (status, body) = alice.decide(auth_req_id, "approve").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recorded"], "approved");

    let tokens = rp.await.unwrap().unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(tokens.id_token.iss, server.endpoints.issuer);
    assert!(alice.pending().await.is_empty());
    server.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn rp_reqwest_learns_of_a_denial_through_its_own_client() {
    let server = axum_as::serve(loopback().await, None).await.unwrap();
    let issuer = server.endpoints.issuer.clone();
    let rp = tokio::spawn(async move {
        let http = rp_reqwest::application_client().unwrap();
        rp_reqwest::sign_in(http, &sign_in_as_alice(&issuer)).await
    });
    let alice = Device::of(&server, "alice");
    let request = alice.wait_for_request().await;
    let (status, body) = alice
        .decide(request["auth_req_id"].as_str().unwrap(), "deny")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["recorded"], "denied");
    let result = rp.await.unwrap();
    assert!(
        matches!(
            result.as_ref().map_err(ciba_reqwest::Error::poll_error),
            Err(Some(PollError::AccessDenied(_)))
        ),
        "{result:?}"
    );

    // An unknown user is refused at the backchannel endpoint.
    let mut unknown = sign_in_as_alice(&server.endpoints.issuer);
    unknown.login_hint = "mallory@example.com".into();
    let http = rp_reqwest::application_client().unwrap();
    match rp_reqwest::sign_in(http, &unknown).await {
        Err(ciba_reqwest::Error::Core(ciba_core::Error::OAuth(e))) => {
            assert_eq!(e.code, ErrorCode::UnknownUserId);
        }
        other => panic!("{other:?}"),
    }
    server.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn existing_token_endpoint_keeps_its_grants_and_answers_the_ciba_grant() {
    let server = token_endpoint::serve(loopback().await).await.unwrap();
    let base = server.app.base_url();
    let http = reqwest::Client::new();
    let token_endpoint = format!("{base}/token");

    let doc: Value = http
        .get(format!("{base}/oauth/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["token_endpoint"], token_endpoint);
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(
        grants.contains(&Value::from("client_credentials")),
        "{grants:?}"
    );
    assert!(
        grants.contains(&Value::from(ciba_server::CIBA_GRANT_TYPE)),
        "{grants:?}"
    );

    // The application's own grant, with its own client.
    let form = |secret: &str, grant: &str| {
        ciba_core::wire::encode_form([
            ("grant_type", grant),
            ("client_id", SERVICE_CLIENT),
            ("client_secret", secret),
        ])
    };
    let post = |body: Vec<u8>| {
        http.post(&token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let granted = post(form(SERVICE_SECRET, "client_credentials"))
        .await
        .unwrap();
    assert_eq!(granted.status(), 200);
    let body: Value = granted.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().len() >= 27);
    let wrong = post(form("not-the-secret", "client_credentials"))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let other = post(form(SERVICE_SECRET, "password")).await.unwrap();
    assert_eq!(other.status(), 400);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    // A body over ciba-server's cap gets its JSON 413.
    let huge = post(vec![b'x'; 128 * 1024]).await.unwrap();
    assert_eq!(huge.status(), 413);
    let body: Value = huge.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    // The CIBA service does not answer at /oauth/token: the application's endpoint does.
    let nested = http
        .post(format!("{base}/oauth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(nested.status(), 404);

    // The CIBA grant through the application's endpoint: a whole poll flow.
    let tokens = rp_reqwest::sign_in(
        rp_reqwest::application_client().unwrap(),
        &sign_in_as_alice(&server.endpoints.issuer),
    )
    .await
    .unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert!(!tokens.response.access_token.is_empty());
    server.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn push_rp_receives_the_tokens_at_its_axum_route() {
    let rp = push_rp::serve(loopback().await).unwrap();
    let http = reqwest::Client::new();
    let home = http
        .get(format!("{}/", rp.app.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    // A notification without the bearer token is refused before its body is read.
    let anonymous = http
        .post(rp.notification_endpoint())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let server = axum_as::serve(loopback().await, Some(&rp.notification_endpoint()))
        .await
        .unwrap();
    let issuer = server.endpoints.issuer.clone();
    let alice = Device::of(&server, "alice");
    let (tokens, ()) = tokio::join!(
        rp.sign_in(
            &issuer,
            PUSH_CLIENT,
            CLIENT_SECRET,
            "alice@example.com",
            true
        ),
        async {
            let request = alice.wait_for_request().await;
            assert_eq!(request["client_id"], PUSH_CLIENT);
            let (status, body) = alice
                .decide(request["auth_req_id"].as_str().unwrap(), "approve")
                .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["notification_delivered"], true, "{body}");
        }
    );
    let tokens = tokens.unwrap();
    assert_eq!(tokens.id_token.sub, "alice");
    assert_eq!(tokens.id_token.iss, issuer);
    server.app.shutdown().await.unwrap();
    rp.app.shutdown().await.unwrap();
}
