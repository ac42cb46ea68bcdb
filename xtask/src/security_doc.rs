//! A tidy check: every test docs/security.md names exists, so the conformance matrix cannot
//! point at a test that was renamed or removed.
//!
//! A name is a backquoted path `crate::file::test` (an integration test,
//! `crates/<crate>/tests/it/<file>.rs` or `tests/it/<file>/mod.rs`), `crate::folder::file::test`
//! (an integration test in a folder module, `tests/it/<folder>/<file>.rs`, and so on for
//! deeper folders) or `crate::module::tests::test` (a unit test in
//! `crates/<crate>/src/**/<module>.rs`); `NM::test` and `CM` are the document's aliases for
//! the two negative matrices. Paths to types' items and constants
//! (`ciba_core::Limits::max_body_bytes`) are skipped: a test name is all lowercase; a
//! lowercase path to a function (`ciba_core::wire::ct_eq`) must exist as well.

use std::path::{Path, PathBuf};

use crate::ci::root;

/// Problems found: one line per missing test.
pub(crate) fn check() -> Result<Vec<String>, String> {
    let doc = root().join("docs/security.md");
    let text =
        std::fs::read_to_string(&doc).map_err(|e| format!("cannot read {}: {e}", doc.display()))?;
    let mut problems = Vec::new();
    let mut checked = 0usize;
    for name in test_names(&text) {
        checked += 1;
        match resolve(&root(), &name) {
            Some(files) if files.iter().any(|f| defines(f, leaf(&name))) => {}
            _ => problems.push(format!("docs/security.md names a missing test: {name}")),
        }
    }
    if checked == 0 {
        problems.push("docs/security.md names no test at all".to_owned());
    }
    Ok(problems)
}

/// The backquoted test paths of `text`, aliases expanded, each once.
fn test_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (i, chunk) in text.split('`').enumerate() {
        // Odd chunks are inside backquotes.
        if i % 2 == 0 {
            continue;
        }
        let expanded = if let Some(rest) = chunk.strip_prefix("NM::") {
            format!("ciba_server::negative_matrix::{rest}")
        } else {
            chunk.to_owned()
        };
        if is_test_path(&expanded) && !names.contains(&expanded) {
            names.push(expanded);
        }
    }
    names
}

fn is_test_path(s: &str) -> bool {
    let parts: Vec<&str> = s.split("::").collect();
    parts.len() >= 3
        && parts.first().is_some_and(|p| p.starts_with("ciba_"))
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

fn leaf(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// The files that may define `name`.
fn resolve(root: &Path, name: &str) -> Option<Vec<PathBuf>> {
    let parts: Vec<&str> = name.split("::").collect();
    let krate = parts.first()?.replace('_', "-");
    let base = root.join("crates").join(krate);
    let module = parts.get(1)?;
    // Each crate's integration tests are one binary: a module per file in tests/it, and a
    // folder module's files below its folder.
    if let Some(file) = integration_module(&base.join("tests/it"), parts.get(1..parts.len() - 1)?) {
        return Some(vec![file]);
    }
    // crate::module::tests::name: a unit test in src/**/module.rs or src/**/module/mod.rs
    // (and crate::module::function, an API function the document names).
    let mut found = Vec::new();
    collect(&base.join("src"), module, &mut found);
    Some(found)
}

/// The file of the integration-test module `path` (`a`, or `a::b` for the module `b` of the
/// folder module `a`): `a.rs` or `a/mod.rs` below `it`, `a/b.rs` or `a/b/mod.rs`.
fn integration_module(it: &Path, path: &[&str]) -> Option<PathBuf> {
    let (last, folders) = path.split_last()?;
    let dir = folders.iter().fold(it.to_path_buf(), |dir, f| dir.join(f));
    [
        dir.join(format!("{last}.rs")),
        dir.join(last).join("mod.rs"),
    ]
    .into_iter()
    .find(|f| f.is_file())
}

fn collect(dir: &Path, module: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == module) {
                found.push(path.join("mod.rs"));
            }
            collect(&path, module, found);
        } else if path.file_stem().is_some_and(|s| s == module) {
            found.push(path);
        }
    }
}

/// Whether `file` defines `test` as a test: a function under `#[test]` (or an attribute that
/// makes one, such as `#[tokio::test]`; proptest's `proptest!` blocks carry `#[test]` too), or
/// a generic scenario (`async fn name<A: Adapter>(a: A)`) that a macro in the same file turns
/// into one test per transport or setup (`on_both_transports!(name, ...)`). A helper or an API function
/// of the same name does not count.
fn defines(file: &Path, test: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    is_test_in(&text, test)
}

