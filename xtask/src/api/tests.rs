//! The renderer on small hand-written rustdoc JSON documents (format version 57), and the
//! check's diff.

use super::doc::Doc;
use super::{diff, render_json};
use crate::json::Json;

/// A crate `demo`: a public module holding a struct re-exported at the root, a free
/// generic function, a trait implemented by the struct, and a non-exhaustive enum.
/// `EXTRA_ROOT_ITEMS` is spliced into the root's item list.
const FIXTURE: &str = r#"{
  "format_version": 57, "root": 0, "crate_version": "0.1.0", "includes_private": false,
  "external_crates": {},
  "paths": {
    "100": {"crate_id": 1, "path": ["alloc", "string", "String"], "kind": "struct"},
    "101": {"crate_id": 2, "path": ["core", "option", "Option"], "kind": "enum"},
    "102": {"crate_id": 1, "path": ["alloc", "vec", "Vec"], "kind": "struct"},
    "103": {"crate_id": 2, "path": ["core", "clone", "Clone"], "kind": "trait"},
    "104": {"crate_id": 2, "path": ["core", "marker", "Send"], "kind": "trait"},
    "105": {"crate_id": 2, "path": ["core", "marker", "Unpin"], "kind": "trait"},
    "106": {"crate_id": 2, "path": ["core", "convert", "From"], "kind": "trait"}
  },
  "index": {
    "0": {"id": 0, "name": "demo", "visibility": "public", "attrs": [],
          "inner": {"module": {"is_crate": true, "items": [1, 2, 10, 20, 30 EXTRA_ROOT_ITEMS], "is_stripped": false}}},
    "1": {"id": 1, "name": "inner", "visibility": "public", "attrs": [],
          "inner": {"module": {"is_crate": false, "items": [3], "is_stripped": false}}},
    "2": {"id": 2, "name": null, "visibility": "public", "attrs": [],
          "inner": {"use": {"source": "inner::Thing", "name": "Thing", "id": 3, "is_glob": false}}},
    "3": {"id": 3, "name": "Thing", "visibility": "public", "attrs": [],
          "inner": {"struct": {"kind": {"plain": {"fields": [4], "has_stripped_fields": true}},
                               "generics": {"params": [], "where_predicates": []},
                               "impls": [6, 7, 8, 9, 11]}}},
    "4": {"id": 4, "name": "name", "visibility": "public", "attrs": [],
          "inner": {"struct_field": {"resolved_path": {"path": "String", "id": 100, "args": null}}}},
    "6": {"id": 6, "name": null, "visibility": "default", "attrs": [],
          "inner": {"impl": {"is_unsafe": false, "generics": {"params": [], "where_predicates": []},
                             "trait": null, "for": {"resolved_path": {"path": "Thing", "id": 3, "args": null}},
                             "items": [12, 13], "is_negative": false, "is_synthetic": false, "blanket_impl": null}}},
    "12": {"id": 12, "name": "new", "visibility": "public", "attrs": [],
           "inner": {"function": {"sig": {"inputs": [["name", {"borrowed_ref": {"lifetime": null, "is_mutable": false, "type": {"primitive": "str"}}}]],
                                          "output": {"generic": "Self"}, "is_c_variadic": false},
                                  "generics": {"params": [], "where_predicates": []},
                                  "header": {"is_const": false, "is_unsafe": false, "is_async": false, "abi": "Rust"}, "has_body": true}}},
    "13": {"id": 13, "name": "helper", "visibility": "crate", "attrs": [],
           "inner": {"function": {"sig": {"inputs": [], "output": null, "is_c_variadic": false},
                                  "generics": {"params": [], "where_predicates": []},
                                  "header": {"is_const": false, "is_unsafe": false, "is_async": false, "abi": "Rust"}, "has_body": true}}},
    "7": {"id": 7, "name": null, "visibility": "default", "attrs": ["automatically_derived"],
          "inner": {"impl": {"is_unsafe": false, "generics": {"params": [], "where_predicates": []},
                             "trait": {"path": "Clone", "id": 103, "args": null},
                             "for": {"resolved_path": {"path": "Thing", "id": 3, "args": null}},
                             "items": [], "is_negative": false, "is_synthetic": false, "blanket_impl": null}}},
    "8": {"id": 8, "name": null, "visibility": "default", "attrs": [],
          "inner": {"impl": {"is_unsafe": false, "generics": {"params": [], "where_predicates": []},
                             "trait": {"path": "Send", "id": 104, "args": null},
                             "for": {"resolved_path": {"path": "Thing", "id": 3, "args": null}},
                             "items": [], "is_negative": false, "is_synthetic": true, "blanket_impl": null}}},
    "9": {"id": 9, "name": null, "visibility": "default", "attrs": [],
          "inner": {"impl": {"is_unsafe": false, "generics": {"params": [], "where_predicates": []},
                             "trait": {"path": "Unpin", "id": 105, "args": null},
                             "for": {"resolved_path": {"path": "Thing", "id": 3, "args": null}},
                             "items": [], "is_negative": false, "is_synthetic": true, "blanket_impl": null}}},
    "11": {"id": 11, "name": null, "visibility": "default", "attrs": [],
           "inner": {"impl": {"is_unsafe": false,
                              "generics": {"params": [{"name": "T", "kind": {"type": {"bounds": [], "default": null, "is_synthetic": false}}}], "where_predicates": []},
                              "trait": {"path": "From", "id": 106, "args": {"angle_bracketed": {"args": [{"type": {"generic": "T"}}], "constraints": []}}},
                              "for": {"generic": "T"},
                              "items": [], "is_negative": false, "is_synthetic": false, "blanket_impl": {"generic": "T"}}}},
    "10": {"id": 10, "name": "free", "visibility": "public", "attrs": [],
           "inner": {"function": {"sig": {"inputs": [
                                            ["items", {"borrowed_ref": {"lifetime": "'a", "is_mutable": false, "type": {"slice": {"generic": "T"}}}}],
                                            ["n", {"resolved_path": {"path": "Option", "id": 101, "args": {"angle_bracketed": {"args": [{"type": {"primitive": "u32"}}], "constraints": []}}}}]],
                                          "output": {"resolved_path": {"path": "Vec", "id": 102, "args": {"angle_bracketed": {"args": [{"type": {"generic": "T"}}], "constraints": []}}}},
                                          "is_c_variadic": false},
                                  "generics": {"params": [
                                      {"name": "'a", "kind": {"lifetime": {"outlives": []}}},
                                      {"name": "T", "kind": {"type": {"bounds": [{"trait_bound": {"trait": {"path": "Clone", "id": 103, "args": null}, "generic_params": [], "modifier": "none"}}], "default": null, "is_synthetic": false}}}],
                                    "where_predicates": []},
                                  "header": {"is_const": true, "is_unsafe": false, "is_async": false, "abi": "Rust"}, "has_body": true}}},
    "20": {"id": 20, "name": "Greet", "visibility": "public", "attrs": [],
           "inner": {"trait": {"is_auto": false, "is_unsafe": false, "is_dyn_compatible": true, "items": [21, 22],
                               "generics": {"params": [], "where_predicates": []},
                               "bounds": [{"trait_bound": {"trait": {"path": "Send", "id": 104, "args": null}, "generic_params": [], "modifier": "none"}}],
                               "implementations": [23]}}},
    "21": {"id": 21, "name": "greet", "visibility": "default", "attrs": [],
           "inner": {"function": {"sig": {"inputs": [["self", {"borrowed_ref": {"lifetime": null, "is_mutable": false, "type": {"generic": "Self"}}}]],
                                          "output": {"resolved_path": {"path": "String", "id": 100, "args": null}}, "is_c_variadic": false},
                                  "generics": {"params": [], "where_predicates": []},
                                  "header": {"is_const": false, "is_unsafe": false, "is_async": false, "abi": "Rust"}, "has_body": false}}},
    "22": {"id": 22, "name": "loud", "visibility": "default", "attrs": [],
           "inner": {"function": {"sig": {"inputs": [["self", {"borrowed_ref": {"lifetime": null, "is_mutable": true, "type": {"generic": "Self"}}}]],
                                          "output": null, "is_c_variadic": false},
                                  "generics": {"params": [], "where_predicates": []},
                                  "header": {"is_const": false, "is_unsafe": false, "is_async": true, "abi": "Rust"}, "has_body": true}}},
    "23": {"id": 23, "name": null, "visibility": "default", "attrs": [],
           "inner": {"impl": {"is_unsafe": false, "generics": {"params": [], "where_predicates": []},
                              "trait": {"path": "Greet", "id": 20, "args": null},
                              "for": {"resolved_path": {"path": "Thing", "id": 3, "args": null}},
                              "items": [], "is_negative": false, "is_synthetic": false, "blanket_impl": null}}},
    "30": {"id": 30, "name": "Mode", "visibility": "public", "attrs": ["non_exhaustive"],
           "inner": {"enum": {"generics": {"params": [], "where_predicates": []}, "has_stripped_variants": false,
                              "variants": [31, 32, 34], "impls": []}}},
    "31": {"id": 31, "name": "Poll", "visibility": "default", "attrs": [],
           "inner": {"variant": {"kind": "plain", "discriminant": null}}},
    "32": {"id": 32, "name": "Ping", "visibility": "default", "attrs": [],
           "inner": {"variant": {"kind": {"tuple": [33]}, "discriminant": null}}},
    "33": {"id": 33, "name": "0", "visibility": "default", "attrs": [],
           "inner": {"struct_field": {"primitive": "u16"}}},
    "34": {"id": 34, "name": "Push", "visibility": "default", "attrs": [],
           "inner": {"variant": {"kind": {"struct": {"fields": [35], "has_stripped_fields": false}}, "discriminant": null}}},
    "35": {"id": 35, "name": "url", "visibility": "default", "attrs": [],
           "inner": {"struct_field": {"resolved_path": {"path": "String", "id": 100, "args": null}}}}
    EXTRA_INDEX
  }
}"#;

