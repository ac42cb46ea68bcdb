//! Redis-backed store for ciba-server (work in progress).
