//! A minimal DER writer: just enough to hand private JWKs to the crypto backend as PKCS#1
//! (RSA) and PKCS#8 (EC, Ed25519) documents.

use zeroize::Zeroizing;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
/// The DER tag of an OCTET STRING.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];

/// A DER buffer. Most hold private key bytes, so every one is wiped when dropped, and each is
/// allocated at its final size so that no reallocation leaves a copy behind.
pub(crate) type Der = Zeroizing<Vec<u8>>;

/// `parts` one after the other, in a buffer of exactly their total length.
fn concat(parts: &[&[u8]]) -> Der {
    let mut out = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// A DER tag-length-value: `tag`, the length of `content` (short or long form), `content`.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn tlv(tag: u8, content: &[u8]) -> Der {
    let mut header = vec![tag];
    let len = content.len();
    if len < 0x80 {
        header.push(len as u8);
    } else {
        // Long form: 0x80 plus the count of the length's significant big-endian bytes (at
        // most 8), then those bytes. `len` is at least 0x80 here, so its top byte is non-zero.
        let bytes = len.to_be_bytes();
        let leading_zero_bytes = (len.leading_zeros() / 8) as usize;
        let significant = bytes.get(leading_zero_bytes..).unwrap_or_default();
        header.push(0x80 + significant.len() as u8);
        header.extend_from_slice(significant);
    }
    concat(&[&header, content])
}

/// A non-negative INTEGER from big-endian magnitude bytes.
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn uint(magnitude: &[u8]) -> Der {
    let first = magnitude.iter().position(|b| *b != 0);
    let trimmed = first.and_then(|i| magnitude.get(i..)).unwrap_or(&[0u8][..]);
    let pad: &[u8] = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        &[0]
    } else {
        &[]
    };
    tlv(INTEGER, &concat(&[pad, trimmed]))
}

/// The elliptic curves we write keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

impl Curve {
    pub(crate) fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

/// PKCS#1 `RSAPrivateKey` from the JWK members, in the order RFC 8017 A.1.2 lists them.
pub(crate) fn rsa_pkcs1(parts: [&[u8]; 8]) -> Der {
    let integers: Vec<Der> = std::iter::once(uint(&[0]))
        .chain(parts.iter().map(|p| uint(p)))
        .collect();
    let slices: Vec<&[u8]> = integers.iter().map(|i| i.as_slice()).collect();
    tlv(SEQUENCE, &concat(&slices))
}

/// PKCS#8 `PrivateKeyInfo` wrapping an RFC 5915 `ECPrivateKey`. `public` is the uncompressed
/// point (0x04 || x || y) when known.
pub(crate) fn ec_pkcs8(curve: Curve, d: &[u8], public: Option<&[u8]>) -> Der {
    let curve_oid = match curve {
        Curve::P256 => OID_P256,
        Curve::P384 => OID_P384,
    };
    let pad = vec![0u8; curve.scalar_len().saturating_sub(d.len())];
    let scalar = concat(&[&pad, d]);
    let version = uint(&[1]);
    let private = tlv(OCTET_STRING, &scalar);
    let public = public.map(|point| tlv(0xA1, &tlv(BIT_STRING, &concat(&[&[0u8], point]))));
    let public: &[u8] = public.as_ref().map_or(&[], |p| p.as_slice());
    let ec_key = tlv(
        SEQUENCE,
        &concat(&[version.as_slice(), private.as_slice(), public]),
    );
    let alg_id = tlv(SEQUENCE, &concat(&[OID_EC_PUBLIC_KEY, curve_oid]));
    let wrapped = tlv(OCTET_STRING, &ec_key);
    tlv(
        SEQUENCE,
        &concat(&[uint(&[0]).as_slice(), alg_id.as_slice(), wrapped.as_slice()]),
    )
}

/// PKCS#8 v1 `PrivateKeyInfo` for an Ed25519 seed (RFC 8410).
#[cfg_attr(not(feature = "test-internals"), allow(unreachable_pub))]
pub fn ed25519_pkcs8(seed: &[u8]) -> Der {
    let version = uint(&[0]);
    let alg_id = tlv(SEQUENCE, OID_ED25519);
    let private = tlv(OCTET_STRING, &tlv(OCTET_STRING, seed));
    tlv(
        SEQUENCE,
        &concat(&[version.as_slice(), alg_id.as_slice(), private.as_slice()]),
    )
}
