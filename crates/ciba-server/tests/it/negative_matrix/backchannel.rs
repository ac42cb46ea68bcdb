//! Area 1: backchannel authentication request parameters (CIBA 7.1, 7.1.2, 7.2 steps 3-6, 13).

use super::*;

use http::HeaderValue;

/// A backchannel request of the poll client (HTTP Basic) with exactly these parameters,
/// including empty values (which `bc_request` drops).
fn poll_form(pairs: &[(&str, &str)]) -> Req {
    Req::form(pairs).basic(POLL, POLL_SECRET)
}

/// The standard poll-client request with raw bytes appended to the body.
fn poll_with_suffix(suffix: &str) -> Req {
    let mut req = bc_request(POLL, &[]);
    req.body.extend_from_slice(suffix.as_bytes());
    req
}

/// The standard poll-client request with the content type changed.
fn content_type_row(name: &'static str, defect: &'static str, value: Option<&'static str>) -> Row {
    row("CIBA 7", name, defect, INVALID_REQUEST, move |h| {
        let mut req = bc_request(POLL, &[]);
        match value {
            Some(v) => req
                .headers
                .insert("content-type", HeaderValue::from_static(v)),
            None => req.headers.remove("content-type"),
        };
        send_bc(h, &req)
    })
}

/// A request of a client registered before the server changed: `config` and the clients as
/// `change` leaves them, unvalidated.
fn unauthorized_row(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    client: &'static str,
    config: fn() -> ServerConfig,
    change: fn(&mut ClientMetadata),
) -> Row {
    row(section, name, defect, UNAUTHORIZED_CLIENT, move |_| {
        let h = raw_harness(config(), |cs| {
            cs.iter_mut()
                .filter(|c| c.client_id == client)
                .for_each(change);
        });
        send_bc(&h, &bc_request(client, &[]))
    })
}

fn transport_rows() -> Vec<Row> {
    vec![
        row(
            "RFC 9110 15.5.6",
            "another method than POST",
            "method GET, HEAD, PUT, OPTIONS or DELETE",
            METHOD_NOT_ALLOWED,
            |h| {
                other_methods(bc_request(POLL, &[]), |req| {
                    match h.backchannel(req, t0()) {
                        BackchannelOutcome::Respond(r) => Some(r.response),
                        BackchannelOutcome::UserIdentification(_) => None,
                    }
                })
            },
        ),
        row(
            "RFC 9110 15.5.14",
            "body over the limit",
            "a form body of max_body_bytes + 1",
            PAYLOAD_TOO_LARGE,
            |h| {
                let limit = h.server.config().limits.max_body_bytes;
                let padding = "x".repeat(limit);
                send_bc(h, &poll_with_suffix(&format!("&pad={padding}")))
            },
        ),
        content_type_row(
            "JSON body",
            "content type application/json",
            Some("application/json"),
        ),
        content_type_row("no content type", "Content-Type header missing", None),
        sends(
            "CIBA 7",
            "body not UTF-8",
            "%FF in a value",
            INVALID_REQUEST,
            poll_with_suffix("&acr_values=%FF"),
        ),
        bc_row(
            "CIBA 13",
            "value over the limit",
            "2049-byte login_hint",
            INVALID_REQUEST,
            POLL,
            &[("login_hint", &"a".repeat(2049))],
        ),
        sends(
            "CIBA 13",
            "too many parameters",
            "40 extra parameters",
            INVALID_REQUEST,
            poll_with_suffix(&(0..40).map(|i| format!("&p{i}=v")).collect::<String>()),
        ),
    ]
}

