//! The tools the matrix needs before it runs: Node.js and npm, the pinned npm packages in
//! interop/node_modules, the `ciba` binary and the client transports it offers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::cells::Transport;
use super::support::Proc;
use super::{NODE_MIN_MAJOR, NPM_TIMEOUT, PINNED};
use crate::json::Json;

/// Node.js ≥ 20 and npm on PATH.
pub(crate) fn check_node() -> Result<(), String> {
    let version = tool_version("node")?;
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("cannot read the Node.js version {version:?}"))?;
    if major < NODE_MIN_MAJOR {
        return Err(format!(
            "Node.js {version} is too old: interop/ needs Node.js {NODE_MIN_MAJOR} or newer"
        ));
    }
    tool_version("npm")?;
    Ok(())
}

fn tool_version(tool: &str) -> Result<String, String> {
    let out = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{tool} is not available ({e}); interop/ needs Node.js and npm"))?;
    if !out.status.success() {
        return Err(format!("`{tool} --version` failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `<target dir>/debug/ciba`, the target dir as cargo sees it (CARGO_TARGET_DIR, config).
pub(super) fn ciba_binary() -> Result<PathBuf, String> {
    let bin = target_dir()?
        .join("debug")
        .join(format!("ciba{}", std::env::consts::EXE_SUFFIX));
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{} is missing after the build", bin.display()))
    }
}

/// The target directory as cargo sees it (CARGO_TARGET_DIR, config).
pub(crate) fn target_dir() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(crate::ci::root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed ({})", out.status));
    }
    let meta = Json::parse(&String::from_utf8_lossy(&out.stdout))
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let target = meta
        .get("target_directory")
        .and_then(Json::as_str)
        .ok_or("cargo metadata has no target_directory")?;
    Ok(PathBuf::from(target))
}

/// Runs `npm ci --no-audit --no-fund` in interop/ when node_modules is missing, older than
/// the lockfile, or holds other versions than the pinned ones.
pub(crate) fn ensure_npm_packages(interop: &Path, deadline: Instant) -> Result<(), String> {
    let Some(why) = npm_packages_stale(interop) else {
        println!("\n==> interop/node_modules is up to date");
        return Ok(());
    };
    println!("\n==> npm ci --no-audit --no-fund (in interop/: {why})");
    let started = Instant::now();
    let mut npm = Proc::spawn(
        "npm ci",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(interop),
    )?;
    let timeout = NPM_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
    match npm.wait_timeout(timeout) {
        Some(status) if status.success() => {
            println!("<== npm ci ({:.1} s)", started.elapsed().as_secs_f64());
            match npm_packages_stale(interop) {
                None => Ok(()),
                Some(why) => Err(format!(
                    "after npm ci, interop/node_modules is still stale: {why}"
                )),
            }
        }
        Some(status) => Err(format!("`npm ci` in interop/ failed ({status})")),
        None => Err(format!("`npm ci` in interop/ took longer than {timeout:?}")),
    }
}

/// Why interop/node_modules needs `npm ci`, or `None` when it is fine.
fn npm_packages_stale(interop: &Path) -> Option<String> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let hidden = interop.join("node_modules").join(".package-lock.json");
    let Some(installed) = modified(&hidden) else {
        return Some("node_modules is missing".to_owned());
    };
    if modified(&interop.join("package-lock.json")).is_some_and(|lock| lock > installed) {
        return Some("package-lock.json is newer than node_modules".to_owned());
    }
    for (name, pinned) in PINNED {
        let file = interop.join("node_modules").join(name).join("package.json");
        let version = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| Json::parse(&t).ok())
            .and_then(|j| j.get("version").and_then(Json::as_str).map(str::to_owned));
        if version.as_deref() != Some(pinned) {
            return Some(format!(
                "{name} is {} instead of {pinned}",
                version.as_deref().unwrap_or("missing")
            ));
        }
    }
    None
}

/// Our client transports: ciba-reqwest always; ciba-hyper when `ciba login --transport`
/// exists.
pub(super) fn transports(bin: &Path) -> Result<Vec<Transport>, String> {
    let out = Command::new(bin)
        .args(["login", "--help"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} login --help: {e}", bin.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    if help.contains("--transport") {
        Ok(vec![Transport::Reqwest, Transport::Hyper])
    } else {
        println!(
            "\nxtask: note: `ciba login` has no --transport option: the ciba-hyper client rows are left out"
        );
        Ok(vec![Transport::Default])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::support::TempDir;

    #[test]
    fn stale_node_modules_are_detected() {
        let dir = TempDir::new("xtask-interop-test").unwrap();
        assert!(npm_packages_stale(dir.path()).unwrap().contains("missing"));
    }
}
