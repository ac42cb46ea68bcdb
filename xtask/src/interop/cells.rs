//! The cells of the matrix: who talks to whom (clients, servers, transports), in which mode,
//! with which client authentication and expected outcome, and the row builders that plan
//! them for both the JavaScript and the Java peers ([`Plan`]).

use std::collections::HashMap;
use std::fmt;
use std::net::TcpListener;

use super::keycloak_cells;
use super::support::{hold_free_port, random_hex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    /// `ciba login` without `--transport` (the CLI's default: ciba-reqwest).
    Default,
    Reqwest,
    Hyper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rp {
    Login(Transport),
    OpenidClient,
    Oauth4webapi,
    /// `ciba login` against Keycloak.
    KeycloakLogin(Transport),
    /// The Nimbus SDK driver (interop/nimbus) against `ciba serve`.
    Nimbus,
}

impl Rp {
    pub(super) fn label(self) -> &'static str {
        match self {
            Rp::Login(Transport::Default | Transport::Reqwest)
            | Rp::KeycloakLogin(Transport::Default | Transport::Reqwest) => "ciba login (reqwest)",
            Rp::Login(Transport::Hyper) | Rp::KeycloakLogin(Transport::Hyper) => {
                "ciba login (hyper)"
            }
            Rp::OpenidClient => "openid-client 6.8.9",
            Rp::Oauth4webapi => "oauth4webapi 3.8.8",
            Rp::Nimbus => keycloak_cells::NIMBUS_LABEL,
        }
    }

    pub(super) fn server(self) -> ServerKind {
        match self {
            Rp::Login(_) => ServerKind::OidcProvider,
            Rp::OpenidClient | Rp::Oauth4webapi | Rp::Nimbus => ServerKind::CibaServe,
            Rp::KeycloakLogin(_) => ServerKind::Keycloak,
        }
    }

    pub(super) fn id_prefix(self) -> &'static str {
        match self {
            Rp::Login(Transport::Default | Transport::Reqwest) => "rq",
            Rp::Login(Transport::Hyper) => "hy",
            Rp::OpenidClient => "oc",
            Rp::Oauth4webapi => "o4",
            Rp::KeycloakLogin(Transport::Default | Transport::Reqwest) => "kr",
            Rp::KeycloakLogin(Transport::Hyper) => "kh",
            Rp::Nimbus => "nb",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ServerKind {
    OidcProvider,
    CibaServe,
    Keycloak,
}

impl ServerKind {
    pub(super) fn label(self) -> &'static str {
        match self {
            ServerKind::OidcProvider => "oidc-provider 9.13.3",
            ServerKind::CibaServe => "ciba serve",
            ServerKind::Keycloak => keycloak_cells::KEYCLOAK_LABEL,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Poll,
    Ping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Auth {
    Basic,
    Post,
    PrivateKeyJwt,
}

impl Auth {
    pub(super) fn method(self) -> &'static str {
        match self {
            Auth::Basic => "client_secret_basic",
            Auth::Post => "client_secret_post",
            Auth::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub(super) fn short(self) -> &'static str {
        match self {
            Auth::Basic => "basic",
            Auth::Post => "post",
            Auth::PrivateKeyJwt => "pkjwt",
        }
    }

    /// oidc-provider clients sign their ID tokens with different algorithms, so that our
    /// clients verify RS256, ES256 and PS256 (`ciba serve` signs EdDSA only).
    pub(super) fn op_id_token_alg(self) -> &'static str {
        match self {
            Auth::Basic => "RS256",
            Auth::Post => "ES256",
            Auth::PrivateKeyJwt => "PS256",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    Approve,
    Deny,
    Expire,
}

impl Expect {
    pub(super) fn word(self) -> &'static str {
        match self {
            Expect::Approve => "approve",
            Expect::Deny => "deny",
            Expect::Expire => "expire",
        }
    }

    pub(super) fn outcome(self) -> &'static str {
        match self {
            Expect::Approve => "tokens",
            Expect::Deny => "access_denied",
            Expect::Expire => "expired_token",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Poll => "poll",
            Mode::Ping => "ping",
        })
    }
}

/// One cell: one client registration, one flow, one expected outcome.
#[derive(Debug, Clone)]
pub(super) struct Cell {
    pub(super) n: usize,
    pub(super) client: Rp,
    pub(super) mode: Mode,
    pub(super) auth: Auth,
    pub(super) expect: Expect,
    pub(super) client_id: String,
    pub(super) secret: String,
    pub(super) binding_message: String,
    pub(super) notification_port: Option<u16>,
    /// The client sends DPoP proofs, is registered with `dpop_bound_access_tokens`, and
    /// must get `token_type` DPoP.
    pub(super) dpop: bool,
    /// The client is registered with `id_token_encrypted_response_alg`/`_enc` (and an
    /// encryption key in its `jwks`), decrypts with its private key, and must have received
    /// a JWE.
    pub(super) encryption: Option<Encryption>,
}

/// ID token encryption of a cell: `id_token_encrypted_response_alg` and `_enc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Encryption {
    pub(super) alg: &'static str,
    pub(super) enc: &'static str,
}

impl Encryption {
    /// The key type keygen.mjs makes for it.
    pub(super) fn keygen_kind(self) -> &'static str {
        if self.alg.starts_with("RSA") {
            "enc-rsa"
        } else {
            "enc-ec"
        }
    }

    pub(super) fn short(self) -> String {
        let alg = if self.alg.starts_with("RSA") {
            "rsa"
        } else {
            "ecdh"
        };
        let enc = if self.enc.contains("GCM") {
            "gcm"
        } else {
            "cbc"
        };
        format!("jwe-{alg}-{enc}")
    }
}

