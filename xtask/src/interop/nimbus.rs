//! The Nimbus OAuth 2.0 / OpenID Connect SDK as a CIBA client peer: the driver in
//! `interop/nimbus/` (Maven, pinned versions), built here and run once per matrix cell with
//! the same command line and result line as the JavaScript drivers.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use super::support::Proc;

/// The pinned SDK (`com.nimbusds:oauth2-oidc-sdk`, interop/nimbus/pom.xml).
pub(crate) const VERSION: &str = "11.39";
/// The driver's main class.
pub(crate) const MAIN_CLASS: &str = "ciba.interop.RpNimbus";
/// A Maven build, at most (the first one downloads the dependencies).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

const SOURCE: &str = "src/main/java/ciba/interop/RpNimbus.java";
const CLASS: &str = "target/classes/ciba/interop/RpNimbus.class";
const CLASSPATH_FILE: &str = "target/classpath.txt";
/// Written after each successful build (Maven leaves up-to-date classes untouched, so their
/// times say nothing about the build).
const STAMP: &str = "target/xtask-built.stamp";

/// Builds the driver when its classes or class path are missing or older than its sources
/// (offline first; online only when the local Maven repository lacks something), and
/// returns the class path to run it with.
pub(crate) fn ensure_built(interop: &Path, deadline: Instant) -> Result<String, String> {
    let dir = interop.join("nimbus");
    if is_fresh(&dir) {
        println!("\n==> interop/nimbus is built");
    } else {
        let started = Instant::now();
        println!("\n==> building interop/nimbus (mvn, Nimbus oauth2-oidc-sdk {VERSION})");
        let left = || BUILD_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
        if let Err(offline) = mvn(&dir, true, left()) {
            println!("    offline build failed ({offline}); trying with the network");
            mvn(&dir, false, left())?;
        }
        std::fs::write(dir.join(STAMP), "built by cargo xtask\n")
            .map_err(|e| format!("cannot write interop/nimbus/{STAMP}: {e}"))?;
        if !is_fresh(&dir) {
            return Err("interop/nimbus: the build left no classes or class path".to_owned());
        }
        println!(
            "<== interop/nimbus built ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let deps = std::fs::read_to_string(dir.join(CLASSPATH_FILE))
        .map_err(|e| format!("cannot read interop/nimbus/{CLASSPATH_FILE}: {e}"))?;
    Ok(format!(
        "{}:{}",
        dir.join("target/classes").display(),
        deps.trim()
    ))
}

fn mvn(dir: &Path, offline: bool, timeout: Duration) -> Result<(), String> {
    let mut cmd = Command::new("mvn");
    cmd.args(["-B", "-q", "-Dstyle.color=never"]);
    if offline {
        cmd.arg("-o");
    }
    cmd.args([
        "compile",
        "dependency:build-classpath",
        &format!("-Dmdep.outputFile={CLASSPATH_FILE}"),
    ])
    .current_dir(dir);
    let mut proc = Proc::spawn("mvn (interop/nimbus)", &mut cmd)?;
    match proc.wait_timeout(timeout) {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("mvn failed ({s})")),
        None => Err(format!("mvn took longer than {timeout:?}")),
    }
}

/// The class and the class path exist, and the last successful build is newer than the pom
/// and the source.
fn is_fresh(dir: &Path) -> bool {
    let modified = |p: &str| -> Option<SystemTime> {
        std::fs::metadata(dir.join(p))
            .and_then(|m| m.modified())
            .ok()
    };
    let (Some(_), Some(_), Some(built)) =
        (modified(CLASS), modified(CLASSPATH_FILE), modified(STAMP))
    else {
        return false;
    };
    ["pom.xml", SOURCE]
        .iter()
        .all(|p| modified(p).is_some_and(|m| m <= built))
}

/// The driver's command (arguments of the cell still to add).
pub(crate) fn command(classpath: &str) -> Command {
    let mut cmd = Command::new("java");
    // A small, quickly started JVM per cell.
    cmd.args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k"])
        .args(["-cp", classpath, MAIN_CLASS]);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unbuilt_driver_is_not_fresh() {
        let dir = super::super::support::TempDir::new("xtask-nimbus").unwrap();
        assert!(!is_fresh(dir.path()));
        std::fs::create_dir_all(dir.path().join("target/classes/ciba/interop")).unwrap();
        std::fs::create_dir_all(dir.path().join("src/main/java/ciba/interop")).unwrap();
        for f in ["pom.xml", SOURCE] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        for f in [CLASS, CLASSPATH_FILE, STAMP] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        assert!(is_fresh(dir.path()));
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.path().join(SOURCE), "y").unwrap();
        assert!(!is_fresh(dir.path()));
    }
}
