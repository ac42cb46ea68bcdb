//! The server's negative conformance matrix: one table row per defective request, naming the
//! spec section, the defect and the answer the spec (or a documented decision of this crate)
//! requires: HTTP status, `error` code and, for 401 answers to HTTP authentication, the
//! `WWW-Authenticate` challenge (RFC 6749 section 5.2).
//!
//! Each `#[test]` runs the rows of one area on a fresh [`Harness`], collects every row that
//! fails (a wrong answer, a malformed error body, a failed follow-up check or a panic), and
//! reports them all at once with their section. A few rows expect acceptance: they prove a
//! defect is *ignored* as the spec says (unknown parameters, a `user_code` nobody asked for).
//!
//! This file holds the machinery (the row, the runner, the request builders the areas share);
//! each area has its own file. Rows of one pattern come from a row builder ([`bc_rows`],
//! or a builder local to the area) that is given only what varies from row to row.

mod backchannel;
mod client_auth;
mod issued;
mod request_object;
mod token;

use crate::common;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::wire::is_valid_error_text;
use ciba_core::wire::unix_seconds;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, BoxFuture, CibaServer, ClientMetadata,
    ClientRegistry, DefaultTokenMinter, DeliveryMode, MemoryStore, RegistryError, ServerConfig,
    Ticket, TokenOutcome,
};
use common::*;
use http::Method;
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
    name: String,
    defect: String,
    expect: Expect,
    run: Run,
}

/// What a row does: sends its request (after any set-up) and may check what follows.
type Run = Box<dyn Fn(&Harness) -> Result<Got, String>>;

/// A row of [`bc_rows`]: its name and the parameters it changes.
type BcCase<'a> = (&'static str, &'a [(&'a str, &'a str)]);

fn row(
    section: &'static str,
    name: impl Into<String>,
    defect: impl Into<String>,
    expect: Expect,
    run: impl Fn(&Harness) -> Result<Got, String> + 'static,
) -> Row {
    Row {
        section,
        name: name.into(),
        defect: defect.into(),
        expect,
        run: Box::new(run),
    }
}

/// A row that sends `req` to the backchannel endpoint as it is.
fn sends(
    section: &'static str,
    name: impl Into<String>,
    defect: impl Into<String>,
    expect: Expect,
    req: Req,
) -> Row {
    row(section, name, defect, expect, move |h| send_bc(h, &req))
}

/// The row of the commonest pattern: the standard backchannel request of `client` with
/// `pairs` changed (an empty value drops the parameter, see [`bc_request`]).
fn bc_row(
    section: &'static str,
    name: impl Into<String>,
    defect: impl Into<String>,
    expect: Expect,
    client: &'static str,
    pairs: &[(&str, &str)],
) -> Row {
    sends(section, name, defect, expect, bc_request(client, pairs))
}

/// The row builder of that pattern: one [`bc_row`] per `(name, pairs)`, all from `section`
/// and expecting `expect`; the defect is what `pairs` change.
fn bc_rows(
    section: &'static str,
    client: &'static str,
    expect: Expect,
    cases: &[BcCase<'_>],
) -> Vec<Row> {
    cases
        .iter()
        .map(|(name, pairs)| bc_row(section, *name, changes(pairs), expect, client, pairs))
        .collect()
}

/// What `pairs` change in the standard request, as a row's defect.
fn changes(pairs: &[(&str, &str)]) -> String {
    let changes: Vec<String> = pairs
        .iter()
        .map(|(k, v)| match v {
            &"" => format!("{k} removed"),
            v => format!("{k}={v:?}"),
        })
        .collect();
    changes.join(", ")
}

/// A row whose backchannel request `req` must be accepted, after which `check` looks at the
/// ticket: the defect is one the spec says to ignore.
fn accepted(
    section: &'static str,
    name: &'static str,
    defect: &'static str,
    req: Req,
    check: impl Fn(&Harness, &Ticket) -> Result<(), String> + 'static,
) -> Row {
    row(section, name, defect, Expect::Ticket, move |h| {
        let got = bc(h.backchannel(&req, t0()));
        if let Got::Ticket(t) = &got {
            check(h, t)?;
        }
        Ok(got)
    })
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
        assert!(names.insert(&r.name), "duplicate row name {:?}", r.name);
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

fn approve(h: &Harness, auth_req_id: &str, at: u64) -> Result<(), String> {
    h.approve(auth_req_id, t0() + secs(at))
        .map(|_| ())
        .map_err(|e| format!("approval failed: {e}"))
}

/// The matrix is as large as the report says: a guard against rows silently dropped.
#[test]
fn the_matrix_covers_every_area() {
    let areas = [
        backchannel::parameter_rows(),
        client_auth::client_auth_rows(),
        request_object::signed_request_rows(),
        token::token_rows(),
    ];
    let counts = areas.each_ref().map(Vec::len);
    assert!(counts.iter().all(|c| *c >= 25), "{counts:?}");
    for r in areas.iter().flatten() {
        assert!(!r.section.is_empty() && !r.defect.is_empty(), "{}", r.name);
    }
}