fn scope_rows() -> Vec<Row> {
    let mut rows: Vec<Row> = [
        ("CIBA 7.1", POLL, INVALID_REQUEST, "scope missing", ""),
        (
            "CIBA 7.1",
            POLL,
            INVALID_SCOPE,
            "scope without openid",
            "email profile",
        ),
        (
            "RFC 6749 3.3",
            POLL,
            INVALID_SCOPE,
            "scope only spaces",
            "   ",
        ),
        (
            "RFC 6749 3.3",
            POLL,
            INVALID_SCOPE,
            "scope token malformed",
            "openid a\"b",
        ),
        (
            "CIBA 13",
            SCOPED,
            INVALID_SCOPE,
            "scope not allowed for the client",
            "openid admin",
        ),
    ]
    .into_iter()
    .map(|(section, client, expect, name, scope)| {
        let pairs = [("scope", scope)];
        bc_row(section, name, changes(&pairs), expect, client, &pairs)
    })
    .collect();
    rows.push(sends(
        "RFC 6749 3.1",
        "scope empty",
        "scope= without a value",
        INVALID_REQUEST,
        poll_form(&[("scope", ""), ("login_hint", "alice")]),
    ));
    rows.push(accepted(
        "RFC 6749 3.3",
        "scope order is irrelevant",
        "scope=email openid (openid last)",
        bc_request(POLL, &[("scope", "email openid")]),
        |_, t| ensure(t.scopes == ["email", "openid"], "scopes kept in order"),
    ));
    rows
}

fn hint_rows() -> Vec<Row> {
    let mut rows = bc_rows(
        "CIBA 7.2 step 3",
        POLL,
        INVALID_REQUEST,
        &[
            ("no hint", &[("login_hint", "")]),
            ("two hints", &[("login_hint_token", "eyJ.lht")]),
            (
                "two hints with id_token_hint",
                &[("id_token_hint", "a.b.c")],
            ),
            (
                "three hints",
                &[("id_token_hint", "a.b.c"), ("login_hint_token", "x")],
            ),
        ],
    );
    rows.push(sends(
        "CIBA 7.2 step 3",
        "empty hint counts as absent",
        "login_hint= as the only hint",
        INVALID_REQUEST,
        poll_form(&[("scope", "openid"), ("login_hint", "")]),
    ));
    let forged = claims_assertion(
        &signer("es256"),
        json!({"iss": ISSUER, "sub": "alice", "aud": POLL}),
    );
    for (name, defect, hint) in [
        (
            "id_token_hint not a JWT",
            "id_token_hint=garbage",
            "garbage",
        ),
        (
            "id_token_hint not ours",
            "an ID token signed by another key",
            forged.as_str(),
        ),
    ] {
        rows.push(bc_row(
            "CIBA 7.2 step 5",
            name,
            defect,
            INVALID_REQUEST,
            POLL,
            &[("login_hint", ""), ("id_token_hint", hint)],
        ));
    }
    rows
}

fn requested_expiry_rows() -> Vec<Row> {
    let mut rows: Vec<Row> = [
        ("0", "0"),
        ("negative", "-1"),
        ("exponent", "1e3"),
        ("fraction", "1.5"),
        ("plus sign", "+5"),
        ("leading space", " 10"),
        ("non-digit", "abc"),
        ("hex", "0x10"),
        ("beyond u64", "99999999999999999999"),
    ]
    .into_iter()
    .map(|(what, value)| {
        bc_row(
            "CIBA 7.1",
            format!("requested_expiry {what}"),
            format!("requested_expiry={value:?}"),
            INVALID_REQUEST,
            POLL,
            &[("requested_expiry", value)],
        )
    })
    .collect();
    rows.push(accepted(
        "RFC 6749 3.1",
        "requested_expiry empty is absent",
        "requested_expiry= without a value",
        poll_form(&[
            ("scope", "openid"),
            ("login_hint", "a"),
            ("requested_expiry", ""),
        ]),
        |_, t| ensure(t.requested_expiry.is_none(), "no requested_expiry"),
    ));
    rows.push(accepted(
        "CIBA 7.3",
        "huge requested_expiry is capped",
        "requested_expiry=9999999999999999999 (fits u64)",
        bc_request(POLL, &[("requested_expiry", "9999999999999999999")]),
        |h, t| {
            ensure(
                h.issue(t, t0()).expires_in == 1800,
                "expires_in capped at max_expires_in",
            )
        },
    ));
    rows
}

