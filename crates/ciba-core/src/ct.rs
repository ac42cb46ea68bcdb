//! Constant-time comparison of secrets, tokens and hashes.

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

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn equal_strings_compare_equal() {
        assert!(ct_eq(b"secret-token", b"secret-token"));
    }

    #[test]
    fn different_strings_or_lengths_compare_unequal() {
        assert!(!ct_eq(b"secret-token", b"secret-tokeN"));
        assert!(!ct_eq(b"secret", b"secret-token"));
        assert!(!ct_eq(b"", b"x"));
    }
}
