//! The walk from a crate's root module over everything public, and the snapshot's lines.
//!
//! One line per public item: `pub mod`, `pub struct` (with `pub field` lines for its public
//! fields), `pub enum` (with `pub variant` lines), `pub fn` (free functions and inherent
//! methods, with their signatures), `pub trait` (with `pub trait fn` / `pub trait type` /
//! `pub trait const` lines; ` { .. }` marks a provided method), constants, statics, type
//! aliases, macros, `pub use` of other crates' items, and `impl` lines: the trait impls of
//! the crate's public types and the impls of its public traits. Of the auto traits only
//! `Send` and `Sync` are listed (async users rely on them); blanket impls are left out (they
//! follow from the traits' own crates).
//!
//! An item reachable by several paths gets its own line under each; its fields, variants,
//! methods and impls are listed once, under its shortest path. Lines are sorted by the path
//! they describe (an `impl` line by its type's path), then by their text.

use std::collections::HashSet;

use super::doc::{Doc, id_key};
use crate::json::Json;

/// Modules nested deeper than this are not followed (a guard against re-export cycles).
const MAX_MODULE_DEPTH: usize = 32;

/// What a public path leads to.
enum Reached {
    /// An item of this crate (by id).
    Item(String),
    /// A re-export of another crate's item (`pub use other::Thing`), or of a glob of one.
    External(String),
}

/// The snapshot lines of one crate's rustdoc JSON.
pub(crate) fn render(json: &Json) -> Result<Vec<String>, String> {
    let mut doc = Doc::new(json)?;
    let root = doc.root.clone();
    let crate_name = doc
        .item(&root)
        .and_then(|r| r.get("name"))
        .and_then(Json::as_str)
        .ok_or("the root module has no name")?
        .to_owned();
    let mut reached = Vec::new();
    let mut stack = vec![root.clone()];
    doc.reach(&root, &crate_name);
    reached.push((crate_name.clone(), Reached::Item(root.clone())));
    collect(&mut doc, &root, &crate_name, &mut stack, &mut reached);

    let mut lines: Vec<(String, String)> = Vec::new();
    let mut done_impls = HashSet::new();
    for (path, what) in &reached {
        match what {
            Reached::Item(id) => item_lines(&doc, id, path, &mut done_impls, &mut lines),
            Reached::External(target) => {
                lines.push((path.clone(), format!("pub use {path} = {target}")));
            }
        }
    }
    lines.sort();
    lines.dedup();
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

/// Records every public path under the module `module` (itself reached as `prefix`).
fn collect(
    doc: &mut Doc<'_>,
    module: &str,
    prefix: &str,
    stack: &mut Vec<String>,
    out: &mut Vec<(String, Reached)>,
) {
    if stack.len() > MAX_MODULE_DEPTH {
        return;
    }
    let Some(items) = doc
        .item(module)
        .and_then(Doc::inner)
        .and_then(|(_, m)| m.get("items"))
        .and_then(Json::as_array)
    else {
        return;
    };
    for id in items.iter().filter_map(id_key) {
        let Some(item) = doc.item(&id) else { continue };
        let Some((kind, inner)) = Doc::inner(item) else {
            continue;
        };
        if kind == "use" {
            let target = inner.get("id").and_then(id_key);
            let source = inner.get("source").and_then(Json::as_str).unwrap_or("?");
            let glob = inner.get("is_glob").and_then(Json::as_bool) == Some(true);
            let local = target
                .as_deref()
                .and_then(|t| doc.item(t).map(|_| t.to_owned()));
            match (glob, local) {
                (true, Some(target)) => {
                    // A glob of one of our modules: its items appear here.
                    if !stack.contains(&target) {
                        stack.push(target.clone());
                        collect(doc, &target, prefix, stack, out);
                        stack.pop();
                    }
                }
                (true, None) => {
                    let target = doc.name_of(inner.get("id"), source);
                    out.push((
                        format!("{prefix}::*"),
                        Reached::External(format!("{target}::*")),
                    ));
                }
                (false, Some(target)) => {
                    let name = inner.get("name").and_then(Json::as_str).unwrap_or("?");
                    reach_item(doc, &target, &format!("{prefix}::{name}"), stack, out);
                }
                (false, None) => {
                    let name = inner.get("name").and_then(Json::as_str).unwrap_or("?");
                    let target = doc.name_of(inner.get("id"), source);
                    out.push((format!("{prefix}::{name}"), Reached::External(target)));
                }
            }
            continue;
        }
        let Some(name) = item.get("name").and_then(Json::as_str) else {
            continue;
        };
        reach_item(doc, &id, &format!("{prefix}::{name}"), stack, out);
    }
}

/// Records the item `id` at `path`, and follows it when it is a module.
fn reach_item(
    doc: &mut Doc<'_>,
    id: &str,
    path: &str,
    stack: &mut Vec<String>,
    out: &mut Vec<(String, Reached)>,
) {
    doc.reach(id, path);
    out.push((path.to_owned(), Reached::Item(id.to_owned())));
    let is_module = doc
        .item(id)
        .and_then(Doc::inner)
        .is_some_and(|(kind, _)| kind == "module");
    if is_module && !stack.iter().any(|s| s == id) {
        stack.push(id.to_owned());
        collect(doc, id, path, stack, out);
        stack.pop();
    }
}

fn arr(j: Option<&Json>) -> &[Json] {
    j.and_then(Json::as_array).unwrap_or_default()
}

fn is_public(item: &Json) -> bool {
    item.get("visibility").and_then(Json::as_str) == Some("public")
}

/// `#[non_exhaustive] ` when the item carries it.
fn attrs(item: &Json) -> &'static str {
    let non_exhaustive = arr(item.get("attrs"))
        .iter()
        .any(|a| a.as_str() == Some("non_exhaustive") || a.get("non_exhaustive").is_some());
    if non_exhaustive {
        "#[non_exhaustive] "
    } else {
        ""
    }
}

