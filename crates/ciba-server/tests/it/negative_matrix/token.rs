//! Area 4: the token endpoint (CIBA 10.1, 10.1.1, 11; RFC 6749 3.2, 5.2).

use super::*;

use ciba_server::{
    CIBA_GRANT_TYPE, CompleteError, JWT_BEARER_ASSERTION_TYPE, StaticClientRegistry,
};
use http::HeaderValue;

/// A second server over the same store and clients, with another configuration: the same
/// deployment after a configuration change.
fn reconfigured(h: &Harness, config: ServerConfig) -> CibaServer {
    let mut registry = StaticClientRegistry::new();
    for c in clients() {
        registry.register(c, &base_config()).unwrap();
    }
    CibaServer::new(config, Arc::new(registry), h.store.clone(), op_minter())
}

fn poll_at(h: &Harness, client_id: &str, auth_req_id: &str, at: u64) -> Got {
    tok(h.poll(client_id, auth_req_id, t0() + secs(at)))
}

fn is_error(got: &Got, code: &str) -> bool {
    matches!(got, Got::Error { error, .. } if error == code)
}

fn interval_of(h: &Harness, auth_req_id: &str, at: u64) -> Option<u64> {
    h.pending_request(auth_req_id, t0() + secs(at))
        .ok()
        .flatten()
        .map(|r| r.interval)
}

/// Starts a request of `client` and polls it at 5 s, which must find it pending (`what`).
fn started_and_pending(h: &Harness, client: &str, what: &str) -> Result<String, String> {
    let id = h.start(client, t0()).auth_req_id.into_string();
    ensure(
        is_error(&poll_at(h, client, &id, 5), "authorization_pending"),
        what,
    )?;
    Ok(id)
}

/// Starts a request of `client` that the user answers at 1 s with `result`.
fn answered(h: &Harness, client: &str, result: AuthenticationResult) -> Result<String, String> {
    let id = h.start(client, t0()).auth_req_id.into_string();
    h.complete(&id, result, t0() + secs(1))
        .map_err(|e| format!("the answer failed: {e}"))?;
    Ok(id)
}

/// Starts a request of `client` that the user approves at 1 s.
fn approved(h: &Harness, client: &str) -> Result<String, String> {
    answered(
        h,
        client,
        AuthenticationResult::Authorized(Authorization::new("alice")),
    )
}

fn grant_form(pairs: &[(&str, &str)]) -> Req {
    Req::form(pairs).basic(POLL, POLL_SECRET)
}

fn send_tok(h: &Harness, req: &Req, at: u64) -> Result<Got, String> {
    Ok(tok(h.token(req, t0() + secs(at))))
}

/// A row that sends `req` to the token endpoint as it is.
fn tok_sends(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    expect: Expect,
    req: Req,
) -> Row {
    row(section, name, defect, expect, move |h| send_tok(h, &req, 0))
}

/// A token request of the poll client (HTTP Basic) with exactly these parameters.
fn grant_row(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    expect: Expect,
    pairs: &[(&str, &str)],
) -> Row {
    tok_sends(section, name, defect, expect, grant_form(pairs))
}

/// A request of `client` redeemed after the server dropped the delivery `mode` (approved
/// first if `approved`).
fn mode_disabled_row(
    name: &'static str,
    defect: &'static str,
    client: &'static str,
    mode: DeliveryMode,
    approved: bool,
) -> Row {
    row("CIBA 11", name, defect, UNAUTHORIZED_CLIENT, move |h| {
        let id = if approved {
            self::approved(h, client)?
        } else {
            h.start(client, t0()).auth_req_id.into_string()
        };
        let server = reconfigured(h, config_without(mode));
        let req = token_request(client, &id, t0());
        Ok(tok(block_on(server.token_request(
            &req.incoming(),
            t0() + secs(5),
            &h.rng,
        ))))
    })
}

