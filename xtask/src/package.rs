//! `cargo xtask package`: every publishable workspace member must be ready for crates.io.
//!
//! Two steps. First the manifests, from `cargo metadata --no-deps`: each member that may be
//! published (no `publish = false`) has a licence, a `readme` that exists, one to five
//! valid `keywords`, at least one category, both licence files beside its manifest, no
//! `repository` (none exists yet), and a `rust-version` equal to the `major.minor` of the
//! rustc running the check (the version CI builds with). Then `cargo package --workspace`,
//! verifying: every crate is packaged in dependency order (unpublished workspace
//! dependencies resolve through cargo's local overlay registry) and each package is built
//! from its `.crate` contents alone, so a file outside the package, a missing `version` on
//! a dependency or a dev-dependency cycle fails here rather than at publication.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::json::Json;
use crate::lanes::Step;

/// One workspace member, as the check needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) publishable: bool,
    pub(crate) manifest_dir: String,
    pub(crate) license: Option<String>,
    pub(crate) readme: Option<String>,
    pub(crate) keywords: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) repository: Option<String>,
    pub(crate) rust_version: Option<String>,
    /// Its build targets (library, programs, tests, benches, ...).
    pub(crate) targets: Vec<Target>,
}

/// One build target of a workspace member, as `cargo metadata` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) kinds: Vec<String>,
    pub(crate) src_path: PathBuf,
    /// Whether `cargo test` builds this target's tests (`test = true`).
    pub(crate) test: bool,
    /// Whether `cargo test` runs this target's doctests.
    pub(crate) doctest: bool,
}

pub(crate) fn run() -> Result<(), String> {
    let args = prepare()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::ci::cargo(&args, &[])
}

/// `cargo xtask ci`'s packaging: [`prepare`] now, the verifying `cargo package` as a
/// background step with its own target directory `target_dir` (its verification builds do
/// not share the workspace's profile, so they reuse nothing of the main target directory
/// anyway, and so they never wait for its lock).
pub(crate) fn ci_step(target_dir: &Path) -> Result<Step, String> {
    let args = prepare()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The verification builds each crate and its dependencies once, to see that they build,
    // and runs nothing: debug info would only cost time.
    Ok(Step::cargo(&args)
        .env("CARGO_TARGET_DIR", &target_dir.display().to_string())
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .envs(&crate::ci::BUILD_ENV))
}

/// Checks the manifests, forgets what earlier verifications unpacked, and returns the
/// arguments of the verifying `cargo package --workspace`.
fn prepare() -> Result<Vec<String>, String> {
    let members = parse_members(&cargo_output(&[
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--locked",
    ])?)?;
    let rustc = rustc_minor_version()?;
    let problems: Vec<String> = members
        .iter()
        .filter(|m| m.publishable)
        .flat_map(|m| manifest_problems(m, &rustc, |p| Path::new(p).is_file()))
        .collect();
    if !problems.is_empty() {
        return Err(format!("package metadata:\n  {}", problems.join("\n  ")));
    }
    forget_unpacked(&cargo_home(), &members)?;
    let mut args: Vec<String> = ["package", "--workspace", "--locked", "--allow-dirty"]
        .map(str::to_owned)
        .into();
    for member in members.iter().filter(|m| !m.publishable) {
        args.push("--exclude".to_owned());
        args.push(member.name.clone());
    }
    Ok(args)
}

/// `$CARGO_HOME`, or `~/.cargo`.
fn cargo_home() -> std::path::PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_else(|| std::path::PathBuf::from(".cargo"))
}

/// Removes what an earlier verification unpacked of our own crates
/// (`registry/src/*/NAME-VERSION`). Cargo unpacks each `.crate` of the overlay registry
/// there once and reuses the folder while it exists, whatever the new `.crate` holds, so a
/// second run at the same version would verify the first run's sources. Only the
/// publishable members' own name-version folders go; cargo unpacks them again.
pub(crate) fn forget_unpacked(cargo_home: &Path, members: &[Member]) -> Result<(), String> {
    let Ok(registries) = std::fs::read_dir(cargo_home.join("registry").join("src")) else {
        return Ok(()); // Nothing unpacked yet.
    };
    for registry in registries.flatten() {
        for member in members.iter().filter(|m| m.publishable) {
            let unpacked = registry
                .path()
                .join(format!("{}-{}", member.name, member.version));
            if unpacked.is_dir() {
                std::fs::remove_dir_all(&unpacked)
                    .map_err(|e| format!("cannot remove {}: {e}", unpacked.display()))?;
            }
        }
    }
    Ok(())
}