fn binding_message_rows() -> Vec<Row> {
    let mut rows = vec![bc_row(
        "CIBA 13",
        "binding_message too long",
        "129 characters",
        INVALID_BINDING_MESSAGE,
        POLL,
        &[("binding_message", &"x".repeat(129))],
    )];
    for (what, defect, inside) in [
        ("a line break", "LF", '\n'),
        ("a tab", "TAB", '\t'),
        ("NUL", "NUL", '\0'),
        ("DEL", "U+007F", '\u{7f}'),
        ("a C1 control", "U+0085", '\u{85}'),
    ] {
        rows.push(bc_row(
            "CIBA 13",
            format!("binding_message with {what}"),
            format!("{defect} inside"),
            INVALID_BINDING_MESSAGE,
            POLL,
            &[("binding_message", &format!("a{inside}b"))],
        ));
    }
    rows.push(accepted(
        "CIBA 7.1",
        "binding_message at the limit",
        "128 non-ASCII characters, kept verbatim",
        bc_request(POLL, &[("binding_message", &"é".repeat(128))]),
        |_, t| {
            ensure(
                t.binding_message.as_deref() == Some("é".repeat(128).as_str()),
                "message unmodified",
            )
        },
    ));
    rows
}

fn user_code_rows() -> Vec<Row> {
    vec![
        bc_row(
            "CIBA 7.1.2",
            "user_code required but missing",
            "user-code client without user_code",
            err(400, "missing_user_code"),
            USER_CODE,
            &[],
        ),
        sends(
            "CIBA 7.1.2",
            "user_code required but empty",
            "user_code= without a value",
            err(400, "missing_user_code"),
            Req::form(&[("scope", "openid"), ("login_hint", "a"), ("user_code", "")])
                .basic(USER_CODE, "user-code-secret"),
        ),
        accepted(
            "CIBA 7.1.2",
            "user_code from a client that does not use one",
            "poll client sends user_code",
            bc_request(POLL, &[("user_code", "1234")]),
            |_, t| {
                ensure(
                    t.user_code.is_none() && !t.user_code_required,
                    "user_code ignored",
                )
            },
        ),
        row(
            "CIBA 7.1.2",
            "user_code when the server does not support it",
            "server without user codes; client registered one and sends none",
            Expect::Ticket,
            |_| {
                let mut config = base_config();
                config.user_code_supported = false;
                // Registration now refuses such a client; one registered before the server
                // dropped user codes still gets this answer.
                let h = raw_harness(config, |_| {});
                let got = bc(h.backchannel(&bc_request(USER_CODE, &[]), t0()));
                if let Got::Ticket(t) = &got {
                    ensure(!t.user_code_required, "no user code required")?;
                }
                Ok(got)
            },
        ),
    ]
}

/// `client_notification_token` of the ping and push clients (CIBA 7.1: required, at most
/// 1024 characters; RFC 6750 2.1: a b64token).
fn notification_token_rows() -> Vec<Row> {
    const CNT_PARAM: &str = "client_notification_token";
    let mut rows = Vec::new();
    for (mode, client) in [("ping", PING), ("push", PUSH)] {
        rows.push(bc_row(
            "CIBA 7.1",
            format!("{mode} without notification token"),
            format!("{mode} client, no client_notification_token"),
            INVALID_REQUEST,
            client,
            &[(CNT_PARAM, "")],
        ));
        rows.push(bc_row(
            "CIBA 7.1",
            format!("{mode} notification token too long"),
            "1025 characters",
            INVALID_REQUEST,
            client,
            &[(CNT_PARAM, &"a".repeat(1025))],
        ));
    }
    for (mode, client, what, token) in [
        ("ping", PING, "with a space", "not a token"),
        ("ping", PING, "with inner padding", "a=b"),
        ("ping", PING, "only padding", "=="),
        ("push", PUSH, "with braces", "tok{en}"),
        ("push", PUSH, "not ASCII", "tök"),
    ] {
        rows.push(bc_row(
            "RFC 6750 2.1",
            format!("{mode} notification token {what}"),
            format!("{token:?}: not a b64token"),
            INVALID_REQUEST,
            client,
            &[(CNT_PARAM, token)],
        ));
    }
    rows.push(bc_row(
        "CIBA 7.1",
        "ping notification token at the limit",
        "1024 characters",
        Expect::Ticket,
        PING,
        &[(CNT_PARAM, &"a".repeat(1024))],
    ));
    rows.push(accepted(
        "CIBA 7.1",
        "notification token from a poll client",
        "poll client sends one",
        bc_request(POLL, &[(CNT_PARAM, CNT)]),
        |_, t| ensure(t.client_notification_token.is_none(), "token ignored"),
    ));
    rows
}

