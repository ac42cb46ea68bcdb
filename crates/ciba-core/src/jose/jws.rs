//! JWS compact serialization (RFC 7515 section 7.1): parsing and producing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::{JoseError, Jwk, Signer};
use crate::body::parse_json_object;
use crate::limits::Limits;

/// The protected header of a JWS, with the members ciba interprets pulled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsHeader {
    /// The `alg` value exactly as sent (checked against an allow-list when verifying).
    pub alg: String,
    /// `kid`, if sent.
    pub kid: Option<String>,
    /// `typ`, if sent.
    pub typ: Option<String>,
    /// `jwk`, if sent. Only DPoP proofs use it; for every other token it is ignored, never
    /// trusted as a verification key.
    pub jwk: Option<Jwk>,
    /// The whole header object, as sent.
    pub raw: Map<String, Value>,
}

/// A parsed, not yet verified, compact JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactJws {
    /// The protected header.
    pub header: JwsHeader,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
    signing_input: String,
}

fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JoseError::Malformed { reason: what })
}

impl CompactJws {
    /// Splits and decodes `token`. Checks size, shape, base64url, and that the header is a JSON
    /// object with a string `alg` and no `crit` extension (we implement none). Verifies nothing.
    pub fn parse(token: &str, limits: &Limits) -> Result<CompactJws, JoseError> {
        if token.len() > limits.max_jwt_bytes {
            return Err(JoseError::TooLarge {
                limit: limits.max_jwt_bytes,
                actual: token.len(),
            });
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed {
                reason: "a compact JWS has exactly three parts (encrypted JWTs have five)",
            });
        };
        let header_bytes = decode_part(h, "header is not base64url")?;
        let payload = decode_part(p, "payload is not base64url")?;
        let signature = decode_part(s, "signature is not base64url")?;
        let raw = parse_json_object(&header_bytes, limits).map_err(|_| JoseError::Malformed {
            reason: "header is not a JSON object (or repeats a member)",
        })?;
        let header = header_from_map(raw)?;
        Ok(CompactJws {
            header,
            payload,
            signature,
            signing_input: format!("{h}.{p}"),
        })
    }

    /// The bytes the signature covers: `base64url(header) || '.' || base64url(payload)`.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The payload as a JSON object (the JWT claims set), refusing duplicate members.
    pub fn claims(&self, limits: &Limits) -> Result<Map<String, Value>, JoseError> {
        parse_json_object(&self.payload, limits).map_err(|_| JoseError::Malformed {
            reason: "payload is not a JSON object (or repeats a member)",
        })
    }
}

fn header_from_map(raw: Map<String, Value>) -> Result<JwsHeader, JoseError> {
    let text = |name: &str| -> Result<Option<String>, JoseError> {
        match raw.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(JoseError::Malformed {
                reason: "a header member has the wrong type",
            }),
        }
    };
    let alg = text("alg")?.ok_or(JoseError::Malformed {
        reason: "header has no alg",
    })?;
    let kid = text("kid")?;
    let typ = text("typ")?;
    if let Some(crit) = raw.get("crit") {
        // Name the first extension when it is a string (bounded); any other `crit` is refused
        // without a name.
        let name = match crit.as_array().and_then(|items| items.first()) {
            Some(Value::String(s)) => s.chars().take(64).collect(),
            _ => String::new(),
        };
        return Err(JoseError::UnsupportedCritical { name });
    }
    let jwk = match raw.get("jwk") {
        None => None,
        Some(v @ Value::Object(_)) => Some(serde_json::from_value::<Jwk>(v.clone()).map_err(
            |_| JoseError::Malformed {
                reason: "header jwk is not a JSON Web Key",
            },
        )?),
        Some(_) => {
            return Err(JoseError::Malformed {
                reason: "header jwk is not an object",
            });
        }
    };
    Ok(JwsHeader {
        alg,
        kid,
        typ,
        jwk,
        raw,
    })
}

/// Signs `claims` with `signer` into a compact JWS. The header gets `alg` from the signer,
/// `kid` when the signer has one, and every member of `extra_header` (for example `typ` or
/// DPoP's `jwk`).
pub fn sign_compact(
    extra_header: Map<String, Value>,
    claims: &Map<String, Value>,
    signer: &dyn Signer,
) -> Result<String, JoseError> {
    let mut header = Map::new();
    header.insert(
        "alg".into(),
        Value::String(signer.algorithm().as_str().into()),
    );
    if let Some(kid) = signer.key_id() {
        header.insert("kid".into(), Value::String(kid.to_owned()));
    }
    for (k, v) in extra_header {
        header.insert(k, v);
    }
    let ser = |v: &Map<String, Value>| {
        serde_json::to_vec(v).map_err(|_| JoseError::SigningFailed {
            reason: "claims cannot be serialized".to_owned(),
        })
    };
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(ser(&header)?),
        URL_SAFE_NO_PAD.encode(ser(claims)?)
    );
    let sig = signer.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}
