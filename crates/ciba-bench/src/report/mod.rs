//! The report behind docs/performance.md: the collected `RESULT` lines, the targets computed
//! from them, and their rendering as Markdown ([`markdown()`]) and SVG ([`svg()`]).

mod criterion;
mod markdown;
mod svg;
mod targets;

pub use criterion::{Estimate, criterion_estimates};
pub use markdown::markdown;
pub use svg::svg;
pub use targets::{Target, Verdict};

use serde_json::Value;

/// Label of the load run in which the MemoryStore grows to millions of pending requests
/// (`cargo xtask bench`'s last MemoryStore run).
pub const GROWTH_LABEL: &str = "ours/backchannel-growth";

/// Every `RESULT` line of one `cargo xtask bench` run.
#[derive(Debug, Default, Clone)]
pub struct Results {
    lines: Vec<Value>,
}

impl Results {
    /// Parses one JSON object per non-empty line.
    pub fn parse(text: &str) -> Result<Results, String> {
        let mut lines = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            if !value.is_object() {
                return Err(format!("line {}: not a JSON object", n + 1));
            }
            lines.push(value);
        }
        Ok(Results { lines })
    }

    /// The lines of `kind`, in run order.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.lines
            .iter()
            .filter(move |v| v.get("kind").and_then(Value::as_str) == Some(kind))
    }

    /// The run's `meta` line, if any.
    pub fn meta(&self) -> Option<&Value> {
        self.of_kind("meta").next()
    }

    /// The load run labelled `label` (such as `ours/poll`).
    pub fn load(&self, label: &str) -> Option<&Value> {
        self.of_kind("load")
            .find(|v| v.get("label").and_then(Value::as_str) == Some(label))
    }

    /// Requests per second of the load run labelled `label`.
    pub fn load_rate(&self, label: &str) -> Option<f64> {
        self.load(label).and_then(|v| num(v, "per_s"))
    }

    /// The `client_rate` figure of `implementation` for `alg`.
    pub fn client_rate(&self, implementation: &str, alg: &str) -> Option<f64> {
        self.of_kind("client_rate")
            .find(|v| str_of(v, "impl") == Some(implementation) && str_of(v, "alg") == Some(alg))
            .and_then(|v| num(v, "per_s"))
    }

    /// openssl's verifications per second for `alg`.
    pub fn openssl_verify(&self, alg: &str) -> Option<f64> {
        self.of_kind("openssl_verify")
            .find(|v| str_of(v, "alg") == Some(alg))
            .and_then(|v| num(v, "per_s"))
    }

    /// The end-to-end latency line of `mode`.
    pub fn e2e(&self, mode: &str) -> Option<&Value> {
        self.of_kind("e2e")
            .find(|v| str_of(v, "mode") == Some(mode))
    }

    /// The load run in which the MemoryStore grew to millions of pending requests.
    pub fn growth(&self) -> Option<&Value> {
        self.load(GROWTH_LABEL)
    }

    /// The scale line.
    pub fn scale(&self) -> Option<&Value> {
        self.of_kind("scale").next()
    }

    /// Every target of the performance issue, computed from this run.
    pub fn targets(&self) -> Vec<Target> {
        targets::compute(self)
    }
}

