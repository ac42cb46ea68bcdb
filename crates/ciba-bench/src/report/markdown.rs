//! docs/performance.md from one run's results.

use std::fmt::Write as _;

use serde_json::Value;

use super::targets::thousands;
use super::{Estimate, Results, num, str_of};

/// The whole report. `svg_name` is the plot's file name, next to the Markdown file.
pub fn markdown(r: &Results, estimates: &[Estimate], svg_name: &str) -> String {
    let mut md = String::new();
    md.push_str("# Performance\n\n");
    md.push_str(
        "Written by `cargo xtask bench` (crates/ciba-bench, xtask/src/bench.rs); do not edit by \
         hand, run it again. Every figure below comes from the one run described here, so \
         each ratio compares programs measured on the same machine minutes apart.\n\n",
    );
    machine(&mut md, r);
    targets(&mut md, r);
    let _ = writeln!(md, "![Throughput by endpoint]({svg_name})\n");
    load(&mut md, r);
    growth(&mut md, r);
    peers(&mut md, r);
    scale(&mut md, r);
    e2e(&mut md, r);
    client(&mut md, r);
    criterion(&mut md, estimates);
    missing(&mut md, r);
    method(&mut md);
    md
}

fn machine(md: &mut String, r: &Results) {
    md.push_str("## The run\n\n| | |\n|---|---|\n");
    let meta = r.meta();
    for (key, label) in [
        ("command", "command"),
        ("date", "date"),
        ("commit", "commit"),
        ("cpu", "CPU"),
        ("cores", "cores"),
        ("memory", "memory"),
        ("kernel", "kernel"),
        ("rustc", "rustc"),
        ("node", "Node.js"),
        ("keycloak", "Keycloak"),
        ("openssl", "openssl"),
    ] {
        let value = meta.and_then(|m| str_of(m, key)).unwrap_or("unknown");
        let value = if key == "command" {
            format!("`{value}`")
        } else {
            value.to_owned()
        };
        let _ = writeln!(md, "| {label} | {value} |");
    }
    md.push('\n');
}

fn targets(md: &mut String, r: &Results) {
    md.push_str(
        "## Targets\n\n| target | bound | measured | from | verdict |\n|---|---|---|---|---|\n",
    );
    for t in r.targets() {
        let measured = t
            .measured
            .map_or("-".to_owned(), |m| format!("{m:.2}{}", t.unit));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | **{}** |",
            t.name,
            t.bound,
            measured,
            t.detail,
            t.verdict.as_str()
        );
    }
    md.push_str(
        "\nWhere the time goes, for every endpoint and for each target this run misses: \
         [profiles.md](profiles.md) (perf, with the commands that made them).\n\n",
    );
}

