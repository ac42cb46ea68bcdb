//! Tests of the items of `src/jose/jwe/alg.rs`, one by one.

use ciba_core::jose::jwe::{ContentEncryption, KeyManagementAlgorithm};

#[test]
fn names_round_trip_and_unknown_names_are_refused() {
    for a in KeyManagementAlgorithm::ALL {
        assert_eq!(a.as_str().parse::<KeyManagementAlgorithm>().unwrap(), a);
    }
    for e in ContentEncryption::ALL {
        assert_eq!(e.as_str().parse::<ContentEncryption>().unwrap(), e);
    }
    assert!("RSA1_5".parse::<KeyManagementAlgorithm>().is_err());
    assert!("dir".parse::<KeyManagementAlgorithm>().is_err());
    assert!("A128GCM".parse::<ContentEncryption>().is_err());
}
