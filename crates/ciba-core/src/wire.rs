//! Wire-format helpers that `ciba-server`, the transports and this crate share: media types and
//! bodies, NumericDate and HTTP-date times, constant-time comparison of secrets, OAuth error
//! text, `WWW-Authenticate` challenges, HTTP Basic client credentials and loopback URLs.
//!
//! Each is a small function with one documented contract; the protocol types at the crate root
//! use them internally. They are public so that a server or a transport applies exactly the
//! same rules as the client, not so that applications need them.

pub use crate::auth_request::{check_client_notification_token, is_b64token};
pub use crate::body::{
    APPLICATION_JSON, APPLICATION_JWK_SET_JSON, FORM_URLENCODED, FormError, check_content_type,
    encode_form, media_type_is, parse_form, parse_json_object,
};
pub use crate::client_auth::basic_authorization;
pub use crate::endpoint::is_loopback;
pub use crate::oauth_error::{
    is_valid_error_text, parse_challenges, parse_www_authenticate, sanitize_text,
};
pub use crate::time::{from_unix_seconds, parse_http_date, unix_seconds};

/// Compares two byte strings in time that depends only on their lengths, never on where they
/// differ. Use it for every comparison of a secret, a bearer token or a hash.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    // Keep the optimiser from turning the loop into an early exit.
    std::hint::black_box(diff) == 0
}
