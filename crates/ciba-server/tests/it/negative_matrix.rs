//! The server's negative conformance matrix: one table row per defective request, naming the
//! spec section, the defect and the answer the spec (or a documented decision of this crate)
//! requires: HTTP status, `error` code and, for 401 answers to HTTP authentication, the
//! `WWW-Authenticate` challenge (RFC 6749 section 5.2).
//!
//! Each `#[test]` runs the rows of one area on a fresh [`Harness`], collects every row that
//! fails (a wrong answer, a malformed error body, a failed follow-up check or a panic), and
//! reports them all at once with their section. A few rows expect acceptance: they prove a
//! defect is *ignored* as the spec says (unknown parameters, a `user_code` nobody asked for).

use crate::common;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::jose::{Jwk, JwkSigner, JwsAlgorithm};
use ciba_core::wire::is_valid_error_text;
use ciba_core::wire::unix_seconds;
use ciba_server::JWT_BEARER_ASSERTION_TYPE;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, BoxFuture, CIBA_GRANT_TYPE,
    CibaServer, ClientMetadata, ClientRegistry, CompleteError, DefaultTokenMinter, DeliveryMode,
    MemoryStore, RegistryError, ServerConfig, StaticClientRegistry, Ticket, TokenOutcome,
};
use common::*;
use http::{HeaderValue, Method};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The matrix machinery.
// ---------------------------------------------------------------------------------------------

/// The challenge of every 401 answer (the realm is the issuer).
const BASIC_CHALLENGE: &str = "Basic realm=\"https://op.example\"";

/// The answer a row requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The backchannel request is accepted (a ticket for user identification): the defect
    /// is one the spec says to ignore.
    Ticket,
    /// The token endpoint issues tokens.
    Tokens,
    /// The token request is handed back to the AS: it is not the CIBA grant.
    NotCibaGrant,
    /// An error response.
    Error {
        status: u16,
        error: &'static str,
        /// The exact `WWW-Authenticate` value required (401 answers to HTTP Basic).
        challenge: Option<&'static str>,
    },
}

const fn err(status: u16, error: &'static str) -> Expect {
    Expect::Error {
        status,
        error,
        challenge: None,
    }
}

const INVALID_REQUEST: Expect = err(400, "invalid_request");
/// Another method than `POST` on a `POST`-only endpoint (with `Allow: POST`).
const METHOD_NOT_ALLOWED: Expect = err(405, "invalid_request");
/// A body over `max_body_bytes`.
const PAYLOAD_TOO_LARGE: Expect = err(413, "invalid_request");
const INVALID_SCOPE: Expect = err(400, "invalid_scope");
const INVALID_GRANT: Expect = err(400, "invalid_grant");
const UNAUTHORIZED_CLIENT: Expect = err(400, "unauthorized_client");
const INVALID_BINDING_MESSAGE: Expect = err(400, "invalid_binding_message");
/// 401 to a client that did not use HTTP authentication.
const INVALID_CLIENT: Expect = err(401, "invalid_client");
/// 401 to a client that used HTTP Basic: the challenge must name the Basic scheme.
const INVALID_CLIENT_BASIC: Expect = Expect::Error {
    status: 401,
    error: "invalid_client",
    challenge: Some(BASIC_CHALLENGE),
};

/// What the request under test got.
enum Got {
    Ticket(Box<Ticket>),
    Tokens,
    NotCibaGrant(String),
    Error {
        status: u16,
        error: String,
        challenge: Option<String>,
        /// What is wrong with the error response itself (headers, body members).
        problems: Vec<String>,
    },
}

impl std::fmt::Debug for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Ticket(_) => f.write_str("a ticket (accepted)"),
            Got::Tokens => f.write_str("tokens"),
            Got::NotCibaGrant(g) => write!(f, "NotCibaGrant({g:?})"),
            Got::Error {
                status,
                error,
                challenge,
                ..
            } => write!(f, "{status} {error} (WWW-Authenticate: {challenge:?})"),
        }
    }
}

/// One row: where the requirement comes from, what is wrong with the request, and what the
/// server must answer. `run` sends the request (after any set-up) and may check what
/// follows (an `Err` is a failed set-up or follow-up).
struct Row {
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    expect: Expect,
    run: fn(&Harness) -> Result<Got, String>,
}

const fn row(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    expect: Expect,
    run: fn(&Harness) -> Result<Got, String>,
) -> Row {
    Row {
        section,
        name,
        defect,
        expect,
        run,
    }
}

fn error_got(resp: &http::Response<Vec<u8>>) -> Got {
    let mut problems = Vec::new();
    for (header, value) in [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        ("pragma", "no-cache"),
    ] {
        if resp.headers().get(header).and_then(|v| v.to_str().ok()) != Some(value) {
            problems.push(format!("{header} is not {value:?}"));
        }
    }
    let body: serde_json::Map<String, Value> =
        match serde_json::from_slice::<Value>(resp.body()).ok() {
            Some(Value::Object(m)) => m,
            _ => {
                problems.push("the body is not a JSON object".into());
                serde_json::Map::new()
            }
        };
    for (member, value) in &body {
        if !matches!(member.as_str(), "error" | "error_description" | "error_uri") {
            problems.push(format!("unexpected member {member:?}"));
        }
        if !value.as_str().is_some_and(is_valid_error_text) {
            problems.push(format!("{member} is not RFC 6749 error text: {value}"));
        }
    }
    Got::Error {
        status: resp.status().as_u16(),
        error: body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("<no error member>")
            .to_owned(),
        challenge: resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("<not text>").to_owned()),
        problems,
    }
}

fn bc(outcome: BackchannelOutcome) -> Got {
    match outcome {
        BackchannelOutcome::Respond(r) => error_got(&r.response),
        BackchannelOutcome::UserIdentification(t) => Got::Ticket(t),
    }
}

fn tok(outcome: TokenOutcome) -> Got {
    match outcome {
        TokenOutcome::Respond(r) => error_got(&r.response),
        TokenOutcome::Issued(_) => Got::Tokens,
        TokenOutcome::NotCibaGrant { grant_type } => Got::NotCibaGrant(grant_type),
    }
}

