//! What the authorization server hands over from an HTTP request it received, and the
//! answer when the transport could not read its body ([`BodyError`]).

use std::borrow::Cow;

use ciba_core::ErrorCode;
use ciba_core::wire::{FORM_URLENCODED, FormError, media_type_is, parse_form};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, StatusCode};

use crate::config::RequestLimits;
use crate::response::{ProtocolError, Rejection};
use crate::server::CibaServer;

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
    /// The end-entity certificate, DER-encoded, as presented in the handshake: what
    /// certificate-bound tokens are bound to (`x5t#S256`, RFC 8705 section 3) and what
    /// `self_signed_tls_client_auth` compares with the registered keys (section 2.2).
    pub der: Option<Vec<u8>>,
}

impl TlsClientCertificate {
    /// The facts of a certificate known only by its DER encoding (what a TLS stack such as
    /// rustls hands over): no subject or alternative names are extracted, so
    /// `tls_client_auth` does not match it; `self_signed_tls_client_auth` and
    /// certificate-bound tokens work.
    pub fn from_der(der: impl Into<Vec<u8>>) -> TlsClientCertificate {
        TlsClientCertificate {
            der: Some(der.into()),
            ..TlsClientCertificate::default()
        }
    }
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

    /// The form parameters of a `POST` with an `application/x-www-form-urlencoded` body, the
    /// only shape both CIBA endpoints accept.
    pub(crate) fn form_post(
        &self,
        limits: &RequestLimits,
    ) -> Result<Vec<(String, String)>, FormPostError> {
        if self.method != Method::POST {
            return Err(FormPostError::MethodNotAllowed);
        }
        let is_form = self
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| media_type_is(v, FORM_URLENCODED));
        if !is_form {
            return Err(FormPostError::UnsupportedContentType);
        }
        Ok(parse_form(
            self.body,
            limits.max_body_bytes,
            limits.max_parameters,
        )?)
    }

    /// The same request, with the connection's client certificate facts.
    pub fn with_client_certificate(self, certificate: &'a TlsClientCertificate) -> Self {
        IncomingRequest {
            client_certificate: Some(certificate),
            ..self
        }
    }
}

/// Why a request is not a usable form `POST`; each endpoint maps it into its own error type.
#[derive(Debug)]
pub(crate) enum FormPostError {
    /// The method is not `POST`.
    MethodNotAllowed,
    /// The body is not `application/x-www-form-urlencoded`.
    UnsupportedContentType,
    /// The form body is malformed or too large.
    Form(FormError),
}

impl From<FormError> for FormPostError {
    fn from(e: FormError) -> Self {
        FormPostError::Form(e)
    }
}

/// Why a transport could not hand a request body over to the endpoints. The transport
/// (ciba-hyper, or the AS's own HTTP stack) reads the body under a size cap and a time limit
/// and, when either is broken, answers with [`CibaServer::refuse_body`] instead of calling an
/// endpoint: a JSON `invalid_request` with `Cache-Control: no-store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than `limit` bytes: 413.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive within the server's time limit: 408.
    #[error("the request body did not arrive in time")]
    TimedOut,
    /// The body could not be read (the connection broke, or its framing is invalid): 400.
    #[error("the request body could not be read")]
    Unreadable,
}

impl ProtocolError for BodyError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }

    fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TimedOut => StatusCode::REQUEST_TIMEOUT,
            BodyError::Unreadable => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> Cow<'static, str> {
        Cow::Owned(self.to_string())
    }
}

impl CibaServer {
    /// The answer to a request whose body the transport could not read: 413, 408 or 400,
    /// each a JSON `invalid_request` with a worded description and `Cache-Control: no-store`.
    pub fn refuse_body(&self, error: BodyError) -> Rejection<BodyError> {
        Rejection::new(error, &self.config().issuer)
    }
}
