//! Project automation. `cargo xtask ci` runs every check CI runs, in the same order.
//!
//! Dependency-free on purpose, so it compiles in seconds.

mod api;
mod bench;
mod cargo_tools;
mod ci;
mod deny;
mod fuzz;
mod interop;
mod json;
mod lanes;
mod mutants;
mod package;
mod redis;
mod security_doc;
mod services;
mod test_binaries;
mod test_build;
mod tidy;
mod timings;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  api       [--bless] check the public API of ciba-core and ciba-server against api/*.txt
            (--bless rewrites the snapshots)
  bench     [--quick] benchmarks and load runs against a hyper ceiling, oidc-provider and Keycloak;
            writes docs/performance.md and docs/performance.svg
  ci        format check, clippy, public API, tidy, deny, tests (both JOSE backends), interop, fuzz,
            packaging, docs; the fuzz build, the rust-crypto tests, the docs and the
            packaging run in niced background lanes; ends with a table of step timings
  interop   the interop matrix against oidc-provider, openid-client, oauth4webapi (Node.js),
            Keycloak and the Nimbus SDK (Java)
  tidy      only the tidy checks (dependency boundaries, forbidden calls)
  deny      dependency checks without an advisory database: licenses, bans, duplicates
  fuzz      [--seconds N] [TARGET...] run the cargo-fuzz targets in fuzz/ (default 60 s each)
  mutants   [--iterate] [--group NAME]... [--report] mutation testing (cargo-mutants) of the
            security-critical files; writes docs/mutation.md (long: not part of ci)
  package   publishing readiness: manifest metadata, then a verifying `cargo package` of every
            publishable crate
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("api") => api::run(args.get(1..).unwrap_or_default()),
        Some("bench") => bench::run(args.get(1..).unwrap_or_default()),
        Some("ci") => ci::run(),
        Some("tidy") => tidy::run(),
        Some("deny") => deny::run(),
        Some("fuzz") => fuzz::run(args.get(1..).unwrap_or_default()),
        Some("interop") => interop::run(),
        Some("package") => package::run(),
        Some("mutants") => mutants::run(args.get(1..).unwrap_or_default()),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
