//! The three CIBA token delivery modes (CIBA Core section 5).

use std::fmt;
use std::str::FromStr;

/// How the OP delivers the authentication result to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryMode {
    /// The client polls the token endpoint.
    Poll,
    /// The OP pings the client's notification endpoint; the client then calls the token endpoint.
    Ping,
    /// The OP pushes the tokens to the client's notification endpoint.
    Push,
}

impl DeliveryMode {
    /// The registered value: `poll`, `ping` or `push`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Poll => "poll",
            DeliveryMode::Ping => "ping",
            DeliveryMode::Push => "push",
        }
    }

    /// True for ping and push, which need a notification endpoint and a
    /// `client_notification_token`.
    pub fn uses_notifications(self) -> bool {
        !matches!(self, DeliveryMode::Poll)
    }

    /// True for poll and ping, which redeem the `auth_req_id` at the token endpoint.
    pub fn uses_token_endpoint(self) -> bool {
        !matches!(self, DeliveryMode::Push)
    }
}

impl fmt::Display for DeliveryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not `poll`, `ping` or `push`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token delivery mode")]
pub struct UnknownDeliveryMode;

impl FromStr for DeliveryMode {
    type Err = UnknownDeliveryMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "poll" => Ok(DeliveryMode::Poll),
            "ping" => Ok(DeliveryMode::Ping),
            "push" => Ok(DeliveryMode::Push),
            _ => Err(UnknownDeliveryMode),
        }
    }
}

impl serde::Serialize for DeliveryMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DeliveryMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("expected poll, ping or push"))
    }
}

/// The grant type of the CIBA token request.
pub const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