fn compare(expect: Expect, got: &Got) -> Result<(), String> {
    let ok = match (expect, got) {
        (Expect::Ticket, Got::Ticket(_)) | (Expect::Tokens, Got::Tokens) => true,
        (Expect::NotCibaGrant, Got::NotCibaGrant(_)) => true,
        (
            Expect::Error {
                status,
                error,
                challenge,
            },
            Got::Error {
                status: got_status,
                error: got_error,
                challenge: got_challenge,
                problems,
            },
        ) => {
            if !problems.is_empty() {
                return Err(format!("malformed error response: {problems:?}"));
            }
            status == *got_status
                && error == got_error
                && challenge.is_none_or(|c| got_challenge.as_deref() == Some(c))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {expect:?}, got {got:?}"))
    }
}

/// Runs every row on a fresh harness and fails once, listing every failing row.
fn run_matrix(area: &str, rows: &[Row]) {
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for r in rows {
        assert!(names.insert(r.name), "duplicate row name {:?}", r.name);
        let h = Harness::new();
        let result = match catch_unwind(AssertUnwindSafe(|| (r.run)(&h))) {
            Ok(Ok(got)) => compare(r.expect, &got),
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            )),
        };
        if let Err(e) = result {
            failures.push(format!(
                "[{}] {} (defect: {}): {e}",
                r.section, r.name, r.defect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{area}: {} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

fn ensure(condition: bool, what: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(format!("follow-up check failed: {what}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Request builders.
// ---------------------------------------------------------------------------------------------

fn now_s() -> i64 {
    unix_seconds(t0())
}

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

/// Sends `req` with each method other than `POST` a client might try; every answer must be
/// 405 with `Allow: POST` and the same OAuth error. Returns what `GET` got.
fn other_methods(
    mut req: Req,
    answer: impl Fn(&Req) -> Option<http::Response<Vec<u8>>>,
) -> Result<Got, String> {
    let mut first: Option<Got> = None;
    for method in [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::OPTIONS,
        Method::DELETE,
    ] {
        req.method = method.clone();
        let response = answer(&req).ok_or_else(|| format!("{method} was accepted"))?;
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok());
        if allow != Some("POST") {
            return Err(format!("{method}: Allow is {allow:?}, not POST"));
        }
        let got = error_got(&response);
        match &first {
            None => first = Some(got),
            Some(f) if format!("{f:?}") != format!("{got:?}") => {
                return Err(format!("{method} got {got:?}, GET got {f:?}"));
            }
            Some(_) => {}
        }
    }
    first.ok_or_else(|| "no method tried".to_owned())
}

fn send_bc(h: &Harness, req: &Req) -> Result<Got, String> {
    Ok(bc(h.backchannel(req, t0())))
}

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

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn remove(claims: &mut Value, name: &str) {
    claims.as_object_mut().unwrap().remove(name);
}

/// A compact JWT with `alg: none` and an empty signature.
fn unsigned_jwt(claims: &Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.", enc(&json!({"alg": "none"})), enc(claims))
}

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

/// A registry that returns metadata as given, unvalidated: a database-backed registry
/// whose records no longer match the server's configuration.
struct RawRegistry(HashMap<String, Arc<ClientMetadata>>);

impl ClientRegistry for RawRegistry {
    fn client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ClientMetadata>>, RegistryError>> {
        Box::pin(std::future::ready(Ok(self.0.get(client_id).cloned())))
    }
}

fn op_minter() -> Arc<DefaultTokenMinter> {
    Arc::new(minter(&["eddsa"]))
}

/// A harness whose server runs `config` over the standard clients, unvalidated, after
/// `change` edits them.
fn raw_harness(config: ServerConfig, change: impl FnOnce(&mut Vec<ClientMetadata>)) -> Harness {
    let mut list = clients();
    change(&mut list);
    let registry = RawRegistry(
        list.into_iter()
            .map(|c| (c.client_id.clone(), Arc::new(c)))
            .collect(),
    );
    let store = Arc::new(MemoryStore::new());
    let server = CibaServer::new(config, Arc::new(registry), store.clone(), op_minter());
    Harness {
        server,
        store,
        op_keys: public_set(&["rs256", "eddsa"]),
        rng: TestRng::new(11),
    }
}

fn config_without(mode: DeliveryMode) -> ServerConfig {
    let mut c = base_config();
    c.delivery_modes.retain(|m| *m != mode);
    c
}

/// A second server over the same store and clients, with another configuration: the same
/// deployment after a configuration change.
fn reconfigured(h: &Harness, config: ServerConfig) -> CibaServer {
    let mut registry = StaticClientRegistry::new();
    for c in clients() {
        registry.register(c, &base_config()).unwrap();
    }
    CibaServer::new(config, Arc::new(registry), h.store.clone(), op_minter())
}

fn approve(h: &Harness, auth_req_id: &(impl IdArg + ?Sized), at: u64) -> Result<(), String> {
    h.complete(
        auth_req_id,
        AuthenticationResult::Authorized(Authorization::new("alice")),
        t0() + secs(at),
    )
    .map(|_| ())
    .map_err(|e| format!("approval failed: {e}"))
}

fn poll_at(h: &Harness, client_id: &str, auth_req_id: &(impl IdArg + ?Sized), at: u64) -> Got {
    tok(h.poll(client_id, auth_req_id, t0() + secs(at)))
}

fn is_error(got: &Got, code: &str) -> bool {
    matches!(got, Got::Error { error, .. } if error == code)
}

fn interval_of(h: &Harness, auth_req_id: &(impl IdArg + ?Sized), at: u64) -> Option<u64> {
    h.pending_request(auth_req_id, t0() + secs(at))
        .ok()
        .flatten()
        .map(|r| r.interval)
}

// ---------------------------------------------------------------------------------------------
// Area 1: backchannel authentication request parameters (CIBA 7.1, 7.1.2, 7.2 steps 3-6, 13).
// ---------------------------------------------------------------------------------------------

fn parameter_rows() -> Vec<Row> {
    vec![
        // Transport.
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
        row(
            "CIBA 7",
            "JSON body",
            "content type application/json",
            INVALID_REQUEST,
            |h| {
                let mut req = bc_request(POLL, &[]);
                req.headers
                    .insert("content-type", HeaderValue::from_static("application/json"));
                send_bc(h, &req)
            },
        ),
        row(
            "CIBA 7",
            "no content type",
            "Content-Type header missing",
            INVALID_REQUEST,
            |h| {
                let mut req = bc_request(POLL, &[]);
                req.headers.remove("content-type");
                send_bc(h, &req)
            },
        ),
        row(
            "CIBA 7",
            "body not UTF-8",
            "%FF in a value",
            INVALID_REQUEST,
            |h| send_bc(h, &poll_with_suffix("&acr_values=%FF")),
        ),
        row(
            "CIBA 13",
            "value over the limit",
            "2049-byte login_hint",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("login_hint", &"a".repeat(2049))])),
        ),
        row(
            "CIBA 13",
            "too many parameters",
            "40 extra parameters",
            INVALID_REQUEST,
            |h| {
                let suffix: String = (0..40).map(|i| format!("&p{i}=v")).collect();
                send_bc(h, &poll_with_suffix(&suffix))
            },
        ),
        // scope.
        row(
            "CIBA 7.1",
            "scope missing",
            "no scope parameter",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("scope", "")])),
        ),
        row(
            "RFC 6749 3.1",
            "scope empty",
            "scope= without a value",
            INVALID_REQUEST,
            |h| send_bc(h, &poll_form(&[("scope", ""), ("login_hint", "alice")])),
        ),
        row(
            "CIBA 13",
            "scope twice",
            "scope=openid&scope=openid",
            INVALID_REQUEST,
            |h| send_bc(h, &poll_with_suffix("&scope=openid")),
        ),
        row(
            "CIBA 7.1",
            "scope without openid",
            "scope=email profile",
            INVALID_SCOPE,
            |h| send_bc(h, &bc_request(POLL, &[("scope", "email profile")])),
        ),
        row(
            "RFC 6749 3.3",
            "scope only spaces",
            "scope of three spaces",
            INVALID_SCOPE,
            |h| send_bc(h, &bc_request(POLL, &[("scope", "   ")])),
        ),
        row(
            "RFC 6749 3.3",
            "scope token malformed",
            "a quote in a scope token",
            INVALID_SCOPE,
            |h| send_bc(h, &bc_request(POLL, &[("scope", "openid a\"b")])),
        ),
        row(
            "CIBA 13",
            "scope not allowed for the client",
            "scope admin beyond the registered openid profile",
            INVALID_SCOPE,
            |h| send_bc(h, &bc_request(SCOPED, &[("scope", "openid admin")])),
        ),
        row(
            "RFC 6749 3.3",
            "scope order is irrelevant",
            "scope=email openid (openid last)",
            Expect::Ticket,
            |h| {
                let got = bc(h.backchannel(&bc_request(POLL, &[("scope", "email openid")]), t0()));
                if let Got::Ticket(t) = &got {
                    ensure(t.scopes == ["email", "openid"], "scopes kept in order")?;
                }
                Ok(got)
            },
        ),
        // Hints.
        row(
            "CIBA 7.2 step 3",
            "no hint",
            "none of the three hints",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("login_hint", "")])),
        ),
        row(
            "CIBA 7.2 step 3",
            "empty hint counts as absent",
            "login_hint= as the only hint",
            INVALID_REQUEST,
            |h| send_bc(h, &poll_form(&[("scope", "openid"), ("login_hint", "")])),
        ),
        row(
            "CIBA 7.2 step 3",
            "two hints",
            "login_hint and login_hint_token",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("login_hint_token", "eyJ.lht")])),
        ),
        row(
            "CIBA 7.2 step 3",
            "two hints with id_token_hint",
            "login_hint and id_token_hint",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("id_token_hint", "a.b.c")])),
        ),
        row(
            "CIBA 7.2 step 3",
            "three hints",
            "all three hints",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(
                        POLL,
                        &[("id_token_hint", "a.b.c"), ("login_hint_token", "x")],
                    ),
                )
            },
        ),
        row(
            "CIBA 13",
            "login_hint twice",
            "login_hint repeated",
            INVALID_REQUEST,
            |h| send_bc(h, &poll_with_suffix("&login_hint=bob")),
        ),
        row(
            "CIBA 7.2 step 5",
            "id_token_hint not a JWT",
            "id_token_hint=garbage",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(POLL, &[("login_hint", ""), ("id_token_hint", "garbage")]),
                )
            },
        ),
        row(
            "CIBA 7.2 step 5",
            "id_token_hint not ours",
            "an ID token signed by another key",
            INVALID_REQUEST,
            |h| {
                let forged = claims_assertion(
                    &signer("es256"),
                    json!({"iss": ISSUER, "sub": "alice", "aud": POLL}),
                );
                send_bc(
                    h,
                    &bc_request(POLL, &[("login_hint", ""), ("id_token_hint", &forged)]),
                )
            },
        ),
        // requested_expiry.
        row(
            "CIBA 7.1",
            "requested_expiry 0",
            "requested_expiry=0",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", "0")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry negative",
            "requested_expiry=-1",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", "-1")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry exponent",
            "requested_expiry=1e3",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", "1e3")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry fraction",
            "requested_expiry=1.5",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", "1.5")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry plus sign",
            "requested_expiry=+5",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", "+5")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry leading space",
            "requested_expiry=' 10'",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", " 10")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry non-digit",
            "requested_expiry=abc",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", "abc")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry hex",
            "requested_expiry=0x10",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("requested_expiry", "0x10")])),
        ),
        row(
            "CIBA 7.1",
            "requested_expiry beyond u64",
            "requested_expiry=99999999999999999999",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(POLL, &[("requested_expiry", "99999999999999999999")]),
                )
            },
        ),
        row(
            "CIBA 13",
            "requested_expiry twice",
            "requested_expiry repeated",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &poll_with_suffix("&requested_expiry=60&requested_expiry=60"),
                )
            },
        ),
        row(
            "RFC 6749 3.1",
            "requested_expiry empty is absent",
            "requested_expiry= without a value",
            Expect::Ticket,
            |h| {
                let got = bc(h.backchannel(
                    &poll_form(&[
                        ("scope", "openid"),
                        ("login_hint", "a"),
                        ("requested_expiry", ""),
                    ]),
                    t0(),
                ));
                if let Got::Ticket(t) = &got {
                    ensure(t.requested_expiry.is_none(), "no requested_expiry")?;
                }
                Ok(got)
            },
        ),
        row(
            "CIBA 7.3",
            "huge requested_expiry is capped",
            "requested_expiry=9999999999999999999 (fits u64)",
            Expect::Ticket,
            |h| {
                let got = bc(h.backchannel(
                    &bc_request(POLL, &[("requested_expiry", "9999999999999999999")]),
                    t0(),
                ));
                if let Got::Ticket(t) = &got {
                    ensure(
                        h.issue(t, t0()).expires_in == 1800,
                        "expires_in capped at max_expires_in",
                    )?;
                }
                Ok(got)
            },
        ),
        // binding_message.
        row(
            "CIBA 13",
            "binding_message too long",
            "129 characters",
            INVALID_BINDING_MESSAGE,
            |h| {
                send_bc(
                    h,
                    &bc_request(POLL, &[("binding_message", &"x".repeat(129))]),
                )
            },
        ),
        row(
            "CIBA 13",
            "binding_message with a line break",
            "LF inside",
            INVALID_BINDING_MESSAGE,
            |h| send_bc(h, &bc_request(POLL, &[("binding_message", "a\nb")])),
        ),
        row(
            "CIBA 13",
            "binding_message with a tab",
            "TAB inside",
            INVALID_BINDING_MESSAGE,
            |h| send_bc(h, &bc_request(POLL, &[("binding_message", "a\tb")])),
        ),
        row(
            "CIBA 13",
            "binding_message with NUL",
            "NUL inside",
            INVALID_BINDING_MESSAGE,
            |h| send_bc(h, &bc_request(POLL, &[("binding_message", "a\0b")])),
        ),
        row(
            "CIBA 13",
            "binding_message with DEL",
            "U+007F inside",
            INVALID_BINDING_MESSAGE,
            |h| send_bc(h, &bc_request(POLL, &[("binding_message", "a\u{7f}b")])),
        ),
        row(
            "CIBA 13",
            "binding_message with a C1 control",
            "U+0085 inside",
            INVALID_BINDING_MESSAGE,
            |h| send_bc(h, &bc_request(POLL, &[("binding_message", "a\u{85}b")])),
        ),
        row(
            "CIBA 7.1",
            "binding_message at the limit",
            "128 non-ASCII characters, kept verbatim",
            Expect::Ticket,
            |h| {
                let message = "é".repeat(128);
                let got =
                    bc(h.backchannel(&bc_request(POLL, &[("binding_message", &message)]), t0()));
                if let Got::Ticket(t) = &got {
                    ensure(
                        t.binding_message.as_deref() == Some(message.as_str()),
                        "message unmodified",
                    )?;
                }
                Ok(got)
            },
        ),
        // user_code.
        row(
            "CIBA 7.1.2",
            "user_code required but missing",
            "user-code client without user_code",
            err(400, "missing_user_code"),
            |h| send_bc(h, &bc_request(USER_CODE, &[])),
        ),
        row(
            "CIBA 7.1.2",
            "user_code required but empty",
            "user_code= without a value",
            err(400, "missing_user_code"),
            |h| {
                let req = Req::form(&[("scope", "openid"), ("login_hint", "a"), ("user_code", "")])
                    .basic(USER_CODE, "user-code-secret");
                send_bc(h, &req)
            },
        ),
        row(
            "CIBA 7.1.2",
            "user_code from a client that does not use one",
            "poll client sends user_code",
            Expect::Ticket,
            |h| {
                let got = bc(h.backchannel(&bc_request(POLL, &[("user_code", "1234")]), t0()));
                if let Got::Ticket(t) = &got {
                    ensure(
                        t.user_code.is_none() && !t.user_code_required,
                        "user_code ignored",
                    )?;
                }
                Ok(got)
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
        // client_notification_token.
        row(
            "CIBA 7.1",
            "ping without notification token",
            "ping client, no client_notification_token",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(PING, &[("client_notification_token", "")])),
        ),
        row(
            "CIBA 7.1",
            "ping notification token too long",
            "1025 characters",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(PING, &[("client_notification_token", &"a".repeat(1025))]),
                )
            },
        ),
        row(
            "RFC 6750 2.1",
            "ping notification token with a space",
            "not a b64token",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(PING, &[("client_notification_token", "not a token")]),
                )
            },
        ),
        row(
            "RFC 6750 2.1",
            "ping notification token with inner padding",
            "a=b",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(PING, &[("client_notification_token", "a=b")]),
                )
            },
        ),
        row(
            "RFC 6750 2.1",
            "ping notification token only padding",
            "==",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(PING, &[("client_notification_token", "==")])),
        ),
        row(
            "CIBA 7.1",
            "ping notification token at the limit",
            "1024 characters",
            Expect::Ticket,
            |h| {
                send_bc(
                    h,
                    &bc_request(PING, &[("client_notification_token", &"a".repeat(1024))]),
                )
            },
        ),
        row(
            "CIBA 7.1",
            "push without notification token",
            "push client, no client_notification_token",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(PUSH, &[("client_notification_token", "")])),
        ),
        row(
            "CIBA 7.1",
            "push notification token too long",
            "1025 characters",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(PUSH, &[("client_notification_token", &"a".repeat(1025))]),
                )
            },
        ),
        row(
            "RFC 6750 2.1",
            "push notification token with braces",
            "tok{en}",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(PUSH, &[("client_notification_token", "tok{en}")]),
                )
            },
        ),
        row(
            "RFC 6750 2.1",
            "push notification token not ASCII",
            "tök",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &bc_request(PUSH, &[("client_notification_token", "tök")]),
                )
            },
        ),
        row(
            "CIBA 7.1",
            "notification token from a poll client",
            "poll client sends one",
            Expect::Ticket,
            |h| {
                let got = bc(h.backchannel(
                    &bc_request(POLL, &[("client_notification_token", CNT)]),
                    t0(),
                ));
                if let Got::Ticket(t) = &got {
                    ensure(t.client_notification_token.is_none(), "token ignored")?;
                }
                Ok(got)
            },
        ),
        // request_uri and unknown parameters.
        row(
            "CIBA 7.1.1",
            "request_uri",
            "request_uri=urn:x",
            INVALID_REQUEST,
            |h| send_bc(h, &bc_request(POLL, &[("request_uri", "urn:example:req")])),
        ),
        row(
            "CIBA 7.2",
            "unknown parameters are ignored",
            "foo=bar and request_context",
            Expect::Ticket,
            |h| {
                let got = bc(h.backchannel(
                    &bc_request(POLL, &[("foo", "bar"), ("request_context", "{}")]),
                    t0(),
                ));
                if let Got::Ticket(t) = &got {
                    ensure(
                        t.extra.get("foo") == Some(&json!("bar")),
                        "kept for the AS in extra",
                    )?;
                    ensure(
                        t.scopes == ["openid"],
                        "the known parameters are unaffected",
                    )?;
                }
                Ok(got)
            },
        ),
        // May this client use CIBA at all (CIBA 13 unauthorized_client).
        row(
            "CIBA 13",
            "client without a delivery mode",
            "client registered no backchannel_token_delivery_mode",
            UNAUTHORIZED_CLIENT,
            |h| send_bc(h, &bc_request(NO_CIBA, &[])),
        ),
        row(
            "CIBA 13",
            "push mode disabled on the server",
            "push client, server offers poll and ping",
            UNAUTHORIZED_CLIENT,
            |_| {
                let h = raw_harness(config_without(DeliveryMode::Push), |_| {});
                send_bc(&h, &bc_request(PUSH, &[]))
            },
        ),
        row(
            "CIBA 13",
            "poll mode disabled on the server",
            "poll client, server offers ping and push",
            UNAUTHORIZED_CLIENT,
            |_| {
                let h = raw_harness(config_without(DeliveryMode::Poll), |_| {});
                send_bc(&h, &bc_request(POLL, &[]))
            },
        ),
        row(
            "CIBA 4",
            "poll client without the CIBA grant",
            "grant_types lacks urn:openid:params:grant-type:ciba",
            UNAUTHORIZED_CLIENT,
            |_| {
                let h = raw_harness(base_config(), |cs| {
                    cs.iter_mut()
                        .filter(|c| c.client_id == POLL)
                        .for_each(|c| c.grant_types.clear());
                });
                send_bc(&h, &bc_request(POLL, &[]))
            },
        ),
        row(
            "CIBA 4",
            "ping client without a notification endpoint",
            "no backchannel_client_notification_endpoint",
            UNAUTHORIZED_CLIENT,
            |_| {
                let h = raw_harness(base_config(), |cs| {
                    cs.iter_mut()
                        .filter(|c| c.client_id == PING)
                        .for_each(|c| c.backchannel_client_notification_endpoint = None);
                });
                send_bc(&h, &bc_request(PING, &[]))
            },
        ),
    ]
}

