//! Area 3: signed authentication requests (CIBA 7.1.1, 7.2 step 2; FAPI-CIBA lifetime).

use super::*;

use ciba_core::jose::{Jwk, JwkSigner, JwsAlgorithm};

/// Valid request-object claims of the signed-request client, with `change` applied.
fn request_claims(change: impl FnOnce(&mut Value)) -> Value {
    let now = now_s();
    let mut claims = json!({
        "iss": SIGNED, "aud": ISSUER, "exp": now + 300, "nbf": now, "iat": now,
        "jti": format!("ro-{}", rand_suffix()),
        "scope": "openid", "login_hint": "alice@example.com",
    });
    change(&mut claims);
    claims
}

/// A signed request of the signed-request client (PS256), plus `extra` form parameters.
fn signed_request(jwt: &str, extra: &[(&str, &str)]) -> Req {
    let mut pairs = vec![("request", jwt)];
    pairs.extend_from_slice(extra);
    authed(SIGNED, &pairs, ISSUER, t0())
}

fn ps256_request(change: impl FnOnce(&mut Value)) -> Req {
    let jwt = claims_assertion(&signer("ps256"), request_claims(change));
    signed_request(&jwt, &[])
}

/// A signer over the signed client's RSA key with another algorithm.
fn ps256_key_as(alg: JwsAlgorithm) -> JwkSigner {
    JwkSigner::from_jwk(
        &Jwk {
            alg: None,
            ..jwk("ps256")
        },
        Some(alg),
    )
    .unwrap()
}

/// A signed request whose object is `jwt`, with `extra` form parameters.
fn jwt_row(name: &'static str, defect: &'static str, jwt: &str, extra: &[(&str, &str)]) -> Row {
    sends(
        "CIBA 7.1.1",
        name,
        defect,
        INVALID_REQUEST,
        signed_request(jwt, extra),
    )
}

