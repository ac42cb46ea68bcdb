//! Tests of single modules, over the public API or the `test-internals` views.

mod clock;
mod registry;
mod send;