/// Member `key` of `v` as a number.
pub(crate) fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// Member `key` of `v` as a string.
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"kind":"meta","date":"2026-12-02","cpu":"x","cores":"2","command":"cargo xtask bench"}
{"kind":"load","label":"ceiling/poll","scenario":"poll","per_s":80000.0,"p50_us":300,"p99_us":900}
{"kind":"load","label":"ours/poll","scenario":"poll","per_s":62000.0,"p50_us":500,"p99_us":1500}
{"kind":"load","label":"oidc-provider/poll","scenario":"poll","per_s":3000.0,"p50_us":9000,"p99_us":20000}
{"kind":"load","label":"keycloak/poll","scenario":"poll","per_s":5000.0,"server_cpu_us_per_request":400.0}
{"kind":"load","label":"ceiling/backchannel","scenario":"backchannel","per_s":80000.0}
{"kind":"load","label":"ours/backchannel","scenario":"backchannel","per_s":20000.0}
{"kind":"load","label":"ours/backchannel-growth","scenario":"backchannel","per_s":20000.0,"p99_us":6000,"max_us":55000,"acknowledged_total":3000000,"server_bytes_per_acknowledged":280.0}
{"kind":"scale","count":1000000,"bytes_per_pending":290.5,"lost":0,"sweep_ns_per_expired":120.0,"expired":100000}
{"kind":"e2e","mode":"ping","median_ms":1.2,"interval_ms":5000.0}
{"kind":"e2e","mode":"poll","median_ms":700.0,"interval_ms":1000.0}
{"kind":"client_rate","impl":"ciba-core","alg":"RS256","per_s":30000.0}
{"kind":"client_rate","impl":"oauth4webapi","alg":"RS256","per_s":6000.0}
{"kind":"openssl_verify","alg":"RS256","per_s":45000.0}
"#;

    #[test]
    fn parses_lines_and_finds_figures() {
        let r = Results::parse(SAMPLE).unwrap();
        assert_eq!(r.load_rate("ours/poll"), Some(62000.0));
        assert_eq!(r.growth().and_then(|v| num(v, "max_us")), Some(55000.0));
        assert_eq!(r.client_rate("oauth4webapi", "RS256"), Some(6000.0));
        assert_eq!(r.openssl_verify("RS256"), Some(45000.0));
        assert_eq!(r.openssl_verify("ES256"), None);
        assert!(r.meta().is_some());
    }

    #[test]
    fn rejects_a_line_that_is_not_an_object() {
        assert!(Results::parse("[1,2]\n").is_err());
        assert!(Results::parse("{\"kind\":\n").is_err());
    }

    #[test]
    fn targets_are_ratios_and_missing_figures_stay_missing() {
        let r = Results::parse(SAMPLE).unwrap();
        let targets = r.targets();
        let find = |name: &str| {
            targets
                .iter()
                .find(|t| t.name.contains(name))
                .unwrap_or_else(|| panic!("no target {name}"))
        };
        let poll_ceiling = find("CIBA polls vs the hyper ceiling");
        assert_eq!(poll_ceiling.verdict, Verdict::Met);
        assert!((poll_ceiling.measured.unwrap() - 0.775).abs() < 1e-9);
        // 20,000 / 80,000 = 0.25 < 0.6.
        assert_eq!(
            find("Backchannel requests vs the hyper ceiling").verdict,
            Verdict::Missed
        );
        // No oidc-provider backchannel line in the sample.
        assert_eq!(
            find("Backchannel requests vs oidc-provider").verdict,
            Verdict::Missing
        );
        assert_eq!(find("MemoryStore: bytes per pending").verdict, Verdict::Met);
        // 1,500 / 20,000 = 0.075 <= 0.25.
        let poll_p99 = find("p99 latency of poll requests");
        assert_eq!(poll_p99.verdict, Verdict::Met);
        assert!((poll_p99.measured.unwrap() - 0.075).abs() < 1e-9);
        assert_eq!(
            find("p99 latency of backchannel requests").verdict,
            Verdict::Missing
        );
        // No oidc-provider backchannel p99 to compare the growth run with.
        assert_eq!(
            find("p99 latency while the store grows to 3,000,000").verdict,
            Verdict::Missing
        );
        // 55 ms is not below 50 ms.
        let longest = find("Longest request while the store grows");
        assert_eq!(longest.verdict, Verdict::Missed);
        assert!((longest.measured.unwrap() - 55.0).abs() < 1e-9);
        assert_eq!(
            find("bytes per pending request while the store grows").verdict,
            Verdict::Met
        );
        assert_eq!(find("ping: approval").verdict, Verdict::Met);
        assert_eq!(find("poll: approval").verdict, Verdict::Met);
        assert_eq!(find("RS256 vs oauth4webapi").verdict, Verdict::Met);
        assert_eq!(find("ES256 vs oauth4webapi").verdict, Verdict::Missing);
        // 30,000 / 45,000 = 0.67 >= 0.6.
        assert_eq!(find("RS256 vs openssl").verdict, Verdict::Met);
    }

    #[test]
    fn both_peers_get_ratios_and_a_bar() {
        let r = Results::parse(SAMPLE).unwrap();
        let md = markdown(&r, &[], "performance.svg");
        // 62,000 / 5,000 and 62,000 / 3,000.
        assert!(
            md.contains("| poll | Keycloak (JVM) | 62,000 | 5,000 | 12.4× |"),
            "{md}"
        );
        assert!(
            md.contains("| poll | oidc-provider (Node.js) | 62,000 | 3,000 | 20.7× |"),
            "{md}"
        );
        // No Keycloak backchannel line: no ratio.
        assert!(
            md.contains("| backchannel | Keycloak (JVM) | 20,000 | - | - |"),
            "{md}"
        );
        assert!(svg(&r).contains("keycloak"));
    }

    #[test]
    fn markdown_and_svg_carry_the_figures() {
        let r = Results::parse(SAMPLE).unwrap();
        let md = markdown(&r, &[], "performance.svg");
        assert!(md.contains("cargo xtask bench"));
        assert!(md.contains("62,000"), "{md}");
        assert!(md.contains("performance.svg"));
        assert!(md.contains("missed"));
        let plot = svg(&r);
        assert!(plot.starts_with("<svg"));
        assert!(plot.contains("ours"));
        assert!(plot.trim_end().ends_with("</svg>"));
    }
}
