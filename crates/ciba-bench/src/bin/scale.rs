//! Scale test of the in-process [`MemoryStore`]: how many bytes one pending request costs,
//! whether every request survives, and what the expiry sweep costs.
//!
//! ```text
//! cargo run --release -p ciba-bench --bin scale -- [--count N]
//! ```
//!
//! 1. Stores `N` (default 1 000 000) pending poll-mode requests through
//!    [`Store::insert_request`], each as the server's `issue` builds it: a 27-character
//!    base64url `auth_req_id` of 160 bits, client `bench-client`, subject `user-<n>`, scope
//!    `openid`, expiring in 300 s, except every tenth request, which expires in 60 s. Each is
//!    kept until its expiry plus the default tombstone period of 600 s.
//! 2. Reads the resident set size before and after; `bytes_per_pending` is the difference
//!    divided by `N`, so it counts everything the store allocated, allocator overhead and
//!    fragmentation included. The identifiers are not held in a list: they are regenerated
//!    from a counter through a seeded generator, so nothing of the benchmark's own stays in
//!    the measured window.
//! 3. Polls every request through [`Store::poll`] (what the token endpoint calls) after the
//!    interval, and counts the ones that answer pending; `lost` is `N` minus that count.
//! 4. Times operations whose sweep finds nothing due (`empty_sweep_us`), then advances the
//!    virtual clock past the deadline of exactly the short-lived tenth and times the one
//!    operation that sweeps them (`sweep_ms`, `sweep_ns_per_expired`).
//!
//! The result is one `RESULT {json}` line on standard output and a summary on standard error.

use std::process::ExitCode;
use std::time::{Duration, Instant, UNIX_EPOCH};

use ciba_bench::server_side::ready;
use ciba_core::random::{Random, RandomError};
use ciba_server::store::{
    MemoryStore, MemoryStoreConfig, PollStatus, RequestState, Store, StoredRequest,
};
use ciba_server::{AuthReqId, DeliveryMode};
use serde::Serialize;

const DEFAULT_COUNT: u64 = 1_000_000;
const CLIENT_ID: &str = "bench-client";
const SEED: u64 = 0x5eed_c1ba_2025_0001;
/// The server's default `interval`, `expires_in` and tombstone period.
const INTERVAL: u64 = 5;
const LONG_EXPIRY: u64 = 300;
const SHORT_EXPIRY: u64 = 60;
const TOMBSTONE: u64 = 600;

/// The bytes of identifier `n`: splitmix64 over the seeded counter. Deterministic, so the
/// verification pass can regenerate every identifier instead of keeping a list.
struct CounterRandom(u64);

impl Random for CounterRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let mut state = SEED ^ self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for chunk in dest.chunks_mut(8) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            for (d, s) in chunk.iter_mut().zip(z.to_le_bytes()) {
                *d = s;
            }
        }
        Ok(())
    }
}

fn auth_req_id(n: u64) -> Result<AuthReqId, RandomError> {
    AuthReqId::mint(&CounterRandom(n))
}

/// Every tenth request is short-lived.
fn is_short(n: u64) -> bool {
    n.is_multiple_of(10)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The resident set size in bytes: `Rss:` of /proc/self/smaps_rollup, else the resident
/// pages of /proc/self/statm times 4096.
fn rss_bytes() -> Option<u64> {
    if let Ok(text) = std::fs::read_to_string("/proc/self/smaps_rollup") {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("Rss:") {
                let kb = rest.trim().trim_end_matches("kB").trim();
                return kb.parse::<u64>().ok().map(|kb| kb * 1024);
            }
        }
    }
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages = statm.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(pages * 4096)
}

#[derive(Serialize)]
struct Report {
    /// Always `"scale"`: what the report program files this line under.
    kind: &'static str,
    count: u64,
    rss_before_bytes: u64,
    rss_after_bytes: u64,
    bytes_per_pending: f64,
    lost: u64,
    insert_per_s: f64,
    /// The longest single insert, in microseconds: a pause of the whole store (a table
    /// resize under its lock) shows here.
    slowest_insert_us: f64,
    poll_per_s: f64,
    expired: u64,
    sweep_ms: f64,
    sweep_ns_per_expired: f64,
    /// Of `sweep_ms`, the part the first operation after the deadline waited for.
    sweep_pause_ms: f64,
    empty_sweep_us: f64,
    /// How the benchmark handles the identifiers during the RSS window.
    ids: &'static str,
    /// Entries left after the sweep (must be `count - expired`).
    remaining_after_sweep: u64,
}

fn parse_count() -> Result<u64, String> {
    let mut args = std::env::args().skip(1);
    let mut count = DEFAULT_COUNT;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--count" => {
                let value = args.next().ok_or("--count needs a value")?;
                count = value
                    .replace('_', "")
                    .parse()
                    .map_err(|e| format!("--count {value}: {e}"))?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: scale [--count N])"
                ));
            }
        }
    }
    if count == 0 {
        return Err("--count must be at least 1".into());
    }
    Ok(count)
}

