//! Where `ciba serve` keeps pending requests (`--store`): ciba-server's `MemoryStore` in this
//! process, or ciba-redis's `RedisStore`, shared by every instance that uses the same Redis.
//!
//! Redis must answer at start-up: `RedisStore::ping` runs before anything listens, and its
//! failure is the one-line `error: cannot reach redis at ...` (exit 1). Later failures reach
//! ciba-server as store errors, which it answers with 503 `temporarily_unavailable`.

use std::sync::Arc;

use ciba_redis::RedisStore;
use ciba_server::MemoryStore;
use ciba_server::store::MemoryStoreConfig;
use ciba_server::store::Store;
use url::Url;

use crate::cli::StoreArg;
use crate::error::{CliError, chain};

/// Opens the store `arg` names; for Redis, checks that it answers. `max_per_client` bounds
/// what one client may keep in a memory store (Redis has its own bound).
pub(crate) async fn open(
    arg: &StoreArg,
    max_per_client: usize,
) -> Result<Arc<dyn Store>, CliError> {
    let url = match arg {
        StoreArg::Memory => {
            return Ok(Arc::new(MemoryStore::with_config(MemoryStoreConfig {
                max_entries_per_client: max_per_client,
            })));
        }
        StoreArg::Redis(url) => url,
    };
    let shown = redacted(url);
    let store = RedisStore::open(url)
        .map_err(|e| CliError::usage(format!("--store {shown}: {}", chain(&e))))?;
    // The store's connections are blocking: check on a blocking thread.
    let (store, answered) = tokio::task::spawn_blocking(move || {
        let answered = store.ping();
        (store, answered)
    })
    .await
    .map_err(|e| CliError::error(format!("the redis check did not finish: {e}")))?;
    answered
        .map_err(|e| CliError::error(format!("cannot reach redis at {shown}: {}", chain(&e))))?;
    Ok(Arc::new(store))
}

/// `url` without its user information (a Redis URL may carry a password).
fn redacted(url: &str) -> String {
    match Url::parse(url) {
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
            redacted("redis://user:s3cret@redis.internal/0"),
            "redis://redis.internal/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
