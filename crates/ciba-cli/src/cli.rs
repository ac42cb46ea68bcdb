//! The command line: every subcommand, its options, and the examples `--help` shows.
//!
//! Parsing only; each subcommand runs in its own module ([`crate::demo`], [`crate::serve`],
//! [`crate::login`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

const TOP_HELP: &str = "\
Examples:
  ciba demo                      run poll, ping and push against a built-in provider
  ciba serve --addr 127.0.0.1:8080 --auto approve:2
  ciba login --issuer http://127.0.0.1:8080 --client-id demo-poll \\
             --client-secret <secret> --login-hint alice --allow-insecure-loopback

Exit codes:
  0  success          1  error          2  usage error
  3  access denied    4  request expired";

const DEMO_HELP: &str = "\
Example:
  ciba demo                         all three modes; the simulated user approves after 2 s
  ciba demo --mode push --approve-after 5
  ciba demo --deny                  every flow must end with access_denied

The demo starts a CIBA provider on a free loopback port (memory store, simulated
authentication device) and runs a client through each mode. Progress goes to stderr; the
per-mode result table goes to stdout.

Exit codes:
  0  every flow ended as expected (tokens; with --deny, access_denied)
  1  a flow ended otherwise, or the provider could not start";

const SERVE_HELP: &str = "\
Example:
  ciba serve --addr 127.0.0.1:8080 --auto approve:2
  ciba serve --addr 127.0.0.1:0 --auto manual      # then open <issuer>/device
  ciba serve --addr 127.0.0.1:8080 --users users.json --auto manual
  ciba serve --addr 0.0.0.0:8080 --issuer https://op.example --clients clients.json \\
             --device-secret generate        # behind a TLS proxy for op.example

Output: the first line of stdout is `issuer: <URL>` (with the bound port when --addr uses
port 0), then `device page: <URL>` and, without --clients, one `client: ...` line per demo
client with its id, secret and mode. The ping and push demo clients are registered with
notification endpoints on the provider's port + 1 and + 2: give that address to
`ciba login --listen`.

Authentication device: <issuer>/device lists pending requests with Approve and Deny buttons.
Scripts use the JSON API beside it:
  GET  /device/api/pending
  POST /device/api/{auth_req_id}/approve
  POST /device/api/{auth_req_id}/deny
The page and its API answer only requests whose Host names the issuer or the bound address
(on a loopback or 0.0.0.0 bind: 127.0.0.1:PORT, [::1]:PORT, localhost:PORT); any other Host
is answered 421 with no data, so a web page that reaches the provider by DNS rebinding sees
and decides nothing. A POST whose Origin is another site is refused (403).

Device access secret: a bind to a non-loopback address (0.0.0.0, a LAN address) refuses to
start without --device-secret, since anyone who reaches the port could approve requests.
--device-secret generate makes a random 256-bit secret and prints the device page URL with
it (device page: <issuer>/device?secret=...); --device-secret VALUE (16 to 256 characters
from A-Z a-z 0-9 - . _ ~; visible in the process list) uses yours. Opening
/device?secret=... once sets an HttpOnly, SameSite=Strict cookie for the page; scripts send
the header Ciba-Device-Secret: <secret>. Without it the page and API answer 403. Plain http
carries the secret in the clear: put TLS in front of a provider others reach.

