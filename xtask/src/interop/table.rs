//! The report: the matrix as a table, one row per cell, printed at the end of every run.

use super::matrix::Row;

pub(super) fn print_table(rows: &[Row]) {
    let header = [
        "#", "client", "server", "mode", "auth", "expect", "outcome", "secs", "result",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.cell.n.to_string(),
                r.cell.client.label().to_owned(),
                r.cell.client.server().label().to_owned(),
                r.cell.mode.to_string(),
                match (r.cell.dpop, r.cell.encryption) {
                    (true, _) => format!("{} + DPoP", r.cell.auth.method()),
                    (false, Some(e)) => {
                        format!("{} + JWE {}/{}", r.cell.auth.method(), e.alg, e.enc)
                    }
                    (false, None) => r.cell.auth.method().to_owned(),
                },
                r.cell.expect.word().to_owned(),
                r.outcome.clone(),
                format!("{:.1}", r.secs),
                if r.problems.is_empty() {
                    "PASS".to_owned()
                } else {
                    format!("FAIL: {}", r.problems.join("; "))
                },
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // The result column is last and not padded (failures can be long).
    if let Some(last) = width.last_mut() {
        *last = 0;
    }
    let line = |row: &[String]| {
        row.iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_owned()
    };
    let passed = rows.iter().filter(|r| r.problems.is_empty()).count();
    println!(
        "\n==> interop matrix ({passed} passed, {} failed)\n",
        rows.len() - passed
    );
    println!("{}", line(&header.map(str::to_owned)));
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    println!("{}-{}", rule.join("-|-"), "-".repeat(5));
    for row in &cells {
        println!("{}", line(row));
    }
    println!();
}
