//! criterion's estimates, read from its output folder.

use std::path::Path;

use serde_json::Value;

/// One criterion benchmark: its `group/id` and the time of one iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// `group/id`, such as `client/ack`.
    pub name: String,
    /// Mean time of one iteration, in nanoseconds.
    pub mean_ns: f64,
    /// Median time of one iteration, in nanoseconds.
    pub median_ns: f64,
}

/// Every `<group>/<id>/new/estimates.json` under `dir`, sorted by name. A folder that does
/// not exist or a file that does not parse is left out.
pub fn criterion_estimates(dir: &Path) -> Vec<Estimate> {
    let mut out = Vec::new();
    for group in subdirectories(dir) {
        for bench in subdirectories(&group) {
            let file = bench.join("new").join("estimates.json");
            let Some(estimate) = read(&file) else {
                continue;
            };
            let name = format!("{}/{}", file_name(&group), file_name(&bench));
            out.push(Estimate {
                name,
                mean_ns: estimate.0,
                median_ns: estimate.1,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn subdirectories(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && file_name(p) != "report")
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(file: &Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(file).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let point = |key: &str| v.get(key)?.get("point_estimate")?.as_f64();
    Some((point("mean")?, point("median")?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::criterion_estimates;

    #[test]
    fn reads_group_and_id_folders() {
        let dir = std::env::temp_dir().join(format!("ciba-bench-criterion-{}", std::process::id()));
        let bench = dir.join("client").join("ack").join("new");
        std::fs::create_dir_all(&bench).unwrap();
        std::fs::write(
            bench.join("estimates.json"),
            r#"{"mean":{"point_estimate":1500.0},"median":{"point_estimate":1400.0}}"#,
        )
        .unwrap();
        // criterion's own HTML report folder is not a group.
        std::fs::create_dir_all(dir.join("report")).unwrap();
        let broken = dir.join("client").join("broken").join("new");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("estimates.json"), "{").unwrap();
        let found = criterion_estimates(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "client/ack");
        assert_eq!(found[0].mean_ns, 1500.0);
        assert_eq!(found[0].median_ns, 1400.0);
    }
}
