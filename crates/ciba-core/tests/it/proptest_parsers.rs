//! Property: every client-side parser answers arbitrary input with a value or a typed error,
//! never a panic: token responses, ping and push notifications, ID tokens (header, payload and
//! claims, signed or not), OAuth error bodies reaching the poller, and HTTP-dates.

use crate::support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::id_token::{AUTH_REQ_ID_CLAIM, IdTokenContext};
use ciba_core::jose::jws::sign_compact;
use ciba_core::notification::{receive_ping, receive_push};
use ciba_core::poll::{PollAction, PollConfig, Poller};
use ciba_core::wire::parse_http_date;
use ciba_core::{DeliveryMode, Limits};
use ciba_core::{MAX_TOKEN_EXPIRES_IN, TokenResponse, TokenResponseError, TokenType};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON values, biased towards the names and types these parsers look at.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(Value::from(1_700_000_000)),
        Just(Value::from(CLIENT_ID)),
        Just(Value::from(ISSUER)),
        Just(Value::from(AUTH_REQ_ID)),
        "[ -~]{0,12}".prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    crate::support::names_or(
        &[
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "id_token",
            "scope",
            "auth_req_id",
            "error",
            "error_description",
            "iss",
            "sub",
            "aud",
            "azp",
            "exp",
            "iat",
            "nbf",
            "auth_time",
            "acr",
            "amr",
            "at_hash",
            AUTH_REQ_ID_CLAIM,
            "urn:openid:params:jwt:claim:rt_hash",
            "alg",
            "kid",
            "crit",
            "jwk",
        ],
        "[a-z_]{1,8}",
    )
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((member_name(), json_value()), 0..10)
        .prop_map(|kv| kv.into_iter().collect())
}

/// Bodies: raw bytes, or JSON objects of the right vocabulary.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_object().prop_map(|m| Value::Object(m).to_string().into_bytes()),
    ]
}

fn header_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("Bearer 8d67dc78".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn response(status: u16, content_type: Option<String>, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(body);
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    if let Some(ct) = content_type.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

fn notification(
    method: &str,
    auth: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
) -> http::Request<Vec<u8>> {
    let mut r = http::Request::new(body);
    *r.method_mut() = method.parse().unwrap();
    if let Some(a) = auth.and_then(|a| a.parse().ok()) {
        r.headers_mut().insert("authorization", a);
    }
    if let Some(ct) = content_type.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

fn lookup(id: &str) -> Option<String> {
    (id == AUTH_REQ_ID).then(|| "8d67dc78".to_owned())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ping_receiver_never_panics_or_redirects(
        method in prop_oneof![Just("POST"), Just("GET"), Just("PUT")],
        auth in header_text(),
        ct in header_text(),
        body in body(),
    ) {
        let out = receive_ping(&notification(method, auth, ct, body), &lookup, &Limits::DEFAULT);
        let status = out.response.status();
        prop_assert!(!status.is_redirection());
        prop_assert_eq!(out.result.is_ok(), status == http::StatusCode::NO_CONTENT);
    }

    #[test]
    fn push_receiver_never_panics_or_redirects(
        auth in prop_oneof![Just(Some("Bearer 8d67dc78".to_owned())), header_text()],
        body in prop_oneof![
            body(),
            json_object().prop_map(|mut m| {
                m.insert("auth_req_id".into(), json!(AUTH_REQ_ID));
                Value::Object(m).to_string().into_bytes()
            }),
        ],
    ) {
        let v = validator(&client(DeliveryMode::Push));
        let req = notification("POST", auth, Some("application/json".into()), body);
        let out = receive_push(&req, &lookup, &v, t0(), &Limits::DEFAULT);
        let status = out.response.status();
        prop_assert!(!status.is_redirection());
        prop_assert_eq!(out.result.is_ok(), status == http::StatusCode::NO_CONTENT);
    }

    #[test]
    fn id_token_validator_never_panics_on_arbitrary_headers_and_payloads(
        header in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            json_object().prop_map(|m| Value::Object(m).to_string().into_bytes()),
        ],
        payload in body(),
        signature in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        );
        let v = validator(&client(DeliveryMode::Poll));
        prop_assert!(v.validate(&token, &IdTokenContext::standalone(), t0()).is_err());
    }

    #[test]
    fn validly_signed_arbitrary_claims_never_panic_and_pass_only_when_sound(
        extra in json_object(),
        keep_base in any::<bool>(),
        push in any::<bool>(),
    ) {
        let mut c = if keep_base { claims(t0()) } else { Map::new() };
        c.extend(extra);
        let token = sign_compact(Map::new(), &c, &signer("es256")).unwrap();
        let v = validator(&client(DeliveryMode::Push));
        let ctx = if push {
            IdTokenContext::push(AUTH_REQ_ID, "at", None)
        } else {
            IdTokenContext::token_endpoint(AUTH_REQ_ID, "at", None)
        };
        if let Ok(claims) = v.validate(&token, &ctx, t0()) {
            prop_assert_eq!(claims.iss.as_str(), ISSUER);
            prop_assert!(claims.aud.iter().any(|a| a == CLIENT_ID));
            prop_assert!(!claims.sub.is_empty());
            prop_assert!(claims.auth_req_id.as_deref().is_none_or(|id| id == AUTH_REQ_ID));
            if push {
                prop_assert!(claims.at_hash.is_some());
            }
        }
    }

    #[test]
    fn poller_never_panics_on_arbitrary_token_endpoint_answers(
        status in 100u16..600,
        ct in header_text(),
        body in body(),
        retry_after in header_text(),
        nonce in header_text(),
    ) {
        let c = client(DeliveryMode::Poll);
        let mut p = Poller::new(&c, &ack(t0(), 120, Some(5)), PollConfig::new(validator(&c)), t0()).unwrap();
        let r = rng();
        prop_assert!(matches!(p.next(at(5), &r), PollAction::Send(_)));
        let mut resp = response(status, ct, body);
        for (name, value) in [("retry-after", retry_after), ("dpop-nonce", nonce)] {
            if let Some(v) = value.and_then(|v| v.parse().ok()) {
                resp.headers_mut().insert(name, v);
            }
        }
        p.on_response(resp, at(6));
        match p.next(at(6), &r) {
            PollAction::Send(_) | PollAction::AwaitingResponse => {
                prop_assert!(false, "no request may follow at once");
            }
            _ => {}
        }
    }

    #[test]
    fn http_date_parser_accepts_what_it_should(
        day in 1u32..29, month in 0usize..12, year in 1970u32..2200,
        h in 0u32..24, m in 0u32..60, s in 0u32..60,
    ) {
        const M: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let imf = format!("Mon, {day:02} {} {year:04} {h:02}:{m:02}:{s:02} GMT", M[month]);
        let asctime = format!("Mon {} {day:>2} {h:02}:{m:02}:{s:02} {year:04}", M[month]);
        let a = parse_http_date(&imf);
        prop_assert!(a.is_some(), "{}", imf);
        prop_assert_eq!(a, parse_http_date(&asctime));
    }
}

// The properties below run through `run_counting`: besides never panicking, each asserts what
// holds of every `Ok` and every `Err`, and that its generator reaches both branches.

const CASES: u32 = 256;

/// The members `TokenResponse` names; every other member lands in `extra`.
const TOKEN_MEMBERS: [&str; 6] = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "id_token",
];

