//! The Keycloak load rows of `cargo xtask bench`: the same `load` runs (backchannel, polls
//! over the acknowledged ids, mixed) against Keycloak in dev mode with an in-memory
//! database, one CIBA poll client with client_secret_basic, and its HTTP authentication
//! channel answered by xtask (interop/keycloak.rs). The server CPU per request is the Java
//! process's; the channel's own work (one loopback POST per backchannel request, answered
//! 201 by a thread of xtask) is not in it.

use std::path::Path;

use super::{Plan, as_strs, common_args, program};
use crate::ci::root;
use crate::interop::keycloak::{
    self, ClientAuth, Keycloak, RealmClient, RealmSpec, check_java_tools, ensure_distribution,
};
use crate::json::quote;

const REALM: &str = "bench";
const CLIENT_ID: &str = "bench-poll";
const CLIENT_SECRET: &str = "bench-poll-secret-0123456789abcdef";
/// A JIT needs longer to warm up than the other servers' warm-up window: Keycloak's runs
/// warm up this many times longer (the measured window is the same).
const JVM_WARMUP_FACTOR: u64 = 3;

/// Runs the Keycloak rows, or records why they are missing.
pub(super) fn load_keycloak(
    release: &Path,
    plan: &Plan,
    tmp: &Path,
    results: &mut Vec<String>,
) -> Result<(), String> {
    if let Err(e) = check_java_tools().and_then(|()| run(release, plan, tmp, results)) {
        eprintln!("xtask bench: no Keycloak run: {e}");
        let first = e.lines().next().unwrap_or_default();
        results.push(format!(
            "{{\"kind\":\"missing\",\"what\":{}}}",
            quote(&format!("Keycloak {} ({first})", keycloak::VERSION))
        ));
    }
    Ok(())
}

fn run(release: &Path, plan: &Plan, tmp: &Path, results: &mut Vec<String>) -> Result<(), String> {
    let home = ensure_distribution()?;
    let realm = keycloak::realm_json(
        &root().join("interop"),
        &RealmSpec {
            name: REALM,
            expires_in: 3600,
            interval: 1,
            user_id: "alice",
            clients: vec![RealmClient {
                client_id: CLIENT_ID.to_owned(),
                mode: "poll".to_owned(),
                auth: ClientAuth::Secret(CLIENT_SECRET.to_owned()),
                notification_endpoint: None,
                id_token_alg: "RS256".to_owned(),
            }],
        },
    )?;
    println!(
        "\n==> load: Keycloak {} (dev mode, in-memory database)",
        keycloak::VERSION
    );
    let kc = Keycloak::start(
        &home,
        &[(REALM.to_owned(), realm)],
        &tmp.join("keycloak.log"),
        false,
    )?;
    let addr = kc.base.trim_start_matches("http://").to_owned();
    let pid = kc.java_pid().to_string();
    let base = format!("/realms/{REALM}/protocol/openid-connect");
    let ids = tmp.join("keycloak-ids.txt").to_string_lossy().into_owned();
    let basic = format!("{CLIENT_ID}:{CLIENT_SECRET}");
    let warm = Plan {
        warmup: plan.warmup * JVM_WARMUP_FACTOR,
        duration: plan.duration,
        ..*plan
    };
    for scenario in ["backchannel", "poll", "mixed"] {
        let mut args = common_args(&warm, &addr, &pid, &format!("keycloak/{scenario}"));
        args.extend(
            [
                "--scenario",
                scenario,
                "--basic",
                &basic,
                "--backchannel-path",
                &format!("{base}/ext/ciba/auth"),
                "--token-path",
                &format!("{base}/token"),
                "--hint",
                "alice",
            ]
            .map(str::to_owned),
        );
        args.push(
            if scenario == "backchannel" {
                "--save-ids"
            } else {
                "--ids"
            }
            .to_owned(),
        );
        args.push(ids.clone());
        results.extend(program(release, "load", &as_strs(&args))?);
    }
    println!(
        "    the authentication channel answered {} calls from Keycloak",
        kc.channel.calls()
    );
    Ok(())
}
