//! Tests of the items of `src/jose/jwe/compact.rs`, one by one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::jose::jwe::{CompactJwe, JweError};

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

#[test]
fn five_parts_with_a_json_header_parse() {
    let h = b64(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1","cty":"JWT"}"#);
    let jwe = CompactJwe::parse(&format!("{h}.AQ.Ag.Aw.BA"), 1024).unwrap();
    assert_eq!(jwe.header.alg, "RSA-OAEP-256");
    assert_eq!(jwe.header.kid.as_deref(), Some("k1"));
    assert_eq!(jwe.iv, vec![2]);
    assert_eq!(jwe.protected, h);
}

#[test]
fn zip_crit_shape_and_size_are_refused() {
    let zip = b64(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","zip":"DEF"}"#);
    assert_eq!(
        CompactJwe::parse(&format!("{zip}.AQ.Ag.Aw.BA"), 1024),
        Err(JweError::Compressed)
    );
    let crit = b64(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","crit":["exp"]}"#);
    assert!(matches!(
        CompactJwe::parse(&format!("{crit}.AQ.Ag.Aw.BA"), 1024),
        Err(JweError::UnsupportedCritical { .. })
    ));
    assert!(matches!(
        CompactJwe::parse("a.b.c", 1024),
        Err(JweError::Malformed { .. })
    ));
    assert!(matches!(
        CompactJwe::parse("a.b.c.d.e.f", 1024),
        Err(JweError::Malformed { .. })
    ));
    assert!(matches!(
        CompactJwe::parse(&"a".repeat(2000), 1024),
        Err(JweError::TooLarge { .. })
    ));
    let no_enc = b64(r#"{"alg":"RSA-OAEP-256"}"#);
    assert!(matches!(
        CompactJwe::parse(&format!("{no_enc}.AQ.Ag.Aw.BA"), 1024),
        Err(JweError::Malformed { .. })
    ));
}
