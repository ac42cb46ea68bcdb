//! docs/performance.svg: requests per second by scenario, one bar per server.

use std::fmt::Write as _;

use super::Results;
use super::targets::thousands;

const SCENARIOS: [&str; 3] = ["backchannel", "poll", "mixed"];
const SERVERS: [(&str, &str); 5] = [
    ("ceiling", "#9e9e9e"),
    ("ours", "#1f77b4"),
    ("ours-redis", "#2ca02c"),
    ("oidc-provider", "#ff7f0e"),
    ("keycloak", "#d62728"),
];

const WIDTH: f64 = 760.0;
const LEFT: f64 = 140.0;
const RIGHT: f64 = 110.0;
const TOP: f64 = 60.0;
const BAR: f64 = 20.0;
const GAP: f64 = 6.0;
const GROUP_GAP: f64 = 26.0;

/// A horizontal grouped bar chart of the load runs, linear scale, each bar labelled with its
/// figure. A run that is missing has no bar and says so.
pub fn svg(r: &Results) -> String {
    let max = SCENARIOS
        .iter()
        .flat_map(|s| SERVERS.iter().map(move |(srv, _)| format!("{srv}/{s}")))
        .filter_map(|label| r.load_rate(&label))
        .fold(0.0_f64, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let plot_width = WIDTH - LEFT - RIGHT;
    let group_height = SERVERS.len() as f64 * (BAR + GAP) - GAP;
    let height = TOP + SCENARIOS.len() as f64 * (group_height + GROUP_GAP) + 30.0;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let date = r
        .meta()
        .and_then(|m| m.get("date"))
        .and_then(|d| d.as_str())
        .unwrap_or("");
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Requests per second \
         over loopback (higher is better)</text>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"40\" fill=\"#555\">cargo xtask bench · {}</text>",
        escape(date)
    );
    // Legend.
    let mut x = WIDTH - RIGHT - 250.0;
    for (server, colour) in SERVERS {
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"30\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"40\">{server}</text>",
            x + 16.0
        );
        x += 90.0;
    }
    let mut y = TOP;
    for scenario in SCENARIOS {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-weight=\"bold\">{scenario}</text>",
            LEFT - 10.0,
            y + group_height / 2.0 + 4.0
        );
        for (server, colour) in SERVERS {
            let label = format!("{server}/{scenario}");
            match r.load_rate(&label) {
                Some(rate) => {
                    let w = (rate / max * plot_width).max(1.0);
                    let _ = writeln!(
                        out,
                        "<rect x=\"{LEFT}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR}\" \
                         fill=\"{colour}\"><title>{label}: {} req/s</title></rect>\
                         <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                        thousands(rate),
                        LEFT + w + 5.0,
                        y + BAR - 5.0,
                        thousands(rate)
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "<text x=\"{}\" y=\"{:.1}\" fill=\"#999\">{server}: not measured</text>",
                        LEFT + 5.0,
                        y + BAR - 5.0
                    );
                }
            }
            y += BAR + GAP;
        }
        y += GROUP_GAP - GAP;
    }
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"#333\"/>",
        TOP - 6.0,
        y - GROUP_GAP + 6.0
    );
    out.push_str("</svg>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
