//! How records are written into Redis and read back: instants as milliseconds for the
//! scripts' decisions (plus the exact value where it is returned to the caller), request
//! states as a tag with their data, token lists as a flat text the scripts can walk.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ciba_server::DeliveryMode;
use ciba_server::store::{Completion, Grant, RequestState, StoredRequest, TokenFingerprint};

use crate::body::{decode_body, encode_body};
use crate::error::RedisStoreError;

/// The largest millisecond count handed to a script: 2^53, the last integer a Lua number
/// (a double) holds exactly. Later instants are clamped to it (the year 287 396).
pub(crate) const MAX_MILLIS: u64 = 1 << 53;

/// Milliseconds since the Unix epoch, floored, clamped to `0..=MAX_MILLIS`.
pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
        .min(MAX_MILLIS)
}

/// An instant exactly, as `"secs nanos"` since the epoch (instants before it become the
/// epoch).
pub(crate) fn exact(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    format!("{} {}", d.as_secs(), d.subsec_nanos())
}

pub(crate) fn parse_exact(text: &str) -> Option<SystemTime> {
    let mut parts = text.split(' ');
    let secs: u64 = parts.next()?.parse().ok()?;
    let nanos: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || nanos >= 1_000_000_000 {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Token fingerprints as `"fp millis secs nanos;"` entries: the scripts read the first two
/// fields (to revoke until the expiry), the reader the first, third and fourth.
pub(crate) fn encode_tokens(tokens: &[TokenFingerprint]) -> Result<String, RedisStoreError> {
    let mut out = String::new();
    for t in tokens {
        let fp = &t.fingerprint;
        if fp.is_empty() || fp.contains(|c: char| c == ';' || c.is_whitespace()) {
            return Err(RedisStoreError::InvalidFingerprint);
        }
        out.push_str(&format!(
            "{fp} {} {};",
            millis(t.expires_at),
            exact(t.expires_at)
        ));
    }
    Ok(out)
}

/// The `(fingerprint, expiry in ms)` pairs of a token list, for writing revocations.
pub(crate) fn revocations(text: &str) -> Result<Vec<(&str, u64)>, RedisStoreError> {
    let corrupt = || RedisStoreError::Corrupt {
        what: "token list to revoke",
    };
    text.split(';')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let mut fields = entry.splitn(3, ' ');
            let fingerprint = fields
                .next()
                .filter(|f| !f.is_empty())
                .ok_or_else(corrupt)?;
            let until = fields
                .next()
                .and_then(|ms| ms.parse::<u64>().ok())
                .ok_or_else(corrupt)?;
            Ok((fingerprint, until))
        })
        .collect()
}

pub(crate) fn decode_tokens(text: &str) -> Result<Vec<TokenFingerprint>, RedisStoreError> {
    let corrupt = || RedisStoreError::Corrupt {
        what: "token list of a request",
    };
    text.split(';')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let mut fields = entry.splitn(3, ' ');
            let fingerprint = fields.next().ok_or_else(corrupt)?.to_owned();
            let _millis = fields.next().ok_or_else(corrupt)?;
            let expires_at = parse_exact(fields.next().ok_or_else(corrupt)?).ok_or_else(corrupt)?;
            Ok(TokenFingerprint {
                fingerprint,
                expires_at,
            })
        })
        .collect()
}

/// A request state as the scripts keep it: hash fields `s` (tag), `g` (the grant as JSON),
/// `t` (tokens) and `r` (`1` once a redeemed request was replayed).
pub(crate) struct EncodedState {
    pub(crate) tag: &'static str,
    pub(crate) grant: String,
    pub(crate) tokens: String,
    pub(crate) replayed: &'static str,
}

fn grant_json(grant: &Grant) -> Result<String, RedisStoreError> {
    serde_json::to_string(grant).map_err(|source| RedisStoreError::Encode { source })
}

fn state(tag: &'static str) -> EncodedState {
    EncodedState {
        tag,
        grant: String::new(),
        tokens: String::new(),
        replayed: "0",
    }
}

