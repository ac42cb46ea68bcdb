//! Tests of the items of `src/random.rs`, one by one.

#[cfg(feature = "os-rng")]
use ciba_core::__internals::with_batched_pool;
use ciba_core::random::{IDENTIFIER_BYTES, random_identifier};
#[cfg(feature = "os-rng")]
use ciba_core::{BatchedOsRandom, OsRandom};
use ciba_core::{Random, RandomError};

#[cfg(feature = "os-rng")]
#[test]
fn batched_random_never_repeats_and_wipes_what_it_handed_out() {
    use std::collections::HashSet;
    // Several blocks' worth, in sizes that do not divide the block.
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let mut id = [0u8; IDENTIFIER_BYTES];
        BatchedOsRandom.fill(&mut id).unwrap();
        assert!(seen.insert(id), "a repeated identifier");
    }
    // What was handed out is zero in the pool; the rest is not all zero.
    with_batched_pool(|bytes, used| {
        assert!(bytes[..used].iter().all(|&b| b == 0));
        assert!(used == BatchedOsRandom::BLOCK || bytes[used..].iter().any(|&b| b != 0));
    });
    // Larger requests bypass the pool, and are filled.
    let mut big = [0u8; BatchedOsRandom::BLOCK];
    BatchedOsRandom.fill(&mut big).unwrap();
    assert!(big.iter().any(|&b| b != 0));
    let a = random_identifier(&BatchedOsRandom, IDENTIFIER_BYTES).unwrap();
    let b = random_identifier(&BatchedOsRandom, IDENTIFIER_BYTES).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 27);
}

struct Counter;
impl Random for Counter {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        for (i, b) in dest.iter_mut().enumerate() {
            *b = i as u8;
        }
        Ok(())
    }
}

#[test]
fn identifier_is_base64url_of_the_requested_length() {
    let id = random_identifier(&Counter, IDENTIFIER_BYTES).unwrap();
    assert_eq!(id.len(), 27);
    assert!(
        id.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
}

#[cfg(feature = "os-rng")]
#[test]
fn os_random_gives_distinct_identifiers() {
    let a = random_identifier(&OsRandom, IDENTIFIER_BYTES).unwrap();
    let b = random_identifier(&OsRandom, IDENTIFIER_BYTES).unwrap();
    assert_ne!(a, b);
}
