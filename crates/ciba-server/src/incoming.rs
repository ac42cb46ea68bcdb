//! What the authorization server hands over from an HTTP request it received.

use http::{HeaderMap, Method};

/// Facts about the TLS client certificate of the connection, extracted by the AS's TLS
/// terminator, for `tls_client_auth` (RFC 8705 section 2.1). The certificate chain must
/// already have been validated against the AS's trust anchors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsClientCertificate {
    /// The subject distinguished name, in the string form used at registration.
    pub subject_dn: Option<String>,
    /// dNSName subject alternative names.
    pub san_dns: Vec<String>,
    /// uniformResourceIdentifier subject alternative names.
    pub san_uri: Vec<String>,
    /// iPAddress subject alternative names, in text form.
    pub san_ip: Vec<String>,
    /// rfc822Name subject alternative names.
    pub san_email: Vec<String>,
}

/// An HTTP request as the server helper sees it: method, headers, body, and the client
/// certificate facts when the connection used mutual TLS.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The request body, as received.
    pub body: &'a [u8],
    /// The validated TLS client certificate, if any.
    pub client_certificate: Option<&'a TlsClientCertificate>,
}

impl<'a> IncomingRequest<'a> {
    /// A request without a client certificate.
    pub fn new(method: &'a Method, headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        IncomingRequest {
            method,
            headers,
            body,
            client_certificate: None,
        }
    }

    /// The parts of an `http::Request`.
    pub fn from_http<B: AsRef<[u8]>>(request: &'a http::Request<B>) -> Self {
        IncomingRequest::new(request.method(), request.headers(), request.body().as_ref())
    }

    /// The same request, with the connection's client certificate facts.
    pub fn with_client_certificate(self, certificate: &'a TlsClientCertificate) -> Self {
        IncomingRequest {
            client_certificate: Some(certificate),
            ..self
        }
    }
}
