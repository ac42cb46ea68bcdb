//! `src/store/`.

mod expiry_queue;
mod memory;
