//! The outcome of one notification: its result paired with the HTTP response to send back.

use http::{HeaderValue, StatusCode, header};

use super::*;
use crate::body::APPLICATION_JSON;

/// The result of processing one notification, and the response to send back.
#[derive(Debug)]
pub struct NotificationOutcome<T> {
    /// What the notification carried, or why it was refused.
    pub result: Result<T, NotificationRefusal>,
    /// The HTTP response to send (204, 400, 401 or 405; never 3xx).
    pub response: http::Response<Vec<u8>>,
}

impl<T> NotificationOutcome<T> {
    /// Pairs `result` with the response it calls for: 204 when accepted, otherwise the status
    /// of [`NotificationRefusal::status`] (401 with `WWW-Authenticate: Bearer
    /// error="invalid_token"`, 405 with `Allow: POST`, 400 with an `invalid_request` body).
    pub fn from_result(result: Result<T, NotificationRefusal>) -> NotificationOutcome<T> {
        finish(result)
    }
}

pub(super) fn finish<T>(result: Result<T, NotificationRefusal>) -> NotificationOutcome<T> {
    let response = match &result {
        Ok(_) => respond(StatusCode::NO_CONTENT, None, Vec::new()),
        Err(e) => error_response(e),
    };
    NotificationOutcome { result, response }
}

fn error_response(e: &NotificationRefusal) -> http::Response<Vec<u8>> {
    let status = e.status();
    match status {
        StatusCode::UNAUTHORIZED => respond(
            status,
            Some((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            )),
            Vec::new(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => respond(
            status,
            Some((header::ALLOW, HeaderValue::from_static("POST"))),
            Vec::new(),
        ),
        _ => {
            let body = br#"{"error":"invalid_request"}"#.to_vec();
            let mut r = respond(status, None, body);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(APPLICATION_JSON),
            );
            r
        }
    }
}

fn respond(
    status: StatusCode,
    extra: Option<(header::HeaderName, HeaderValue)>,
    body: Vec<u8>,
) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some((name, value)) = extra {
        h.insert(name, value);
    }
    r
}
