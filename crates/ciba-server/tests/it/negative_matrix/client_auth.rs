//! Area 2: client authentication (CIBA 7.1, 7.2 step 1; RFC 6749 2.3, 5.2; RFC 7523 3;
//! OIDC Core 9; RFC 8705 2.1).

use super::*;

use base64::engine::general_purpose::STANDARD;
use ciba_server::JWT_BEARER_ASSERTION_TYPE;
use http::HeaderValue;

/// A backchannel request authenticated only by the given client assertion.
fn assertion_request(form_client_id: Option<&str>, jwt: &str) -> Req {
    let mut pairs = vec![
        ("scope", "openid"),
        ("login_hint", "alice"),
        ("client_notification_token", CNT),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", jwt),
    ];
    if let Some(id) = form_client_id {
        pairs.push(("client_id", id));
    }
    Req::form(&pairs)
}

/// The push client's assertion claims, with `change` applied.
fn push_assertion(change: impl FnOnce(&mut Value)) -> String {
    let now = now_s();
    let mut claims = json!({
        "iss": PUSH, "sub": PUSH, "aud": ISSUER, "iat": now, "exp": now + 60,
        "jti": format!("jti-{}", rand_suffix()),
    });
    change(&mut claims);
    claims_assertion(&signer("es256"), claims)
}

/// A request of `scope=openid&login_hint=a` plus `extra`, over HTTP Basic as `basic` if
/// given: 401 `invalid_client`, with the Basic challenge when Basic was used.
fn credentials_row(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    extra: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Row {
    let mut pairs = vec![("scope", "openid"), ("login_hint", "a")];
    pairs.extend_from_slice(extra);
    let req = Req::form(&pairs);
    match basic {
        Some((id, secret)) => sends(
            section,
            name,
            defect,
            INVALID_CLIENT_BASIC,
            req.basic(id, secret),
        ),
        None => sends(section, name, defect, INVALID_CLIENT, req),
    }
}

/// The standard request of `client` with `pairs` changed, over HTTP Basic as `id:secret`.
fn basic_row(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    client: &'static str,
    pairs: &[(&str, &str)],
    (id, secret): (&str, &str),
) -> Row {
    let req = bc_request(client, pairs).basic(id, secret);
    sends(section, name, defect, INVALID_CLIENT_BASIC, req)
}

/// `Basic` and the base64 of `user_pass` as it is (no percent-encoding).
fn raw_basic(user_pass: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(user_pass))).unwrap()
}

/// A client assertion of the push client (ES256), with `change` applied to its claims.
fn assertion_row(
    name: impl Into<String>,
    defect: impl Into<String>,
    form_client_id: Option<&'static str>,
    change: impl Fn(&mut Value) + 'static,
) -> Row {
    row("RFC 7523 3", name, defect, INVALID_CLIENT, move |h| {
        send_bc(
            h,
            &assertion_request(form_client_id, &push_assertion(&change)),
        )
    })
}

/// A client assertion `jwt` of `client`, with `client` as the form's `client_id`.
fn jwt_row(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    client: &'static str,
    jwt: &str,
) -> Row {
    sends(
        section,
        name,
        defect,
        INVALID_CLIENT,
        assertion_request(Some(client), jwt),
    )
}

/// The standard request of the `tls_client_auth` client with `edit` applied.
fn tls_row(name: &'static str, defect: &'static str, edit: fn(&mut Req)) -> Row {
    let mut req = bc_request(TLS, &[]);
    edit(&mut req);
    sends("RFC 8705 2.1", name, defect, INVALID_CLIENT, req)
}

