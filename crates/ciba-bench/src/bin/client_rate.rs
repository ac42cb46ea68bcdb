//! `client_rate`: how many CIBA token responses one thread processes per second, ID token
//! validation (signature included) and all, for RS256, PS256, ES256 and EdDSA; then the raw
//! signature verification rate of `openssl speed` on the same machine, as a ceiling.
//!
//! ```text
//! cargo run --release -p ciba-bench --bin client_rate [-- --seconds 2] [--alg ES256]
//! ```
//!
//! One unit of work is what a poll or ping client does with the token endpoint's answer:
//! `TokenResponse::from_response` (status, content type, JSON members, token type) and
//! `TokenResponse::validate` (signature against the OP's JWK Set, `iss`, `aud`, `exp`, `iat`,
//! the `auth_req_id` claim, `at_hash`, `rt_hash`), reading the real clock each time. The
//! response is built once per algorithm, in process: no network. Output, one line each:
//!
//! ```text
//! RESULT {"kind":"client_rate","impl":"ciba-core","alg":"RS256","per_s":...,"iterations":...,"seconds":...,"threads":1}
//! RESULT {"kind":"openssl_verify","alg":"RS256","per_s":...,"sign_per_s":...,"openssl":"OpenSSL 3.0.x ..."}
//! RESULT {"kind":"missing","what":"openssl"}          (when openssl cannot be run)
//! ```
//!
//! `openssl speed` counts bare signature operations (RSA: the public-key operation on a
//! prepared block; ECDSA: verify over a prepared digest), so it bounds what any JWS
//! verification can reach on this CPU. It runs single-threaded, like the loop here.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

use ciba_bench::client_side::{
    client, process_token_response, secret_basic, token_response, validator,
};
use ciba_bench::{BenchError, emit, keys};
use ciba_core::DeliveryMode;
use ciba_core::jose::JwsAlgorithm;
use serde_json::json;

/// How long each algorithm is measured unless `--seconds` says otherwise.
const DEFAULT_SECONDS: f64 = 2.0;
/// Unmeasured work before each measurement (caches, branch predictors, lazy key parsing).
const WARM_UP: Duration = Duration::from_millis(300);
/// Iterations between two reads of the stopwatch.
const CHUNK: u64 = 16;

fn main() -> ExitCode {
    let (seconds, only) = match options_from_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("client_rate: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for alg in keys::ID_TOKEN_ALGS {
        if only.as_deref().is_some_and(|name| name != alg.as_str()) {
            continue;
        }
        match measure(alg, Duration::from_secs_f64(seconds)) {
            Ok((iterations, elapsed)) => emit(&json!({
                "kind": "client_rate",
                "impl": "ciba-core",
                "alg": alg.as_str(),
                "per_s": round1(iterations as f64 / elapsed.as_secs_f64()),
                "iterations": iterations,
                "seconds": round3(elapsed.as_secs_f64()),
                "threads": 1,
            })),
            Err(e) => {
                eprintln!("client_rate: {alg}: {e}");
                failed = true;
            }
        }
    }
    if only.is_none() {
        openssl_speed(seconds);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `--seconds N` (a positive number, or the default) and `--alg NAME` (one algorithm only,
/// without the openssl run: for a profiler).
fn options_from_args() -> Result<(f64, Option<String>), String> {
    let mut args = std::env::args().skip(1);
    let mut seconds = DEFAULT_SECONDS;
    let mut only = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a value")?;
                seconds = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| format!("--seconds {value:?} is not a positive number"))?;
            }
            "--alg" => {
                let value = args.next().ok_or("--alg needs a value")?;
                if !keys::ID_TOKEN_ALGS.iter().any(|a| a.as_str() == value) {
                    return Err(format!(
                        "--alg {value:?} is not one of the measured algorithms"
                    ));
                }
                only = Some(value);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: client_rate [--seconds N] [--alg NAME])"
                ));
            }
        }
    }
    Ok((seconds, only))
}

