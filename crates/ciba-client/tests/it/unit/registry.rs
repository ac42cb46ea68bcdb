//! The notification registry: keys, the race with the acknowledgement, the header check.

use std::time::{Duration, SystemTime};

use ciba_client::__internals::{register_ping, watch};
use ciba_client::ciba_core::AuthReqId;
use ciba_client::{DEFAULT_BINDING_GRACE, Error, NotificationRegistry};

fn ping(id: &str, token: &str) -> http::Request<Vec<u8>> {
    http::Request::post("/cb")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(format!(r#"{{"auth_req_id":"{id}"}}"#).into_bytes())
        .unwrap()
}

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn id(s: &str) -> AuthReqId {
    AuthReqId::new(s)
}

#[tokio::test]
async fn registrations_are_keyed_by_issuer_and_auth_req_id() {
    let registry = NotificationRegistry::new();
    register_ping(
        &registry,
        "https://a.example",
        &id("same"),
        "tok-a",
        later(),
    )
    .unwrap();
    register_ping(
        &registry,
        "https://b.example",
        &id("same"),
        "tok-b",
        later(),
    )
    .unwrap();
    let again = register_ping(&registry, "https://a.example", &id("same"), "x", later());
    assert!(matches!(again, Err(Error::DuplicateRegistration { .. })));
    assert_eq!(registry.len(), 2);
    assert_eq!(registry.handle(ping("same", "tok-b")).await.status(), 204);
    let a = watch(&registry, "https://a.example", &id("same")).unwrap();
    let b = watch(&registry, "https://b.example", &id("same")).unwrap();
    assert_eq!(a.pings(), 0);
    assert_eq!(b.pings(), 1);
    // A wrong token for the id is reported to its registrations.
    assert_eq!(registry.handle(ping("same", "tok-c")).await.status(), 401);
    assert_eq!(a.refused(), 1);
    drop((a, b));
    assert!(registry.is_empty());
}

#[tokio::test]
async fn a_ping_racing_the_acknowledgement_waits_for_the_registration() {
    let registry = NotificationRegistry::new();
    let in_flight = registry.begin_initiation();
    let answer = {
        let registry = registry.clone();
        tokio::spawn(async move { registry.handle(ping("id-1", "tok")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    register_ping(&registry, "https://op", &id("id-1"), "tok", later()).unwrap();
    drop(in_flight);
    assert_eq!(answer.await.unwrap().status(), 204);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_id_is_refused_at_once_or_after_the_grace_period() {
    let registry = NotificationRegistry::new();
    let started = tokio::time::Instant::now();
    assert_eq!(registry.handle(ping("id-2", "tok")).await.status(), 401);
    assert_eq!(started.elapsed(), Duration::ZERO);
    let _in_flight = registry.begin_initiation();
    assert_eq!(registry.handle(ping("id-2", "tok")).await.status(), 401);
    assert!(started.elapsed() >= DEFAULT_BINDING_GRACE);
}

#[tokio::test]
async fn the_header_check_knows_only_live_tokens() {
    let registry = NotificationRegistry::new();
    register_ping(&registry, "https://op", &id("id-3"), "tok", later()).unwrap();
    let headers = ping("id-3", "tok").headers().clone();
    assert!(registry.check_bearer(&headers).await.is_ok());
    let wrong = ping("id-3", "other").headers().clone();
    assert_eq!(
        registry.check_bearer(&wrong).await.unwrap_err().status(),
        401
    );
    let gone = SystemTime::now() - Duration::from_secs(1);
    register_ping(&registry, "https://op", &id("id-4"), "old", gone).unwrap();
    let old = ping("id-4", "old").headers().clone();
    assert!(registry.check_bearer(&old).await.is_err());
}