/// The lines of the item `id` reached as `path`.
fn item_lines(
    doc: &Doc<'_>,
    id: &str,
    path: &str,
    done_impls: &mut HashSet<String>,
    lines: &mut Vec<(String, String)>,
) {
    let Some(item) = doc.item(id) else { return };
    let Some((kind, inner)) = Doc::inner(item) else {
        return;
    };
    // Members are listed once, under the item's shortest path.
    let canonical = doc.public_path(id) == Some(path);
    let mut push = |key: String, line: String| lines.push((key, line));
    let (params, where_clause) = doc.generics(inner.get("generics"));
    match kind {
        "module" => push(path.to_owned(), format!("pub mod {path}")),
        "struct" | "union" => {
            let body = match inner.get("kind") {
                Some(k) if k.get("tuple").is_some() => {
                    let fields: Vec<String> = arr(k.get("tuple"))
                        .iter()
                        .map(|f| field_type(doc, f).unwrap_or_else(|| "_".to_owned()))
                        .collect();
                    format!("({})", fields.join(", "))
                }
                Some(k) => {
                    let plain = k.get("plain").unwrap_or(k);
                    let stripped = plain.get("has_stripped_fields").and_then(Json::as_bool);
                    if canonical {
                        for f in arr(plain.get("fields")).iter().filter_map(id_key) {
                            if let Some(field) = doc.item(&f).filter(|f| is_public(f)) {
                                let name = field.get("name").and_then(Json::as_str).unwrap_or("?");
                                let ty = field_type(doc, &Json::Str(f.clone())).unwrap_or_default();
                                push(
                                    format!("{path}::{name}"),
                                    format!("pub field {path}::{name}: {ty}"),
                                );
                            }
                        }
                    }
                    if stripped == Some(true) {
                        " { /* private fields */ }".to_owned()
                    } else {
                        String::new()
                    }
                }
                None => String::new(),
            };
            push(
                path.to_owned(),
                format!(
                    "{}pub {kind} {path}{params}{body}{where_clause}",
                    attrs(item)
                ),
            );
            if canonical {
                type_impls(doc, inner, done_impls, lines);
            }
        }
        "enum" => {
            let stripped = inner.get("has_stripped_variants").and_then(Json::as_bool) == Some(true);
            push(
                path.to_owned(),
                format!(
                    "{}pub enum {path}{params}{where_clause}{}",
                    attrs(item),
                    if stripped {
                        " { /* private variants */ }"
                    } else {
                        ""
                    }
                ),
            );
            if canonical {
                for v in arr(inner.get("variants")).iter().filter_map(id_key) {
                    if let Some(variant) = doc.item(&v) {
                        let name = variant.get("name").and_then(Json::as_str).unwrap_or("?");
                        push(
                            format!("{path}::{name}"),
                            format!(
                                "{}pub variant {path}::{name}{}",
                                attrs(variant),
                                variant_body(doc, variant)
                            ),
                        );
                    }
                }
                type_impls(doc, inner, done_impls, lines);
            }
        }
        "function" => push(
            path.to_owned(),
            format!("pub {}", doc.function(path, inner)),
        ),
        "trait" => {
            let flag = |k: &str| inner.get(k).and_then(Json::as_bool) == Some(true);
            let bounds = doc.bounds(arr(inner.get("bounds")));
            push(
                path.to_owned(),
                format!(
                    "pub {}{}trait {path}{params}{}{where_clause}{}",
                    if flag("is_unsafe") { "unsafe " } else { "" },
                    if flag("is_auto") { "auto " } else { "" },
                    if bounds.is_empty() {
                        String::new()
                    } else {
                        format!(": {bounds}")
                    },
                    if flag("is_dyn_compatible") {
                        ""
                    } else {
                        " (not dyn-compatible)"
                    }
                ),
            );
            if canonical {
                for t in arr(inner.get("items")).iter().filter_map(id_key) {
                    if let Some(member) = doc.item(&t) {
                        trait_member(doc, path, member, lines);
                    }
                }
                for i in arr(inner.get("implementations")).iter().filter_map(id_key) {
                    impl_line(doc, &i, done_impls, lines);
                }
            }
        }
        "constant" => push(
            path.to_owned(),
            format!("pub const {path}: {}", ty_of(doc, inner.get("type"))),
        ),
        "static" => {
            let mutable = inner.get("is_mutable").and_then(Json::as_bool) == Some(true);
            push(
                path.to_owned(),
                format!(
                    "pub static {}{path}: {}",
                    if mutable { "mut " } else { "" },
                    ty_of(doc, inner.get("type"))
                ),
            );
        }
        "type_alias" => push(
            path.to_owned(),
            format!(
                "pub type {path}{params} = {}{where_clause}",
                ty_of(doc, inner.get("type"))
            ),
        ),
        "macro" => push(path.to_owned(), format!("pub macro {path}!")),
        other => push(path.to_owned(), format!("pub {other} {path}")),
    }
}

