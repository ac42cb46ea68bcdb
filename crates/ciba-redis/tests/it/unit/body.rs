//! The stored-request text: positional, exact, and typed errors for damage.

use std::time::{Duration, UNIX_EPOCH};

use ciba_redis::__internals::{decode_body, encode_body};
use ciba_redis::RedisStoreError;
use ciba_server::store::{RequestState, StoredRequest};
use ciba_server::{AuthReqId, DeliveryMode, Secret};

fn request() -> StoredRequest {
    StoredRequest {
        auth_req_id: AuthReqId::from_stored("id-\"quoted\""),
        client_id: "client".to_owned(),
        subject: "alice\u{e9}".to_owned(),
        delivery_mode: DeliveryMode::Ping,
        notification_endpoint: Some("https://rp.example/cb".to_owned()),
        client_notification_token: Some(Secret::new("bearer-value".to_owned())),
        scopes: vec!["openid".to_owned(), "email".to_owned()],
        acr_values: vec!["urn:acr:1".to_owned()],
        binding_message: Some("W4SCT".to_owned()),
        issued_at: UNIX_EPOCH + Duration::new(1_796_511_895, 173_067_885),
        expires_at: UNIX_EPOCH + Duration::new(1_796_515_495, 173_067_885),
        interval: 0,
        last_poll: None,
        state: RequestState::Pending,
    }
}

#[test]
fn the_fixed_part_reads_back_exactly() {
    let r = request();
    let text = encode_body(&r).unwrap();
    assert!(text.starts_with('['), "a positional array: {text}");
    assert!(!text.contains("client_id"), "no member names: {text}");
    assert_eq!(decode_body(&text).unwrap(), r);
}

#[test]
fn absent_options_read_back_as_absent() {
    let r = StoredRequest {
        notification_endpoint: None,
        client_notification_token: None,
        binding_message: None,
        acr_values: vec![],
        delivery_mode: DeliveryMode::Poll,
        ..request()
    };
    assert_eq!(decode_body(&encode_body(&r).unwrap()).unwrap(), r);
}

#[test]
fn an_instant_before_1970_is_refused() {
    let r = StoredRequest {
        issued_at: UNIX_EPOCH - Duration::from_secs(1),
        ..request()
    };
    assert!(matches!(
        encode_body(&r),
        Err(RedisStoreError::Unsupported { .. })
    ));
}

#[test]
fn damaged_text_is_a_typed_error() {
    let good = encode_body(&request()).unwrap();
    let bad_nanos = good.replace("173067885]", "1000000000]");
    assert!(matches!(
        decode_body(&bad_nanos),
        Err(RedisStoreError::Corrupt { .. })
    ));
    let bad_mode = good.replace("\"ping\"", "\"carrier-pigeon\"");
    assert!(matches!(
        decode_body(&bad_mode),
        Err(RedisStoreError::Corrupt { .. })
    ));
    for text in ["", "{}", "[1,2]", &good[..good.len() - 1]] {
        assert!(matches!(
            decode_body(text),
            Err(RedisStoreError::Decode { .. })
        ));
    }
}
