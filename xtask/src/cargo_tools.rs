//! Cargo subcommands the tasks rely on (cargo-fuzz, cargo-mutants): found on the `PATH`, or
//! installed with `cargo install --locked` on first use, so a fresh machine needs nothing by hand.

use std::process::{Command, Stdio};

/// The cargo that runs this task (`$CARGO` under `cargo xtask`), else `cargo` from the `PATH`.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Makes `cargo <sub>` available: installs `krate` (at `version`, when one is pinned) unless a
/// `cargo <sub> --version` already answers (with that version, when one is pinned).
pub(crate) fn ensure_subcommand(
    sub: &str,
    krate: &str,
    version: Option<&str>,
) -> Result<(), String> {
    let cargo = cargo();
    let answer = Command::new(&cargo)
        .args([sub, "--version"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if answer.is_some_and(|found| version.is_none_or(|v| found.ends_with(v))) {
        return Ok(());
    }
    let mut cmd = Command::new(&cargo);
    cmd.args(["install", krate, "--locked"]);
    if let Some(v) = version {
        cmd.args(["--version", v]);
    }
    println!(
        "==> cargo install {krate} --locked{}",
        version
            .map(|v| format!(" --version {v}"))
            .unwrap_or_default()
    );
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo install {krate} failed"))
    }
}
