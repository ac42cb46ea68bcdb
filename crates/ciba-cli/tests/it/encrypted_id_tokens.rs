//! `ciba serve` encrypts the ID tokens of clients registered with
//! `id_token_encrypted_response_alg` in a `--clients` file, and `ciba login --decryption-key`
//! decrypts them, in poll, ping and push; without the key, or with it against a client that
//! gets plain ID tokens, login refuses the token in one error line.

#![allow(missing_docs)]

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Served, free_port, run_ciba, serve};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(40);

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ciba-core/testdata/{name}.jwk.json"))
}

fn public_jwk(name: &str) -> Value {
    let mut jwk: Value = serde_json::from_slice(&std::fs::read(testdata(name)).unwrap()).unwrap();
    let map = jwk.as_object_mut().unwrap();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        map.remove(private);
    }
    jwk
}

/// A clients file: `enc-{mode}` clients registered for encryption (each mode with another
/// alg/enc), and `plain-poll` without.
fn clients_file(dir: &Path, ping_port: u16, push_port: u16) -> PathBuf {
    let client = |id: &str, mode: &str, port: Option<u16>| {
        let mut c = json!({
            "client_id": id,
            "client_secret": format!("{id}-a-long-enough-secret"),
            "backchannel_token_delivery_mode": mode,
        });
        if mode != "push" {
            c["grant_types"] = json!(["urn:openid:params:grant-type:ciba"]);
        }
        if let Some(port) = port {
            c["backchannel_client_notification_endpoint"] =
                json!(format!("http://127.0.0.1:{port}/ciba/notify"));
        }
        c
    };
    let mut poll = client("enc-poll", "poll", None);
    poll["id_token_encrypted_response_alg"] = json!("RSA-OAEP-256");
    poll["id_token_encrypted_response_enc"] = json!("A256GCM");
    poll["jwks"] = json!({"keys": [public_jwk("enc_rsa")]});
    let mut ping = client("enc-ping", "ping", Some(ping_port));
    // enc defaults to A128CBC-HS256.
    ping["id_token_encrypted_response_alg"] = json!("ECDH-ES+A256KW");
    ping["jwks"] = json!({"keys": [public_jwk("enc_ec")]});
    let mut push = client("enc-push", "push", Some(push_port));
    push["id_token_encrypted_response_alg"] = json!("ECDH-ES+A256KW");
    push["id_token_encrypted_response_enc"] = json!("A256GCM");
    push["jwks"] = json!({"keys": [public_jwk("enc_ec")]});
    let plain = client("plain-poll", "poll", None);
    let file = dir.join("clients.json");
    std::fs::write(&file, json!([poll, ping, push, plain]).to_string()).unwrap();
    file
}

fn login(
    served: &Served,
    id: &str,
    mode: &str,
    port: Option<u16>,
    extra: &[&str],
) -> std::process::Output {
    let secret = format!("{id}-a-long-enough-secret");
    let listen = port.map(|p| format!("127.0.0.1:{p}"));
    let mut args = vec![
        "login",
        "--issuer",
        &served.issuer,
        "--client-id",
        id,
        "--client-secret",
        &secret,
        "--login-hint",
        "alice",
        "--mode",
        mode,
        "--allow-insecure-loopback",
    ];
    if let Some(listen) = &listen {
        args.extend(["--listen", listen]);
    }
    args.extend(extra);
    run_ciba(&args, LOGIN_TIMEOUT)
}

#[test]
fn serve_encrypts_and_login_decrypts_in_poll_ping_and_push() {
    let dir = std::env::temp_dir().join(format!("ciba-cli-jwe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ping_port, push_port) = (free_port(), free_port());
    let file = clients_file(&dir, ping_port, push_port);
    let served = serve(
        &[
            "--auto",
            "approve:1",
            "--interval",
            "1",
            "--clients",
            file.to_str().unwrap(),
        ],
        0,
    );
    let discovery = support::http(
        "GET",
        &format!("{}/.well-known/openid-configuration", served.issuer),
        None,
    );
    let doc: Value = serde_json::from_str(&discovery.1).unwrap();
    assert_eq!(
        doc["id_token_encryption_alg_values_supported"],
        json!(["RSA-OAEP-256", "ECDH-ES+A256KW"])
    );

    let rsa = testdata("enc_rsa");
    let ec = testdata("enc_ec");
    for (id, mode, port, key, enc) in [
        ("enc-poll", "poll", None, &rsa, "A256GCM"),
        ("enc-ping", "ping", Some(ping_port), &ec, "A128CBC-HS256"),
        ("enc-push", "push", Some(push_port), &ec, "A256GCM"),
    ] {
        let out = login(
            &served,
            id,
            mode,
            port,
            &[
                "--decryption-key",
                key.to_str().unwrap(),
                "--id-token-enc",
                enc,
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{mode}: {stderr}");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["id_token_claims"]["sub"], "alice", "{mode}");
        assert_eq!(json["id_token_claims"]["aud"], id, "{mode}");
        let id_token = json["token_response"]["id_token"].as_str().unwrap();
        assert_eq!(
            id_token.split('.').count(),
            5,
            "{mode}: a JWE was delivered"
        );
    }

    // Without the key, the encrypted token is refused.
    let out = login(&served, "enc-poll", "poll", None, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("encrypted"), "{stderr}");
    // With the wrong enc allowed, it is refused too.
    let out = login(
        &served,
        "enc-poll",
        "poll",
        None,
        &[
            "--decryption-key",
            rsa.to_str().unwrap(),
            "--id-token-enc",
            "A128CBC-HS256",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // With the key, a plain ID token is refused.
    let out = login(
        &served,
        "plain-poll",
        "poll",
        None,
        &["--decryption-key", rsa.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not encrypted"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