fn ty_of(doc: &Doc<'_>, t: Option<&Json>) -> String {
    t.map_or_else(|| "?".to_owned(), |t| doc.ty(t))
}

/// The type of the struct field with this id (`None` for a stripped field).
fn field_type(doc: &Doc<'_>, id: &Json) -> Option<String> {
    let field = doc.item(&id_key(id)?)?;
    let (_, t) = Doc::inner(field)?;
    Some(doc.ty(t))
}

/// `(A, B)`, ` { a: A, b: B }` or nothing, and ` = discriminant`.
fn variant_body(doc: &Doc<'_>, variant: &Json) -> String {
    let Some((_, inner)) = Doc::inner(variant) else {
        return String::new();
    };
    let mut s = match inner.get("kind") {
        Some(k) if k.get("tuple").is_some() => {
            let fields: Vec<String> = arr(k.get("tuple"))
                .iter()
                .map(|f| field_type(doc, f).unwrap_or_else(|| "_".to_owned()))
                .collect();
            format!("({})", fields.join(", "))
        }
        Some(k) if k.get("struct").is_some() => {
            let st = k.get("struct");
            let mut fields: Vec<String> = arr(st.and_then(|s| s.get("fields")))
                .iter()
                .filter_map(|f| {
                    let item = doc.item(&id_key(f)?)?;
                    let name = item.get("name").and_then(Json::as_str)?;
                    Some(format!("{name}: {}", field_type(doc, f)?))
                })
                .collect();
            if st
                .and_then(|s| s.get("has_stripped_fields"))
                .and_then(Json::as_bool)
                == Some(true)
            {
                fields.push("..".to_owned());
            }
            format!(" {{ {} }}", fields.join(", "))
        }
        _ => String::new(),
    };
    if let Some(d) = inner
        .get("discriminant")
        .and_then(|d| d.get("expr"))
        .and_then(Json::as_str)
    {
        s.push_str(&format!(" = {d}"));
    }
    s
}

/// A trait's method, associated type or constant.
fn trait_member(doc: &Doc<'_>, trait_path: &str, member: &Json, lines: &mut Vec<(String, String)>) {
    let Some((kind, inner)) = Doc::inner(member) else {
        return;
    };
    let name = member.get("name").and_then(Json::as_str).unwrap_or("?");
    let path = format!("{trait_path}::{name}");
    let line = match kind {
        "function" => {
            let provided = inner.get("has_body").and_then(Json::as_bool) == Some(true);
            format!(
                "pub trait {}{}",
                doc.function(&path, inner),
                if provided { " { .. }" } else { "" }
            )
        }
        "assoc_type" => {
            let (params, where_clause) = doc.generics(inner.get("generics"));
            let bounds = doc.bounds(arr(inner.get("bounds")));
            let default = inner
                .get("type")
                .filter(|t| **t != Json::Null)
                .map_or(String::new(), |t| format!(" = {}", doc.ty(t)));
            format!(
                "pub trait type {path}{params}{}{where_clause}{default}",
                if bounds.is_empty() {
                    String::new()
                } else {
                    format!(": {bounds}")
                }
            )
        }
        "assoc_const" => format!("pub trait const {path}: {}", ty_of(doc, inner.get("type"))),
        other => format!("pub trait {other} {path}"),
    };
    lines.push((path, line));
}

