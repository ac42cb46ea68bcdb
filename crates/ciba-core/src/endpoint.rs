//! Endpoint URL policy: https everywhere, plain http only for loopback hosts by explicit opt-in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::ConfigError;

/// Which endpoint URLs the client is willing to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EndpointPolicy {
    /// Allow `http://` URLs whose host is a loopback address (`127.0.0.0/8`, `::1` or
    /// `localhost`). Off by default; meant for local development and tests.
    pub allow_http_loopback: bool,
}

impl EndpointPolicy {
    /// The secure default: https only.
    pub const HTTPS_ONLY: EndpointPolicy = EndpointPolicy {
        allow_http_loopback: false,
    };
    /// https, plus http on loopback hosts.
    pub const ALLOW_HTTP_LOOPBACK: EndpointPolicy = EndpointPolicy {
        allow_http_loopback: true,
    };

    /// Parses `raw` and checks it against the policy. `field` names the setting in errors.
    pub fn parse(&self, field: &'static str, raw: &str) -> Result<Url, ConfigError> {
        let url = Url::parse(raw).map_err(|_| ConfigError::InvalidUrl { field })?;
        self.check(field, &url)?;
        Ok(url)
    }

    /// Checks an already parsed URL against the policy.
    pub fn check(&self, field: &'static str, url: &Url) -> Result<(), ConfigError> {
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::UrlHasForbiddenParts { field });
        }
        match url.scheme() {
            "https" if url.host().is_some() => Ok(()),
            "http" if self.allow_http_loopback && is_loopback(url) => Ok(()),
            _ => Err(ConfigError::InsecureEndpoint {
                url: url.as_str().to_owned(),
            }),
        }
    }
}

/// True when the URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
                || d.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
                || d.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}
