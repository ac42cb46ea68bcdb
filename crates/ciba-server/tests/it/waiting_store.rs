//! A store and a client registry whose futures really wait (each answers `Pending` first and
//! is woken from another thread, as one across a network is) give exactly the answers of the
//! MemoryStore, which is ready at once: the server awaits what its store and registry
//! return, and assumes nothing about when they are ready.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use ciba_server::store::StoreError;
use ciba_server::{
    AuthenticationResult, Authorization, BackchannelOutcome, BoxFuture, CibaServer, CompleteError,
    CompleteOutcome, FailReason, IssueOutcome, StaticClientRegistry, Ticket, TokenOutcome,
};
use ciba_test::store::{Layer, LayeredStore};
use common::*;
use http::HeaderMap;

/// Operations that wait for another thread first; counts them.
#[derive(Default)]
struct Waiting {
    calls: AtomicUsize,
}

impl Layer for Waiting {
    fn around<'a, T: Send + 'a>(
        &'a self,
        op: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        after_another_thread(op())
    }
}

/// A MemoryStore behind futures that wait for another thread first.
type WaitingStore = LayeredStore<Waiting>;

/// A harness like [`Harness::new`] (same clients, keys and random sequence) whose server
/// waits on every store and registry call. `h.store` is the MemoryStore inside.
fn waiting_harness() -> (
    Harness,
    Arc<WaitingStore>,
    Arc<WaitingRegistry<StaticClientRegistry>>,
) {
    let config = base_config();
    let mut clients_registry = StaticClientRegistry::new();
    for c in clients() {
        clients_registry.register(c, &config).unwrap();
    }
    let registry = Arc::new(WaitingRegistry::new(clients_registry));
    let store = Arc::new(WaitingStore::new(Waiting::default()));
    let memory = store.memory.clone();
    let minter = minter(&["eddsa"]);
    let h = Harness {
        server: CibaServer::new(config, registry.clone(), store.clone(), Arc::new(minter)),
        store: memory,
        op_keys: public_set(&["rs256", "eddsa"]),
        rng: TestRng::new(7),
    };
    (h, store, registry)
}

/// An HTTP answer, comparable.
type Http = (u16, HeaderMap, Vec<u8>);

fn http(resp: &http::Response<Vec<u8>>) -> Http {
    (
        resp.status().as_u16(),
        resp.headers().clone(),
        resp.body().clone(),
    )
}

fn bc_answer(outcome: &BackchannelOutcome) -> (Option<Ticket>, Option<Http>) {
    match outcome {
        BackchannelOutcome::UserIdentification(t) => (Some((**t).clone()), None),
        BackchannelOutcome::Respond(r) => (None, Some(http(&r.response))),
    }
}

fn issue_answer(outcome: &IssueOutcome) -> (&'static str, Http) {
    match outcome {
        IssueOutcome::Issued(ack) => ("issued", http(&ack.response)),
        IssueOutcome::InvalidTicket(r) => ("invalid ticket", http(&r.response)),
        IssueOutcome::Refused(r) => ("refused", http(&r.response)),
    }
}

fn token_answer(outcome: &TokenOutcome) -> (&'static str, Option<Http>) {
    match outcome {
        TokenOutcome::Issued(g) => ("issued", Some(http(&g.response))),
        TokenOutcome::Respond(r) => ("respond", Some(http(&r.response))),
        TokenOutcome::NotCibaGrant { .. } => ("not ciba", None),
    }
}

