//! Binding listeners with errors a person can act on, and the response body type the
//! development provider's handler returns. Serving itself is ciba-hyper's
//! [`ciba_hyper::serve_fn`].

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use tokio::net::TcpListener;

use crate::error::CliError;

/// A response with a complete body.
pub(crate) type FullResponse = http::Response<Full<Bytes>>;

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

/// `response` with a `Full<Bytes>` body.
pub(crate) fn full(response: http::Response<Vec<u8>>) -> FullResponse {
    response.map(|body| Full::new(Bytes::from(body)))
}
