//! No secret, token or credential in the `Debug` (or `Display`) output of ciba-hyper's public
//! types: the receiver and its registry, transport errors (credentials in a URL), and the
//! authorization-server side (pending requests, deliveries) (docs/security.md, "Secrets"). The
//! client's types are ciba-client's, tested there through both transports.

#[cfg(feature = "server")]
use crate::common;

use std::time::SystemTime;

use ciba_core::random::OsRandom;
use ciba_hyper::{HttpClient, NotificationReceiver};

const QUERY_SECRET: &str = "SECRET-query-token-91a7";
const URL_PASSWORD: &str = "SECRET-url-password-0b1e";

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
    }
}

fn all() -> Vec<&'static str> {
    vec![QUERY_SECRET, URL_PASSWORD]
}

#[tokio::test]
async fn receivers_and_transport_errors_never_print_credentials() {
    let receiver = NotificationReceiver::bind("127.0.0.1:0").await.unwrap();
    assert_hidden("NotificationReceiver", &format!("{receiver:?}"), &all());
    let request = http::Request::get(format!(
        "http://user:{URL_PASSWORD}@127.0.0.1:9/cb?token={QUERY_SECRET}"
    ))
    .body(Vec::new())
    .unwrap();
    let e = HttpClient::http().send(request).await.unwrap_err();
    assert_hidden("Error", &format!("{e} {e:?}"), &all());
}

#[cfg(feature = "server")]
#[tokio::test]
async fn authorization_server_pending_requests_and_deliveries_never_print_secrets() {
    use ciba_core::DeliveryMode;
    use ciba_hyper::server::NotificationDeliverer;
    use ciba_server::{AuthenticationResult, Authorization, CompleteOutcome};
    use common::*;

    let env = TestAs::start().await;
    assert_hidden("AuthorizationServer", &format!("{:?}", env.service), &all());
    assert_hidden("AsHandle", &format!("{:?}", env.handle), &all());
    let client = env.client(DeliveryMode::Ping).await;
    let ack = client.initiate(alice()).await.unwrap();
    let id = ack.auth_req_id.as_str().to_owned();
    // ciba-server's AuthReqId Debug shows no character of the id, only its length: not
    // even a prefix (8 characters, long enough not to appear by chance).
    let tail = &id[4..];
    let secrets = [SECRET, &id[..8], tail];
    let pending = env.pending().await;
    assert_eq!(pending.len(), 1);
    assert_hidden("PendingRequest", &format!("{pending:?}"), &secrets);
    assert_hidden("PendingRequest {:#?}", &format!("{pending:#?}"), &secrets);

    // The ping ciba-server builds carries the client's notification token.
    let outcome = env
        .handle
        .server()
        .complete(
            &sid(&id),
            AuthenticationResult::Authorized(Authorization::new("alice")),
            SystemTime::now(),
            &OsRandom,
        )
        .await
        .unwrap();
    let CompleteOutcome::Ping(mut ping) = outcome else {
        panic!("not a ping");
    };
    let cnt = ping.headers()["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned();
    let secrets = [SECRET, tail, cnt.as_str(), URL_PASSWORD];
    // Delivered to the receiver: the outcome names neither the token nor the id.
    let deliverer = NotificationDeliverer::plain_http(ciba_server::EgressPolicy::allow_loopback())
        .max_attempts(1);
    assert_hidden("NotificationDeliverer", &format!("{deliverer:?}"), &secrets);
    let delivered = deliverer.deliver(copy(&ping)).await;
    assert!(delivered.is_delivered(), "{delivered:?}");
    assert_hidden("DeliveryOutcome", &format!("{delivered:?}"), &secrets);
    // An endpoint URL with credentials: the failure names the host, not the password.
    *ping.uri_mut() = format!("http://user:{URL_PASSWORD}@127.0.0.1:9/cb")
        .parse()
        .unwrap();
    let failed = deliverer.deliver(ping).await;
    assert!(!failed.is_delivered());
    assert_hidden("DeliveryOutcome::GaveUp", &format!("{failed:?}"), &secrets);
    drop(client);
    env.stop().await;
}
