//! The `b` field of a request's hash: the part of a [`StoredRequest`] that never changes
//! once the request is stored, as a JSON array in a fixed order.
//!
//! Positions instead of member names keep the text short (every insert sends it, every
//! poll reads it) and cheap to write. The fields that do change (interval, last poll,
//! state) live in their own hash fields and are not repeated here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ciba_server::store::{RequestState, StoredRequest};
use ciba_server::{AuthReqId, DeliveryMode, Secret};
use serde::{Deserialize, Serialize};

use crate::error::RedisStoreError;

/// An instant as whole seconds and nanoseconds since the Unix epoch.
type Instant = (u64, u32);

/// What [`encode_body`] writes, borrowed from the request.
#[derive(Serialize)]
struct Out<'a>(
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a Option<String>,
    &'a Option<Secret>,
    &'a [String],
    &'a [String],
    &'a Option<String>,
    Instant,
    Instant,
);

/// What [`decode_body`] reads, in the same order.
#[derive(Deserialize)]
struct In(
    String,
    String,
    String,
    String,
    Option<String>,
    Option<Secret>,
    Vec<String>,
    Vec<String>,
    Option<String>,
    Instant,
    Instant,
);

fn instant(t: SystemTime) -> Result<Instant, RedisStoreError> {
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| RedisStoreError::Unsupported {
            what: "an instant before 1970",
        })?;
    Ok((d.as_secs(), d.subsec_nanos()))
}

fn system_time((secs, nanos): Instant) -> Result<SystemTime, RedisStoreError> {
    let corrupt = RedisStoreError::Corrupt {
        what: "instant of a request",
    };
    if nanos >= 1_000_000_000 {
        return Err(corrupt);
    }
    UNIX_EPOCH
        .checked_add(Duration::new(secs, nanos))
        .ok_or(corrupt)
}

/// The fixed part of `request`.
pub(crate) fn encode_body(request: &StoredRequest) -> Result<String, RedisStoreError> {
    serde_json::to_string(&Out(
        request.auth_req_id.as_str(),
        &request.client_id,
        &request.subject,
        request.delivery_mode.as_str(),
        &request.notification_endpoint,
        &request.client_notification_token,
        &request.scopes,
        &request.acr_values,
        &request.binding_message,
        instant(request.issued_at)?,
        instant(request.expires_at)?,
    ))
    .map_err(|source| RedisStoreError::Encode { source })
}

/// A request from its fixed part; the caller sets the interval, last poll and state from
/// their own fields (here: the first interval, never polled, pending).
pub(crate) fn decode_body(text: &str) -> Result<StoredRequest, RedisStoreError> {
    let In(
        auth_req_id,
        client_id,
        subject,
        delivery_mode,
        notification_endpoint,
        client_notification_token,
        scopes,
        acr_values,
        binding_message,
        issued_at,
        expires_at,
    ) = serde_json::from_str(text).map_err(|source| RedisStoreError::Decode { source })?;
    Ok(StoredRequest {
        auth_req_id: AuthReqId::from_stored(auth_req_id),
        client_id,
        subject,
        delivery_mode: delivery_mode.parse::<DeliveryMode>().map_err(|_| {
            RedisStoreError::Corrupt {
                what: "delivery mode of a request",
            }
        })?,
        notification_endpoint,
        client_notification_token,
        scopes,
        acr_values,
        binding_message,
        issued_at: system_time(issued_at)?,
        expires_at: system_time(expires_at)?,
        interval: 0,
        last_poll: None,
        state: RequestState::Pending,
    })
}
