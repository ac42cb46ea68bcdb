//! The words of every error answer: one row per error value the server can send, with the
//! status, the `error` code, the exact `error_description`, and the `Retry-After`, `Allow` and
//! `WWW-Authenticate` headers. The end-to-end catalogue (error_catalogue.rs) proves which
//! request leads to which error; this table pins what each error then says, so a description
//! emptied or reworded by mistake fails here.

use std::sync::Arc;

use ciba_core::jose::JoseError;
use ciba_core::RandomError;
use ciba_core::wire::FormError;
use ciba_server::store::StoreError;
use ciba_server::{
    AuthMethod, BackchannelError, BodyError, ClaimError, ClientAuthError, DpopProofError,
    FailReason, Failure, GrantUnauthorizedReason, InvalidGrantReason, IssueError, ProtocolError,
    Rejection, RequestObjectError, TokenError, UnauthorizedReason,
};

/// What one error answer must look like.
struct Row {
    status: u16,
    code: &'static str,
    /// The `error_description` sent; `None` when the body has none.
    description: Option<&'static str>,
    retry_after: Option<&'static str>,
    allow: Option<&'static str>,
}

const fn row(status: u16, code: &'static str, description: &'static str) -> Row {
    Row {
        status,
        code,
        description: Some(description),
        retry_after: None,
        allow: None,
    }
}

impl Row {
    const fn retry(mut self, secs: &'static str) -> Row {
        self.retry_after = Some(secs);
        self
    }

    const fn allow(mut self, methods: &'static str) -> Row {
        self.allow = Some(methods);
        self
    }

    const fn silent(mut self) -> Row {
        self.description = None;
        self
    }
}

const SERVER_TROUBLE: &str = "the server could not process the request";
const AUTH_FAILED: &str = "client authentication failed";

fn check<E: ProtocolError>(error: E, want: &Row) {
    let label = format!("{error:?}");
    let rejection = Rejection::new(error, "https://as.example");
    let response = rejection.response;
    assert_eq!(response.status().as_u16(), want.status, "{label}");
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["error"], want.code, "{label}");
    assert_eq!(
        body.get("error_description").and_then(|d| d.as_str()),
        want.description,
        "{label}"
    );
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header("retry-after").as_deref(), want.retry_after, "{label}");
    assert_eq!(header("allow").as_deref(), want.allow, "{label}");
    assert_eq!(
        header("www-authenticate").as_deref(),
        (want.status == 401).then_some("Basic realm=\"https://as.example\""),
        "{label}"
    );
    assert_eq!(header("cache-control").as_deref(), Some("no-store"), "{label}");
}

fn backend_down() -> StoreError {
    StoreError::Backend {
        source: Arc::new(std::io::Error::other("connection refused")),
    }
}

fn client_limit() -> StoreError {
    StoreError::ClientLimitReached {
        client_id: "c1".to_owned(),
        limit: 3,
    }
}

fn jose() -> JoseError {
    JoseError::Malformed {
        reason: "not three parts",
    }
}

fn random() -> RandomError {
    RandomError {
        reason: "no entropy",
    }
}

