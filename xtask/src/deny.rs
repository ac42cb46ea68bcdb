//! `cargo xtask deny`: dependency-free checks in the spirit of `cargo deny`, with no advisory
//! database or other download of their own.
//!
//! Reads `cargo metadata --format-version 1 --locked` and checks (metadata covers every
//! target platform, so Cargo may first fetch the manifests of platform-specific packages a
//! host build never needed, from the registry it already uses):
//!
//! - **licenses**: every non-workspace package's SPDX expression must be satisfiable with the
//!   licenses in [`ALLOWED_LICENSES`] (`OR` needs one allowed side, `AND` both; the legacy `/`
//!   separator counts as `OR`). A missing license is an error. Fails the command.
//! - **bans**: no package in [`BANNED`] may be reachable through normal or build
//!   dependencies of the crates it is banned for. Fails the command.
//! - **duplicates**: packages present in more than one version are reported. Those listed in
//!   [`KNOWN_DUPLICATES`] are printed as notes, others as warnings; duplicates never fail the
//!   command (a new one is a prompt to look, not necessarily a defect).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::json::Json;

/// Licenses (SPDX identifiers, `WITH` exceptions spelled out) a dependency may be used under.
const ALLOWED_LICENSES: &[&str] = &[
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "BSL-1.0",
    "CC0-1.0",
    "Unlicense",
    "CDLA-Permissive-2.0",
];

/// Packages that must not be reachable (normal or build dependencies) from the named crates.
/// `"*"` means every workspace member.
const BANNED: &[(&str, &[&str])] = &[
    // The sans-I/O crates must not drag in a C TLS stack (or any TLS stack at all).
    ("openssl-sys", &["ciba-core", "ciba-server"]),
    ("openssl", &["ciba-core", "ciba-server"]),
    ("native-tls", &["ciba-core", "ciba-server"]),
    ("rustls", &["ciba-core", "ciba-server"]),
    // Unmaintained or superseded crates nobody should add back.
    ("failure", &["*"]),
    ("chrono-tz", &["*"]),
    ("atty", &["*"]),
];

/// Packages known to be present in several versions, and why that is accepted.
const KNOWN_DUPLICATES: &[(&str, &str)] = &[
    (
        "base64",
        "ciba-core/jsonwebtoken use 0.22, hyper-util (transports) 0.23",
    ),
    (
        "getrandom",
        "jsonwebtoken 0.2, ciba-core 0.3, cc's jobserver 0.4 (build only)",
    ),
    (
        "r-efi",
        "getrandom 0.3 and 0.4 (UEFI only, never built here)",
    ),
    (
        "cpufeatures",
        "0.2 under the RustCrypto AES/SHA-2 crates of ciba-core's JWE (feature jwe), 0.3 elsewhere",
    ),
    (
        "rand",
        "0.8 under rsa's num-bigint-dig (ciba-core's JWE, feature jwe), proptest on 0.10",
    ),
    (
        "rand_core",
        "0.6 for the rsa and p256 crates (ciba-core's JWE, feature jwe); proptest on 0.10",
    ),
    (
        "syn",
        "clap_derive moved to syn 3, other proc macros are on syn 2",
    ),
    (
        "untrusted",
        "aws-lc-rs (jsonwebtoken) 0.7, rustls-webpki 0.9",
    ),
    ("windows-sys", "Windows-only, never built here"),
];

/// One package of the dependency graph.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Package {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) license: Option<String>,
    /// Whether the package is a workspace member (its own license is not checked).
    pub(crate) member: bool,
}

/// What `cargo metadata` says, reduced to what the checks need.
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) packages: Vec<Package>,
    /// Package id → ids of its normal and build dependencies (dev-dependencies left out).
    pub(crate) edges: BTreeMap<String, Vec<String>>,
}

/// Findings of one run.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Report {
    pub(crate) errors: Vec<String>,
    pub(crate) warnings: Vec<String>,
    pub(crate) notes: Vec<String>,
}

pub(crate) fn run() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(crate::ci::root())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| "cargo metadata: not UTF-8")?;
    let metadata = parse_metadata(&text)?;
    let report = check(&metadata);
    for n in &report.notes {
        println!("deny: note: {n}");
    }
    for w in &report.warnings {
        println!("deny: warning: {w}");
    }
    for e in &report.errors {
        println!("deny: error: {e}");
    }
    println!(
        "deny: {} packages, {} errors, {} warnings",
        metadata.packages.len(),
        report.errors.len(),
        report.warnings.len()
    );
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(format!("deny: {} error(s)", report.errors.len()))
    }
}

