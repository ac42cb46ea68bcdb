//! The store conformance suite (`ciba_server::store::conformance`) on the MemoryStore, the
//! reference: one test per check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::block_on;

use ciba_server::MemoryStore;
use ciba_server::store::conformance::{self, MadeStore};
use ciba_server::store::{MemoryStoreConfig, Store};

fn make(limit: usize) -> MadeStore {
    let config = MemoryStoreConfig::default().with_max_entries_per_client(limit);
    Box::pin(async move { Box::new(MemoryStore::with_config(config)) as Box<dyn Store> })
}

#[test]
fn a_ticket_is_taken_once() {
    block_on(conformance::a_ticket_is_taken_once(&make));
}

#[test]
fn a_removed_or_expired_ticket_cannot_be_taken() {
    block_on(conformance::a_removed_or_expired_ticket_cannot_be_taken(
        &make,
    ));
}

#[test]
fn a_request_is_visible_as_stored_until_its_tombstone_goes() {
    block_on(conformance::a_request_is_visible_as_stored_until_its_tombstone_goes(&make));
}

#[test]
fn a_request_in_any_state_round_trips() {
    block_on(conformance::a_request_in_any_state_round_trips(&make));
}

#[test]
fn a_request_is_completed_once() {
    block_on(conformance::a_request_is_completed_once(&make));
}

#[test]
fn polling_a_pending_request_records_the_poll() {
    block_on(conformance::polling_a_pending_request_records_the_poll(
        &make,
    ));
}

#[test]
fn slow_down_adds_five_seconds_cumulatively() {
    block_on(conformance::slow_down_adds_five_seconds_cumulatively(&make));
}

#[test]
fn slow_down_stops_at_the_remaining_lifetime() {
    block_on(conformance::slow_down_stops_at_the_remaining_lifetime(
        &make,
    ));
}

#[test]
fn an_expired_request_answers_expired_until_its_tombstone_goes_then_unknown() {
    block_on(
        conformance::an_expired_request_answers_expired_until_its_tombstone_goes_then_unknown(
            &make,
        ),
    );
}

#[test]
fn an_expired_push_request_reports_its_expiry_once() {
    block_on(conformance::an_expired_push_request_reports_its_expiry_once(&make));
}

#[test]
fn a_denial_is_reported_once() {
    block_on(conformance::a_denial_is_reported_once(&make));
}

#[test]
fn an_approved_request_is_redeemed_once() {
    block_on(conformance::an_approved_request_is_redeemed_once(&make));
}

#[test]
fn another_clients_request_is_unknown_and_untouched() {
    block_on(conformance::another_clients_request_is_unknown_and_untouched(&make));
}

#[test]
fn a_dpop_proof_jti_has_its_own_replay_cache() {
    block_on(conformance::a_dpop_proof_jti_has_its_own_replay_cache(
        &make,
    ));
}

#[test]
fn a_token_confirmation_is_kept_until_the_token_expires() {
    block_on(conformance::a_token_confirmation_is_kept_until_the_token_expires(&make));
}

#[test]
fn a_jti_is_remembered_once_until_it_expires() {
    block_on(conformance::a_jti_is_remembered_once_until_it_expires(
        &make,
    ));
}

#[test]
fn a_replay_after_redemption_revokes_the_attached_tokens() {
    block_on(conformance::a_replay_after_redemption_revokes_the_attached_tokens(&make));
}

#[test]
fn tokens_attached_after_a_replay_are_revoked_at_once() {
    block_on(conformance::tokens_attached_after_a_replay_are_revoked_at_once(&make));
}

#[test]
fn attaching_tokens_to_an_unredeemed_or_unknown_request_does_nothing() {
    block_on(conformance::attaching_tokens_to_an_unredeemed_or_unknown_request_does_nothing(&make));
}

#[test]
fn revoked_tokens_stay_revoked_until_they_expire() {
    block_on(conformance::revoked_tokens_stay_revoked_until_they_expire(
        &make,
    ));
}

#[test]
fn a_delivered_push_request_is_already_used() {
    block_on(conformance::a_delivered_push_request_is_already_used(&make));
}

#[test]
fn one_client_cannot_fill_the_store() {
    block_on(conformance::one_client_cannot_fill_the_store(&make));
}

#[test]
fn duplicate_inserts_are_refused_before_the_bound_is_charged() {
    block_on(conformance::duplicate_inserts_are_refused_before_the_bound_is_charged(&make));
}

#[test]
fn concurrent_inserts_each_get_their_own_answer() {
    block_on(conformance::concurrent_inserts_each_get_their_own_answer(
        &make,
    ));
}

#[test]
fn pending_requests_lists_what_waits_for_the_user_soonest_expiry_first() {
    block_on(
        conformance::pending_requests_lists_what_waits_for_the_user_soonest_expiry_first(&make),
    );
}

#[test]
fn run_all_runs_every_check() {
    block_on(conformance::run_all(&make));
}
