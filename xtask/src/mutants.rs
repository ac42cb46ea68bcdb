//! `cargo xtask mutants [--iterate] [--group NAME]...`: mutation testing of the security-critical
//! files with cargo-mutants, and docs/mutation.md from the outcome.
//!
//! cargo-mutants changes one expression at a time (a comparison inverted, a function body
//! replaced by a default value, a match arm deleted) and runs the package's tests against each
//! change. A mutant no test notices is a behaviour no test pins down. The files examined are
//! the ones where an unnoticed change is a security hole: ID token and JOSE validation, DPoP,
//! client authentication on both sides, the backchannel and token endpoints, notifications and
//! the poll state machine ([`GROUPS`]).
//!
//! The run is long (every mutant is a build and a test run: an hour or more on two cores), so
//! it is not part of `cargo xtask ci`. It works in place (cargo-mutants restores each file after
//! its mutant; the builds go to `target/mutants/build`, without debug information, so each
//! mutant costs an incremental compile and a link), which is why it refuses to start on a tree with
//! uncommitted changes: should it be killed half-way, `git checkout -- crates` restores the
//! sources. Doctests are not run (`--tests`): they document, the unit and integration tests
//! prove. Proptests run 32 cases per property for the mutants (`PROPTEST_CASES`), and the race
//! stress test of ciba-server 50 rounds (`CIBA_STRESS_ROUNDS`).
//!
//! Results go to `target/mutants/<group>/mutants.out/` (cargo-mutants' own layout); `--iterate`
//! retests only the mutants an earlier run of the group did not catch, which is the quick loop
//! while writing tests. docs/mutation.md is rewritten from every group's latest outcome.
//!
//! A mutant that no test can catch because it does not change behaviour (an equivalent mutant)
//! is listed in `xtask/mutants-equivalent.txt` with the reason; the report shows it as such.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::ci::root;

/// The cargo-mutants release this command installs and expects.
const CARGO_MUTANTS_VERSION: &str = "27.1.0";

/// Groups of files, each run as one cargo-mutants invocation (its package's tests).
pub(crate) const GROUPS: &[(&str, &[&str])] = &[
    (
        "server",
        &[
            "crates/ciba-server/src/backchannel.rs",
            "crates/ciba-server/src/client_auth.rs",
            "crates/ciba-server/src/token_endpoint.rs",
            "crates/ciba-server/src/request_object.rs",
            "crates/ciba-server/src/jwt_claims.rs",
            "crates/ciba-server/src/complete.rs",
        ],
    ),
    (
        "id-token",
        &[
            "crates/ciba-core/src/id_token/mod.rs",
            "crates/ciba-core/src/id_token/claims.rs",
            "crates/ciba-core/src/id_token/context.rs",
            "crates/ciba-core/src/id_token/error.rs",
            "crates/ciba-core/src/id_token/validator.rs",
            "crates/ciba-core/src/client_auth.rs",
        ],
    ),
    (
        "jose",
        &[
            "crates/ciba-core/src/jose/alg.rs",
            "crates/ciba-core/src/jose/backend.rs",
            "crates/ciba-core/src/jose/der.rs",
            "crates/ciba-core/src/jose/hash.rs",
            "crates/ciba-core/src/jose/jwk.rs",
            "crates/ciba-core/src/jose/jws.rs",
            "crates/ciba-core/src/jose/signer.rs",
            "crates/ciba-core/src/jose/verify.rs",
            "crates/ciba-core/src/dpop.rs",
            "crates/ciba-core/src/dpop/nonces.rs",
            "crates/ciba-core/src/notification/mod.rs",
            "crates/ciba-core/src/notification/authenticate.rs",
            "crates/ciba-core/src/notification/outcome.rs",
            "crates/ciba-core/src/notification/push.rs",
            "crates/ciba-core/src/notification/refusal.rs",
            "crates/ciba-core/src/ack.rs",
            "crates/ciba-core/src/token_response.rs",
        ],
    ),
    ("poll", &["crates/ciba-core/src/poll.rs"]),
];

