//! Serving a service on a TCP listener until shut down, and the body plumbing the services
//! share (request bodies collected under a cap, responses as `Full<Bytes>`).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

use crate::error::BoxError;

/// The future type of this crate's `tower_service::Service` implementations.
pub type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Full<Bytes>>, Infallible>> + Send>>;

/// A server started by [`NotificationReceiver::bind`](crate::NotificationReceiver::bind) or
/// [`AuthorizationServer::bind`](crate::server::AuthorizationServer::bind). It serves until
/// [`RunningServer::shutdown`] or until it is dropped; either way the accept loop and every
/// open connection are stopped.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{local_addr}/`.
    pub fn url(&self) -> Url {
        base_url(self.addr)
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `http://{addr}/`.
#[allow(clippy::expect_used)] // not input: a socket address always forms a valid URL
pub(crate) fn base_url(addr: SocketAddr) -> Url {
    Url::parse(&format!("http://{addr}/")).expect("a socket address forms a valid URL")
}

/// Serves `service` on `listener` (HTTP/1.1) in a spawned task.
pub(crate) fn spawn_server<S>(listener: TcpListener, service: S) -> std::io::Result<RunningServer>
where
    S: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<Full<Bytes>>,
            Error = Infallible,
            Future = ServiceFuture,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    accept_loop(listener, move || TowerToHyperService::new(service.clone()))
}

/// Serves `handler` on `listener` (HTTP/1.1) in a spawned task, until the returned
/// [`RunningServer`] is shut down or dropped. For applications that route a few paths of
/// their own around this crate's services (a development server with extra pages, say).
pub fn serve_fn<H, F>(listener: TcpListener, handler: H) -> std::io::Result<RunningServer>
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    accept_loop(listener, move || {
        let handler = handler.clone();
        hyper::service::service_fn(move |request| {
            let response = handler(request);
            async move { Ok::<_, Infallible>(response.await) }
        })
    })
}

/// The accept loop: one task per connection, each served by a fresh service from `make`.
fn accept_loop<M, S>(listener: TcpListener, make: M) -> std::io::Result<RunningServer>
where
    M: Fn() -> S + Send + 'static,
    S: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<Full<Bytes>>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors, for example: back off a little.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    // Small request/response exchanges: do not let Nagle's algorithm hold
                    // back the answer.
                    let _ = stream.set_nodelay(true);
                    let service = make();
                    connections.spawn(async move {
                        let served = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        if let Err(e) = served {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
    });
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Collects a request body of at most `limit` bytes; `None` when it is larger (or broken).
pub(crate) async fn collect_request<B>(
    request: http::Request<B>,
    limit: usize,
) -> Result<http::Request<Vec<u8>>, http::Response<Vec<u8>>>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let status = |s| {
        let mut r = http::Response::new(Vec::new());
        *r.status_mut() = s;
        r
    };
    if body.size_hint().lower() > limit as u64 {
        return Err(status(http::StatusCode::PAYLOAD_TOO_LARGE));
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(http::Request::from_parts(parts, c.to_bytes().to_vec())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(status(http::StatusCode::PAYLOAD_TOO_LARGE))
        }
        Err(_) => Err(status(http::StatusCode::BAD_REQUEST)),
    }
}

/// `response` with a `Full<Bytes>` body.
pub(crate) fn full(response: http::Response<Vec<u8>>) -> http::Response<Full<Bytes>> {
    response.map(|b| Full::new(Bytes::from(b)))
}
