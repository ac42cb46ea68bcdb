//! OAuth error responses: the codes CIBA, RFC 6749, RFC 6750 and RFC 9449 define, the
//! `error` / `error_description` / `error_uri` body, and `WWW-Authenticate` challenges.
//!
//! A peer's `error_description` and `error_uri` end up on terminals and in logs, so they are
//! cleaned as they are read ([`sanitize_text`]): no control character (an `ESC [31m` colour
//! sequence, `\r` overwriting a line, `BEL`, the one-byte CSI `U+009B`) and no Unicode
//! bidirectional override survives, and at most [`MAX_ERROR_TEXT_CHARS`] characters are kept.
//! `Display` cleans again, for errors built by hand. The `error` code itself must already be
//! printable ASCII (RFC 6749).

use std::fmt;

use http::StatusCode;
use serde_json::{Map, Value};

use crate::body::{APPLICATION_JSON, check_content_type, opt_str, parse_json_object};
use crate::error::{ParseError, ParseErrorKind};
use crate::limits::Limits;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )*) => {
        /// An OAuth `error` code. Codes this crate does not know are kept in [`ErrorCode::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code not defined by the specifications this crate implements.
            Other(String),
        }

        impl ErrorCode {
            /// The code as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $code, )*
                    ErrorCode::Other(s) => s,
                }
            }

            /// The code as a `'static` label for metrics: the wire code of a known variant,
            /// `"other"` for [`ErrorCode::Other`] (a peer's free text never becomes a label).
            pub fn label(&self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $code, )*
                    ErrorCode::Other(_) => "other",
                }
            }

            /// Maps a wire code to its variant.
            pub fn from_wire(code: &str) -> ErrorCode {
                match code {
                    $( $code => ErrorCode::$variant, )*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest => "invalid_request",
    /// The requested scope is invalid, unknown or malformed.
    InvalidScope => "invalid_scope",
    /// CIBA 13: the `login_hint_token` has expired.
    ExpiredLoginHintToken => "expired_login_hint_token",
    /// CIBA 13: the OP does not know the user named by the hint.
    UnknownUserId => "unknown_user_id",
    /// The client may not use this grant or endpoint.
    UnauthorizedClient => "unauthorized_client",
    /// CIBA 13: a user code is required but missing.
    MissingUserCode => "missing_user_code",
    /// CIBA 13: the user code is invalid.
    InvalidUserCode => "invalid_user_code",
    /// CIBA 13: the binding message is invalid or unacceptable.
    InvalidBindingMessage => "invalid_binding_message",
    /// Client authentication failed.
    InvalidClient => "invalid_client",
    /// The user or the OP denied the request.
    AccessDenied => "access_denied",
    /// CIBA 11: the user has not decided yet.
    AuthorizationPending => "authorization_pending",
    /// CIBA 11: the client polls too fast; add 5 seconds to the interval.
    SlowDown => "slow_down",
    /// CIBA 11: the `auth_req_id` has expired.
    ExpiredToken => "expired_token",
    /// The grant (here the `auth_req_id`) is invalid, used or belongs to another client.
    InvalidGrant => "invalid_grant",
    /// The grant type is not supported.
    UnsupportedGrantType => "unsupported_grant_type",
    /// CIBA 12: the OP could not get a result from the authentication device.
    TransactionFailed => "transaction_failed",
    /// RFC 8707: the requested resource is invalid.
    InvalidTarget => "invalid_target",
    /// The server met an unexpected condition.
    ServerError => "server_error",
    /// The server is temporarily overloaded or down.
    TemporarilyUnavailable => "temporarily_unavailable",
    /// RFC 9449: the DPoP proof is invalid.
    InvalidDpopProof => "invalid_dpop_proof",
    /// RFC 9449: the server wants a DPoP proof carrying its nonce.
    UseDpopNonce => "use_dpop_nonce",
    /// The signed request object is invalid.
    InvalidRequestObject => "invalid_request_object",
    /// The `request` parameter is not supported.
    RequestNotSupported => "request_not_supported",
    /// The `request_uri` parameter is not supported.
    RequestUriNotSupported => "request_uri_not_supported",
    /// RFC 7591: client metadata is invalid.
    InvalidClientMetadata => "invalid_client_metadata",
    /// RFC 6750: the access token is invalid.
    InvalidToken => "invalid_token",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True when every character is allowed in `error` / `error_description` by RFC 6749
/// (printable ASCII except `"` and `\`).
pub fn is_valid_error_text(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// The most characters of a peer's `error_description` or `error_uri` kept.
pub const MAX_ERROR_TEXT_CHARS: usize = 512;

/// Unicode's bidirectional formatting characters: they reorder what a terminal shows.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` made safe to print: each whitespace control character (tab, CR, LF, ...) becomes a
/// space; every other control character (C0, DEL, C1: `ESC`, `BEL`, CSI `U+009B`, ...) and
/// every bidirectional formatting character is dropped, so no escape sequence is left to
/// interpret; printable text is kept as it is, up to [`MAX_ERROR_TEXT_CHARS`] characters (a
/// longer text is cut and ends with `…`).
pub fn sanitize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_ERROR_TEXT_CHARS));
    let mut kept = 0;
    for c in text.chars() {
        let c = match c {
            c if c.is_control() && c.is_whitespace() => ' ',
            c if c.is_control() || is_bidi_control(c) => continue,
            c => c,
        };
        if kept == MAX_ERROR_TEXT_CHARS {
            out.push('…');
            break;
        }
        out.push(c);
        kept += 1;
    }
    out
}

