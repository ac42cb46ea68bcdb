//! Just enough X.509 to compare a client certificate's public key with a registered JWK, for
//! `self_signed_tls_client_auth` (RFC 8705 section 2.2): a bounds-checked DER reader that
//! finds the SubjectPublicKeyInfo, and the comparison for RSA, EC (P-256, P-384) and
//! Ed25519 keys. Every malformed input is `None` or `false`, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::jose::Jwk;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const VERSION_TAG: u8 = 0xA0;

const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];

/// A DER reader over a byte slice.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element: its tag and its contents.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        if tag & 0x1F == 0x1F {
            return None; // high tag numbers do not occur in what we read
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (bytes, rest) = rest.split_at(n);
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, rest)
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, content) if t == tag => Some(content),
            _ => None,
        }
    }
}

/// The public key of a DER certificate, by algorithm.
#[derive(Debug, PartialEq, Eq)]
enum PublicKey<'a> {
    Rsa {
        n: &'a [u8],
        e: &'a [u8],
    },
    Ec {
        crv: &'static str,
        x: &'a [u8],
        y: &'a [u8],
    },
    Ed25519 {
        x: &'a [u8],
    },
}

fn public_key(certificate: &[u8]) -> Option<PublicKey<'_>> {
    let cert = Der(certificate).expect(SEQUENCE)?;
    let mut tbs = Der(Der(cert).expect(SEQUENCE)?);
    let (mut tag, _) = tbs.next()?;
    if tag == VERSION_TAG {
        tag = tbs.next()?.0; // the serial number
    }
    if tag != INTEGER {
        return None;
    }
    for _ in 0..4 {
        tbs.expect(SEQUENCE)?; // signature, issuer, validity, subject
    }
    let mut spki = Der(tbs.expect(SEQUENCE)?);
    let mut alg = Der(spki.expect(SEQUENCE)?);
    let oid = alg.expect(OID)?;
    let bits = spki.expect(BIT_STRING)?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    match oid {
        OID_RSA => {
            let mut seq = Der(Der(key).expect(SEQUENCE)?);
            let n = strip_zeros(seq.expect(INTEGER)?);
            let e = strip_zeros(seq.expect(INTEGER)?);
            Some(PublicKey::Rsa { n, e })
        }
        OID_EC => {
            let (crv, size) = match alg.expect(OID)? {
                OID_P256 => ("P-256", 32),
                OID_P384 => ("P-384", 48),
                _ => return None,
            };
            let (&form, point) = key.split_first()?;
            if form != 0x04 || point.len() != 2 * size {
                return None;
            }
            let (x, y) = point.split_at(size);
            Some(PublicKey::Ec { crv, x, y })
        }
        OID_ED25519 if key.len() == 32 => Some(PublicKey::Ed25519 { x: key }),
        _ => None,
    }
}

#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
/// `b` without its leading zero bytes (a DER integer's sign padding), keeping the last byte.
pub fn strip_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        if rest.is_empty() {
            break;
        }
        b = rest;
    }
    b
}

fn member_is(member: Option<&String>, expected: &[u8]) -> bool {
    member
        .and_then(|m| URL_SAFE_NO_PAD.decode(m).ok())
        .is_some_and(|v| strip_zeros(&v) == strip_zeros(expected))
}

/// True when the DER `certificate`'s public key is the public key of `jwk`.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn certificate_key_matches(certificate: &[u8], jwk: &Jwk) -> bool {
    match public_key(certificate) {
        Some(PublicKey::Rsa { n, e }) => {
            jwk.kty == "RSA" && member_is(jwk.n.as_ref(), n) && member_is(jwk.e.as_ref(), e)
        }
        Some(PublicKey::Ec { crv, x, y }) => {
            jwk.kty == "EC"
                && jwk.crv.as_deref() == Some(crv)
                && member_is(jwk.x.as_ref(), x)
                && member_is(jwk.y.as_ref(), y)
        }
        Some(PublicKey::Ed25519 { x }) => {
            jwk.kty == "OKP"
                && jwk.crv.as_deref() == Some("Ed25519")
                && member_is(jwk.x.as_ref(), x)
        }
        None => false,
    }
}
