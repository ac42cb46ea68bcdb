//! Validation of backchannel authentication requests: transport, limits, every parameter,
//! and which error wins when several apply.

use crate::common;

use ciba_server::{BackchannelError, BackchannelOutcome, IssueOutcome, TokenOutcome, UserHint};
use common::*;
use http::{HeaderValue, Method};

fn refused(h: &Harness, req: &Req) -> (u16, String, BackchannelError) {
    match h.backchannel(req, t0()) {
        BackchannelOutcome::Respond(r) => {
            assert_no_store_json(&r.response);
            let body = json_body(&r.response);
            (
                r.status().as_u16(),
                body["error"].as_str().unwrap().to_owned(),
                r.error,
            )
        }
        BackchannelOutcome::UserIdentification(t) => panic!("accepted: {t:?}"),
    }
}

#[test]
fn only_post_with_a_form_body_is_accepted() {
    let h = Harness::new();
    let mut get = bc_request(POLL, &[]);
    get.method = Method::GET;
    let (status, error, e) = refused(&h, &get);
    assert_eq!((status, error.as_str()), (405, "invalid_request"));
    assert!(matches!(e, BackchannelError::MethodNotAllowed));
    let mut json = bc_request(POLL, &[]);
    json.headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    assert!(matches!(
        refused(&h, &json).2,
        BackchannelError::UnsupportedContentType
    ));
    let mut charset = bc_request(POLL, &[]);
    charset.headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
    );
    assert!(matches!(
        h.backchannel(&charset, t0()),
        BackchannelOutcome::UserIdentification(_)
    ));
}

#[test]
fn parameter_lengths_are_bounded_exactly_at_their_limits() {
    let h = Harness::new();
    let accepted = |req: &Req| {
        matches!(
            h.backchannel(req, t0()),
            BackchannelOutcome::UserIdentification(_)
        )
    };
    let too_long = |req: &Req| {
        matches!(
            h.backchannel(req, t0()),
            BackchannelOutcome::Respond(ref r)
                if matches!(r.error, BackchannelError::ParameterTooLong { .. })
        )
    };
    // An ordinary value may use the whole value limit (2,048 bytes), not a byte more.
    let hint = "a".repeat(2048);
    assert!(accepted(&bc_request(POLL, &[("login_hint", &hint)])));
    let hint = "a".repeat(2049);
    assert!(too_long(&bc_request(POLL, &[("login_hint", &hint)])));
    // A parameter the server does not know is ignored, and may be as long as a JWT: an
    // extension may carry one.
    let extension = "e".repeat(3000);
    assert!(accepted(&bc_request(POLL, &[("x_extension", &extension)])));
    let extension = "e".repeat(16 * 1024 + 1);
    assert!(too_long(&bc_request(POLL, &[("x_extension", &extension)])));
    // A parameter name may be as long as a value, not a byte longer.
    let name = "n".repeat(2048);
    assert!(accepted(&bc_request(POLL, &[(&name, "v")])));
    let name = "n".repeat(2049);
    assert!(too_long(&bc_request(POLL, &[(&name, "v")])));
}

