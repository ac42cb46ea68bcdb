//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs every cargo-fuzz target in `fuzz/` for
//! N seconds (default 60) and prints executions per second and coverage for each.
//!
//! cargo-fuzz needs unstable compiler flags; on this project's stable toolchain they are enabled
//! with `RUSTC_BOOTSTRAP=1` for the fuzz build only. Sanitizers are off (`--sanitizer none`):
//! the crates forbid `unsafe`, and the fuzzers look for panics, overflows and runaway
//! allocation. cargo-fuzz is installed with `cargo install cargo-fuzz --locked` when missing.
//! `cargo xtask ci` runs every target for a few seconds (after the test suites, which feed the
//! same parsers through proptest harnesses and so need no fuzzer); the long runs are local.
//! It builds them beforehand in a background lane ([`build_step`], the same flags as the runs),
//! so the runs start at once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::ci::root;
use crate::lanes::Step;

/// The build flags of every run: optimised, no sanitizer.
const BUILD_FLAGS: [&str; 3] = ["-O", "--sanitizer", "none"];

/// `cargo fuzz build` of every target with the flags the runs use, so that a run after it
/// compiles nothing.
pub(crate) fn build_step() -> Step {
    let mut args = vec!["fuzz", "build"];
    args.extend(BUILD_FLAGS);
    Step::cargo(&args)
        .in_dir(&root().join("fuzz"))
        .env("RUSTC_BOOTSTRAP", "1")
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seconds: u64 = 60;
    let mut targets: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--seconds" {
            seconds = it
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or("--seconds takes a whole number")?;
        } else {
            targets.push(arg.clone());
        }
    }
    ensure_cargo_fuzz()?;
    let dir = root().join("fuzz");
    if targets.is_empty() {
        targets = list_targets(&dir)?;
    }
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for target in &targets {
        let started = Instant::now();
        println!("\n==> fuzz {target} for {seconds} s");
        let corpus = dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("cannot create corpus: {e}"))?;
        let seeds = dir.join("seeds").join(target);
        let mut cmd = fuzz_command(&dir);
        cmd.arg("run")
            .args(BUILD_FLAGS)
            .arg(target.as_str())
            .arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .stderr(Stdio::piped());
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let done = log
            .lines()
            .rev()
            .find(|l| l.contains("DONE") || l.contains("pulse"))
            .unwrap_or("(no libFuzzer status line)")
            .to_owned();
        if !out.status.success() {
            eprintln!("{log}");
            failed.push(target.clone());
        }
        rows.push((
            target.clone(),
            stat(&done, "exec/s:"),
            stat(&done, "cov:"),
            out.status.success(),
            started.elapsed().as_secs(),
        ));
    }
    println!("\n| target | exec/s | coverage (edges) | result | wall s |");
    println!("|---|---|---|---|---|");
    for (t, execs, cov, ok, wall) in &rows {
        let result = if *ok { "no crash" } else { "CRASH" };
        println!("| {t} | {execs} | {cov} | {result} | {wall} |");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz targets crashed: {} (inputs in fuzz/artifacts)",
            failed.join(", ")
        ))
    }
}

fn stat(line: &str, key: &str) -> String {
    line.split_whitespace()
        .skip_while(|w| *w != key)
        .nth(1)
        .unwrap_or("?")
        .to_owned()
}

fn fuzz_command(dir: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.arg("fuzz").current_dir(dir).env("RUSTC_BOOTSTRAP", "1");
    cmd
}

fn list_targets(dir: &Path) -> Result<Vec<String>, String> {
    let out = fuzz_command(dir)
        .arg("list")
        .output()
        .map_err(|e| format!("cannot run cargo fuzz list: {e}"))?;
    if !out.status.success() {
        return Err("cargo fuzz list failed".to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when `cargo fuzz` is missing.
pub(crate) fn ensure_cargo_fuzz() -> Result<(), String> {
    crate::cargo_tools::ensure_subcommand("fuzz", "cargo-fuzz", None)
}