/// An optional member: mostly `good`, sometimes absent, sometimes any JSON value.
fn member(good: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        8 => good.prop_map(Some),
        3 => Just(None),
        1 => json_value().prop_map(Some),
    ]
}

/// A required member: nearly always `good`, sometimes absent or any JSON value.
fn required(good: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        18 => good.prop_map(Some),
        1 => Just(None),
        1 => json_value().prop_map(Some),
    ]
}

/// Token response objects: the named members mostly well-formed (so that a good share are
/// acceptable), sometimes empty, absent or of the wrong type, beside arbitrary other members.
fn token_response_object() -> impl Strategy<Value = Map<String, Value>> {
    let token = || {
        prop_oneof![
            10 => "[!-~]{1,16}".prop_map(Value::from),
            1 => Just(Value::from("")),
        ]
    };
    let token_type = prop_oneof![
        Just("Bearer"),
        Just("bearer"),
        Just("DPoP"),
        Just("DPOP"),
        Just("MAC"),
    ]
    .prop_map(Value::from);
    let expires_in = prop_oneof![
        (1u64..1_000_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(3600.9)),
        Just(json!(1e300)),
        Just(json!("3600")),
    ];
    (
        (required(token()), required(token_type), member(expires_in)),
        (
            member(token()),
            member("[a-z ]{0,20}".prop_map(Value::from)),
            member(token()),
        ),
        prop::collection::vec((member_name(), json_value()), 0..4),
    )
        .prop_map(|((at, tt, exp), (rt, scope, idt), extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            for (name, value) in [
                ("access_token", at),
                ("token_type", tt),
                ("expires_in", exp),
                ("refresh_token", rt),
                ("scope", scope),
                ("id_token", idt),
            ] {
                match value {
                    Some(v) => m.insert(name.into(), v),
                    None => m.remove(name),
                };
            }
            m
        })
}

