//! ciba-server's store conformance suite (`ciba_server::store::conformance`, which
//! ciba-server runs on its MemoryStore, the reference) on RedisStore: on one Redis, on Redis
//! over TLS and on a three-master Redis Cluster, through `&dyn Store` only.

use crate::common;

use ciba_server::store::Store;
use ciba_server::store::conformance::{self, MadeStore};
use common::{Setup, TestRedis};

type Made = MadeStore;

fn redis_maker(setup: Setup) -> impl Fn(usize) -> Made {
    let redis = TestRedis::of(setup);
    move |limit| {
        let redis = redis.clone();
        Box::pin(async move { Box::new(redis.store(limit).await) as Box<dyn Store> })
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod redis {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { conformance::$name(&redis_maker(Setup::Single)).await; }
            )*
        }
        mod redis_tls {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { conformance::$name(&redis_maker(Setup::Tls)).await; }
            )*
        }
        mod redis_cluster {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { conformance::$name(&redis_maker(Setup::Cluster)).await; }
            )*
        }
    };
}
suite!(
    a_ticket_is_taken_once,
    a_removed_or_expired_ticket_cannot_be_taken,
    a_request_is_visible_as_stored_until_its_tombstone_goes,
    a_request_in_any_state_round_trips,
    a_request_is_completed_once,
    polling_a_pending_request_records_the_poll,
    slow_down_adds_five_seconds_cumulatively,
    slow_down_stops_at_the_remaining_lifetime,
    an_expired_request_answers_expired_until_its_tombstone_goes_then_unknown,
    an_expired_push_request_reports_its_expiry_once,
    a_denial_is_reported_once,
    an_approved_request_is_redeemed_once,
    another_clients_request_is_unknown_and_untouched,
    a_jti_is_remembered_once_until_it_expires,
    a_dpop_proof_jti_has_its_own_replay_cache,
    a_token_confirmation_is_kept_until_the_token_expires,
    a_replay_after_redemption_revokes_the_attached_tokens,
    tokens_attached_after_a_replay_are_revoked_at_once,
    attaching_tokens_to_an_unredeemed_or_unknown_request_does_nothing,
    a_delivered_push_request_is_already_used,
    revoked_tokens_stay_revoked_until_they_expire,
    one_client_cannot_fill_the_store,
    duplicate_inserts_are_refused_before_the_bound_is_charged,
    pending_requests_lists_what_waits_for_the_user_soonest_expiry_first,
    concurrent_inserts_each_get_their_own_answer,
);
