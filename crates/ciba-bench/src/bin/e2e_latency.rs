//! `e2e_latency`: end-to-end latency from the user's approval to validated tokens at the
//! client, per delivery mode, over loopback.
//!
//! ```text
//! cargo run --release -p ciba-bench --bin e2e_latency [-- --flows 50 --poll-flows 10 --poll-interval 1]
//! ```
//!
//! For each mode this starts ciba-hyper's authorization server (ciba-server over a
//! `MemoryStore`, ID tokens signed with the ES256 test key) and ciba-hyper's
//! `NotificationReceiver`, both on `127.0.0.1:0`, and a `CibaClient` over ciba-hyper that
//! discovered the server. Each flow:
//!
//! 1. the client sends the backchannel request and starts waiting for tokens
//!    (`CibaClient::wait_for_tokens`: polls; polls woken by the ping; or waits for the push);
//! 2. after a pause, the instant is recorded and the request approved through the server's
//!    API (`AsHandle::complete`, which also delivers the ping or push notification);
//! 3. the client task records the instant its wait returned validated tokens (ID
//!    token signature and claims checked).
//!
//! The latency is 3 minus 2. Ping and push approve 50 ms after the acknowledgement (the client
//! is waiting by then); the server's interval is 5 s, so only the notification explains tokens
//! sooner. Poll approves at instants spread evenly over one interval after the
//! acknowledgement, so the figures sample every phase of the poll cycle: the expectation is
//! "within one interval" (plus a round trip). One unmeasured flow per mode warms up the
//! connections and the JWK Set cache. Flows run one after another on a two-worker runtime.
//!
//! Output, one line per mode (percentiles by nearest rank):
//!
//! ```text
//! RESULT {"kind":"e2e","mode":"ping","median_ms":...,"p90_ms":...,"max_ms":...,"min_ms":...,"flows":50,"interval_ms":5000,...}
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ciba_bench::{BenchError, emit, keys, server_side};
use ciba_core::{
    AuthRequest, AuthRequestAck, ClientAuth, ClientConfig, ClientSecret, DeliveryMode,
    EndpointPolicy, Hint,
};
use ciba_hyper::server::{
    AsHandle, AuthorizationHooks, AuthorizationServer, BoxFuture, DeliveryOutcome,
};
use ciba_hyper::{CibaClient, ClientOptions, HttpClient, NotificationReceiver, RunningServer};
use ciba_server::store::MemoryStoreConfig;
use ciba_server::{
    AuthMethod, AuthenticationResult, Authorization, CIBA_GRANT_TYPE, CibaServer, ClientMetadata,
    DefaultTokenMinter, EgressPolicy, FailReason, MemoryStore, ServerConfig, StaticClientRegistry,
    Ticket,
};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// The client secret of every client here.
const SECRET: &str = "e2e-latency-client-secret-0123456789";
/// The user every flow asks for.
const LOGIN_HINT: &str = "alice@example.com";
/// The subject the server identifies for [`LOGIN_HINT`].
const SUBJECT: &str = "alice";
/// Ping and push: how long after the acknowledgement the user approves.
const NOTIFIED_APPROVE_AFTER: Duration = Duration::from_millis(50);
/// Ping and push: the server's polling interval (only the notification can beat it).
const NOTIFIED_INTERVAL_S: u64 = 5;
/// Unmeasured flows per mode.
const WARM_UP_FLOWS: usize = 1;