#[test]
fn every_backchannel_error_says_what_it_should() {
    use BackchannelError as E;
    let bad_request = |d| row(400, "invalid_request", d);
    let table: Vec<(E, Row)> = vec![
        (
            E::MethodNotAllowed,
            row(405, "invalid_request", "the method must be POST").allow("POST"),
        ),
        (
            E::UnsupportedContentType,
            bad_request("the content type must be application/x-www-form-urlencoded"),
        ),
        (
            E::Form(FormError::TooLarge { limit: 4096 }),
            row(413, "invalid_request", "form body exceeds 4096 bytes"),
        ),
        (
            E::Form(FormError::TooManyParameters { limit: 40 }),
            bad_request("form body has more than 40 parameters"),
        ),
        (
            E::Form(FormError::Repeated {
                name: "scope".to_owned(),
            }),
            bad_request("parameter scope appears more than once"),
        ),
        (
            E::Form(FormError::NotUtf8),
            bad_request("form body is not valid UTF-8"),
        ),
        (
            E::ParameterTooLong {
                name: "login_hint".to_owned(),
            },
            // The quotes of `{:?}` are characters RFC 6749 forbids: they are dropped.
            bad_request("parameter login_hint is too long"),
        ),
        (
            E::ClientAuth(ClientAuthError::InvalidSecret),
            row(401, "invalid_client", AUTH_FAILED),
        ),
        (
            E::UnauthorizedClient {
                reason: UnauthorizedReason::NotCibaClient,
            },
            row(
                400,
                "unauthorized_client",
                "the client may not use CIBA: it registered no CIBA token delivery mode",
            ),
        ),
        (
            E::UnauthorizedClient {
                reason: UnauthorizedReason::DeliveryModeNotSupported,
            },
            row(
                400,
                "unauthorized_client",
                "the client may not use CIBA: its token delivery mode is not offered by this server",
            ),
        ),
        (
            E::UnauthorizedClient {
                reason: UnauthorizedReason::MissingCibaGrant,
            },
            row(
                400,
                "unauthorized_client",
                "the client may not use CIBA: it is not registered for the CIBA grant type",
            ),
        ),
        (
            E::UnauthorizedClient {
                reason: UnauthorizedReason::MissingNotificationEndpoint,
            },
            row(
                400,
                "unauthorized_client",
                "the client may not use CIBA: it registered no client notification endpoint",
            ),
        ),
        (
            E::RequestUriNotSupported,
            bad_request("request_uri is not supported"),
        ),
        (
            E::SignedRequestRequired,
            bad_request("the authentication request must be signed (the request parameter)"),
        ),
        (
            E::RequestObject(RequestObjectError::NotSupported),
            bad_request("invalid request object: signed authentication requests are not supported"),
        ),
        (
            E::RequestObject(RequestObjectError::NotRegistered),
            bad_request(
                "invalid request object: the client did not register a request signing algorithm",
            ),
        ),
        (
            E::RequestObject(RequestObjectError::Encrypted),
            bad_request("invalid request object: encrypted request objects are not supported"),
        ),
        (
            E::RequestObject(RequestObjectError::Malformed { source: jose() }),
            bad_request(
                "invalid request object: malformed request object: malformed JWS: not three parts",
            ),
        ),
        (
            E::RequestObject(RequestObjectError::AlgorithmMismatch {
                alg: "HS256".to_owned(),
            }),
            bad_request(
                "invalid request object: request object alg HS256 is not the registered algorithm",
            ),
        ),
        (
            E::RequestObject(RequestObjectError::Signature { source: jose() }),
            bad_request(
                "invalid request object: request object signature: malformed JWS: not three parts",
            ),
        ),
        (
            E::RequestObject(RequestObjectError::Claims {
                source: ClaimError::Replayed,
            }),
            bad_request("invalid request object: request object: the jti has been used before"),
        ),
        (
            E::RequestObject(RequestObjectError::ParameterOutside {
                name: "scope".to_owned(),
            }),
            bad_request("invalid request object: parameter scope must be inside the signed request"),
        ),
        (
            E::RequestObject(RequestObjectError::Store(backend_down())),
            row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("5"),
        ),
        (
            E::RequestObject(RequestObjectError::Store(StoreError::DuplicateKey)),
            row(500, "server_error", SERVER_TROUBLE),
        ),
        (
            E::MissingParameter { name: "scope" },
            bad_request("parameter scope is required"),
        ),
        (
            E::InvalidParameter {
                name: "requested_expiry",
            },
            bad_request("parameter requested_expiry is invalid"),
        ),
        (
            E::NoHint,
            bad_request("one of login_hint, id_token_hint or login_hint_token is required"),
        ),
        (
            E::MultipleHints,
            bad_request("only one of login_hint, id_token_hint or login_hint_token may be sent"),
        ),
        (
            E::InvalidIdTokenHint,
            bad_request("id_token_hint is not valid"),
        ),
        (
            E::MissingOpenidScope,
            row(400, "invalid_scope", "scope must contain openid"),
        ),
        (
            E::MalformedScope,
            row(400, "invalid_scope", "scope is malformed"),
        ),
        (
            E::ScopeNotAllowed {
                scope: "admin".to_owned(),
            },
            row(400, "invalid_scope", "scope admin is not allowed"),
        ),
        (
            E::MissingUserCode,
            row(400, "missing_user_code", "user_code is required"),
        ),
        (
            E::InvalidBindingMessage,
            row(
                400,
                "invalid_binding_message",
                "binding_message is not acceptable",
            ),
        ),
        (
            E::TooManyRequests,
            row(
                503,
                "temporarily_unavailable",
                "too many requests in flight for this client",
            )
            .retry("60"),
        ),
        (
            E::Store(backend_down()),
            row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("5"),
        ),
        (
            E::Store(client_limit()),
            row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("60"),
        ),
        (
            E::Store(StoreError::DuplicateKey),
            row(500, "server_error", SERVER_TROUBLE),
        ),
        (E::Random(random()), row(500, "server_error", SERVER_TROUBLE)),
    ];
    for (error, want) in table {
        check(error, &want);
    }
}

