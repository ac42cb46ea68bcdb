//! The test-binary rule: every crate's tests build into at most two binaries, its integration
//! tests (`tests/it`) and its doctests, because each extra binary is another compile of the
//! crate and another link of its whole dependency tree. ciba-bench's programs carry their own
//! small tests and are exempt. A target built without tests (`test = false`) must hold no
//! `#[cfg(test)]` code: those tests would never run.

use std::path::{Path, PathBuf};

use crate::package::{Target, cargo_output, parse_members};

/// Most test binaries a crate may build.
const MAX_TEST_BINARIES: usize = 2;

/// Crates exempt from the count (their programs keep their own tests).
const EXEMPT: &[&str] = &["ciba-bench"];

/// The problems of the workspace, read from `cargo metadata --no-deps`.
pub(crate) fn check() -> Result<Vec<String>, String> {
    let text = cargo_output(&["metadata", "--no-deps", "--format-version", "1", "--locked"])?;
    let mut problems = Vec::new();
    for member in parse_members(&text)? {
        let package = &member.name;
        problems.extend(too_many(package, &member.targets));
        for target in member.targets.iter().filter(|t| !t.test) {
            for path in sources(target) {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if text.contains("#[cfg(test)]") {
                    problems.push(format!(
                        "{}: `#[cfg(test)]` code in target `{}` of {package}, which builds \
                         no tests (`test = false`): move the tests to tests/it",
                        path.display(),
                        target.name
                    ));
                }
            }
        }
    }
    Ok(problems)
}

/// The test binaries `cargo test` builds for one crate: a unit-test binary for each library
/// or program target with tests, one per integration test, and the library's doctests.
fn test_binaries(targets: &[Target]) -> Vec<String> {
    let mut out = Vec::new();
    for t in targets {
        let is = |k: &str| t.kinds.iter().any(|kind| kind == k);
        if is("test") || (t.test && (is("lib") || is("bin") || is("rlib"))) {
            out.push(format!("{} ({})", t.name, t.kinds.join(",")));
        }
        if t.doctest && (is("lib") || is("rlib")) {
            out.push(format!("{} (doctests)", t.name));
        }
    }
    out
}

fn too_many(package: &str, targets: &[Target]) -> Option<String> {
    let binaries = test_binaries(targets);
    (!EXEMPT.contains(&package) && binaries.len() > MAX_TEST_BINARIES).then(|| {
        format!(
            "{package} builds {} test binaries (at most {MAX_TEST_BINARIES}: tests/it and the \
             doctests): {}",
            binaries.len(),
            binaries.join(", ")
        )
    })
}

/// The source files of a target: a library's whole `src/` except its programs, or a program's
/// own file.
fn sources(target: &Target) -> Vec<PathBuf> {
    let is_lib = target.kinds.iter().any(|k| k == "lib" || k == "rlib");
    if !is_lib {
        return vec![target.src_path.clone()];
    }
    let Some(src) = target.src_path.parent() else {
        return Vec::new();
    };
    let mut files = Vec::new();
    collect(src, &mut files);
    files.retain(|f| !f.starts_with(src.join("bin")) && f.as_path() != src.join("main.rs"));
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, kind: &str, test: bool, doctest: bool) -> Target {
        Target {
            name: name.to_owned(),
            kinds: vec![kind.to_owned()],
            src_path: PathBuf::from(format!("/x/src/{name}.rs")),
            test,
            doctest,
        }
    }

    #[test]
    fn a_unit_test_binary_beside_it_and_the_doctests_is_one_too_many() {
        let three = [
            target("core", "lib", true, true),
            target("it", "test", true, false),
        ];
        let problem = too_many("ciba-core", &three).unwrap_or_default();
        assert!(problem.contains("builds 3 test binaries"), "{problem}");
        let two = [
            target("core", "lib", false, true),
            target("it", "test", true, false),
        ];
        assert_eq!(too_many("ciba-core", &two), None);
        assert_eq!(too_many("ciba-bench", &three), None);
    }

    #[test]
    fn programs_without_tests_build_no_test_binary() {
        let targets = [
            target("ciba", "bin", true, false),
            target("tool", "bin", false, false),
            target("it", "test", true, false),
        ];
        assert_eq!(test_binaries(&targets).len(), 2);
    }

    #[test]
    fn the_workspace_keeps_the_rule() {
        let problems = check().unwrap_or_else(|e| vec![e]);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn targets_are_read_from_cargo_metadata() {
        let text = r#"{"packages":[{"name":"a","manifest_path":"/w/a/Cargo.toml","targets":[
            {"name":"a","kind":["lib"],"src_path":"/w/a/src/lib.rs","test":false,"doctest":true},
            {"name":"it","kind":["test"],"src_path":"/w/a/tests/it/main.rs","test":true,"doctest":false}
        ]}]}"#;
        let members = parse_members(text).unwrap_or_default();
        assert_eq!(members.len(), 1);
        let targets = &members[0].targets;
        assert_eq!(
            targets[0],
            Target {
                name: "a".into(),
                kinds: vec!["lib".into()],
                src_path: "/w/a/src/lib.rs".into(),
                test: false,
                doctest: true,
            }
        );
        assert_eq!(test_binaries(targets), ["a (doctests)", "it (test)"]);
    }
}
