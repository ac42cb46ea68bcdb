//! Integration with hyper-util's legacy client, for a connector of your own (a proxy, a
//! custom TLS stack, ...). The rest of this crate's API does not name hyper-util's types.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;

use crate::transport::HttpClient;

/// Wraps `client` (any connector: plain, TLS, proxy...) in an [`HttpClient`], with the default
/// timeout and body cap ([`HttpClient::timeout`] and [`HttpClient::max_body_bytes`]
/// change them).
pub fn http_client<C>(client: Client<C, Full<Bytes>>) -> HttpClient
where
    C: Connect + Clone + Send + Sync + 'static,
{
    HttpClient::from_legacy_client(client)
}
