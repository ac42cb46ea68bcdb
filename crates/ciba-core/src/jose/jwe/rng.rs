//! The caller's [`Random`] source, seen as the `rand_core` generator the `rsa` crate asks for.

use std::cell::Cell;

use crate::random::{Random, RandomError};

/// Adapts a [`Random`] to `rand_core::RngCore`. `RngCore::fill_bytes` cannot fail, so a failure
/// of the source is remembered (the bytes are zeroed) and reported by [`RngAdapter::finish`]:
/// callers discard whatever was computed with the zeroed bytes.
pub(super) struct RngAdapter<'a> {
    rng: &'a dyn Random,
    failed: Cell<Option<RandomError>>,
}

impl<'a> RngAdapter<'a> {
    pub(super) fn new(rng: &'a dyn Random) -> Self {
        RngAdapter {
            rng,
            failed: Cell::new(None),
        }
    }

    /// `Err` when the source failed at any point.
    pub(super) fn finish(self) -> Result<(), RandomError> {
        match self.failed.into_inner() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl rand_core::RngCore for RngAdapter<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if let Err(e) = self.rng.fill(dest) {
            dest.fill(0);
            self.failed.set(Some(e));
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for RngAdapter<'_> {}