/// An error response from the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct OAuthError {
    /// The `error` code.
    pub code: ErrorCode,
    /// `error_description`, if sent (cleaned with [`sanitize_text`] when read from a peer).
    pub description: Option<String>,
    /// `error_uri`, if sent (cleaned with [`sanitize_text`] when read from a peer).
    pub uri: Option<String>,
    /// The HTTP status the error came with.
    pub status: StatusCode,
    /// `WWW-Authenticate` challenges sent with the error (401 responses, DPoP).
    pub challenges: Vec<Challenge>,
    /// The `DPoP-Nonce` header, when the server sent one.
    pub dpop_nonce: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server answered {} ({})",
            self.code,
            self.status.as_u16()
        )?;
        if let Some(d) = &self.description {
            write!(f, ": {}", sanitize_text(d))?;
        }
        Ok(())
    }
}

impl OAuthError {
    /// An error with only a code and status, as a server would build one.
    pub fn new(code: ErrorCode, status: StatusCode) -> Self {
        OAuthError {
            code,
            description: None,
            uri: None,
            status,
            challenges: Vec::new(),
            dpop_nonce: None,
        }
    }

    /// Parses an error response (any status of 400 or above carrying an OAuth error body).
    ///
    /// A 401 whose body is empty or not JSON but which has a `WWW-Authenticate` challenge with an
    /// `error` parameter is accepted too (RFC 6750 style).
    pub fn from_response(
        resp: &http::Response<Vec<u8>>,
        limits: &Limits,
    ) -> Result<Self, ParseError> {
        let body = resp.body();
        let status = resp.status();
        let challenges = parse_www_authenticate(resp.headers(), limits);
        let dpop_nonce = header_str(resp.headers(), "dpop-nonce", limits);
        let fail = |kind| ParseError::new(kind, body, limits.max_body_bytes);
        if !(status.is_client_error() || status.is_server_error()) {
            return Err(fail(ParseErrorKind::UnexpectedStatus {
                status: status.as_u16(),
            }));
        }
        let json = check_content_type(resp.headers(), APPLICATION_JSON, body, limits)
            .and_then(|()| parse_json_object(body, limits));
        let map = match json {
            Ok(map) => map,
            Err(e) => {
                // Fall back to the challenge's own error parameter (RFC 6750 3).
                let from_challenge = challenges
                    .iter()
                    .find_map(|c| c.param("error").map(|e| (e.to_owned(), c)));
                return match from_challenge {
                    Some((code, c)) if is_valid_error_text(&code) && !code.is_empty() => {
                        Ok(OAuthError {
                            code: ErrorCode::from_wire(&code),
                            description: c.param("error_description").map(sanitize_text),
                            uri: c.param("error_uri").map(sanitize_text),
                            status,
                            challenges: challenges.clone(),
                            dpop_nonce,
                        })
                    }
                    _ => Err(e),
                };
            }
        };
        let (code, description, uri) = error_members(&map).map_err(fail)?;
        Ok(OAuthError {
            code,
            description,
            uri,
            status,
            challenges,
            dpop_nonce,
        })
    }

