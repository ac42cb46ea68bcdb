//! The flow clock: deadlines of ciba-core map to tokio instants.

use std::time::Duration;

use ciba_client::__internals::{FLOW_CLOCK_HORIZON, FlowClock};

#[tokio::test(start_paused = true)]
async fn deadlines_map_to_instants_on_the_same_clock() {
    let clock = FlowClock::start();
    let t0 = clock.now();
    let deadline = t0 + Duration::from_secs(5);
    tokio::time::sleep_until(clock.instant_at(deadline)).await;
    assert!(clock.now() >= deadline);
    assert_eq!(
        clock.instant_at(t0 - Duration::from_secs(1)),
        clock.anchor()
    );
    let far = clock.instant_at(t0 + Duration::from_secs(u32::MAX.into()));
    assert!(far <= clock.anchor() + FLOW_CLOCK_HORIZON);
}
