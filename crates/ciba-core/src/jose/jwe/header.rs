//! The JWE protected header (RFC 7516 section 4) with the members ciba interprets.

use serde_json::{Map, Value};

use super::JweError;
use super::alg::clip;
use crate::jose::Jwk;

/// The protected header of a JWE. Checked on parse: `alg` and `enc` are strings, there is no
/// `zip` ([`JweError::Compressed`]) and no `crit` ([`JweError::UnsupportedCritical`]). The
/// algorithms are checked against an allow-list only when decrypting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JweHeader {
    /// `alg` as sent.
    pub alg: String,
    /// `enc` as sent.
    pub enc: String,
    /// `kid`, if sent.
    pub kid: Option<String>,
    /// `cty`, if sent (`JWT` for a nested signed token).
    pub cty: Option<String>,
    /// `epk`: the sender's ephemeral public key (ECDH-ES).
    pub epk: Option<Jwk>,
    /// `apu` (agreement PartyUInfo), base64url as sent.
    pub apu: Option<String>,
    /// `apv` (agreement PartyVInfo), base64url as sent.
    pub apv: Option<String>,
    /// The whole header object, as sent.
    pub raw: Map<String, Value>,
}

fn string_member(raw: &Map<String, Value>, name: &str) -> Result<Option<String>, JweError> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JweError::Malformed {
            reason: "a header member that must be a string is not",
        }),
    }
}

impl JweHeader {
    /// Reads the header members from the decoded header object.
    pub fn from_map(raw: Map<String, Value>) -> Result<JweHeader, JweError> {
        if raw.contains_key("zip") {
            return Err(JweError::Compressed);
        }
        if let Some(crit) = raw.get("crit") {
            let name = match crit {
                Value::Array(names) => names.first().and_then(Value::as_str).unwrap_or(""),
                _ => "",
            };
            return Err(JweError::UnsupportedCritical { name: clip(name) });
        }
        let alg = string_member(&raw, "alg")?.ok_or(JweError::Malformed {
            reason: "the header has no alg",
        })?;
        let enc = string_member(&raw, "enc")?.ok_or(JweError::Malformed {
            reason: "the header has no enc",
        })?;
        let epk = match raw.get("epk") {
            None => None,
            Some(v @ Value::Object(_)) => Some(serde_json::from_value::<Jwk>(v.clone()).map_err(
                |_| JweError::Malformed {
                    reason: "epk is not a JSON Web Key",
                },
            )?),
            Some(_) => {
                return Err(JweError::Malformed {
                    reason: "epk is not a JSON object",
                });
            }
        };
        Ok(JweHeader {
            kid: string_member(&raw, "kid")?,
            cty: string_member(&raw, "cty")?,
            apu: string_member(&raw, "apu")?,
            apv: string_member(&raw, "apv")?,
            alg,
            enc,
            epk,
            raw,
        })
    }
}