#[test]
fn backchannel_parameter_defects_get_their_section_13_answers() {
    run_matrix("backchannel parameters", &parameter_rows());
}

// ---------------------------------------------------------------------------------------------
// Area 2: client authentication (CIBA 7.1, 7.2 step 1; RFC 6749 2.3, 5.2; RFC 7523 3;
// OIDC Core 9; RFC 8705 2.1).
// ---------------------------------------------------------------------------------------------

fn client_auth_rows() -> Vec<Row> {
    vec![
        row(
            "RFC 6749 5.2",
            "wrong Basic secret",
            "client_secret_basic with a wrong secret",
            INVALID_CLIENT_BASIC,
            |h| send_bc(h, &bc_request(POLL, &[]).basic(POLL, "wrong")),
        ),
        row(
            "RFC 6749 5.2",
            "wrong post secret",
            "client_secret_post with a wrong secret",
            INVALID_CLIENT,
            |h| {
                let req = Req::form(&[
                    ("scope", "openid"),
                    ("login_hint", "a"),
                    ("client_notification_token", CNT),
                    ("client_id", PING),
                    ("client_secret", "wrong"),
                ]);
                send_bc(h, &req)
            },
        ),
        row(
            "CIBA 7.2 step 1",
            "no authentication",
            "no credentials and no client_id",
            INVALID_CLIENT,
            |h| send_bc(h, &Req::form(&[("scope", "openid"), ("login_hint", "a")])),
        ),
        row(
            "CIBA 7.2 step 1",
            "client_id alone",
            "confidential client sends only client_id",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &Req::form(&[
                        ("scope", "openid"),
                        ("login_hint", "a"),
                        ("client_id", POLL),
                    ]),
                )
            },
        ),
        row(
            "CIBA 7.2 step 1",
            "empty Basic secret",
            "Basic with the right id and an empty secret",
            INVALID_CLIENT_BASIC,
            |h| send_bc(h, &bc_request(POLL, &[]).basic(POLL, "")),
        ),
        row(
            "RFC 6749 5.2",
            "unknown client over Basic",
            "Basic for an unregistered id",
            INVALID_CLIENT_BASIC,
            |h| {
                send_bc(
                    h,
                    &Req::form(&[("scope", "openid"), ("login_hint", "a")]).basic("nobody", "x"),
                )
            },
        ),
        row(
            "RFC 6749 5.2",
            "unknown client over post",
            "client_secret_post for an unregistered id",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &Req::form(&[
                        ("scope", "openid"),
                        ("login_hint", "a"),
                        ("client_id", "nobody"),
                        ("client_secret", "x"),
                    ]),
                )
            },
        ),
        row(
            "RFC 6749 2.3",
            "Basic and post at once",
            "Authorization header and client_secret",
            INVALID_CLIENT_BASIC,
            |h| send_bc(h, &bc_request(PING, &[]).basic(PING, PING_SECRET)),
        ),
        row(
            "RFC 6749 2.3",
            "Basic and an assertion at once",
            "Authorization header and client_assertion",
            INVALID_CLIENT_BASIC,
            |h| send_bc(h, &bc_request(PUSH, &[]).basic(POLL, POLL_SECRET)),
        ),
        row(
            "RFC 6749 2.3",
            "post and an assertion at once",
            "client_secret and client_assertion",
            INVALID_CLIENT,
            |h| send_bc(h, &bc_request(PUSH, &[("client_secret", "x")])),
        ),
        row(
            "CIBA 7.2 step 1",
            "public client",
            "token_endpoint_auth_method none",
            INVALID_CLIENT,
            |h| send_bc(h, &bc_request(PUBLIC, &[])),
        ),
        row(
            "RFC 6749 2.3",
            "method other than registered (Basic)",
            "client_secret_post client uses Basic",
            INVALID_CLIENT_BASIC,
            |h| {
                let req = Req::form(&[
                    ("scope", "openid"),
                    ("login_hint", "a"),
                    ("client_notification_token", CNT),
                ])
                .basic(PING, PING_SECRET);
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 6749 2.3",
            "method other than registered (post)",
            "client_secret_basic client uses post",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &Req::form(&[
                        ("scope", "openid"),
                        ("login_hint", "a"),
                        ("client_id", POLL),
                        ("client_secret", POLL_SECRET),
                    ]),
                )
            },
        ),
        row(
            "RFC 6749 2.3.1",
            "form client_id differs from Basic",
            "client_id of another client next to Basic",
            INVALID_CLIENT_BASIC,
            |h| send_bc(h, &bc_request(POLL, &[("client_id", SCOPED)])),
        ),
        row(
            "RFC 7617 2",
            "Basic not base64",
            "Authorization: Basic !!!",
            INVALID_CLIENT_BASIC,
            |h| {
                let mut req = bc_request(POLL, &[]);
                req.headers
                    .insert("authorization", HeaderValue::from_static("Basic !!!"));
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 7617 2",
            "Basic without a colon",
            "base64 of an id only",
            INVALID_CLIENT_BASIC,
            |h| {
                let mut req = bc_request(POLL, &[]);
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(POLL)
                );
                req.headers
                    .insert("authorization", HeaderValue::from_str(&value).unwrap());
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 7617 2",
            "Basic with an empty id",
            "base64 of ':secret'",
            INVALID_CLIENT_BASIC,
            |h| {
                let mut req = bc_request(POLL, &[]);
                req.headers
                    .insert("authorization", basic_header("", POLL_SECRET));
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 6749 2.3.1",
            "Basic with a broken percent-escape",
            "id%2 in the user-id",
            INVALID_CLIENT_BASIC,
            |h| {
                let mut req = bc_request(POLL, &[]);
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("poll-client%2:x")
                );
                req.headers
                    .insert("authorization", HeaderValue::from_str(&value).unwrap());
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 7617 2",
            "Basic scheme without credentials",
            "Authorization: Basic",
            INVALID_CLIENT_BASIC,
            |h| {
                let mut req = bc_request(POLL, &[]);
                req.headers
                    .insert("authorization", HeaderValue::from_static("Basic"));
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 9110 5.3",
            "two Authorization headers",
            "Basic sent twice",
            INVALID_CLIENT_BASIC,
            |h| {
                let mut req = bc_request(POLL, &[]);
                req.headers
                    .append("authorization", basic_header(POLL, POLL_SECRET));
                send_bc(h, &req)
            },
        ),
        // JWT assertions (private_key_jwt: the push client, ES256).
        row(
            "RFC 7523 3",
            "assertion with a wrong aud",
            "aud=https://other.example",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| c["aud"] = json!("https://other.example")),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion without aud",
            "aud removed",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(Some(PUSH), &push_assertion(|c| remove(c, "aud"))),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion iss of another client",
            "iss/sub=signed-client, signed with the push client's key",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        None,
                        &push_assertion(|c| {
                            c["iss"] = json!(SIGNED);
                            c["sub"] = json!(SIGNED);
                        }),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion iss unknown",
            "iss/sub=nobody",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        None,
                        &push_assertion(|c| {
                            c["iss"] = json!("nobody");
                            c["sub"] = json!("nobody");
                        }),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion iss differs from form client_id",
            "client_id=push, iss=signed-client",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| {
                            c["iss"] = json!(SIGNED);
                            c["sub"] = json!(SIGNED);
                        }),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion sub differs from iss",
            "sub=someone-else",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| c["sub"] = json!("someone-else")),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion without sub",
            "sub removed",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(Some(PUSH), &push_assertion(|c| remove(c, "sub"))),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion expired",
            "exp 31 s ago (beyond the 30 s skew)",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| c["exp"] = json!(now_s() - 31)),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion without exp",
            "exp removed",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(Some(PUSH), &push_assertion(|c| remove(c, "exp"))),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion exp as a string",
            "exp=\"...\"",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| c["exp"] = json!((now_s() + 60).to_string())),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion issued in the future",
            "iat 2 min ahead",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| c["iat"] = json!(now_s() + 120)),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion not yet valid",
            "nbf 2 min ahead",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| c["nbf"] = json!(now_s() + 120)),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion valid too long",
            "exp one hour ahead (max 10 min)",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(
                        Some(PUSH),
                        &push_assertion(|c| c["exp"] = json!(now_s() + 3600)),
                    ),
                )
            },
        ),
        row(
            "RFC 7523 3",
            "assertion without jti",
            "jti removed",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &assertion_request(Some(PUSH), &push_assertion(|c| remove(c, "jti"))),
                )
            },
        ),
        row(
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
        ),
        row(
            "RFC 7523 3",
            "assertion signed by another key",
            "EdDSA key not registered by the client",
            INVALID_CLIENT,
            |h| {
                let jwt = assertion(&signer("eddsa"), PUSH, json!(ISSUER), t0(), "other-key");
                send_bc(h, &assertion_request(Some(PUSH), &jwt))
            },
        ),
        row(
            "RFC 7523 3",
            "HMAC assertion from a public-key client",
            "HS256 by a private_key_jwt client",
            INVALID_CLIENT,
            |h| {
                let jwt = assertion(
                    &hmac("guess-guess-guess-guess-guess-32"),
                    PUSH,
                    json!(ISSUER),
                    t0(),
                    "hs",
                );
                send_bc(h, &assertion_request(Some(PUSH), &jwt))
            },
        ),
        row(
            "RFC 7523 3",
            "HMAC keyed with the client's public key",
            "HS256 over the registered public JWK set",
            INVALID_CLIENT,
            |h| {
                let key = serde_json::to_string(&public_set(&["es256"])).unwrap();
                let jwt = assertion(&hmac(&key), PUSH, json!(ISSUER), t0(), "confused");
                send_bc(h, &assertion_request(Some(PUSH), &jwt))
            },
        ),
        row(
            "RFC 7523 3",
            "assertion with alg none",
            "unsigned JWT",
            INVALID_CLIENT,
            |h| {
                let now = now_s();
                let jwt = unsigned_jwt(
                    &json!({"iss": PUSH, "sub": PUSH, "aud": ISSUER, "iat": now, "exp": now + 60, "jti": "none"}),
                );
                send_bc(h, &assertion_request(Some(PUSH), &jwt))
            },
        ),
        row(
            "RFC 7521 4.2",
            "wrong assertion type",
            "client_assertion_type saml2-bearer",
            INVALID_CLIENT,
            |h| {
                let jwt = push_assertion(|_| {});
                let req = Req::form(&[
                    ("scope", "openid"),
                    ("login_hint", "a"),
                    ("client_notification_token", CNT),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                    ),
                    ("client_assertion", &jwt),
                ]);
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 7521 4.2",
            "assertion without its type",
            "client_assertion alone",
            INVALID_CLIENT,
            |h| {
                let jwt = push_assertion(|_| {});
                send_bc(
                    h,
                    &Req::form(&[
                        ("scope", "openid"),
                        ("login_hint", "a"),
                        ("client_notification_token", CNT),
                        ("client_assertion", &jwt),
                    ]),
                )
            },
        ),
        row(
            "RFC 7521 4.2",
            "assertion type without an assertion",
            "client_assertion_type alone",
            INVALID_CLIENT,
            |h| {
                send_bc(
                    h,
                    &Req::form(&[
                        ("scope", "openid"),
                        ("login_hint", "a"),
                        ("client_id", PUSH),
                        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                    ]),
                )
            },
        ),
        row(
            "OIDC Core 9",
            "client_secret_jwt with a wrong secret",
            "HS256 keyed with another secret",
            INVALID_CLIENT,
            |h| {
                let jwt = assertion(
                    &hmac("not-the-secret-not-the-secret-32"),
                    SECRET_JWT,
                    json!(ISSUER),
                    t0(),
                    "cs",
                );
                send_bc(h, &assertion_request(Some(SECRET_JWT), &jwt))
            },
        ),
        // Mutual TLS.
        row(
            "RFC 8705 2.1",
            "tls_client_auth without a certificate",
            "no client certificate",
            INVALID_CLIENT,
            |h| {
                let mut req = bc_request(TLS, &[]);
                req.cert = None;
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 8705 2.1",
            "tls_client_auth with another subject",
            "certificate of CN=someone-else",
            INVALID_CLIENT,
            |h| {
                let mut req = bc_request(TLS, &[]);
                req.cert = Some(ciba_server::TlsClientCertificate {
                    subject_dn: Some("CN=someone-else".into()),
                    ..Default::default()
                });
                send_bc(h, &req)
            },
        ),
        row(
            "RFC 8705 2.1",
            "certificate of one client, client_id of another",
            "tls client's certificate, client_id=scoped-client",
            INVALID_CLIENT,
            |h| {
                let mut req = bc_request(TLS, &[]);
                req.body = String::from_utf8(req.body)
                    .unwrap()
                    .replace(TLS, SCOPED)
                    .into_bytes();
                send_bc(h, &req)
            },
        ),
        // Client authentication runs before any parameter check.
        row(
            "CIBA 7.2 step 1",
            "authentication before parameters",
            "wrong secret and no scope",
            INVALID_CLIENT_BASIC,
            |h| send_bc(h, &bc_request(POLL, &[("scope", "")]).basic(POLL, "wrong")),
        ),
    ]
}

