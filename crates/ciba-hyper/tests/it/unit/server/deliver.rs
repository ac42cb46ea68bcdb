//! The notification deliverer's egress guard (src/server/deliver.rs, src/server/egress.rs):
//! every address a name resolves to is checked, and the connection goes to a checked one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ciba_server::{AddressClass, EgressError, EgressPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use ciba_hyper::__internals::{GuardedResolver, Lookup, deliverer_over, http_resolving_with};
use ciba_hyper::server::{DeliveryOutcome, NotificationDeliverer};

/// A receiver on loopback that answers 204 to every connection; it records the request
/// heads it read.
async fn receiver() -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = socket
                .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (addr, seen)
}

fn notification(url: &str) -> http::Request<Vec<u8>> {
    http::Request::post(url)
        .header("content-type", "application/json")
        .header("authorization", "Bearer cnt")
        .body(br#"{"auth_req_id":"x"}"#.to_vec())
        .unwrap()
}

/// A deliverer over plain http whose resolver answers `answer` for every name, and
/// counts the lookups.
fn deliverer_resolving_to(
    policy: EgressPolicy,
    answer: Vec<IpAddr>,
    lookups: Arc<AtomicUsize>,
) -> NotificationDeliverer {
    let lookup: Lookup = Arc::new(move |_name| {
        lookups.fetch_add(1, Ordering::SeqCst);
        let answer: Vec<SocketAddr> = answer.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
        Box::pin(async move { Ok(answer) })
    });
    let resolver = GuardedResolver {
        policy,
        lookup: Some(lookup),
    };
    deliverer_over(http_resolving_with(resolver), policy)
        .max_attempts(3)
        .retry_delay(std::time::Duration::from_millis(10))
}

#[tokio::test]
async fn a_literal_loopback_endpoint_is_refused_without_the_opt_in() {
    let (addr, seen) = receiver().await;
    let url = format!("http://{addr}/cb");
    let strict = NotificationDeliverer::plain_http(EgressPolicy::STRICT);
    match strict.deliver(notification(&url)).await {
        DeliveryOutcome::NotAllowed {
            reason: EgressError::Address { class, .. },
        } => assert_eq!(class, AddressClass::Loopback),
        other => panic!("{other:?}"),
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing may be sent");
    let dev = NotificationDeliverer::plain_http(EgressPolicy::allow_loopback());
    assert!(dev.deliver(notification(&url)).await.is_delivered());
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_name_is_refused_when_any_address_it_resolves_to_is_refused() {
    let (addr, seen) = receiver().await;
    let lookups = Arc::new(AtomicUsize::new(0));
    // Loopback is allowed here, but the name also resolves to the metadata address.
    let deliverer = deliverer_resolving_to(
        EgressPolicy::allow_loopback(),
        vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        ],
        lookups.clone(),
    );
    let url = format!("http://notify.rp.test:{}/cb", addr.port());
    match deliverer.deliver(notification(&url)).await {
        DeliveryOutcome::NotAllowed { reason } => {
            assert_eq!(reason.class(), Some(AddressClass::CloudMetadata))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "refusals are not retried"
    );
    assert!(seen.lock().unwrap().is_empty());
    // The same name resolving to a private address, under the strict policy.
    let deliverer = deliverer_resolving_to(
        EgressPolicy::STRICT,
        vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))],
        Arc::new(AtomicUsize::new(0)),
    );
    assert!(matches!(
        deliverer.deliver(notification(&url)).await,
        DeliveryOutcome::NotAllowed { .. }
    ));
}

#[tokio::test]
async fn the_connection_goes_to_the_checked_address_and_keeps_the_host_name() {
    let (addr, seen) = receiver().await;
    let lookups = Arc::new(AtomicUsize::new(0));
    let deliverer = deliverer_resolving_to(
        EgressPolicy::allow_loopback(),
        vec![addr.ip()],
        lookups.clone(),
    );
    // `notify.rp.test` exists in no DNS: the request can only have reached the receiver
    // through the address the guard resolved and checked.
    let url = format!("http://notify.rp.test:{}/cb", addr.port());
    let delivery = deliverer.deliver(notification(&url)).await;
    assert!(delivery.is_delivered(), "{delivery:?}");
    assert_eq!(lookups.load(Ordering::SeqCst), 1);
    let seen = seen.lock().unwrap();
    let head = seen.first().unwrap().to_ascii_lowercase();
    assert!(
        head.contains(&format!("host: notify.rp.test:{}", addr.port())),
        "{head}"
    );
}

#[tokio::test]
async fn the_system_resolver_path_checks_what_a_name_resolves_to() {
    // "127.0.0.1" given to the resolver as a name: the name check passes, the address it
    // resolves to does not.
    use hyper_util::client::legacy::connect::dns::Name;
    use std::str::FromStr;
    use tower_service::Service;
    let mut strict = GuardedResolver::new(EgressPolicy::STRICT);
    let err = strict
        .call(Name::from_str("127.0.0.1").unwrap())
        .await
        .unwrap_err();
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<EgressError>());
    assert_eq!(
        inner.and_then(EgressError::class),
        Some(AddressClass::Loopback)
    );
    let mut dev = GuardedResolver::new(EgressPolicy::allow_loopback());
    let addrs: Vec<_> = dev
        .call(Name::from_str("127.0.0.1").unwrap())
        .await
        .unwrap()
        .collect();
    assert_eq!(
        addrs.first().map(|a| a.ip()),
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    );
}
