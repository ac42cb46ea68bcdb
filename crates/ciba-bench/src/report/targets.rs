//! The targets of the performance issue, each a comparison of figures from one run.

use super::{Results, num};

/// The targets' bounds, from the performance issues (the latest bound of each).
mod bound {
    /// Polls, ours over the hyper ceiling.
    pub(super) const POLL_VS_CEILING: f64 = 0.75;
    /// Polls, ours over oidc-provider.
    pub(super) const POLL_VS_OP: f64 = 15.0;
    /// Backchannel requests, ours over the hyper ceiling.
    pub(super) const BACKCHANNEL_VS_CEILING: f64 = 0.6;
    /// Backchannel requests, ours over oidc-provider.
    pub(super) const BACKCHANNEL_VS_OP: f64 = 12.0;
    /// Our p99 latency over oidc-provider's, in the same scenario.
    pub(super) const P99_VS_OP: f64 = 0.25;
    /// The longest request of the growth run, in milliseconds (strictly below).
    pub(super) const GROWTH_MAX_MS: f64 = 50.0;
    /// MemoryStore bytes per pending request.
    pub(super) const BYTES_PER_PENDING: f64 = 300.0;
}

/// Whether a target holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The measured figure is on the right side of the bound.
    Met,
    /// It is not.
    Missed,
    /// A figure it needs was not measured in this run.
    Missing,
}

impl Verdict {
    /// The word the report prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::Missing => "not measured",
        }
    }
}

/// One target: what is compared, the bound, what this run measured.
#[derive(Debug, Clone)]
pub struct Target {
    /// What the target is about.
    pub name: String,
    /// The bound, in words (`>= 0.5x`).
    pub bound: String,
    /// The measured figure (a ratio or a value in the target's unit).
    pub measured: Option<f64>,
    /// The unit `measured` is printed with (`x`, ` ms`, ` B`).
    pub unit: &'static str,
    /// How the figure was obtained (`50,000 / 80,000 req/s`).
    pub detail: String,
    /// Met, missed or missing.
    pub verdict: Verdict,
}

impl Target {
    /// The target on one line, for the terminal.
    pub fn one_line(&self) -> String {
        let measured = self
            .measured
            .map_or("-".to_owned(), |m| format!("{m:.2}{}", self.unit));
        format!(
            "{:<12} {} ({}; target {})",
            self.verdict.as_str(),
            self.name,
            measured,
            self.bound
        )
    }
}

/// A target "a / b is at least `min`".
fn ratio_at_least(name: &str, a: Option<f64>, b: Option<f64>, min: f64, what: &str) -> Target {
    let measured = match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let detail = match (a, b) {
        (Some(a), Some(b)) => format!("{} / {} {what}", thousands(a), thousands(b)),
        _ => format!("a figure was not measured ({what})"),
    };
    Target {
        name: name.to_owned(),
        bound: format!(">= {min}x"),
        measured,
        unit: "x",
        detail,
        verdict: verdict(measured, |m| m >= min),
    }
}

/// A target "a / b is at most `max`" (a and b in microseconds).
fn latency_ratio_at_most(
    name: &str,
    a: Option<f64>,
    b: Option<f64>,
    max: f64,
    what: &str,
) -> Target {
    let measured = match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let detail = match (a, b) {
        (Some(a), Some(b)) => format!("{} / {} µs {what}", thousands(a), thousands(b)),
        _ => format!("a figure was not measured ({what})"),
    };
    Target {
        name: name.to_owned(),
        bound: format!("<= {max}x"),
        measured,
        unit: "x",
        detail,
        verdict: verdict(measured, |m| m <= max),
    }
}

/// A target "`value` is at most `max`" (or below, when `strict`).
fn value_at_most(
    name: &str,
    value: Option<f64>,
    max: f64,
    unit: &'static str,
    strict: bool,
    detail: String,
) -> Target {
    Target {
        name: name.to_owned(),
        bound: format!("{} {max}{unit}", if strict { "<" } else { "<=" }),
        measured: value,
        unit,
        detail,
        verdict: verdict(value, |v| if strict { v < max } else { v <= max }),
    }
}

fn verdict(measured: Option<f64>, holds: impl Fn(f64) -> bool) -> Verdict {
    match measured {
        Some(m) if holds(m) => Verdict::Met,
        Some(_) => Verdict::Missed,
        None => Verdict::Missing,
    }
}

/// `12345.6` as `12,346`.
pub(crate) fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let rounded = x.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0 {
        out.insert(0, '-');
    }
    out
}