Users: without --users, any login_hint names a user (the subject is the hint itself), and
user codes are not supported. --users FILE is a JSON array of users:
  [{\"subject\": \"248289761001\", \"login_hints\": [\"alice\", \"alice@example.com\"],
    \"user_code\": \"4711\", \"id_token_hint_subjects\": [\"alice-old\"]}]
Only listed users exist: another login_hint, or an id_token_hint whose sub is neither a
subject nor listed, is unknown_user_id. When some user has a user_code, discovery advertises
backchannel_user_code_parameter_supported, and clients registered with
backchannel_user_code_parameter must send the user's code (none: missing_user_code; another:
invalid_user_code).

Client text: every request is printed on stderr (client, login_hint, the user it names or
why it was refused, binding_message), with control, bidirectional and zero-width characters
escaped as \\u{XXXX}; the device page shows them escaped too. A binding_message holding
bidirectional or zero-width characters is refused (invalid_binding_message).

--clients FILE is a JSON array of client metadata under the standard names (client_id,
client_secret, token_endpoint_auth_method, grant_types, backchannel_token_delivery_mode,
backchannel_client_notification_endpoint, backchannel_authentication_request_signing_alg,
backchannel_user_code_parameter, id_token_signed_response_alg, jwks). Members the provider
cannot honour are refused (invalid_client_metadata). A client with
id_token_encrypted_response_alg (RSA-OAEP-256 or ECDH-ES+A256KW) and optionally
id_token_encrypted_response_enc (A128CBC-HS256, the default, or A256GCM) gets its ID tokens
signed, then encrypted to the matching key of its jwks.

Notification endpoints: https, on a public address. Loopback, private, link-local, CGNAT
and cloud metadata addresses are refused, at registration and again when each notification
is sent (the name is resolved, every address checked, and the connection pinned to it). On a
loopback issuer, the development opt-in applies: http notification endpoints on loopback are
accepted and delivered to; the other refusals stay.

ID token keys: by default a fresh RS256 key and a fresh Ed25519 key; discovery lists RS256
and EdDSA in id_token_signing_alg_values_supported. Each --signing-key FILE adds one key (a
private JWK with alg and kid, one per algorithm); one of them must be RS256. A client gets
ID tokens signed with its id_token_signed_response_alg (RS256 when it registered none).

FAPI-CIBA: --fapi --tls-cert FILE.pem --tls-key FILE.pem serves https (issuer
https://HOST:PORT) with the FAPI-CIBA profile: poll and ping only, signed authentication
requests (PS256 or ES256) with a binding_message, private_key_jwt or mutual-TLS client
authentication (client certificates are requested, optional, and any certificate whose key
the client proves is accepted: self_signed_tls_client_auth compares it with the client's
registered keys), and sender-constrained access tokens (DPoP, or bound to the client's
certificate) issued as JWTs (RFC 9068, aud = the issuer). The default ID token keys are a
fresh RS256 key and a fresh ES256 key. --fapi without --tls-cert and --tls-key is a usage
error, and so is --fapi without --clients (the demo clients use client_secret_basic, which
FAPI-CIBA does not allow). Loopback notification endpoints stay allowed on a loopback issuer.
  ciba serve --fapi --tls-cert op.pem --tls-key op.key --clients fapi-clients.json \\
             --auto approve:1

Ctrl-C stops the server.

Limits: at most --max-connections connections are served at once (512; more wait to be
accepted). A connection is closed when its request head takes longer than --header-timeout
(10s, also the longest idle time between requests); a body slower than --body-timeout (10s)
is answered 408; a request not answered within --request-timeout (30s) of its head has its
connection closed. Bodies over 64 KiB are answered 413.

Store: --store memory (the default) keeps pending requests in this process. With a Redis
URL they live in Redis, so several instances can serve one issuer:
  redis://[:PASSWORD@]HOST:PORT[/DB]        one Redis (also redis+unix:///PATH)
  rediss://HOST:PORT[/DB]                   one Redis over TLS (--redis-ca-file adds a CA)
  redis+cluster://HOST:PORT,HOST:PORT,...   a Redis Cluster (some of its nodes)
  rediss+cluster://HOST:PORT,...            a Redis Cluster over TLS
Redis must answer at start-up (otherwise: exit 1); later, while it is unreachable or does
not answer within --store-timeout, the endpoints answer 503 temporarily_unavailable with
Retry-After. --max-pending-per-client bounds each client in either store.

Several instances: start each with the same --store redis://..., --clients file,
--signing-key files and --issuer (the URL clients use: a load balancer's, or one instance's
own). Every instance answers on the paths of that issuer, so a request started on one can
be polled and redeemed on another, and all sign ID tokens with the same published keys:
  ciba serve --addr 127.0.0.1:8080 --store redis://127.0.0.1:6379 --clients c.json \
             --signing-key op-rs256.jwk --signing-key op-es256.jwk
  ciba serve --addr 127.0.0.1:8081 --store redis://127.0.0.1:6379 --clients c.json \
             --signing-key op-rs256.jwk --signing-key op-es256.jwk --issuer http://127.0.0.1:8080
Every instance's device page and API list, approve and deny the requests of the shared
store, whichever instance started them.

Exit codes:
  0  stopped by Ctrl-C     1  error (port in use, Redis unreachable, ...)     2  usage error";

const LOGIN_HELP: &str = "\
Example:
  ciba login --issuer http://127.0.0.1:8080 --client-id demo-poll --client-secret <secret> \\
             --login-hint alice --binding-message W4SCT --allow-insecure-loopback
  ciba login --issuer https://op.example --client-id rp --private-key rp.jwk \\
             --login-hint alice@example.com --mode ping --listen 127.0.0.1:9000

Output: progress on stderr; on success, stdout gets one JSON object with the validated token
response (it CONTAINS THE TOKENS: access_token, refresh_token, id_token) and the ID token
claims: {\"token_response\": {...}, \"id_token_claims\": {...}}.

Client secret: --client-secret-file FILE, or the CIBA_CLIENT_SECRET environment variable, or
--client-secret S (visible in the process list: a warning says so).

Ping and push: a notification receiver (ciba-hyper's) listens on --listen (default
127.0.0.1:0) and the notification URL the client must have registered is printed on stderr.
Without --notification-token a random client_notification_token is generated. A refused
notification (a wrong token, a pushed ID token that fails validation) shows at once in the
progress line, and the final error names it.

Transport: one client (ciba-client) over --transport reqwest (the default; TLS) or
--transport hyper (no TLS connector in this command: http issuers only, with
--allow-insecure-loopback).

Exit codes:
  0  tokens received and validated
  1  error (network, protocol, validation, provider refused the client, ...)
  2  usage error (bad option, unreadable key file)
  3  access denied (access_denied)
  4  the request expired before the user answered (expired_token)";

/// `ciba`: an OpenID Connect CIBA toolbox.
#[derive(Debug, Parser)]
#[command(
    name = "ciba",
    version,
    about = "OpenID Connect CIBA (Client-Initiated Backchannel Authentication): demo, development provider, client",
    after_help = TOP_HELP
)]
pub(crate) struct Cli {
    /// Log protocol details to stderr (`-v` debug, `-vv` trace; RUST_LOG also works).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process: its size does not matter
pub(crate) enum Command {
    /// Run a provider and a client on loopback through poll, ping and push, and report.
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
    /// Run a development CIBA provider with an authentication-device web page.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Run one CIBA flow against a provider and print the validated tokens as JSON.
    #[command(after_help = LOGIN_HELP)]
    Login(Box<LoginArgs>),
}

/// A CIBA token delivery mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub(crate) enum Mode {
    /// The client polls the token endpoint.
    Poll,
    /// The provider pings the client, which then calls the token endpoint.
    Ping,
    /// The provider pushes the tokens to the client.
    Push,
}

impl Mode {
    /// The three modes, in the order the demo runs them.
    pub(crate) const ALL: [Mode; 3] = [Mode::Poll, Mode::Ping, Mode::Push];

    /// The mode as ciba-core names it.
    pub(crate) fn delivery_mode(self) -> ciba_core::DeliveryMode {
        match self {
            Mode::Poll => ciba_core::DeliveryMode::Poll,
            Mode::Ping => ciba_core::DeliveryMode::Ping,
            Mode::Push => ciba_core::DeliveryMode::Push,
        }
    }

    /// The registered name (`poll`, `ping`, `push`).
    pub(crate) fn as_str(self) -> &'static str {
        self.delivery_mode().as_str()
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which modes the demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DemoMode {
    /// Poll only.
    Poll,
    /// Ping only.
    Ping,
    /// Push only.
    Push,
    /// Poll, then ping, then push.
    All,
}

impl DemoMode {
    /// The modes to run, in order.
    pub(crate) fn modes(self) -> Vec<Mode> {
        match self {
            DemoMode::Poll => vec![Mode::Poll],
            DemoMode::Ping => vec![Mode::Ping],
            DemoMode::Push => vec![Mode::Push],
            DemoMode::All => Mode::ALL.to_vec(),
        }
    }
}

/// Options of `ciba demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Which delivery modes to run.
    #[arg(long, value_enum, default_value_t = DemoMode::All)]
    pub(crate) mode: DemoMode,
    /// Seconds the simulated user takes to answer on the authentication device.
    #[arg(long, value_name = "SECS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub(crate) approve_after: u64,
    /// The simulated user denies instead of approving; every flow must end with access_denied.
    #[arg(long)]
    pub(crate) deny: bool,
    /// The polling interval the provider hands out, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub(crate) interval: u64,
    /// Lifetime of each authentication request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) expires_in: u64,
}

/// Where `ciba serve` keeps pending requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreArg {
    /// In this process (`memory`).
    Memory,
    /// A Redis server or cluster (`redis://`, `rediss://`, `redis+unix://`,
    /// `redis+cluster://`, `rediss+cluster://`), shared by every instance that uses it.
    Redis(String),
}

