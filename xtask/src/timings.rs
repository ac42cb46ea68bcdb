//! The timing summary of `cargo xtask ci`: every step's start and wall time, which lane it
//! ran in, and which steps ran beside it, printed as a table at the end of the run (also
//! when a step failed).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One step that ran.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    step: String,
    /// From the start of the run.
    start: Duration,
    wall: Duration,
    background: bool,
    ok: bool,
}

/// The steps of one run, as they ended.
pub(crate) struct Timings {
    origin: Instant,
    rows: Vec<Row>,
}

impl Timings {
    /// Starts the run's clock.
    pub(crate) fn new() -> Timings {
        Timings {
            origin: Instant::now(),
            rows: Vec::new(),
        }
    }

    /// Since the start of the run.
    pub(crate) fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Runs `f` as a step of the main sequence and records it.
    pub(crate) fn time<T>(
        &mut self,
        step: &str,
        f: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        let started = Instant::now();
        let result = f();
        self.record(step, started, started.elapsed(), false, result.is_ok());
        result
    }

    /// Records a step that started at `started` and took `wall`.
    pub(crate) fn record(
        &mut self,
        step: &str,
        started: Instant,
        wall: Duration,
        background: bool,
        ok: bool,
    ) {
        self.rows.push(Row {
            step: step.to_owned(),
            start: started.saturating_duration_since(self.origin),
            wall,
            background,
            ok,
        });
    }

    /// How many steps are recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The summary table (Markdown), in the order the steps started, with the total.
    pub(crate) fn table(&self) -> String {
        let mut rows = self.rows.clone();
        rows.sort_by_key(|r| r.start);
        let mut out = String::from(
            "\n| # | step | lane | start s | wall s | ran beside | result |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for (i, row) in rows.iter().enumerate() {
            let end = row.start + row.wall;
            // Steps whose time overlaps this one's by more than a second.
            let beside: Vec<String> = rows
                .iter()
                .enumerate()
                .filter(|(j, other)| {
                    let overlap = end
                        .min(other.start + other.wall)
                        .saturating_sub(row.start.max(other.start));
                    *j != i && overlap > Duration::from_secs(1)
                })
                .map(|(j, _)| format!("#{}", j + 1))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.1} | {} | {} |",
                i + 1,
                row.step,
                if row.background {
                    "background (niced)"
                } else {
                    "main"
                },
                row.start.as_secs_f64(),
                row.wall.as_secs_f64(),
                if beside.is_empty() {
                    "-".to_owned()
                } else {
                    beside.join(" ")
                },
                if row.ok { "ok" } else { "FAILED" },
            );
        }
        let main: f64 = rows
            .iter()
            .filter(|r| !r.background)
            .map(|r| r.wall.as_secs_f64())
            .sum();
        let background: f64 = rows
            .iter()
            .filter(|r| r.background)
            .map(|r| r.wall.as_secs_f64())
            .sum();
        let _ = writeln!(
            out,
            "\nci wall time {:.0} s: main sequence steps {main:.0} s, background steps {background:.0} s \
             (overlapped with the main sequence)",
            self.elapsed().as_secs_f64()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_orders_steps_by_start_and_names_the_overlaps() {
        let mut t = Timings::new();
        let at = |s: u64| t.origin + Duration::from_secs(s);
        let (a, b, c) = (at(0), at(5), at(100));
        t.record("cargo test", a, Duration::from_secs(50), false, true);
        t.record("cargo fuzz build", b, Duration::from_secs(200), true, true);
        t.record("interop", c, Duration::from_secs(90), false, false);
        t.record("cargo fmt", a, Duration::from_secs(1), false, true);
        let table = t.table();
        let lines: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(
            lines,
            [
                "| # | step | lane | start s | wall s | ran beside | result |",
                "| 1 | cargo test | main | 0 | 50.0 | #3 | ok |",
                "| 2 | cargo fmt | main | 0 | 1.0 | - | ok |",
                "| 3 | cargo fuzz build | background (niced) | 5 | 200.0 | #1 #4 | ok |",
                "| 4 | interop | main | 100 | 90.0 | #3 | FAILED |",
            ]
        );
        assert!(table.contains("main sequence steps 141 s, background steps 200 s"));
    }
}
