//! The load generator of `cargo xtask bench`: keep-alive HTTP/1.1 connections on loopback,
//! each sending its next request as soon as the previous answer has arrived (a closed loop,
//! like wrk), for a warm-up and then a measured window.
//!
//! ```text
//! load --addr 127.0.0.1:PORT --scenario backchannel|poll|mixed --label NAME
//!      [--connections 32] [--threads 1] [--warmup 2] [--duration 10]
//!      [--basic CLIENT_ID:SECRET] [--backchannel-path /backchannel] [--token-path /token]
//!      [--hint alice] [--ids FILE] [--save-ids FILE] [--mix 9] [--server-pid PID]
//!      [--stop-after-acks N]
//! ```
//!
//! * `backchannel`: CIBA authentication requests (client_secret_basic, `scope=openid`, a
//!   `login_hint`); `--save-ids` writes every `auth_req_id` acknowledged (warm-up included).
//! * `poll`: CIBA grant requests cycling through the `auth_req_id`s of `--ids`, each
//!   connection over its own share, so an id is polled once per pass over the file.
//! * `mixed`: each connection sends `--mix` polls, then one backchannel request, and so on.
//!
//! `--stop-after-acks N` ends the window early, once the server has acknowledged `N`
//! backchannel requests of this run (warm-up included): a run that grows the store to a
//! given number of pending requests, whatever the machine's speed; `--duration` still caps
//! it.
//!
//! It prints one `RESULT` JSON line: requests and requests/s in the window, latency
//! percentiles (p50, p90, p99, p99.9, max), the server's CPU time per request (from
//! `/proc/PID/stat` when `--server-pid` is given) and how the answers split
//! (acknowledgements, tokens, `authorization_pending`, `slow_down`, `invalid_grant`,
//! other). With `--server-pid` it also gives the server's resident memory before and after
//! the run and, for a backchannel run, its growth per acknowledged request (what the
//! server keeps per pending request, allocator included).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CIBA_GRANT: &str = "urn%3Aopenid%3Aparams%3Agrant-type%3Aciba";
/// Answers larger than this are treated as broken.
const MAX_RESPONSE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Scenario {
    Backchannel,
    Poll,
    Mixed,
}

#[derive(Debug, Clone)]
struct Options {
    addr: SocketAddr,
    scenario: Scenario,
    label: String,
    connections: usize,
    threads: usize,
    warmup: Duration,
    duration: Duration,
    basic: String,
    backchannel_path: String,
    token_path: String,
    hint: String,
    ids: Option<String>,
    save_ids: Option<String>,
    mix: usize,
    server_pid: Option<u32>,
    stop_after_acks: Option<u64>,
}

/// How the answers split.
#[derive(Debug, Default, Clone, Serialize)]
struct Outcomes {
    acknowledged: u64,
    tokens: u64,
    authorization_pending: u64,
    slow_down: u64,
    invalid_grant: u64,
    expired_token: u64,
    other: u64,
}

impl Outcomes {
    fn add(&mut self, o: &Outcomes) {
        self.acknowledged += o.acknowledged;
        self.tokens += o.tokens;
        self.authorization_pending += o.authorization_pending;
        self.slow_down += o.slow_down;
        self.invalid_grant += o.invalid_grant;
        self.expired_token += o.expired_token;
        self.other += o.other;
    }
}

/// What one connection saw.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    outcomes: Outcomes,
    errors: u64,
    /// Acknowledged ids with when they arrived (ids are saved oldest first).
    ids: Vec<(Instant, String)>,
    first_other: Option<String>,
}

#[derive(Debug, Serialize)]
struct LoadResult<'a> {
    kind: &'static str,
    label: &'a str,
    scenario: Scenario,
    connections: usize,
    threads: usize,
    duration_s: f64,
    requests: u64,
    per_s: f64,
    p50_us: u32,
    p90_us: u32,
    p99_us: u32,
    p999_us: u32,
    max_us: u32,
    /// Backchannel requests acknowledged in the whole run, warm-up included: what this run
    /// added to the server's pending requests.
    acknowledged_total: u64,
    server_rss_before_bytes: Option<u64>,
    server_rss_after_bytes: Option<u64>,
    /// Resident memory growth per request acknowledged (backchannel runs).
    server_bytes_per_acknowledged: Option<f64>,
    server_cpu_us_per_request: Option<f64>,
    server_cpu_percent: Option<f64>,
    outcomes: Outcomes,
    errors: u64,
    first_unexpected_answer: Option<String>,
}

