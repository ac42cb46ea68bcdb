//! The development provider's user directory: who a hint names, and whether the user code
//! sent with it is theirs.
//!
//! Without `--users` every non-blank `login_hint` is a user whose subject is the hint itself,
//! and an `id_token_hint` names the subject of the ID token; user codes are not supported.
//! With `--users FILE` only the listed users exist. The file is a JSON array:
//!
//! ```json
//! [
//!   {"subject": "248289761001", "login_hints": ["alice", "alice@example.com"], "user_code": "4711"},
//!   {"subject": "bob-0002", "login_hints": ["bob"], "id_token_hint_subjects": ["bob-legacy"]}
//! ]
//! ```
//!
//! - `subject` (required): the `sub` of the user's ID tokens.
//! - `login_hints`: the `login_hint` values that name the user (exact match).
//! - `user_code`: the user's code. When any user has one, discovery advertises
//!   `backchannel_user_code_parameter_supported`, and clients registered with
//!   `backchannel_user_code_parameter` must send a code: none is `missing_user_code`, and
//!   one that is not the user's (or a user without a code) is `invalid_user_code`.
//! - `id_token_hint_subjects`: further `sub` values an `id_token_hint` may carry for this user
//!   (the user's own `subject` always names them).
//!
//! A hint that names nobody, and every `login_hint_token`, is `unknown_user_id`.

use std::collections::HashMap;
use std::path::Path;

use ciba_server::{FailReason, Secret, UserHint};
use serde::Deserialize;

use crate::error::CliError;

/// The largest `--users` file read.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One user of a `--users` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    subject: String,
    #[serde(default)]
    login_hints: Vec<String>,
    #[serde(default)]
    user_code: Option<Secret>,
    #[serde(default)]
    id_token_hint_subjects: Vec<String>,
}

/// A listed user.
#[derive(Debug)]
struct User {
    subject: String,
    user_code: Option<Secret>,
}

/// Who the development provider knows.
#[derive(Debug)]
pub(crate) enum UserDirectory {
    /// Every non-blank `login_hint` is a user (subject = the hint); no user codes.
    EveryHint,
    /// Only the users of a `--users` file.
    Listed(Listed),
}

/// The users of a `--users` file, indexed by what names them.
#[derive(Debug)]
pub(crate) struct Listed {
    users: Vec<User>,
    by_login_hint: HashMap<String, usize>,
    by_id_token_subject: HashMap<String, usize>,
}

