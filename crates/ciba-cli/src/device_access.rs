//! Who may reach the device page and its API: the `Host` check, and the device access secret.
//!
//! - **Host.** A device request is answered only when its `Host` (or, over HTTP/2, its
//!   `:authority`) names the issuer's authority or the bound address: on a loopback or
//!   every-interface bind, `127.0.0.1:PORT`, `[::1]:PORT` (IPv6 binds) and `localhost:PORT`.
//!   Anything else is `421 Misdirected Request` before any data is read. A page on another
//!   site that reaches the provider by DNS rebinding sends its own name as `Host`, so it
//!   gets nothing and decides nothing.
//! - **Secret.** A non-loopback bind needs a device access secret (`--device-secret VALUE`,
//!   or `--device-secret generate` for 32 random bytes, printed at start); a loopback bind may
//!   have one too. With a secret, every device request must carry it: the header
//!   `Ciba-Device-Secret: S` (scripts), or the cookie the page gets from opening
//!   `/device?secret=S` once (`HttpOnly`, `SameSite=Strict`, `Path=/device`, `Secure` over
//!   https; the answer is a redirect to `/device`, so the secret leaves the address bar).
//!   Without it (or with another) the answer is `403`. Comparisons take constant time.

use std::net::{IpAddr, SocketAddr};

use ciba_server::Secret;
use http::{HeaderMap, Method, Response, StatusCode, Uri, header};
use url::Url;

use crate::clients::random_secret;
use crate::error::CliError;

/// The header scripts send the device access secret in.
pub(crate) const SECRET_HEADER: &str = "ciba-device-secret";
/// The cookie the page carries the secret in.
const SECRET_COOKIE: &str = "ciba_device_secret";
/// The query parameter of `/device?secret=S`.
const SECRET_QUERY: &str = "secret";
/// The shortest `--device-secret` accepted.
const MIN_SECRET_CHARS: usize = 16;
/// The longest `--device-secret` accepted.
const MAX_SECRET_CHARS: usize = 256;

/// The device access secret `ciba serve` uses, if any.
#[derive(Debug)]
pub(crate) enum DeviceSecret {
    /// None: a loopback bind without `--device-secret`.
    None,
    /// Given with `--device-secret VALUE` (not printed).
    Given(Secret),
    /// Generated for `--device-secret generate` (printed at start).
    Generated(Secret),
}

impl DeviceSecret {
    /// The secret for a provider bound to `addr` with `--device-secret arg`: none on a loopback
    /// bind without the option; a usage error on any other bind without it.
    pub(crate) fn for_bind(addr: SocketAddr, arg: Option<&str>) -> Result<DeviceSecret, CliError> {
        match arg {
            None if addr.ip().is_loopback() => Ok(DeviceSecret::None),
            None => Err(CliError::usage(format!(
                "--addr {addr} is not a loopback address, so anyone who reaches it could approve \
                 requests on the device page: add --device-secret generate (a random secret, \
                 printed at start) or --device-secret VALUE"
            ))),
            Some("generate") => Ok(DeviceSecret::Generated(Secret::new(random_secret()?))),
            Some(value) => {
                let chars = value.chars().count();
                let allowed =
                    |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
                if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars)
                    || !value.chars().all(allowed)
                {
                    return Err(CliError::usage(format!(
                        "--device-secret must be `generate` or {MIN_SECRET_CHARS} to \
                         {MAX_SECRET_CHARS} characters from A-Z a-z 0-9 - . _ ~"
                    )));
                }
                Ok(DeviceSecret::Given(Secret::new(value)))
            }
        }
    }

    /// The secret, when there is one.
    pub(crate) fn secret(&self) -> Option<&Secret> {
        match self {
            DeviceSecret::None => None,
            DeviceSecret::Given(s) | DeviceSecret::Generated(s) => Some(s),
        }
    }
}

/// A host and port a device request's `Host` may name, in a canonical form: an IP address
/// as `IpAddr` prints it (IPv6 without brackets), or a lower-case name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority {
    host: String,
    port: u16,
}

/// Host names an `Authority` compares equal under: IP literals by address, names without
/// regard to case.
fn canonical_host(host: &str) -> String {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// Splits `host[:port]` or `[v6][:port]`; `None` when it is malformed.
fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{v6}]"), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port {
        None => default_port,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    Some((canonical_host(&host), port))
}

