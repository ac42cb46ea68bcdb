//! Signature verification: algorithm allow-lists and key selection from a JWK Set.

use super::{CompactJws, JoseError, Jwk, JwkSet, JwsAlgorithm, backend};

/// Which algorithms a verification accepts. `none` cannot be listed (it has no variant), and
/// HMAC algorithms are accepted only by [`verify_with_secret`], never with a JWK Set's public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    allowed: Vec<JwsAlgorithm>,
}

impl Default for AlgorithmPolicy {
    /// Every asymmetric algorithm.
    fn default() -> Self {
        AlgorithmPolicy {
            allowed: JwsAlgorithm::ASYMMETRIC.to_vec(),
        }
    }
}

impl AlgorithmPolicy {
    /// Exactly these algorithms.
    pub fn only(algs: impl IntoIterator<Item = JwsAlgorithm>) -> AlgorithmPolicy {
        AlgorithmPolicy {
            allowed: algs.into_iter().collect(),
        }
    }

    /// The allowed algorithms.
    pub fn allowed(&self) -> &[JwsAlgorithm] {
        &self.allowed
    }

    /// Parses the header's `alg` and checks it against the list.
    pub fn check(&self, alg: &str) -> Result<JwsAlgorithm, JoseError> {
        let parsed: JwsAlgorithm = alg.parse()?;
        if self.allowed.contains(&parsed) {
            Ok(parsed)
        } else {
            Err(JoseError::AlgorithmNotAllowed {
                alg: alg.chars().take(32).collect(),
            })
        }
    }
}

/// Verifies the signature of `jws` with `key` under `alg` (the caller has already checked
/// that `alg` is allowed and equals the header's).
pub fn verify_jws(jws: &CompactJws, key: &Jwk, alg: JwsAlgorithm) -> Result<(), JoseError> {
    let decoding = key.decoding_key(alg)?;
    let verifier = (backend::provider().verifier_factory)(&alg.to_jsonwebtoken(), &decoding)
        .map_err(|_| JoseError::InvalidKey {
            reason: "the backend refused the key",
        })?;
    verifier
        .verify(jws.signing_input(), &jws.signature)
        .map_err(|_| JoseError::BadSignature)
}

/// Picks the key for `kid` / `alg` from `set`: a `kid` must match exactly; without a `kid`,
/// exactly one usable key must remain.
pub fn select_key<'a>(
    set: &'a JwkSet,
    kid: Option<&str>,
    alg: JwsAlgorithm,
) -> Result<&'a Jwk, JoseError> {
    let mut usable = set.keys.iter();
    let candidates: Vec<&Jwk> = match kid {
        Some(kid) => usable
            .by_ref()
            .filter(|k| k.kid.as_deref() == Some(kid) && k.check_usable(alg, false).is_ok())
            .collect(),
        None => usable
            .by_ref()
            .filter(|k| k.check_usable(alg, false).is_ok())
            .collect(),
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(JoseError::NoMatchingKey {
            kid: kid.map(|k| k.chars().take(128).collect()),
            alg,
        }),
        _ => Err(JoseError::AmbiguousKey { alg }),
    }
}

/// Verifies `jws` against the public keys of `set`, with `policy`. HMAC algorithms are refused
/// outright here: a JWK Set's keys are public, so an HMAC "signature" with one proves nothing.
pub fn verify_with_set(
    jws: &CompactJws,
    set: &JwkSet,
    policy: &AlgorithmPolicy,
) -> Result<JwsAlgorithm, JoseError> {
    let alg = policy.check(&jws.header.alg)?;
    if alg.is_symmetric() {
        return Err(JoseError::AlgorithmNotAllowed {
            alg: alg.as_str().to_owned(),
        });
    }
    let key = select_key(set, jws.header.kid.as_deref(), alg)?;
    verify_jws(jws, key, alg)?;
    Ok(alg)
}

/// Verifies an HMAC-signed `jws` with a shared `secret` (for example the client secret, for ID
/// tokens of clients registered with an HS* algorithm). `policy` must list the HS* algorithm.
pub fn verify_with_secret(
    jws: &CompactJws,
    secret: &[u8],
    policy: &AlgorithmPolicy,
) -> Result<JwsAlgorithm, JoseError> {
    use base64::Engine as _;
    let alg = policy.check(&jws.header.alg)?;
    if !alg.is_symmetric() {
        return Err(JoseError::AlgorithmNotAllowed {
            alg: alg.as_str().to_owned(),
        });
    }
    let key = Jwk {
        kty: "oct".into(),
        k: Some(zeroize::Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        )),
        ..Jwk::default()
    };
    verify_jws(jws, &key, alg)?;
    Ok(alg)
}