fn complete_answer(
    outcome: &Result<CompleteOutcome, CompleteError>,
) -> Result<Option<(String, HeaderMap, Vec<u8>)>, String> {
    match outcome {
        Ok(done) => Ok(done
            .notification()
            .map(|r| (r.uri().to_string(), r.headers().clone(), r.body().clone()))),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// The same calls on the ready server and on the waiting one, answers compared at each step.
struct Both {
    ready: Harness,
    waiting: Harness,
}

impl Both {
    fn backchannel(&self, req: &Req, at: u64) -> Option<Ticket> {
        let now = t0() + secs(at);
        let a = bc_answer(&self.ready.backchannel(req, now));
        let b = bc_answer(&self.waiting.backchannel(req, now));
        assert_eq!(a, b, "backchannel at +{at}");
        a.0
    }

    fn issue(&self, ticket: &Ticket, at: u64) -> String {
        let now = t0() + secs(at);
        let a = block_on(
            self.ready
                .server
                .issue(ticket, "alice", now, &self.ready.rng),
        );
        let b = block_on(
            self.waiting
                .server
                .issue(ticket, "alice", now, &self.waiting.rng),
        );
        assert_eq!(issue_answer(&a), issue_answer(&b), "issue at +{at}");
        match a {
            IssueOutcome::Issued(ack) => ack.auth_req_id.into_string(),
            other => panic!("issue failed: {other:?}"),
        }
    }

    fn fail(&self, ticket: &Ticket) -> Http {
        let a = self.ready.fail(ticket, FailReason::UnknownUserId, None);
        let b = self.waiting.fail(ticket, FailReason::UnknownUserId, None);
        assert_eq!(http(&a.response), http(&b.response), "fail");
        http(&a.response)
    }

    fn token(&self, req: &Req, at: u64) -> TokenOutcome {
        let now = t0() + secs(at);
        let a = self.ready.token(req, now);
        let b = self.waiting.token(req, now);
        assert_eq!(token_answer(&a), token_answer(&b), "token at +{at}");
        a
    }

    fn poll(&self, client_id: &str, auth_req_id: &(impl IdArg + ?Sized), at: u64) -> TokenOutcome {
        self.token(&token_request(client_id, auth_req_id, t0() + secs(at)), at)
    }

    fn complete(
        &self,
        auth_req_id: &(impl IdArg + ?Sized),
        result: AuthenticationResult,
        at: u64,
    ) -> bool {
        let now = t0() + secs(at);
        let a = self.ready.complete(auth_req_id, result.clone(), now);
        let b = self.waiting.complete(auth_req_id, result, now);
        assert_eq!(
            complete_answer(&a),
            complete_answer(&b),
            "complete at +{at}"
        );
        a.is_ok()
    }

    fn pending(&self, subject: Option<&str>, at: u64) -> Vec<String> {
        let now = t0() + secs(at);
        let a = self.ready.pending_requests(subject, 10, now).unwrap();
        let b = self.waiting.pending_requests(subject, 10, now).unwrap();
        assert_eq!(a, b, "pending requests at +{at}");
        a.into_iter().map(|r| r.auth_req_id.into_string()).collect()
    }

    fn is_revoked(&self, token: &str, at: u64) -> bool {
        let now = t0() + secs(at);
        let a = self.ready.is_revoked(token, now).unwrap();
        assert_eq!(a, self.waiting.is_revoked(token, now).unwrap());
        a
    }
}

fn approve() -> AuthenticationResult {
    AuthenticationResult::Authorized(Authorization::new("alice"))
}

#[test]
fn a_store_and_registry_that_wait_give_the_same_answers_as_ready_ones() {
    let (waiting, store, registry) = waiting_harness();
    let both = Both {
        ready: Harness::new(),
        waiting,
    };

    // Poll mode, to the tokens and a replay that revokes them.
    let ticket = both.backchannel(&bc_request(POLL, &[]), 0).unwrap();
    let poll_id = both.issue(&ticket, 0);
    let early = both.poll(POLL, &poll_id, 1);
    assert_eq!(token_error(&early), (400, "authorization_pending".into()));
    let too_soon = both.poll(POLL, &poll_id, 2);
    assert_eq!(token_error(&too_soon), (400, "slow_down".into()));

    // Ping, push and a client assertion (the jti replay cache).
    let ticket = both.backchannel(&bc_request(PING, &[]), 3).unwrap();
    // (Each a second after the last: the pending list is in order of expiry.)
    let ping_id = both.issue(&ticket, 3);
    let push_request = bc_request(PUSH, &[]);
    let ticket = both.backchannel(&push_request, 4).unwrap();
    let push_id = both.issue(&ticket, 4);
    let (_, replayed) = both.backchannel_refused(&push_request, 4);
    assert_eq!(replayed.0, 401, "the assertion's jti was seen");
    assert_eq!(
        both.pending(None, 4),
        [poll_id.clone(), ping_id.clone(), push_id.clone()]
    );

    assert!(both.complete(&poll_id, approve(), 5));
    assert!(both.complete(&ping_id, AuthenticationResult::AccessDenied, 5));
    assert!(both.complete(&push_id, approve(), 5));
    assert!(!both.complete(&push_id, approve(), 6), "delivered once");
    assert_eq!(both.pending(None, 6), Vec::<String>::new());

    let TokenOutcome::Issued(grant) = both.poll(POLL, &poll_id, 12) else {
        panic!("no tokens");
    };
    let access_token = grant.tokens.access_token.expose().to_owned();
    assert!(!both.is_revoked(&access_token, 13));
    let replay = both.poll(POLL, &poll_id, 20);
    assert_eq!(token_error(&replay), (400, "invalid_grant".into()));
    assert!(both.is_revoked(&access_token, 21));
    let denied = both.poll(PING, &ping_id, 12);
    assert_eq!(token_error(&denied), (400, "access_denied".into()));

    // A refused user, an expired request, an unknown one.
    let ticket = both.backchannel(&bc_request(SECRET_JWT, &[]), 30).unwrap();
    assert_eq!(both.fail(&ticket).0, 400);
    let ticket = both.backchannel(&bc_request(TLS, &[]), 30).unwrap();
    let tls_id = both.issue(&ticket, 30);
    assert_eq!(both.pending(Some("alice"), 31), [tls_id.as_str()]);
    assert_eq!(both.pending(Some("bob"), 31), Vec::<String>::new());
    let expired = both.poll(TLS, &tls_id, 30 + 400);
    assert_eq!(token_error(&expired), (400, "expired_token".into()));
    let unknown = both.poll(POLL, "no-such-id", 431);
    assert_eq!(token_error(&unknown), (400, "invalid_grant".into()));

    // Every call above went through the waiting store and registry.
    assert!(store.layer.calls.load(Ordering::Relaxed) >= 30);
    // (One registry lookup per request: 6 at the backchannel endpoint, 7 at the token one,
    // and 1 when a push is completed, for the client's ID token algorithm.)
    assert!(store.layer.calls.load(Ordering::Relaxed) >= 30);
    assert_eq!(registry.lookups.load(Ordering::Relaxed), 14);
}

impl Both {
    fn backchannel_refused(&self, req: &Req, at: u64) -> (Option<Ticket>, Http) {
        let now = t0() + secs(at);
        let a = bc_answer(&self.ready.backchannel(req, now));
        let b = bc_answer(&self.waiting.backchannel(req, now));
        assert_eq!(a, b, "backchannel at +{at}");
        (a.0, a.1.expect("refused"))
    }
}

#[test]
fn racing_over_a_store_that_waits_still_gives_exactly_one_completion_and_redemption() {
    const THREADS: usize = 16;
    const ROUNDS: usize = 50;
    let (h, _, _) = waiting_harness();
    let now = t0();
    for round in 0..ROUNDS {
        let ack = h.start(POLL, now);
        let id = ack.auth_req_id.as_str();
        let req = token_request(POLL, id, now);
        let barrier = Barrier::new(THREADS);
        let results: Vec<(bool, Option<String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let completed = match h.complete(id, approve(), now) {
                            Ok(_) => true,
                            Err(CompleteError::AlreadyCompleted) => false,
                            Err(e) => panic!("unexpected completion error {e:?}"),
                        };
                        let tokens = match h.token(&req, now) {
                            TokenOutcome::Issued(g) => {
                                Some(g.tokens.access_token.expose().to_owned())
                            }
                            other => {
                                assert_eq!(token_error(&other), (400, "invalid_grant".into()));
                                None
                            }
                        };
                        (completed, tokens)
                    })
                })
                .collect();
            handles.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let completions = results.iter().filter(|(c, _)| *c).count();
        assert_eq!(completions, 1, "round {round}: exactly one completion");
        let winners: Vec<&String> = results.iter().filter_map(|(_, t)| t.as_ref()).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one token response"
        );
        assert!(h.is_revoked(winners[0], now).unwrap(), "round {round}");
    }
}

#[test]
fn block_on_sleeps_while_the_future_is_pending() {
    /// Counts the polls of the future it wraps.
    struct Counted<'a, F>(std::pin::Pin<Box<F>>, &'a AtomicUsize);
    impl<F: std::future::Future> std::future::Future for Counted<'_, F> {
        type Output = F::Output;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<F::Output> {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.as_mut().poll(cx)
        }
    }
    let polls = AtomicUsize::new(0);
    let answer = block_on(Counted(
        Box::pin(after_another_thread(Box::pin(std::future::ready(42)))),
        &polls,
    ));
    assert_eq!(answer, 42);
    // Pending once, then ready once woken a millisecond later (a spinning loop would poll
    // thousands of times; a spurious wake-up of `park` may add one).
    assert!(polls.load(Ordering::Relaxed) <= 3, "{polls:?}");
    assert!(polls.load(Ordering::Relaxed) >= 2, "{polls:?}");
}
