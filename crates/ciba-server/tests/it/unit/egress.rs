//! Egress policy: address classes and refused names (src/egress.rs).

use ciba_server::{AddressClass, EgressPolicy, classify_address as classify};
use url::Host;

fn class_of(s: &str) -> Option<AddressClass> {
    classify(s.parse().unwrap())
}

#[test]
fn every_listed_range_is_classified() {
    use AddressClass::*;
    for (ip, class) in [
        ("127.0.0.1", Loopback),
        ("127.255.0.9", Loopback),
        ("::1", Loopback),
        ("10.1.2.3", Private),
        ("172.16.0.1", Private),
        ("172.31.255.254", Private),
        ("192.168.1.1", Private),
        ("fc00::1", Private),
        ("fd12:3456::1", Private),
        ("169.254.1.1", LinkLocal),
        ("fe80::1", LinkLocal),
        ("febf::1", LinkLocal),
        ("0.0.0.0", Unspecified),
        ("0.1.2.3", Unspecified),
        ("::", Unspecified),
        ("100.64.0.1", SharedAddressSpace),
        ("100.127.255.255", SharedAddressSpace),
        ("169.254.169.254", CloudMetadata),
        ("fd00:ec2::254", CloudMetadata),
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:169.254.169.254", CloudMetadata),
        ("::ffff:10.0.0.1", Private),
        ("224.0.0.1", NotUnicast),
        ("255.255.255.255", NotUnicast),
        ("ff02::1", NotUnicast),
    ] {
        assert_eq!(class_of(ip), Some(class), "{ip}");
    }
}

#[test]
fn public_addresses_pass() {
    for ip in [
        "93.184.216.34",
        "172.32.0.1",
        "100.128.0.1",
        "100.63.255.255",
        "2606:2800:220:1::1",
        "fec0::1",
    ] {
        assert_eq!(class_of(ip), None, "{ip}");
        assert!(EgressPolicy::STRICT.check_ip(ip.parse().unwrap()).is_ok());
    }
}

#[test]
fn loopback_opt_in_allows_loopback_only() {
    let dev = EgressPolicy::allow_loopback();
    assert!(dev.check_ip("127.0.0.1".parse().unwrap()).is_ok());
    assert!(dev.check_ip("::1".parse().unwrap()).is_ok());
    assert!(dev.check_host(&Host::Domain("localhost")).is_ok());
    for ip in ["10.0.0.1", "169.254.169.254", "fd00:ec2::254", "100.64.0.1"] {
        assert!(dev.check_ip(ip.parse().unwrap()).is_err(), "{ip}");
    }
    assert!(
        EgressPolicy::STRICT
            .check_ip("127.0.0.1".parse().unwrap())
            .is_err()
    );
}

#[test]
fn known_names_are_refused_without_resolving() {
    let strict = EgressPolicy::STRICT;
    for name in [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "metadata.google.internal",
        "Metadata.Google.Internal.",
    ] {
        assert!(strict.check_host(&Host::Domain(name)).is_err(), "{name}");
    }
    assert_eq!(
        EgressPolicy::allow_loopback()
            .check_host(&Host::Domain("metadata.google.internal"))
            .unwrap_err()
            .class(),
        Some(AddressClass::CloudMetadata)
    );
    assert!(strict.check_host(&Host::Domain("rp.example.com")).is_ok());
}
