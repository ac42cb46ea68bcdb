//! [`Store::revoke_tokens`](ciba_server::Store::revoke_tokens) over Redis: one `SET PX` per
//! token still valid at `now`, under `{p}rev:{fingerprint}` (the key `is_revoked` reads and
//! a replay writes).

use std::time::SystemTime;

use ciba_server::store::{StoreError, TokenFingerprint};

use crate::codec::encode_tokens;

use super::RedisStore;

impl RedisStore {
    /// Revokes `tokens` until each one expires. Idempotent: a retry writes the same keys
    /// again. The writes are independent keys, so they need no script.
    pub(super) async fn revoke_tokens_async(
        &self,
        tokens: &[TokenFingerprint],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let encoded = encode_tokens(tokens)?;
        Ok(self.revoke("revoke_tokens", &encoded, now).await?)
    }
}
