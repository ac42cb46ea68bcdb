//! Serving the development provider's request handler (the CIBA endpoints and the device
//! page) over HTTP/1.1 on a TCP listener until stopped, and binding listeners with errors a
//! person can act on.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::CliError;

/// A response with a complete body.
pub(crate) type FullResponse = http::Response<Full<Bytes>>;

/// A running server; stopped by [`HttpServer::shutdown`] or when dropped.
#[derive(Debug)]
pub(crate) struct HttpServer {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Stops accepting, closes the open connections and waits for the server task.
    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `addr`; the error says which address could not be used and why (in use, not
/// permitted, not a local address).
pub(crate) async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, CliError> {
    TcpListener::bind(addr).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            std::io::ErrorKind::AddrNotAvailable => "not an address of this machine".to_owned(),
            _ => e.to_string(),
        };
        CliError::error(format!("cannot listen on {addr} for the {what}: {why}"))
    })
}

/// Serves `handler` on `listener` in a spawned task, one task per connection.
pub(crate) fn spawn<H, F>(listener: TcpListener, handler: H) -> HttpServer
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = FullResponse> + Send + 'static,
{
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    let handler = handler.clone();
                    let service = hyper::service::service_fn(move |request| {
                        let response = handler(request);
                        async move { Ok::<_, Infallible>(response.await) }
                    });
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
    HttpServer {
        stop: Some(stop),
        task: Some(task),
    }
}

/// `response` with a `Full<Bytes>` body.
pub(crate) fn full(response: http::Response<Vec<u8>>) -> FullResponse {
    response.map(|body| Full::new(Bytes::from(body)))
}
