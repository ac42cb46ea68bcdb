//! Where `ciba serve` keeps pending requests (`--store`): ciba-server's `MemoryStore` in this
//! process, or ciba-redis's `RedisStore` on one Redis (`redis://`, `rediss://`,
//! `redis+unix://`) or a Redis Cluster (`redis+cluster://` / `rediss+cluster://` followed by
//! comma-separated `HOST:PORT` nodes), shared by every instance that uses it.
//!
//! Redis must answer at start-up: `RedisStore::connect` checks it before anything listens,
//! and its failure is the one-line `error: cannot reach redis at ...` (exit 1). Later
//! failures reach ciba-server as store errors, which it answers with 503
//! `temporarily_unavailable` within `--store-timeout`.

use std::sync::Arc;
use std::time::Duration;

use ciba_redis::{RedisStore, RedisStoreConfig};
use ciba_server::MemoryStore;
use ciba_server::store::MemoryStoreConfig;
use ciba_server::store::Store;
use url::Url;

use crate::cli::{ServeArgs, StoreArg};
use crate::error::{CliError, chain};

/// Opens the store `args.store` names, bounding each client by `--max-pending-per-client`;
/// for Redis, checks that it answers.
pub(crate) async fn open(args: &ServeArgs) -> Result<Arc<dyn Store>, CliError> {
    let url = match &args.store {
        StoreArg::Memory => {
            return Ok(Arc::new(MemoryStore::with_config(
                MemoryStoreConfig::default()
                    .with_max_entries_per_client(args.max_pending_per_client),
            )));
        }
        StoreArg::Redis(url) => url,
    };
    let mut config = RedisStoreConfig::default();
    config.max_entries_per_client = args.max_pending_per_client;
    config.response_timeout = args.store_timeout;
    config.connect_timeout = args.store_timeout.max(Duration::from_secs(1));
    if let Some(path) = &args.redis_ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| CliError::usage(format!("--redis-ca-file {}: {e}", path.display())))?;
        config.tls_root_ca_pem = Some(pem);
    }
    let shown = redacted(url);
    let connected = match cluster_nodes(url) {
        Some(nodes) => {
            let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
            RedisStore::connect_cluster(&nodes, config).await
        }
        None => RedisStore::connect(url, config).await,
    };
    let store = connected
        .map_err(|e| CliError::error(format!("cannot reach redis at {shown}: {}", chain(&e))))?;
    Ok(Arc::new(store))
}

/// The node URLs of `redis+cluster://HOST:PORT,HOST:PORT` (`rediss+cluster://` for TLS),
/// or `None` for a single Redis.
fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let (scheme, rest) = url
        .strip_prefix("redis+cluster://")
        .map(|rest| ("redis", rest))
        .or_else(|| {
            url.strip_prefix("rediss+cluster://")
                .map(|rest| ("rediss", rest))
        })?;
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), rest),
    };
    Some(
        hosts
            .trim_end_matches('/')
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|host| format!("{scheme}://{credentials}{host}"))
            .collect(),
    )
}

/// `url` without its user information (a Redis URL may carry a password).
fn redacted(url: &str) -> String {
    let without_credentials = match url.split_once("://") {
        Some((scheme, rest)) if scheme.ends_with("+cluster") => {
            // Not one URL: drop everything up to the last `@` by hand.
            let hosts = rest.rsplit_once('@').map_or(rest, |(_, hosts)| hosts);
            return format!("{scheme}://{hosts}");
        }
        _ => Url::parse(url),
    };
    match without_credentials {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_show_the_redis_password() {
        assert_eq!(
            redacted("redis://:s3cret@127.0.0.1:6379/2"),
            "redis://127.0.0.1:6379/2"
        );
        assert_eq!(
            redacted("rediss://user:s3cret@redis.internal/0"),
            "rediss://redis.internal/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redacted("redis+cluster://u:s3cret@a:7000,b:7001"),
            "redis+cluster://a:7000,b:7001"
        );
    }

    #[test]
    fn a_cluster_url_names_its_nodes_with_their_credentials() {
        assert_eq!(
            cluster_nodes("redis+cluster://a:7000,b:7001/"),
            Some(vec![
                "redis://a:7000".to_owned(),
                "redis://b:7001".to_owned()
            ])
        );
        assert_eq!(
            cluster_nodes("rediss+cluster://:pw@a:7000,b:7001"),
            Some(vec![
                "rediss://:pw@a:7000".to_owned(),
                "rediss://:pw@b:7001".to_owned()
            ])
        );
        assert_eq!(cluster_nodes("redis://a:7000"), None);
    }
}
