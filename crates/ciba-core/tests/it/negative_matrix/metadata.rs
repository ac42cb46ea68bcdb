//! The OP's discovery document and the client's configuration (CIBA 4, 7; RFC 9700 4.1).

use super::*;

use ciba_core::Limits;

#[test]
fn plain_http_and_userinfo_endpoints_in_metadata_are_refused() {
    // CIBA Core 7 / 7.1 (the request goes over TLS), RFC 9700 4.1 and RFC 3986 3.2.1
    // (no credentials in URLs): a hostile or mistaken discovery document cannot make the
    // client send its secret in clear or to a URL with userinfo. Checklist C-REQ-1.
    use ciba_core::{Client, ClientAuth, ClientConfig, ClientSecret, ServerMetadata};
    let accepts = |member: &str, value: &str| {
        let mut doc = json!({
            "issuer": ISSUER,
            "token_endpoint": TOKEN_ENDPOINT,
            "jwks_uri": "https://op.example/jwks",
            "backchannel_authentication_endpoint": "https://op.example/bc",
            "backchannel_token_delivery_modes_supported": ["poll"],
            "grant_types_supported": ["urn:openid:params:grant-type:ciba"],
        });
        doc[member] = json!(value);
        let Ok(metadata) =
            ServerMetadata::from_json(doc.to_string().as_bytes(), ISSUER, &Limits::DEFAULT)
        else {
            return false;
        };
        let auth = ClientAuth::SecretPost(ClientSecret::new("s3cret"));
        Client::new(
            ClientConfig::new(CLIENT_ID, auth, DeliveryMode::Poll),
            metadata,
        )
        .is_ok()
    };
    // Control: the sound document is accepted.
    assert!(accepts("token_endpoint", TOKEN_ENDPOINT));
    let bc = "backchannel_authentication_endpoint";
    for (row, member, value) in [
        ("http backchannel", bc, "http://op.example/bc"),
        ("http token", "token_endpoint", "http://op.example/token"),
        (
            "http loopback token",
            "token_endpoint",
            "http://127.0.0.1/token",
        ),
        ("userinfo backchannel", bc, "https://u:p@op.example/bc"),
        (
            "userinfo token",
            "token_endpoint",
            "https://u:p@op.example/token",
        ),
        (
            "fragment token",
            "token_endpoint",
            "https://op.example/token#x",
        ),
        ("not a URL", bc, "op.example/bc"),
    ] {
        assert!(!accepts(member, value), "{row} was accepted");
    }
}

#[test]
fn client_configurations_the_op_cannot_serve_are_refused() {
    // CIBA Core 4 (checklist C-MD-1, C-MD-2, S-MD-1, S-MD-2): the client registers one
    // delivery mode that the OP must advertise; the OP must publish a backchannel endpoint
    // (and a token endpoint for poll and ping); ping and push clients need an https
    // notification endpoint.
    use ciba_core::{Client, ClientAuth, ClientConfig, ClientSecret, ServerMetadata};
    let sound = metadata_document();
    let accepts = |doc: &Value, mode: DeliveryMode, endpoint: Option<&str>| {
        let Ok(metadata) =
            ServerMetadata::from_json(doc.to_string().as_bytes(), ISSUER, &Limits::DEFAULT)
        else {
            return false;
        };
        let auth = ClientAuth::SecretBasic(ClientSecret::new("s3cret"));
        let mut config = ClientConfig::new(CLIENT_ID, auth, mode);
        config.notification_endpoint = endpoint.map(str::to_owned);
        Client::new(config, metadata).is_ok()
    };
    let without = |member: &str| {
        let mut doc = sound.clone();
        doc.as_object_mut().unwrap().remove(member);
        doc
    };
    let with = |member: &str, value: Value| {
        let mut doc = sound.clone();
        doc[member] = value;
        doc
    };
    let cb = Some("https://rp.example/cb");
    // Controls: every mode is served by the sound document; push needs no token endpoint.
    assert!(accepts(&sound, DeliveryMode::Poll, None));
    assert!(accepts(&sound, DeliveryMode::Ping, cb));
    assert!(accepts(&sound, DeliveryMode::Push, cb));
    assert!(accepts(&without("token_endpoint"), DeliveryMode::Push, cb));
    let modes = "backchannel_token_delivery_modes_supported";
    let rows: Vec<(&str, Value, DeliveryMode, Option<&str>)> = vec![
        (
            "no backchannel endpoint",
            without("backchannel_authentication_endpoint"),
            DeliveryMode::Poll,
            None,
        ),
        (
            "no delivery modes",
            without(modes),
            DeliveryMode::Poll,
            None,
        ),
        (
            "poll not offered",
            with(modes, json!(["ping", "push"])),
            DeliveryMode::Poll,
            None,
        ),
        (
            "push not offered",
            with(modes, json!(["poll"])),
            DeliveryMode::Push,
            cb,
        ),
        (
            "modes not an array",
            with(modes, json!("poll")),
            DeliveryMode::Poll,
            None,
        ),
        (
            "poll without a token endpoint",
            without("token_endpoint"),
            DeliveryMode::Poll,
            None,
        ),
        (
            "ping without a token endpoint",
            without("token_endpoint"),
            DeliveryMode::Ping,
            cb,
        ),
        (
            "ping without a notification endpoint",
            sound.clone(),
            DeliveryMode::Ping,
            None,
        ),
        (
            "push without a notification endpoint",
            sound.clone(),
            DeliveryMode::Push,
            None,
        ),
        (
            "http notification endpoint",
            sound.clone(),
            DeliveryMode::Ping,
            Some("http://rp.example/cb"),
        ),
        (
            "notification endpoint not a URL",
            sound.clone(),
            DeliveryMode::Push,
            Some("rp.example/cb"),
        ),
    ];
    for (row, doc, mode, endpoint) in rows {
        assert!(!accepts(&doc, mode, endpoint), "{row} was accepted");
    }
}
