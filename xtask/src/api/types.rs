//! Rendering of rustdoc JSON types, bounds, generics and function signatures as Rust-like
//! text. Paths are the public paths of this crate's items and the full paths of other
//! crates' items ([`Doc::name_of`]), so a type moving between crates shows in the snapshot.

use super::doc::Doc;
use crate::json::Json;

fn arr(j: Option<&Json>) -> &[Json] {
    j.and_then(Json::as_array).unwrap_or_default()
}

fn text(j: Option<&Json>) -> &str {
    j.and_then(Json::as_str).unwrap_or_default()
}

impl Doc<'_> {
    /// A type.
    pub(crate) fn ty(&self, t: &Json) -> String {
        let Some((kind, v)) = t
            .members()
            .and_then(<[_]>::first)
            .map(|(k, v)| (k.as_str(), v))
        else {
            // Unit variants of the enum are plain strings (`"infer"`).
            return match t.as_str() {
                Some("infer") => "_".to_owned(),
                Some(other) => other.to_owned(),
                None => "?".to_owned(),
            };
        };
        match kind {
            "resolved_path" => self.path(v),
            "generic" | "primitive" => text(Some(v)).to_owned(),
            "borrowed_ref" => {
                let lifetime = v.get("lifetime").and_then(Json::as_str);
                let mutable = v.get("is_mutable").and_then(Json::as_bool) == Some(true);
                format!(
                    "&{}{}{}",
                    lifetime.map_or(String::new(), |l| format!("{l} ")),
                    if mutable { "mut " } else { "" },
                    self.ty_or(v.get("type"))
                )
            }
            "raw_pointer" => {
                let mutable = v.get("is_mutable").and_then(Json::as_bool) == Some(true);
                format!(
                    "*{} {}",
                    if mutable { "mut" } else { "const" },
                    self.ty_or(v.get("type"))
                )
            }
            "tuple" => {
                let items: Vec<String> = arr(Some(v)).iter().map(|t| self.ty(t)).collect();
                if items.len() == 1 {
                    format!("({},)", items.join(""))
                } else {
                    format!("({})", items.join(", "))
                }
            }
            "slice" => format!("[{}]", self.ty(v)),
            "array" => format!("[{}; {}]", self.ty_or(v.get("type")), text(v.get("len"))),
            "pat" => self.ty_or(v.get("type")),
            "impl_trait" => format!("impl {}", self.bounds(arr(Some(v)))),
            "dyn_trait" => {
                let mut parts: Vec<String> = arr(v.get("traits"))
                    .iter()
                    .map(|p| {
                        format!(
                            "{}{}",
                            self.hrtb(arr(p.get("generic_params"))),
                            self.path_or(p.get("trait"))
                        )
                    })
                    .collect();
                if let Some(l) = v.get("lifetime").and_then(Json::as_str) {
                    parts.push(l.to_owned());
                }
                format!("dyn {}", parts.join(" + "))
            }
            "function_pointer" => {
                let header = self.header(v.get("header"));
                let sig = v.get("sig");
                let inputs: Vec<String> = arr(sig.and_then(|s| s.get("inputs")))
                    .iter()
                    .map(|p| self.ty_or(p.as_array().and_then(|p| p.get(1))))
                    .collect();
                format!(
                    "{}{header}fn({}){}",
                    self.hrtb(arr(v.get("generic_params"))),
                    inputs.join(", "),
                    self.output(sig.and_then(|s| s.get("output")))
                )
            }
            "qualified_path" => {
                let self_type = self.ty_or(v.get("self_type"));
                let name = text(v.get("name"));
                let args = v
                    .get("args")
                    .filter(|a| **a != Json::Null)
                    .map_or(String::new(), |a| self.generic_args(a));
                match v.get("trait").filter(|t| **t != Json::Null) {
                    Some(t) => format!("<{self_type} as {}>::{name}{args}", self.path(t)),
                    None => format!("{self_type}::{name}{args}"),
                }
            }
            other => format!("<{other}>"),
        }
    }

    fn ty_or(&self, t: Option<&Json>) -> String {
        t.map_or_else(|| "?".to_owned(), |t| self.ty(t))
    }

    /// A path with its generic arguments (`alloc::vec::Vec<u8>`).
    pub(crate) fn path(&self, p: &Json) -> String {
        let name = self.name_of(p.get("id"), text(p.get("path")));
        let args = p
            .get("args")
            .filter(|a| **a != Json::Null)
            .map_or(String::new(), |a| self.generic_args(a));
        format!("{name}{args}")
    }

    fn path_or(&self, p: Option<&Json>) -> String {
        p.map_or_else(|| "?".to_owned(), |p| self.path(p))
    }

    /// `<A, B, Item = C>` or `(A, B) -> C`; empty when there are none.
    fn generic_args(&self, a: &Json) -> String {
        if let Some(ab) = a.get("angle_bracketed") {
            let mut parts: Vec<String> = arr(ab.get("args"))
                .iter()
                .map(|g| self.generic_arg(g))
                .collect();
            for c in arr(ab.get("constraints")) {
                let name = text(c.get("name"));
                let args = c
                    .get("args")
                    .filter(|a| **a != Json::Null)
                    .map_or(String::new(), |a| self.generic_args(a));
                let binding = c.get("binding");
                if let Some(term) = binding.and_then(|b| b.get("equality")) {
                    parts.push(format!("{name}{args} = {}", self.term(term)));
                } else if let Some(bounds) = binding.and_then(|b| b.get("constraint")) {
                    parts.push(format!("{name}{args}: {}", self.bounds(arr(Some(bounds)))));
                }
            }
            if parts.is_empty() {
                String::new()
            } else {
                format!("<{}>", parts.join(", "))
            }
        } else if let Some(p) = a.get("parenthesized") {
            let inputs: Vec<String> = arr(p.get("inputs")).iter().map(|t| self.ty(t)).collect();
            format!("({}){}", inputs.join(", "), self.output(p.get("output")))
        } else {
            "(..)".to_owned()
        }
    }

    fn generic_arg(&self, g: &Json) -> String {
        if let Some(l) = g.get("lifetime") {
            text(Some(l)).to_owned()
        } else if let Some(t) = g.get("type") {
            self.ty(t)
        } else if let Some(c) = g.get("const") {
            text(c.get("expr")).to_owned()
        } else {
            "_".to_owned()
        }
    }

    fn term(&self, term: &Json) -> String {
        if let Some(t) = term.get("type") {
            self.ty(t)
        } else if let Some(c) = term.get("constant") {
            text(c.get("expr")).to_owned()
        } else {
            "?".to_owned()
        }
    }

    /// ` -> T`, or nothing for `()`.
    fn output(&self, out: Option<&Json>) -> String {
        match out {
            None | Some(Json::Null) => String::new(),
            Some(t) => format!(" -> {}", self.ty(t)),
        }
    }

    /// Bounds joined by ` + ` (`?Sized + Clone + 'static`).
    pub(crate) fn bounds(&self, bounds: &[Json]) -> String {
        bounds
            .iter()
            .map(|b| {
                if let Some(tb) = b.get("trait_bound") {
                    let modifier = match text(tb.get("modifier")) {
                        "maybe" => "?",
                        "maybe_const" => "~const ",
                        _ => "",
                    };
                    format!(
                        "{}{modifier}{}",
                        self.hrtb(arr(tb.get("generic_params"))),
                        self.path_or(tb.get("trait"))
                    )
                } else if let Some(l) = b.get("outlives") {
                    text(Some(l)).to_owned()
                } else if let Some(u) = b.get("use") {
                    let args: Vec<String> = arr(Some(u))
                        .iter()
                        .map(|a| {
                            a.as_str()
                                .or_else(|| a.get("lifetime").and_then(Json::as_str))
                                .or_else(|| a.get("param").and_then(Json::as_str))
                                .unwrap_or("?")
                                .to_owned()
                        })
                        .collect();
                    format!("use<{}>", args.join(", "))
                } else {
                    "?".to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// `for<'a> ` of a higher-ranked bound; empty when there are no parameters.
    fn hrtb(&self, params: &[Json]) -> String {
        let p = self.params(params);
        if p.is_empty() {
            String::new()
        } else {
            format!("for{p} ")
        }
    }

    /// Generic parameters as declared (`<'a, T: Clone, const N: usize>`); the synthetic ones
    /// of `impl Trait` arguments are left out (they show in the argument's type).
    pub(crate) fn params(&self, params: &[Json]) -> String {
        let rendered: Vec<String> = params
            .iter()
            .filter_map(|p| {
                let name = text(p.get("name"));
                let kind = p.get("kind")?;
                if let Some(l) = kind.get("lifetime") {
                    let outlives: Vec<&str> = arr(l.get("outlives"))
                        .iter()
                        .filter_map(Json::as_str)
                        .collect();
                    Some(if outlives.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{name}: {}", outlives.join(" + "))
                    })
                } else if let Some(t) = kind.get("type") {
                    if t.get("is_synthetic").and_then(Json::as_bool) == Some(true) {
                        return None;
                    }
                    let bounds = self.bounds(arr(t.get("bounds")));
                    let mut s = name.to_owned();
                    if !bounds.is_empty() {
                        s = format!("{s}: {bounds}");
                    }
                    if let Some(d) = t.get("default").filter(|d| **d != Json::Null) {
                        s = format!("{s} = {}", self.ty(d));
                    }
                    Some(s)
                } else if let Some(c) = kind.get("const") {
                    let mut s = format!("const {name}: {}", self.ty_or(c.get("type")));
                    if let Some(d) = c.get("default").and_then(Json::as_str) {
                        s = format!("{s} = {d}");
                    }
                    Some(s)
                } else {
                    None
                }
            })
            .collect();
        if rendered.is_empty() {
            String::new()
        } else {
            format!("<{}>", rendered.join(", "))
        }
    }

    /// The generic parameters and the where clause of a `generics` object.
    pub(crate) fn generics(&self, g: Option<&Json>) -> (String, String) {
        let Some(g) = g else {
            return (String::new(), String::new());
        };
        let params = self.params(arr(g.get("params")));
        let preds: Vec<String> = arr(g.get("where_predicates"))
            .iter()
            .filter_map(|w| {
                if let Some(b) = w.get("bound_predicate") {
                    Some(format!(
                        "{}{}: {}",
                        self.hrtb(arr(b.get("generic_params"))),
                        self.ty_or(b.get("type")),
                        self.bounds(arr(b.get("bounds")))
                    ))
                } else if let Some(l) = w.get("lifetime_predicate") {
                    let outlives: Vec<&str> = arr(l.get("outlives"))
                        .iter()
                        .filter_map(Json::as_str)
                        .collect();
                    Some(format!(
                        "{}: {}",
                        text(l.get("lifetime")),
                        outlives.join(" + ")
                    ))
                } else {
                    w.get("eq_predicate").map(|e| {
                        format!(
                            "{} == {}",
                            self.ty_or(e.get("lhs")),
                            e.get("rhs")
                                .map_or_else(|| "?".to_owned(), |t| self.term(t))
                        )
                    })
                }
            })
            .collect();
        let where_clause = if preds.is_empty() {
            String::new()
        } else {
            format!(" where {}", preds.join(", "))
        };
        (params, where_clause)
    }

    /// `const async unsafe extern "C" ` as the header says; empty for a plain Rust fn.
    fn header(&self, h: Option<&Json>) -> String {
        let Some(h) = h else {
            return String::new();
        };
        let flag = |k: &str| h.get(k).and_then(Json::as_bool) == Some(true);
        let mut s = String::new();
        if flag("is_const") {
            s.push_str("const ");
        }
        if flag("is_async") {
            s.push_str("async ");
        }
        if flag("is_unsafe") {
            s.push_str("unsafe ");
        }
        match h.get("abi") {
            Some(Json::Str(abi)) if abi == "Rust" => {}
            Some(Json::Str(abi)) => s.push_str(&format!("extern {abi:?} ")),
            Some(other) => {
                if let Some((abi, _)) = other.members().and_then(<[_]>::first) {
                    s.push_str(&format!("extern {abi:?} "));
                }
            }
            None => {}
        }
        s
    }

    /// A function item (`function` inner object) named `path`:
    /// `fn path<T>(&self, a: A) -> R where ...` with its header.
    pub(crate) fn function(&self, path: &str, f: &Json) -> String {
        let (params, where_clause) = self.generics(f.get("generics"));
        let sig = f.get("sig");
        let inputs: Vec<String> = arr(sig.and_then(|s| s.get("inputs")))
            .iter()
            .map(|input| {
                let pair = input.as_array().unwrap_or_default();
                let name = text(pair.first());
                let t = pair.get(1);
                if name == "self" {
                    self.receiver(t)
                } else {
                    format!("{name}: {}", self.ty_or(t))
                }
            })
            .collect();
        format!(
            "{}fn {path}{params}({}){}{where_clause}",
            self.header(f.get("header")),
            inputs.join(", "),
            self.output(sig.and_then(|s| s.get("output")))
        )
    }

    /// `self`, `&self`, `&'a mut self` or `self: T`.
    fn receiver(&self, t: Option<&Json>) -> String {
        let is_self = |t: Option<&Json>| {
            t.and_then(|t| t.get("generic")).and_then(Json::as_str) == Some("Self")
        };
        if is_self(t) {
            return "self".to_owned();
        }
        if let Some(r) = t.and_then(|t| t.get("borrowed_ref"))
            && is_self(r.get("type"))
        {
            let lifetime = r.get("lifetime").and_then(Json::as_str);
            let mutable = r.get("is_mutable").and_then(Json::as_bool) == Some(true);
            return format!(
                "&{}{}self",
                lifetime.map_or(String::new(), |l| format!("{l} ")),
                if mutable { "mut " } else { "" }
            );
        }
        format!("self: {}", self.ty_or(t))
    }
}
