//! Making sure the tools the tests need are present, the way CI's clean machine needs it:
//! installed from Debian's packages with apt-get when missing and running as root.

use std::path::Path;
use std::process::Command;

/// Ensures `binary` exists, installing Debian package `package` when it does not and we may.
/// Under `CI=true` a binary that cannot be made available is an error; elsewhere it is a
/// warning, and the tests that need it say so loudly.
pub(crate) fn ensure_debian_binary(binary: &str, package: &str) -> Result<(), String> {
    if Path::new(binary).exists() {
        return Ok(());
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if is_root() {
        println!("\n==> installing {package} (apt-get) for {binary}");
        run_quiet("apt-get", &["update", "-q"])?;
        run_quiet(
            "apt-get",
            &["install", "-y", "-q", "--no-install-recommends", package],
        )?;
        if Path::new(binary).exists() {
            return Ok(());
        }
    }
    let message = format!("{binary} is missing (Debian package {package})");
    if in_ci {
        Err(message)
    } else {
        eprintln!("xtask: warning: {message}; the tests that need it will fail or skip loudly");
        Ok(())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run_quiet(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}