/// A request object signed as registered, with `claim` set to `value`.
fn claim_row(
    section: &'static str,
    name: impl Into<String>,
    defect: impl Into<String>,
    expect: Expect,
    (claim, value): (&'static str, Value),
) -> Row {
    let req = ps256_request(|c| c[claim] = value);
    sends(section, name, defect, expect, req)
}

/// The signature and the algorithm.
fn signature_rows() -> Vec<Row> {
    let sound = || request_claims(|_| {});
    let public_jwks = serde_json::to_string(&public_set(&["ps256"])).unwrap();
    let attacker = JwkSigner::from_jwk(
        &Jwk {
            alg: None,
            kid: jwk("ps256").kid,
            ..jwk("attacker_rs256")
        },
        Some(JwsAlgorithm::PS256),
    )
    .unwrap();
    // A character well inside the signature: all six of its bits are significant.
    let tampered = {
        let jwt = claims_assertion(&signer("ps256"), sound());
        let at = jwt.len() - 10;
        let flipped = if &jwt[at..=at] == "A" { "B" } else { "A" };
        format!("{}{flipped}{}", &jwt[..at], &jwt[at + 1..])
    };
    vec![
        jwt_row(
            "request object with alg none",
            "unsigned request object",
            &unsigned_jwt(&sound()),
            &[],
        ),
        jwt_row(
            "request object with an unregistered alg",
            "RS256 with the registered RSA key (PS256 registered)",
            &claims_assertion(&ps256_key_as(JwsAlgorithm::RS256), sound()),
            &[],
        ),
        jwt_row(
            "request object with HMAC",
            "HS256 keyed with the client's public JWK set",
            &claims_assertion(&hmac(&public_jwks), sound()),
            &[],
        ),
        jwt_row(
            "request object signed by another key",
            "PS256 by an attacker's RSA key",
            &claims_assertion(&attacker, sound()),
            &[],
        ),
        jwt_row(
            "request object with a bad signature",
            "last signature character changed",
            &tampered,
            &[],
        ),
        jwt_row(
            "encrypted request object",
            "five-part JWE",
            "a.b.c.d.e",
            &[],
        ),
        jwt_row(
            "request object not a JWT",
            "request=not-a-jwt",
            "not-a-jwt",
            &[],
        ),
    ]
}

/// The claims that make a request object a JWT of this client for this server, now.
fn claim_rows() -> Vec<Row> {
    let now = now_s();
    let mut rows: Vec<Row> = ["iss", "aud", "exp", "nbf", "iat", "jti"]
        .into_iter()
        .map(|claim| {
            let req = ps256_request(|c| remove(c, claim));
            sends(
                "CIBA 7.1.1",
                format!("request object without {claim}"),
                format!("{claim} removed"),
                INVALID_REQUEST,
                req,
            )
        })
        .collect();
    // Times, in seconds from now.
    let times = [
        ("CIBA 7.1.1", "expired", "exp", -60),
        ("CIBA 7.1.1", "not yet valid", "nbf", 600),
        ("CIBA 7.1.1", "issued in the future", "iat", 600),
        ("FAPI-CIBA 5.2.2", "valid over 60 min (exp)", "exp", 70 * 60),
        (
            "FAPI-CIBA 5.2.2",
            "valid over 60 min (old nbf)",
            "nbf",
            -70 * 60,
        ),
    ]
    .map(|(section, what, claim, offset)| {
        let defect = format!("{claim} {offset:+} s from now");
        (section, what, defect, (claim, json!(now + offset)))
    });
    let parties = [
        ("with a wrong aud", "aud", "https://other.example"),
        ("aud is the token endpoint", "aud", TOKEN_ENDPOINT),
        ("iss is not the client", "iss", POLL),
        ("client_id claim differs", "client_id", POLL),
        ("usable as an assertion", "sub", SIGNED),
    ]
    .map(|(what, claim, value)| {
        (
            "CIBA 7.1.1",
            what,
            format!("{claim}={value}"),
            (claim, json!(value)),
        )
    });
    for (section, what, defect, claim) in times.into_iter().chain(parties) {
        let name = format!("request object {what}");
        rows.push(claim_row(section, name, defect, INVALID_REQUEST, claim));
    }
    rows.push(row(
        "CIBA 7.1.1",
        "request object jti replayed",
        "the same request object twice",
        INVALID_REQUEST,
        |h| {
            let jwt = claims_assertion(&signer("ps256"), request_claims(|_| {}));
            let first = bc(h.backchannel(&signed_request(&jwt, &[]), t0()));
            ensure(matches!(first, Got::Ticket(_)), "the first use is accepted")?;
            send_bc(h, &signed_request(&jwt, &[]))
        },
    ));
    rows
}

/// Who may send a signed request, and what may stand next to it.
fn usage_rows() -> Vec<Row> {
    let sound = claims_assertion(&signer("ps256"), request_claims(|_| {}));
    let poll_object =
        claims_assertion(&signer("es256"), request_claims(|c| c["iss"] = json!(POLL)));
    vec![
        jwt_row(
            "parameter outside the request object",
            "binding_message as a form parameter",
            &sound,
            &[("binding_message", "outside")],
        ),
        jwt_row(
            "scope outside the request object",
            "scope repeated as a form parameter",
            &sound,
            &[("scope", "openid")],
        ),
        bc_row(
            "CIBA 7.1.1",
            "request from a client without a signing alg",
            "poll client sends request",
            INVALID_REQUEST,
            POLL,
            &[("request", &poll_object), ("scope", ""), ("login_hint", "")],
        ),
        row(
            "CIBA 7.1.1",
            "signed requests not supported",
            "server lists no request signing algorithm",
            INVALID_REQUEST,
            |_| {
                let mut config = base_config();
                config.request_signing_algs.clear();
                let h = raw_harness(config, |_| {});
                send_bc(&h, &ps256_request(|_| {}))
            },
        ),
    ]
}

/// The parameters inside get the same checks as form parameters.
fn parameter_rows() -> Vec<Row> {
    let mut rows = vec![
        sends(
            "CIBA 7.2 step 6",
            "request object without scope",
            "scope removed",
            INVALID_REQUEST,
            ps256_request(|c| remove(c, "scope")),
        ),
        claim_row(
            "CIBA 7.2 step 3",
            "request object with two hints",
            "login_hint and login_hint_token inside",
            INVALID_REQUEST,
            ("login_hint_token", json!("lht")),
        ),
        claim_row(
            "CIBA 7.1",
            "request object scope without openid",
            "scope=email inside",
            INVALID_SCOPE,
            ("scope", json!("email")),
        ),
        claim_row(
            "CIBA 7.1",
            "request object scope as an array",
            "scope=[\"openid\"]",
            INVALID_REQUEST,
            ("scope", json!(["openid"])),
        ),
        claim_row(
            "CIBA 13",
            "request object binding_message too long",
            "129 characters inside",
            INVALID_BINDING_MESSAGE,
            ("binding_message", json!("x".repeat(129))),
        ),
    ];
    for (what, text) in [
        ("0", "0"),
        ("negative", "-1"),
        ("fraction", "1.5"),
        ("exponent", "1e3"),
        ("boolean", "true"),
    ] {
        rows.push(claim_row(
            "CIBA 7.1",
            format!("request object requested_expiry {what}"),
            format!("requested_expiry: {text}"),
            INVALID_REQUEST,
            ("requested_expiry", serde_json::from_str(text).unwrap()),
        ));
    }
    rows.push(accepted(
        "CIBA 7.1",
        "request object requested_expiry as a string",
        "requested_expiry: \"90\" (allowed)",
        ps256_request(|c| c["requested_expiry"] = json!("90")),
        |_, t| {
            ensure(t.requested_expiry == Some(90), "requested_expiry 90")?;
            ensure(t.signed_request, "marked as signed")
        },
    ));
    rows
}

pub(super) fn signed_request_rows() -> Vec<Row> {
    [
        signature_rows(),
        claim_rows(),
        usage_rows(),
        parameter_rows(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn signed_request_defects_are_invalid_request() {
    run_matrix("signed requests", &signed_request_rows());
}
