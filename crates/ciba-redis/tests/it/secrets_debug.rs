//! No credential in the `Debug` (or `Display`) output of ciba-redis's public types: the
//! Redis URL given to `RedisStore` may carry a password, which neither the store, its
//! configuration nor its errors (invalid URL, connection refused) may print
//! (docs/security.md, "Secrets"). No Redis server is needed: the connection errors come from
//! a port nothing listens on.

use std::time::Duration;

use ciba_redis::{RedisStore, RedisStoreConfig};
use ciba_server::store::StoreError;

const PASSWORD: &str = "SECRET-redis-password-9f3a";
const USER: &str = "SECRET-redis-user-51c2";

fn assert_hidden(what: &str, text: &str) {
    for s in [PASSWORD, USER] {
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
    }
}

fn quick() -> RedisStoreConfig {
    let mut config = RedisStoreConfig::default();
    config.key_prefix = "ciba-secrets-debug:".to_owned();
    config.max_connections = 1;
    config.connect_timeout = Duration::from_millis(300);
    config.response_timeout = Duration::from_millis(300);
    config
}

/// Shows an error the ways a server log would: `Display`, `Debug`, and the `source` chain.
fn shown(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{e} / {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(" / {s} / {s:?}"));
        source = s.source();
    }
    out
}

#[test]
fn config_never_prints_the_ca_certificate() {
    let mut config = quick();
    config.tls_root_ca_pem = Some(PASSWORD.as_bytes().to_vec());
    assert_hidden("RedisStoreConfig", &format!("{config:?}"));
}

#[tokio::test]
async fn connection_errors_never_print_the_url_credentials() {
    for url in [
        format!("redis://{USER}:{PASSWORD}@127.0.0.1:1/0"),
        format!("redis://:{PASSWORD}@127.0.0.1:1"),
        format!("rediss://{USER}:{PASSWORD}@127.0.0.1:1/0"),
        format!("redis+unix:///tmp/ciba-no-such.sock?user={USER}&pass={PASSWORD}"),
    ] {
        let e = RedisStore::connect(&url, quick()).await.unwrap_err();
        assert!(e.is_unreachable(), "{e:?}");
        assert_hidden("RedisStoreError", &shown(&e));
        // What ciba-server sees (and logs) of it.
        let e = StoreError::from(e);
        assert_hidden("StoreError", &shown(&e));
    }
}

#[tokio::test]
async fn invalid_url_errors_never_print_the_url_credentials() {
    for url in [
        format!("redis://{USER}:{PASSWORD}@127.0.0.1:notaport/0"),
        format!("redis://{USER}:{PASSWORD}@127.0.0.1:1/notadb"),
        format!("nosuchscheme://{USER}:{PASSWORD}@127.0.0.1:1"),
        format!("{USER}:{PASSWORD}"),
    ] {
        let e = RedisStore::connect(&url, quick()).await.unwrap_err();
        assert_hidden("RedisStoreError", &shown(&e));
        let nodes = [url.as_str()];
        let e = RedisStore::connect_cluster(&nodes, quick())
            .await
            .unwrap_err();
        assert_hidden("RedisStoreError (cluster)", &shown(&e));
    }
}