/// The command line.
struct Args {
    flows: usize,
    poll_flows: usize,
    poll_interval_s: u64,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut parsed = Args {
            flows: 50,
            poll_flows: 10,
            poll_interval_s: 1,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> Result<u64, String> {
                let v = args.next().ok_or(format!("{name} needs a value"))?;
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("{name} {v:?} is not a positive integer"))
            };
            match arg.as_str() {
                "--flows" => {
                    parsed.flows = usize::try_from(value("--flows")?).unwrap_or(usize::MAX)
                }
                "--poll-flows" => {
                    parsed.poll_flows =
                        usize::try_from(value("--poll-flows")?).unwrap_or(usize::MAX)
                }
                "--poll-interval" => parsed.poll_interval_s = value("--poll-interval")?,
                other => {
                    return Err(format!(
                        "unknown argument {other:?} (usage: e2e_latency [--flows N] [--poll-flows N] [--poll-interval SECONDS])"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("e2e_latency: {e}");
            return ExitCode::from(2);
        }
    };
    let plans = [
        (DeliveryMode::Poll, args.poll_flows, args.poll_interval_s),
        (DeliveryMode::Ping, args.flows, NOTIFIED_INTERVAL_S),
        (DeliveryMode::Push, args.flows, NOTIFIED_INTERVAL_S),
    ];
    let mut failed = false;
    for (mode, flows, interval_s) in plans {
        match run_mode(mode, flows, interval_s).await {
            Ok(report) => emit(&report),
            Err(e) => {
                eprintln!("e2e_latency: {} mode: {e}", mode.as_str());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Identifies [`LOGIN_HINT`] as [`SUBJECT`]; the approval comes from the driver.
struct Directory;

impl AuthorizationHooks for Directory {
    fn identify_user<'a>(
        &'a self,
        ticket: &'a Ticket,
    ) -> BoxFuture<'a, Result<String, FailReason>> {
        Box::pin(std::future::ready(if ticket.hint.value() == LOGIN_HINT {
            Ok(SUBJECT.to_owned())
        } else {
            Err(FailReason::UnknownUserId)
        }))
    }
}

/// The authorization server and the client's notification receiver of one mode.
struct Loopback {
    issuer: String,
    handle: AsHandle,
    server: RunningServer,
    receiver: NotificationReceiver,
}

impl Loopback {
    /// Starts both, with the client `mode`'s registered (`client_secret_basic`) and the
    /// server's interval set to `interval_s`.
    async fn start(mode: DeliveryMode, interval_s: u64) -> Result<Loopback, BenchError> {
        let receiver = NotificationReceiver::bind("127.0.0.1:0").await?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let mut config = ServerConfig::with_policy(
            issuer.clone(),
            format!("{issuer}/token"),
            format!("{issuer}/bc-authorize"),
            EndpointPolicy::ALLOW_HTTP_LOOPBACK,
        )?;
        config.jwks_uri = Some(format!("{issuer}/jwks"));
        // The notification receiver listens on loopback: the explicit opt-in.
        config.egress_policy = EgressPolicy::allow_loopback();
        let keys = keys::key_set(server_side::ID_TOKEN_ALG)?;
        config.id_token_signing_algs = keys.algorithms();
        config.interval = interval_s;
        config.default_expires_in = 120;
        let mut client = ClientMetadata::new(client_id(mode));
        client.token_endpoint_auth_method = AuthMethod::ClientSecretBasic;
        client.client_secret = Some(SECRET.into());
        client.backchannel_token_delivery_mode = Some(mode);
        client.id_token_signed_response_alg = Some(server_side::ID_TOKEN_ALG.as_str().into());
        if mode.uses_token_endpoint() {
            client.grant_types = vec![CIBA_GRANT_TYPE.into()];
        }
        if mode.uses_notifications() {
            client.backchannel_client_notification_endpoint = Some(receiver.url().to_string());
        }
        let mut registry = StaticClientRegistry::new();
        registry.register(client, &config)?;
        let ciba = CibaServer::new(
            config,
            Arc::new(registry),
            Arc::new(MemoryStore::with_config(MemoryStoreConfig::default())),
            Arc::new(DefaultTokenMinter::new(keys)),
        );
        let service = AuthorizationServer::new(ciba, Directory);
        let handle = service.handle();
        let server = service.serve(listener)?;
        Ok(Loopback {
            issuer,
            handle,
            server,
            receiver,
        })
    }

    /// A client of `mode` that discovered the server.
    async fn client(&self, mode: DeliveryMode) -> Result<CibaClient, BenchError> {
        let auth = ClientAuth::SecretBasic(ClientSecret::new(SECRET));
        let mut config = ClientConfig::new(client_id(mode), auth, mode);
        config.endpoint_policy = EndpointPolicy::ALLOW_HTTP_LOOPBACK;
        if mode.uses_notifications() {
            config.notification_endpoint = Some(self.receiver.url().to_string());
        }
        let options = ClientOptions::default().notifications(self.receiver.registry().clone());
        let client =
            CibaClient::discover(HttpClient::http(), &self.issuer, config, options).await?;
        Ok(client)
    }

    async fn stop(self) {
        self.server.shutdown().await;
        self.receiver.shutdown().await;
    }
}

fn client_id(mode: DeliveryMode) -> String {
    format!("e2e-{}", mode.as_str())
}

/// Runs `flows` measured flows (after the warm-up) of `mode` and summarises them.
async fn run_mode(
    mode: DeliveryMode,
    flows: usize,
    interval_s: u64,
) -> Result<serde_json::Value, BenchError> {
    let env = Loopback::start(mode, interval_s).await?;
    let result = measure(&env, mode, flows, interval_s).await;
    env.stop().await;
    let mut latencies = result?;
    latencies.sort_by(f64::total_cmp);
    let interval_ms = interval_s as f64 * 1000.0;
    let max = latencies.last().copied().unwrap_or(f64::NAN);
    let mut report = json!({
        "kind": "e2e",
        "mode": mode.as_str(),
        "median_ms": round2(nearest_rank(&latencies, 0.5)),
        "p90_ms": round2(nearest_rank(&latencies, 0.9)),
        "max_ms": round2(max),
        "min_ms": round2(latencies.first().copied().unwrap_or(f64::NAN)),
        "flows": latencies.len(),
        "warm_up_flows": WARM_UP_FLOWS,
        "interval_ms": interval_ms,
        "transport": "http/1.1 loopback",
        "id_token_alg": server_side::ID_TOKEN_ALG.as_str(),
    });
    if let Some(map) = report.as_object_mut() {
        if mode == DeliveryMode::Poll {
            map.insert("approvals".into(), "spread evenly over one interval".into());
            map.insert("within_one_interval".into(), (max <= interval_ms).into());
        } else {
            map.insert(
                "approve_after_ms".into(),
                (NOTIFIED_APPROVE_AFTER.as_millis() as u64).into(),
            );
        }
    }
    Ok(report)
}

/// The latencies (ms) of `flows` measured flows.
async fn measure(
    env: &Loopback,
    mode: DeliveryMode,
    flows: usize,
    interval_s: u64,
) -> Result<Vec<f64>, BenchError> {
    let client = env.client(mode).await?;
    let interval = Duration::from_secs(interval_s);
    let mut latencies = Vec::with_capacity(flows);
    for i in 0..WARM_UP_FLOWS + flows {
        let approve_after = match mode {
            DeliveryMode::Poll => {
                // Flow k of n approves at (k + 0.5) / n of the interval.
                let k = i.saturating_sub(WARM_UP_FLOWS);
                interval.mul_f64((k as f64 + 0.5) / flows as f64)
            }
            _ => NOTIFIED_APPROVE_AFTER,
        };
        let latency = flow(env, &client, approve_after).await?;
        if i >= WARM_UP_FLOWS {
            latencies.push(latency.as_secs_f64() * 1000.0);
        }
    }
    Ok(latencies)
}

/// One flow: initiate, wait for tokens in a task, approve after `approve_after`; the time
/// from the approval to validated tokens at the client.
async fn flow(
    env: &Loopback,
    client: &CibaClient,
    approve_after: Duration,
) -> Result<Duration, BenchError> {
    let request = AuthRequest::new(Hint::LoginHint(LOGIN_HINT.into()))
        .scope(["openid", "email"])
        .binding_message("E2E");
    let ack: AuthRequestAck = client.initiate(request).await?;
    let acknowledged = Instant::now();
    let waiting = {
        let client = client.clone();
        let ack = ack.clone();
        tokio::spawn(async move {
            let result = client.wait_for_tokens(&ack).await;
            (result, Instant::now())
        })
    };
    tokio::time::sleep_until(acknowledged + approve_after).await;
    let approved_at = Instant::now();
    let approval = AuthenticationResult::Authorized(Authorization::new(SUBJECT));
    let id: ciba_server::AuthReqId = ack.auth_req_id.as_str().parse()?;
    let delivery = env.handle.complete(&id, approval).await;
    let (tokens, got_at) = waiting.await?;
    let tokens = tokens?;
    match delivery? {
        DeliveryOutcome::NotNeeded | DeliveryOutcome::Delivered { .. } => {}
        other => return Err(format!("notification not delivered: {other:?}").into()),
    }
    if tokens.id_token.sub != SUBJECT {
        return Err(format!("tokens for {:?}, not {SUBJECT}", tokens.id_token.sub).into());
    }
    Ok(got_at.saturating_duration_since(approved_at))
}

/// The `q` quantile of sorted `values` by nearest rank (NaN when empty).
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted
        .get(rank.min(sorted.len()) - 1)
        .copied()
        .unwrap_or(f64::NAN)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::nearest_rank;

    #[test]
    fn nearest_rank_picks_the_smallest_value_covering_the_quantile() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.5), 5.0);
        assert_eq!(nearest_rank(&v, 0.9), 9.0);
        assert_eq!(nearest_rank(&v, 1.0), 10.0);
        assert!(nearest_rank(&[], 0.5).is_nan());
    }
}