fn load(md: &mut String, r: &Results) {
    md.push_str(
        "## Load over loopback\n\n\
         A closed loop of keep-alive HTTP/1.1 connections (`load`), the server on the same \
         2 cores. `ceiling` is a bare hyper 1 server answering a fixed small JSON body; `ours` \
         is `ciba serve` with its MemoryStore; `oidc-provider` is the interop peer \
         (interop/op.mjs, Node.js); `keycloak` is the Keycloak interop peer (dev mode, \
         in-memory database, on the JVM; its warm-up is three times longer, for the JIT). \
         CPU is the server process's user + system time in the window.\n\n\
         | server / scenario | req/s | p50 | p90 | p99 | p99.9 | max | server CPU per request | server CPU | answers | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in r.of_kind("load") {
        let us = |key: &str| latency(num(v, key));
        let cpu_req =
            num(v, "server_cpu_us_per_request").map_or("-".to_owned(), |x| format!("{x:.1} µs"));
        let cpu = num(v, "server_cpu_percent").map_or("-".to_owned(), |x| format!("{x:.0} %"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            str_of(v, "label").unwrap_or("?"),
            num(v, "per_s").map_or("-".to_owned(), thousands),
            us("p50_us"),
            us("p90_us"),
            us("p99_us"),
            us("p999_us"),
            us("max_us"),
            cpu_req,
            cpu,
            outcomes(v.get("outcomes")),
            num(v, "errors").map_or("-".to_owned(), thousands),
        );
    }
    let unexpected: Vec<String> = r
        .of_kind("load")
        .filter_map(|v| {
            let answer = str_of(v, "first_unexpected_answer")?;
            Some(format!(
                "- {}: `{}`",
                str_of(v, "label").unwrap_or("?"),
                answer.replace('`', "'")
            ))
        })
        .collect();
    if !unexpected.is_empty() {
        md.push_str("\nFirst answer of each run that was none of the expected kinds:\n\n");
        md.push_str(&unexpected.join("\n"));
        md.push('\n');
    }
    md.push('\n');
}

/// A latency in microseconds, in µs below 10 ms and in ms from there (`-` when absent).
fn latency(us: Option<f64>) -> String {
    match us {
        None => "-".to_owned(),
        Some(x) if x >= 10_000.0 => format!("{:.1} ms", x / 1000.0),
        Some(x) => format!("{x:.0} µs"),
    }
}

/// The run in which the MemoryStore grows to millions of pending requests.
fn growth(md: &mut String, r: &Results) {
    md.push_str(
        "## Backchannel requests while the MemoryStore grows

",
    );
    let Some(v) = r.growth() else {
        md.push_str("Not measured in this run.\n\n");
        return;
    };
    let f = |key: &str| num(v, key);
    let mib = |b: Option<f64>| b.map_or("-".to_owned(), |b| format!("{:.1}", b / 1_048_576.0));
    let _ = writeln!(
        md,
        "A fresh `ciba serve` (MemoryStore, requests living an hour) takes backchannel \
         requests until it holds the pending requests below; none expires meanwhile, so the \
         store only grows. The latencies are those of the whole run, as the store passes \
         every size up to the last.\n\n\
         | | |\n|---|---|\n\
         | pending requests at the end | {} |\n\
         | requests per second | {} |\n\
         | p50 / p90 | {} / {} |\n\
         | p99 | {} |\n\
         | p99.9 | {} |\n\
         | max | {} |\n\
         | server resident memory before → after | {} MiB → {} MiB |\n\
         | server bytes per pending request (RSS delta / count) | {} |\n\
         | errors | {} |\n",
        f("acknowledged_total").map_or("-".to_owned(), thousands),
        f("per_s").map_or("-".to_owned(), thousands),
        latency(f("p50_us")),
        latency(f("p90_us")),
        latency(f("p99_us")),
        latency(f("p999_us")),
        latency(f("max_us")),
        mib(f("server_rss_before_bytes")),
        mib(f("server_rss_after_bytes")),
        f("server_bytes_per_acknowledged").map_or("-".to_owned(), |b| format!("{b:.0}")),
        f("errors").map_or("-".to_owned(), thousands),
    );
}

/// Ours against each peer, scenario by scenario: throughput ratio and CPU per request.
fn peers(md: &mut String, r: &Results) {
    const PEERS: [(&str, &str); 2] = [
        ("oidc-provider", "oidc-provider (Node.js)"),
        ("keycloak", "Keycloak (JVM)"),
    ];
    md.push_str(
        "## Against the peers\n\n\
         `ours` (`ciba serve`, MemoryStore) divided by each peer, from the load rows above: \
         requests per second (higher is better for us above 1×) and server CPU per request \
         (the peer's over ours: how many times more CPU the peer spends on one request).\n\n\
         | scenario | peer | ours req/s | peer req/s | throughput ratio | ours CPU/req | peer CPU/req | CPU ratio |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for scenario in ["backchannel", "poll", "mixed"] {
        let ours = r.load(&format!("ours/{scenario}"));
        for (peer, name) in PEERS {
            let theirs = r.load(&format!("{peer}/{scenario}"));
            let rate = |v: Option<&Value>| v.and_then(|v| num(v, "per_s"));
            let cpu = |v: Option<&Value>| v.and_then(|v| num(v, "server_cpu_us_per_request"));
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
                _ => "-".to_owned(),
            };
            let shown = |x: Option<f64>| x.map_or("-".to_owned(), thousands);
            let micros = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.1} µs"));
            let _ = writeln!(
                md,
                "| {scenario} | {name} | {} | {} | {} | {} | {} | {} |",
                shown(rate(ours)),
                shown(rate(theirs)),
                ratio(rate(ours), rate(theirs)),
                micros(cpu(ours)),
                micros(cpu(theirs)),
                ratio(cpu(theirs), cpu(ours)),
            );
        }
    }
    md.push('\n');
}

