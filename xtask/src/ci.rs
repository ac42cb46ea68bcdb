//! `cargo xtask ci`: the whole CI pipeline, runnable locally exactly as CI runs it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::lanes::{Lane, Step};
use crate::timings::Timings;

/// The workspace root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Runs `cargo` with `args` (and extra environment) from the workspace root; fails on a
/// non-zero exit.
pub(crate) fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let started = Instant::now();
    println!("\n==> cargo {}", args.join(" "));
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    println!(
        "<== cargo {} ({:.1} s)",
        args.first().copied().unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// Seconds each fuzz target runs in CI.
const CI_FUZZ_SECONDS: u64 = 15;

/// The workspace test step's arguments (the interop matrix asks the same build for `ciba`).
const WORKSPACE_TESTS: [&str; 4] = ["test", "--workspace", "--locked", "--no-fail-fast"];

/// The environment of every build in the main target directory (and the packaging's). CI
/// compiles each workspace crate once, from a fresh clone: incremental compilation would only
/// write caches that nothing reads. Builds sharing a target directory must agree on it, or
/// cargo would compile the workspace crates again.
pub(crate) const BUILD_ENV: [(&str, &str); 1] = [("CARGO_INCREMENTAL", "0")];

/// `cargo xtask ci`: every step, then the timing table (also when a step failed).
pub(crate) fn run() -> Result<(), String> {
    let mut timings = Timings::new();
    let result = run_steps(&mut timings);
    print!("{}", timings.table());
    if result.is_ok() {
        println!(
            "\nxtask ci: all checks passed in {:.0} s",
            timings.elapsed().as_secs_f64()
        );
    }
    result
}

/// The steps. The main sequence runs as it always did; the steps that need neither its
/// results nor its target directory's lock run in background lanes ([`Lane`]: niced, output
/// printed as a block when joined) and use the CPU the main sequence leaves idle:
///
/// - the fuzz build (its own target directory `fuzz/target`) from the start;
/// - after the workspace tests, the rust-crypto tests and the docs (the main target
///   directory, free then: the interop matrix drives the `ciba` the tests built instead of
///   building ciba-cli again), and the verifying `cargo package` (its own target directory).
///
/// A failed lane fails the run at the next step boundary of the main sequence; every lane
/// still running when the run fails is stopped.
fn run_steps(t: &mut Timings) -> Result<(), String> {
    t.time("cargo fmt --check", || {
        cargo(&["fmt", "--all", "--", "--check"], &[])
    })?;
    let logs = crate::interop::target_dir()?.join("ci-logs");
    // Every cargo-fuzz target for a short bounded time (the 10-minute runs are local:
    // `cargo xtask fuzz --seconds 600`); built now, run after the interop matrix.
    t.time("cargo fuzz (installed)", crate::fuzz::ensure_cargo_fuzz)?;
    let fuzz_build = Lane::start("fuzz build", vec![crate::fuzz::build_step()], &logs)?;
    // The public API of ciba-core and ciba-server against api/*.txt (`cargo xtask api`): its
    // rustdoc JSON build has a target directory of its own, so it runs beside everything.
    let api = Lane::start("public API", vec![Step::xtask(&["api"])], &logs)?;
    let lanes = [&fuzz_build, &api];
    t.time("cargo clippy", || {
        cargo(
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            &BUILD_ENV,
        )
    })?;
    t.time("tidy", crate::tidy::run)?;
    t.time("deny", crate::deny::run)?;
    // The device-page test of ciba-cli drives a real headless browser.
    crate::services::ensure_debian_binary("/usr/bin/chromium", "chromium")?;
    // ciba-redis's tests need a Redis: CIBA_TEST_REDIS_URL, or one started (and stopped
    // when `redis` drops, on success or failure) here.
    let redis = t.time("redis (single, TLS, cluster)", crate::redis::ensure)?;
    let test_env: Vec<(&str, &str)> = redis.env().into_iter().chain(BUILD_ENV).collect();
    failed_lane(&lanes, t)?;
    t.time("cargo test --workspace", || {
        cargo(&WORKSPACE_TESTS, &test_env)
    })?;
    let ciba = t.time("ciba binary of the test build", || {
        crate::test_build::ciba_binary(&WORKSPACE_TESTS, &test_env)
    })?;
    drop(test_env);
    drop(redis);
    failed_lane(&lanes, t)?;
    // The pure-Rust JOSE backend must work as well as the default one. Then the docs.
    let builds = Lane::start(
        "rust-crypto tests, docs",
        vec![
            Step::cargo(&[
                "test",
                "--locked",
                "-p",
                "ciba-core",
                "-p",
                "ciba-server",
                "--no-default-features",
                "--features",
                "rust-crypto,os-rng",
            ])
            .envs(&BUILD_ENV),
            Step::cargo(&["doc", "--workspace", "--no-deps", "--locked"])
                .env("RUSTDOCFLAGS", "-D warnings")
                .envs(&BUILD_ENV),
        ],
        &logs,
    )?;
    // Every publishable crate packages and builds from its .crate alone (about 3 minutes on
    // 2 cores: the dependencies are built again without the workspace's profile).
    let package_step = t.time("package metadata", || {
        crate::package::ci_step(&logs.with_file_name("ci-package"))
    })?;
    let packaging = Lane::start("package", vec![package_step], &logs)?;
    let lanes = [&fuzz_build, &api, &builds, &packaging];
    // The interop matrix against the JavaScript (Node.js) and Java (Keycloak, Nimbus; it
    // fetches and builds them with Maven) implementations in interop/.
    t.time("interop matrix", || crate::interop::run_in_ci(&ciba))?;
    failed_lane(&lanes, t)?;
    fuzz_build.join(t)?;
    t.time("fuzz runs", || {
        crate::fuzz::run(&[String::from("--seconds"), CI_FUZZ_SECONDS.to_string()])
    })?;
    api.join(t)?;
    builds.join(t)?;
    packaging.join(t)
}

/// Fails with the first failed lane's error (its output printed), if any has failed.
fn failed_lane(lanes: &[&Lane], t: &mut Timings) -> Result<(), String> {
    match lanes.iter().find(|l| l.failed()) {
        Some(lane) => lane.join(t),
        None => Ok(()),
    }
}