/// Parses the output of `cargo metadata --format-version 1`.
pub(crate) fn parse_metadata(text: &str) -> Result<Metadata, String> {
    let doc = Json::parse(text)?;
    let members: BTreeSet<&str> = doc
        .get("workspace_members")
        .and_then(Json::as_array)
        .ok_or("cargo metadata: no workspace_members")?
        .iter()
        .filter_map(Json::as_str)
        .collect();
    let mut packages = Vec::new();
    for p in doc
        .get("packages")
        .and_then(Json::as_array)
        .ok_or("cargo metadata: no packages")?
    {
        let field = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_owned);
        let id = field("id").ok_or("cargo metadata: package without id")?;
        packages.push(Package {
            member: members.contains(id.as_str()),
            name: field("name").ok_or("cargo metadata: package without name")?,
            version: field("version").ok_or("cargo metadata: package without version")?,
            license: field("license"),
            id,
        });
    }
    let mut edges = BTreeMap::new();
    let nodes = doc
        .get("resolve")
        .and_then(|r| r.get("nodes"))
        .and_then(Json::as_array)
        .unwrap_or_default();
    for node in nodes {
        let Some(id) = node.get("id").and_then(Json::as_str) else {
            continue;
        };
        let mut deps = Vec::new();
        for dep in node
            .get("deps")
            .and_then(Json::as_array)
            .unwrap_or_default()
        {
            let Some(pkg) = dep.get("pkg").and_then(Json::as_str) else {
                continue;
            };
            let kinds = dep
                .get("dep_kinds")
                .and_then(Json::as_array)
                .unwrap_or_default();
            // `kind` is null for normal dependencies, "build" or "dev" otherwise.
            let used = kinds.is_empty()
                || kinds
                    .iter()
                    .any(|k| !matches!(k.get("kind").and_then(Json::as_str), Some("dev")));
            if used {
                deps.push(pkg.to_owned());
            }
        }
        edges.insert(id.to_owned(), deps);
    }
    Ok(Metadata { packages, edges })
}

/// Runs every check with the project's lists.
pub(crate) fn check(m: &Metadata) -> Report {
    check_with(m, ALLOWED_LICENSES, BANNED, KNOWN_DUPLICATES)
}

fn check_with(
    m: &Metadata,
    allowed: &[&str],
    banned: &[(&str, &[&str])],
    known_duplicates: &[(&str, &str)],
) -> Report {
    let mut report = Report::default();
    for p in m.packages.iter().filter(|p| !p.member) {
        match &p.license {
            None => report.errors.push(format!(
                "{} {}: no license in its manifest",
                p.name, p.version
            )),
            Some(expr) => match license_allowed(expr, allowed) {
                Ok(true) => {}
                Ok(false) => report.errors.push(format!(
                    "{} {}: license {expr:?} is not satisfiable with the allow-list",
                    p.name, p.version
                )),
                Err(e) => report.errors.push(format!(
                    "{} {}: unparsable license {expr:?}: {e}",
                    p.name, p.version
                )),
            },
        }
    }

    for (ban, roots) in banned {
        for root in m.packages.iter().filter(|p| p.member) {
            if !roots.contains(&"*") && !roots.contains(&root.name.as_str()) {
                continue;
            }
            let reach = reachable(m, &root.id);
            if m.packages
                .iter()
                .any(|p| p.name == *ban && reach.contains(p.id.as_str()))
            {
                report
                    .errors
                    .push(format!("{}: depends on banned crate {ban}", root.name));
            }
        }
    }

    let mut versions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in &m.packages {
        versions.entry(&p.name).or_default().insert(&p.version);
    }
    for (name, vs) in versions.iter().filter(|(_, vs)| vs.len() > 1) {
        let list = vs.iter().copied().collect::<Vec<_>>().join(", ");
        match known_duplicates.iter().find(|(n, _)| n == name) {
            Some((_, why)) => report
                .notes
                .push(format!("{name} in versions {list} (known: {why})")),
            None => report.warnings.push(format!(
                "{name} in versions {list} (not in KNOWN_DUPLICATES)"
            )),
        }
    }
    for (name, _) in known_duplicates {
        if versions.get(name).is_none_or(|vs| vs.len() < 2) {
            report.notes.push(format!(
                "{name} is no longer duplicated; drop it from KNOWN_DUPLICATES"
            ));
        }
    }
    report
}

