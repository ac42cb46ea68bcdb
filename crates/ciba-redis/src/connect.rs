//! Opening a store: one Redis (`redis://`, `rediss://`, `redis+unix://`) or a Redis Cluster,
//! the TLS trust anchors, the start-up `PING` and the eviction-policy check.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use redis::aio::ConnectionManagerConfig;
use redis::{IntoConnectionInfo, TlsCertificates};

use crate::config::{EvictionCheck, RedisStoreConfig};
use crate::error::RedisStoreError;
use crate::link::Link;
use crate::store::RedisStore;

impl RedisStore {
    /// Connects to the Redis at `url`: `redis://[user:password@]host[:port][/db]`,
    /// `rediss://...` (TLS over rustls, trusting the platform's roots and
    /// [`RedisStoreConfig::tls_root_ca_pem`]) or `redis+unix:///path`. Redis must answer a
    /// `PING` within [`RedisStoreConfig::connect_timeout`]; then its `maxmemory-policy` is
    /// checked as [`RedisStoreConfig::eviction_policy`] says. Later outages do not need a
    /// new store: its connections come back by themselves, and meanwhile operations fail
    /// with [`RedisStoreError`]s (503 answers).
    pub async fn connect(
        url: &str,
        config: RedisStoreConfig,
    ) -> Result<RedisStore, RedisStoreError> {
        check_config(&config)?;
        let client = if url.starts_with("rediss://") {
            let root_cert = trust_anchors(&config)?;
            ensure_crypto_provider();
            redis::Client::build_with_tls(
                url,
                TlsCertificates {
                    client_tls: None,
                    root_cert,
                },
            )
        } else {
            redis::Client::open(url)
        }
        .map_err(|source| RedisStoreError::InvalidUrl { source })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(nonzero(config.connect_timeout)))
            .set_response_timeout(Some(nonzero(config.response_timeout)))
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(2);
        let count = config.max_connections.max(1);
        let mut managers = Vec::with_capacity(count);
        for _ in 0..count {
            let manager = within(
                config.connect_timeout,
                client.get_connection_manager_with_config(manager_config.clone()),
            )
            .await?
            .map_err(|source| RedisStoreError::Connect { source })?;
            managers.push(manager);
        }
        let first = managers.remove(0);
        let link = Link::single(first, managers, nonzero(config.response_timeout));
        RedisStore::started(link, config).await
    }

    /// Connects to a Redis Cluster through `nodes` (some of its nodes' URLs, `redis://` or
    /// `rediss://`; the client learns the others). Every script touches one slot (see the
    /// key table in the crate docs). Checked as [`RedisStore::connect`] checks one Redis.
    pub async fn connect_cluster(
        nodes: &[&str],
        config: RedisStoreConfig,
    ) -> Result<RedisStore, RedisStoreError> {
        check_config(&config)?;
        let mut infos = Vec::with_capacity(nodes.len());
        for node in nodes {
            infos.push(
                node.into_connection_info()
                    .map_err(|source| RedisStoreError::InvalidUrl { source })?,
            );
        }
        let mut builder = redis::cluster::ClusterClient::builder(infos)
            .connection_timeout(nonzero(config.connect_timeout))
            .response_timeout(nonzero(config.response_timeout))
            .retries(2)
            .min_retry_wait(20)
            .max_retry_wait(500);
        if nodes.iter().any(|n| n.starts_with("rediss://")) {
            let root_cert = trust_anchors(&config)?;
            ensure_crypto_provider();
            builder = builder.certs(TlsCertificates {
                client_tls: None,
                root_cert,
            });
        }
        let client = builder
            .build()
            .map_err(|source| RedisStoreError::InvalidUrl { source })?;
        let connection = within(config.connect_timeout, client.get_async_connection())
            .await?
            .map_err(|source| RedisStoreError::Connect { source })?;
        let link = Link::cluster(connection, nonzero(config.response_timeout));
        RedisStore::started(link, config).await
    }

    /// The store over `link`, once Redis answered a `PING` within the connect timeout and
    /// its eviction policy was checked.
    async fn started(link: Link, config: RedisStoreConfig) -> Result<RedisStore, RedisStoreError> {
        let connect_timeout = config.connect_timeout;
        let check = config.eviction_policy;
        let store = RedisStore::new(link, config);
        within(connect_timeout, store.ping()).await??;
        if check != EvictionCheck::Ignore {
            store.check_eviction(check).await?;
        }
        Ok(store)
    }

    /// Reads `maxmemory-policy` and warns or refuses when Redis may evict keys. A Redis that
    /// refuses `CONFIG GET` (managed services often do) is logged and accepted.
    async fn check_eviction(&self, check: EvictionCheck) -> Result<(), RedisStoreError> {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg("maxmemory-policy");
        let value: redis::Value = match self.link().query("config_get", &cmd).await {
            Ok(v) => v,
            Err(e) => {
                tracing::info!(
                    target: "ciba_redis",
                    error = %e,
                    "cannot read Redis's maxmemory-policy; make sure it is noeviction"
                );
                return Ok(());
            }
        };
        let mut texts = Vec::new();
        flatten(&value, &mut texts);
        let risky = texts
            .windows(2)
            .filter_map(|w| match w {
                [name, policy] if name.eq_ignore_ascii_case("maxmemory-policy") => Some(policy),
                _ => None,
            })
            .find(|policy| !policy.eq_ignore_ascii_case("noeviction"));
        let Some(policy) = risky else {
            return Ok(());
        };
        if check == EvictionCheck::Refuse {
            return Err(RedisStoreError::EvictionPolicy {
                policy: policy.clone(),
            });
        }
        tracing::warn!(
            target: "ciba_redis",
            policy = %policy,
            "Redis may evict keys under memory pressure (maxmemory-policy is not noeviction): \
             an evicted request or jti breaks one-time redemption or replay protection"
        );
        Ok(())
    }
}

