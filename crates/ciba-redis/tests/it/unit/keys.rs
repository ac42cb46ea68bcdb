//! Key names: ids with separators cannot collide, and a client's entries share a cluster slot.

use ciba_redis::__internals::Keys;
use ciba_server::store::{ReplayKey, ReplayPurpose};

fn jti(client: &str, jti: &str) -> ReplayKey {
    ReplayKey {
        client_id: client.into(),
        purpose: ReplayPurpose::ClientAssertion,
        jti: jti.into(),
    }
}

#[test]
fn replay_keys_with_colons_or_braces_do_not_collide() {
    let keys = Keys::new("ciba:");
    assert_ne!(keys.jti(&jti("a:b", "c")), keys.jti(&jti("a", "b:c")));
    assert_ne!(
        keys.jti(&jti("a}:ca:b", "c")),
        keys.jti(&jti("a", "b}:ca:c"))
    );
    assert_eq!(keys.jti(&jti("a:b", "c")), "ciba:jti:{a:b}:ca:c");
}

#[test]
fn a_clients_replay_entries_share_the_slot_of_its_set_whatever_its_id() {
    let keys = Keys::new("p:");
    for client in ["c", "", "}", "{x}", "a}b{", "%7D"] {
        let set = keys.client(client);
        assert_eq!(hash_tag(&keys.jti(&jti(client, "j}"))), hash_tag(&set));
        assert_ne!(hash_tag(&set), set, "{client:?} has a tag");
    }
    // Different clients get different tags.
    assert_ne!(hash_tag(&keys.client("}")), hash_tag(&keys.client("%7D")));
}

/// The hash tag of `key`, as Redis Cluster computes it.
fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}