/// Who may reach the device page: the authorities its `Host` may name, and the secret.
#[derive(Debug)]
pub(crate) struct DeviceAccess {
    authorities: Vec<Authority>,
    default_port: u16,
    secret: Option<Secret>,
    secure_cookie: bool,
}

impl DeviceAccess {
    /// The access rules of a provider bound to `bound`, for `issuer`, with `secret`; `https`
    /// when the provider itself serves https (the cookie is then `Secure`).
    pub(crate) fn new(
        bound: SocketAddr,
        issuer: &str,
        secret: Option<Secret>,
        https: bool,
    ) -> Result<DeviceAccess, CliError> {
        let url = Url::parse(issuer)
            .map_err(|e| CliError::usage(format!("the issuer {issuer} is not a URL: {e}")))?;
        let scheme_port = if url.scheme() == "https" { 443 } else { 80 };
        let mut authorities = Vec::new();
        if let Some(host) = url.host_str() {
            authorities.push(Authority {
                host: canonical_host(host),
                port: url.port_or_known_default().unwrap_or(scheme_port),
            });
        }
        let port = bound.port();
        let ip = bound.ip();
        let mut hosts: Vec<String> = Vec::new();
        if ip.is_loopback() || ip.is_unspecified() {
            hosts.push("localhost".to_owned());
        }
        match ip {
            IpAddr::V4(_) if ip.is_unspecified() => hosts.push("127.0.0.1".to_owned()),
            IpAddr::V6(_) if ip.is_unspecified() => {
                hosts.extend(["::1".to_owned(), "127.0.0.1".to_owned()]);
            }
            _ => hosts.push(ip.to_string()),
        }
        for host in hosts {
            let authority = Authority { host, port };
            if !authorities.contains(&authority) {
                authorities.push(authority);
            }
        }
        Ok(DeviceAccess {
            authorities,
            default_port: scheme_port,
            secret,
            secure_cookie: https,
        })
    }

    /// True when `authority` (a `Host` value) names the issuer or the bound address.
    pub(crate) fn host_allowed(&self, authority: &str) -> bool {
        let Some((host, port)) = split_authority(authority, self.default_port) else {
            return false;
        };
        self.authorities
            .iter()
            .any(|a| a.host == host && a.port == port)
    }

    /// The authority a request was sent to: its `Host`, or over HTTP/2 its `:authority`.
    /// `None` when it has neither, when they disagree, or when `Host` is not text.
    pub(crate) fn request_authority<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
        let from_uri = uri.authority().map(http::uri::Authority::as_str);
        let mut hosts = headers.get_all(header::HOST).iter();
        let from_header = match (hosts.next(), hosts.next()) {
            (Some(h), None) => Some(h.to_str().ok()?),
            (None, _) => None,
            (Some(_), Some(_)) => return None,
        };
        match (from_uri, from_header) {
            (Some(u), Some(h)) if !u.eq_ignore_ascii_case(h) => None,
            (u, h) => h.or(u),
        }
    }

    /// Admits a device request, or answers it: `421` when it names another host, a redirect
    /// setting the cookie for `GET /device?secret=S`, `403` without the secret.
    pub(crate) fn admit(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), Response<Vec<u8>>> {
        let named = Self::request_authority(uri, headers);
        if !named.is_some_and(|a| self.host_allowed(a)) {
            return Err(crate::device_page::error(
                StatusCode::MISDIRECTED_REQUEST,
                "this provider does not serve the device page under that host name",
            ));
        }
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let is_page = matches!(uri.path(), "/device" | "/device/");
        let reads_page = is_page && (method == Method::GET || method == Method::HEAD);
        if let Some(offered) = query_secret(uri).filter(|_| reads_page) {
            return if secret.matches(&offered) {
                Err(self.set_cookie_and_reload())
            } else {
                Err(forbidden())
            };
        }
        let by_header = headers
            .get_all(SECRET_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| secret.matches(v));
        let by_cookie = cookie_values(headers).any(|v| secret.matches(v));
        if by_header || by_cookie {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// `303` to `/device`, setting the cookie.
    fn set_cookie_and_reload(&self) -> Response<Vec<u8>> {
        let mut cookie = format!(
            "{SECRET_COOKIE}={}; Path=/device; HttpOnly; SameSite=Strict",
            self.secret.as_ref().map_or("", Secret::expose)
        );
        if self.secure_cookie {
            cookie.push_str("; Secure");
        }
        let mut response = Response::new(Vec::new());
        *response.status_mut() = StatusCode::SEE_OTHER;
        let h = response.headers_mut();
        h.insert(
            header::LOCATION,
            header::HeaderValue::from_static("/device"),
        );
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            h.insert(header::SET_COOKIE, value);
        }
        response
    }
}

