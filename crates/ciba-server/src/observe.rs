//! Tracing spans and metrics: what the helper tells an operator, and what it never does.
//!
//! **Spans.** Every endpoint call runs in an `INFO` span named `ciba_endpoint` with the
//! fields `endpoint` (`backchannel`, `issue`, `fail`, `complete`, `token`,
//! `push_undelivered`), `client_id` (once the client is authenticated or known from the
//! ticket), `auth_req` (the request's [`short_hash`], never the `auth_req_id` itself) and
//! `outcome` (`ok`, the OAuth error code answered, or for `complete` what is to be sent).
//! Every store operation runs in a `DEBUG` span named `ciba_store` with `op` and `outcome`,
//! inside the endpoint's span. No span or event carries a secret, token, assertion, hint,
//! binding message or user code.
//!
//! **Metrics**, through the [`metrics`] facade (a no-op until the host installs a recorder;
//! the names are the constants below, documented in `docs/observability.md`):
//!
//! | name | type | labels |
//! |---|---|---|
//! | [`REQUESTS`] | counter | `endpoint`, `outcome` |
//! | [`AUTHENTICATION_RESULTS`] | counter | `result`: `approved`, `denied`, `failed` |
//! | [`EXPIRIES`] | counter | `seen_at`: `token`, `complete` |
//! | [`PENDING_REQUESTS`] | gauge | none |
//! | [`STORE_OPERATION_SECONDS`] | histogram | `operation` |
//!
//! Labels are `&'static str`s: an unknown error code becomes `other`, never the peer's text.
//! `slow_down` answers are `REQUESTS{endpoint="token", outcome="slow_down"}`.
//!
//! [`short_hash`]: ciba_core::observe::short_hash

use std::time::Instant;

use ciba_core::ErrorCode;
use ciba_core::observe::short_hash;
use tracing::Span;
use tracing::field::Empty;

/// Counter: calls of each endpoint by outcome (`ok`, or the OAuth error code answered).
pub const REQUESTS: &str = "ciba_requests_total";
/// Counter: the user's results recorded by [`CibaServer::complete`](crate::CibaServer::complete).
pub const AUTHENTICATION_RESULTS: &str = "ciba_authentication_results_total";
/// Counter: requests found expired, at the token endpoint (each `expired_token` answered for an
/// expired request; a client stops polling after the first) or at completion (the user
/// answered too late).
pub const EXPIRIES: &str = "ciba_expiries_total";
/// Gauge: requests waiting for the user, as the store counts them (set by
/// [`CibaServer::record_pending_requests`](crate::CibaServer::record_pending_requests)).
pub const PENDING_REQUESTS: &str = "ciba_pending_requests";
/// Histogram: how long each store operation took, in seconds (recorded once the host hands
/// the server a monotonic clock: [`CibaServer::with_latency_clock`](crate::CibaServer::with_latency_clock)).
pub const STORE_OPERATION_SECONDS: &str = "ciba_store_operation_seconds";

/// Gives the installed recorder a description (and unit) for each metric this crate records,
/// for exporters that publish them (Prometheus `# HELP`). Call it once, after installing the
/// recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(REQUESTS, "CIBA endpoint calls by endpoint and outcome");
    metrics::describe_counter!(
        AUTHENTICATION_RESULTS,
        "user authentication results recorded (approved, denied, failed)"
    );
    metrics::describe_counter!(EXPIRIES, "requests found expired, by where");
    metrics::describe_gauge!(
        PENDING_REQUESTS,
        "requests waiting for the user, from the store"
    );
    metrics::describe_histogram!(
        STORE_OPERATION_SECONDS,
        metrics::Unit::Seconds,
        "store operation latency by operation"
    );
}

/// A monotonic clock for latency figures only (never for a protocol decision).
pub type LatencyClock = fn() -> Instant;

/// The span of one endpoint call (see the module docs).
pub(crate) fn endpoint_span(endpoint: &'static str) -> Span {
    tracing::info_span!(
        "ciba_endpoint",
        endpoint,
        client_id = Empty,
        auth_req = Empty,
        outcome = Empty
    )
}

/// Records `client_id` on `span`.
pub(crate) fn record_client(span: &Span, client_id: &str) {
    span.record("client_id", client_id);
}

/// Records the short hash of `auth_req_id` on `span`.
pub(crate) fn record_auth_req(span: &Span, auth_req_id: &str) {
    // No hash to compute when nobody listens.
    if span.is_disabled() {
        return;
    }
    span.record("auth_req", tracing::field::display(short_hash(auth_req_id)));
}

/// Counts one call of `endpoint` with `outcome` and records the outcome on `span`.
pub(crate) fn finish(span: &Span, endpoint: &'static str, outcome: &'static str) {
    span.record("outcome", outcome);
    metrics::counter!(REQUESTS, "endpoint" => endpoint, "outcome" => outcome).increment(1);
}

/// The label of an answered error code.
pub(crate) fn code_label(code: &ErrorCode) -> &'static str {
    code.label()
}

/// Counts one recorded user result (`approved`, `denied`, `failed`).
pub(crate) fn count_result(result: &'static str) {
    metrics::counter!(AUTHENTICATION_RESULTS, "result" => result).increment(1);
}

/// Counts one request found expired where `seen_at` says.
pub(crate) fn count_expiry(seen_at: &'static str) {
    metrics::counter!(EXPIRIES, "seen_at" => seen_at).increment(1);
}

/// Sets the pending-requests gauge.
pub(crate) fn set_pending(count: usize) {
    // Precision loss only beyond 2^53 requests.
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(PENDING_REQUESTS).set(count as f64);
}
