//! Turns what `cargo xtask bench` collected into docs/performance.md and its plot.
//!
//! ```text
//! report --results target/bench/results.jsonl --criterion target/criterion \
//!        --markdown docs/performance.md --svg docs/performance.svg
//! ```
//!
//! `--results` holds one JSON object per line, each with a `kind` (`meta`, `load`, `scale`,
//! `e2e`, `client_rate`, `openssl_verify`, `missing`); `--criterion` is criterion's output
//! folder, read for every `<group>/<id>/new/estimates.json`. The report computes every
//! target of the performance issue as a ratio of two figures from the same run, and states
//! whether it holds. A missing figure is reported as missing, never guessed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ciba_bench::report::{Results, criterion_estimates, markdown, svg};

struct Args {
    results: PathBuf,
    criterion: PathBuf,
    markdown: PathBuf,
    svg: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut results = None;
    let mut criterion = None;
    let mut markdown = None;
    let mut svg = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let slot = match arg.as_str() {
            "--results" => &mut results,
            "--criterion" => &mut criterion,
            "--markdown" => &mut markdown,
            "--svg" => &mut svg,
            other => return Err(format!("unknown argument {other:?}")),
        };
        *slot = Some(PathBuf::from(
            it.next().ok_or(format!("{arg} needs a path"))?,
        ));
    }
    let need = |v: Option<PathBuf>, name: &str| v.ok_or(format!("{name} is required"));
    Ok(Args {
        results: need(results, "--results")?,
        criterion: need(criterion, "--criterion")?,
        markdown: need(markdown, "--markdown")?,
        svg: need(svg, "--svg")?,
    })
}

fn run(args: &Args) -> Result<String, String> {
    let text = std::fs::read_to_string(&args.results)
        .map_err(|e| format!("cannot read {}: {e}", args.results.display()))?;
    let results = Results::parse(&text)?;
    let estimates = criterion_estimates(&args.criterion);
    let svg_name = args
        .svg
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "performance.svg".to_owned());
    let md = markdown(&results, &estimates, &svg_name);
    write(&args.markdown, &md)?;
    write(&args.svg, &svg(&results))?;
    let mut summary = String::new();
    for row in results.targets() {
        let _ = writeln!(summary, "{}", row.one_line());
    }
    Ok(summary)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("report: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("report: {e}");
            ExitCode::FAILURE
        }
    }
}