/// What holds of the outcome of reading the token response `map` when `expected` was asked
/// for; `Ok(true)` when it was accepted.
fn check_token_response(
    map: &Map<String, Value>,
    outcome: &Result<TokenResponse, TokenResponseError>,
    expected: Option<TokenType>,
) -> Result<bool, TestCaseError> {
    let r = match outcome {
        Ok(r) => r,
        Err(e) => {
            check_error_text(e)?;
            match e {
                TokenResponseError::TokenTypeMismatch { expected: e, found } => {
                    prop_assert_eq!(Some(*e), expected);
                    prop_assert_ne!(e, found);
                }
                TokenResponseError::UnsupportedTokenType { found } => {
                    prop_assert!(found.chars().count() <= 64);
                }
                _ => {}
            }
            return Ok(false);
        }
    };
    prop_assert!(!r.access_token.is_empty());
    prop_assert_eq!(
        map.get("access_token").and_then(Value::as_str),
        Some(r.access_token.as_str())
    );
    let sent_type = map.get("token_type").and_then(Value::as_str);
    prop_assert_eq!(sent_type.and_then(TokenType::parse), Some(r.token_type));
    prop_assert!(expected.is_none_or(|e| e == r.token_type));
    if let Some(d) = r.expires_in {
        prop_assert!(d >= std::time::Duration::from_secs(1) && d <= MAX_TOKEN_EXPIRES_IN);
    }
    for (name, value) in [
        ("refresh_token", &r.refresh_token),
        ("scope", &r.scope),
        ("id_token", &r.id_token),
    ] {
        prop_assert_eq!(value.as_deref(), map.get(name).and_then(Value::as_str));
    }
    prop_assert!(r.refresh_token.as_deref().is_none_or(|t| !t.is_empty()));
    prop_assert!(r.id_token.as_deref().is_none_or(|t| !t.is_empty()));
    let others: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !TOKEN_MEMBERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    prop_assert_eq!(&r.extra, &others);
    Ok(true)
}

fn expected_type() -> impl Strategy<Value = Option<TokenType>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(TokenType::Bearer)),
        1 => Just(Some(TokenType::DPoP)),
    ]
}

#[test]
fn token_response_from_any_object_never_panics() {
    let objects = prop_oneof![1 => json_object(), 3 => token_response_object()];
    let counts = run_counting(CASES, (objects, expected_type()), |(map, expected)| {
        let raw = Value::Object(map.clone()).to_string();
        let outcome =
            TokenResponse::from_members(map.clone(), raw.as_bytes(), expected, &Limits::DEFAULT);
        check_token_response(&map, &outcome, expected)
    });
    assert_both_branches("token_response_from_any_object_never_panics", CASES, counts);
}

#[test]
fn token_response_parser_never_panics() {
    let strategy = (
        prop_oneof![5 => Just(200u16), 1 => 100u16..600],
        prop_oneof![5 => Just(Some("application/json".to_owned())), 1 => header_text()],
        prop_oneof![
            1 => body(),
            4 => token_response_object().prop_map(|m| Value::Object(m).to_string().into_bytes()),
        ],
        expected_type(),
    );
    let counts = run_counting(CASES, strategy, |(status, ct, body, expected)| {
        let resp = response(status, ct, body.clone());
        let outcome = TokenResponse::from_response(&resp, expected, &Limits::DEFAULT);
        match &outcome {
            Ok(r) => {
                prop_assert_eq!(status, 200);
                prop_assert_eq!(r.dpop_nonce.as_deref(), None);
                let map: Map<String, Value> = serde_json::from_slice(&body).unwrap();
                check_token_response(&map, &outcome, expected)
            }
            Err(TokenResponseError::OAuth(e)) => {
                prop_assert!(status >= 400);
                prop_assert_eq!(e.status.as_u16(), status);
                check_token_response(&Map::new(), &outcome, expected)
            }
            Err(TokenResponseError::Parse(e)) => {
                prop_assert!(e.raw.len() <= Limits::DEFAULT.max_body_bytes);
                prop_assert!(e.raw.len() <= body.len());
                check_token_response(&Map::new(), &outcome, expected)
            }
            Err(_) => {
                prop_assert_eq!(status, 200);
                check_token_response(&Map::new(), &outcome, expected)
            }
        }
    });
    assert_both_branches("token_response_parser_never_panics", CASES, counts);
}

/// Texts for the ID token validator: arbitrary ones, and tokens the OP signed for a random
/// `sub`, as they are (`Some(sub)`) or with one edit (truncated, or one character replaced).
fn id_token_text() -> impl Strategy<Value = (String, Option<String>)> {
    let signed = (
        "[a-z]{1,12}",
        0u8..4,
        any::<prop::sample::Index>(),
        any::<char>(),
    )
        .prop_map(|(sub, edit, at, ch)| {
            let c = with_sub(claims(t0()), &sub);
            let token = sign(&c, &signer("es256"));
            let chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            match edit {
                0 | 1 => (token, Some(sub)),
                2 => (chars[..i].iter().collect(), None),
                _ => {
                    let mut edited = chars;
                    edited[i] = if edited[i] == ch { '~' } else { ch };
                    (edited.into_iter().collect(), None)
                }
            }
        });
    prop_oneof![".{0,300}".prop_map(|t| (t, None)), signed]
}

