//! CIBA over hyper (work in progress).
