//! Sender-constrained tokens: what an access token is bound to (RFC 9449 section 6, RFC 8705
//! section 3), and the `cnf` claim that says so.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::jose::JoseError;
use ciba_core::jose::hash::sha256;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `token_type` of a DPoP-bound access token (RFC 9449 section 5).
pub const DPOP_TOKEN_TYPE: &str = "DPoP";
/// The `token_type` of an unbound or certificate-bound access token (RFC 6750, RFC 8705).
pub const BEARER_TOKEN_TYPE: &str = "Bearer";

/// The confirmation of an issued access token: the keys its holder must prove it has. Empty
/// for a plain bearer token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 7638 SHA-256 thumbprint of the DPoP key (`cnf.jkt`, RFC 9449 section 6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// base64url SHA-256 of the DER client certificate (`cnf.x5t#S256`, RFC 8705 section 3.1).
    #[serde(default, rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

impl Confirmation {
    /// No binding: a bearer token.
    pub fn bearer() -> Confirmation {
        Confirmation::default()
    }

    /// Bound to the DPoP key with this RFC 7638 thumbprint.
    pub fn dpop(jkt: impl Into<String>) -> Confirmation {
        Confirmation {
            jkt: Some(jkt.into()),
            x5t_s256: None,
        }
    }

    /// Bound to the client certificate whose DER encoding is `der`.
    pub fn certificate(der: &[u8]) -> Result<Confirmation, JoseError> {
        Ok(Confirmation {
            jkt: None,
            x5t_s256: Some(certificate_thumbprint(der)?),
        })
    }

    /// True when the token is bound to something (DPoP key or certificate).
    pub fn is_bound(&self) -> bool {
        self.jkt.is_some() || self.x5t_s256.is_some()
    }

    /// `DPoP` for a DPoP-bound token, else `Bearer` (certificate-bound tokens keep the
    /// Bearer type, RFC 8705 section 3).
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() {
            DPOP_TOKEN_TYPE
        } else {
            BEARER_TOKEN_TYPE
        }
    }

    /// The `cnf` claim value (RFC 7800), or `None` for a bearer token.
    pub fn cnf_claim(&self) -> Option<Value> {
        if !self.is_bound() {
            return None;
        }
        let mut cnf = Map::new();
        if let Some(jkt) = &self.jkt {
            cnf.insert("jkt".into(), Value::String(jkt.clone()));
        }
        if let Some(x5t) = &self.x5t_s256 {
            cnf.insert("x5t#S256".into(), Value::String(x5t.clone()));
        }
        Some(Value::Object(cnf))
    }
}

/// base64url(SHA-256(der)): the `x5t#S256` thumbprint of a DER certificate.
pub fn certificate_thumbprint(der: &[u8]) -> Result<String, JoseError> {
    Ok(URL_SAFE_NO_PAD.encode(sha256(der)?))
}
