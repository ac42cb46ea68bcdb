//! Negative conformance matrix, client side: hostile acknowledgements, token responses, ID
//! tokens (algorithm confusion, header tricks, claim types and sizes, duplicate members),
//! notifications (bearer tricks, unknown ids, replays) and discovery documents, one row per
//! defect, each test naming the specification sections it enforces (docs/security.md maps the
//! checklist IDs to these tests). Every matrix also checks a sound input is accepted, so a
//! refusal is about the defect of its row.
//!
//! This file holds what the areas share; each area has its own file.

mod id_token;
mod metadata;
mod notifications;
mod responses;

use crate::support;

use ciba_core::DeliveryMode;
use ciba_core::id_token::{IdTokenContext, IdTokenError};
use ciba_core::jose::jws::sign_compact;
use serde_json::{Map, Value, json};
use support::*;

fn validate(token: &str) -> Result<ciba_core::IdTokenClaims, IdTokenError> {
    validator(&client(DeliveryMode::Poll)).validate(token, &IdTokenContext::standalone(), t0())
}

fn signed_with_header(header: Value, claims: &Map<String, Value>) -> String {
    let Value::Object(h) = header else {
        unreachable!()
    };
    sign_compact(h, claims, &signer("es256")).unwrap()
}