#[test]
fn client_authentication_defects_are_401_invalid_client() {
    run_matrix("client authentication", &client_auth_rows());
}

// ---------------------------------------------------------------------------------------------
// Area 3: signed authentication requests (CIBA 7.1.1, 7.2 step 2; FAPI-CIBA lifetime).
// ---------------------------------------------------------------------------------------------

fn signed_request_rows() -> Vec<Row> {
    vec![
        row(
            "CIBA 7.1.1",
            "request object with alg none",
            "unsigned request object",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &signed_request(&unsigned_jwt(&request_claims(|_| {})), &[]),
                )
            },
        ),
        row(
            "CIBA 7.1.1",
            "request object with an unregistered alg",
            "RS256 with the registered RSA key (PS256 registered)",
            INVALID_REQUEST,
            |h| {
                let jwt =
                    claims_assertion(&ps256_key_as(JwsAlgorithm::RS256), request_claims(|_| {}));
                send_bc(h, &signed_request(&jwt, &[]))
            },
        ),
        row(
            "CIBA 7.1.1",
            "request object with HMAC",
            "HS256 keyed with the client's public JWK set",
            INVALID_REQUEST,
            |h| {
                let key = serde_json::to_string(&public_set(&["ps256"])).unwrap();
                let jwt = claims_assertion(&hmac(&key), request_claims(|_| {}));
                send_bc(h, &signed_request(&jwt, &[]))
            },
        ),
        row(
            "CIBA 7.1.1",
            "request object signed by another key",
            "PS256 by an attacker's RSA key",
            INVALID_REQUEST,
            |h| {
                let attacker = JwkSigner::from_jwk(
                    &Jwk {
                        alg: None,
                        kid: jwk("ps256").kid,
                        ..jwk("attacker_rs256")
                    },
                    Some(JwsAlgorithm::PS256),
                )
                .unwrap();
                send_bc(
                    h,
                    &signed_request(&claims_assertion(&attacker, request_claims(|_| {})), &[]),
                )
            },
        ),
        row(
            "CIBA 7.1.1",
            "request object with a bad signature",
            "last signature character changed",
            INVALID_REQUEST,
            |h| {
                // A character well inside the signature: all six of its bits are significant.
                let jwt = claims_assertion(&signer("ps256"), request_claims(|_| {}));
                let at = jwt.len() - 10;
                let flipped = if &jwt[at..=at] == "A" { "B" } else { "A" };
                let jwt = format!("{}{flipped}{}", &jwt[..at], &jwt[at + 1..]);
                send_bc(h, &signed_request(&jwt, &[]))
            },
        ),
        row(
            "CIBA 7.1.1",
            "request object without iss",
            "iss removed",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| remove(c, "iss"))),
        ),
        row(
            "CIBA 7.1.1",
            "request object without aud",
            "aud removed",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| remove(c, "aud"))),
        ),
        row(
            "CIBA 7.1.1",
            "request object without exp",
            "exp removed",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| remove(c, "exp"))),
        ),
        row(
            "CIBA 7.1.1",
            "request object without nbf",
            "nbf removed",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| remove(c, "nbf"))),
        ),
        row(
            "CIBA 7.1.1",
            "request object without iat",
            "iat removed",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| remove(c, "iat"))),
        ),
        row(
            "CIBA 7.1.1",
            "request object without jti",
            "jti removed",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| remove(c, "jti"))),
        ),
        row(
            "CIBA 7.1.1",
            "request object expired",
            "exp one minute ago",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["exp"] = json!(now_s() - 60))),
        ),
        row(
            "CIBA 7.1.1",
            "request object not yet valid",
            "nbf ten minutes ahead",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["nbf"] = json!(now_s() + 600))),
        ),
        row(
            "CIBA 7.1.1",
            "request object issued in the future",
            "iat ten minutes ahead",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["iat"] = json!(now_s() + 600))),
        ),
        row(
            "FAPI-CIBA 5.2.2",
            "request object valid over 60 min (exp)",
            "exp 70 minutes ahead",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["exp"] = json!(now_s() + 70 * 60))),
        ),
        row(
            "FAPI-CIBA 5.2.2",
            "request object valid over 60 min (old nbf)",
            "nbf 70 minutes ago",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["nbf"] = json!(now_s() - 70 * 60))),
        ),
        row(
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
        ),
        row(
            "CIBA 7.1.1",
            "parameter outside the request object",
            "binding_message as a form parameter",
            INVALID_REQUEST,
            |h| {
                let jwt = claims_assertion(&signer("ps256"), request_claims(|_| {}));
                send_bc(h, &signed_request(&jwt, &[("binding_message", "outside")]))
            },
        ),
        row(
            "CIBA 7.1.1",
            "scope outside the request object",
            "scope repeated as a form parameter",
            INVALID_REQUEST,
            |h| {
                let jwt = claims_assertion(&signer("ps256"), request_claims(|_| {}));
                send_bc(h, &signed_request(&jwt, &[("scope", "openid")]))
            },
        ),
        row(
            "CIBA 7.1.1",
            "request object with a wrong aud",
            "aud=https://other.example",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &ps256_request(|c| c["aud"] = json!("https://other.example")),
                )
            },
        ),
        row(
            "CIBA 7.1.1",
            "request object aud is the token endpoint",
            "aud=token endpoint URL",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["aud"] = json!(TOKEN_ENDPOINT))),
        ),
        row(
            "CIBA 7.1.1",
            "request object iss is not the client",
            "iss=poll-client",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["iss"] = json!(POLL))),
        ),
        row(
            "CIBA 7.1.1",
            "request object client_id claim differs",
            "client_id=poll-client inside",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["client_id"] = json!(POLL))),
        ),
        row(
            "CIBA 7.1.1",
            "request object usable as an assertion",
            "sub equals the client id",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["sub"] = json!(SIGNED))),
        ),
        row(
            "CIBA 7.1.1",
            "encrypted request object",
            "five-part JWE",
            INVALID_REQUEST,
            |h| send_bc(h, &signed_request("a.b.c.d.e", &[])),
        ),
        row(
            "CIBA 7.1.1",
            "request object not a JWT",
            "request=not-a-jwt",
            INVALID_REQUEST,
            |h| send_bc(h, &signed_request("not-a-jwt", &[])),
        ),
        row(
            "CIBA 7.1.1",
            "request from a client without a signing alg",
            "poll client sends request",
            INVALID_REQUEST,
            |h| {
                let jwt =
                    claims_assertion(&signer("es256"), request_claims(|c| c["iss"] = json!(POLL)));
                send_bc(
                    h,
                    &bc_request(
                        POLL,
                        &[("request", &jwt), ("scope", ""), ("login_hint", "")],
                    ),
                )
            },
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
        // The parameters inside get the same checks as form parameters.
        row(
            "CIBA 7.2 step 6",
            "request object without scope",
            "scope removed",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| remove(c, "scope"))),
        ),
        row(
            "CIBA 7.2 step 3",
            "request object with two hints",
            "login_hint and login_hint_token inside",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["login_hint_token"] = json!("lht"))),
        ),
        row(
            "CIBA 7.1",
            "request object scope without openid",
            "scope=email inside",
            INVALID_SCOPE,
            |h| send_bc(h, &ps256_request(|c| c["scope"] = json!("email"))),
        ),
        row(
            "CIBA 7.1",
            "request object scope as an array",
            "scope=[\"openid\"]",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["scope"] = json!(["openid"]))),
        ),
        row(
            "CIBA 7.1",
            "request object requested_expiry 0",
            "requested_expiry: 0",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["requested_expiry"] = json!(0))),
        ),
        row(
            "CIBA 7.1",
            "request object requested_expiry negative",
            "requested_expiry: -1",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["requested_expiry"] = json!(-1))),
        ),
        row(
            "CIBA 7.1",
            "request object requested_expiry fraction",
            "requested_expiry: 1.5",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["requested_expiry"] = json!(1.5))),
        ),
        row(
            "CIBA 7.1",
            "request object requested_expiry exponent",
            "requested_expiry: 1e3 (a JSON float)",
            INVALID_REQUEST,
            |h| {
                send_bc(
                    h,
                    &ps256_request(|c| {
                        c["requested_expiry"] = serde_json::from_str("1e3").unwrap()
                    }),
                )
            },
        ),
        row(
            "CIBA 7.1",
            "request object requested_expiry boolean",
            "requested_expiry: true",
            INVALID_REQUEST,
            |h| send_bc(h, &ps256_request(|c| c["requested_expiry"] = json!(true))),
        ),
        row(
            "CIBA 7.1",
            "request object requested_expiry as a string",
            "requested_expiry: \"90\" (allowed)",
            Expect::Ticket,
            |h| {
                let got = bc(h.backchannel(
                    &ps256_request(|c| c["requested_expiry"] = json!("90")),
                    t0(),
                ));
                if let Got::Ticket(t) = &got {
                    ensure(t.requested_expiry == Some(90), "requested_expiry 90")?;
                    ensure(t.signed_request, "marked as signed")?;
                }
                Ok(got)
            },
        ),
        row(
            "CIBA 13",
            "request object binding_message too long",
            "129 characters inside",
            INVALID_BINDING_MESSAGE,
            |h| {
                send_bc(
                    h,
                    &ps256_request(|c| c["binding_message"] = json!("x".repeat(129))),
                )
            },
        ),
    ]
}