fn parse_store(s: &str) -> Result<StoreArg, String> {
    if s == "memory" {
        Ok(StoreArg::Memory)
    } else if [
        "redis://",
        "rediss://",
        "redis+unix://",
        "redis+cluster://",
        "rediss+cluster://",
    ]
    .iter()
    .any(|scheme| s.starts_with(scheme))
    {
        Ok(StoreArg::Redis(s.to_owned()))
    } else {
        Err(
            "expected `memory`, redis://HOST:PORT[/DB], rediss://..., redis+unix:///PATH or \
             redis+cluster://HOST:PORT,HOST:PORT"
                .to_owned(),
        )
    }
}

/// Parses `2s`, `500ms` or `2` (seconds), from 1 ms to 60 s.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let parsed = if let Some(ms) = s.strip_suffix("ms") {
        ms.parse().map(Duration::from_millis)
    } else {
        s.strip_suffix('s')
            .unwrap_or(s)
            .parse()
            .map(Duration::from_secs)
    };
    match parsed {
        Ok(d) if d >= Duration::from_millis(1) && d <= Duration::from_secs(60) => Ok(d),
        _ => Err("expected a duration from 1ms to 60s, such as 2s or 500ms".to_owned()),
    }
}

/// The HTTP client `ciba login` runs the flow with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Transport {
    /// ciba-client over ciba-reqwest (TLS).
    Reqwest,
    /// ciba-client over ciba-hyper (plain http only in this command).
    Hyper,
}