fn secret_rows() -> Vec<Row> {
    let cnt = ("client_notification_token", CNT);
    vec![
        basic_row(
            "RFC 6749 5.2",
            "wrong Basic secret",
            "client_secret_basic with a wrong secret",
            POLL,
            &[],
            (POLL, "wrong"),
        ),
        credentials_row(
            "RFC 6749 5.2",
            "wrong post secret",
            "client_secret_post with a wrong secret",
            &[cnt, ("client_id", PING), ("client_secret", "wrong")],
            None,
        ),
        credentials_row(
            "CIBA 7.2 step 1",
            "no authentication",
            "no credentials and no client_id",
            &[],
            None,
        ),
        credentials_row(
            "CIBA 7.2 step 1",
            "client_id alone",
            "confidential client sends only client_id",
            &[("client_id", POLL)],
            None,
        ),
        basic_row(
            "CIBA 7.2 step 1",
            "empty Basic secret",
            "Basic with the right id and an empty secret",
            POLL,
            &[],
            (POLL, ""),
        ),
        credentials_row(
            "RFC 6749 5.2",
            "unknown client over Basic",
            "Basic for an unregistered id",
            &[],
            Some(("nobody", "x")),
        ),
        credentials_row(
            "RFC 6749 5.2",
            "unknown client over post",
            "client_secret_post for an unregistered id",
            &[("client_id", "nobody"), ("client_secret", "x")],
            None,
        ),
        basic_row(
            "RFC 6749 2.3",
            "Basic and post at once",
            "Authorization header and client_secret",
            PING,
            &[],
            (PING, PING_SECRET),
        ),
        basic_row(
            "RFC 6749 2.3",
            "Basic and an assertion at once",
            "Authorization header and client_assertion",
            PUSH,
            &[],
            (POLL, POLL_SECRET),
        ),
        bc_row(
            "RFC 6749 2.3",
            "post and an assertion at once",
            "client_secret and client_assertion",
            INVALID_CLIENT,
            PUSH,
            &[("client_secret", "x")],
        ),
        bc_row(
            "CIBA 7.2 step 1",
            "public client",
            "token_endpoint_auth_method none",
            INVALID_CLIENT,
            PUBLIC,
            &[],
        ),
        credentials_row(
            "RFC 6749 2.3",
            "method other than registered (Basic)",
            "client_secret_post client uses Basic",
            &[cnt],
            Some((PING, PING_SECRET)),
        ),
        credentials_row(
            "RFC 6749 2.3",
            "method other than registered (post)",
            "client_secret_basic client uses post",
            &[("client_id", POLL), ("client_secret", POLL_SECRET)],
            None,
        ),
        bc_row(
            "RFC 6749 2.3.1",
            "form client_id differs from Basic",
            "client_id of another client next to Basic",
            INVALID_CLIENT_BASIC,
            POLL,
            &[("client_id", SCOPED)],
        ),
        // Client authentication runs before any parameter check.
        basic_row(
            "CIBA 7.2 step 1",
            "authentication before parameters",
            "wrong secret and no scope",
            POLL,
            &[("scope", "")],
            (POLL, "wrong"),
        ),
    ]
}

/// Malformed `Authorization` headers of the Basic client.
fn basic_header_rows() -> Vec<Row> {
    let mut rows: Vec<Row> = [
        (
            "RFC 7617 2",
            "Basic not base64",
            "Authorization: Basic !!!",
            HeaderValue::from_static("Basic !!!"),
        ),
        (
            "RFC 7617 2",
            "Basic without a colon",
            "base64 of an id only",
            raw_basic(POLL),
        ),
        (
            "RFC 7617 2",
            "Basic with an empty id",
            "base64 of ':secret'",
            basic_header("", POLL_SECRET),
        ),
        (
            "RFC 6749 2.3.1",
            "Basic with a broken percent-escape",
            "id%2 in the user-id",
            raw_basic("poll-client%2:x"),
        ),
        (
            "RFC 7617 2",
            "Basic scheme without credentials",
            "Authorization: Basic",
            HeaderValue::from_static("Basic"),
        ),
    ]
    .into_iter()
    .map(|(section, name, defect, value)| {
        let mut req = bc_request(POLL, &[]);
        req.headers.insert("authorization", value);
        sends(section, name, defect, INVALID_CLIENT_BASIC, req)
    })
    .collect();
    let mut twice = bc_request(POLL, &[]);
    twice
        .headers
        .append("authorization", basic_header(POLL, POLL_SECRET));
    rows.push(sends(
        "RFC 9110 5.3",
        "two Authorization headers",
        "Basic sent twice",
        INVALID_CLIENT_BASIC,
        twice,
    ));
    rows
}