/// The `secret` query parameter, if the query has one.
fn query_secret(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == SECRET_QUERY)
        .map(|(_, value)| value.into_owned())
}

/// The values of every `ciba_device_secret` cookie the request carries.
fn cookie_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SECRET_COOKIE).then_some(value)
        })
}

fn forbidden() -> Response<Vec<u8>> {
    crate::device_page::error(
        StatusCode::FORBIDDEN,
        "the device page needs its access secret: open the device page URL ciba serve printed \
         (…/device?secret=…) once, or send the Ciba-Device-Secret header",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(bound: &str, issuer: &str, secret: Option<&str>) -> DeviceAccess {
        DeviceAccess::new(
            bound.parse().unwrap(),
            issuer,
            secret.map(Secret::new),
            false,
        )
        .unwrap()
    }

    fn request(host: &str, uri: &str, extra: &[(&str, &str)]) -> (Uri, HeaderMap) {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        for (name, value) in extra {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        (uri.parse().unwrap(), headers)
    }

    fn status(
        a: &DeviceAccess,
        method: Method,
        host: &str,
        uri: &str,
        extra: &[(&str, &str)],
    ) -> u16 {
        let (uri, headers) = request(host, uri, extra);
        match a.admit(&method, &uri, &headers) {
            Ok(()) => 200,
            Err(r) => r.status().as_u16(),
        }
    }

    #[test]
    fn a_loopback_bind_answers_its_address_localhost_and_the_issuer_only() {
        let a = access("127.0.0.1:8080", "http://127.0.0.1:8080", None);
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080"] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "evil.example",
            "127.0.0.1:8081",
            "127.0.0.1",
            "[::1]:8080",
            "127.0.0.1.evil.example:8080",
            "localhost:8080:1",
            "localhost:",
            "",
            ":8080",
        ] {
            assert!(!a.host_allowed(refused), "{refused}");
        }
        let v6 = access("[::1]:9000", "http://[::1]:9000", None);
        assert!(v6.host_allowed("[::1]:9000"));
        assert!(v6.host_allowed("[0:0:0:0:0:0:0:1]:9000"));
        assert!(v6.host_allowed("localhost:9000"));
        assert!(!v6.host_allowed("127.0.0.1:9000"));
        assert!(!v6.host_allowed("[::1"));
    }

    #[test]
    fn an_issuer_behind_a_proxy_is_answered_under_its_own_name() {
        let a = access("0.0.0.0:8080", "https://op.example", Some("s"));
        assert!(a.host_allowed("op.example"));
        assert!(a.host_allowed("op.example:443"));
        assert!(a.host_allowed("127.0.0.1:8080"));
        assert!(a.host_allowed("localhost:8080"));
        assert!(!a.host_allowed("op.example:8080"));
        assert!(!a.host_allowed("0.0.0.0:8080"));
        assert!(!a.host_allowed("evil.example"));
        let lan = access("192.0.2.7:8080", "https://op.example", Some("s"));
        assert!(lan.host_allowed("192.0.2.7:8080"));
        assert!(!lan.host_allowed("localhost:8080"));
    }

    #[test]
    fn another_host_is_misdirected_before_anything_else() {
        let a = access("127.0.0.1:8080", "http://127.0.0.1:8080", None);
        assert_eq!(
            status(
                &a,
                Method::GET,
                "127.0.0.1:8080",
                "/device/api/pending",
                &[]
            ),
            200
        );
        let origin = [("origin", "http://evil.example:8080")];
        for (method, path) in [
            (Method::GET, "/device"),
            (Method::GET, "/device/api/pending"),
            (Method::POST, "/device/api/abc/approve"),
        ] {
            assert_eq!(status(&a, method, "evil.example:8080", path, &origin), 421);
        }
        // Two Host headers, or an absolute URI naming another host, are refused too.
        assert_eq!(
            status(
                &a,
                Method::GET,
                "127.0.0.1:8080",
                "/device",
                &[("host", "evil.example:8080")]
            ),
            421
        );
        assert_eq!(
            status(
                &a,
                Method::GET,
                "127.0.0.1:8080",
                "http://evil.example:8080/device",
                &[]
            ),
            421
        );
    }

    #[test]
    fn with_a_secret_the_header_or_the_cookie_is_needed() {
        let secret = "0123456789abcdefXYZ";
        let a = access("127.0.0.1:8080", "http://127.0.0.1:8080", Some(secret));
        let host = "127.0.0.1:8080";
        let api = "/device/api/pending";
        assert_eq!(status(&a, Method::GET, host, api, &[]), 403);
        assert_eq!(
            status(&a, Method::GET, host, api, &[(SECRET_HEADER, secret)]),
            200
        );
        assert_eq!(
            status(&a, Method::GET, host, api, &[(SECRET_HEADER, "wrong")]),
            403
        );
        let cookie = format!("a=b; {SECRET_COOKIE}={secret}");
        assert_eq!(
            status(&a, Method::GET, host, api, &[("cookie", &cookie)]),
            200
        );
        let wrong = format!("{SECRET_COOKIE}={secret}x");
        assert_eq!(
            status(&a, Method::GET, host, api, &[("cookie", &wrong)]),
            403
        );
        // The query only works on the page, where it sets the cookie.
        assert_eq!(
            status(
                &a,
                Method::GET,
                host,
                &format!("{api}?secret={secret}"),
                &[]
            ),
            403
        );
        assert_eq!(
            status(&a, Method::GET, host, "/device?secret=nope", &[]),
            403
        );
        let (uri, headers) = request(host, &format!("/device?secret={secret}"), &[]);
        let redirect = a.admit(&Method::GET, &uri, &headers).unwrap_err();
        assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
        assert_eq!(redirect.headers()[header::LOCATION], "/device");
        let set = redirect.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.starts_with(&format!("{SECRET_COOKIE}={secret};")),
            "{set}"
        );
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(!set.contains("Secure"), "{set}");
        // A wrong Host is refused even with the secret.
        assert_eq!(
            status(
                &a,
                Method::GET,
                "evil.example:8080",
                api,
                &[(SECRET_HEADER, secret)]
            ),
            421
        );
    }

    #[test]
    fn a_non_loopback_bind_needs_a_secret_and_generated_ones_are_long() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let err = DeviceSecret::for_bind(any, None).unwrap_err();
        assert!(err.message.contains("--device-secret"), "{}", err.message);
        let lan: SocketAddr = "192.0.2.7:8080".parse().unwrap();
        assert!(DeviceSecret::for_bind(lan, None).is_err());
        let v6: SocketAddr = "[::]:8080".parse().unwrap();
        assert!(DeviceSecret::for_bind(v6, None).is_err());
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(matches!(
            DeviceSecret::for_bind(loopback, None),
            Ok(DeviceSecret::None)
        ));
        let DeviceSecret::Generated(generated) =
            DeviceSecret::for_bind(any, Some("generate")).unwrap()
        else {
            panic!("not generated");
        };
        // 32 random bytes, base64url: 43 characters, 256 bits.
        assert_eq!(generated.expose().len(), 43);
        assert!(matches!(
            DeviceSecret::for_bind(any, Some("a-long-enough-secret")),
            Ok(DeviceSecret::Given(_))
        ));
        for bad in [
            "short",
            "has spaces in it 123",
            "semi;colon;0123456789",
            &"x".repeat(257),
        ] {
            assert!(DeviceSecret::for_bind(any, Some(bad)).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_hosts_cookies_and_queries_never_panic_and_foreign_hosts_are_refused(
            host in "\\PC{0,40}",
            cookie in "\\PC{0,80}",
            query in "[ -~]{0,60}",
        ) {
            let a = access("127.0.0.1:8080", "http://127.0.0.1:8080", Some("0123456789abcdefXYZ"));
            let mut headers = HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(&host) {
                headers.insert(header::HOST, value);
            }
            if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                headers.insert(header::COOKIE, value);
            }
            let uri: Uri = format!("/device?{}", query.replace([' ', '#'], ""))
                .parse()
                .unwrap_or_else(|_| Uri::from_static("/device"));
            let answer = a.admit(&Method::GET, &uri, &headers);
            // Only the bound address and localhost, at port 8080, may pass.
            let lower = host.to_ascii_lowercase();
            let allowed = ["127.0.0.1:", "localhost:"].iter().any(|p| lower.starts_with(p));
            if !allowed {
                proptest::prop_assert_eq!(
                    answer.map_err(|r| r.status()),
                    Err(StatusCode::MISDIRECTED_REQUEST)
                );
            }
        }
    }
}