#[test]
fn signed_request_defects_are_invalid_request() {
    run_matrix("signed requests", &signed_request_rows());
}

// ---------------------------------------------------------------------------------------------
// Area 4: the token endpoint (CIBA 10.1, 10.1.1, 11; RFC 6749 3.2, 5.2).
// ---------------------------------------------------------------------------------------------

fn grant_form(pairs: &[(&str, &str)]) -> Req {
    Req::form(pairs).basic(POLL, POLL_SECRET)
}

fn send_tok(h: &Harness, req: &Req, at: u64) -> Result<Got, String> {
    Ok(tok(h.token(req, t0() + secs(at))))
}

fn token_rows() -> Vec<Row> {
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
        row(
            "RFC 6749 3.2",
            "token request as JSON",
            "content type application/json",
            INVALID_REQUEST,
            |h| {
                let mut req = token_request(POLL, "x", t0());
                req.headers
                    .insert("content-type", HeaderValue::from_static("application/json"));
                send_tok(h, &req, 0)
            },
        ),
        row(
            "RFC 6749 5.2",
            "grant_type missing",
            "no grant_type",
            INVALID_REQUEST,
            |h| send_tok(h, &grant_form(&[("auth_req_id", "x")]), 0),
        ),
        row(
            "RFC 6749 3.2",
            "grant_type empty",
            "grant_type= without a value",
            INVALID_REQUEST,
            |h| {
                send_tok(
                    h,
                    &grant_form(&[("grant_type", ""), ("auth_req_id", "x")]),
                    0,
                )
            },
        ),
        row(
            "RFC 6749 5.2",
            "grant_type twice",
            "grant_type repeated",
            INVALID_REQUEST,
            |h| {
                send_tok(
                    h,
                    &grant_form(&[
                        ("grant_type", CIBA_GRANT_TYPE),
                        ("grant_type", CIBA_GRANT_TYPE),
                        ("auth_req_id", "x"),
                    ]),
                    0,
                )
            },
        ),
        row(
            "RFC 6749 5.2",
            "another grant_type",
            "grant_type=authorization_code, left to the AS",
            Expect::NotCibaGrant,
            |h| {
                send_tok(
                    h,
                    &grant_form(&[("grant_type", "authorization_code"), ("code", "x")]),
                    0,
                )
            },
        ),
        row(
            "CIBA 10.1",
            "grant_type in another case",
            "urn:openid:params:grant-type:CIBA",
            Expect::NotCibaGrant,
            |h| {
                send_tok(
                    h,
                    &grant_form(&[
                        ("grant_type", "urn:openid:params:grant-type:CIBA"),
                        ("auth_req_id", "x"),
                    ]),
                    0,
                )
            },
        ),
        row(
            "CIBA 10.1",
            "auth_req_id missing",
            "no auth_req_id",
            INVALID_REQUEST,
            |h| send_tok(h, &grant_form(&[("grant_type", CIBA_GRANT_TYPE)]), 0),
        ),
        row(
            "RFC 6749 3.2",
            "auth_req_id empty",
            "auth_req_id= without a value",
            INVALID_REQUEST,
            |h| {
                send_tok(
                    h,
                    &grant_form(&[("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", "")]),
                    0,
                )
            },
        ),
        row(
            "RFC 6749 5.2",
            "auth_req_id twice",
            "auth_req_id repeated",
            INVALID_REQUEST,
            |h| {
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                send_tok(
                    h,
                    &grant_form(&[
                        ("grant_type", CIBA_GRANT_TYPE),
                        ("auth_req_id", id.as_str()),
                        ("auth_req_id", id.as_str()),
                    ]),
                    5,
                )
            },
        ),
        row(
            "CIBA 11",
            "unknown auth_req_id",
            "auth_req_id never issued",
            INVALID_GRANT,
            |h| send_tok(h, &token_request(POLL, "no-such-request", t0()), 0),
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
        row(
            "CIBA 11",
            "auth_req_id over the limit",
            "3000-character auth_req_id",
            INVALID_GRANT,
            |h| send_tok(h, &token_request(POLL, &"a".repeat(3000), t0()), 0),
        ),
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
                let id = h.start(PING, t0()).auth_req_id;
                ensure(
                    is_error(&poll_at(h, PING, &id, 5), "authorization_pending"),
                    "pending at 5 s",
                )?;
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
                let a = h.start(POLL, t0()).auth_req_id;
                let b = h.start(POLL, t0()).auth_req_id;
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
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                ensure(
                    is_error(&poll_at(h, POLL, &id, 5), "authorization_pending"),
                    "owner pending at 5 s",
                )?;
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
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                approve(h, &id, 1)?;
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
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                approve(h, &id, 1)?;
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
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                ensure(
                    is_error(&poll_at(h, POLL, &id, 5), "authorization_pending"),
                    "first poll pending",
                )?;
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
                let id = h.issue(&ticket, t0()).auth_req_id;
                let got = poll_at(h, POLL, &id, 30);
                let late = h.complete(
                    &id,
                    AuthenticationResult::Authorized(Authorization::new("alice")),
                    t0() + secs(31),
                );
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
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                h.complete(&id, AuthenticationResult::AccessDenied, t0() + secs(1))
                    .map_err(|e| e.to_string())?;
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
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                h.complete(&id, AuthenticationResult::TransactionFailed, t0() + secs(1))
                    .map_err(|e| e.to_string())?;
                Ok(poll_at(h, POLL, &id, 5))
            },
        ),
        row(
            "CIBA 11",
            "push client uses the grant",
            "push client at the token endpoint",
            UNAUTHORIZED_CLIENT,
            |h| {
                let id = h.start(PUSH, t0()).auth_req_id;
                approve(h, &id, 1)?;
                Ok(poll_at(h, PUSH, &id, 5))
            },
        ),
        row(
            "RFC 6749 5.2",
            "client without CIBA uses the grant",
            "client with no delivery mode",
            UNAUTHORIZED_CLIENT,
            |h| send_tok(h, &token_request(NO_CIBA, "x", t0()), 0),
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
        row(
            "CIBA 11",
            "poll mode disabled on the server",
            "pending poll request, server reconfigured to ping and push",
            UNAUTHORIZED_CLIENT,
            |h| {
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                approve(h, &id, 1)?;
                let server = reconfigured(h, config_without(DeliveryMode::Poll));
                let req = token_request(POLL, &id, t0());
                Ok(tok(block_on(server.token_request(
                    &req.incoming(),
                    t0() + secs(5),
                    &h.rng,
                ))))
            },
        ),
        row(
            "CIBA 11",
            "ping mode disabled on the server",
            "pending ping request, server reconfigured to poll and push",
            UNAUTHORIZED_CLIENT,
            |h| {
                let id = h.start(PING, t0()).auth_req_id;
                let server = reconfigured(h, config_without(DeliveryMode::Ping));
                let req = token_request(PING, &id, t0());
                Ok(tok(block_on(server.token_request(
                    &req.incoming(),
                    t0() + secs(5),
                    &h.rng,
                ))))
            },
        ),
        // Client authentication at the token endpoint.
        row(
            "RFC 6749 5.2",
            "token endpoint: wrong Basic secret",
            "client_secret_basic with a wrong secret",
            INVALID_CLIENT_BASIC,
            |h| send_tok(h, &token_request(POLL, "x", t0()).basic(POLL, "wrong"), 0),
        ),
        row(
            "RFC 6749 5.2",
            "token endpoint: no authentication",
            "grant without credentials",
            INVALID_CLIENT,
            |h| {
                send_tok(
                    h,
                    &Req::form(&[("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", "x")]),
                    0,
                )
            },
        ),
        row(
            "RFC 6749 5.2",
            "token endpoint: public client",
            "client_id of a public client",
            INVALID_CLIENT,
            |h| {
                send_tok(
                    h,
                    &Req::form(&[
                        ("grant_type", CIBA_GRANT_TYPE),
                        ("auth_req_id", "x"),
                        ("client_id", PUBLIC),
                    ]),
                    0,
                )
            },
        ),
        row(
            "CIBA 7.1",
            "token endpoint: backchannel audience",
            "assertion aud is the backchannel endpoint URL",
            INVALID_CLIENT,
            |h| {
                let jwt = assertion(
                    &signer("ps256"),
                    SIGNED,
                    json!(BC_ENDPOINT),
                    t0(),
                    "tok-aud",
                );
                send_tok(
                    h,
                    &Req::form(&[
                        ("grant_type", CIBA_GRANT_TYPE),
                        ("auth_req_id", "x"),
                        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                        ("client_assertion", &jwt),
                    ]),
                    0,
                )
            },
        ),
        row(
            "RFC 7523 3",
            "token endpoint: assertion replayed",
            "an assertion first used at the backchannel endpoint",
            INVALID_CLIENT,
            |h| {
                let jwt = assertion(
                    &signer("ps256"),
                    SIGNED,
                    json!(ISSUER),
                    t0(),
                    "cross-endpoint",
                );
                let first = bc(h.backchannel(
                    &Req::form(&[
                        ("scope", "openid"),
                        ("login_hint", "a"),
                        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                        ("client_assertion", &jwt),
                    ]),
                    t0(),
                ));
                ensure(matches!(first, Got::Ticket(_)), "first use accepted")?;
                send_tok(
                    h,
                    &Req::form(&[
                        ("grant_type", CIBA_GRANT_TYPE),
                        ("auth_req_id", "x"),
                        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                        ("client_assertion", &jwt),
                    ]),
                    1,
                )
            },
        ),
        row(
            "CIBA 10.1",
            "authentication before the auth_req_id",
            "wrong secret for a valid auth_req_id",
            INVALID_CLIENT_BASIC,
            |h| {
                let id = h.start(POLL, t0()).auth_req_id.into_string();
                approve(h, &id, 1)?;
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

#[test]
fn token_endpoint_defects_get_their_section_11_answers() {
    run_matrix("token endpoint", &token_rows());
}

// ---------------------------------------------------------------------------------------------
// Conformance checks that are not defects of a request.
// ---------------------------------------------------------------------------------------------

/// A random source that repeats one byte: what it yields shows through in the identifiers.
use ciba_test::random::Constant as ConstantRng;

/// S-ACK-1 and S-ACK-2 (CIBA 7.3): every `auth_req_id` is exactly `IDENTIFIER_BYTES` (at
/// least 20, i.e. 160 bits) of the caller's random source, in unpadded base64url, so only
/// `A-Z a-z 0-9 - _` appear.
#[test]
fn auth_req_ids_are_160_random_bits_in_unpadded_base64url() {
    let bytes = ciba_core::random::IDENTIFIER_BYTES;
    assert!(bytes >= 20, "at least 160 bits, got {bytes} bytes");
    for (fill, alphabet_edge) in [(0x00, "A"), (0xFF, "_"), (0xFB, "-")] {
        let h = Harness::new();
        let rng = ConstantRng(fill);
        let req = bc_request(POLL, &[]);
        let BackchannelOutcome::UserIdentification(ticket) =
            block_on(h.server.authenticate_request(&req.incoming(), t0(), &rng))
        else {
            panic!("refused")
        };
        let ciba_server::IssueOutcome::Issued(ack) =
            block_on(h.server.issue(&*ticket, "alice", t0(), &rng))
        else {
            panic!("not issued")
        };
        assert_eq!(
            ack.auth_req_id.as_str(),
            URL_SAFE_NO_PAD.encode(vec![fill; bytes]),
            "the id is the random bytes, nothing else"
        );
        assert!(
            ack.auth_req_id.as_str().contains(alphabet_edge),
            "{}",
            ack.auth_req_id.as_str()
        );
    }
    let h = Harness::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let id = h.start(POLL, t0()).auth_req_id.into_string();
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{id}"
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&id).unwrap().len(), bytes);
        assert!(seen.insert(id), "an auth_req_id repeated");
    }
}

