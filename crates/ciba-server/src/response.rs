//! Ready-to-send HTTP responses: JSON bodies with `Cache-Control: no-store` and
//! `Pragma: no-cache`, and OAuth error responses built from typed errors.
//!
//! Every error answer of this crate is a JSON OAuth error with a worded `error_description`
//! (never the name of a Rust type), including the answers about the HTTP request itself: 405
//! with `Allow: POST` for another method on a `POST`-only endpoint, 413 for a body over the
//! limit, 408 for a body that did not arrive in time (see
//! [`BodyError`](crate::incoming::BodyError)).

use std::borrow::Cow;

use ciba_core::ErrorCode;
use ciba_core::wire::APPLICATION_JSON;
use ciba_core::wire::is_valid_error_text;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value};

/// A typed error that maps to an OAuth error response.
pub trait ProtocolError: std::fmt::Debug {
    /// The `error` code.
    fn code(&self) -> ErrorCode;
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// A short `error_description` (characters RFC 6749 forbids are dropped when sent).
    fn description(&self) -> Cow<'static, str>;
    /// Seconds for a `Retry-After` header, for 503 answers.
    fn retry_after(&self) -> Option<u64> {
        None
    }
    /// The methods for an `Allow` header, for 405 answers.
    fn allow(&self) -> Option<&'static str> {
        None
    }
}

/// A refusal: the typed reason, and the response that tells the peer.
#[derive(Debug)]
pub struct Rejection<E> {
    /// Why the request was refused.
    pub error: E,
    /// The response to send: status, `Content-Type: application/json`,
    /// `Cache-Control: no-store`, `Pragma: no-cache`, a `WWW-Authenticate` challenge on 401,
    /// `Allow` on 405, `Retry-After` on 503, and the `{"error", "error_description"}` body.
    pub response: http::Response<Vec<u8>>,
}

impl<E: ProtocolError> Rejection<E> {
    /// Builds the response for `error`. `realm` names the protection space in the
    /// `WWW-Authenticate` challenge of 401 answers (the issuer is a good choice).
    pub fn new(error: E, realm: &str) -> Rejection<E> {
        let response = error_response(&error, realm);
        Rejection { error, response }
    }

    /// The `error` code sent.
    pub fn code(&self) -> ErrorCode {
        self.error.code()
    }

    /// The HTTP status sent.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The response, without the typed reason.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        self.response
    }
}

/// Keeps only the characters RFC 6749 allows in `error_description`, at most 200 of them.
pub(crate) fn sanitize_description(text: &str) -> String {
    sanitized(text).into_owned()
}

/// `sanitize_description`, borrowing `text` when it is clean already (as the server's own
/// descriptions are): no copy, no per-character filter.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn sanitized(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_DESCRIPTION && is_valid_error_text(text) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter(|c| c.is_ascii() && is_valid_error_text(c.encode_utf8(&mut [0u8; 4])))
            .take(MAX_DESCRIPTION)
            .collect(),
    )
}

/// The most characters of an `error_description` we send.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub const MAX_DESCRIPTION: usize = 200;

/// An OAuth error body, serialized as [`error_body`]'s object is.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
#[derive(serde::Serialize)]
pub struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<Cow<'a, str>>,
}

#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
impl<'a> ErrorBody<'a> {
    /// The body of the error `code` with `description`, sanitized (dropped when it is empty).
    pub fn new(code: &'a ErrorCode, description: Option<&'a str>) -> ErrorBody<'a> {
        ErrorBody {
            error: code.as_str(),
            error_description: description.map(sanitized).filter(|d| !d.is_empty()),
        }
    }
}

/// The OAuth error body for `code` and an optional description.
pub fn error_body(code: &ErrorCode, description: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("error".into(), Value::String(code.as_str().to_owned()));
    if let Some(d) = description.map(sanitize_description)
        && !d.is_empty()
    {
        m.insert("error_description".into(), Value::String(d));
    }
    Value::Object(m)
}

fn error_response<E: ProtocolError>(error: &E, realm: &str) -> http::Response<Vec<u8>> {
    let code = error.code();
    let description = error.description();
    let mut response =
        serialized_response(error.status(), &ErrorBody::new(&code, Some(&description)));
    if error.status() == StatusCode::UNAUTHORIZED {
        let challenge = HeaderValue::from_str(&format!("Basic realm=\"{}\"", realm_text(realm)))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"ciba\""));
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    if let Some(secs) = error.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(methods) = error.allow() {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(methods));
    }
    response
}

fn realm_text(realm: &str) -> String {
    realm
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .take(200)
        .collect()
}

/// A response with `status`, the JSON `body`, `Content-Type: application/json`,
/// `Cache-Control: no-store` and `Pragma: no-cache`.
pub fn json_response(status: StatusCode, body: &Value) -> http::Response<Vec<u8>> {
    serialized_response(status, body)
}

/// [`json_response`] for any serializable `body`: a typed body is encoded straight into
/// the response bytes, with no JSON object built and dropped on the way.
pub(crate) fn serialized_response<T: serde::Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> http::Response<Vec<u8>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = http::Response::new(bytes);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `Debug` for a response whose body holds a secret (an `auth_req_id` or tokens): status and
/// headers, and only the length of the body.
pub(crate) struct RedactedResponse<'a>(pub(crate) &'a http::Response<Vec<u8>>);

impl std::fmt::Debug for RedactedResponse<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.0.status())
            .field("headers", self.0.headers())
            .field("body_bytes", &self.0.body().len())
            .finish_non_exhaustive()
    }
}