#[test]
fn every_client_authentication_error_says_what_it_should() {
    use ClientAuthError as E;
    let refused = row(401, "invalid_client", AUTH_FAILED);
    let table: Vec<E> = vec![
        E::NoCredentials,
        E::MalformedAuthorization,
        E::MissingClientId,
        E::ClientIdMismatch,
        E::UnknownClient,
        E::MethodNotRegistered {
            registered: AuthMethod::PrivateKeyJwt,
            used: AuthMethod::ClientSecretBasic,
        },
        E::MethodNotAccepted {
            method: AuthMethod::None,
        },
        E::InvalidSecret,
        E::UnsupportedAssertionType,
        E::MalformedAssertion { source: jose() },
        E::AssertionSignature { source: jose() },
        E::AssertionClaims {
            source: ClaimError::Expired,
        },
        E::SecretTooShort {
            alg: ciba_core::jose::JwsAlgorithm::HS512,
        },
        E::MissingCertificate,
        E::CertificateMismatch,
    ];
    // One worded answer for every failed authentication: which check failed is for the
    // server's log, not for a caller probing credentials.
    for error in table {
        check(error, &refused);
    }
    check(
        E::MultipleMethods,
        &row(
            401,
            "invalid_client",
            "more than one client authentication method was used",
        ),
    );
    check(
        E::Store(backend_down()),
        &row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("5"),
    );
    check(
        E::Store(StoreError::DuplicateKey),
        &row(500, "server_error", SERVER_TROUBLE),
    );
    check(
        E::Registry(ciba_server::RegistryError::new(std::io::Error::other(
            "registry down",
        ))),
        &row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("5"),
    );
}

#[test]
fn every_token_endpoint_error_says_what_it_should() {
    use TokenError as E;
    let bad_request = |d| row(400, "invalid_request", d);
    let unauthorized = |d| row(400, "unauthorized_client", d);
    let table: Vec<(E, Row)> = vec![
        (
            E::MethodNotAllowed,
            row(405, "invalid_request", "the method must be POST").allow("POST"),
        ),
        (
            E::UnsupportedContentType,
            bad_request("the content type must be application/x-www-form-urlencoded"),
        ),
        (
            E::Form(FormError::TooLarge { limit: 4096 }),
            row(413, "invalid_request", "form body exceeds 4096 bytes"),
        ),
        (
            E::ParameterTooLong {
                name: "auth_req_id".to_owned(),
            },
            bad_request("parameter auth_req_id is too long"),
        ),
        (E::MissingGrantType, bad_request("grant_type is required")),
        (
            E::ClientAuth(ClientAuthError::UnknownClient),
            row(401, "invalid_client", AUTH_FAILED),
        ),
        (
            E::ClientAuth(ClientAuthError::Store(backend_down())),
            row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("5"),
        ),
        (
            E::UnauthorizedClient {
                reason: GrantUnauthorizedReason::PushClient,
            },
            unauthorized(
                "the client may not use the CIBA grant: push clients receive their tokens and never poll",
            ),
        ),
        (
            E::UnauthorizedClient {
                reason: GrantUnauthorizedReason::NotCibaClient,
            },
            unauthorized(
                "the client may not use the CIBA grant: it registered no CIBA token delivery mode",
            ),
        ),
        (
            E::UnauthorizedClient {
                reason: GrantUnauthorizedReason::MissingCibaGrant,
            },
            unauthorized(
                "the client may not use the CIBA grant: it is not registered for the CIBA grant type",
            ),
        ),
        (
            E::UnauthorizedClient {
                reason: GrantUnauthorizedReason::DeliveryModeNotSupported,
            },
            unauthorized(
                "the client may not use the CIBA grant: its token delivery mode is not offered by this server",
            ),
        ),
        (E::MissingAuthReqId, bad_request("auth_req_id is required")),
        (
            E::InvalidGrant {
                reason: InvalidGrantReason::Unknown,
            },
            row(
                400,
                "invalid_grant",
                "the auth_req_id is unknown to this client",
            ),
        ),
        (
            E::InvalidGrant {
                reason: InvalidGrantReason::AlreadyUsed,
            },
            row(
                400,
                "invalid_grant",
                "the auth_req_id has already been used",
            ),
        ),
        (
            E::AuthorizationPending,
            row(400, "authorization_pending", "the authorization is pending"),
        ),
        (
            E::SlowDown { interval: 10 },
            row(
                400,
                "slow_down",
                "polling too fast; the interval is now 10 seconds",
            ),
        ),
        (
            E::ExpiredToken,
            row(400, "expired_token", "the auth_req_id has expired"),
        ),
        (
            E::AccessDenied,
            row(400, "access_denied", "the user denied the request"),
        ),
        (
            E::TransactionFailed,
            row(
                400,
                "expired_token",
                "no result could be obtained from the authentication device",
            ),
        ),
        (
            E::InvalidDpopProof {
                source: DpopProofError::Replayed,
            },
            row(
                400,
                "invalid_dpop_proof",
                "invalid DPoP proof: the DPoP proof was already used",
            ),
        ),
        (
            E::UseDpopNonce {
                nonce: "n-1".to_owned(),
            },
            row(
                400,
                "use_dpop_nonce",
                "the DPoP proof must carry the server's current nonce",
            ),
        ),
        (
            E::DpopProofRequired,
            bad_request("this client must send a DPoP proof"),
        ),
        (
            E::CertificateRequired,
            bad_request("this client must present its TLS client certificate"),
        ),
        (
            E::SenderConstraintRequired,
            bad_request(
                "sender-constrained tokens are required: send a DPoP proof or use mutual TLS",
            ),
        ),
        (
            E::Mint(ciba_server::MintError::Random(random())),
            row(500, "server_error", SERVER_TROUBLE),
        ),
        (
            E::Store(backend_down()),
            row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("5"),
        ),
        (
            E::Store(StoreError::DuplicateKey),
            row(500, "server_error", SERVER_TROUBLE),
        ),
    ];
    for (error, want) in table {
        check(error, &want);
    }
}