fn run(count: u64) -> Result<Report, String> {
    let t0 = UNIX_EPOCH + secs(1_700_000_000);
    let limit = usize::try_from(count).map_err(|e| e.to_string())?;
    // One client owns every request, so its bound must admit all of them.
    let store =
        MemoryStore::with_config(MemoryStoreConfig::default().with_max_entries_per_client(limit));
    let rss_before = rss_bytes().ok_or("cannot read the resident set size")?;

    // Issue: one request per microsecond of virtual time.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 0..count {
        let now = t0 + Duration::from_micros(n);
        let expires_at = now
            + secs(if is_short(n) {
                SHORT_EXPIRY
            } else {
                LONG_EXPIRY
            });
        let request = StoredRequest {
            auth_req_id: auth_req_id(n).map_err(|e| e.to_string())?,
            client_id: CLIENT_ID.to_owned(),
            subject: format!("user-{n}"),
            delivery_mode: DeliveryMode::Poll,
            notification_endpoint: None,
            client_notification_token: None,
            scopes: vec!["openid".to_owned()],
            acr_values: Vec::new(),
            binding_message: None,
            issued_at: now,
            expires_at,
            interval: INTERVAL,
            last_poll: None,
            state: RequestState::Pending,
        };
        let insert_started = Instant::now();
        ready(store.insert_request(&request, expires_at + secs(TOMBSTONE), now))
            .map_err(|e| format!("insert {n}: {e}"))?;
        slowest = slowest.max(insert_started.elapsed());
    }
    let insert_elapsed = started.elapsed();
    let rss_after = rss_bytes().ok_or("cannot read the resident set size")?;

    // Poll every request after its interval, before any expiry.
    let poll_at = t0 + secs(2 * INTERVAL) + Duration::from_micros(count);
    let started = Instant::now();
    let mut pending = 0u64;
    for n in 0..count {
        let id = auth_req_id(n).map_err(|e| e.to_string())?;
        match ready(store.poll(&id, CLIENT_ID, INTERVAL, poll_at)) {
            Ok(PollStatus::Pending) => pending += 1,
            Ok(_) => {}
            Err(e) => return Err(format!("poll {n}: {e}")),
        }
    }
    let poll_elapsed = started.elapsed();

    // Sweeps that find nothing due: the last long-lived deadline is t0 + 900 s + count µs,
    // the first short-lived one t0 + 660 s.
    let first_short_deadline = t0 + secs(SHORT_EXPIRY + TOMBSTONE);
    let last_short_deadline =
        first_short_deadline + Duration::from_micros(count.saturating_sub(1) / 10 * 10);
    let first_long_deadline = t0 + secs(LONG_EXPIRY + TOMBSTONE);
    if last_short_deadline >= first_long_deadline {
        return Err("count too large for the timeline: short and long deadlines overlap".into());
    }
    const EMPTY_SWEEPS: u32 = 1_000;
    let started = Instant::now();
    for k in 0..EMPTY_SWEEPS {
        let now = poll_at + Duration::from_millis(u64::from(k));
        if first_short_deadline <= now {
            return Err("empty sweeps ran into the first deadline".into());
        }
        ready(store.request(&AuthReqId::from_stored("no-such-request"), now))
            .map_err(|e| format!("empty sweep: {e}"))?;
    }
    let empty_sweep = started.elapsed() / EMPTY_SWEEPS;

    // Exactly the short-lived tenth is due now. The next operation sweeps what is due in
    // the part of the store it locks (all of it, unsharded); counting the entries then
    // sweeps the rest. The first is the pause one request sees, both together the work.
    let expired = count.div_ceil(10);
    let sweep_at = last_short_deadline;
    let started = Instant::now();
    ready(store.request(&AuthReqId::from_stored("no-such-request"), sweep_at))
        .map_err(|e| format!("sweep: {e}"))?;
    let sweep_pause = started.elapsed();
    let remaining = store.len(sweep_at) as u64;
    let sweep = started.elapsed();

    let per_s = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    Ok(Report {
        kind: "scale",
        count,
        rss_before_bytes: rss_before,
        rss_after_bytes: rss_after,
        bytes_per_pending: rss_after.saturating_sub(rss_before) as f64 / count as f64,
        lost: count - pending,
        insert_per_s: per_s(count, insert_elapsed),
        slowest_insert_us: slowest.as_secs_f64() * 1e6,
        poll_per_s: per_s(count, poll_elapsed),
        expired,
        sweep_ms: sweep.as_secs_f64() * 1e3,
        sweep_ns_per_expired: sweep.as_secs_f64() * 1e9 / expired as f64,
        sweep_pause_ms: sweep_pause.as_secs_f64() * 1e3,
        empty_sweep_us: empty_sweep.as_secs_f64() * 1e6,
        ids: "regenerated from a seeded counter, none held",
        remaining_after_sweep: remaining,
    })
}

fn main() -> ExitCode {
    let count = match parse_count() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scale: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match run(count) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scale: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "scale: {} pending requests in MemoryStore\n  \
         RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes per pending request\n  \
         lost: {} (every request polled after its interval; pending answers counted)\n  \
         insert {:.0}/s, poll {:.0}/s (both include regenerating the identifier)\n  \
         slowest single insert: {:.0} us\n  \
         sweep of {} expired: {:.2} ms ({:.0} ns each), of which the first operation waited \
         {:.2} ms; sweep with nothing due: {:.3} us\n  \
         entries after the sweep: {}",
        report.count,
        report.rss_before_bytes as f64 / 1_048_576.0,
        report.rss_after_bytes as f64 / 1_048_576.0,
        report.bytes_per_pending,
        report.lost,
        report.insert_per_s,
        report.poll_per_s,
        report.slowest_insert_us,
        report.expired,
        report.sweep_ms,
        report.sweep_ns_per_expired,
        report.sweep_pause_ms,
        report.empty_sweep_us,
        report.remaining_after_sweep,
    );
    let ok = report.lost == 0 && report.remaining_after_sweep == report.count - report.expired;
    ciba_bench::emit(&report);
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("scale: requests were lost or the sweep removed the wrong number");
        ExitCode::FAILURE
    }
}
