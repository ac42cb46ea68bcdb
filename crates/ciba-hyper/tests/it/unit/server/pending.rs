//! `PendingRequest` (src/server/pending.rs): what the authentication device is shown.

use std::time::{Duration, SystemTime};

use ciba_hyper::server::PendingRequest;
use ciba_server::store::{Grant, RequestState, StoredRequest};
use ciba_server::{AuthReqId, DeliveryMode};
use serde_json::Map;

fn stored(state: RequestState) -> StoredRequest {
    let issued_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    StoredRequest {
        auth_req_id: AuthReqId::from_stored("id-1"),
        client_id: "rp".into(),
        subject: "alice".into(),
        delivery_mode: DeliveryMode::Poll,
        notification_endpoint: None,
        client_notification_token: None,
        scopes: vec!["openid".into()],
        acr_values: Vec::new(),
        binding_message: Some("W4SCT".into()),
        issued_at,
        expires_at: issued_at + Duration::from_secs(60),
        interval: 5,
        last_poll: None,
        state,
    }
}

#[test]
fn only_unexpired_requests_still_waiting_for_the_user_are_pending() {
    let request = stored(RequestState::Pending);
    let (issued, expires) = (request.issued_at, request.expires_at);
    let pending = PendingRequest::from_stored(request.clone(), issued).unwrap();
    assert_eq!(pending.subject, "alice");
    assert_eq!(pending.binding_message.as_deref(), Some("W4SCT"));
    assert!(PendingRequest::from_stored(request, expires).is_none());
    let grant = Grant {
        subject: "alice".into(),
        scopes: Vec::new(),
        acr: None,
        amr: Vec::new(),
        auth_time: None,
        claims: Map::new(),
    };
    for state in [
        RequestState::Denied,
        RequestState::Authorized(Box::new(grant)),
    ] {
        assert!(PendingRequest::from_stored(stored(state), issued).is_none());
    }
}
