//! Async CIBA client over reqwest (work in progress).
