//! One device list for every instance: two `ciba serve` instances on one Redis (a
//! `redis-server` this test starts on a free port) serve one issuer, and the device API of
//! either lists and decides the requests of both. Instance A starts a request, instance B's
//! device API lists and approves it, and the client redeems it on A. The same walk on one
//! instance over the memory store checks the device API's side of it without Redis.

#![allow(missing_docs)]

use crate::support;

use std::time::Duration;

use serde_json::Value;
use support::redis::TestRedis;
use support::{
    CIBA_GRANT, MANUAL, bc_authorize, form_post, http, json, poll_clients_file, serve,
    two_instances,
};

const CLIENT: &str = "shared-list-poll";
const SECRET: &str = "a-long-secret-for-the-shared-device-list";

/// The device API's list at `base`: the entries of this test's client.
fn listed(base: &str) -> Vec<Value> {
    let (status, body) = http("GET", &format!("{base}/device/api/pending"), None);
    assert_eq!(status, 200, "{body}");
    json(&body)["pending"]
        .as_array()
        .unwrap_or_else(|| panic!("no pending list: {body}"))
        .iter()
        .filter(|r| r["client_id"] == CLIENT)
        .cloned()
        .collect()
}

/// Starts a request on `a`, lists and approves it through `b`'s device API, redeems it on
/// `a`; then neither lists it and it cannot be decided again.
fn start_on_a_approve_on_b_redeem_on_a(a: &str, b: &str) {
    let id = bc_authorize(
        a,
        CLIENT,
        SECRET,
        "scope=openid&login_hint=carol&binding_message=ONE-LIST",
    );
    let token_form = format!("grant_type={CIBA_GRANT}&auth_req_id={id}");

    let on_b = listed(b);
    assert_eq!(on_b.len(), 1, "B lists the request A started: {on_b:?}");
    assert_eq!(on_b[0]["auth_req_id"], id.as_str());
    assert_eq!(on_b[0]["subject"], "carol");
    assert_eq!(on_b[0]["binding_message"], "ONE-LIST");
    assert_eq!(on_b[0]["mode"], "poll");
    assert_eq!(listed(a), on_b, "A lists the same request");

    // The client polls A before the user answers.
    let (status, body) = form_post(&format!("{a}/token"), CLIENT, SECRET, &token_form);
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["error"], "authorization_pending", "{body}");

    let (status, body) = http("POST", &format!("{b}/device/api/{id}/approve"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["decision"], "approved");

    // Redeemed on A, after the interval (1 s) since the last poll.
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = form_post(&format!("{a}/token"), CLIENT, SECRET, &token_form);
    assert_eq!(status, 200, "{body}");
    assert!(json(&body)["id_token"].is_string(), "{body}");

    assert!(listed(a).is_empty() && listed(b).is_empty());
    let (status, body) = http("POST", &format!("{a}/device/api/{id}/deny"), None);
    assert_eq!(status, 404, "decided once, on any instance: {body}");
}

#[test]
fn two_instances_on_one_redis_share_the_device_list() {
    let redis = TestRedis::dedicated();
    let (dir, clients) = poll_clients_file("shared-list", CLIENT, SECRET);
    let (a, b, b_url) = two_instances(redis.url(), &clients);
    start_on_a_approve_on_b_redeem_on_a(&a.issuer, &b_url);
    drop((a, b));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn one_instance_over_the_memory_store_lists_approves_and_redeems() {
    let (dir, clients) = poll_clients_file("memory-list", CLIENT, SECRET);
    let served = serve(
        &[&["--clients", clients.to_str().unwrap()][..], &MANUAL].concat(),
        0,
    );
    start_on_a_approve_on_b_redeem_on_a(&served.issuer, &served.issuer);
    drop(served);
    let _ = std::fs::remove_dir_all(dir);
}
