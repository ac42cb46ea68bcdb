//! Reading what ciba-server answers: a response's JSON body, a token endpoint refusal.

use ciba_server::TokenOutcome;
use serde_json::{Map, Value};

/// The JSON body of a response (a JSON object).
pub fn json_body(resp: &http::Response<Vec<u8>>) -> Map<String, Value> {
    serde_json::from_slice::<Value>(resp.body())
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// The status and `error` of a token endpoint refusal.
pub fn token_error(outcome: &TokenOutcome) -> (u16, String) {
    match outcome {
        TokenOutcome::Respond(r) => (
            r.response.status().as_u16(),
            json_body(&r.response)["error"].as_str().unwrap().to_owned(),
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}