/// Checklist 3.8: ID tokens are signed with an asymmetric algorithm, name their key in `kid`,
/// and carry no `nonce`, `c_hash` or `s_hash` (CIBA has no nonce, code or state).
#[test]
fn id_tokens_name_their_key_and_carry_no_nonce_c_hash_or_s_hash() {
    let h = Harness::new();
    // The test clients registered no id_token_signed_response_alg: RS256, the default.
    let kid = jwk("rs256").kid.expect("the test key has a kid");
    let poll_id = h.start(POLL, t0()).auth_req_id;
    approve(&h, &poll_id, 1).unwrap();
    let TokenOutcome::Issued(grant) = h.poll(POLL, &poll_id, t0() + secs(5)) else {
        panic!("no tokens")
    };
    let push_id = h.start(PUSH, t0()).auth_req_id;
    let pushed = h
        .complete(
            &push_id,
            AuthenticationResult::Authorized(Authorization::new("alice")),
            t0() + secs(1),
        )
        .unwrap();
    let pushed: Value = serde_json::from_slice(pushed.notification().unwrap().body()).unwrap();
    for id_token in [
        grant.tokens.id_token.as_str(),
        pushed["id_token"].as_str().unwrap(),
    ] {
        let jws =
            ciba_core::jose::CompactJws::parse(id_token, &ciba_core::Limits::DEFAULT).unwrap();
        assert_eq!(jws.header.kid.as_deref(), Some(kid.as_str()));
        let alg: JwsAlgorithm = jws.header.alg.parse().unwrap();
        assert!(!alg.is_symmetric(), "{alg:?}");
        let (_, claims) = verify_id_token(&h.op_keys, id_token);
        for absent in ["nonce", "c_hash", "s_hash"] {
            assert!(claims.get(absent).is_none(), "{absent} in {claims:?}");
        }
    }
}

/// The matrix is as large as the report says: a guard against rows silently dropped.
#[test]
fn the_matrix_covers_every_area() {
    let counts = [
        parameter_rows().len(),
        client_auth_rows().len(),
        signed_request_rows().len(),
        token_rows().len(),
    ];
    assert!(counts.iter().all(|c| *c >= 25), "{counts:?}");
    for r in parameter_rows()
        .iter()
        .chain(&client_auth_rows())
        .chain(&signed_request_rows())
        .chain(&token_rows())
    {
        assert!(!r.section.is_empty() && !r.defect.is_empty(), "{}", r.name);
    }
}
