//! No credential in the `Debug` (or `Display`) output of ciba-redis's public types: the
//! Redis URL given to `RedisStore` may carry a password, which neither the store, its
//! configuration nor its errors (invalid URL, connection refused) may print
//! (docs/security.md, "Secrets"). No Redis server is needed: a store connects lazily, and the
//! connection errors come from a port nothing listens on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use ciba_redis::{RedisStore, RedisStoreConfig, RedisStoreError};
use ciba_server::store::StoreError;

const PASSWORD: &str = "SECRET-redis-password-9f3a";
const USER: &str = "SECRET-redis-user-51c2";

fn assert_hidden(what: &str, text: &str) {
    for s in [PASSWORD, USER] {
        assert!(!text.contains(s), "{what} prints {s:?}: {text}");
    }
}

fn quick() -> RedisStoreConfig {
    RedisStoreConfig {
        key_prefix: "ciba-secrets-debug:".to_owned(),
        max_connections: 1,
        connect_timeout: Duration::from_millis(300),
        response_timeout: Duration::from_millis(300),
        ..RedisStoreConfig::default()
    }
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
fn store_and_config_never_print_the_url_credentials() {
    for url in [
        format!("redis://{USER}:{PASSWORD}@127.0.0.1:1/0"),
        format!("redis://:{PASSWORD}@127.0.0.1:1"),
        format!("redis+unix:///tmp/ciba-no-such.sock?user={USER}&pass={PASSWORD}"),
    ] {
        let store = RedisStore::with_config(&url, quick()).unwrap();
        assert_hidden("RedisStore", &format!("{store:?}"));
        assert_hidden("RedisStore {:#?}", &format!("{store:#?}"));
        assert_hidden("RedisStoreConfig", &format!("{:?}", store.config()));
    }
}

#[test]
fn connection_errors_never_print_the_url_credentials() {
    // Nothing listens on port 1 of loopback: every operation fails to connect.
    let url = format!("redis://{USER}:{PASSWORD}@127.0.0.1:1/0");
    let store = RedisStore::with_config(&url, quick()).unwrap();
    let e = store.ping().unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert_hidden("RedisStoreError", &shown(&e));
    // What ciba-server sees (and logs) of it.
    let e = StoreError::from(e);
    assert_hidden("StoreError", &shown(&e));
}

#[test]
fn invalid_url_errors_never_print_the_url_credentials() {
    for url in [
        format!("redis://{USER}:{PASSWORD}@127.0.0.1:notaport/0"),
        format!("redis://{USER}:{PASSWORD}@127.0.0.1:1/notadb"),
        format!("nosuchscheme://{USER}:{PASSWORD}@127.0.0.1:1"),
        // TLS is not compiled in.
        format!("rediss://{USER}:{PASSWORD}@localhost:1/2"),
        format!("{USER}:{PASSWORD}"),
    ] {
        match RedisStore::with_config(&url, quick()) {
            Err(e) => {
                assert!(matches!(e, RedisStoreError::InvalidUrl { .. }), "{e:?}");
                assert_hidden("RedisStoreError::InvalidUrl", &shown(&e));
            }
            // Accepted by the parser: then it must fail on use, without printing either.
            Ok(store) => {
                assert_hidden("RedisStore", &format!("{store:?}"));
                if let Err(e) = store.ping() {
                    assert_hidden("RedisStoreError", &shown(&e));
                }
            }
        }
    }
}