/// The encrypted ID token cells of each client that decrypts (openid-client against `ciba
/// serve`, `ciba login` against oidc-provider): one approved flow per mode with
/// client_secret_basic. Between the poll and ping cells and the two clients, both key
/// management algorithms meet both content encryptions.
pub(super) const ENCRYPTED_CELLS: [(Rp, Mode, Encryption); 2] = [
    (
        Rp::OpenidClient,
        Mode::Poll,
        Encryption {
            alg: "ECDH-ES+A256KW",
            enc: "A256GCM",
        },
    ),
    (
        Rp::OpenidClient,
        Mode::Ping,
        Encryption {
            alg: "RSA-OAEP-256",
            enc: "A128CBC-HS256",
        },
    ),
];

/// [`ENCRYPTED_CELLS`] for `ciba login` (each transport).
pub(super) const LOGIN_ENCRYPTED_CELLS: [(Mode, Encryption); 2] = [
    (
        Mode::Poll,
        Encryption {
            alg: "RSA-OAEP-256",
            enc: "A256GCM",
        },
    ),
    (
        Mode::Ping,
        Encryption {
            alg: "ECDH-ES+A256KW",
            enc: "A128CBC-HS256",
        },
    ),
];

impl Cell {
    /// The `token_type` an approved flow must end with.
    pub(super) fn token_type(&self) -> &'static str {
        if self.dpop { "DPoP" } else { "Bearer" }
    }

    /// A rough duration, to start the long cells first.
    pub(super) fn estimate(&self) -> u32 {
        if let Some(estimate) = keycloak_cells::estimate(self) {
            return estimate;
        }
        match (self.client.server(), self.mode, self.expect) {
            (ServerKind::OidcProvider, Mode::Poll, Expect::Approve) => 11,
            (ServerKind::OidcProvider, Mode::Poll, _) => 5,
            (_, _, Expect::Expire) => 5,
            (ServerKind::CibaServe, Mode::Poll, Expect::Approve) => 3,
            _ => 1,
        }
    }
}

/// What a cell tests beyond its mode, authentication method and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Plain,
    /// DPoP-bound tokens (RFC 9449).
    Dpop,
    /// An encrypted ID token.
    Encrypted(Encryption),
}

/// The cells of a run, built row by row: numbered in order, each with its own client
/// registration (client_id, secret, binding_message), and a notification port held
/// (bound) for each ping cell until the cell starts.
#[derive(Default)]
pub(super) struct Plan {
    pub(super) cells: Vec<Cell>,
    pub(super) ports: HashMap<String, TcpListener>,
}

/// Both delivery modes the matrix covers.
const MODES: [Mode; 2] = [Mode::Poll, Mode::Ping];
/// Every outcome of a flow.
const OUTCOMES: [Expect; 3] = [Expect::Approve, Expect::Deny, Expect::Expire];

impl Plan {
    /// One cell. Its client_id is `<client>-<mode>-<auth>-<outcome, dpop or jwe-...>`.
    pub(super) fn cell(
        &mut self,
        client: Rp,
        mode: Mode,
        auth: Auth,
        expect: Expect,
        flavor: Flavor,
    ) -> Result<(), String> {
        let n = self.cells.len() + 1;
        let last = match flavor {
            Flavor::Plain => expect.word().to_owned(),
            Flavor::Dpop => "dpop".to_owned(),
            Flavor::Encrypted(encryption) => encryption.short(),
        };
        let client_id = format!("{}-{mode}-{}-{last}", client.id_prefix(), auth.short());
        let notification_port = match mode {
            Mode::Poll => None,
            Mode::Ping => {
                let (port, listener) = hold_free_port()?;
                self.ports.insert(client_id.clone(), listener);
                Some(port)
            }
        };
        self.cells.push(Cell {
            n,
            client,
            mode,
            auth,
            expect,
            secret: format!("{client_id}-{}", random_hex(16)),
            client_id,
            binding_message: format!("cell-{n}"),
            notification_port,
            dpop: flavor == Flavor::Dpop,
            encryption: match flavor {
                Flavor::Encrypted(encryption) => Some(encryption),
                Flavor::Plain | Flavor::Dpop => None,
            },
        });
        Ok(())
    }