fn is_test_in(text: &str, test: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(after) = line.split("fn ").nth(1) else {
            continue;
        };
        let named = after
            .strip_prefix(test)
            .is_some_and(|rest| rest.starts_with('(') || rest.starts_with('<'));
        if !named || line.trim_start().starts_with("//") {
            continue;
        }
        // The attributes and doc comments right above the function.
        let above = lines
            .get(..i)
            .unwrap_or_default()
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| {
                l.starts_with("#[")
                    || l.starts_with("///")
                    || l.starts_with("//")
                    || l.ends_with(")]")
            });
        if above.into_iter().any(is_test_attribute) {
            return true;
        }
        if generated_per_transport(text, test) {
            return true;
        }
    }
    false
}

fn is_test_attribute(line: &str) -> bool {
    line == "#[test]" || line.starts_with("#[tokio::test")
}

/// Whether a macro invoked at the top level of `text` (`on_both_transports!(`, `suite!(`,
/// `on_every_setup!(`: each makes one test per transport or store setup) names `test`.
fn generated_per_transport(text: &str, test: &str) -> bool {
    let mut inside = false;
    for line in text.lines() {
        if !inside {
            let head = line.split("!(").next().unwrap_or_default();
            inside = line.ends_with("!(")
                && !head.is_empty()
                && head.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            continue;
        }
        if line.starts_with(')') {
            inside = false;
            continue;
        }
        if line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == test)
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths_are_told_from_api_paths() {
        let names = test_names(
            "a `ciba_core::ack::unknown_members_are_ignored` b `ciba_core::Limits::max_body_bytes` \
             c `NM::some_row_test` d `ciba_hyper::DEFAULT_TIMEOUT` e `ciba_core::ack::unknown_members_are_ignored`",
        );
        assert_eq!(
            names,
            [
                "ciba_core::ack::unknown_members_are_ignored",
                "ciba_server::negative_matrix::some_row_test"
            ]
        );
    }

    #[test]
    fn every_test_named_by_the_security_document_exists() {
        let problems = check().unwrap_or_else(|e| vec![e]);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn a_helper_or_an_api_function_is_not_a_test() {
        let text = "fn helper() {}\n\n#[test]\nfn real() {}\n\n/// Doc.\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn real_async() {}\n\
                    proptest! {\n    #[test]\n    fn property(x in 0u8..) {}\n}\n\
                    async fn scenario<A: Adapter>(a: A) {}\nasync fn other<A: Adapter>(a: A) {}\n\
                    on_both_transports!(\n    scenario,\n);\n\
                    fn body() { assert!(\n        other_helper(),\n    ); }\n";
        assert!(!is_test_in(text, "helper"));
        assert!(is_test_in(text, "real"));
        assert!(is_test_in(text, "real_async"));
        assert!(is_test_in(text, "property"));
        assert!(is_test_in(text, "scenario"));
        // A function no macro turns into tests, and a prefix of a name, are not tests.
        assert!(!is_test_in(text, "other"));
        assert!(!is_test_in(text, "rea"));
        // A call inside an indented macro (an assertion) does not make a test.
        assert!(!is_test_in(text, "other_helper"));
    }

    #[test]
    fn tests_of_folder_modules_are_found_in_their_files() {
        let root = root();
        let it = root.join("crates/ciba-server/tests/it");
        let nested = "ciba_server::negative_matrix::token::token_endpoint_defects_get_their_section_11_answers";
        let files = resolve(&root, nested).unwrap_or_default();
        assert_eq!(files, [it.join("negative_matrix/token.rs")]);
        assert!(files.iter().any(|f| defines(f, leaf(nested))));
        // A test of the folder module itself lives in its mod.rs.
        let top = "ciba_server::negative_matrix::the_matrix_covers_every_area";
        let files = resolve(&root, top).unwrap_or_default();
        assert_eq!(files, [it.join("negative_matrix/mod.rs")]);
        assert!(files.iter().any(|f| defines(f, leaf(top))));
        // A test cited at the folder while it lives in one of the folder's files is missing.
        let misplaced =
            "ciba_server::negative_matrix::token_endpoint_defects_get_their_section_11_answers";
        let files = resolve(&root, misplaced).unwrap_or_default();
        assert!(!files.iter().any(|f| defines(f, leaf(misplaced))));
    }

    #[test]
    fn a_renamed_test_is_reported() {
        let root = root();
        let missing = "ciba_core::ack::no_such_test_exists_here";
        let files = resolve(&root, missing).unwrap_or_default();
        assert_eq!(files, [root.join("crates/ciba-core/tests/it/ack.rs")]);
        assert!(!files.iter().any(|f| defines(f, leaf(missing))));
        assert!(
            files
                .iter()
                .any(|f| defines(f, "unknown_members_are_ignored"))
        );
    }
}