fn main() {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("load: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(options)) {
        eprintln!("load: {e}");
        std::process::exit(1);
    }
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        scenario: Scenario::Poll,
        label: String::new(),
        connections: 32,
        threads: 1,
        warmup: Duration::from_secs(2),
        duration: Duration::from_secs(10),
        basic: String::new(),
        backchannel_path: "/backchannel".to_owned(),
        token_path: "/token".to_owned(),
        hint: "alice".to_owned(),
        ids: None,
        save_ids: None,
        mix: 9,
        server_pid: None,
        stop_after_acks: None,
    };
    let mut have_addr = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} {v}: expected a whole number"))
        };
        match flag.as_str() {
            "--addr" => {
                o.addr = value.parse().map_err(|e| format!("--addr {value}: {e}"))?;
                have_addr = true;
            }
            "--scenario" => {
                o.scenario = match value.as_str() {
                    "backchannel" => Scenario::Backchannel,
                    "poll" => Scenario::Poll,
                    "mixed" => Scenario::Mixed,
                    other => return Err(format!("unknown scenario {other}")),
                }
            }
            "--label" => o.label = value,
            "--connections" => o.connections = number(&value)?.max(1) as usize,
            "--threads" => o.threads = number(&value)?.max(1) as usize,
            "--warmup" => o.warmup = Duration::from_secs(number(&value)?),
            "--duration" => o.duration = Duration::from_secs(number(&value)?.max(1)),
            "--basic" => o.basic = value,
            "--backchannel-path" => o.backchannel_path = value,
            "--token-path" => o.token_path = value,
            "--hint" => o.hint = value,
            "--ids" => o.ids = Some(value),
            "--save-ids" => o.save_ids = Some(value),
            "--mix" => o.mix = number(&value)? as usize,
            "--server-pid" => o.server_pid = Some(number(&value)? as u32),
            "--stop-after-acks" => o.stop_after_acks = Some(number(&value)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !have_addr {
        return Err("--addr is required".to_owned());
    }
    if o.scenario != Scenario::Backchannel && o.ids.is_none() {
        return Err("poll and mixed scenarios need --ids FILE".to_owned());
    }
    Ok(o)
}

async fn run(o: Options) -> Result<(), String> {
    let ids: Vec<String> = match &o.ids {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {path}: {e}"))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    if o.scenario != Scenario::Backchannel && ids.is_empty() {
        return Err("the ids file is empty".to_owned());
    }
    let ids = Arc::new(ids);
    let authorization = format!("Basic {}", STANDARD.encode(o.basic.as_bytes()));
    let rss_before = o.server_pid.and_then(resident_bytes);
    let stop = Arc::new(Stop::default());
    let begin = Instant::now();
    let window_start = begin + o.warmup;
    let window_end = window_start + o.duration;
    let o = Arc::new(o);

    let mut tasks = Vec::with_capacity(o.connections);
    for index in 0..o.connections {
        let o = Arc::clone(&o);
        let ids = Arc::clone(&ids);
        let authorization = authorization.clone();
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let window = (window_start, window_end);
            connection(index, &o, &ids, &authorization, window, &stop).await
        }));
    }
    // The server's CPU time at the start of the window; read again when the window ends
    // (or when the connections stop early, with `--stop-after-acks`).
    let cpu_task = {
        let pid = o.server_pid;
        tokio::spawn(async move {
            let pid = pid?;
            tokio::time::sleep_until(window_start.into()).await;
            cpu_seconds(pid)
        })
    };

    let mut all = Tally::default();
    for task in tasks {
        let t = task
            .await
            .map_err(|e| format!("a connection task failed: {e}"))?;
        all.latencies_us.extend_from_slice(&t.latencies_us);
        all.outcomes.add(&t.outcomes);
        all.errors += t.errors;
        all.ids.extend(t.ids);
        if all.first_other.is_none() {
            all.first_other = t.first_other;
        }
    }
    let cpu_before = cpu_task.await.ok().flatten();
    let cpu = o
        .server_pid
        .and_then(cpu_seconds)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let rss_after = o.server_pid.and_then(resident_bytes);
    let acknowledged_total = stop.acks.load(Ordering::Relaxed);

    if let Some(path) = &o.save_ids {
        all.ids.sort_by_key(|(at, _)| *at);
        let mut text = all
            .ids
            .iter()
            .map(|(_, id)| id.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        text.push('\n');
        std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))?;
    }

    all.latencies_us.sort_unstable();
    let requests = all.latencies_us.len() as u64;
    // The window, ended early when `--stop-after-acks` was reached.
    let window_closed = stop
        .reached_at
        .lock()
        .ok()
        .and_then(|at| *at)
        .map_or(window_end, |at| at.clamp(window_start, window_end));
    let seconds = window_closed
        .duration_since(window_start)
        .as_secs_f64()
        .max(1e-3);
    let pct = |p: f64| -> u32 {
        if all.latencies_us.is_empty() {
            return 0;
        }
        let rank = ((all.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        all.latencies_us.get(rank).copied().unwrap_or(0)
    };
    let result = LoadResult {
        kind: "load",
        label: &o.label,
        scenario: o.scenario,
        connections: o.connections,
        threads: o.threads,
        duration_s: seconds,
        requests,
        per_s: requests as f64 / seconds,
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        max_us: all.latencies_us.last().copied().unwrap_or(0),
        acknowledged_total,
        server_rss_before_bytes: rss_before,
        server_rss_after_bytes: rss_after,
        server_bytes_per_acknowledged: match (rss_before, rss_after) {
            (Some(b), Some(a)) if o.scenario == Scenario::Backchannel && acknowledged_total > 0 => {
                Some(a.saturating_sub(b) as f64 / acknowledged_total as f64)
            }
            _ => None,
        },
        server_cpu_us_per_request: cpu
            .filter(|_| requests > 0)
            .map(|c| c * 1e6 / requests as f64),
        server_cpu_percent: cpu.map(|c| c * 100.0 / seconds),
        outcomes: all.outcomes,
        errors: all.errors,
        first_unexpected_answer: all.first_other,
    };
    eprintln!(
        "load {}: {} requests in {:.1} s = {:.0}/s, p50 {} us, p99 {} us, p99.9 {} us, max {} us, \
         server CPU {} us/request",
        result.label,
        result.requests,
        seconds,
        result.per_s,
        result.p50_us,
        result.p99_us,
        result.p999_us,
        result.max_us,
        result
            .server_cpu_us_per_request
            .map_or("?".to_owned(), |c| format!("{c:.1}"))
    );
    ciba_bench::emit(&result);
    Ok(())
}

/// One keep-alive connection's closed loop; reconnects after an error or a `close`.
/// What the connections share to stop early (`--stop-after-acks`).
#[derive(Debug, Default)]
struct Stop {
    /// Backchannel requests acknowledged so far, warm-up included.
    acks: AtomicU64,
    /// When the count reached `--stop-after-acks`.
    reached_at: Mutex<Option<Instant>>,
}

impl Stop {
    /// Counts one acknowledgement; true once the run has `limit` of them.
    fn count_ack(&self, limit: Option<u64>) -> bool {
        let acks = self.acks.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(limit) = limit else {
            return false;
        };
        if acks == limit
            && let Ok(mut at) = self.reached_at.lock()
        {
            at.get_or_insert_with(Instant::now);
        }
        acks >= limit
    }

    fn reached(&self, limit: Option<u64>) -> bool {
        limit.is_some_and(|limit| self.acks.load(Ordering::Relaxed) >= limit)
    }
}

async fn connection(
    index: usize,
    o: &Options,
    ids: &[String],
    authorization: &str,
    (window_start, window_end): (Instant, Instant),
    stop: &Stop,
) -> Tally {
    let mut tally = Tally::default();
    let mut stream: Option<TcpStream> = None;
    let mut request = Vec::with_capacity(512);
    let mut buffer = vec![0u8; 16 * 1024];
    let host = o.addr.to_string();
    // This connection's share of the ids: index, index + connections, ...
    let mut next_id = index;
    let mut sent: u64 = 0;
    loop {
        let now = Instant::now();
        if now >= window_end || stop.reached(o.stop_after_acks) {
            break;
        }
        let backchannel = match o.scenario {
            Scenario::Backchannel => true,
            Scenario::Poll => false,
            Scenario::Mixed => sent % (o.mix as u64 + 1) == o.mix as u64,
        };
        request.clear();
        if backchannel {
            let body = format!("scope=openid&login_hint={}", o.hint);
            write_request(
                &mut request,
                &o.backchannel_path,
                &host,
                authorization,
                &body,
            );
        } else {
            if next_id >= ids.len() {
                next_id = index % ids.len().max(1);
            }
            let id = ids.get(next_id).map_or("", String::as_str);
            next_id += o.connections;
            let body = format!("grant_type={CIBA_GRANT}&auth_req_id={id}");
            write_request(&mut request, &o.token_path, &host, authorization, &body);
        }
        sent += 1;

        let conn = match stream.as_mut() {
            Some(s) => s,
            None => match TcpStream::connect(o.addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream.insert(s)
                }
                Err(_) => {
                    tally.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        let answer = exchange(conn, &request, &mut buffer).await;
        let finished = Instant::now();
        let Ok((status, body, keep_alive)) = answer else {
            stream = None;
            if finished >= window_start && finished < window_end {
                tally.errors += 1;
            }
            continue;
        };
        if !keep_alive {
            stream = None;
        }
        let last = backchannel && status == 200 && stop.count_ack(o.stop_after_acks);
        if o.save_ids.is_some()
            && backchannel
            && status == 200
            && let Some(id) = json_string_member(&body, "auth_req_id")
        {
            tally.ids.push((finished, id));
        }
        if finished < window_start || finished >= window_end {
            continue;
        }
        let micros =
            u32::try_from(finished.duration_since(started).as_micros()).unwrap_or(u32::MAX);
        tally.latencies_us.push(micros);
        classify(status, &body, backchannel, &mut tally);
        if last {
            break;
        }
    }
    tally
}

fn classify(status: u16, body: &[u8], backchannel: bool, tally: &mut Tally) {
    let has = |needle: &str| contains(body, needle.as_bytes());
    let o = &mut tally.outcomes;
    if status == 200 && backchannel && has("\"auth_req_id\"") {
        o.acknowledged += 1;
    } else if status == 200 && !backchannel && has("\"access_token\"") {
        o.tokens += 1;
    } else if status == 400 && has("\"authorization_pending\"") {
        o.authorization_pending += 1;
    } else if status == 400 && has("\"slow_down\"") {
        o.slow_down += 1;
    } else if status == 400 && has("\"invalid_grant\"") {
        o.invalid_grant += 1;
    } else if status == 400 && has("\"expired_token\"") {
        o.expired_token += 1;
    } else {
        o.other += 1;
        if tally.first_other.is_none() {
            let shown: String = String::from_utf8_lossy(body).chars().take(200).collect();
            tally.first_other = Some(format!("{status} {shown}"));
        }
    }
}

fn write_request(out: &mut Vec<u8>, path: &str, host: &str, authorization: &str, body: &str) {
    use std::io::Write;
    let _ = write!(
        out,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

/// Sends `request` and reads one response: (status, body, keep-alive).
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buffer: &mut [u8],
) -> Result<(u16, Vec<u8>, bool), ()> {
    stream.write_all(request).await.map_err(|_| ())?;
    let mut filled = 0usize;
    // Read until the header block is complete.
    let header_end = loop {
        if let Some(end) = find(buffer.get(..filled).unwrap_or_default(), b"\r\n\r\n") {
            break end + 4;
        }
        if filled == buffer.len() {
            return Err(());
        }
        let n = stream
            .read(buffer.get_mut(filled..).ok_or(())?)
            .await
            .map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        filled += n;
    };
    let head = buffer.get(..header_end).ok_or(())?;
    let status = head
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(())?;
    let head_text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let keep_alive = !head_text.contains("\r\nconnection: close");
    let chunked = head_text.contains("\r\ntransfer-encoding: chunked");
    let length = head_text
        .split("\r\n")
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut body: Vec<u8> = buffer.get(header_end..filled).unwrap_or_default().to_vec();
    match (length, chunked) {
        (Some(length), _) => {
            if length > MAX_RESPONSE {
                return Err(());
            }
            while body.len() < length {
                let n = stream.read(buffer).await.map_err(|_| ())?;
                if n == 0 {
                    return Err(());
                }
                body.extend_from_slice(buffer.get(..n).ok_or(())?);
            }
            body.truncate(length);
        }
        (None, true) => {
            while !body.ends_with(b"0\r\n\r\n") {
                if body.len() > MAX_RESPONSE {
                    return Err(());
                }
                let n = stream.read(buffer).await.map_err(|_| ())?;
                if n == 0 {
                    return Err(());
                }
                body.extend_from_slice(buffer.get(..n).ok_or(())?);
            }
        }
        (None, false) => {}
    }
    Ok((status, body, keep_alive))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// The value of a top-level `"name":"value"` member, without escapes (auth_req_ids have none).
fn json_string_member(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let key = format!("\"{name}\"");
    let rest = text.get(text.find(&key)? + key.len()..)?;
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest.get(..end)?.to_owned())
}

/// The resident set of process `pid` in bytes (`VmRSS` of /proc/PID/status).
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// User plus system CPU seconds of process `pid` (all its threads), from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = clock_ticks_per_second();
    Some((utime + stime) / ticks)
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on (USER_HZ is fixed at 100 for
/// /proc/*/stat on x86_64 and aarch64).
fn clock_ticks_per_second() -> f64 {
    100.0
}