/// Runs `cargo ARGS` in the workspace root and returns its standard output.
pub(crate) fn cargo_output(args: &[&str]) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(args)
        .current_dir(crate::ci::root())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| "cargo output is not UTF-8".to_owned())
}

/// `1.95` for `rustc 1.95.0 (...)`.
fn rustc_minor_version() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    minor_version(&text).ok_or_else(|| format!("cannot read the rustc version from {text:?}"))
}

fn minor_version(rustc_version: &str) -> Option<String> {
    let version = rustc_version.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    Some(format!("{major}.{minor}"))
}

/// The workspace members of `cargo metadata --no-deps --format-version 1` output.
pub(crate) fn parse_members(text: &str) -> Result<Vec<Member>, String> {
    let doc = Json::parse(text)?;
    let packages = doc
        .get("packages")
        .and_then(Json::as_array)
        .ok_or("cargo metadata: no packages")?;
    let strings = |p: &Json, key: &str| -> Vec<String> {
        p.get(key)
            .and_then(Json::as_array)
            .unwrap_or_default()
            .iter()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect()
    };
    packages
        .iter()
        .map(|p| {
            let field = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_owned);
            let manifest = field("manifest_path").ok_or("cargo metadata: no manifest_path")?;
            let manifest_dir = Path::new(&manifest)
                .parent()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default();
            // `publish = false` is an empty list of registries; absent (null) is any.
            let publishable =
                !matches!(p.get("publish"), Some(Json::Arr(registries)) if registries.is_empty());
            Ok(Member {
                name: field("name").ok_or("cargo metadata: package without name")?,
                version: field("version").unwrap_or_default(),
                publishable,
                manifest_dir,
                license: field("license"),
                readme: field("readme"),
                keywords: strings(p, "keywords"),
                categories: strings(p, "categories"),
                repository: field("repository"),
                rust_version: field("rust_version"),
                targets: p
                    .get("targets")
                    .and_then(Json::as_array)
                    .unwrap_or_default()
                    .iter()
                    .map(|t| Target {
                        name: t
                            .get("name")
                            .and_then(Json::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        kinds: strings(t, "kind"),
                        src_path: PathBuf::from(
                            t.get("src_path").and_then(Json::as_str).unwrap_or(""),
                        ),
                        test: t.get("test").and_then(Json::as_bool).unwrap_or(false),
                        doctest: t.get("doctest").and_then(Json::as_bool).unwrap_or(false),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// What keeps `member` from being published; `exists` tells whether a file exists.
pub(crate) fn manifest_problems(
    member: &Member,
    rustc_minor: &str,
    exists: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |what: String| problems.push(format!("{}: {what}", member.name));
    let file = |name: &str| format!("{}/{name}", member.manifest_dir);
    if member.license.is_none() {
        problem("no `license`".into());
    }
    match &member.readme {
        None => problem("no `readme`".into()),
        Some(readme) if !exists(&file(readme)) => problem(format!("readme {readme} is missing")),
        Some(_) => {}
    }
    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        if !exists(&file(licence)) {
            problem(format!("{licence} is not beside the manifest"));
        }
    }
    if member.keywords.is_empty() || member.keywords.len() > 5 {
        problem(format!(
            "{} keywords (1 to 5 wanted)",
            member.keywords.len()
        ));
    }
    for keyword in &member.keywords {
        let valid = keyword.len() <= 20
            && keyword.starts_with(|c: char| c.is_ascii_alphabetic())
            && keyword
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            problem(format!("keyword {keyword:?} is not a crates.io keyword"));
        }
    }
    if member.categories.is_empty() {
        problem("no `categories`".into());
    }
    if let Some(repository) = &member.repository {
        problem(format!(
            "`repository` {repository} names no repository of this project"
        ));
    }
    if member.rust_version.as_deref() != Some(rustc_minor) {
        problem(format!(
            "`rust-version` is {:?}, CI builds with {rustc_minor}",
            member.rust_version
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"{"packages":[
        {"name":"ciba-core","version":"0.1.0","publish":null,"manifest_path":"/w/crates/ciba-core/Cargo.toml",
         "license":"MIT OR Apache-2.0","readme":"README.md","keywords":["oidc","ciba"],
         "categories":["authentication"],"repository":null,"rust_version":"1.95"},
        {"name":"xtask","version":"0.0.0","publish":[],"manifest_path":"/w/xtask/Cargo.toml","license":null,
         "readme":null,"keywords":[],"categories":[],"repository":null,"rust_version":null}
    ]}"#;

    #[test]
    fn publish_false_members_are_not_publishable() {
        let members = parse_members(METADATA).unwrap_or_default();
        assert_eq!(members.len(), 2);
        assert!(members.first().is_some_and(|m| m.publishable));
        assert!(members.get(1).is_some_and(|m| !m.publishable));
        assert_eq!(
            members.first().map(|m| m.manifest_dir.as_str()),
            Some("/w/crates/ciba-core")
        );
    }

    #[test]
    fn a_complete_manifest_has_no_problems_and_each_gap_is_named() {
        let members = parse_members(METADATA).unwrap_or_default();
        let Some(core) = members.first() else {
            panic!("no member parsed");
        };
        assert!(manifest_problems(core, "1.95", |_| true).is_empty());

        let mut bad = core.clone();
        bad.repository = Some("https://example.invalid/ciba".into());
        bad.rust_version = Some("1.88".into());
        bad.keywords = vec!["not a keyword".into()];
        bad.categories.clear();
        let problems = manifest_problems(&bad, "1.95", |p| !p.ends_with("LICENSE-MIT"));
        for expected in [
            "repository",
            "rust-version",
            "not a keyword",
            "categories",
            "LICENSE-MIT",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected} not reported in {problems:?}"
            );
        }
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    #[test]
    fn the_minor_version_is_read_from_rustc() {
        assert_eq!(
            minor_version("rustc 1.95.0 (59807616e 2026-04-14)").as_deref(),
            Some("1.95")
        );
        assert_eq!(minor_version("garbage"), None);
    }

    #[test]
    fn only_our_own_unpacked_crates_are_forgotten() {
        let home = std::env::temp_dir().join(format!("xtask-forget-{}", std::process::id()));
        let src = home.join("registry").join("src");
        for dir in [
            "-2f185e7924843a1b/ciba-core-0.1.0/src",
            "index.crates.io-1949cf8c6b5b557f/ciba-core-0.1.0/src",
            "index.crates.io-1949cf8c6b5b557f/serde-1.0.228/src",
            "index.crates.io-1949cf8c6b5b557f/ciba-core-0.0.9/src",
            "-2f185e7924843a1b/xtask-0.0.0/src",
        ] {
            std::fs::create_dir_all(src.join(dir)).unwrap_or_default();
        }
        let members = parse_members(METADATA).unwrap_or_default();
        assert!(forget_unpacked(&home, &members).is_ok());
        let left = |dir: &str| src.join(dir).is_dir();
        assert!(!left("-2f185e7924843a1b/ciba-core-0.1.0"));
        assert!(!left("index.crates.io-1949cf8c6b5b557f/ciba-core-0.1.0"));
        assert!(left("index.crates.io-1949cf8c6b5b557f/serde-1.0.228"));
        assert!(left("index.crates.io-1949cf8c6b5b557f/ciba-core-0.0.9"));
        assert!(
            left("-2f185e7924843a1b/xtask-0.0.0"),
            "not publishable: kept"
        );
        let _ = std::fs::remove_dir_all(&home);
        // No registry yet: nothing to do.
        assert!(forget_unpacked(&home, &members).is_ok());
    }
}
