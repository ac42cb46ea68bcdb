//! Reading JSON bodies and building form bodies, with size limits and strict checks.

use http::header::CONTENT_TYPE;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{ParseError, ParseErrorKind};
use crate::limits::Limits;

/// Media type of every JSON body in CIBA.
pub const APPLICATION_JSON: &str = "application/json";
/// Media type of every form body in CIBA.
pub const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";
/// Media type of a JWK Set document (RFC 7517 section 8.5.1).
pub const APPLICATION_JWK_SET_JSON: &str = "application/jwk-set+json";

/// Checks that `headers` declare the media type `expected` (parameters such as `charset` allowed).
pub fn check_content_type(
    headers: &http::HeaderMap,
    expected: &'static str,
    body: &[u8],
    limits: &Limits,
) -> Result<(), ParseError> {
    check_content_type_in(headers, &[expected], expected, body, limits)
}

/// Checks that `headers` declare one of the media types `accepted` (parameters allowed); the
/// error names them as `expected`.
pub(crate) fn check_content_type_in(
    headers: &http::HeaderMap,
    accepted: &[&str],
    expected: &'static str,
    body: &[u8],
    limits: &Limits,
) -> Result<(), ParseError> {
    let found = headers.get(CONTENT_TYPE).map(|v| v.to_str());
    let ok = match found {
        Some(Ok(v)) => accepted.iter().any(|a| media_type_is(v, a)),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let found = match found {
        Some(Ok(v)) => Some(v.chars().take(128).collect()),
        Some(Err(_)) => Some("<non-ASCII value>".to_owned()),
        None => None,
    };
    Err(ParseError::new(
        ParseErrorKind::UnexpectedContentType { expected, found },
        body,
        limits.max_body_bytes,
    ))
}

/// True when the `Content-Type` value `value` names the media type `expected`.
pub fn media_type_is(value: &str, expected: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(expected)
}

/// Parses `body` as one JSON object, refusing oversize bodies, non-objects and duplicate
/// top-level members (a duplicate lets two parsers see two different messages).
pub fn parse_json_object(body: &[u8], limits: &Limits) -> Result<Map<String, Value>, ParseError> {
    let fail = |kind| ParseError::new(kind, body, limits.max_body_bytes);
    if body.len() > limits.max_body_bytes {
        return Err(fail(ParseErrorKind::BodyTooLarge {
            limit: limits.max_body_bytes,
            actual: body.len(),
        }));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = de.deserialize_any(StrictObjectVisitor);
    let parsed = parsed.and_then(|m| de.end().map(|()| m));
    match parsed {
        Ok(Ok(map)) => Ok(map),
        Ok(Err(kind)) => Err(fail(kind)),
        Err(e) if e.is_data() => Err(fail(ParseErrorKind::NotAnObject)),
        Err(e) => Err(fail(ParseErrorKind::InvalidJson {
            line: e.line(),
            column: e.column(),
        })),
    }
}

struct StrictObjectVisitor;

impl<'de> Visitor<'de> for StrictObjectVisitor {
    type Value = Result<Map<String, Value>, ParseErrorKind>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        let mut duplicate = None;
        while let Some((k, v)) = access.next_entry::<String, Value>()? {
            if map.contains_key(&k) && duplicate.is_none() {
                duplicate = Some(k.clone());
            }
            map.insert(k, v);
        }
        Ok(match duplicate {
            Some(member) => Err(ParseErrorKind::DuplicateMember { member }),
            None => Ok(map),
        })
    }
}

/// Reads an optional string member; a present non-string is an error.
pub(crate) fn opt_str(
    map: &Map<String, Value>,
    member: &'static str,
) -> Result<Option<String>, ParseErrorKind> {
    match map.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ParseErrorKind::InvalidMember {
            member,
            reason: "not a string",
        }),
    }
}

/// Reads a required, non-empty string member.
pub(crate) fn req_str(
    map: &Map<String, Value>,
    member: &'static str,
) -> Result<String, ParseErrorKind> {
    match opt_str(map, member)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(ParseErrorKind::InvalidMember {
            member,
            reason: "empty string",
        }),
        None => Err(ParseErrorKind::MissingMember { member }),
    }
}

/// A JSON number read as whole seconds: an integer as it is; a number written with a fraction
/// part or an exponent (`3600.0`, `3.6e3`, `5.9`; RFC 8259 makes them the same kind of number)
/// rounded down, saturating at `u64::MAX`. `None` for a negative number.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn whole_seconds(n: &serde_json::Number) -> Option<u64> {
    if let Some(v) = n.as_u64() {
        return Some(v);
    }
    let f = n.as_f64()?;
    // `as` saturates: anything at or above 2^64 becomes u64::MAX.
    (f.is_finite() && f >= 0.0).then(|| f.floor() as u64)
}

/// Builds an `application/x-www-form-urlencoded` body from name/value pairs.
pub fn encode_form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish().into_bytes()
}

/// Why a form body was refused by [`parse_form`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// The body is larger than allowed.
    #[error("form body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More parameters than allowed.
    #[error("form body has more than {limit} parameters")]
    TooManyParameters {
        /// The limit.
        limit: usize,
    },
    /// A parameter appears more than once (RFC 6749 section 3.1 forbids repeats).
    #[error("parameter {name} appears more than once")]
    Repeated {
        /// The repeated name.
        name: String,
    },
    /// The body is not UTF-8 after percent-decoding.
    #[error("form body is not valid UTF-8")]
    NotUtf8,
}

/// Parses a form body into name/value pairs. Refuses repeated names, oversize bodies, too many
/// parameters and invalid UTF-8. Parameters with an empty value are treated as absent
/// (RFC 6749 section 3.1).
pub fn parse_form(
    body: &[u8],
    max_bytes: usize,
    max_params: usize,
) -> Result<Vec<(String, String)>, FormError> {
    if body.len() > max_bytes {
        return Err(FormError::TooLarge { limit: max_bytes });
    }
    if std::str::from_utf8(body).is_err() {
        return Err(FormError::NotUtf8);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
            return Err(FormError::NotUtf8);
        }
        if out.iter().any(|(n, _)| n == &k) {
            return Err(FormError::Repeated {
                name: k.chars().take(64).collect(),
            });
        }
        if out.len() >= max_params {
            return Err(FormError::TooManyParameters { limit: max_params });
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    out.retain(|(_, v)| !v.is_empty());
    Ok(out)
}
