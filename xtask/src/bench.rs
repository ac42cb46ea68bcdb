//! `cargo xtask bench [--quick]`: every benchmark of docs/performance.md in one run, on one
//! machine, so that each figure can be read as a ratio to the others.
//!
//! 1. Builds `ciba` and the ciba-bench programs in release mode.
//! 2. Load (crates/ciba-bench/src/bin/load.rs, a closed-loop keep-alive generator) against,
//!    in turn: the bare hyper ceiling (`ceiling`), `ciba serve` with its MemoryStore
//!    (`ours`), `ciba serve --store redis://` with a redis-server on this machine started
//!    for the run (`ours-redis`), when Node.js is present, the interop oidc-provider
//!    (`interop/op.mjs`), and, when Java and Maven are present, Keycloak (`keycloak`,
//!    bench/keycloak.rs). Each gets the
//!    backchannel scenario (which also collects the `auth_req_id`s), the poll scenario over
//!    those ids, and the mixed one. Then `ours/backchannel-growth`: a fresh `ciba serve`
//!    (MemoryStore) taking backchannel requests until it holds 3,000,000 pending ones
//!    (`load --stop-after-acks`), for the latency tail while the store grows and the
//!    server's resident memory per pending request.
//! 3. `scale` (1,000,000 pending requests in MemoryStore), `e2e_latency` (approval to
//!    tokens per mode), `client_rate` (token response + ID token validation per second, and
//!    `openssl speed`), `interop/bench/oauth4webapi_rate.mjs` (the Node reference), and the
//!    criterion benches of ciba-bench.
//! 4. `report` turns the collected `RESULT` lines and criterion's estimates into
//!    docs/performance.md and docs/performance.svg.
//!
//! `--quick` shortens every phase (a smoke test of the harness; its figures are noisy).
//! Benchmarks report; nothing here fails because a figure is low.

mod keycloak;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ci::{cargo, root};
use crate::interop::support::{Proc, TempDir};
use crate::interop::{check_node, ensure_npm_packages, ready_line, target_dir};
use crate::json::{Json, quote};

/// Client registered with `ciba serve` for the load runs.
const CLIENT_ID: &str = "bench-poll";
const CLIENT_SECRET: &str = "bench-poll-secret-0123456789abcdef";
/// oidc-provider's default poll client with client_secret_basic (interop/clients.mjs).
const OP_CLIENT: &str = "poll-basic:poll-basic-secret";
/// oidc-provider's in-memory adapter keeps at most 1,000 entries (an LRU): its polls cycle
/// over the newest ids only, fewer than that.
const OP_POLL_IDS: usize = 500;
/// Connections of the load generator.
const CONNECTIONS: &str = "32";

#[derive(Clone, Copy)]
struct Plan {
    warmup: u64,
    duration: u64,
    scale_count: u64,
    /// Pending requests the growth run ends at.
    growth_count: u64,
    /// The growth run's longest window, in seconds.
    growth_max_duration: u64,
    criterion: bool,
}