/// The transport and the grant's own parameters.
fn request_rows() -> Vec<Row> {
    let mut json_body = token_request(POLL, "x", t0());
    json_body
        .headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    let grant = ("grant_type", CIBA_GRANT_TYPE);
    vec![
        row(
            "RFC 6749 3.2, RFC 9110 15.5.6",
            "token request with another method than POST",
            "method GET, HEAD, PUT, OPTIONS or DELETE",
            METHOD_NOT_ALLOWED,
            |h| {
                other_methods(token_request(POLL, "x", t0()), |req| {
                    match h.token(req, t0()) {
                        TokenOutcome::Respond(r) => Some(r.response),
                        _ => None,
                    }
                })
            },
        ),
        row(
            "RFC 9110 15.5.14",
            "token request body over the limit",
            "a form body of max_body_bytes + 1",
            PAYLOAD_TOO_LARGE,
            |h| {
                let limit = h.server.config().limits.max_body_bytes;
                let mut req = token_request(POLL, "x", t0());
                req.body
                    .extend_from_slice(format!("&pad={}", "x".repeat(limit)).as_bytes());
                send_tok(h, &req, 0)
            },
        ),
        tok_sends(
            "RFC 6749 3.2",
            "token request as JSON",
            "content type application/json",
            INVALID_REQUEST,
            json_body,
        ),
        grant_row(
            "RFC 6749 5.2",
            "grant_type missing",
            "no grant_type",
            INVALID_REQUEST,
            &[("auth_req_id", "x")],
        ),
        grant_row(
            "RFC 6749 3.2",
            "grant_type empty",
            "grant_type= without a value",
            INVALID_REQUEST,
            &[("grant_type", ""), ("auth_req_id", "x")],
        ),
        grant_row(
            "RFC 6749 5.2",
            "grant_type twice",
            "grant_type repeated",
            INVALID_REQUEST,
            &[grant, grant, ("auth_req_id", "x")],
        ),
        grant_row(
            "RFC 6749 5.2",
            "another grant_type",
            "grant_type=authorization_code, left to the AS",
            Expect::NotCibaGrant,
            &[("grant_type", "authorization_code"), ("code", "x")],
        ),
        grant_row(
            "CIBA 10.1",
            "grant_type in another case",
            "urn:openid:params:grant-type:CIBA",
            Expect::NotCibaGrant,
            &[
                ("grant_type", "urn:openid:params:grant-type:CIBA"),
                ("auth_req_id", "x"),
            ],
        ),
        grant_row(
            "CIBA 10.1",
            "auth_req_id missing",
            "no auth_req_id",
            INVALID_REQUEST,
            &[grant],
        ),
        grant_row(
            "RFC 6749 3.2",
            "auth_req_id empty",
            "auth_req_id= without a value",
            INVALID_REQUEST,
            &[grant, ("auth_req_id", "")],
        ),
        row(
            "RFC 6749 5.2",
            "auth_req_id twice",
            "auth_req_id repeated",
            INVALID_REQUEST,
            move |h| {
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                send_tok(
                    h,
                    &grant_form(&[grant, ("auth_req_id", &id), ("auth_req_id", &id)]),
                    5,
                )
            },
        ),
        tok_sends(
            "CIBA 11",
            "unknown auth_req_id",
            "auth_req_id never issued",
            INVALID_GRANT,
            token_request(POLL, "no-such-request", t0()),
        ),
        row(
            "CIBA 11",
            "ticket id as auth_req_id",
            "the user-identification ticket id",
            INVALID_GRANT,
            |h| {
                let ticket = h.ticket(&bc_request(POLL, &[]), t0());
                send_tok(h, &token_request(POLL, &ticket.id, t0()), 0)
            },
        ),
        tok_sends(
            "CIBA 11",
            "auth_req_id over the limit",
            "3000-character auth_req_id",
            INVALID_GRANT,
            token_request(POLL, &"a".repeat(3000), t0()),
        ),
    ]
}

