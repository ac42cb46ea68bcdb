//! Deterministic [`Random`] sources. Fine for tests only: none of them is random.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use ciba_core::Random;
use ciba_core::random::RandomError;

/// Every call fills `start, start+1, ...` and then moves `start` on by one, so two draws
/// differ (distinct `jti`s, nonces and identifiers) yet every run is the same.
#[derive(Debug)]
pub struct Counter(AtomicU8);

impl Counter {
    /// A counter whose first draw starts at `start`.
    pub fn new(start: u8) -> Counter {
        Counter(AtomicU8::new(start))
    }
}

impl Random for Counter {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let start = self.0.fetch_add(1, Ordering::Relaxed);
        for (i, b) in dest.iter_mut().enumerate() {
            *b = start.wrapping_add(i as u8);
        }
        Ok(())
    }
}

/// splitmix64 from a seed: well spread bytes, thread-safe, the same sequence on every run.
#[derive(Debug)]
pub struct SplitMix(AtomicU64);

impl Random for SplitMix {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        for chunk in dest.chunks_mut(8) {
            let mut z = self
                .0
                .fetch_add(GAMMA, Ordering::Relaxed)
                .wrapping_add(GAMMA);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            for (b, s) in chunk.iter_mut().zip(bytes) {
                *b = s;
            }
        }
        Ok(())
    }
}

impl SplitMix {
    /// The sequence of `seed`.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(AtomicU64::new(seed))
    }
}

/// Repeats one byte: what it yields shows through in whatever is minted from it.
#[derive(Debug, Clone, Copy)]
pub struct Constant(pub u8);

impl Random for Constant {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        dest.fill(self.0);
        Ok(())
    }
}

/// Always fails, as an exhausted or broken operating system source would.
#[derive(Debug, Clone, Copy)]
pub struct Broken;

impl Random for Broken {
    fn fill(&self, _dest: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError { reason: "broken" })
    }
}
