//! The authorization server over https, with optional client-certificate authentication
//! (feature `tls`): RFC 8705 mutual TLS for `self_signed_tls_client_auth` and for
//! certificate-bound access tokens.
//!
//! [`server_config`] builds the rustls configuration (TLS 1.3 and 1.2, aws-lc-rs, ALPN
//! `http/1.1`) from the server's certificate chain and key, and what to do about client
//! certificates ([`ClientCertificates`]). [`AuthorizationServer::serve_tls`] serves with
//! it; the end-entity certificate a client presented reaches ciba-server with every request
//! of its connection (as [`PeerCertificate`](crate::PeerCertificate), then
//! `TlsClientCertificate::from_der`).
//!
//! With [`ClientCertificates::SelfSigned`], any client certificate is accepted at the TLS
//! layer once the client has proved it holds the certificate's private key (the handshake
//! signature is verified); the certificate's chain is not. ciba-server then authenticates the
//! client by comparing the certificate's public key with the keys it registered
//! (`self_signed_tls_client_auth`), and binds tokens to the certificate. Because such a
//! certificate's names are not vouched for by anyone, only the DER is passed on: a client
//! registered for `tls_client_auth` (PKI, matched by subject or SAN) never matches one.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::TcpListener;

use super::AuthorizationServer;
use crate::limits::ServeOptions;
use crate::serve::{RunningServer, Transport, accept_loop};

/// What the server asks of clients' certificates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientCertificates {
    /// No client certificates are requested.
    None,
    /// Certificates are requested but optional; any certificate whose private key the
    /// client proves is accepted (see the [module documentation](self)).
    SelfSigned,
    /// Certificates are checked by this verifier (for example rustls's
    /// `WebPkiClientVerifier` over your client CA).
    Verified(Arc<dyn ClientCertVerifier>),
}

/// The rustls configuration of an https authorization server: `chain` and `key` are the
/// server's certificate chain and private key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: ClientCertificates,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match clients {
        ClientCertificates::None => builder.with_no_client_auth(),
        ClientCertificates::SelfSigned => {
            builder.with_client_cert_verifier(Arc::new(AnyClientCertificate { provider }))
        }
        ClientCertificates::Verified(verifier) => builder.with_client_cert_verifier(verifier),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts any client certificate whose private key the client proves (the handshake
/// signature is verified with the certificate's public key); the chain is not verified.
#[derive(Debug)]
struct AnyClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl AuthorizationServer {
    /// Serves https on `listener` with `config` (see [`server_config`]) and the default
    /// [`ServeOptions`]. The TLS handshake must finish within the head timeout.
    pub fn serve_tls(
        self,
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<RunningServer> {
        self.serve_tls_with(listener, config, ServeOptions::default())
    }

    /// [`AuthorizationServer::serve_tls`] within `options`.
    pub fn serve_tls_with(
        self,
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        options: ServeOptions,
    ) -> std::io::Result<RunningServer> {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let server = accept_loop(listener, options, Transport::Tls(acceptor), move || {
            hyper_util::service::TowerToHyperService::new(self.clone())
        })?;
        tracing::info!(addr = %server.local_addr(), "authorization server listening (https)");
        Ok(server)
    }
}