/// Processes a token response signed with `alg` for at least `duration` on this thread:
/// the iterations done and the time they took. Any validation failure aborts.
fn measure(alg: JwsAlgorithm, duration: Duration) -> Result<(u64, Duration), BenchError> {
    let client = client(DeliveryMode::Poll, secret_basic())?;
    let validator = validator(&client)?;
    let response = token_response(alg, SystemTime::now())?;
    let run = |limit: Duration| -> Result<(u64, Duration), BenchError> {
        let started = Instant::now();
        let mut iterations = 0u64;
        loop {
            for _ in 0..CHUNK {
                let tokens = process_token_response(&validator, &response, SystemTime::now())?;
                std::hint::black_box(tokens);
            }
            iterations += CHUNK;
            let elapsed = started.elapsed();
            if elapsed >= limit {
                return Ok((iterations, elapsed));
            }
        }
    };
    run(WARM_UP)?;
    run(duration)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs `openssl speed -seconds N rsa2048 ecdsap256` and emits its verify/s figures as
/// `openssl_verify` results for RS256 and ES256, or a `missing` result when openssl cannot be
/// run or its output has no such figures.
fn openssl_speed(seconds: f64) {
    let version = Command::new("openssl")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let Some(version) = version else {
        emit(&json!({ "kind": "missing", "what": "openssl" }));
        return;
    };
    let whole_seconds = seconds.ceil().max(1.0).to_string();
    let output = Command::new("openssl")
        .args(["speed", "-seconds", &whole_seconds, "rsa2048", "ecdsap256"])
        .output();
    let stdout = match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            eprintln!(
                "client_rate: openssl speed failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            );
            emit(&json!({ "kind": "missing", "what": "openssl speed" }));
            return;
        }
        Err(e) => {
            eprintln!("client_rate: cannot run openssl speed: {e}");
            emit(&json!({ "kind": "missing", "what": "openssl" }));
            return;
        }
    };
    for (alg, row) in [("RS256", "rsa 2048 bits"), ("ES256", "ecdsa (nistp256)")] {
        match speed_row(&stdout, row) {
            Some((sign, verify)) => emit(&json!({
                "kind": "openssl_verify",
                "alg": alg,
                "per_s": verify,
                "sign_per_s": sign,
                "openssl": version,
                "seconds": whole_seconds.parse::<f64>().unwrap_or(seconds),
            })),
            None => emit(&json!({
                "kind": "missing",
                "what": format!("openssl speed row {row:?}"),
            })),
        }
    }
}

/// The `sign/s` and `verify/s` columns (the last two) of the `openssl speed` summary row
/// containing `row`.
fn speed_row(output: &str, row: &str) -> Option<(f64, f64)> {
    let line = output.lines().find(|l| l.contains(row))?;
    let mut numbers = line.split_whitespace().rev();
    let verify = numbers.next()?.parse::<f64>().ok()?;
    let sign = numbers.next()?.parse::<f64>().ok()?;
    Some((sign, verify))
}

#[cfg(test)]
mod tests {
    use super::speed_row;

    const OPENSSL_3_0: &str = "\
                  sign    verify    sign/s verify/s
rsa 2048 bits 0.000383s 0.000021s   2614.4  48565.6
                              sign    verify    sign/s verify/s
 256 bits ecdsa (nistp256)   0.0000s   0.0001s  36232.1  11257.9
";

    #[test]
    fn speed_rows_give_sign_and_verify_per_second() {
        assert_eq!(
            speed_row(OPENSSL_3_0, "rsa 2048 bits"),
            Some((2614.4, 48565.6))
        );
        assert_eq!(
            speed_row(OPENSSL_3_0, "ecdsa (nistp256)"),
            Some((36232.1, 11257.9))
        );
        assert_eq!(speed_row(OPENSSL_3_0, "ed25519"), None);
    }
}