/// JWT assertions (private_key_jwt: the push client, ES256; client_secret_jwt).
fn assertion_rows() -> Vec<Row> {
    let now = now_s();
    let mut rows: Vec<Row> = ["aud", "sub", "exp", "jti"]
        .into_iter()
        .map(|claim| {
            assertion_row(
                format!("assertion without {claim}"),
                format!("{claim} removed"),
                Some(PUSH),
                move |c| remove(c, claim),
            )
        })
        .collect();
    // iss and sub name another client, or nobody.
    for (what, form_client_id, issuer) in [
        ("iss of another client", None, SIGNED),
        ("iss unknown", None, "nobody"),
        ("iss differs from form client_id", Some(PUSH), SIGNED),
    ] {
        rows.push(assertion_row(
            format!("assertion {what}"),
            format!("iss/sub={issuer}, signed with the push client's key"),
            form_client_id,
            move |c| {
                c["iss"] = json!(issuer);
                c["sub"] = json!(issuer);
            },
        ));
    }
    let times = [
        ("expired", "exp", -31),
        ("issued in the future", "iat", 120),
        ("not yet valid", "nbf", 120),
        ("valid too long", "exp", 3600),
    ]
    .map(|(what, claim, offset)| (what, claim, json!(now + offset)));
    let others = [
        ("with a wrong aud", "aud", json!("https://other.example")),
        ("sub differs from iss", "sub", json!("someone-else")),
        ("exp as a string", "exp", json!((now + 60).to_string())),
    ];
    for (what, claim, value) in times.into_iter().chain(others) {
        rows.push(assertion_row(
            format!("assertion {what}"),
            format!("{claim}: {value} (now is {now})"),
            Some(PUSH),
            move |c| c[claim] = value.clone(),
        ));
    }
    rows.push(row(
        "RFC 7523 3",
        "assertion jti replayed",
        "the same assertion twice",
        INVALID_CLIENT,
        |h| {
            let jwt = push_assertion(|_| {});
            let first = bc(h.backchannel(&assertion_request(Some(PUSH), &jwt), t0()));
            ensure(matches!(first, Got::Ticket(_)), "the first use is accepted")?;
            Ok(bc(h.backchannel(
                &assertion_request(Some(PUSH), &jwt),
                t0() + secs(1),
            )))
        },
    ));
    let public_jwks = serde_json::to_string(&public_set(&["es256"])).unwrap();
    let signed_by = |signer: &dyn ciba_core::jose::Signer, client, jti| {
        assertion(signer, client, json!(ISSUER), t0(), jti)
    };
    rows.extend([
        jwt_row(
            "RFC 7523 3",
            "assertion signed by another key",
            "EdDSA key not registered by the client",
            PUSH,
            &signed_by(&signer("eddsa"), PUSH, "other-key"),
        ),
        jwt_row(
            "RFC 7523 3",
            "HMAC assertion from a public-key client",
            "HS256 by a private_key_jwt client",
            PUSH,
            &signed_by(&hmac("guess-guess-guess-guess-guess-32"), PUSH, "hs"),
        ),
        jwt_row(
            "RFC 7523 3",
            "HMAC keyed with the client's public key",
            "HS256 over the registered public JWK set",
            PUSH,
            &signed_by(&hmac(&public_jwks), PUSH, "confused"),
        ),
        jwt_row(
            "RFC 7523 3",
            "assertion with alg none",
            "unsigned JWT",
            PUSH,
            &unsigned_jwt(
                &json!({"iss": PUSH, "sub": PUSH, "aud": ISSUER, "iat": now, "exp": now + 60, "jti": "none"}),
            ),
        ),
        jwt_row(
            "OIDC Core 9",
            "client_secret_jwt with a wrong secret",
            "HS256 keyed with another secret",
            SECRET_JWT,
            &signed_by(&hmac("not-the-secret-not-the-secret-32"), SECRET_JWT, "cs"),
        ),
    ]);
    // The assertion parameters themselves (RFC 7521 4.2).
    let jwt = push_assertion(|_| {});
    let cnt = ("client_notification_token", CNT);
    let saml = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer";
    rows.extend([
        credentials_row(
            "RFC 7521 4.2",
            "wrong assertion type",
            "client_assertion_type saml2-bearer",
            &[
                cnt,
                ("client_assertion_type", saml),
                ("client_assertion", &jwt),
            ],
            None,
        ),
        credentials_row(
            "RFC 7521 4.2",
            "assertion without its type",
            "client_assertion alone",
            &[cnt, ("client_assertion", &jwt)],
            None,
        ),
        credentials_row(
            "RFC 7521 4.2",
            "assertion type without an assertion",
            "client_assertion_type alone",
            &[
                ("client_id", PUSH),
                ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ],
            None,
        ),
    ]);
    rows
}

/// Mutual TLS (`tls_client_auth`).
fn tls_rows() -> Vec<Row> {
    vec![
        tls_row(
            "tls_client_auth without a certificate",
            "no client certificate",
            |req| req.cert = None,
        ),
        tls_row(
            "tls_client_auth with another subject",
            "certificate of CN=someone-else",
            |req| {
                req.cert = Some(ciba_server::TlsClientCertificate {
                    subject_dn: Some("CN=someone-else".into()),
                    ..Default::default()
                });
            },
        ),
        tls_row(
            "certificate of one client, client_id of another",
            "tls client's certificate, client_id=scoped-client",
            |req| {
                let body = String::from_utf8(std::mem::take(&mut req.body)).unwrap();
                req.body = body.replace(TLS, SCOPED).into_bytes();
            },
        ),
    ]
}

pub(super) fn client_auth_rows() -> Vec<Row> {
    [
        secret_rows(),
        basic_header_rows(),
        assertion_rows(),
        tls_rows(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn client_authentication_defects_are_401_invalid_client() {
    run_matrix("client authentication", &client_auth_rows());
}