impl UserDirectory {
    /// Reads a `--users` file; every problem is a usage error naming the file.
    pub(crate) fn load(path: &Path) -> Result<UserDirectory, CliError> {
        let fail = |why: String| CliError::usage(format!("users file {}: {why}", path.display()));
        let size = std::fs::metadata(path)
            .map_err(|e| fail(format!("cannot read it: {e}")))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(fail(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        parse(&bytes).map(UserDirectory::Listed).map_err(fail)
    }

    /// True when some user has a user code (so the provider supports user codes).
    pub(crate) fn has_user_codes(&self) -> bool {
        match self {
            UserDirectory::EveryHint => false,
            UserDirectory::Listed(listed) => listed.users.iter().any(|u| u.user_code.is_some()),
        }
    }

    /// The subject `hint` names, checking `user_code` when the client must send one
    /// (`code_required`: ciba-server's `Ticket::user_code_required`).
    pub(crate) fn identify(
        &self,
        hint: &UserHint,
        user_code: Option<&Secret>,
        code_required: bool,
    ) -> Result<String, FailReason> {
        let listed = match self {
            UserDirectory::EveryHint => {
                return match hint {
                    UserHint::LoginHint { value } if !value.trim().is_empty() => Ok(value.clone()),
                    UserHint::IdTokenHint { subject, .. } => Ok(subject.clone()),
                    _ => Err(FailReason::UnknownUserId),
                };
            }
            UserDirectory::Listed(listed) => listed,
        };
        let index = match hint {
            UserHint::LoginHint { value } => listed.by_login_hint.get(value),
            UserHint::IdTokenHint { subject, .. } => listed.by_id_token_subject.get(subject),
            UserHint::LoginHintToken { .. } => None,
        };
        let user = index
            .and_then(|&i| listed.users.get(i))
            .ok_or(FailReason::UnknownUserId)?;
        if code_required {
            let sent = user_code.ok_or(FailReason::MissingUserCode)?;
            let theirs = user.user_code.as_ref().ok_or(FailReason::InvalidUserCode)?;
            if !theirs.matches(sent.expose()) {
                return Err(FailReason::InvalidUserCode);
            }
        }
        Ok(user.subject.clone())
    }
}

fn parse(bytes: &[u8]) -> Result<Listed, String> {
    let entries: Vec<UserEntry> = serde_json::from_slice(bytes).map_err(|e| {
        format!("expected a JSON array of users ({{\"subject\", \"login_hints\", ...}}): {e}")
    })?;
    if entries.is_empty() {
        return Err("the array is empty".to_owned());
    }
    let mut listed = Listed {
        users: Vec::with_capacity(entries.len()),
        by_login_hint: HashMap::new(),
        by_id_token_subject: HashMap::new(),
    };
    for (index, entry) in entries.into_iter().enumerate() {
        if entry.subject.trim().is_empty() {
            return Err(format!("user {index} has an empty subject"));
        }
        if entry
            .user_code
            .as_ref()
            .is_some_and(|c| c.expose().is_empty())
        {
            return Err(format!(
                "user {:?} has an empty user_code (leave it out instead)",
                entry.subject
            ));
        }
        for hint in &entry.login_hints {
            if hint.trim().is_empty() {
                return Err(format!("user {:?} has an empty login hint", entry.subject));
            }
            if listed.by_login_hint.insert(hint.clone(), index).is_some() {
                return Err(format!("the login hint {hint:?} names two users"));
            }
        }
        let id_token_subjects =
            std::iter::once(&entry.subject).chain(entry.id_token_hint_subjects.iter());
        for subject in id_token_subjects {
            if listed
                .by_id_token_subject
                .insert(subject.clone(), index)
                .is_some()
            {
                return Err(format!(
                    "the subject {subject:?} names two users (as a subject or an id_token_hint subject)"
                ));
            }
        }
        listed.users.push(User {
            subject: entry.subject,
            user_code: entry.user_code,
        });
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = br#"[
        {"subject": "alice-0001", "login_hints": ["alice", "alice@example.com"], "user_code": "4711"},
        {"subject": "bob-0002", "login_hints": ["bob"], "id_token_hint_subjects": ["bob-legacy"]}
    ]"#;

    fn directory() -> UserDirectory {
        UserDirectory::Listed(parse(FILE).unwrap())
    }

    fn login_hint(value: &str) -> UserHint {
        UserHint::LoginHint {
            value: value.to_owned(),
        }
    }

    fn id_token_hint(subject: &str) -> UserHint {
        UserHint::IdTokenHint {
            value: "eyJ...".to_owned(),
            subject: subject.to_owned(),
        }
    }

    #[test]
    fn listed_login_hints_name_their_subject_and_others_are_unknown() {
        let d = directory();
        assert_eq!(
            d.identify(&login_hint("alice@example.com"), None, false),
            Ok("alice-0001".to_owned())
        );
        assert_eq!(
            d.identify(&login_hint("bob"), None, false),
            Ok("bob-0002".to_owned())
        );
        for unknown in ["mallory", "Alice", "alice-0001", ""] {
            assert_eq!(
                d.identify(&login_hint(unknown), None, false),
                Err(FailReason::UnknownUserId),
                "{unknown}"
            );
        }
        let token = UserHint::LoginHintToken {
            value: "eyJ...".to_owned(),
        };
        assert_eq!(
            d.identify(&token, None, false),
            Err(FailReason::UnknownUserId)
        );
    }

    #[test]
    fn id_token_hints_name_the_subject_or_a_listed_id_token_hint_subject() {
        let d = directory();
        assert_eq!(
            d.identify(&id_token_hint("alice-0001"), None, false),
            Ok("alice-0001".to_owned())
        );
        assert_eq!(
            d.identify(&id_token_hint("bob-legacy"), None, false),
            Ok("bob-0002".to_owned())
        );
        assert_eq!(
            d.identify(&id_token_hint("alice"), None, false),
            Err(FailReason::UnknownUserId)
        );
    }

    #[test]
    fn a_required_user_code_must_be_sent_and_be_the_users() {
        let d = directory();
        let alice = login_hint("alice");
        let code = |c: &str| Secret::new(c);
        assert_eq!(
            d.identify(&alice, None, true),
            Err(FailReason::MissingUserCode)
        );
        assert_eq!(
            d.identify(&alice, Some(&code("0000")), true),
            Err(FailReason::InvalidUserCode)
        );
        assert_eq!(
            d.identify(&alice, Some(&code("4711")), true),
            Ok("alice-0001".to_owned())
        );
        // Bob has no code: whatever is sent is not his.
        assert_eq!(
            d.identify(&login_hint("bob"), Some(&code("4711")), true),
            Err(FailReason::InvalidUserCode)
        );
        // A client that does not use user codes is not asked for one.
        assert_eq!(d.identify(&alice, None, false), Ok("alice-0001".to_owned()));
        assert!(d.has_user_codes());
    }

    #[test]
    fn without_a_file_every_hint_is_a_user_and_codes_are_not_supported() {
        let d = UserDirectory::EveryHint;
        assert_eq!(
            d.identify(&login_hint("anyone"), None, false),
            Ok("anyone".to_owned())
        );
        assert_eq!(
            d.identify(&login_hint("  "), None, false),
            Err(FailReason::UnknownUserId)
        );
        assert_eq!(
            d.identify(&id_token_hint("sub-1"), None, false),
            Ok("sub-1".to_owned())
        );
        assert!(!d.has_user_codes());
        let without_codes = UserDirectory::Listed(
            parse(br#"[{"subject": "carol", "login_hints": ["carol"]}]"#).unwrap(),
        );
        assert!(!without_codes.has_user_codes());
    }

    #[test]
    fn malformed_and_ambiguous_files_are_refused() {
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"subject": "a"}"#,
            br#"[{"login_hints": ["a"]}]"#,
            br#"[{"subject": " ", "login_hints": ["a"]}]"#,
            br#"[{"subject": "a", "login_hints": [""]}]"#,
            br#"[{"subject": "a", "user_code": ""}]"#,
            br#"[{"subject": "a", "login_hint": "a"}]"#,
            br#"[{"subject": "a", "login_hints": ["x"]}, {"subject": "b", "login_hints": ["x"]}]"#,
            br#"[{"subject": "a"}, {"subject": "b", "id_token_hint_subjects": ["a"]}]"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    /// The names the directory of [`FILE`] knows, as login hints or subjects.
    const KNOWN_NAMES: &[&str] = &[
        "alice",
        "alice@example.com",
        "bob",
        "bob-legacy",
        "alice-0001",
    ];

    /// A `--users` document: mostly well-formed arrays of users (with the blank and repeated
    /// values the parser must refuse mixed in), sometimes arbitrary bytes.
    fn users_file() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let name =
            prop_oneof![4 => "[a-c]{1,3}", 1 => Just(String::new()), 1 => Just(" ".to_owned())];
        let user = (
            name.clone(),
            proptest::collection::vec(name.clone(), 0..3),
            proptest::option::of(prop_oneof![3 => "[0-9]{1,4}", 1 => Just(String::new())]),
            proptest::collection::vec(name, 0..2),
        )
            .prop_map(|(subject, hints, code, subjects)| {
                let mut user = serde_json::json!({
                    "subject": subject, "login_hints": hints, "id_token_hint_subjects": subjects,
                });
                if let Some(code) = code {
                    user["user_code"] = serde_json::Value::String(code);
                }
                user
            });
        prop_oneof![
            3 => proptest::collection::vec(user, 0..4)
                .prop_map(|users| serde_json::to_vec(&users).unwrap()),
            1 => proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_users_files_never_panic(bytes in users_file()) {
            match parse(&bytes) {
                Ok(listed) => {
                    // Every user of the file is listed, each name leads to a listed user, and
                    // each user's own subject names that user.
                    let users: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
                    proptest::prop_assert_eq!(listed.users.len(), users.len());
                    for (i, user) in listed.users.iter().enumerate() {
                        proptest::prop_assert!(!user.subject.trim().is_empty());
                        proptest::prop_assert_eq!(listed.by_id_token_subject.get(&user.subject), Some(&i));
                    }
                    for (hint, &i) in &listed.by_login_hint {
                        proptest::prop_assert!(i < listed.users.len() && !hint.trim().is_empty());
                    }
                }
                Err(why) => proptest::prop_assert!(!why.is_empty()),
            }
        }

        #[test]
        fn arbitrary_hints_and_codes_never_panic(
            hint in proptest::prop_oneof![
                proptest::strategy::Strategy::prop_map(proptest::sample::select(KNOWN_NAMES), str::to_owned),
                "\\PC{0,40}",
            ],
            code in proptest::prop_oneof![
                proptest::strategy::Just("4711".to_owned()),
                "\\PC{0,10}",
            ],
        ) {
            let d = directory();
            let sent = Secret::new(code.clone());
            // With a code required: only Alice has one, and only hers passes.
            let by_login = match hint.as_str() {
                "alice" | "alice@example.com" if code == "4711" => Ok("alice-0001".to_owned()),
                "alice" | "alice@example.com" | "bob" => Err(FailReason::InvalidUserCode),
                _ => Err(FailReason::UnknownUserId),
            };
            proptest::prop_assert_eq!(d.identify(&login_hint(&hint), Some(&sent), true), by_login);
            let by_subject = match hint.as_str() {
                "alice-0001" => Ok("alice-0001".to_owned()),
                "bob-legacy" => Ok("bob-0002".to_owned()),
                _ => Err(FailReason::UnknownUserId),
            };
            proptest::prop_assert_eq!(d.identify(&id_token_hint(&hint), None, false), by_subject);
        }
    }
}
