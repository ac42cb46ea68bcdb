//! Shared pieces of the benchmark programs behind `cargo xtask bench`.
//!
//! Every program in `src/bin/` prints its results as one JSON object per line on standard
//! output, prefixed with `RESULT `, so the harness can collect them without parsing prose.
//!
//! Modules: [`keys`] (ciba-core's test keys), [`client_side`] (a ciba-core client and a
//! scripted OP's answers, for `benches/client.rs` and `client_rate`), [`server_side`] (a
//! ciba-server over the memory store, for `benches/server.rs`), [`report`] (docs/performance.md
//! and its plot from the collected results).

pub mod client_side;
pub mod keys;
pub mod report;
pub mod server_side;

use serde::Serialize;

/// The error of benchmark set-up code: any error, boxed, with its message.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// Prints `value` as a `RESULT {json}` line on standard output.
pub fn emit<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(json) => println!("RESULT {json}"),
        Err(e) => eprintln!("cannot serialise a result: {e}"),
    }
}
