//! An instance killed with SIGKILL while it holds 200 flows: another instance finishes
//! every one of them, none is lost and none is redeemed twice. On one Redis, on Redis over
//! TLS and on a Redis Cluster.
//!
//! Instance A is a second OS process: this test binary run again with only the ignored
//! `instance_a_process` test selected and `CIBA_KILL_TEST_ROLE=instance-a` set. It starts
//! 200 flows, approves 100 of them, redeems 50 of those, reports each step on stdout, says
//! `READY`, and then keeps polling the pending flows (so it dies in the middle of store
//! operations) until the parent kills it with SIGKILL, or 60 s pass.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ciba_server::{CompleteError, TokenOutcome};
use common::*;

const FLOWS: usize = 200;
const APPROVED_BY_A: usize = 100;
const REDEEMED_BY_A: usize = 50;
const ROLE: &str = "CIBA_KILL_TEST_ROLE";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "instance A of kill_minus_nine_of_an_instance_loses_no_flow, run by that test in a child process"]
async fn instance_a_process() {
    assert_eq!(
        std::env::var(ROLE).as_deref(),
        Ok("instance-a"),
        "only kill_minus_nine_of_an_instance_loses_no_flow runs this"
    );
    let setup = Setup::from_name(&std::env::var("CIBA_KILL_TEST_SETUP").unwrap());
    let prefix = std::env::var("CIBA_KILL_TEST_PREFIX").unwrap();
    let redis = TestRedis::of(setup);
    let a = server(Arc::new(redis.store_with(&prefix, 10_000).await));
    let mut out = std::io::stdout();
    // End the harness's "test instance_a_process ... " line before ours.
    writeln!(out).unwrap();
    let mut ids = Vec::new();
    for _ in 0..FLOWS {
        ids.push(start(&a, POLL, t0()).await);
    }
    for id in &ids {
        writeln!(out, "FLOW {}", id.as_str()).unwrap();
    }
    for id in &ids[..APPROVED_BY_A] {
        approve(&a, id, t0() + secs(1)).await.unwrap();
        writeln!(out, "APPROVED {}", id.as_str()).unwrap();
    }
    for id in &ids[..REDEEMED_BY_A] {
        let tokens = token(&a, POLL, id, t0() + secs(2)).await;
        writeln!(out, "REDEEMED {} {}", id.as_str(), access_token(&tokens)).unwrap();
    }
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    // Busy until killed: polls of the pending flows, each a read-modify-write in Redis.
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(60) {
        let id = &ids[APPROVED_BY_A + (n as usize % (FLOWS - APPROVED_BY_A))];
        let _ = token(&a, POLL, id, t0() + secs(3 + n / 1000)).await;
        n += 1;
    }
    panic!("instance A was not killed within 60 s");
}

/// Kills the child process if the test ends early.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn kill_minus_nine_of_an_instance_loses_no_flow(setup: Setup) {
    let redis = TestRedis::of(setup);
    let prefix = random_prefix();
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                &instance_a_test_name(),
                "--nocapture",
            ])
            .args(["--test-threads", "1"])
            .env(ROLE, "instance-a")
            .envs(redis.env())
            .env("CIBA_KILL_TEST_SETUP", setup.name())
            .env("CIBA_KILL_TEST_PREFIX", &prefix)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;
    let mut flows = Vec::new();
    let mut approved = HashSet::new();
    let mut redeemed = HashMap::new();
    let mut ready = false;
    let stdout = child.stdout.take().unwrap();
    // Reading the child's pipe blocks: off the async workers.
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line == "READY";
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    for line in lines {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["FLOW", id] => flows.push((*id).to_owned()),
            ["APPROVED", id] => assert!(approved.insert((*id).to_owned())),
            ["REDEEMED", id, at] => {
                assert!(
                    redeemed
                        .insert((*id).to_owned(), (*at).to_owned())
                        .is_none()
                );
            }
            ["READY"] => {
                ready = true;
                break;
            }
            _ => {} // the test harness's own lines
        }
    }
    assert!(ready, "instance A ended before READY: {:?}", child.wait());
    // Let it get well into its polling, then SIGKILL (std's kill on Unix).
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "instance A was killed: {status:?}");
    assert_eq!(
        (flows.len(), approved.len(), redeemed.len()),
        (FLOWS, APPROVED_BY_A, REDEEMED_BY_A)
    );

    // Instance B: its own connections, the same Redis and prefix.
    let b = server(Arc::new(redis.store_with(&prefix, 10_000).await));
    let now = t0() + secs(60);
    let mut issued_by_b = HashSet::new();
    for id in &flows {
        // Nothing A did is lost, and nothing is done twice: A's approvals hold.
        match approve(&b, &aid(id), now).await {
            Ok(_) => assert!(!approved.contains(id), "{id} approved twice"),
            Err(CompleteError::AlreadyCompleted) => assert!(approved.contains(id), "{id}"),
            Err(e) => panic!("{id}: {e:?}"),
        }
        match token(&b, POLL, &aid(id), now + secs(1)).await {
            TokenOutcome::Issued(g) => {
                assert!(!redeemed.contains_key(id), "{id} redeemed twice");
                issued_by_b.insert(g.tokens.access_token.expose().to_owned());
            }
            other => {
                assert!(redeemed.contains_key(id), "{id} lost: {other:?}");
                assert_eq!(token_error(&other), (400, "invalid_grant".into()));
                // The replay of A's redemption revoked A's tokens.
                assert!(b.is_revoked(&redeemed[id], now + secs(1)).await.unwrap());
            }
        }
    }
    assert_eq!(issued_by_b.len(), FLOWS - REDEEMED_BY_A);
    // Every flow is now used up: a second round gets nothing anywhere.
    for id in &flows {
        assert_eq!(
            token_error(&token(&b, POLL, &aid(id), now + secs(10)).await),
            (400, "invalid_grant".into())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_of_an_instance_loses_no_flow_on_one_redis() {
    kill_minus_nine_of_an_instance_loses_no_flow(Setup::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_of_an_instance_loses_no_flow_over_tls() {
    kill_minus_nine_of_an_instance_loses_no_flow(Setup::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_of_an_instance_loses_no_flow_on_a_cluster() {
    kill_minus_nine_of_an_instance_loses_no_flow(Setup::Cluster).await;
}

/// The full name of `instance_a_process` in this test binary (`module::test`).
fn instance_a_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::instance_a_process")
}