fn with_sub(mut c: Map<String, Value>, sub: &str) -> Map<String, Value> {
    c.insert("sub".into(), Value::from(sub));
    c
}

#[test]
fn id_token_validator_never_panics_on_arbitrary_text() {
    let v = validator(&client(DeliveryMode::Poll));
    let counts = run_counting(CASES, id_token_text(), |(token, pristine)| {
        match v.validate(&token, &IdTokenContext::standalone(), t0()) {
            Ok(claims) => {
                // Only an untouched token verifies, and it carries what the OP signed.
                prop_assert_eq!(Some(&claims.sub), pristine.as_ref());
                prop_assert_eq!(claims.iss.as_str(), ISSUER);
                prop_assert_eq!(claims.aud, vec![CLIENT_ID.to_owned()]);
                prop_assert_eq!(claims.auth_req_id.as_deref(), Some(AUTH_REQ_ID));
                Ok(true)
            }
            Err(e) => {
                prop_assert!(
                    pristine.is_none(),
                    "a token the OP signed was refused: {}",
                    e
                );
                check_error_text(&e)?;
                Ok(false)
            }
        }
    });
    assert_both_branches(
        "id_token_validator_never_panics_on_arbitrary_text",
        CASES,
        counts,
    );
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
/// 9999-12-31T23:59:59Z: the last second a four-digit year names.
const LAST_HTTP_DATE: i64 = 253_402_300_799;
/// 0000-01-01T00:00:00Z.
const FIRST_HTTP_DATE: i64 = -62_167_219_200;

/// Writes `secs` since the epoch as an HTTP-date: 0 IMF-fixdate, 1 RFC 850, 2 asctime. The
/// calendar arithmetic is the inverse of the parser's (civil from days, not days from civil).
fn http_date(secs: i64, format: u8) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = usize::try_from((days + 3).rem_euclid(7)).unwrap();
    let mon = MONTHS[usize::try_from(month - 1).unwrap()];
    match format {
        0 => format!(
            "{}, {day:02} {mon} {year:04} {h:02}:{m:02}:{s:02} GMT",
            DAYS[weekday]
        ),
        1 => format!(
            "{}, {day:02}-{mon}-{:02} {h:02}:{m:02}:{s:02} GMT",
            LONG_DAYS[weekday],
            year % 100
        ),
        _ => format!(
            "{} {mon} {day:>2} {h:02}:{m:02}:{s:02} {year:04}",
            DAYS[weekday]
        ),
    }
}

#[test]
fn http_date_writer_matches_known_dates() {
    // The writer the property relies on, against RFC 9110's example and the epoch.
    assert_eq!(http_date(784_111_777, 0), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(http_date(784_111_777, 1), "Sunday, 06-Nov-94 08:49:37 GMT");
    assert_eq!(http_date(784_111_777, 2), "Sun Nov  6 08:49:37 1994");
    assert_eq!(http_date(0, 0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(
        http_date(LAST_HTTP_DATE, 0),
        "Fri, 31 Dec 9999 23:59:59 GMT"
    );
    assert_eq!(
        http_date(FIRST_HTTP_DATE, 0),
        "Sat, 01 Jan 0000 00:00:00 GMT"
    );
}

#[test]
fn http_date_parser_never_panics() {
    use ciba_core::wire::{from_unix_seconds, unix_seconds};
    // Arbitrary text, or a date written in one of the three formats (RFC 850 only where its
    // two-digit year reads back as the same century: 1970 to 2069).
    let written = prop_oneof![
        (
            FIRST_HTTP_DATE..=LAST_HTTP_DATE,
            prop_oneof![Just(0u8), Just(2u8)]
        ),
        (0i64..3_155_760_000, Just(1u8)),
    ]
    .prop_map(|(secs, format)| (http_date(secs, format), Some(secs)));
    let strategy = prop_oneof![".{0,40}".prop_map(|s| (s, None)), written];
    let counts = run_counting(CASES, strategy, |(text, written)| {
        let parsed = parse_http_date(&text);
        if let Some(secs) = written {
            prop_assert_eq!(parsed, Some(from_unix_seconds(secs)), "{}", text);
        }
        let Some(t) = parsed else {
            return Ok(false);
        };
        let secs = unix_seconds(t);
        prop_assert!(
            (FIRST_HTTP_DATE..=LAST_HTTP_DATE + 1).contains(&secs),
            "{}",
            text
        );
        // Written back as an IMF-fixdate, it reads as the same instant.
        prop_assert_eq!(parse_http_date(&http_date(secs, 0)), Some(t));
        Ok(true)
    });
    assert_both_branches("http_date_parser_never_panics", CASES, counts);
}