/// Every text in a reply, depth first (`CONFIG GET` answers a flat list from one Redis, a
/// map in RESP3, and a map of nodes from a cluster).
fn flatten(value: &redis::Value, out: &mut Vec<String>) {
    match value {
        redis::Value::BulkString(b) => out.push(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => out.push(s.clone()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|v| flatten(v, out))
        }
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        _ => {}
    }
}

fn check_config(config: &RedisStoreConfig) -> Result<(), RedisStoreError> {
    if config.key_prefix.contains(['{', '}']) {
        return Err(RedisStoreError::InvalidConfig {
            what: "the key prefix contains '{' or '}'",
        });
    }
    Ok(())
}

/// The roots to trust for `rediss://`: `None` (the platform's, as redis-rs loads them)
/// without an extra CA; with one, the platform's and the extra CA, as PEM (redis-rs takes
/// one PEM list in place of the platform's).
fn trust_anchors(config: &RedisStoreConfig) -> Result<Option<Vec<u8>>, RedisStoreError> {
    let Some(extra) = &config.tls_root_ca_pem else {
        return Ok(None);
    };
    if !String::from_utf8_lossy(extra).contains("-----BEGIN CERTIFICATE-----") {
        return Err(RedisStoreError::InvalidConfig {
            what: "tls_root_ca_pem holds no PEM certificate",
        });
    }
    let mut pem = Vec::new();
    for cert in rustls_native_certs::load_native_certs().certs {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        let text = STANDARD.encode(cert.as_ref());
        for line in text.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem.extend_from_slice(extra);
    pem.push(b'\n');
    Ok(Some(pem))
}

/// redis-rs builds its rustls configuration with the process's default crypto provider.
/// When the application installed none, install aws-lc-rs's (the provider ciba-core uses),
/// which is what rustls would pick itself were it the only one compiled in.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one at the same moment: either is fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// `future`, or [`RedisStoreError::Timeout`] after `limit`.
async fn within<T>(
    limit: Duration,
    future: impl std::future::Future<Output = T>,
) -> Result<T, RedisStoreError> {
    tokio::time::timeout(nonzero(limit), future)
        .await
        .map_err(|_| RedisStoreError::Timeout {
            operation: "connect",
            after: limit,
        })
}

/// Zero would mean "no timeout" to redis-rs: use 1 ms.
fn nonzero(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}