fn fixture(extra_root_items: &str, extra_index: &str) -> Json {
    let text = FIXTURE
        .replace("EXTRA_ROOT_ITEMS", extra_root_items)
        .replace("EXTRA_INDEX", extra_index);
    Json::parse(&text).expect("the fixture is JSON")
}

#[test]
fn renders_every_kind_of_item_sorted_by_path() {
    let text = render_json(&fixture("", "")).unwrap();
    let expected = [
        "pub mod demo",
        "pub trait demo::Greet: core::marker::Send",
        "pub trait fn demo::Greet::greet(&self) -> alloc::string::String",
        "pub trait async fn demo::Greet::loud(&mut self) { .. }",
        "#[non_exhaustive] pub enum demo::Mode",
        "pub variant demo::Mode::Ping(u16)",
        "pub variant demo::Mode::Poll",
        "pub variant demo::Mode::Push { url: alloc::string::String }",
        // The struct's impls under its shortest path: derives, Send (Unpin and the
        // blanket From are left out), and the crate's own trait.
        "impl core::clone::Clone for demo::Thing",
        "impl core::marker::Send for demo::Thing",
        "impl demo::Greet for demo::Thing",
        "pub struct demo::Thing { /* private fields */ }",
        "pub field demo::Thing::name: alloc::string::String",
        // The crate-visible `helper` method is not listed.
        "pub fn demo::Thing::new(name: &str) -> Self",
        "pub const fn demo::free<'a, T: core::clone::Clone>(items: &'a [T], n: core::option::Option<u32>) -> alloc::vec::Vec<T>",
        "pub mod demo::inner",
        // Its other path: the item line only.
        "pub struct demo::inner::Thing { /* private fields */ }",
    ];
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got, expected, "rendered:\n{text}");
    assert!(text.ends_with('\n'));
}

