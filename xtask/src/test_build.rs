//! The `ciba` binary of the workspace's test build, for the interop matrix of `cargo xtask ci`.
//!
//! `cargo test --workspace` builds `ciba` (ciba-cli's integration tests run it as
//! `CARGO_BIN_EXE_ciba`). A plain `cargo build -p ciba-cli` after it would compile much of the
//! tree again, because the test build unifies the dev-dependencies' features into it. So CI
//! asks cargo for that build's executable instead: `cargo test --workspace --no-run` with the
//! same arguments right after the tests finds every unit fresh, compiles nothing, and reports
//! each artifact as JSON, `ciba`'s executable path among them. It is cargo's own answer for the
//! current sources, so the matrix can never drive a stale binary; had a source changed since
//! the tests, cargo would build it again here, so the binary is still the current one.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::json::Json;

/// The package and binary target the matrix drives.
const PACKAGE: &str = "ciba-cli";
const BIN: &str = "ciba";

/// The `ciba` executable of `cargo TEST_ARGS --no-run` (the test step's own arguments,
/// without `--no-fail-fast`), run with the test step's environment `env`.
pub(crate) fn ciba_binary(test_args: &[&str], env: &[(&str, &str)]) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(test_args.iter().filter(|a| **a != "--no-fail-fast"))
        .args(["--no-run", "--message-format=json-render-diagnostics"])
        .current_dir(crate::ci::root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    println!("\n==> the `{BIN}` binary of that test build (cargo test --no-run, JSON)");
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo {} --no-run` failed ({})",
            test_args.join(" "),
            out.status
        ));
    }
    let bin = executable(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        format!("the test build reported no `{BIN}` executable of {PACKAGE}: is ciba-cli still tested with its binary?")
    })?;
    if !bin.is_file() {
        return Err(format!(
            "the test build's `{BIN}` is missing: {}",
            bin.display()
        ));
    }
    println!("<== {}", bin.display());
    Ok(bin)
}

/// The executable of the `ciba` binary target (not its unit-test harness) among cargo's JSON
/// messages, one per line.
fn executable(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| Json::parse(line).ok())
        .filter(|m| m.get("reason").and_then(Json::as_str) == Some("compiler-artifact"))
        .filter(|m| {
            m.get("package_id")
                .and_then(Json::as_str)
                .and_then(package_name)
                == Some(PACKAGE)
        })
        .filter(|m| {
            let target = m.get("target");
            target.and_then(|t| t.get("name")).and_then(Json::as_str) == Some(BIN)
                && target
                    .and_then(|t| t.get("kind"))
                    .is_some_and(|k| k.is_or_contains("bin"))
        })
        .filter(|m| m.get("profile").and_then(|p| p.get("test")) == Some(&Json::Bool(false)))
        .find_map(|m| {
            m.get("executable")
                .and_then(Json::as_str)
                .map(PathBuf::from)
        })
}

/// The package name in a package ID spec: `path+file:///w/crates/ciba-cli#0.1.0` (the name is
/// the folder's) or `path+file:///w/crates/cli#ciba-cli@0.1.0`.
fn package_name(id: &str) -> Option<&str> {
    let (url, fragment) = id.rsplit_once('#')?;
    match fragment.split_once('@') {
        Some((name, _)) => Some(name),
        None => url.rsplit('/').next(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as cargo 1.95 writes it (the ID without the name: it is the folder's).
    fn artifact(package: &str, name: &str, kind: &str, test: bool, exe: &str) -> String {
        format!(
            r#"{{"reason":"compiler-artifact","package_id":"path+file:///w/crates/{package}#0.1.0","target":{{"kind":["{kind}"],"crate_types":["{kind}"],"name":"{name}"}},"profile":{{"opt_level":"0","test":{test}}},"features":[],"filenames":["{exe}"],"executable":"{exe}","fresh":true}}"#
        )
    }

    #[test]
    fn the_binary_is_told_apart_from_its_test_harness_and_other_packages() {
        let messages = [
            r#"{"reason":"build-script-executed","package_id":"x"}"#.to_owned(),
            artifact("ciba-cli", "ciba", "bin", true, "/t/debug/deps/ciba-1234"),
            artifact("ciba-bench", "ciba", "bin", false, "/t/debug/other"),
            artifact("ciba-cli", "it", "test", true, "/t/debug/deps/it-99"),
            artifact("ciba-cli", "ciba", "bin", false, "/t/debug/ciba"),
            r#"{"reason":"build-finished","success":true}"#.to_owned(),
        ]
        .join("\n");
        assert_eq!(executable(&messages), Some(PathBuf::from("/t/debug/ciba")));
    }

    #[test]
    fn package_names_are_read_from_both_forms_of_id() {
        assert_eq!(
            package_name("path+file:///w/crates/ciba-cli#0.1.0"),
            Some("ciba-cli")
        );
        assert_eq!(
            package_name("path+file:///w/cli#ciba-cli@0.1.0"),
            Some("ciba-cli")
        );
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.229"),
            Some("serde")
        );
        assert_eq!(package_name("no fragment"), None);
    }

    #[test]
    fn no_binary_is_none() {
        let messages = artifact("ciba-cli", "ciba", "bin", true, "/t/debug/deps/ciba-1");
        assert_eq!(executable(&messages), None);
        assert_eq!(executable("not json\n"), None);
    }
}