    /// The plain cells of `client`: each mode × each of `auths` × each outcome.
    pub(super) fn grid(&mut self, client: Rp, auths: &[Auth]) -> Result<(), String> {
        for mode in MODES {
            for &auth in auths {
                for expect in OUTCOMES {
                    self.cell(client, mode, auth, expect, Flavor::Plain)?;
                }
            }
        }
        Ok(())
    }
}

/// Every cell: our clients x oidc-provider and the JS drivers x `ciba serve`, each in
/// poll and ping, with each authentication method and each outcome, plus the DPoP and
/// encrypted ID token cells; then the Java peers' cells when they run.
pub(super) fn plan(transports: &[Transport], java: bool) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let mut clients: Vec<Rp> = transports.iter().map(|t| Rp::Login(*t)).collect();
    clients.extend([Rp::OpenidClient, Rp::Oauth4webapi]);
    for client in clients {
        plan.grid(client, &[Auth::Basic, Auth::Post, Auth::PrivateKeyJwt])?;
        // DPoP-bound tokens: one approved flow per mode, client_secret_basic.
        for mode in MODES {
            plan.cell(client, mode, Auth::Basic, Expect::Approve, Flavor::Dpop)?;
        }
        // Encrypted ID tokens: one approved flow per listed mode, client_secret_basic.
        let encrypted: Vec<(Mode, Encryption)> = match client {
            Rp::Login(_) => LOGIN_ENCRYPTED_CELLS.to_vec(),
            _ => ENCRYPTED_CELLS
                .iter()
                .filter(|(rp, _, _)| *rp == client)
                .map(|(_, mode, e)| (*mode, *e))
                .collect(),
        };
        for (mode, encryption) in encrypted {
            let flavor = Flavor::Encrypted(encryption);
            plan.cell(client, mode, Auth::Basic, Expect::Approve, flavor)?;
        }
    }
    if java {
        keycloak_cells::plan(transports, &mut plan)?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_plan_has_122_distinct_cells() {
        let Plan { cells, ports } = plan(&[Transport::Reqwest, Transport::Hyper], true).unwrap();
        // JS: 2 transports x oidc-provider + openid-client + oauth4webapi, each 18 plain,
        // 2 DPoP; 2 encrypted cells for each `ciba login` and for openid-client. Java: 36.
        assert_eq!(cells.len(), 4 * 20 + 3 * 2 + 36);
        assert_eq!(cells.len(), 122);
        let pings = cells.iter().filter(|c| c.mode == Mode::Ping).count();
        assert_eq!(ports.len(), pings);
        assert!(
            cells
                .iter()
                .all(|c| (c.mode == Mode::Ping) == c.notification_port.is_some())
        );
        assert!(
            cells
                .iter()
                .enumerate()
                .all(|(i, c)| c.n == i + 1 && c.binding_message == format!("cell-{}", i + 1))
        );
        let mut ids: Vec<&str> = cells.iter().map(|c| c.client_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 122);
        assert_eq!(cells.iter().filter(|c| c.dpop).count(), 8);
        assert_eq!(cells.iter().filter(|c| c.encryption.is_some()).count(), 6);
        let first = &cells[0];
        assert_eq!(first.client_id, "rq-poll-basic-approve");
        assert!(first.secret.starts_with("rq-poll-basic-approve-"));
        let ids_of = |client: Rp| -> Vec<String> {
            cells
                .iter()
                .filter(|c| c.client == client)
                .map(|c| c.client_id.clone())
                .collect()
        };
        assert_eq!(
            ids_of(Rp::OpenidClient)[18..],
            [
                "oc-poll-basic-dpop",
                "oc-ping-basic-dpop",
                "oc-poll-basic-jwe-ecdh-gcm",
                "oc-ping-basic-jwe-rsa-cbc"
            ]
        );
        assert_eq!(ids_of(Rp::Nimbus).len(), 12);
    }

    #[test]
    fn without_transport_option_or_java_the_plan_has_64_cells() {
        let Plan { cells, .. } = plan(&[Transport::Default], false).unwrap();
        // `ciba login` and openid-client: 20 + 2 encrypted each; oauth4webapi: 20.
        assert_eq!(cells.len(), 64);
        assert!(
            cells
                .iter()
                .all(|c| !matches!(c.client, Rp::Nimbus | Rp::KeycloakLogin(_)))
        );
    }
}
