//! Support of the https tests: the test CA and the https endpoint (ciba-test's `tls`), and
//! the log of this test binary.
#![allow(unreachable_pub)]

use std::sync::OnceLock;

pub use ciba_test::tls::{ClientCertificate, TestCa, TlsEndpoint, fapi_client, poll_and_ping};

/// A log capture: what a `tracing` subscriber wrote, as text.
pub use ciba_test::logs::LogCapture as Captured;

/// The log of this test binary: every event (all levels, every crate, every thread), captured
/// by the one global subscriber, installed on first use. (A per-thread subscriber would miss
/// events: tracing caches each call site's interest process-wide, and other tests running at
/// the same time register the same call sites.) Tests find their lines by their own endpoint.
pub fn capture_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        captured
    })
    .clone()
}