/// How `ciba serve`'s authentication device answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AutoDecision {
    /// Approve every request after this delay.
    Approve(Duration),
    /// Deny every request at once.
    Deny,
    /// Wait for a person (the `/device` page) or a script (the JSON API).
    Manual,
}

impl fmt::Display for AutoDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoDecision::Approve(d) => write!(f, "approve after {} s", d.as_secs()),
            AutoDecision::Deny => f.write_str("deny"),
            AutoDecision::Manual => f.write_str("manual (use the device page or its JSON API)"),
        }
    }
}

/// Parses `approve:SECS`, `approve` (0 s), `deny` or `manual`.
pub(crate) fn parse_auto(s: &str) -> Result<AutoDecision, String> {
    match s {
        "deny" => Ok(AutoDecision::Deny),
        "manual" => Ok(AutoDecision::Manual),
        "approve" => Ok(AutoDecision::Approve(Duration::ZERO)),
        _ => match s.strip_prefix("approve:").map(str::parse::<u64>) {
            Some(Ok(secs)) if secs <= 3600 => Ok(AutoDecision::Approve(Duration::from_secs(secs))),
            _ => Err("expected approve:SECS (0 to 3600), deny or manual".to_owned()),
        },
    }
}

/// Options of `ciba serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// The issuer identifier (default: http://HOST:PORT, the bound address). A non-loopback issuer must be
    /// https (terminate TLS in front of this server).
    #[arg(long, value_name = "URL")]
    pub(crate) issuer: Option<String>,
    /// A JSON array of client metadata (standard names). Default: one demo client per mode.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) clients: Option<PathBuf>,
    /// Where pending requests live: `memory`, or a Redis (`redis://HOST:PORT[/DB]`,
    /// `rediss://...`, `redis+cluster://HOST:PORT,HOST:PORT`), shared by every instance using it.
    #[arg(long, value_name = "memory|redis://...", default_value = "memory", value_parser = parse_store)]
    pub(crate) store: StoreArg,
    /// A CA certificate (PEM) to trust for rediss:// besides the system's roots.
    #[arg(long, value_name = "FILE.pem")]
    pub(crate) redis_ca_file: Option<PathBuf>,
    /// How long one Redis step may take before the endpoint answers 503 (e.g. 2s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_timeout)]
    pub(crate) store_timeout: Duration,
    /// Serve metrics in the Prometheus text format at http://HOST:PORT/metrics (port 0 picks
    /// a free port; the bound address is printed as `metrics: ...`).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) metrics: Option<SocketAddr>,
    /// A private JWK (with `alg` and `kid`) to sign ID tokens with and publish at /jwks.
    /// Repeat it for several algorithms (RS256, PS256, ES256, ES384, EdDSA; one key each);
    /// one key must be RS256. Instances sharing a store need the same files. Default: a
    /// fresh RS256 key and a fresh Ed25519 key.
    #[arg(long = "signing-key", value_name = "FILE.jwk")]
    pub(crate) signing_keys: Vec<PathBuf>,
    /// Serve the FAPI-CIBA profile over https (needs --tls-cert, --tls-key and --clients).
    #[arg(long, requires = "tls_cert", requires = "clients")]
    pub(crate) fapi: bool,
    /// The server's certificate chain (PEM) for https; with --tls-key.
    #[arg(long, value_name = "FILE.pem", requires = "tls_key", requires = "fapi")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The server's private key (PEM, PKCS#8, SEC1 or PKCS#1) for https; with --tls-cert.
    #[arg(long, value_name = "FILE.pem", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// What the authentication device answers: approve:SECS, deny, or manual.
    #[arg(long, value_name = "approve:SECS|deny|manual", default_value = "manual", value_parser = parse_auto)]
    pub(crate) auto: AutoDecision,
    /// The polling interval handed to poll and ping clients, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) interval: u64,
    /// Lifetime of authentication requests without requested_expiry, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub(crate) expires_in: u64,
    /// The most entries (pending and finished requests, replay-cache entries) one client may
    /// keep, in either store; beyond it the provider answers 503. Load tests raise it.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    pub(crate) max_pending_per_client: usize,
    /// Connections served at once; more wait, unaccepted, until one closes.
    #[arg(long, value_name = "N", default_value_t = ciba_hyper::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub(crate) max_connections: usize,
    /// How long a client may take to send a request head (or stay idle between requests)
    /// before its connection is closed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub(crate) header_timeout: Duration,
    /// How long a client may take to send a request body before it is answered 408.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub(crate) body_timeout: Duration,
    /// How long a request may take from its head to its response (body and handling
    /// included) before its connection is closed; keep it above --body-timeout and
    /// --store-timeout.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub(crate) request_timeout: Duration,
    /// A JSON array of users (subject, login_hints, user_code, id_token_hint_subjects): only
    /// they exist, and their user codes are checked. Default: any login_hint is a user.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) users: Option<PathBuf>,
    /// The secret the device page and its API require: `generate` (random, printed at
    /// start) or a value. Required when --addr is not a loopback address.
    #[arg(long, value_name = "generate|SECRET")]
    pub(crate) device_secret: Option<String>,
}