#[test]
fn every_issue_error_and_failure_says_what_it_should() {
    use IssueError as E;
    for error in [E::InvalidTicket, E::EmptySubject, E::Random(random())] {
        check(error, &row(500, "server_error", SERVER_TROUBLE));
    }
    check(
        E::TooManyRequests,
        &row(
            503,
            "temporarily_unavailable",
            "too many requests in flight for this client",
        )
        .retry("60"),
    );
    check(
        E::Store(client_limit()),
        &row(503, "temporarily_unavailable", SERVER_TROUBLE).retry("60"),
    );
    check(
        E::Store(StoreError::DuplicateKey),
        &row(500, "server_error", SERVER_TROUBLE),
    );

    // A failure says what the AS wrote (cleaned), or nothing.
    let table = [
        (FailReason::ExpiredLoginHintToken, 400, "expired_login_hint_token"),
        (FailReason::UnknownUserId, 400, "unknown_user_id"),
        (FailReason::UnauthorizedClient, 400, "unauthorized_client"),
        (FailReason::MissingUserCode, 400, "missing_user_code"),
        (FailReason::InvalidUserCode, 400, "invalid_user_code"),
        (FailReason::InvalidBindingMessage, 400, "invalid_binding_message"),
        (FailReason::InvalidTarget, 400, "invalid_target"),
        (FailReason::AccessDenied, 403, "access_denied"),
        (FailReason::ServerError, 500, "server_error"),
    ];
    assert_eq!(table.len(), FailReason::ALL.len());
    for (reason, status, code) in table {
        let worded = Failure {
            reason,
            description: Some("refused by\n\"policy\"".to_owned()),
        };
        check(worded, &row(status, code, "refused bypolicy"));
        let bare = Failure {
            reason,
            description: None,
        };
        check(bare, &row(status, code, "").silent());
    }
}

#[test]
fn every_body_error_says_what_it_should() {
    check(
        BodyError::TooLarge { limit: 65536 },
        &row(
            413,
            "invalid_request",
            "the request body is larger than 65536 bytes",
        ),
    );
    check(
        BodyError::TimedOut,
        &row(408, "invalid_request", "the request body did not arrive in time"),
    );
    check(
        BodyError::Unreadable,
        &row(400, "invalid_request", "the request body could not be read"),
    );
}