/// What the report requires of every file: caught / viable.
const REQUIRED_CAUGHT: f64 = 0.95;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut iterate = false;
    let mut only: Vec<String> = Vec::new();
    let mut report_only = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--iterate" => iterate = true,
            "--report" => report_only = true,
            "--group" => only.push(it.next().ok_or("--group takes a group name")?.clone()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    for name in &only {
        if !GROUPS.iter().any(|(g, _)| g == name) {
            let names: Vec<&str> = GROUPS.iter().map(|(g, _)| *g).collect();
            return Err(format!("no group {name:?}; the groups are {names:?}"));
        }
    }
    let root = root();
    if !report_only {
        crate::cargo_tools::ensure_subcommand(
            "mutants",
            "cargo-mutants",
            Some(CARGO_MUTANTS_VERSION),
        )?;
        refuse_dirty_tree(&root)?;
        for (group, files) in GROUPS {
            if !only.is_empty() && !only.iter().any(|o| o == group) {
                continue;
            }
            run_group(&root, group, files, iterate)?;
        }
    }
    let report = report(&root)?;
    let path = root.join("docs/mutation.md");
    std::fs::write(&path, &report.text)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("\n{}", report.summary);
    println!("wrote {}", path.display());
    if report.unjustified > 0 {
        return Err(format!(
            "{} missed mutant(s) without a test or a reason in xtask/mutants-equivalent.txt",
            report.unjustified
        ));
    }
    Ok(())
}

fn refuse_dirty_tree(root: &Path) -> Result<(), String> {
    let out = Command::new("git")
        .args(["status", "--porcelain", "--", "crates"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run git status: {e}"))?;
    if out.stdout.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "crates/ has uncommitted changes; the mutants run edits sources in place, so commit \
             or stash first:\n{}",
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

fn out_dir(root: &Path, group: &str) -> PathBuf {
    root.join("target/mutants").join(group)
}

fn run_group(root: &Path, group: &str, files: &[&str], iterate: bool) -> Result<(), String> {
    let started = Instant::now();
    println!("\n==> cargo mutants: {group} ({} files)", files.len());
    // cargo-mutants creates `mutants.out` but not the folders above it.
    let out = out_dir(root, group);
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut cmd = Command::new(crate::cargo_tools::cargo());
    cmd.current_dir(root)
        .args(["mutants", "--in-place", "--no-shuffle", "--all-features"])
        .args(["--cargo-test-arg=--tests", "--timeout-multiplier", "3"])
        .arg("--output")
        .arg(&out)
        .env("PROPTEST_CASES", "32")
        // The race stress test of ciba-server runs 1,000 rounds by default; 50 still race
        // sixteen threads per round, at a twentieth of the cost per mutant.
        .env("CIBA_STRESS_ROUNDS", "50")
        // A mutant makes proptests fail on purpose; their failures must not be saved as
        // regression files in the tree (the next run would find crates/ changed and refuse).
        .env("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1")
        // Its own target directory, built without debug information: a mutant's rebuild is
        // then an incremental compile and a link of seconds, and the usual `target/debug` is
        // left as it was.
        .env("CARGO_TARGET_DIR", root.join("target/mutants/build"))
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
    if iterate {
        cmd.arg("--iterate");
    }
    for file in files {
        cmd.args(["--file", file]);
    }
    // cargo-mutants exits 2 when mutants were missed and 3 on timeouts: the report says which.
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo mutants: {e}"))?;
    println!(
        "<== cargo mutants: {group} ({:.0} s, exit {})",
        started.elapsed().as_secs_f64(),
        status.code().map_or("signal".to_owned(), |c| c.to_string())
    );
    match status.code() {
        Some(0 | 2 | 3) => {
            let current = if iterate {
                Some(list_mutants(root, files)?)
            } else {
                None
            };
            update_record(root, group, current.as_ref())?;
            note_run(root, group, iterate, started.elapsed().as_secs())
        }
        _ => Err(format!(
            "cargo mutants failed for {group} (the unmutated tree must build and pass)"
        )),
    }
}

/// One mutant's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Caught,
    Missed,
    Timeout,
    Unviable,
}

/// Per-file counts and the missed mutants.
#[derive(Debug, Default)]
struct FileRow {
    caught: usize,
    missed: Vec<String>,
    timeout: usize,
    unviable: usize,
}

impl FileRow {
    fn viable(&self) -> usize {
        self.caught + self.missed.len() + self.timeout
    }
}

struct Report {
    text: String,
    summary: String,
    unjustified: usize,
}

/// The mutant's file: the text before the first `:`.
fn file_of(mutant: &str) -> &str {
    mutant.split(':').next().unwrap_or(mutant)
}

/// A mutant's name without its line and column, so a reason survives edits above it:
/// `crates/x.rs:12:5: replace f -> bool with true` becomes `crates/x.rs: replace f -> bool with true`.
pub(crate) fn stable_name(mutant: &str) -> String {
    let mut parts = mutant.splitn(4, ':');
    let file = parts.next().unwrap_or_default();
    let (line, col) = (parts.next(), parts.next());
    match (line, col, parts.next()) {
        (Some(l), Some(c), Some(rest))
            if l.chars().all(|ch| ch.is_ascii_digit())
                && c.chars().all(|ch| ch.is_ascii_digit()) =>
        {
            format!("{file}:{rest}")
        }
        _ => mutant.to_owned(),
    }
}

/// `xtask/mutants-equivalent.txt`: `stable name | reason` lines; `#` starts a comment.
pub(crate) fn parse_equivalents(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (name, reason) = l.rsplit_once(" | ")?;
            Some((name.trim().to_owned(), reason.trim().to_owned()))
        })
        .collect()
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The outcomes of one cargo-mutants run, from its `*.txt` lists.
fn run_outcomes(out: &Path) -> BTreeMap<String, Outcome> {
    let mut all = BTreeMap::new();
    for (file, outcome) in [
        ("caught.txt", Outcome::Caught),
        ("missed.txt", Outcome::Missed),
        ("timeout.txt", Outcome::Timeout),
        ("unviable.txt", Outcome::Unviable),
    ] {
        for m in read_lines(&out.join(file)) {
            all.insert(m, outcome);
        }
    }
    all
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Self::Caught => "caught",
            Self::Missed => "missed",
            Self::Timeout => "timeout",
            Self::Unviable => "unviable",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        [Self::Caught, Self::Missed, Self::Timeout, Self::Unviable]
            .into_iter()
            .find(|o| o.word() == word)
    }
}