/// A request's life: pending, approved, denied, expired, redeemed, polled too fast.
fn flow_rows() -> Vec<Row> {
    vec![
        row(
            "CIBA 10.1",
            "pending request",
            "polled before the user answered",
            err(400, "authorization_pending"),
            |h| {
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                Ok(poll_at(h, POLL, &id, 5))
            },
        ),
        row(
            "CIBA 10.2",
            "redeeming right after the ping is not too fast",
            "ping client polls 1 s after the ping, 2 s after its last poll (control row)",
            Expect::Tokens,
            |h| {
                let id = started_and_pending(h, PING, "pending at 5 s")?;
                approve(h, &id, 6)?;
                Ok(poll_at(h, PING, &id, 7))
            },
        ),
        row(
            "CIBA 10.1",
            "polling is tracked per auth_req_id",
            "two requests of one client polled in the same second (control row)",
            err(400, "authorization_pending"),
            |h| {
                let a = h.start(POLL, t0()).auth_req_id.into_string();
                let b = h.start(POLL, t0()).auth_req_id.into_string();
                ensure(
                    is_error(&poll_at(h, POLL, &a, 5), "authorization_pending"),
                    "first request pending",
                )?;
                Ok(poll_at(h, POLL, &b, 5))
            },
        ),
        row(
            "CIBA 10.1",
            "another client's pending auth_req_id",
            "scoped-client polls poll-client's request",
            INVALID_GRANT,
            |h| {
                let id = started_and_pending(h, POLL, "owner pending at 5 s")?;
                let got = poll_at(h, SCOPED, &id, 7);
                // The foreign poll did not count as the owner's poll: no slow_down at 10 s.
                ensure(
                    is_error(&poll_at(h, POLL, &id, 10), "authorization_pending"),
                    "owner still pending, no slow_down",
                )?;
                ensure(interval_of(h, &id, 10) == Some(5), "interval unchanged")?;
                approve(h, &id, 11)?;
                ensure(
                    matches!(poll_at(h, POLL, &id, 15), Got::Tokens),
                    "owner gets the tokens",
                )?;
                Ok(got)
            },
        ),
        row(
            "CIBA 10.1",
            "another client's approved auth_req_id",
            "scoped-client redeems poll-client's approved request",
            INVALID_GRANT,
            |h| {
                let id = approved(h, POLL)?;
                let got = poll_at(h, SCOPED, &id, 5);
                ensure(
                    matches!(poll_at(h, POLL, &id, 5), Got::Tokens),
                    "owner still gets the tokens",
                )?;
                Ok(got)
            },
        ),
        row(
            "CIBA 10.1.1",
            "double redemption",
            "the same auth_req_id redeemed twice",
            INVALID_GRANT,
            |h| {
                let id = approved(h, POLL)?;
                let TokenOutcome::Issued(first) = h.poll(POLL, &id, t0() + secs(5)) else {
                    return Err("the first redemption did not issue tokens".into());
                };
                let got = poll_at(h, POLL, &id, 10);
                let at = first.tokens.access_token.expose();
                ensure(
                    matches!(h.is_revoked(at, t0() + secs(11)), Ok(true)),
                    "the first tokens are revoked",
                )?;
                Ok(got)
            },
        ),
        row(
            "CIBA 11",
            "polling too fast",
            "second poll 1 s after the first, interval 5 s",
            err(400, "slow_down"),
            |h| {
                let id = started_and_pending(h, POLL, "first poll pending")?;
                let got = poll_at(h, POLL, &id, 6);
                ensure(interval_of(h, &id, 6) == Some(10), "interval 5 -> 10")?;
                ensure(
                    is_error(&poll_at(h, POLL, &id, 12), "slow_down"),
                    "6 s is too fast for 10 s",
                )?;
                ensure(
                    interval_of(h, &id, 12) == Some(15),
                    "interval 10 -> 15 (cumulative)",
                )?;
                ensure(
                    is_error(&poll_at(h, POLL, &id, 27), "authorization_pending"),
                    "15 s later is fine",
                )?;
                ensure(interval_of(h, &id, 27) == Some(15), "interval kept")?;
                Ok(got)
            },
        ),
        row(
            "CIBA 11",
            "expired request",
            "polled at expires_in (requested_expiry=30)",
            err(400, "expired_token"),
            |h| {
                let ticket = h.ticket(&bc_request(POLL, &[("requested_expiry", "30")]), t0());
                let id = h.issue(&ticket, t0()).auth_req_id.into_string();
                let got = poll_at(h, POLL, &id, 30);
                let late = h.approve(&id, t0() + secs(31));
                ensure(
                    matches!(late, Err(CompleteError::Expired)),
                    "a late approval is refused",
                )?;
                ensure(
                    is_error(&poll_at(h, POLL, &id, 40), "expired_token"),
                    "still expired_token",
                )?;
                Ok(got)
            },
        ),
        row(
            "CIBA 11",
            "denied request",
            "the user denied",
            err(400, "access_denied"),
            |h| {
                let id = answered(h, POLL, AuthenticationResult::AccessDenied)?;
                let got = poll_at(h, POLL, &id, 5);
                ensure(
                    is_error(&poll_at(h, POLL, &id, 11), "invalid_grant"),
                    "reported once, then invalid_grant",
                )?;
                Ok(got)
            },
        ),
        row(
            "CIBA 11",
            "failed transaction",
            "the authentication device gave no result",
            err(400, "expired_token"),
            |h| {
                let id = answered(h, POLL, AuthenticationResult::TransactionFailed)?;
                Ok(poll_at(h, POLL, &id, 5))
            },
        ),
        row(
            "CIBA 11",
            "push client uses the grant",
            "push client at the token endpoint",
            UNAUTHORIZED_CLIENT,
            |h| {
                let id = approved(h, PUSH)?;
                Ok(poll_at(h, PUSH, &id, 5))
            },
        ),
    ]
}

