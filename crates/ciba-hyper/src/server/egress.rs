//! The notification deliverer's egress guard: a DNS resolver for hyper-util's connector that
//! resolves a name, checks every address it got against ciba-server's [`EgressPolicy`], and
//! hands the connector only those checked addresses. The connection goes to an address that
//! was checked, so a name that re-resolves elsewhere (DNS rebinding) between the check and
//! the connection changes nothing. TLS still verifies the certificate against the host name
//! in the URL (the server name comes from the URL, not from the address).
//!
//! Literal addresses in a URL never reach a resolver; [`check_uri`] judges them before the
//! request is sent.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ciba_server::{EgressError, EgressPolicy};
use hyper_util::client::legacy::connect::dns::Name;
use url::Host;

/// How names become addresses: the system resolver, or (in this crate's tests) a stand-in.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// Resolves through the system resolver (tokio's `lookup_host`, on the blocking pool), then
/// refuses the name when any of its addresses is refused by the policy; otherwise the
/// connector gets exactly the addresses that were checked.
#[derive(Clone)]
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub struct GuardedResolver {
    /// What the addresses are checked against.
    pub policy: EgressPolicy,
    /// The resolver; `None` for the system resolver.
    pub lookup: Option<Lookup>,
}

#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
impl GuardedResolver {
    /// Over the system resolver.
    pub fn new(policy: EgressPolicy) -> GuardedResolver {
        GuardedResolver {
            policy,
            lookup: None,
        }
    }
}

impl fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, io::Error>> + Send>>;

fn refused(e: EgressError) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, e)
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        let policy = self.policy;
        let lookup = self.lookup.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            policy.check_host(&Host::Domain(&host)).map_err(refused)?;
            let addresses: Vec<SocketAddr> = match lookup {
                Some(lookup) => lookup(host).await?,
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            if addresses.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the name resolved to no address",
                ));
            }
            for address in &addresses {
                policy.check_ip(address.ip()).map_err(refused)?;
            }
            Ok(addresses.into_iter())
        })
    }
}

/// Judges the host of `uri` without resolving: a literal address, or a name the policy knows
/// (`localhost`, the cloud metadata names).
pub(crate) fn check_uri(policy: &EgressPolicy, uri: &http::Uri) -> Result<(), EgressError> {
    let host = uri.host().ok_or(EgressError::NoHost)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => policy.check_ip(ip),
        Err(_) => policy.check_host(&Host::Domain(host)),
    }
}

/// The egress refusal somewhere in the causes of `error`, if there is one.
pub(crate) fn egress_refusal<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a EgressError> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<EgressError>() {
            return Some(found);
        }
        // `io::Error` hides its payload from `source()`; look inside.
        if let Some(found) = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<EgressError>())
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}