/// Label of the run in which the MemoryStore grows to [`Plan::growth_count`] pending
/// requests.
const GROWTH_LABEL: &str = "ours/backchannel-growth";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let plan = Plan {
        warmup: if quick { 1 } else { 2 },
        duration: if quick { 3 } else { 10 },
        scale_count: if quick { 100_000 } else { 1_000_000 },
        growth_count: if quick { 100_000 } else { 3_000_000 },
        growth_max_duration: if quick { 30 } else { 600 },
        criterion: !args.iter().any(|a| a == "--no-criterion"),
    };
    let started = Instant::now();
    println!("==> building ciba and the ciba-bench programs (release)");
    cargo(
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "ciba-cli",
            "-p",
            "ciba-bench",
            "--bins",
        ],
        &[],
    )?;
    let release = target_dir()?.join("release");
    let tmp = TempDir::new("ciba-bench")?;
    let mut results: Vec<String> = vec![meta_line(quick)?];

    // Load: the ceiling, ours, the peer, one after the other.
    load_ceiling(&release, &plan, tmp.path(), &mut results)?;
    load_ours(&release, &plan, tmp.path(), &mut results, None)?;
    load_growth(&release, &plan, tmp.path(), &mut results)?;
    // The same runs through Redis, in the same run, so the two read as a ratio.
    crate::services::ensure_debian_binary(ciba_test::services::REDIS_SERVER, "redis-server")?;
    let redis = ciba_test::services::start_single()?;
    load_ours(&release, &plan, tmp.path(), &mut results, Some(&redis.url))?;
    drop(redis);
    match check_node() {
        Ok(()) => load_peer(&release, &plan, tmp.path(), &mut results)?,
        Err(e) => {
            eprintln!("xtask bench: no oidc-provider run: {e}");
            results.push(format!(
                "{{\"kind\":\"missing\",\"what\":{}}}",
                quote(&format!("oidc-provider ({e})"))
            ));
        }
    }
    // The JVM peer, in the same run and with the same harness.
    keycloak::load_keycloak(&release, &plan, tmp.path(), &mut results)?;

    // In-process and client-side measurements.
    let count = plan.scale_count.to_string();
    results.extend(program(&release, "scale", &["--count", &count])?);
    results.extend(program(&release, "e2e_latency", &[])?);
    results.extend(program(&release, "client_rate", &[])?);
    if check_node().is_ok() {
        let script = root().join("interop/bench/oauth4webapi_rate.mjs");
        results.extend(collect(
            "oauth4webapi_rate",
            Command::new("node")
                .arg(script)
                .current_dir(root().join("interop")),
        )?);
    }
    if plan.criterion {
        println!("\n==> criterion benches (cargo bench -p ciba-bench)");
        cargo(&["bench", "--locked", "-p", "ciba-bench"], &[])?;
    }

    let out_dir = target_dir()?.join("bench");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let results_file = out_dir.join("results.jsonl");
    std::fs::write(&results_file, results.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", results_file.display()))?;
    println!("\n==> report (raw results in {})", results_file.display());
    let status = Command::new(release.join("report"))
        .arg("--results")
        .arg(&results_file)
        .arg("--criterion")
        .arg(target_dir()?.join("criterion"))
        .arg("--markdown")
        .arg(root().join("docs/performance.md"))
        .arg("--svg")
        .arg(root().join("docs/performance.svg"))
        .status()
        .map_err(|e| format!("cannot run report: {e}"))?;
    if !status.success() {
        return Err(format!("report failed ({status})"));
    }
    println!(
        "<== cargo xtask bench: docs/performance.md and docs/performance.svg written in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn load_ceiling(
    release: &Path,
    plan: &Plan,
    tmp: &Path,
    results: &mut Vec<String>,
) -> Result<(), String> {
    println!("\n==> load: bare hyper ceiling");
    let log = tmp.join("ceiling.log");
    let mut cmd = Command::new(release.join("ceiling"));
    let mut proc = spawn_with_log("ceiling", &mut cmd, &log)?;
    let line = ready_line(&mut proc, &log, |l| l.starts_with("listening on "))?;
    let addr = line.trim_start_matches("listening on ").trim().to_owned();
    let pid = proc.id().to_string();
    // The ceiling answers every request alike; the ids only shape the requests.
    let ids = tmp.join("ceiling-ids.txt");
    let fake: Vec<String> = (0..1000).map(|i| format!("ceiling-{i:020}")).collect();
    std::fs::write(&ids, fake.join("\n")).map_err(|e| format!("cannot write ids: {e}"))?;
    let ids = ids.to_string_lossy().into_owned();
    for scenario in ["backchannel", "poll", "mixed"] {
        let mut args = common_args(plan, &addr, &pid, &format!("ceiling/{scenario}"));
        args.extend(
            [
                "--scenario",
                scenario,
                "--basic",
                "client:secret",
                "--ids",
                &ids,
            ]
            .map(str::to_owned),
        );
        results.extend(program(release, "load", &as_strs(&args))?);
    }
    proc.kill();
    Ok(())
}

/// `ciba serve` with its MemoryStore (`redis: None`, labels `ours/...`) or with
/// `--store URL` (labels `ours-redis/...`).
fn load_ours(
    release: &Path,
    plan: &Plan,
    tmp: &Path,
    results: &mut Vec<String>,
    redis: Option<&str>,
) -> Result<(), String> {
    let server = if redis.is_some() {
        "ours-redis"
    } else {
        "ours"
    };
    match redis {
        Some(_) => {
            println!("\n==> load: ciba serve --store redis:// (redis-server on this machine)")
        }
        None => println!("\n==> load: ciba serve (MemoryStore)"),
    }
    let (mut proc, addr, pid) = start_serve(release, tmp, redis)?;
    let ids = tmp
        .join(format!("{server}-ids.txt"))
        .to_string_lossy()
        .into_owned();
    for scenario in ["backchannel", "poll", "mixed"] {
        let mut args = common_args(plan, &addr, &pid, &format!("{server}/{scenario}"));
        args.extend(serve_load_args(scenario));
        args.push(
            if scenario == "backchannel" {
                "--save-ids"
            } else {
                "--ids"
            }
            .to_owned(),
        );
        args.push(ids.clone());
        results.extend(program(release, "load", &as_strs(&args))?);
    }
    proc.kill();
    Ok(())
}

/// A fresh `ciba serve` (MemoryStore) taking backchannel requests until it holds
/// `plan.growth_count` pending ones (none expires within the run): the latency tail while
/// the store grows, and the server's resident memory per pending request.
fn load_growth(
    release: &Path,
    plan: &Plan,
    tmp: &Path,
    results: &mut Vec<String>,
) -> Result<(), String> {
    println!(
        "\n==> load: ciba serve (MemoryStore) growing to {} pending requests",
        plan.growth_count
    );
    let (mut proc, addr, pid) = start_serve(release, tmp, None)?;
    let mut args = common_args(plan, &addr, &pid, GROWTH_LABEL);
    args.extend(serve_load_args("backchannel"));
    for (flag, value) in [
        ("--duration", plan.growth_max_duration),
        ("--stop-after-acks", plan.growth_count),
    ] {
        // The later `--duration` wins over common_args'.
        args.push(flag.to_owned());
        args.push(value.to_string());
    }
    results.extend(program(release, "load", &as_strs(&args))?);
    proc.kill();
    Ok(())
}

/// The `load` arguments of a `scenario` against `ciba serve` with the bench client.
fn serve_load_args(scenario: &str) -> Vec<String> {
    let basic = format!("{CLIENT_ID}:{CLIENT_SECRET}");
    [
        "--scenario",
        scenario,
        "--basic",
        &basic,
        "--backchannel-path",
        "/bc-authorize",
        "--token-path",
        "/token",
        "--hint",
        "alice",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Starts `ciba serve` for the bench client, with its MemoryStore or with `--store URL`;
/// returns the process, its address and its pid. Requests live an hour and one client may
/// keep any number pending, so the load runs only add.
fn start_serve(
    release: &Path,
    tmp: &Path,
    redis: Option<&str>,
) -> Result<(Proc, String, String), String> {
    let clients = tmp.join("bench-clients.json");
    let text = format!(
        "[{{\"client_id\":{},\"client_secret\":{},\"grant_types\":[\"urn:openid:params:grant-type:ciba\"],\
         \"token_endpoint_auth_method\":\"client_secret_basic\",\"backchannel_token_delivery_mode\":\"poll\"}}]\n",
        quote(CLIENT_ID),
        quote(CLIENT_SECRET)
    );
    std::fs::write(&clients, text).map_err(|e| format!("cannot write clients: {e}"))?;
    let log = tmp.join("serve.log");
    let mut cmd = Command::new(release.join("ciba"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--auto", "manual"])
        .args(["--interval", "1", "--expires-in", "3600"])
        .args(["--max-pending-per-client", "100000000"])
        .arg("--clients")
        .arg(&clients);
    if let Some(url) = redis {
        cmd.args(["--store", url]);
    }
    let mut proc = spawn_with_log("ciba serve", &mut cmd, &log)?;
    let line = ready_line(&mut proc, &log, |l| l.starts_with("issuer: "))?;
    let addr = line
        .trim_start_matches("issuer: ")
        .trim()
        .trim_start_matches("http://")
        .to_owned();
    let pid = proc.id().to_string();
    Ok((proc, addr, pid))
}

fn load_peer(
    release: &Path,
    plan: &Plan,
    tmp: &Path,
    results: &mut Vec<String>,
) -> Result<(), String> {
    let interop = root().join("interop");
    ensure_npm_packages(&interop, Instant::now() + Duration::from_secs(300))?;
    println!("\n==> load: oidc-provider (interop/op.mjs)");
    let log = tmp.join("op.log");
    let mut cmd = Command::new("node");
    cmd.arg("op.mjs")
        .args(["--expires-in", "3600"])
        .current_dir(&interop);
    let mut proc = spawn_with_log("oidc-provider", &mut cmd, &log)?;
    let line = ready_line(&mut proc, &log, |l| l.starts_with('{'))?;
    let ready = Json::parse(&line).map_err(|e| format!("op.mjs ready line: {e}"))?;
    let addr = ready
        .get("issuer")
        .and_then(Json::as_str)
        .ok_or("op.mjs ready line has no issuer")?
        .trim_start_matches("http://")
        .to_owned();
    let pid = proc.id().to_string();
    let all_ids = tmp.join("op-ids.txt");
    let poll_ids = tmp.join("op-poll-ids.txt");
    for scenario in ["backchannel", "poll", "mixed"] {
        let mut args = common_args(plan, &addr, &pid, &format!("oidc-provider/{scenario}"));
        args.extend(
            [
                "--scenario",
                scenario,
                "--basic",
                OP_CLIENT,
                "--backchannel-path",
                "/backchannel",
                "--token-path",
                "/token",
                "--hint",
                "alice",
            ]
            .map(str::to_owned),
        );
        if scenario == "backchannel" {
            args.push("--save-ids".to_owned());
            args.push(all_ids.to_string_lossy().into_owned());
        } else {
            args.push("--ids".to_owned());
            args.push(poll_ids.to_string_lossy().into_owned());
        }
        results.extend(program(release, "load", &as_strs(&args))?);
        if scenario == "backchannel" {
            // The newest ids only: older ones were evicted by the adapter's LRU.
            let text = std::fs::read_to_string(&all_ids)
                .map_err(|e| format!("cannot read {}: {e}", all_ids.display()))?;
            let ids: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            let newest = ids
                .get(ids.len().saturating_sub(OP_POLL_IDS)..)
                .unwrap_or_default();
            std::fs::write(&poll_ids, newest.join("\n"))
                .map_err(|e| format!("cannot write {}: {e}", poll_ids.display()))?;
        }
    }
    proc.kill();
    Ok(())
}

fn common_args(plan: &Plan, addr: &str, pid: &str, label: &str) -> Vec<String> {
    [
        "--addr",
        addr,
        "--server-pid",
        pid,
        "--label",
        label,
        "--connections",
        CONNECTIONS,
        "--warmup",
        &plan.warmup.to_string(),
        "--duration",
        &plan.duration.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn spawn_with_log(name: &str, cmd: &mut Command, log: &Path) -> Result<Proc, String> {
    let file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    Proc::spawn(name, cmd.stdout(Stdio::piped()).stderr(file))
}

/// Runs a ciba-bench program from `release` and returns its RESULT lines.
fn program(release: &Path, name: &str, args: &[&str]) -> Result<Vec<String>, String> {
    let path: PathBuf = release.join(name);
    collect(name, Command::new(path).args(args))
}

/// Runs `cmd` to its end, passing its stderr through, and returns the JSON of the lines
/// its stdout prefixed with `RESULT `.
fn collect(name: &str, cmd: &mut Command) -> Result<Vec<String>, String> {
    println!("\n--> {name}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let mut lines = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("{name}: {e}"))?;
            if let Some(json) = line.strip_prefix("RESULT ") {
                Json::parse(json).map_err(|e| format!("{name} printed a bad RESULT: {e}"))?;
                lines.push(json.to_owned());
            } else {
                println!("{line}");
            }
        }
    }
    let status = child.wait().map_err(|e| format!("{name}: {e}"))?;
    if !status.success() {
        return Err(format!("{name} failed ({status})"));
    }
    Ok(lines)
}

/// What machine, toolchain and commit the figures come from.
fn meta_line(quick: bool) -> Result<String, String> {
    let output = |program: &str, args: &[&str]| -> String {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let fields = [
        ("kind", "meta".to_owned()),
        ("date", output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("commit", output("git", &["rev-parse", "--short", "HEAD"])),
        ("cpu", cpu),
        ("cores", cores.to_string()),
        ("memory", memory),
        ("kernel", output("uname", &["-sr"])),
        ("rustc", output("rustc", &["--version"])),
        ("node", output("node", &["--version"])),
        ("keycloak", crate::interop::keycloak::VERSION.to_owned()),
        ("openssl", output("openssl", &["version"])),
        (
            "command",
            if quick {
                "cargo xtask bench --quick".to_owned()
            } else {
                "cargo xtask bench".to_owned()
            },
        ),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
        .collect();
    Ok(format!("{{{}}}", body.join(",")))
}