#[test]
fn repeated_parameters_and_oversize_inputs_are_invalid_request() {
    let h = Harness::new();
    let mut repeated = bc_request(POLL, &[]);
    repeated.body.extend_from_slice(b"&scope=openid");
    assert!(matches!(
        refused(&h, &repeated).2,
        BackchannelError::Form(_)
    ));

    let long_hint = "a".repeat(2049);
    let (_, error, e) = refused(&h, &bc_request(POLL, &[("login_hint", &long_hint)]));
    assert_eq!(error, "invalid_request");
    assert!(matches!(e, BackchannelError::ParameterTooLong { ref name } if name == "login_hint"));

    let mut huge = bc_request(POLL, &[]);
    huge.body
        .extend_from_slice(format!("&pad={}", "x".repeat(70 * 1024)).as_bytes());
    assert!(matches!(refused(&h, &huge).2, BackchannelError::Form(_)));

    let many: Vec<(String, String)> = (0..40).map(|i| (format!("p{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert!(matches!(
        refused(&h, &bc_request(POLL, &many)).2,
        BackchannelError::Form(_)
    ));
}

#[test]
fn exactly_one_hint_is_required() {
    let h = Harness::new();
    assert!(matches!(
        refused(&h, &bc_request(POLL, &[("login_hint", "")])).2,
        BackchannelError::NoHint
    ));
    assert!(matches!(
        refused(&h, &bc_request(POLL, &[("login_hint_token", "token")])).2,
        BackchannelError::MultipleHints
    ));
    let t = h.ticket(
        &bc_request(POLL, &[("login_hint", ""), ("login_hint_token", "eyJ.lht")]),
        t0(),
    );
    assert_eq!(
        t.hint,
        UserHint::LoginHintToken {
            value: "eyJ.lht".into()
        }
    );
    assert_eq!(t.hint.kind().as_str(), "login_hint_token");
}

#[test]
fn scope_must_include_openid_and_be_allowed() {
    let h = Harness::new();
    let (status, error, e) = refused(&h, &bc_request(POLL, &[("scope", "email profile")]));
    assert_eq!((status, error.as_str()), (400, "invalid_scope"));
    assert!(matches!(e, BackchannelError::MissingOpenidScope));
    assert!(matches!(
        refused(&h, &bc_request(POLL, &[("scope", "openid bad\"scope")])).2,
        BackchannelError::MalformedScope
    ));
    assert!(matches!(
        refused(&h, &bc_request(SCOPED, &[("scope", "openid admin")])).2,
        BackchannelError::ScopeNotAllowed { ref scope } if scope == "admin"
    ));
    let t = h.ticket(
        &bc_request(SCOPED, &[("scope", "profile  openid profile")]),
        t0(),
    );
    assert_eq!(t.scopes, ["profile", "openid"]);

    let mut config = base_config();
    config.scopes_supported = Some(vec!["openid".into(), "email".into()]);
    let h = Harness::with(config, Default::default(), "eddsa");
    assert!(matches!(
        refused(&h, &bc_request(POLL, &[("scope", "openid phone")])).2,
        BackchannelError::ScopeNotAllowed { .. }
    ));
}

#[test]
fn requested_expiry_must_be_a_positive_integer_and_is_capped() {
    let h = Harness::new();
    for bad in ["0", "-1", "abc", "1.5", " 10", "99999999999999999999"] {
        let (_, error, e) = refused(&h, &bc_request(POLL, &[("requested_expiry", bad)]));
        assert_eq!(error, "invalid_request", "{bad}");
        assert!(matches!(
            e,
            BackchannelError::InvalidParameter {
                name: "requested_expiry"
            }
        ));
    }
    let t = h.ticket(&bc_request(POLL, &[("requested_expiry", "86400")]), t0());
    assert_eq!(
        h.issue(&t, t0()).expires_in,
        1800,
        "capped at max_expires_in"
    );
}

#[test]
fn user_code_is_required_only_when_server_and_client_use_it() {
    let h = Harness::new();
    let (status, error, _) = refused(&h, &bc_request(USER_CODE, &[]));
    assert_eq!((status, error.as_str()), (400, "missing_user_code"));
    let t = h.ticket(&bc_request(USER_CODE, &[("user_code", "1234")]), t0());
    assert!(t.user_code_required);
    assert_eq!(t.user_code.unwrap().expose(), "1234");
    let t = h.ticket(&bc_request(POLL, &[("user_code", "1234")]), t0());
    assert!(t.user_code.is_none() && !t.user_code_required);

    // A server without user codes cannot honour backchannel_user_code_parameter, so
    // registration refuses it (the runtime answer for a client registered earlier is in
    // the negative matrix).
    let mut config = base_config();
    config.user_code_supported = false;
    let user_code_client = clients()
        .into_iter()
        .find(|c| c.client_id == USER_CODE)
        .unwrap();
    assert!(matches!(
        ciba_server::validate_client_metadata(&user_code_client, &config),
        Err(ciba_server::ClientMetadataError::InapplicableMember {
            member: "backchannel_user_code_parameter",
            ..
        })
    ));
}

#[test]
fn binding_message_length_and_characters_are_limited() {
    let h = Harness::new();
    let max = "é".repeat(128);
    assert_eq!(
        h.ticket(&bc_request(POLL, &[("binding_message", &max)]), t0())
            .binding_message
            .unwrap()
            .chars()
            .count(),
        128
    );
    for bad in [
        "x".repeat(129),
        "line\nbreak".to_owned(),
        "tab\there".to_owned(),
    ] {
        let (status, error, _) = refused(&h, &bc_request(POLL, &[("binding_message", &bad)]));
        assert_eq!((status, error.as_str()), (400, "invalid_binding_message"));
    }
}

#[test]
fn binding_messages_with_bidirectional_or_zero_width_characters_are_refused() {
    let h = Harness::new();
    for c in [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}',
        '\u{200D}', '\u{2060}', '\u{FEFF}',
    ] {
        let message = format!("PAY {c}0015 EUR");
        let (status, error, _) = refused(&h, &bc_request(POLL, &[("binding_message", &message)]));
        assert_eq!(
            (status, error.as_str()),
            (400, "invalid_binding_message"),
            "U+{:04X}",
            u32::from(c)
        );
    }
    // Right-to-left text itself is fine: only the invisible controls are refused.
    let hebrew = "\u{05E9}\u{05DC}\u{05D5}\u{05DD} 42";
    assert_eq!(
        h.ticket(&bc_request(POLL, &[("binding_message", hebrew)]), t0())
            .binding_message
            .as_deref(),
        Some(hebrew)
    );
}

