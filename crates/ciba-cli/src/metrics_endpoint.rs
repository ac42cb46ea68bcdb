//! `ciba serve --metrics ADDR`: the provider's metrics at `http://ADDR/metrics`, in the
//! Prometheus text format (metric names, types and labels: docs/observability.md).
//!
//! The recorder is metrics-exporter-prometheus's, installed as the `metrics` facade's global
//! recorder; this module serves its rendering through ciba-hyper's `serve_fn`. Before each
//! rendering the pending-requests gauge is set from the store, so it is the count every
//! instance sharing the store sees.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ciba_hyper::server::AsHandle;
use ciba_hyper::{RunningServer, serve_fn};
use ciba_server::observe::STORE_OPERATION_SECONDS;
use http_body_util::Full;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;

use crate::error::CliError;
use crate::http_server;

/// The most pending requests the gauge counts (listing them is the cost of a scrape).
const PENDING_LIMIT: usize = 10_000;

/// How often the recorder drops idle histogram samples.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Histogram buckets of store latency, in seconds: 100 µs (memory) to 2.5 s (a slow Redis).
const STORE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The metrics endpoint, serving until [`MetricsEndpoint::shutdown`].
pub(crate) struct MetricsEndpoint {
    server: RunningServer,
    upkeep: JoinHandle<()>,
}

/// Installs the Prometheus recorder as the global `metrics` recorder. Call it before the
/// provider starts, so that no early count is lost.
pub(crate) fn install_recorder() -> Result<PrometheusHandle, CliError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(STORE_OPERATION_SECONDS.into()), STORE_BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| CliError::error(format!("cannot install the metrics recorder: {e}")))?;
    ciba_server::observe::describe_metrics();
    ciba_hyper::server::describe_metrics();
    ciba_redis::describe_metrics();
    Ok(handle)
}

impl MetricsEndpoint {
    /// Serves `recorder`'s metrics at `http://addr/metrics`, refreshing the pending gauge from
    /// the store of `server` at each scrape.
    pub(crate) async fn start(
        addr: SocketAddr,
        recorder: PrometheusHandle,
        server: AsHandle,
    ) -> Result<MetricsEndpoint, CliError> {
        let listener = http_server::bind(addr, "metrics").await?;
        let rendering = recorder.clone();
        let handler = move |request: http::Request<_>| {
            let recorder = rendering.clone();
            let server = server.clone();
            async move { answer(&request, &recorder, &server).await }
        };
        let server = serve_fn(listener, handler)
            .map_err(|e| CliError::error(format!("cannot serve the metrics: {e}")))?;
        let upkeep = tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                recorder.run_upkeep();
            }
        });
        Ok(MetricsEndpoint { server, upkeep })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Stops serving.
    pub(crate) async fn shutdown(self) {
        self.upkeep.abort();
        self.server.shutdown().await;
    }
}

/// `GET /metrics`: the rendering; anything else 404 or 405.
async fn answer<B>(
    request: &http::Request<B>,
    recorder: &PrometheusHandle,
    server: &AsHandle,
) -> http::Response<Full<Bytes>> {
    let status = if request.uri().path() != "/metrics" {
        http::StatusCode::NOT_FOUND
    } else if request.method() != http::Method::GET {
        http::StatusCode::METHOD_NOT_ALLOWED
    } else {
        let counted = server
            .server()
            .record_pending_requests(PENDING_LIMIT, SystemTime::now())
            .await;
        if let Err(e) = counted {
            tracing::warn!(error = %e, "the pending-requests gauge was not refreshed");
        }
        let mut response = http::Response::new(Full::new(Bytes::from(recorder.render())));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return response;
    };
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
