//! Tests of the items of `src/jose/jws.rs`, one by one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciba_core::Limits;
use ciba_core::jose::{CompactJws, JoseError};

#[test]
fn five_part_tokens_are_refused() {
    let e = CompactJws::parse("a.b.c.d.e", &Limits::DEFAULT).unwrap_err();
    assert!(matches!(e, JoseError::Malformed { .. }));
}

#[test]
fn crit_headers_are_refused() {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","crit":["exp"],"exp":1}"#);
    let e = CompactJws::parse(&format!("{h}.e30.AA"), &Limits::DEFAULT).unwrap_err();
    assert_eq!(e, JoseError::UnsupportedCritical { name: "exp".into() });
}

#[test]
fn header_without_alg_is_malformed() {
    let h = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT"}"#);
    assert!(CompactJws::parse(&format!("{h}.e30.AA"), &Limits::DEFAULT).is_err());
}

#[test]
fn oversize_tokens_are_refused_before_decoding() {
    let limits = Limits::DEFAULT.with_max_jwt_bytes(10);
    assert!(matches!(
        CompactJws::parse("aaaaaaaaaaaa.b.c", &limits),
        Err(JoseError::TooLarge { .. })
    ));
}

#[test]
fn a_token_exactly_at_the_size_limit_is_parsed() {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#);
    let token = format!("{h}.e30.AA");
    let at_limit = Limits::DEFAULT.with_max_jwt_bytes(token.len());
    let jws = CompactJws::parse(&token, &at_limit).unwrap();
    assert_eq!(jws.header.alg, "ES256");
    assert_eq!(jws.payload, b"{}");
    let below = Limits::DEFAULT.with_max_jwt_bytes(token.len() - 1);
    assert_eq!(
        CompactJws::parse(&token, &below),
        Err(JoseError::TooLarge {
            limit: token.len() - 1,
            actual: token.len(),
        })
    );
}

#[test]
fn a_crit_header_is_refused_whatever_its_shape() {
    for (crit, name) in [
        (r#"["exp"]"#, "exp"),
        (r#"["b64","exp"]"#, "b64"),
        ("[]", ""),
        ("[1]", ""),
        (r#""exp""#, ""),
        ("null", ""),
    ] {
        let h = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","crit":{crit}}}"#));
        assert_eq!(
            CompactJws::parse(&format!("{h}.e30.AA"), &Limits::DEFAULT),
            Err(JoseError::UnsupportedCritical { name: name.into() }),
            "crit {crit}"
        );
    }
}