/// A group's runs, one line each (`full|iterate <commit> <UTC time> <seconds> s`): a full
/// run starts the file afresh, an `--iterate` run adds a line. The report prints them, so it
/// says which commit its figures come from and whether iterate runs are folded in.
fn runs_path(root: &Path, group: &str) -> PathBuf {
    out_dir(root, group).join("runs.txt")
}

fn command_line(program: &str, args: &[&str], root: &Path) -> String {
    Command::new(program)
        .args(args)
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn note_run(root: &Path, group: &str, iterate: bool, seconds: u64) -> Result<(), String> {
    let line = format!(
        "{} {} {} {seconds} s\n",
        if iterate { "iterate" } else { "full" },
        command_line("git", &["rev-parse", "--short", "HEAD"], root),
        command_line("date", &["-u", "+%Y-%m-%dT%H:%MZ"], root),
    );
    let path = runs_path(root, group);
    let mut text = if iterate {
        std::fs::read_to_string(&path).unwrap_or_default()
    } else {
        String::new()
    };
    text.push_str(&line);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A group's record: every mutant's latest outcome, one `outcome<TAB>mutant` line each.
/// A full run replaces it; an `--iterate` run (which tests only what was not caught, and
/// lists the rest as one `previously_caught.txt` without telling caught from unviable)
/// updates the entries it tested.
fn record_path(root: &Path, group: &str) -> PathBuf {
    out_dir(root, group).join("record.txt")
}

fn read_record(path: &Path) -> BTreeMap<String, Outcome> {
    read_lines(path)
        .iter()
        .filter_map(|l| {
            let (word, mutant) = l.split_once('\t')?;
            Some((mutant.to_owned(), Outcome::from_word(word)?))
        })
        .collect()
}

/// Every mutant cargo-mutants would make of `files` today (`--list`), by name.
fn list_mutants(root: &Path, files: &[&str]) -> Result<BTreeSet<String>, String> {
    let mut cmd = Command::new(crate::cargo_tools::cargo());
    cmd.current_dir(root).args(["mutants", "--list"]);
    for file in files {
        cmd.args(["--file", file]);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo mutants --list: {e}"))?;
    if !out.status.success() {
        return Err("cargo mutants --list failed".to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The record after a run: see [`update_record`].
fn fold_run(
    before: BTreeMap<String, Outcome>,
    run: BTreeMap<String, Outcome>,
    current: Option<&BTreeSet<String>>,
) -> BTreeMap<String, Outcome> {
    let Some(current) = current else {
        return run;
    };
    let mut record = before;
    record.extend(run);
    record.retain(|mutant, _| current.contains(mutant));
    record
}

/// Folds a run's outcomes into the group's record. A full run (`current` is `None`) replaces
/// it. An `--iterate` run updates the entries it tested and drops every entry that is no longer
/// a mutant of today's sources (`current`): an edit above a mutant renames it, and the renamed
/// one is tested afresh by that run.
fn update_record(
    root: &Path,
    group: &str,
    current: Option<&BTreeSet<String>>,
) -> Result<(), String> {
    let path = record_path(root, group);
    let record = fold_run(
        read_record(&path),
        run_outcomes(&out_dir(root, group).join("mutants.out")),
        current,
    );
    let text: String = record
        .iter()
        .map(|(m, o)| format!("{}\t{m}\n", o.word()))
        .collect();
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn report(root: &Path) -> Result<Report, String> {
    let equivalents = parse_equivalents(
        &std::fs::read_to_string(root.join("xtask/mutants-equivalent.txt")).unwrap_or_default(),
    );
    let mut rows: BTreeMap<String, FileRow> = BTreeMap::new();
    let mut missing_groups = Vec::new();
    let mut runs = Vec::new();
    for (group, files) in GROUPS {
        let outcomes = read_record(&record_path(root, group));
        for run in read_lines(&runs_path(root, group)) {
            runs.push(format!("{group}: {run}"));
        }
        if outcomes.is_empty() {
            missing_groups.push(*group);
        }
        for file in *files {
            rows.entry((*file).to_owned()).or_default();
        }
        for (mutant, outcome) in outcomes {
            let row = rows.entry(file_of(&mutant).to_owned()).or_default();
            match outcome {
                Outcome::Caught => row.caught += 1,
                Outcome::Missed => row.missed.push(mutant),
                Outcome::Timeout => row.timeout += 1,
                Outcome::Unviable => row.unviable += 1,
            }
        }
    }
    let mut report = render(&rows, &equivalents, &missing_groups);
    let _ = writeln!(report.text, "\n## Runs\n");
    if runs.is_empty() {
        let _ = writeln!(report.text, "None on record.");
    }
    for run in runs {
        let _ = writeln!(report.text, "- {run}");
    }
    Ok(report)
}

fn percent(caught: usize, viable: usize) -> f64 {
    if viable == 0 {
        100.0
    } else {
        100.0 * caught as f64 / viable as f64
    }
}

fn render(
    rows: &BTreeMap<String, FileRow>,
    equivalents: &BTreeMap<String, String>,
    missing_groups: &[&str],
) -> Report {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Mutation testing\n\nWritten by `cargo xtask mutants` (cargo-mutants {CARGO_MUTANTS_VERSION}); \
         do not edit by hand. Each file below is security-critical; a mutant is one small change to \
         its code, and it is *caught* when a unit or integration test of its crate fails. \
         *Viable* mutants are the ones that build (caught, missed and timed out). Timeouts count as \
         caught (the mutant made a test hang). Every file must have at least {:.0} % of its viable \
         mutants caught, and every miss must be an equivalent mutant (one that changes no \
         behaviour), listed with its reason in `xtask/mutants-equivalent.txt`.\n",
        REQUIRED_CAUGHT * 100.0
    );
    if !missing_groups.is_empty() {
        let _ = writeln!(
            text,
            "**Incomplete:** no outcome on record for the group(s) {missing_groups:?}.\n"
        );
    }
    let _ = writeln!(
        text,
        "| file | caught | missed (equivalent) | timeout | unviable | viable | caught % |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    let mut unjustified = 0usize;
    let mut below = Vec::new();
    let (mut t_caught, mut t_viable) = (0usize, 0usize);
    for (file, row) in rows {
        let equivalent = row
            .missed
            .iter()
            .filter(|m| equivalents.contains_key(&stable_name(m)))
            .count();
        let caught = row.caught + row.timeout;
        let pct = percent(caught, row.viable());
        if pct < REQUIRED_CAUGHT * 100.0 {
            below.push(file.clone());
        }
        unjustified += row.missed.len() - equivalent;
        t_caught += caught;
        t_viable += row.viable();
        let _ = writeln!(
            text,
            "| `{file}` | {} | {} ({equivalent}) | {} | {} | {} | {pct:.1} |",
            row.caught,
            row.missed.len(),
            row.timeout,
            row.unviable,
            row.viable()
        );
    }
    let _ = writeln!(
        text,
        "| **all** | | | | | {t_viable} | {:.1} |\n",
        percent(t_caught, t_viable)
    );
    let _ = writeln!(text, "## Missed mutants\n");
    let mut any = false;
    for (file, row) in rows {
        for m in &row.missed {
            any = true;
            match equivalents.get(&stable_name(m)) {
                Some(reason) => {
                    let _ = writeln!(text, "- `{m}` — equivalent: {reason}");
                }
                None => {
                    let _ = writeln!(
                        text,
                        "- `{m}` — **not caught, no reason on record** ({file})"
                    );
                }
            }
        }
    }
    if !any {
        let _ = writeln!(text, "None.");
    }
    let summary = format!(
        "mutants: {t_caught} of {t_viable} viable caught ({:.1} %); {} file(s) below {:.0} %{}; \
         {unjustified} miss(es) without a reason",
        percent(t_caught, t_viable),
        below.len(),
        REQUIRED_CAUGHT * 100.0,
        if below.is_empty() {
            String::new()
        } else {
            format!(" ({})", below.join(", "))
        },
    );
    Report {
        text,
        summary,
        unjustified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_names_drop_line_and_column_only() {
        assert_eq!(
            stable_name("crates/a/src/x.rs:12:5: replace f -> bool with true"),
            "crates/a/src/x.rs: replace f -> bool with true"
        );
        // A name without a position is kept whole.
        assert_eq!(
            stable_name("crates/a/src/x.rs: replace"),
            "crates/a/src/x.rs: replace"
        );
    }

    #[test]
    fn equivalents_file_reads_name_and_reason() {
        let eq = parse_equivalents(
            "# comment\n\ncrates/a/src/x.rs: replace == with != in f | both arms return the same\n",
        );
        assert_eq!(
            eq.get("crates/a/src/x.rs: replace == with != in f")
                .map(String::as_str),
            Some("both arms return the same")
        );
        assert_eq!(eq.len(), 1);
    }

    #[test]
    fn a_file_below_the_bar_or_an_unexplained_miss_is_reported() {
        let mut rows = BTreeMap::new();
        rows.insert(
            "crates/a/src/x.rs".to_owned(),
            FileRow {
                caught: 18,
                missed: vec![
                    "crates/a/src/x.rs:1:1: replace f with g".to_owned(),
                    "crates/a/src/x.rs:2:1: replace h with i".to_owned(),
                ],
                timeout: 0,
                unviable: 3,
            },
        );
        let mut eq = BTreeMap::new();
        eq.insert(
            "crates/a/src/x.rs: replace f with g".to_owned(),
            "same result".to_owned(),
        );
        let report = render(&rows, &eq, &[]);
        // 18 of 20 viable: 90 %, below the bar; one miss explained, one not.
        assert_eq!(report.unjustified, 1);
        assert!(
            report.summary.contains("1 file(s) below 95 %"),
            "{}",
            report.summary
        );
        assert!(
            report
                .text
                .contains("| `crates/a/src/x.rs` | 18 | 2 (1) | 0 | 3 | 20 | 90.0 |")
        );
        assert!(report.text.contains("equivalent: same result"));
        assert!(report.text.contains("**not caught, no reason on record**"));
    }

    #[test]
    fn an_iterate_run_updates_what_it_tested_and_forgets_renamed_mutants() {
        let before = BTreeMap::from([
            ("x.rs:1:1: a".to_owned(), Outcome::Caught),
            ("x.rs:2:1: b".to_owned(), Outcome::Missed),
            ("x.rs:3:1: c".to_owned(), Outcome::Missed),
        ]);
        // An edit moved `c` to line 4; the iterate run tested `b` and the renamed `c`.
        let run = BTreeMap::from([
            ("x.rs:2:1: b".to_owned(), Outcome::Caught),
            ("x.rs:4:1: c".to_owned(), Outcome::Missed),
        ]);
        let current: BTreeSet<String> = ["x.rs:1:1: a", "x.rs:2:1: b", "x.rs:4:1: c"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let after = fold_run(before.clone(), run.clone(), Some(&current));
        assert_eq!(
            after.into_iter().collect::<Vec<_>>(),
            vec![
                ("x.rs:1:1: a".to_owned(), Outcome::Caught),
                ("x.rs:2:1: b".to_owned(), Outcome::Caught),
                ("x.rs:4:1: c".to_owned(), Outcome::Missed),
            ]
        );
        // A full run replaces the record.
        assert_eq!(fold_run(before, run.clone(), None), run);
    }

    #[test]
    fn every_group_file_exists() {
        let root = root();
        for (_, files) in GROUPS {
            for f in *files {
                assert!(root.join(f).is_file(), "{f} is gone: update GROUPS");
            }
        }
    }
}