#[test]
fn acr_values_and_unknown_parameters_reach_the_ticket() {
    let h = Harness::new();
    let t = h.ticket(
        &bc_request(
            POLL,
            &[
                ("acr_values", "urn:loa:3 urn:loa:2"),
                ("request_context", "{\"x\":1}"),
            ],
        ),
        t0(),
    );
    assert_eq!(t.acr_values, ["urn:loa:3", "urn:loa:2"]);
    assert_eq!(t.extra["request_context"], "{\"x\":1}");
    assert!(!t.extra.contains_key("scope"));
}

#[test]
fn id_token_hint_must_be_an_id_token_we_issued_to_this_client() {
    let h = Harness::new();
    // Get a real ID token for the poll client.
    let ack = h.start(POLL, t0());
    h.approve(&ack.auth_req_id, t0()).unwrap();
    let TokenOutcome::Issued(g) = h.poll(POLL, &ack.auth_req_id, t0()) else {
        panic!("expected tokens")
    };
    let id_token = g.tokens.id_token.clone();
    // Accepted even long after it expired.
    let later = t0() + secs(30 * 24 * 3600);
    let req = bc_request_at(
        POLL,
        &[("login_hint", ""), ("id_token_hint", &id_token)],
        later,
    );
    let t = h.ticket(&req, later);
    assert_eq!(
        t.hint,
        UserHint::IdTokenHint {
            value: id_token.clone(),
            subject: "alice".into()
        }
    );
    // Another client cannot use it.
    let other = bc_request(SCOPED, &[("login_hint", ""), ("id_token_hint", &id_token)]);
    assert!(matches!(
        refused(&h, &other).2,
        BackchannelError::InvalidIdTokenHint
    ));
    // Nor can a look-alike signed by someone else.
    let forged = claims_assertion(
        &signer("es256"),
        serde_json::json!({"iss": ISSUER, "sub": "alice", "aud": POLL}),
    );
    let req = bc_request(POLL, &[("login_hint", ""), ("id_token_hint", &forged)]);
    let (_, error, e) = refused(&h, &req);
    assert_eq!(error, "invalid_request");
    assert!(matches!(e, BackchannelError::InvalidIdTokenHint));
}