#[test]
fn rendering_is_deterministic_whatever_the_index_order() {
    let json = fixture("", "");
    let Json::Obj(mut top) = json.clone() else {
        panic!("the fixture is an object")
    };
    for (key, value) in &mut top {
        if key == "index"
            && let Json::Obj(members) = value
        {
            members.reverse();
        }
    }
    assert_eq!(
        render_json(&json).unwrap(),
        render_json(&Json::Obj(top)).unwrap()
    );
}

#[test]
fn the_check_reports_an_added_item() {
    let before = render_json(&fixture("", "")).unwrap();
    let extra = r#", "40": {"id": 40, "name": "extra", "visibility": "public", "attrs": [],
        "inner": {"function": {"sig": {"inputs": [], "output": {"primitive": "bool"}, "is_c_variadic": false},
                               "generics": {"params": [], "where_predicates": []},
                               "header": {"is_const": false, "is_unsafe": false, "is_async": false, "abi": "Rust"},
                               "has_body": true}}}"#;
    let after = render_json(&fixture(", 40", extra)).unwrap();
    assert_eq!(diff::diff(&before, &before), None);
    let d = diff::diff(&before, &after).expect("an added item is a difference");
    assert_eq!(d, "+ pub fn demo::extra() -> bool\n");
}

#[test]
fn the_check_reports_a_removed_and_a_changed_item() {
    let before = render_json(&fixture("", "")).unwrap();
    // `Greet` is gone from the root (and so is its impl line, listed under the trait) and
    // `name` became a u8.
    let after_json = FIXTURE
        .replace("[1, 2, 10, 20, 30 EXTRA_ROOT_ITEMS]", "[1, 2, 10, 30]")
        .replace(
            r#""struct_field": {"resolved_path": {"path": "String", "id": 100, "args": null}}}},
    "6""#,
            r#""struct_field": {"primitive": "u8"}}},
    "6""#,
        )
        .replace("EXTRA_INDEX", "");
    let after = render_json(&Json::parse(&after_json).unwrap()).unwrap();
    let d = diff::diff(&before, &after).unwrap();
    assert!(
        d.contains("- pub trait demo::Greet: core::marker::Send\n"),
        "{d}"
    );
    assert!(d.contains("- impl demo::Greet for demo::Thing\n"), "{d}");
    assert!(
        d.contains("- pub field demo::Thing::name: alloc::string::String\n"),
        "{d}"
    );
    assert!(d.contains("+ pub field demo::Thing::name: u8\n"), "{d}");
}