/// Ids of every package reachable from `root` (itself included).
fn reachable<'m>(m: &'m Metadata, root: &'m str) -> BTreeSet<&'m str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(deps) = m.edges.get(id) {
            stack.extend(deps.iter().map(String::as_str));
        }
    }
    seen
}

/// Whether the SPDX expression `expr` can be satisfied using only `allowed` licenses.
pub(crate) fn license_allowed(expr: &str, allowed: &[&str]) -> Result<bool, String> {
    let spaced = expr.replace('(', " ( ").replace(')', " ) ");
    let mut tokens: Vec<&str> = Vec::new();
    for t in spaced.split_whitespace() {
        // Legacy `MIT/Apache-2.0` means `MIT OR Apache-2.0`.
        let mut parts = t.split('/').peekable();
        while let Some(part) = parts.next() {
            if !part.is_empty() {
                tokens.push(part);
            }
            if parts.peek().is_some() {
                tokens.push("OR");
            }
        }
    }
    let mut p = SpdxParser {
        tokens,
        i: 0,
        allowed,
    };
    let v = p.or()?;
    if let Some(extra) = p.peek() {
        return Err(format!("unexpected {extra:?}"));
    }
    Ok(v)
}

struct SpdxParser<'a> {
    tokens: Vec<&'a str>,
    i: usize,
    allowed: &'a [&'a str],
}

