//! `cargo xtask api [--bless]`: the public API of ciba-core and ciba-server, checked against
//! the committed snapshots in `api/` (one sorted line per public item; see
//! [`walk`] for what a line holds), so that any change to it is deliberate.
//!
//! - `cargo xtask api` renders the current API and fails with a diff (`-` removed, `+` added
//!   lines) when it differs from the snapshot; `cargo xtask ci` runs it after clippy.
//! - `cargo xtask api --bless` rewrites the snapshots; commit them with the change.
//!
//! The API is read from rustdoc's JSON output with every feature enabled but the aws-lc-rs
//! JOSE backend ([`FEATURES`]): the two backends differ only in private code, and leaving out
//! the one with a C library to compile saves minutes of CI. That output is
//! unstable: on this project's stable toolchain it is enabled with `RUSTC_BOOTSTRAP=1` for
//! this one `cargo doc` call only (as `cargo xtask fuzz` does for cargo-fuzz), and the
//! renderer checks the JSON's `format_version` ([`doc::FORMAT_VERSIONS`]), so a toolchain
//! update that changes the format fails loudly instead of rendering wrongly.

mod diff;
mod doc;
mod types;
mod walk;

use std::path::PathBuf;

use crate::ci::{cargo, root};
use crate::json::Json;

/// The crates whose public API is snapshotted.
const CRATES: &[&str] = &["ciba-core", "ciba-server"];
/// The features each crate's snapshot is taken with: all of them but `aws-lc-rs`
/// (`LEFT_OUT`), whose code is private (`jose::backend` picks the provider) and whose C
/// library would be compiled once more for this check alone. A test keeps the lists complete.
const FEATURES: &[(&str, &[&str])] = &[
    ("ciba-core", &["rust-crypto", "os-rng", "jwe"]),
    ("ciba-server", &["rust-crypto", "os-rng", "conformance"]),
];
/// The features deliberately left out of [`FEATURES`] (read by the test that keeps it complete),
/// in every crate. `test-internals` only exposes the `#[doc(hidden)]` `__internals` module to
/// the crate's own tests: it is not API.
#[cfg(test)]
const LEFT_OUT: &[&str] = &["aws-lc-rs", "test-internals"];
/// The snapshots' folder, relative to the workspace root.
const SNAPSHOT_DIR: &str = "api";

/// `cargo xtask api [--bless]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let bless = match args {
        [] => false,
        [flag] if flag == "--bless" => true,
        _ => return Err(format!("usage: cargo xtask api [--bless] (got {args:?})")),
    };
    build_json()?;
    let mut differences = Vec::new();
    for krate in CRATES {
        let current = render_crate(krate)?;
        let file = snapshot_file(krate);
        if bless {
            std::fs::create_dir_all(root().join(SNAPSHOT_DIR))
                .map_err(|e| format!("cannot create {SNAPSHOT_DIR}/: {e}"))?;
            std::fs::write(&file, &current)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            println!(
                "api: wrote {} ({} lines)",
                file.display(),
                current.lines().count()
            );
            continue;
        }
        let committed = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        match diff::diff(&committed, &current) {
            None => println!(
                "api: {krate} matches {SNAPSHOT_DIR}/{krate}.txt ({} lines)",
                current.lines().count()
            ),
            Some(d) => {
                println!(
                    "\napi: the public API of {krate} differs from {SNAPSHOT_DIR}/{krate}.txt:\n{d}"
                );
                differences.push(*krate);
            }
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the public API of {} changed (diff above); if the change is deliberate, run \
             `cargo xtask api --bless` and commit {SNAPSHOT_DIR}/",
            differences.join(" and ")
        ))
    }
}

fn snapshot_file(krate: &str) -> PathBuf {
    root().join(SNAPSHOT_DIR).join(format!("{krate}.txt"))
}

/// Builds the rustdoc JSON of every crate in [`CRATES`], one cargo run each (each with its
/// own features; the second reuses the dependencies the first checked).
fn build_json() -> Result<(), String> {
    let target = api_target_dir()?;
    let target = target.to_str().ok_or("the target directory is not UTF-8")?;
    for (krate, features) in FEATURES {
        let features = features.join(",");
        cargo(
            &[
                "doc",
                "--locked",
                "--no-deps",
                "-p",
                krate,
                "--no-default-features",
                "--features",
                &features,
                "--target-dir",
                target,
            ],
            // rustdoc's JSON output is unstable; see the module docs.
            &[
                ("RUSTC_BOOTSTRAP", "1"),
                ("RUSTDOCFLAGS", "-Z unstable-options --output-format json"),
            ],
        )?;
    }
    Ok(())
}

/// `<target>/api`: the JSON build's own target directory. `RUSTC_BOOTSTRAP` changes every
/// dependency's fingerprint, so in the shared directory each check would rebuild what the
/// ordinary builds use, and the other way round; here it builds once and stays.
fn api_target_dir() -> Result<std::path::PathBuf, String> {
    Ok(crate::interop::target_dir()?.join("api"))
}

/// Renders the snapshot text of `krate` from its rustdoc JSON (built by [`build_json`]).
fn render_crate(krate: &str) -> Result<String, String> {
    let file = api_target_dir()?
        .join("doc")
        .join(format!("{}.json", krate.replace('-', "_")));
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let json = Json::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    render_json(&json)
}

/// The snapshot text of a rustdoc JSON document: its lines, each ending in a newline.
fn render_json(json: &Json) -> Result<String, String> {
    let lines = walk::render(json)?;
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

#[cfg(test)]
mod tests;
