//! Token binding confirmations (src/binding.rs).

use ciba_server::Confirmation;

#[test]
fn dpop_binding_changes_the_token_type_and_the_cnf_claim() {
    let c = Confirmation::dpop("abc");
    assert_eq!(c.token_type(), "DPoP");
    assert_eq!(c.cnf_claim().unwrap()["jkt"], "abc");
    assert_eq!(Confirmation::bearer().token_type(), "Bearer");
    assert!(Confirmation::bearer().cnf_claim().is_none());
}

#[test]
fn certificate_binding_is_the_sha256_of_the_der() {
    let c = Confirmation::certificate(b"abc").unwrap();
    // SHA-256("abc"), base64url.
    assert_eq!(
        c.x5t_s256.as_deref(),
        Some("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
    );
    assert_eq!(c.token_type(), "Bearer");
    assert!(c.cnf_claim().unwrap().get("x5t#S256").is_some());
}
