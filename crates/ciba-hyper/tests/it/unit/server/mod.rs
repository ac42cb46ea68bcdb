//! `src/server/`.

mod deliver;
mod pending;