/// `acknowledged 1,234 · authorization_pending 99` (zero counts left out).
fn outcomes(v: Option<&Value>) -> String {
    let Some(map) = v.and_then(Value::as_object) else {
        return "-".to_owned();
    };
    let parts: Vec<String> = map
        .iter()
        .filter_map(|(k, n)| {
            let n = n.as_f64()?;
            (n > 0.0).then(|| format!("{k} {}", thousands(n)))
        })
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" · ")
    }
}

fn scale(md: &mut String, r: &Results) {
    md.push_str("## MemoryStore at scale (in process)\n\n");
    let Some(s) = r.scale() else {
        md.push_str("Not measured in this run.\n\n");
        return;
    };
    let f = |key: &str| num(s, key);
    let _ = writeln!(
        md,
        "| | |\n|---|---|\n\
         | pending requests | {} |\n\
         | resident memory before → after | {} MiB → {} MiB |\n\
         | bytes per pending request (RSS delta / count) | {} |\n\
         | lost (not answering `authorization_pending` when polled) | {} |\n\
         | inserts per second (one thread) | {} |\n\
         | slowest single insert | {} |\n\
         | polls per second (one thread) | {} |\n\
         | expired by one sweep | {} |\n\
         | that sweep | {} ms ({} ns per expired request) |\n\
         | of which the first operation after the deadline waited | {} ms |\n\
         | a sweep with nothing due | {} µs |\n\
         | entries left after the sweep | {} |\n",
        f("count").map_or("-".to_owned(), thousands),
        f("rss_before_bytes").map_or("-".to_owned(), |b| format!("{:.1}", b / 1_048_576.0)),
        f("rss_after_bytes").map_or("-".to_owned(), |b| format!("{:.1}", b / 1_048_576.0)),
        f("bytes_per_pending").map_or("-".to_owned(), |b| format!("{b:.0}")),
        f("lost").map_or("-".to_owned(), thousands),
        f("insert_per_s").map_or("-".to_owned(), thousands),
        latency(f("slowest_insert_us")),
        f("poll_per_s").map_or("-".to_owned(), thousands),
        f("expired").map_or("-".to_owned(), thousands),
        f("sweep_ms").map_or("-".to_owned(), |x| format!("{x:.1}")),
        f("sweep_ns_per_expired").map_or("-".to_owned(), |x| format!("{x:.0}")),
        f("sweep_pause_ms").map_or("-".to_owned(), |x| format!("{x:.1}")),
        f("empty_sweep_us").map_or("-".to_owned(), |x| format!("{x:.3}")),
        f("remaining_after_sweep").map_or("-".to_owned(), thousands),
    );
}

fn e2e(md: &mut String, r: &Results) {
    md.push_str(
        "## Approval to tokens at the client\n\n\
         A ciba-hyper client and a ciba-hyper authorization server on loopback; the clock \
         starts when the server records the user's approval and stops when the client holds \
         validated tokens.\n\n\
         | mode | flows | median | p90 | min | max | interval |\n|---|---|---|---|---|---|---|\n",
    );
    for v in r.of_kind("e2e") {
        let ms = |key: &str| num(v, key).map_or("-".to_owned(), |x| format!("{x:.2} ms"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            str_of(v, "mode").unwrap_or("?"),
            num(v, "flows").map_or("-".to_owned(), thousands),
            ms("median_ms"),
            ms("p90_ms"),
            ms("min_ms"),
            ms("max_ms"),
            num(v, "interval_ms").map_or("-".to_owned(), |x| format!("{:.0} s", x / 1000.0)),
        );
    }
    md.push('\n');
}

fn client(md: &mut String, r: &Results) {
    md.push_str(
        "## Client: token response with full ID token validation, one core\n\n\
         `ciba-core` runs `client_rate` (Rust, release); `oauth4webapi` runs \
         interop/bench/oauth4webapi_rate.mjs with its signature check turned on; `openssl` is \
         `openssl speed`'s signature verifications alone, with nothing around them (a faster library can pass it).\n\n\
         | implementation | algorithm | per second |\n|---|---|---|\n",
    );
    for v in r.of_kind("client_rate") {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            str_of(v, "impl").unwrap_or("?"),
            str_of(v, "alg").unwrap_or("?"),
            num(v, "per_s").map_or("-".to_owned(), thousands),
        );
    }
    for v in r.of_kind("openssl_verify") {
        let _ = writeln!(
            md,
            "| openssl verify | {} | {} |",
            str_of(v, "alg").unwrap_or("?"),
            num(v, "per_s").map_or("-".to_owned(), thousands),
        );
    }
    md.push('\n');
}

