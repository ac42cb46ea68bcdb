//! The Redis set-ups for the tests of ciba-redis and ciba-cli: one plain `redis-server`, one
//! speaking TLS with a certificate from a CA made for the run, and a three-master Redis
//! Cluster, all on free loopback ports (or, for the plain one, the Redis named by
//! `CIBA_TEST_REDIS_URL`). Installed from Debian's packages when missing and running as
//! root; stopped again when the guard is dropped, whether the run passed or failed.
//!
//! The starters themselves live in ciba-test's `services` module (std only), shared with the
//! tests so that they and CI start the very same set-ups.

use std::path::Path;

use ciba_test::services::{self, Service};

/// The environment variables the tests read.
pub(crate) const URL_VAR: &str = "CIBA_TEST_REDIS_URL";
const TLS_URL_VAR: &str = "CIBA_TEST_REDIS_TLS_URL";
const TLS_CA_VAR: &str = "CIBA_TEST_REDIS_TLS_CA";
const CLUSTER_VAR: &str = "CIBA_TEST_REDIS_CLUSTER_NODES";

/// The Redis set-ups the tests use while this lives; stops what it started on drop.
pub(crate) struct TestRedis {
    vars: Vec<(&'static str, String)>,
    started: Vec<Service>,
}

impl TestRedis {
    /// `name=value` for the test runs' environment.
    pub(crate) fn env(&self) -> Vec<(&'static str, &str)> {
        self.vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if !self.started.is_empty() {
            for service in &mut self.started {
                service.stop();
            }
            println!("<== redis-server processes stopped");
        }
    }
}

/// Makes the three set-ups available. Under `CI=true` one that cannot be had is an error;
/// elsewhere a warning (the tests that need it then fail loudly).
pub(crate) fn ensure() -> Result<TestRedis, String> {
    let mut redis = TestRedis {
        vars: Vec::new(),
        started: Vec::new(),
    };
    crate::services::ensure_debian_binary(services::REDIS_SERVER, "redis-server")?;
    crate::services::ensure_debian_binary(services::REDIS_CLI, "redis-tools")?;
    if !Path::new(services::REDIS_SERVER).exists() {
        return Ok(redis);
    }
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => {
            println!("\n==> using the Redis at {URL_VAR}");
            redis.vars.push((URL_VAR, url));
        }
        _ => {
            println!("\n==> starting redis-server on a free loopback port");
            let single = services::start_single()?;
            redis.vars.push((URL_VAR, single.url.clone()));
            redis.started.push(single);
        }
    }
    println!("==> starting redis-server with TLS (a CA made for this run)");
    let tls = services::start_tls()?;
    redis.vars.push((TLS_URL_VAR, tls.url.clone()));
    if let Some(ca) = &tls.ca_file {
        redis.vars.push((TLS_CA_VAR, ca.display().to_string()));
    }
    redis.started.push(tls);
    println!("==> starting a three-master Redis Cluster");
    let cluster = services::start_cluster()?;
    redis.vars.push((CLUSTER_VAR, cluster.nodes.join(",")));
    redis.started.push(cluster);
    Ok(redis)
}