#[test]
fn errors_follow_the_documented_precedence() {
    let h = Harness::new();
    // Client authentication comes before any parameter check.
    let req = bc_request(POLL, &[("scope", "")]).basic(POLL, "wrong");
    assert_eq!(refused(&h, &req).1, "invalid_client");
    // The client permission check comes before parameter checks.
    assert_eq!(
        refused(&h, &bc_request(NO_CIBA, &[("scope", "")])).1,
        "unauthorized_client"
    );
    // Structure (two hints) before scope (no openid).
    let req = bc_request(POLL, &[("scope", "email"), ("login_hint_token", "x")]);
    assert!(matches!(
        refused(&h, &req).2,
        BackchannelError::MultipleHints
    ));
    // Scope before user code, user code before binding message.
    let req = bc_request(
        USER_CODE,
        &[("scope", "email"), ("binding_message", "a\nb")],
    );
    assert_eq!(refused(&h, &req).1, "invalid_scope");
    let req = bc_request(USER_CODE, &[("binding_message", "a\nb")]);
    assert_eq!(refused(&h, &req).1, "missing_user_code");
}

#[test]
fn tickets_are_single_use_and_expire() {
    let h = Harness::new();
    let t = h.ticket(&bc_request(POLL, &[]), t0());
    h.issue(&t, t0());
    assert!(matches!(
        block_on(h.server.issue(&t, "alice", t0(), &h.rng)),
        IssueOutcome::InvalidTicket(_)
    ));
    let t = h.ticket(&bc_request(POLL, &[]), t0());
    let IssueOutcome::InvalidTicket(r) =
        block_on(h.server.issue(&t, "alice", t0() + secs(120), &h.rng))
    else {
        panic!("an expired ticket must be refused")
    };
    assert_eq!(r.status(), 500);
    // An empty subject is refused and uses the ticket up.
    let t = h.ticket(&bc_request(POLL, &[]), t0());
    assert!(matches!(
        block_on(h.server.issue(&t.id, "", t0(), &h.rng)),
        IssueOutcome::Refused(_)
    ));
}

#[test]
fn a_failing_random_source_is_a_server_error() {
    let h = Harness::new();
    let req = bc_request(POLL, &[]);
    let out = block_on(
        h.server
            .authenticate_request(&req.incoming(), t0(), &BrokenRng),
    );
    assert_eq!(bc_error(&out), (500, "server_error".into()));
    let t = h.ticket(&req, t0());
    let IssueOutcome::Refused(r) = block_on(h.server.issue(&t, "alice", t0(), &BrokenRng)) else {
        panic!("expected a refusal")
    };
    assert_eq!(r.status(), 500);
}

/// S-VAL-4: each check of an `id_token_hint` is reached on its own. Both hints below use the
/// algorithm and key id the server signs with (RS256, `rsa-1`), so neither fails on its
/// header: one is signed by the server's own key but names another issuer, the other names
/// this server but is signed by another RSA key under the same key id. A control hint, signed
/// by the server's key and naming this server, is accepted, so each refusal is down to the one
/// thing that differs.
#[test]
fn id_token_hint_issuer_and_signature_are_each_checked() {
    let h = Harness::new();
    let iat = t0()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |iss: &str| serde_json::json!({"iss": iss, "sub": "alice", "aud": POLL, "iat": iat, "exp": iat + 300});
    let hint_request =
        |hint: &str| bc_request(POLL, &[("login_hint", ""), ("id_token_hint", hint)]);

    let control = claims_assertion(&signer("rs256"), claims(ISSUER));
    let ticket = h.ticket(&hint_request(&control), t0());
    assert!(
        format!("{:?}", ticket.hint).contains("alice"),
        "the control hint names alice: {:?}",
        ticket.hint
    );

    let foreign_issuer = claims_assertion(&signer("rs256"), claims("https://elsewhere.example"));
    let (status, error, e) = refused(&h, &hint_request(&foreign_issuer));
    assert_eq!((status, error.as_str()), (400, "invalid_request"));
    assert!(matches!(e, BackchannelError::InvalidIdTokenHint), "{e:?}");

    let foreign_key = claims_assertion(&signer("attacker_rs256"), claims(ISSUER));
    let (status, error, e) = refused(&h, &hint_request(&foreign_key));
    assert_eq!((status, error.as_str()), (400, "invalid_request"));
    assert!(matches!(e, BackchannelError::InvalidIdTokenHint), "{e:?}");
}
