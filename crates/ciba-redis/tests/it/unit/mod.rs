//! Tests of single modules, through the `test-internals` views.

mod body;
mod codec;
mod keys;
