//! Where the server may send notifications: the egress policy against server-side request
//! forgery (CIBA Core section 14).
//!
//! A client chooses its `backchannel_client_notification_endpoint`, and the server then sends
//! requests there. Without a policy, a client could point the server at its own loopback
//! services, the private network behind it, or the cloud provider's metadata service.
//! [`EgressPolicy`] refuses those destinations:
//!
//! | class | addresses |
//! |---|---|
//! | loopback | 127.0.0.0/8, ::1, the name `localhost` and names under `.localhost` |
//! | private | 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7 |
//! | link-local | 169.254.0.0/16, fe80::/10 |
//! | unspecified | 0.0.0.0/8, :: |
//! | shared address space (CGNAT) | 100.64.0.0/10 |
//! | cloud metadata | 169.254.169.254, fd00:ec2::254, `metadata.google.internal` |
//! | not unicast | multicast, 255.255.255.255 |
//!
//! An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is judged as the IPv4 address it holds.
//!
//! This crate does no I/O, so it cannot resolve names: at registration
//! ([`validate_client_metadata`](crate::validate_client_metadata)) it judges literal
//! addresses and the names above. A transport judges every address a name resolves to with
//! [`EgressPolicy::check_ip`] and connects only to an address it checked (ciba-hyper's
//! notification deliverer does).
//!
//! Development and tests opt in explicitly: [`EgressPolicy::allow_loopback`] accepts loopback
//! destinations (and nothing else of the list). The cloud metadata addresses are refused
//! whatever the policy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Names that lead to a cloud provider's instance metadata service.
const METADATA_NAMES: [&str; 2] = ["metadata.google.internal", "metadata.goog"];

/// Why a destination is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1, `localhost`.
    Loopback,
    /// RFC 1918 and unique local (fc00::/7) addresses.
    Private,
    /// 169.254.0.0/16 and fe80::/10.
    LinkLocal,
    /// 0.0.0.0/8 and ::.
    Unspecified,
    /// The shared address space of carrier-grade NAT, 100.64.0.0/10 (RFC 6598).
    SharedAddressSpace,
    /// A cloud instance metadata service (169.254.169.254, fd00:ec2::254, and its names).
    CloudMetadata,
    /// Multicast or broadcast: not a single host.
    NotUnicast,
}

impl AddressClass {
    /// A short name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Unspecified => "unspecified",
            AddressClass::SharedAddressSpace => "shared (CGNAT)",
            AddressClass::CloudMetadata => "cloud metadata",
            AddressClass::NotUnicast => "multicast or broadcast",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A destination the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The address belongs to a refused class.
    #[error("{address} is a {class} address")]
    Address {
        /// The address.
        address: IpAddr,
        /// Its class.
        class: AddressClass,
    },
    /// The name is known to lead to a refused destination.
    #[error("{name:?} names a {class} destination")]
    Name {
        /// The name (truncated to 64 characters).
        name: String,
        /// The class it leads to.
        class: AddressClass,
    },
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
}

impl EgressError {
    /// The class of the refused destination, when there is one.
    pub fn class(&self) -> Option<AddressClass> {
        match self {
            EgressError::Address { class, .. } | EgressError::Name { class, .. } => Some(*class),
            EgressError::NoHost => None,
        }
    }
}

/// The class of `ip` when it is not a public unicast address, else `None`.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some(AddressClass::CloudMetadata)
    } else if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if ip.is_private() {
        Some(AddressClass::Private)
    } else if ip.is_link_local() {
        Some(AddressClass::LinkLocal)
    } else if a == 0 {
        Some(AddressClass::Unspecified)
    } else if a == 100 && (64..128).contains(&b) {
        Some(AddressClass::SharedAddressSpace)
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some(AddressClass::NotUnicast)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let first = ip.segments().first().copied().unwrap_or(0);
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        Some(AddressClass::CloudMetadata)
    } else if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if ip.is_unspecified() {
        Some(AddressClass::Unspecified)
    } else if first & 0xfe00 == 0xfc00 {
        Some(AddressClass::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(AddressClass::LinkLocal)
    } else if ip.is_multicast() {
        Some(AddressClass::NotUnicast)
    } else {
        None
    }
}

/// Which destinations notifications may go to. The default, [`EgressPolicy::STRICT`], allows
/// public unicast addresses only; [`EgressPolicy::allow_loopback`] is the explicit opt-in for
/// development and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EgressPolicy {
    loopback: bool,
}

impl EgressPolicy {
    /// Public unicast destinations only (the default).
    pub const STRICT: EgressPolicy = EgressPolicy { loopback: false };

    /// Public destinations and loopback ones: for a development server and for tests whose
    /// notification receivers listen on loopback. Everything else in the
    /// [`EgressPolicy`] table stays refused.
    pub const fn allow_loopback() -> EgressPolicy {
        EgressPolicy { loopback: true }
    }

    /// True when loopback destinations are allowed.
    pub const fn allows_loopback(&self) -> bool {
        self.loopback
    }

    fn allows(&self, class: AddressClass) -> bool {
        class == AddressClass::Loopback && self.loopback
    }

    /// Checks one address (for example each address a name resolved to).
    pub fn check_ip(&self, address: IpAddr) -> Result<(), EgressError> {
        match classify(address) {
            Some(class) if !self.allows(class) => Err(EgressError::Address { address, class }),
            _ => Ok(()),
        }
    }

    /// Checks what can be judged without resolving: a literal address, or one of the names
    /// the [`EgressPolicy`] table lists. Any other name passes here; its addresses must be
    /// checked with [`EgressPolicy::check_ip`] once resolved.
    pub fn check_host(&self, host: &Host<&str>) -> Result<(), EgressError> {
        let name = match host {
            Host::Ipv4(v4) => return self.check_ip(IpAddr::V4(*v4)),
            Host::Ipv6(v6) => return self.check_ip(IpAddr::V6(*v6)),
            Host::Domain(name) => name.trim_end_matches('.').to_ascii_lowercase(),
        };
        let class = if METADATA_NAMES.contains(&name.as_str()) {
            Some(AddressClass::CloudMetadata)
        } else if name == "localhost" || name.ends_with(".localhost") {
            Some(AddressClass::Loopback)
        } else {
            None
        };
        match class {
            Some(class) if !self.allows(class) => Err(EgressError::Name {
                name: name.chars().take(64).collect(),
                class,
            }),
            _ => Ok(()),
        }
    }

    /// [`EgressPolicy::check_host`] on the host of `url`.
    pub fn check_url(&self, url: &Url) -> Result<(), EgressError> {
        self.check_host(&url.host().ok_or(EgressError::NoHost)?)
    }
}
