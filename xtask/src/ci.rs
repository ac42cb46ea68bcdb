//! `cargo xtask ci`: the whole CI pipeline, runnable locally exactly as CI runs it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

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

pub(crate) fn run() -> Result<(), String> {
    let started = Instant::now();
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
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
        &[],
    )?;
    // The public API of ciba-core and ciba-server against api/*.txt (cargo xtask api).
    crate::api::run(&[])?;
    crate::tidy::run()?;
    crate::deny::run()?;
    // The device-page test of ciba-cli drives a real headless browser.
    crate::services::ensure_debian_binary("/usr/bin/chromium", "chromium")?;
    // ciba-redis's tests need a Redis: CIBA_TEST_REDIS_URL, or one started (and stopped
    // when `redis` drops, on success or failure) here.
    let redis = crate::redis::ensure()?;
    cargo(
        &["test", "--workspace", "--locked", "--no-fail-fast"],
        &redis.env(),
    )?;
    // The pure-Rust JOSE backend must work as well as the default one.
    cargo(
        &[
            "test",
            "--locked",
            "-p",
            "ciba-core",
            "-p",
            "ciba-server",
            "--no-default-features",
            "--features",
            "rust-crypto,os-rng",
        ],
        &[],
    )?;
    // The interop matrix against the JavaScript (Node.js) and Java (Keycloak, Nimbus; it
    // fetches and builds them with Maven) implementations in interop/.
    crate::interop::run_in_ci()?;
    // Every cargo-fuzz target for a short bounded time (the 10-minute runs are local:
    // `cargo xtask fuzz --seconds 600`).
    crate::fuzz::run(&[String::from("--seconds"), CI_FUZZ_SECONDS.to_string()])?;
    // Every publishable crate packages and builds from its .crate alone (about 6 minutes on
    // 2 cores: the dependencies are built again without the workspace's profile settings).
    crate::package::run()?;
    cargo(
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    println!(
        "\nxtask ci: all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