/// The impls of a struct, enum or union: inherent methods and constants, and trait impls.
fn type_impls(
    doc: &Doc<'_>,
    inner: &Json,
    done: &mut HashSet<String>,
    lines: &mut Vec<(String, String)>,
) {
    for i in arr(inner.get("impls")).iter().filter_map(id_key) {
        impl_line(doc, &i, done, lines);
    }
}

/// The auto traits listed (the others, `Unpin` and the unwind-safety ones, are not).
const LISTED_AUTO_TRAITS: &[&str] = &["Send", "Sync"];
/// Traits whose impls are left out: the compiler's marker that `derive(PartialEq)` adds.
const UNLISTED_TRAITS: &[&str] = &["StructuralPartialEq"];

/// One impl: the members of an inherent impl, or the `impl Trait for Type` line of a trait
/// impl (with its associated types). Each impl is rendered once.
fn impl_line(
    doc: &Doc<'_>,
    id: &str,
    done: &mut HashSet<String>,
    lines: &mut Vec<(String, String)>,
) {
    if !done.insert(id.to_owned()) {
        return;
    }
    let Some((_, imp)) = doc.item(id).and_then(Doc::inner) else {
        return;
    };
    if imp.get("blanket_impl").is_some_and(|b| *b != Json::Null) {
        return;
    }
    let trait_path = imp.get("trait").filter(|t| **t != Json::Null);
    let synthetic = imp.get("is_synthetic").and_then(Json::as_bool) == Some(true);
    let auto_listed = trait_path
        .and_then(|t| t.get("path"))
        .and_then(Json::as_str)
        .and_then(|p| p.rsplit("::").next())
        .is_some_and(|t| LISTED_AUTO_TRAITS.contains(&t));
    if synthetic && !auto_listed {
        return;
    }
    let trait_name = trait_path
        .and_then(|t| t.get("path"))
        .and_then(Json::as_str)
        .and_then(|p| p.rsplit("::").next());
    if trait_name.is_some_and(|t| UNLISTED_TRAITS.contains(&t)) {
        return;
    }
    let for_type = ty_of(doc, imp.get("for"));
    // The key: the type's path without generic arguments; for an impl on a generic or a
    // reference (`impl<R: Random> Random for &R`), the trait's path.
    let bare = |p: &Json| {
        doc.name_of(
            p.get("id"),
            p.get("path").and_then(Json::as_str).unwrap_or("?"),
        )
    };
    let key = match (
        imp.get("for").and_then(|f| f.get("resolved_path")),
        trait_path,
    ) {
        (Some(p), _) | (None, Some(p)) => bare(p),
        (None, None) => for_type.clone(),
    };
    let (params, where_clause) = doc.generics(imp.get("generics"));
    let Some(trait_path) = trait_path else {
        // Inherent impl: its public members.
        let context = if params.is_empty() && where_clause.is_empty() {
            String::new()
        } else {
            format!(" (in impl{params} {for_type}{where_clause})")
        };
        for m in arr(imp.get("items")).iter().filter_map(id_key) {
            let Some(member) = doc.item(&m).filter(|m| is_public(m)) else {
                continue;
            };
            let Some((kind, inner)) = Doc::inner(member) else {
                continue;
            };
            let name = member.get("name").and_then(Json::as_str).unwrap_or("?");
            let path = format!("{key}::{name}");
            let line = match kind {
                "function" => format!("pub {}{context}", doc.function(&path, inner)),
                "assoc_const" => format!(
                    "pub const {path}: {}{context}",
                    ty_of(doc, inner.get("type"))
                ),
                other => format!("pub {other} {path}{context}"),
            };
            lines.push((path, line));
        }
        return;
    };
    let negative = imp.get("is_negative").and_then(Json::as_bool) == Some(true);
    let unsafe_ = imp.get("is_unsafe").and_then(Json::as_bool) == Some(true);
    let mut assoc: Vec<String> = arr(imp.get("items"))
        .iter()
        .filter_map(|m| {
            let member = doc.item(&id_key(m)?)?;
            let (kind, inner) = Doc::inner(member)?;
            let name = member.get("name").and_then(Json::as_str)?;
            (kind == "assoc_type")
                .then(|| format!("type {name} = {}", ty_of(doc, inner.get("type"))))
        })
        .collect();
    assoc.sort();
    let body = if assoc.is_empty() {
        String::new()
    } else {
        format!(" {{ {} }}", assoc.join("; "))
    };
    lines.push((
        key,
        format!(
            "{}impl{params} {}{} for {for_type}{where_clause}{body}",
            if unsafe_ { "unsafe " } else { "" },
            if negative { "!" } else { "" },
            doc.path(trait_path)
        ),
    ));
}