impl ServeArgs {
    /// The limits of the provider's HTTP server.
    pub(crate) fn serve_options(&self) -> ciba_hyper::ServeOptions {
        ciba_hyper::ServeOptions::default()
            .max_connections(self.max_connections)
            .header_timeout(self.header_timeout)
            .body_timeout(self.body_timeout)
            .request_timeout(self.request_timeout)
    }
}

/// Options of `ciba login`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("hint").required(true).args(["login_hint", "id_token_hint", "login_hint_token"])))]
#[command(group(ArgGroup::new("credential").args(["client_secret", "client_secret_file", "private_key"])))]
pub(crate) struct LoginArgs {
    /// The provider's issuer identifier; its discovery document is fetched from
    /// ISSUER/.well-known/openid-configuration.
    #[arg(long, value_name = "URL")]
    pub(crate) issuer: String,
    /// The registered client_id.
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: String,
    /// The client secret (client_secret_basic by default). Visible to other users in the
    /// process list: prefer --client-secret-file or the CIBA_CLIENT_SECRET environment
    /// variable.
    #[arg(long, value_name = "S")]
    pub(crate) client_secret: Option<String>,
    /// A file holding the client secret (one line; a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub(crate) client_secret_file: Option<PathBuf>,
    /// A private JWK file for private_key_jwt.
    #[arg(long, value_name = "FILE.jwk")]
    pub(crate) private_key: Option<PathBuf>,
    /// A private JWK file (RSA, or EC on P-256) that decrypts encrypted ID tokens, for a
    /// client registered with id_token_encrypted_response_alg: RSA-OAEP-256 for an RSA key,
    /// ECDH-ES+A256KW for an EC key (or the key's alg member). With it, a plain (unencrypted)
    /// ID token is refused.
    #[arg(long, value_name = "FILE.jwk")]
    pub(crate) decryption_key: Option<PathBuf>,
    /// With --decryption-key: the registered id_token_encrypted_response_enc, A128CBC-HS256
    /// (the registration default) or A256GCM. Tokens under any other enc are refused.
    #[arg(
        long,
        value_name = "ENC",
        default_value = "A128CBC-HS256",
        requires = "decryption_key"
    )]
    pub(crate) id_token_enc: String,
    /// Client authentication method: client_secret_basic, client_secret_post,
    /// client_secret_jwt or private_key_jwt (default: client_secret_basic with a secret,
    /// private_key_jwt with a key).
    #[arg(long, value_name = "NAME")]
    pub(crate) auth_method: Option<String>,
    /// Who should authenticate: a login_hint.
    #[arg(long, value_name = "H")]
    pub(crate) login_hint: Option<String>,
    /// Who should authenticate: an ID token the provider issued earlier.
    #[arg(long, value_name = "JWT")]
    pub(crate) id_token_hint: Option<String>,
    /// Who should authenticate: a login_hint_token.
    #[arg(long, value_name = "TOKEN")]
    pub(crate) login_hint_token: Option<String>,
    /// Space-separated scopes; must include openid.
    #[arg(long, value_name = "S", default_value = "openid")]
    pub(crate) scope: String,
    /// A short message shown on both the consumption and the authentication device.
    #[arg(long, value_name = "M")]
    pub(crate) binding_message: Option<String>,
    /// A secret code the user knows (only for clients registered with user codes).
    #[arg(long, value_name = "C")]
    pub(crate) user_code: Option<String>,
    /// Requested lifetime of the request, in seconds.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) requested_expiry: Option<u32>,
    /// The client's registered token delivery mode.
    #[arg(long, value_enum, default_value_t = Mode::Poll)]
    pub(crate) mode: Mode,
    /// Ping and push: where the notification receiver listens.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
    /// Ping and push: the client_notification_token (default: a random one).
    #[arg(long, value_name = "T")]
    pub(crate) notification_token: Option<String>,
    /// Bind the tokens to a fresh DPoP key (RFC 9449); the provider must support DPoP
    /// (`ciba serve` and oidc-provider with DPoP enabled do).
    #[arg(long)]
    pub(crate) dpop: bool,
    /// Accept plain http endpoints on loopback hosts (local development only).
    #[arg(long)]
    pub(crate) allow_insecure_loopback: bool,
    /// The HTTP transport under the one client: reqwest (ciba-reqwest) or hyper (ciba-hyper;
    /// http issuers only).
    #[arg(long, value_enum, default_value_t = Transport::Reqwest)]
    pub(crate) transport: Transport,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn auto_accepts_approve_with_seconds_deny_and_manual() {
        assert_eq!(
            parse_auto("approve:3"),
            Ok(AutoDecision::Approve(Duration::from_secs(3)))
        );
        assert_eq!(parse_auto("deny"), Ok(AutoDecision::Deny));
        assert_eq!(parse_auto("manual"), Ok(AutoDecision::Manual));
        assert!(parse_auto("approve:x").is_err());
        assert!(parse_auto("maybe").is_err());
    }

    #[test]
    fn store_accepts_memory_and_redis_urls_only() {
        assert_eq!(parse_store("memory"), Ok(StoreArg::Memory));
        assert!(matches!(
            parse_store("redis://127.0.0.1"),
            Ok(StoreArg::Redis(_))
        ));
        assert!(parse_store("postgres://x").is_err());
        for url in [
            "rediss://127.0.0.1",
            "redis+unix:///run/redis.sock",
            "redis+cluster://a:7000,b:7001",
        ] {
            assert_eq!(parse_store(url), Ok(StoreArg::Redis(url.to_owned())));
        }
    }

    #[test]
    fn serve_limits_default_to_ciba_hypers_and_follow_the_flags() {
        use clap::Parser;
        let Command::Serve(args) = Cli::parse_from(["ciba", "serve"]).command else {
            unreachable!("not serve");
        };
        assert_eq!(args.serve_options(), ciba_hyper::ServeOptions::default());
        let Command::Serve(args) = Cli::parse_from([
            "ciba",
            "serve",
            "--max-connections",
            "7",
            "--header-timeout",
            "1s",
            "--body-timeout",
            "2s",
            "--request-timeout",
            "3s",
        ])
        .command
        else {
            unreachable!("not serve");
        };
        assert_eq!(
            args.serve_options(),
            ciba_hyper::ServeOptions::default()
                .max_connections(7)
                .header_timeout(Duration::from_secs(1))
                .body_timeout(Duration::from_secs(2))
                .request_timeout(Duration::from_secs(3))
        );
    }

    #[test]
    fn store_timeouts_are_seconds_or_milliseconds() {
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["0s", "0ms", "61s", "x", "-1s", ""] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn login_needs_a_hint_and_a_credential() {
        let base = [
            "ciba",
            "login",
            "--issuer",
            "https://op.example",
            "--client-id",
            "c",
        ];
        assert!(Cli::try_parse_from(base).is_err());
        let mut ok = base.to_vec();
        ok.extend(["--client-secret", "s", "--login-hint", "alice"]);
        assert!(Cli::try_parse_from(&ok).is_ok());
        let mut two = ok.clone();
        two.extend(["--id-token-hint", "x"]);
        assert!(Cli::try_parse_from(&two).is_err());
        let mut two_secrets = ok.clone();
        two_secrets.extend(["--client-secret-file", "s.txt"]);
        assert!(Cli::try_parse_from(&two_secrets).is_err());
    }
}