pub(crate) fn encode_state(s: &RequestState) -> Result<EncodedState, RedisStoreError> {
    Ok(match s {
        RequestState::Pending => state("pending"),
        RequestState::Authorized(grant) => EncodedState {
            grant: grant_json(grant)?,
            ..state("authorized")
        },
        RequestState::Denied => state("denied"),
        RequestState::Failed => state("failed"),
        RequestState::Redeemed { tokens, replayed } => EncodedState {
            tokens: encode_tokens(tokens)?,
            replayed: if *replayed { "1" } else { "0" },
            ..state("redeemed")
        },
        RequestState::Delivered { tokens } => EncodedState {
            tokens: encode_tokens(tokens)?,
            ..state("delivered")
        },
        RequestState::Consumed => state("consumed"),
    })
}

pub(crate) fn encode_completion(c: &Completion) -> Result<EncodedState, RedisStoreError> {
    Ok(match c {
        Completion::Authorized(grant) => EncodedState {
            grant: grant_json(grant)?,
            ..state("authorized")
        },
        Completion::Denied => state("denied"),
        Completion::Failed => state("failed"),
        Completion::Delivered(tokens) => EncodedState {
            tokens: encode_tokens(tokens)?,
            ..state("delivered")
        },
    })
}

/// How many of [`encode_request`]'s fields every request has: `b`, `c`, `e`, `k`, `i`, `s`.
pub(crate) const FIXED_FIELDS: usize = 6;

/// The hash fields of a new request kept until `keep_until`, in `HSET` order: first the
/// [`FIXED_FIELDS`] every request has (never empty), then the others (empty when unset).
pub(crate) fn encode_request(
    request: &StoredRequest,
    keep_until: SystemTime,
) -> Result<Vec<(&'static str, String)>, RedisStoreError> {
    // The immutable part; the fields the scripts change are kept beside it (and decoding
    // reads them from there).
    let body = encode_body(request)?;
    let s = encode_state(&request.state)?;
    let push = request.delivery_mode == DeliveryMode::Push;
    Ok(vec![
        // The fields every request has, in the order the batched insert script takes them.
        ("b", body),
        ("c", request.client_id.clone()),
        ("e", millis(request.expires_at).to_string()),
        ("k", millis(keep_until).to_string()),
        ("i", request.interval.to_string()),
        ("s", s.tag.to_owned()),
        // `p` and `r` are written only when `1`: absent reads as `0`.
        ("p", if push { "1" } else { "" }.to_owned()),
        (
            "l",
            request
                .last_poll
                .map(|t| millis(t).to_string())
                .unwrap_or_default(),
        ),
        ("lt", request.last_poll.map(exact).unwrap_or_default()),
        ("g", s.grant),
        ("t", s.tokens),
        ("r", if s.replayed == "1" { "1" } else { "" }.to_owned()),
    ])
}

/// A request from the flat `HGETALL` reply (`field, value, field, value, ...`).
pub(crate) fn decode_request(pairs: &[String]) -> Result<StoredRequest, RedisStoreError> {
    let corrupt = |what| RedisStoreError::Corrupt { what };
    let fields: HashMap<&str, &str> = pairs
        .chunks_exact(2)
        .filter_map(|kv| match kv {
            [k, v] => Some((k.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    let get = |name: &str| fields.get(name).copied().unwrap_or_default();
    let mut request = decode_body(get("b"))?;
    request.interval = get("i")
        .parse()
        .map_err(|_| corrupt("interval of a request"))?;
    request.last_poll = match get("lt") {
        "" => None,
        t => Some(parse_exact(t).ok_or_else(|| corrupt("last poll of a request"))?),
    };
    let tokens = || decode_tokens(get("t"));
    request.state = match get("s") {
        "pending" => RequestState::Pending,
        "authorized" => RequestState::Authorized(Box::new(
            serde_json::from_str(get("g")).map_err(|source| RedisStoreError::Decode { source })?,
        )),
        "denied" => RequestState::Denied,
        "failed" => RequestState::Failed,
        "redeemed" => RequestState::Redeemed {
            tokens: tokens()?,
            replayed: get("r") == "1",
        },
        "delivered" => RequestState::Delivered { tokens: tokens()? },
        "consumed" => RequestState::Consumed,
        _ => return Err(corrupt("state of a request")),
    };
    Ok(request)
}