impl<'a> SpdxParser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.i).copied()
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.peek() == Some("OR") {
            self.i += 1;
            // Evaluate both sides so syntax errors are always found.
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.atom()?;
        while self.peek() == Some("AND") {
            self.i += 1;
            let r = self.atom()?;
            v = v && r;
        }
        Ok(v)
    }

    fn atom(&mut self) -> Result<bool, String> {
        match self.peek() {
            Some("(") => {
                self.i += 1;
                let v = self.or()?;
                if self.peek() != Some(")") {
                    return Err("unbalanced parenthesis".to_owned());
                }
                self.i += 1;
                Ok(v)
            }
            Some(id) if !matches!(id, ")" | "AND" | "OR" | "WITH") => {
                self.i += 1;
                let mut name = id.trim_end_matches('+').to_owned();
                if self.peek() == Some("WITH") {
                    self.i += 1;
                    let exception = self.peek().ok_or("WITH without an exception")?;
                    self.i += 1;
                    name = format!("{name} WITH {exception}");
                }
                Ok(self.allowed.contains(&name.as_str()))
            }
            Some(other) => Err(format!("unexpected {other:?}")),
            None => Err("unexpected end".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: &[&str] = &["MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "ISC"];

    #[test]
    fn spdx_expressions_are_evaluated() {
        let ok = |e: &str| license_allowed(e, ALLOW).unwrap();
        assert!(ok("MIT"));
        assert!(ok("MIT OR Apache-2.0"));
        assert!(ok("MIT/Apache-2.0"));
        assert!(ok("Apache-2.0 / MIT"));
        assert!(ok("GPL-3.0 OR MIT"));
        assert!(!ok("GPL-3.0"));
        assert!(!ok("MIT AND GPL-3.0"));
        assert!(ok("ISC AND (Apache-2.0 OR ISC)"));
        assert!(!ok("(MIT OR Apache-2.0) AND Unicode-3.0"));
        assert!(ok("Apache-2.0 WITH LLVM-exception OR GPL-2.0"));
        assert!(!ok("GPL-2.0 WITH Classpath-exception-2.0"));
        assert!(ok("Apache-2.0+"));
    }

    #[test]
    fn malformed_spdx_expressions_are_errors() {
        for bad in ["", "MIT OR", "(MIT", "MIT)", "AND MIT", "MIT WITH"] {
            assert!(license_allowed(bad, ALLOW).is_err(), "{bad:?}");
        }
    }

    const SAMPLE: &str = r#"{
      "packages": [
        {"id": "path+file:///w/core#0.1.0", "name": "core", "version": "0.1.0", "license": "MIT"},
        {"id": "path+file:///w/tool#0.1.0", "name": "tool", "version": "0.1.0", "license": null},
        {"id": "reg#a@1.0.0", "name": "a", "version": "1.0.0", "license": "MIT OR Apache-2.0"},
        {"id": "reg#a@2.0.0", "name": "a", "version": "2.0.0", "license": "MIT"},
        {"id": "reg#b@1.0.0", "name": "b", "version": "1.0.0", "license": "GPL-3.0"},
        {"id": "reg#openssl-sys@0.9.0", "name": "openssl-sys", "version": "0.9.0", "license": "MIT"},
        {"id": "reg#c@1.0.0", "name": "c", "version": "1.0.0", "license": null}
      ],
      "workspace_members": ["path+file:///w/core#0.1.0", "path+file:///w/tool#0.1.0"],
      "resolve": {"nodes": [
        {"id": "path+file:///w/core#0.1.0", "deps": [
          {"name": "a", "pkg": "reg#a@1.0.0", "dep_kinds": [{"kind": null, "target": null}]},
          {"name": "openssl_sys", "pkg": "reg#openssl-sys@0.9.0", "dep_kinds": [{"kind": "dev", "target": null}]}
        ]},
        {"id": "path+file:///w/tool#0.1.0", "deps": [
          {"name": "a", "pkg": "reg#a@2.0.0", "dep_kinds": [{"kind": "build", "target": null}]}
        ]},
        {"id": "reg#a@2.0.0", "deps": [
          {"name": "openssl_sys", "pkg": "reg#openssl-sys@0.9.0", "dep_kinds": [{"kind": null, "target": null}]}
        ]}
      ]}
    }"#;

    #[test]
    fn metadata_is_parsed_without_dev_dependency_edges() {
        let m = parse_metadata(SAMPLE).unwrap();
        assert_eq!(m.packages.len(), 7);
        assert!(m.packages[0].member && m.packages[1].member && !m.packages[2].member);
        assert_eq!(m.packages[1].license, None);
        assert_eq!(m.edges["path+file:///w/core#0.1.0"], vec!["reg#a@1.0.0"]);
        assert_eq!(m.edges["path+file:///w/tool#0.1.0"], vec!["reg#a@2.0.0"]);
        assert!(parse_metadata("[]").is_err());
        assert!(parse_metadata("{").is_err());
    }

    #[test]
    fn checks_find_licenses_bans_and_duplicates() {
        let m = parse_metadata(SAMPLE).unwrap();
        let bans: &[(&str, &[&str])] = &[("openssl-sys", &["core", "tool"])];
        let r = check_with(&m, &["MIT"], bans, &[]);
        // Workspace members without a license are fine; dependencies are not.
        assert!(r.errors.iter().any(|e| e.starts_with("b 1.0.0: license")));
        assert!(
            r.errors
                .iter()
                .any(|e| e.starts_with("c 1.0.0: no license"))
        );
        assert!(!r.errors.iter().any(|e| e.starts_with("tool 0.1.0")));
        // openssl-sys is reached from `tool` through a build dependency, but from `core`
        // only through a dev-dependency.
        assert!(
            r.errors
                .contains(&"tool: depends on banned crate openssl-sys".to_owned())
        );
        assert!(!r.errors.iter().any(|e| e.starts_with("core:")));
        assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
        assert_eq!(
            r.warnings,
            vec!["a in versions 1.0.0, 2.0.0 (not in KNOWN_DUPLICATES)".to_owned()]
        );

        let r = check_with(&m, &["MIT", "GPL-3.0"], &[], &[("a", "why"), ("gone", "x")]);
        assert_eq!(
            r.errors,
            vec!["c 1.0.0: no license in its manifest".to_owned()]
        );
        assert!(r.warnings.is_empty());
        assert!(r.notes.iter().any(|n| n.contains("known: why")));
        assert!(r.notes.iter().any(|n| n.starts_with("gone is no longer")));
    }

    #[test]
    fn the_workspace_passes_its_own_deny_checks() {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(crate::ci::root())
            .output()
            .expect("cargo metadata runs");
        assert!(out.status.success());
        let m = parse_metadata(&String::from_utf8(out.stdout).unwrap()).unwrap();
        let r = check(&m);
        assert!(r.errors.is_empty(), "{:#?}", r.errors);
    }
}