#[test]
fn another_format_version_is_refused() {
    let json = Json::parse(
        &FIXTURE
            .replace("\"format_version\": 57", "\"format_version\": 99")
            .replace("EXTRA_ROOT_ITEMS", "")
            .replace("EXTRA_INDEX", ""),
    )
    .unwrap();
    let err = render_json(&json).unwrap_err();
    assert!(err.contains("format_version 99"), "{err}");
}

fn ty(json: &str) -> String {
    let doc_json = fixture("", "");
    let doc = Doc::new(&doc_json).unwrap();
    doc.ty(&Json::parse(json).unwrap())
}

#[test]
fn types_render_as_rust() {
    assert_eq!(
        ty(
            r#"{"tuple": [{"primitive": "u8"}, {"raw_pointer": {"is_mutable": true, "type": {"generic": "T"}}}]}"#
        ),
        "(u8, *mut T)"
    );
    assert_eq!(ty(r#"{"tuple": []}"#), "()");
    assert_eq!(
        ty(r#"{"array": {"type": {"primitive": "u8"}, "len": "32"}}"#),
        "[u8; 32]"
    );
    assert_eq!(
        ty(
            r#"{"dyn_trait": {"traits": [{"trait": {"path": "Clone", "id": 103, "args": null}, "generic_params": []},
                                         {"trait": {"path": "Send", "id": 104, "args": null}, "generic_params": []}],
                              "lifetime": "'static"}}"#
        ),
        "dyn core::clone::Clone + core::marker::Send + 'static"
    );
    assert_eq!(
        ty(
            r#"{"impl_trait": [{"trait_bound": {"trait": {"path": "Greet", "id": 20, "args": null}, "generic_params": [], "modifier": "none"}},
                              {"outlives": "'a"}]}"#
        ),
        // A path of this crate the walk has not reached is written as in the source.
        "impl Greet + 'a"
    );
    assert_eq!(
        ty(
            r#"{"qualified_path": {"name": "Item", "args": null, "self_type": {"generic": "I"},
                                  "trait": {"path": "Iterator", "id": 999, "args": null}}}"#
        ),
        "<I as Iterator>::Item"
    );
    assert_eq!(
        ty(
            r#"{"function_pointer": {"sig": {"inputs": [["_", {"primitive": "u8"}]], "output": {"primitive": "bool"}, "is_c_variadic": false},
                                    "generic_params": [],
                                    "header": {"is_const": false, "is_unsafe": false, "is_async": false, "abi": "Rust"}}}"#
        ),
        "fn(u8) -> bool"
    );
    assert_eq!(
        ty(
            r#"{"resolved_path": {"path": "Box", "id": 998, "args": {"parenthesized": {"inputs": [{"primitive": "u8"}], "output": null}}}}"#
        ),
        "Box(u8)"
    );
    assert_eq!(
        ty(
            r#"{"resolved_path": {"path": "Iter", "id": 997, "args": {"angle_bracketed": {"args": [],
               "constraints": [{"name": "Item", "args": null, "binding": {"equality": {"type": {"primitive": "u8"}}}}]}}}}"#
        ),
        "Iter<Item = u8>"
    );
}

/// The feature names of `krate`'s Cargo.toml (`[features]` keys), `default` excluded.
fn declared_features(krate: &str) -> Vec<String> {
    let manifest = crate::ci::root()
        .join("crates")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut in_features = false;
    let mut names = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        }
        if in_features
            && let Some((name, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            let name = name.trim();
            if name != "default" {
                names.push(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn the_snapshot_features_are_every_feature_but_the_ones_left_out() {
    assert_eq!(
        super::FEATURES.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        super::CRATES
    );
    for (krate, features) in super::FEATURES {
        let mut want: Vec<String> = declared_features(krate)
            .into_iter()
            .filter(|f| !super::LEFT_OUT.contains(&f.as_str()))
            .collect();
        want.sort();
        let mut used: Vec<String> = features.iter().map(|f| (*f).to_owned()).collect();
        used.sort();
        assert!(!want.is_empty(), "{krate} declares features");
        assert_eq!(used, want, "{krate}: update api::FEATURES");
    }
}