fn other_parameter_rows() -> Vec<Row> {
    let request_uri = [("request_uri", "urn:example:req")];
    let mut rows = vec![bc_row(
        "CIBA 7.1.1",
        "request_uri",
        changes(&request_uri),
        INVALID_REQUEST,
        POLL,
        &request_uri,
    )];
    rows.push(accepted(
        "CIBA 7.2",
        "unknown parameters are ignored",
        "foo=bar and request_context",
        bc_request(POLL, &[("foo", "bar"), ("request_context", "{}")]),
        |_, t| {
            ensure(
                t.extra.get("foo") == Some(&json!("bar")),
                "kept for the AS in extra",
            )?;
            ensure(
                t.scopes == ["openid"],
                "the known parameters are unaffected",
            )
        },
    ));
    // A parameter given twice (CIBA 13).
    for (param, suffix) in [
        ("scope", "&scope=openid"),
        ("login_hint", "&login_hint=bob"),
        (
            "requested_expiry",
            "&requested_expiry=60&requested_expiry=60",
        ),
    ] {
        rows.push(sends(
            "CIBA 13",
            format!("{param} twice"),
            format!("{param} repeated"),
            INVALID_REQUEST,
            poll_with_suffix(suffix),
        ));
    }
    rows
}

/// May this client use CIBA at all (CIBA 13 `unauthorized_client`)?
fn unauthorized_client_rows() -> Vec<Row> {
    let unchanged = |_: &mut ClientMetadata| {};
    vec![
        bc_row(
            "CIBA 13",
            "client without a delivery mode",
            "client registered no backchannel_token_delivery_mode",
            UNAUTHORIZED_CLIENT,
            NO_CIBA,
            &[],
        ),
        unauthorized_row(
            "CIBA 13",
            "push mode disabled on the server",
            "push client, server offers poll and ping",
            PUSH,
            || config_without(DeliveryMode::Push),
            unchanged,
        ),
        unauthorized_row(
            "CIBA 13",
            "poll mode disabled on the server",
            "poll client, server offers ping and push",
            POLL,
            || config_without(DeliveryMode::Poll),
            unchanged,
        ),
        unauthorized_row(
            "CIBA 4",
            "poll client without the CIBA grant",
            "grant_types lacks urn:openid:params:grant-type:ciba",
            POLL,
            base_config,
            |c| c.grant_types.clear(),
        ),
        unauthorized_row(
            "CIBA 4",
            "ping client without a notification endpoint",
            "no backchannel_client_notification_endpoint",
            PING,
            base_config,
            |c| c.backchannel_client_notification_endpoint = None,
        ),
    ]
}

pub(super) fn parameter_rows() -> Vec<Row> {
    [
        transport_rows(),
        scope_rows(),
        hint_rows(),
        requested_expiry_rows(),
        binding_message_rows(),
        user_code_rows(),
        notification_token_rows(),
        other_parameter_rows(),
        unauthorized_client_rows(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn backchannel_parameter_defects_get_their_section_13_answers() {
    run_matrix("backchannel parameters", &parameter_rows());
}
