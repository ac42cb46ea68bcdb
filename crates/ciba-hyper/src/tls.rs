//! https over rustls (feature `tls`, on by default): the roots a client trusts, and the
//! rustls configuration [`HttpClient::https`](crate::HttpClient::https) and
//! [`HttpClient::https_with_config`](crate::HttpClient::https_with_config) connect with.
//!
//! ## Which certificates are trusted
//!
//! [`load_roots`] (what `HttpClient::https` and `NotificationDeliverer::default()` use)
//! calls `rustls_native_certs::load_native_certs`:
//!
//! * when `SSL_CERT_FILE` (a PEM file of certificates) and/or `SSL_CERT_DIR` (a
//!   `:`-separated list of directories of PEM files) is set, the roots are read from there
//!   **only**, and the platform's store is not consulted;
//! * otherwise, the platform's store (on Linux the usual bundle files and directories, as
//!   OpenSSL finds them; the system keychain on macOS; the system store on Windows).
//!
//! Certificates that do not parse are skipped, and each file that cannot be read is logged
//! (warning). With no root at all every https request fails certificate verification; that
//! too is logged, once. Server names and certificates are verified by rustls's webpki
//! verifier; nothing here turns verification off.
//!
//! The roots are read once per [`HttpClient`](crate::HttpClient) (clones share them), on its
//! first request, on tokio's blocking pool: reading a bundle from disk never holds an async
//! worker.
//!
//! ## Protocols
//!
//! TLS 1.3 and 1.2 with aws-lc-rs's cipher suites (the process's default rustls crypto
//! provider when one is installed), ALPN `h2` and `http/1.1`: HTTP/2 when the server offers
//! it, HTTP/1.1 otherwise. Plain `http` URLs still work, for loopback development; which
//! notification endpoints may be `http` is decided at client registration (ciba-server), not
//! here.

use std::sync::Arc;

pub use rustls;
use rustls::{ClientConfig, RootCertStore};

/// The roots named by `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set, else the
/// platform's store (see the [module documentation](self)).
///
/// This reads files: call it from a blocking context (`tokio::task::spawn_blocking`), not
/// from an async task.
pub fn load_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "a source of trusted certificates could not be read");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    let source = if std::env::var_os("SSL_CERT_FILE").is_some()
        || std::env::var_os("SSL_CERT_DIR").is_some()
    {
        "SSL_CERT_FILE / SSL_CERT_DIR"
    } else {
        "the platform's store"
    };
    if added == 0 {
        tracing::warn!(
            source,
            ignored,
            "no trusted root certificate: https will fail"
        );
    } else {
        tracing::debug!(source, added, ignored, "trusted root certificates loaded");
    }
    roots
}

/// A rustls client configuration that trusts `roots`, with the process's default crypto
/// provider if one is installed and aws-lc-rs's otherwise, and the safe default protocol
/// versions (TLS 1.3 and 1.2). The ALPN list is set when the configuration is given to
/// [`HttpClient::https_with_config`](crate::HttpClient::https_with_config).
pub fn client_config(roots: RootCertStore) -> Result<ClientConfig, rustls::Error> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Like [`client_config`], presenting `chain` (the client's certificate first) and `key` to
/// servers that ask for a client certificate: mutual TLS (RFC 8705) for
/// `tls_client_auth`, `self_signed_tls_client_auth` and certificate-bound tokens.
pub fn client_config_with_certificate(
    roots: RootCertStore,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<ClientConfig, rustls::Error> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
}

/// A connector for `https` (HTTP/2 or HTTP/1.1 by ALPN) and plain `http`, over `config`.
pub(crate) fn connector(
    config: ClientConfig,
) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector> {
    connector_over(
        config,
        hyper_util::client::legacy::connect::HttpConnector::new(),
    )
}

/// [`connector`] over `http` (for example a connector with a resolver of its own). The TLS
/// server name is the URL's host, whatever address the resolver chose.
pub(crate) fn connector_over<R>(
    config: ClientConfig,
    mut http: hyper_util::client::legacy::connect::HttpConnector<R>,
) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector<R>> {
    http.enforce_http(false);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http)
}