    /// The JSON body a server sends for this error.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("error".into(), Value::String(self.code.as_str().to_owned()));
        if let Some(d) = &self.description {
            m.insert("error_description".into(), Value::String(d.clone()));
        }
        if let Some(u) = &self.uri {
            m.insert("error_uri".into(), Value::String(u.clone()));
        }
        Value::Object(m)
    }
}

/// Reads `error`, `error_description` and `error_uri` from a JSON object, checking the
/// RFC 6749 character rules for `error` and cleaning the other two with [`sanitize_text`].
pub(crate) fn error_members(
    map: &Map<String, Value>,
) -> Result<(ErrorCode, Option<String>, Option<String>), ParseErrorKind> {
    let code = match opt_str(map, "error")? {
        Some(c) if !c.is_empty() && is_valid_error_text(&c) => c,
        Some(_) => {
            return Err(ParseErrorKind::InvalidMember {
                member: "error",
                reason: "empty or has characters RFC 6749 forbids",
            });
        }
        None => return Err(ParseErrorKind::MissingMember { member: "error" }),
    };
    let description = opt_str(map, "error_description")?.map(|d| sanitize_text(&d));
    let uri = opt_str(map, "error_uri")?.map(|u| sanitize_text(&u));
    Ok((ErrorCode::from_wire(&code), description, uri))
}

fn header_str(headers: &http::HeaderMap, name: &str, limits: &Limits) -> Option<String> {
    let v = headers.get(name)?.to_str().ok()?;
    (v.len() <= limits.max_header_bytes).then(|| v.trim().to_owned())
}

/// One `WWW-Authenticate` challenge: an auth scheme and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, for example `Bearer`, `DPoP` or `Basic` (as sent).
    pub scheme: String,
    /// Parameters in the order sent, names lower-cased, quoted values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses every `WWW-Authenticate` header into challenges. Malformed or oversize headers are
/// skipped rather than failing the whole response.
pub fn parse_www_authenticate(headers: &http::HeaderMap, limits: &Limits) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in headers.get_all(http::header::WWW_AUTHENTICATE) {
        let Ok(s) = value.to_str() else { continue };
        if s.len() > limits.max_header_bytes {
            continue;
        }
        if let Some(mut parsed) = parse_challenges(s) {
            out.append(&mut parsed);
        }
    }
    out
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses one header value into challenges (RFC 9110 section 11.6.1). `None` when malformed.
pub fn parse_challenges(s: &str) -> Option<Vec<Challenge>> {
    let mut p = Cursor { s, i: 0 };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_ws_and_commas();
        if p.done() {
            break;
        }
        let scheme = p.token()?;
        let mut ch = Challenge {
            scheme,
            params: Vec::new(),
        };
        loop {
            p.skip_ws();
            let save = p.i;
            // A parameter is token '=' value; anything else starts the next challenge.
            let Some(name) = p.token() else { break };
            p.skip_ws();
            if !p.eat('=') {
                p.i = save;
                break;
            }
            p.skip_ws();
            let value = if p.peek() == Some('"') {
                p.quoted()?
            } else {
                p.token68_or_token()?
            };
            ch.params.push((name.to_ascii_lowercase(), value));
            p.skip_ws();
            if !p.eat(',') {
                break;
            }
        }
        out.push(ch);
    }
    Some(out)
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        self.s.get(self.i..).unwrap_or_default()
    }
    fn done(&self) -> bool {
        self.rest().is_empty()
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
    }
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| self.s.get(start..self.i).unwrap_or_default().to_owned())
    }
    fn token68_or_token(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| is_tchar(c) || c == '/' || c == '=')
        {
            self.i += 1;
        }
        Some(self.s.get(start..self.i).unwrap_or_default().to_owned())
    }
    fn quoted(&mut self) -> Option<String> {
        if !self.eat('"') {
            return None;
        }
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            self.i += c.len_utf8();
            match c {
                '"' => return Some(out),
                '\\' => {
                    let n = self.peek()?;
                    self.i += n.len_utf8();
                    out.push(n);
                }
                c => out.push(c),
            }
        }
    }
}
