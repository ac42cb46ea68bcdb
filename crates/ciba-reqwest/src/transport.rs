//! Moving bytes: one `http::Request<Vec<u8>>` out, one `http::Response<Vec<u8>>` back, within a
//! timeout and a body cap, never following a redirect. No protocol decision is made here.

use std::time::Duration;

use tracing::debug;

use crate::error::{Error, TransportErrorKind};

/// The reqwest side of a [`CibaClient`](crate::CibaClient).
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    timeout: Duration,
    max_body_bytes: usize,
}

/// The `User-Agent` sent with every request.
const USER_AGENT: &str = concat!("ciba-reqwest/", env!("CARGO_PKG_VERSION"));

impl Transport {
    /// A transport over `client`, or over a new reqwest client that never follows redirects,
    /// presents `identity` when given, and refuses plain http unless `allow_http` is set.
    pub(crate) fn new(
        client: Option<reqwest::Client>,
        identity: Option<reqwest::Identity>,
        allow_http: bool,
        timeout: Duration,
        max_body_bytes: usize,
    ) -> Result<Transport, Error> {
        let client = match client {
            Some(c) => c,
            None => {
                let mut builder = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(USER_AGENT)
                    .https_only(!allow_http)
                    .connect_timeout(timeout)
                    .timeout(timeout);
                if let Some(identity) = identity {
                    builder = builder.identity(identity);
                }
                builder.build().map_err(|e| Error::Transport {
                    kind: TransportErrorKind::InvalidRequest,
                    message: e.to_string(),
                    source: Some(Box::new(e)),
                })?
            }
        };
        Ok(Transport {
            client,
            timeout,
            max_body_bytes,
        })
    }

    /// Sends `request` and reads the whole response, or fails with a transport error. The
    /// timeout covers everything from sending to the last body byte. Dropping the future
    /// aborts the exchange.
    pub(crate) async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let method = request.method().clone();
        let request = reqwest::Request::try_from(request)
            .map_err(|e| Error::from_reqwest(e, self.timeout))?;
        let url = request.url().clone();
        debug!(%method, url = %redacted(&url), "sending");
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(Ok(response)) => {
                debug!(%method, url = %redacted(&url), status = response.status().as_u16(), bytes = response.body().len(), "received");
                Ok(response)
            }
            Ok(Err(e)) => {
                debug!(%method, url = %redacted(&url), error = %e, "exchange failed");
                Err(e)
            }
            Err(_) => {
                debug!(%method, url = %redacted(&url), timeout = ?self.timeout, "timed out");
                Err(Error::Timeout {
                    after: self.timeout,
                })
            }
        }
    }

    async fn exchange(&self, request: reqwest::Request) -> Result<http::Response<Vec<u8>>, Error> {
        let requested = request.url().clone();
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| Error::from_reqwest(e, self.timeout))?;
        if response.url() != &requested {
            return Err(Error::RedirectFollowed);
        }
        let limit = self.max_body_bytes;
        let announced = response.content_length().unwrap_or(0);
        if usize::try_from(announced).map_or(true, |n| n > limit) {
            return Err(Error::BodyTooLarge { limit });
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        // Content-Length is only a hint: count what actually arrives.
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0).min(limit));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Error::from_reqwest(e, self.timeout))?
        {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(Error::BodyTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|e| Error::Transport {
            kind: TransportErrorKind::Other,
            message: e.to_string(),
            source: Some(Box::new(e)),
        })
    }
}

/// The URL for logs: scheme, host, port and path only.
pub(crate) fn redacted(url: &url::Url) -> String {
    stripped(url).to_string()
}

/// `url` without userinfo, query and fragment, which may carry credentials.
pub(crate) fn stripped(url: &url::Url) -> url::Url {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn logged_urls_lose_query_and_credentials() {
        let url = url::Url::parse("https://u:p@op.example/token?code=secret#f").unwrap();
        assert_eq!(redacted(&url), "https://op.example/token");
    }

    #[tokio::test]
    async fn an_unsendable_request_is_an_invalid_request_error() {
        let t = Transport::new(None, None, false, Duration::from_secs(1), 1024).unwrap();
        let request = http::Request::get("/relative").body(Vec::new()).unwrap();
        match t.send(request).await {
            Err(Error::Transport { kind, .. }) => {
                assert_eq!(kind, TransportErrorKind::InvalidRequest)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn transport_errors_never_name_credentials_or_queries_of_the_url() {
        // reqwest's own messages name the URL in full; ours keep scheme, host, port and path.
        let t = Transport::new(None, None, true, Duration::from_secs(5), 1024).unwrap();
        let request = http::Request::get("http://user:SECRET-pw@127.0.0.1:9/p?key=SECRET-q")
            .body(Vec::new())
            .unwrap();
        let e = t.send(request).await.unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(
            matches!(e, Error::Transport { .. } | Error::Timeout { .. }),
            "{shown}"
        );
        assert!(!shown.contains("SECRET"), "{shown}");
    }

    #[tokio::test]
    async fn plain_http_is_refused_unless_allowed() {
        let t = Transport::new(None, None, false, Duration::from_secs(1), 1024).unwrap();
        let request = http::Request::get("http://127.0.0.1:9/")
            .body(Vec::new())
            .unwrap();
        assert!(matches!(
            t.send(request).await,
            Err(Error::Transport { .. })
        ));
    }
}
