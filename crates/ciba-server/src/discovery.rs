//! The discovery document (OIDC Discovery, RFC 8414, CIBA Core section 4) and the public
//! JWKS document.

use std::time::SystemTime;

use http::HeaderValue;
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Map, Value};

use ciba_core::wire::APPLICATION_JSON;

use crate::client::CIBA_GRANT_TYPE;
use crate::id_token_encryption::{ALG_VALUES_SUPPORTED, ENC_VALUES_SUPPORTED};
use crate::server::CibaServer;

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

fn document_response(body: &Value) -> http::Response<Vec<u8>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = http::Response::new(bytes);
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

impl CibaServer {
    /// The members of the discovery document that concern CIBA and this helper: `issuer`,
    /// `token_endpoint`, `backchannel_authentication_endpoint`, `jwks_uri`,
    /// `backchannel_token_delivery_modes_supported`,
    /// `backchannel_authentication_request_signing_alg_values_supported` (only when signed
    /// requests are accepted), `backchannel_user_code_parameter_supported`,
    /// `grant_types_supported` (with the CIBA grant when poll or ping is offered),
    /// `token_endpoint_auth_methods_supported`,
    /// `token_endpoint_auth_signing_alg_values_supported`,
    /// `id_token_signing_alg_values_supported`, `id_token_encryption_alg_values_supported` and
    /// `id_token_encryption_enc_values_supported` (what clients may register for encrypted ID
    /// tokens), `dpop_signing_alg_values_supported` (RFC 9449
    /// section 5.1, [`DpopSettings::algorithms`](crate::DpopSettings::algorithms)),
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 section 3.3, always `true`: the
    /// token endpoint binds tokens to the client certificate the host passes in),
    /// `scopes_supported`, `acr_values_supported` and `subject_types_supported`, plus
    /// [`ServerConfig::extra_metadata`](crate::ServerConfig::extra_metadata).
    pub fn discovery_document(&self) -> Value {
        let c = &self.config;
        let mut m = Map::new();
        m.insert("issuer".into(), c.issuer.clone().into());
        m.insert("token_endpoint".into(), c.token_endpoint.clone().into());
        m.insert(
            "backchannel_authentication_endpoint".into(),
            c.backchannel_authentication_endpoint.clone().into(),
        );
        if let Some(uri) = &c.jwks_uri {
            m.insert("jwks_uri".into(), uri.clone().into());
        }
        m.insert(
            "backchannel_token_delivery_modes_supported".into(),
            strings(c.delivery_modes.iter().map(|d| d.as_str())),
        );
        if !c.request_signing_algs.is_empty() {
            m.insert(
                "backchannel_authentication_request_signing_alg_values_supported".into(),
                strings(c.request_signing_algs.iter().map(|a| a.as_str())),
            );
        }
        m.insert(
            "backchannel_user_code_parameter_supported".into(),
            c.user_code_supported.into(),
        );
        let mut grants: Vec<&str> = c.other_grant_types.iter().map(String::as_str).collect();
        if c.delivery_modes.iter().any(|d| d.uses_token_endpoint())
            && !grants.contains(&CIBA_GRANT_TYPE)
        {
            grants.push(CIBA_GRANT_TYPE);
        }
        m.insert("grant_types_supported".into(), strings(grants));
        m.insert(
            "token_endpoint_auth_methods_supported".into(),
            strings(c.auth_methods.iter().map(|a| a.as_str())),
        );
        m.insert(
            "token_endpoint_auth_signing_alg_values_supported".into(),
            strings(c.auth_signing_algs.iter().map(|a| a.as_str())),
        );
        m.insert(
            "id_token_signing_alg_values_supported".into(),
            strings(
                self.minter
                    .id_token_signing_algs()
                    .iter()
                    .map(|a| a.as_str()),
            ),
        );
        m.insert(
            "id_token_encryption_alg_values_supported".into(),
            strings(ALG_VALUES_SUPPORTED.iter().map(|a| a.as_str())),
        );
        m.insert(
            "id_token_encryption_enc_values_supported".into(),
            strings(ENC_VALUES_SUPPORTED.iter().map(|e| e.as_str())),
        );
        let dpop_algs: Vec<&str> = c
            .dpop
            .algorithms
            .iter()
            .filter(|a| !a.is_symmetric())
            .map(|a| a.as_str())
            .collect();
        if !dpop_algs.is_empty() {
            m.insert(
                "dpop_signing_alg_values_supported".into(),
                strings(dpop_algs),
            );
        }
        m.insert(
            "tls_client_certificate_bound_access_tokens".into(),
            true.into(),
        );
        if let Some(scopes) = &c.scopes_supported {
            m.insert(
                "scopes_supported".into(),
                strings(scopes.iter().map(String::as_str)),
            );
        }
        if !c.acr_values_supported.is_empty() {
            m.insert(
                "acr_values_supported".into(),
                strings(c.acr_values_supported.iter().map(String::as_str)),
            );
        }
        m.insert("subject_types_supported".into(), strings(["public"]));
        for (k, v) in &c.extra_metadata {
            if !m.contains_key(k) {
                m.insert(k.clone(), v.clone());
            }
        }
        Value::Object(m)
    }

    /// The public JWK Set that verifies the ID tokens at `now`: the active keys, and retired
    /// keys while tokens they signed may still be valid (private members never included).
    pub fn jwks_document(&self, now: SystemTime) -> Value {
        serde_json::to_value(self.minter.public_jwks(now).to_public())
            .unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// [`CibaServer::discovery_document`] as a 200 JSON response (cacheable for an hour).
    pub fn discovery_response(&self) -> http::Response<Vec<u8>> {
        document_response(&self.discovery_document())
    }

    /// [`CibaServer::jwks_document`] as a 200 JSON response (cacheable for an hour).
    pub fn jwks_response(&self, now: SystemTime) -> http::Response<Vec<u8>> {
        document_response(&self.jwks_document(now))
    }
}