/// May this client use the grant at all (`unauthorized_client`)?
fn unauthorized_client_rows() -> Vec<Row> {
    vec![
        tok_sends(
            "RFC 6749 5.2",
            "client without CIBA uses the grant",
            "client with no delivery mode",
            UNAUTHORIZED_CLIENT,
            token_request(NO_CIBA, "x", t0()),
        ),
        row(
            "RFC 6749 5.2",
            "poll client without the CIBA grant",
            "grant_types lacks the CIBA grant",
            UNAUTHORIZED_CLIENT,
            |_| {
                let h = raw_harness(base_config(), |cs| {
                    cs.iter_mut()
                        .filter(|c| c.client_id == POLL)
                        .for_each(|c| c.grant_types.clear());
                });
                send_tok(&h, &token_request(POLL, "x", t0()), 0)
            },
        ),
        mode_disabled_row(
            "poll mode disabled on the server",
            "pending poll request, server reconfigured to ping and push",
            POLL,
            DeliveryMode::Poll,
            true,
        ),
        mode_disabled_row(
            "ping mode disabled on the server",
            "pending ping request, server reconfigured to poll and push",
            PING,
            DeliveryMode::Ping,
            false,
        ),
    ]
}

/// Client authentication at the token endpoint.
fn client_auth_rows() -> Vec<Row> {
    let grant = [("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", "x")];
    let with_assertion = |jwt: &str| {
        let mut pairs = grant.to_vec();
        pairs.extend([
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", jwt),
        ]);
        Req::form(&pairs)
    };
    let signed_client =
        |aud: &str, jti: &str| assertion(&signer("ps256"), SIGNED, json!(aud), t0(), jti);
    let replayed = signed_client(ISSUER, "cross-endpoint");
    let first_use = Req::form(&[
        ("scope", "openid"),
        ("login_hint", "a"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", &replayed),
    ]);
    let second_use = with_assertion(&replayed);
    vec![
        tok_sends(
            "RFC 6749 5.2",
            "token endpoint: wrong Basic secret",
            "client_secret_basic with a wrong secret",
            INVALID_CLIENT_BASIC,
            token_request(POLL, "x", t0()).basic(POLL, "wrong"),
        ),
        tok_sends(
            "RFC 6749 5.2",
            "token endpoint: no authentication",
            "grant without credentials",
            INVALID_CLIENT,
            Req::form(&grant),
        ),
        tok_sends(
            "RFC 6749 5.2",
            "token endpoint: public client",
            "client_id of a public client",
            INVALID_CLIENT,
            Req::form(&[grant[0], grant[1], ("client_id", PUBLIC)]),
        ),
        tok_sends(
            "CIBA 7.1",
            "token endpoint: backchannel audience",
            "assertion aud is the backchannel endpoint URL",
            INVALID_CLIENT,
            with_assertion(&signed_client(BC_ENDPOINT, "tok-aud")),
        ),
        row(
            "RFC 7523 3",
            "token endpoint: assertion replayed",
            "an assertion first used at the backchannel endpoint",
            INVALID_CLIENT,
            move |h| {
                let first = bc(h.backchannel(&first_use, t0()));
                ensure(matches!(first, Got::Ticket(_)), "first use accepted")?;
                send_tok(h, &second_use, 1)
            },
        ),
        row(
            "CIBA 10.1",
            "authentication before the auth_req_id",
            "wrong secret for a valid auth_req_id",
            INVALID_CLIENT_BASIC,
            |h| {
                let id = approved(h, POLL)?;
                let got = tok(h.token(
                    &token_request(POLL, &id, t0()).basic(POLL, "wrong"),
                    t0() + secs(5),
                ));
                ensure(
                    matches!(poll_at(h, POLL, &id, 6), Got::Tokens),
                    "the request is still redeemable",
                )?;
                Ok(got)
            },
        ),
    ]
}

pub(super) fn token_rows() -> Vec<Row> {
    [
        request_rows(),
        flow_rows(),
        unauthorized_client_rows(),
        client_auth_rows(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn token_endpoint_defects_get_their_section_11_answers() {
    run_matrix("token endpoint", &token_rows());
}