pub(super) fn compute(r: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    let rate = |label: &str| r.load_rate(label);
    out.push(ratio_at_least(
        "CIBA polls vs the hyper ceiling",
        rate("ours/poll"),
        rate("ceiling/poll"),
        bound::POLL_VS_CEILING,
        "req/s",
    ));
    out.push(ratio_at_least(
        "CIBA polls vs oidc-provider",
        rate("ours/poll"),
        rate("oidc-provider/poll"),
        bound::POLL_VS_OP,
        "req/s",
    ));
    out.push(ratio_at_least(
        "Backchannel requests vs the hyper ceiling",
        rate("ours/backchannel"),
        rate("ceiling/backchannel"),
        bound::BACKCHANNEL_VS_CEILING,
        "req/s",
    ));
    out.push(ratio_at_least(
        "CIBA polls through Redis vs MemoryStore",
        rate("ours-redis/poll"),
        rate("ours/poll"),
        0.5,
        "req/s",
    ));
    out.push(ratio_at_least(
        "Backchannel requests through Redis vs MemoryStore",
        rate("ours-redis/backchannel"),
        rate("ours/backchannel"),
        0.5,
        "req/s",
    ));
    out.push(ratio_at_least(
        "Backchannel requests vs oidc-provider",
        rate("ours/backchannel"),
        rate("oidc-provider/backchannel"),
        bound::BACKCHANNEL_VS_OP,
        "req/s",
    ));

    // Tail latency: ours over oidc-provider's p99 in the same scenario, and the run in
    // which the MemoryStore grows to millions of pending requests against oidc-provider's
    // backchannel run.
    let p99 = |label: &str| r.load(label).and_then(|v| num(v, "p99_us"));
    for scenario in ["poll", "backchannel"] {
        out.push(latency_ratio_at_most(
            &format!("p99 latency of {scenario} requests vs oidc-provider's"),
            p99(&format!("ours/{scenario}")),
            p99(&format!("oidc-provider/{scenario}")),
            bound::P99_VS_OP,
            "p99",
        ));
    }
    let growth = r.growth();
    let grown = growth
        .and_then(|v| num(v, "acknowledged_total"))
        .map_or("?".to_owned(), thousands);
    out.push(latency_ratio_at_most(
        &format!("p99 latency while the store grows to {grown} pending vs oidc-provider's"),
        growth.and_then(|v| num(v, "p99_us")),
        p99("oidc-provider/backchannel"),
        bound::P99_VS_OP,
        "p99, backchannel",
    ));
    out.push(value_at_most(
        "Longest request while the store grows",
        growth.and_then(|v| num(v, "max_us")).map(|us| us / 1000.0),
        bound::GROWTH_MAX_MS,
        " ms",
        true,
        format!("{grown} pending requests at the end"),
    ));
    out.push(value_at_most(
        "ciba serve: bytes per pending request while the store grows",
        growth.and_then(|v| num(v, "server_bytes_per_acknowledged")),
        bound::BYTES_PER_PENDING,
        " B",
        false,
        format!("server RSS delta over {grown} pending requests"),
    ));

    let scale = r.scale();
    let count = scale.and_then(|s| num(s, "count"));
    out.push(value_at_most(
        "MemoryStore: bytes per pending request",
        scale.and_then(|s| num(s, "bytes_per_pending")),
        bound::BYTES_PER_PENDING,
        " B",
        false,
        format!(
            "RSS delta over {} pending requests",
            count.map_or("?".to_owned(), thousands)
        ),
    ));
    out.push(value_at_most(
        "MemoryStore: pending requests lost",
        scale.and_then(|s| num(s, "lost")),
        0.0,
        "",
        false,
        "every request polled after its interval".to_owned(),
    ));

    for mode in ["ping", "push"] {
        let e2e = r.e2e(mode);
        out.push(value_at_most(
            &format!("{mode}: approval to tokens at the client (median)"),
            e2e.and_then(|v| num(v, "median_ms")),
            5.0,
            " ms",
            true,
            "loopback, HTTP/1.1".to_owned(),
        ));
    }
    let poll = r.e2e("poll");
    let interval = poll.and_then(|v| num(v, "interval_ms"));
    out.push(value_at_most(
        "poll: approval to tokens at the client (median), within one interval",
        poll.and_then(|v| num(v, "median_ms")),
        interval.unwrap_or(f64::NAN),
        " ms",
        false,
        format!(
            "interval {} ms",
            interval.map_or("?".to_owned(), |i| format!("{i:.0}"))
        ),
    ));

    for alg in ["RS256", "ES256"] {
        out.push(ratio_at_least(
            &format!("Client token response + ID token validation, {alg} vs oauth4webapi"),
            r.client_rate("ciba-core", alg),
            r.client_rate("oauth4webapi", alg),
            4.0,
            "per s, one core",
        ));
    }
    for alg in ["RS256", "ES256"] {
        out.push(ratio_at_least(
            &format!("Client token response + ID token validation, {alg} vs openssl verify"),
            r.client_rate("ciba-core", alg),
            r.openssl_verify(alg),
            0.6,
            "per s, one core",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.8), "1,234,568");
        assert_eq!(thousands(-4200.0), "-4,200");
    }
}
