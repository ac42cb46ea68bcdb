//! The errors of this crate: ciba-client's one [`Error`] type (transport failures kept apart
//! from everything ciba-core decides), shared with every other transport.

pub use ciba_client::{BoxError, Error};

/// `uri` without userinfo, query or fragment, for errors and logs.
#[cfg(feature = "server")]
pub(crate) use ciba_client::redacted_endpoint as endpoint_of;