fn criterion(md: &mut String, estimates: &[Estimate]) {
    md.push_str("## Functions (criterion)\n\n");
    if estimates.is_empty() {
        md.push_str("Not measured in this run.\n\n");
        return;
    }
    md.push_str(
        "`cargo bench -p ciba-bench`; the ids are described in crates/ciba-bench/benches/.\n\n\
         | benchmark | mean | median | per second (one core) |\n|---|---|---|---|\n",
    );
    for e in estimates {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            e.name,
            duration(e.mean_ns),
            duration(e.median_ns),
            if e.mean_ns > 0.0 {
                thousands(1e9 / e.mean_ns)
            } else {
                "-".to_owned()
            }
        );
    }
    md.push('\n');
}

fn duration(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn missing(md: &mut String, r: &Results) {
    let what: Vec<&str> = r
        .of_kind("missing")
        .filter_map(|v| str_of(v, "what"))
        .collect();
    if what.is_empty() {
        return;
    }
    md.push_str("## Not measured in this run\n\n");
    for w in what {
        let _ = writeln!(md, "- {w}");
    }
    md.push('\n');
}

fn method(md: &mut String) {
    md.push_str(
        "## Method\n\n\
         - Benchmarks report; they never fail CI. `cargo xtask bench --quick` is a smoke run of \
           the harness with short windows.\n\
         - The load generator and the server share the machine's cores, as wrk would; the \
           ceiling was measured the same way, so the ratios cancel that cost.\n\
         - oidc-provider's stock in-memory adapter is an LRU of 1,000 entries, so its poll \
           runs cycle over its 500 newest `auth_req_id`s (older ones were evicted and answer \
           `invalid_grant`).\n\
         - Keycloak calls its HTTP authentication channel (answered `201` by xtask on \
           loopback) once per backchannel request; that work is outside Keycloak's CPU \
           figure. Keycloak answers `slow_down` to a poll of one `auth_req_id` sooner than \
           its interval (1 s) after the previous one; those answers are counted as they come.\n\
         - Bytes per pending request come from the process's resident set, so they include \
           allocator overhead.\n",
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::{duration, latency, markdown};
    use crate::report::Results;

    #[test]
    fn latencies_switch_to_milliseconds_at_ten() {
        assert_eq!(latency(None), "-");
        assert_eq!(latency(Some(850.0)), "850 µs");
        assert_eq!(latency(Some(9_999.0)), "9999 µs");
        assert_eq!(latency(Some(12_345.0)), "12.3 ms");
    }

    #[test]
    fn every_load_row_shows_its_tail_and_the_growth_run_has_its_section() {
        let results = Results::parse(
            r#"{"kind":"load","label":"ours/poll","scenario":"poll","per_s":50000.0,"p50_us":300,"p90_us":500,"p99_us":1200,"p999_us":4500,"max_us":23000}
{"kind":"load","label":"ours/backchannel-growth","scenario":"backchannel","per_s":40000.0,"p50_us":400,"p90_us":700,"p99_us":2100,"p999_us":8800,"max_us":41000,"acknowledged_total":3000123,"server_rss_before_bytes":10485760,"server_rss_after_bytes":900000000,"server_bytes_per_acknowledged":296.4,"errors":0}"#,
        )
        .unwrap();
        let md = markdown(&results, &[], "x.svg");
        assert!(md.contains("| p99 | p99.9 | max |"), "{md}");
        assert!(
            md.contains("| ours/poll | 50,000 | 300 µs | 500 µs | 1200 µs | 4500 µs | 23.0 ms |"),
            "{md}"
        );
        assert!(md.contains("## Backchannel requests while the MemoryStore grows"));
        assert!(
            md.contains("| pending requests at the end | 3,000,123 |"),
            "{md}"
        );
        assert!(md.contains("| p99.9 | 8800 µs |"), "{md}");
        assert!(md.contains("| max | 41.0 ms |"), "{md}");
        assert!(
            md.contains("| server bytes per pending request (RSS delta / count) | 296 |"),
            "{md}"
        );
        // Without the run, the section says so.
        let md = markdown(&Results::default(), &[], "x.svg");
        assert!(md.contains("## Backchannel requests while the MemoryStore grows\n\nNot measured"));
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(850.0), "850 ns");
        assert_eq!(duration(1_500.0), "1.50 µs");
        assert_eq!(duration(2_500_000.0), "2.50 ms");
    }
}
