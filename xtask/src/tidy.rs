//! Tidy checks: project rules that are cheaper to check mechanically than to review.
//!
//! - The sans-I/O crates (ciba-core, ciba-server) never depend on a runtime or an HTTP stack.
//! - ciba-client never depends on reqwest, hyper or ciba-server: it is generic over its send
//!   trait, and the transports are its adapters.
//! - Their library code never reads the clock or sleeps, and carries no `todo!`/`unimplemented!`.
//! - Every test docs/security.md names exists (xtask/src/security_doc.rs).
//! - Every crate builds at most two test binaries, and no target built without tests holds
//!   test code (xtask/src/test_binaries.rs).
//!
//! `cargo xtask tidy` runs them; they are also ordinary `#[test]`s of this crate, so
//! `cargo test --workspace` enforces them too.

use std::path::Path;
use std::process::Command;

/// Crates that must stay free of I/O stacks.
const SANS_IO_CRATES: &[&str] = &["ciba-core", "ciba-server"];

/// Package names that must never appear in the dependency tree of a sans-I/O crate.
const FORBIDDEN_DEPS: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "mio",
    "reqwest",
    "hyper",
    "hyper-util",
    "h2",
    "ureq",
    "isahc",
    "curl",
    "surf",
    "actix-web",
    "axum",
    "tower",
];

/// Packages that must never appear in the (normal) dependency tree of a crate: ciba-client
/// stays generic over its send trait (ARCHITECTURE.md's table).
const FORBIDDEN_TREE: &[(&str, &[&str])] = &[(
    "ciba-client",
    &["reqwest", "hyper", "hyper-util", "ciba-server"],
)];

/// Direct dependencies a transport crate must not take (ARCHITECTURE.md's table). The
/// transports may depend on ciba-client: they are its adapters.
const FORBIDDEN_DIRECT: &[(&str, &[&str])] = &[
    ("ciba-reqwest", &["hyper", "hyper-util", "ciba-server"]),
    ("ciba-hyper", &["reqwest"]),
    ("ciba-redis", &["reqwest", "hyper", "hyper-util"]),
];

/// Source fragments that must not appear in the library code of a sans-I/O crate.
const FORBIDDEN_CALLS: &[&str] = &[
    "SystemTime::now(",
    "Instant::now(",
    "thread::sleep(",
    "std::thread::spawn(",
    "todo!(",
    "unimplemented!(",
];

pub(crate) fn run() -> Result<(), String> {
    println!("\n==> tidy");
    let mut problems = Vec::new();
    for krate in SANS_IO_CRATES {
        problems.extend(forbidden_dependencies(krate)?);
        problems.extend(forbidden_calls(krate)?);
    }
    for (krate, banned) in FORBIDDEN_TREE {
        problems.extend(forbidden_tree_dependencies(krate, banned)?);
    }
    for (krate, banned) in FORBIDDEN_DIRECT {
        problems.extend(forbidden_direct_dependencies(krate, banned)?);
    }
    problems.extend(crate::security_doc::check()?);
    problems.extend(crate::test_binaries::check()?);
    if problems.is_empty() {
        println!("<== tidy: ok");
        Ok(())
    } else {
        Err(format!("tidy found problems:\n  {}", problems.join("\n  ")))
    }
}

/// Package names in the normal (non-dev) dependency tree of `krate`, all features on.
fn dependency_names(krate: &str) -> Result<Vec<String>, String> {
    tree(krate, None)
}

fn forbidden_tree_dependencies(krate: &str, banned: &[&str]) -> Result<Vec<String>, String> {
    let names = dependency_names(krate)?;
    Ok(names
        .iter()
        .filter(|n| banned.contains(&n.as_str()))
        .map(|n| format!("{krate} depends on {n}"))
        .collect())
}

fn forbidden_direct_dependencies(krate: &str, banned: &[&str]) -> Result<Vec<String>, String> {
    let names = tree(krate, Some(1))?;
    Ok(names
        .iter()
        .filter(|n| banned.contains(&n.as_str()))
        .map(|n| format!("{krate} depends directly on {n}"))
        .collect())
}

/// `cargo tree` package names for `krate` (normal and build edges), down to `depth` if given.
fn tree(krate: &str, depth: Option<u32>) -> Result<Vec<String>, String> {
    let depth = depth.map(|d| d.to_string());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            krate,
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--all-features",
        ])
        .args(depth.iter().flat_map(|d| ["--depth", d.as_str()]))
        .current_dir(crate::ci::root())
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree -p {krate} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect())
}

fn forbidden_dependencies(krate: &str) -> Result<Vec<String>, String> {
    let names = dependency_names(krate)?;
    Ok(names
        .iter()
        .filter(|n| FORBIDDEN_DEPS.contains(&n.as_str()))
        .map(|n| format!("{krate} depends on {n}, an I/O stack"))
        .collect())
}

fn forbidden_calls(krate: &str) -> Result<Vec<String>, String> {
    let src = crate::ci::root().join("crates").join(krate).join("src");
    let mut problems = Vec::new();
    visit(&src, &mut |path, text| {
        // Unit tests at the bottom of a file may use anything.
        let lib_part = text.split("#[cfg(test)]").next().unwrap_or(text);
        for call in FORBIDDEN_CALLS {
            for (i, line) in lib_part.lines().enumerate() {
                let code = line.split("//").next().unwrap_or(line);
                if code.contains(call) {
                    problems.push(format!("{}:{}: {call}", path.display(), i + 1));
                }
            }
        }
    })
    .map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    Ok(problems)
}

fn visit(dir: &Path, f: &mut dyn FnMut(&Path, &str)) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            visit(&path, f)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)?;
            f(&path, &text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sans_io_crates_have_no_runtime_or_http_dependency() {
        for krate in SANS_IO_CRATES {
            let names = dependency_names(krate).unwrap_or_default();
            assert!(
                names.iter().any(|n| n == krate),
                "cargo tree did not list {krate} itself"
            );
            let bad = forbidden_dependencies(krate).unwrap_or_else(|e| vec![e]);
            assert!(bad.is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn transports_keep_to_their_own_stack() {
        for (krate, banned) in FORBIDDEN_DIRECT {
            let direct = tree(krate, Some(1)).unwrap_or_default();
            assert!(
                direct.iter().any(|n| n == "ciba-core"),
                "{krate}: {direct:?}"
            );
            let bad = forbidden_direct_dependencies(krate, banned).unwrap_or_else(|e| vec![e]);
            assert!(bad.is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn the_client_layer_stays_generic_over_its_send_trait() {
        for (krate, banned) in FORBIDDEN_TREE {
            let names = dependency_names(krate).unwrap_or_default();
            assert!(names.iter().any(|n| n == "ciba-core"), "{krate}: {names:?}");
            let bad = forbidden_tree_dependencies(krate, banned).unwrap_or_else(|e| vec![e]);
            assert!(bad.is_empty(), "{bad:?}");
        }
        // The adapters do use it.
        for krate in ["ciba-reqwest", "ciba-hyper"] {
            let direct = tree(krate, Some(1)).unwrap_or_default();
            assert!(
                direct.iter().any(|n| n == "ciba-client"),
                "{krate}: {direct:?}"
            );
        }
    }

    #[test]
    fn sans_io_library_code_reads_no_clock_and_has_no_placeholders() {
        for krate in SANS_IO_CRATES {
            let bad = forbidden_calls(krate).unwrap_or_else(|e| vec![e]);
            assert!(bad.is_empty(), "{bad:?}");
        }
    }
}
